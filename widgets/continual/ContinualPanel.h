#pragma once

#include "core/experiment/ContinualLearning.h"
#include "widgets/window/StudyPanel.h"

#include <QMap>
#include <QString>
#include <QStringList>

#include <vector>

class QCheckBox;
class QComboBox;
class QCustomPlot;
class QLineEdit;
class QPushButton;
class QSpinBox;
class QTableWidget;

namespace tunebench {

class HeatMap;

// The workbench's continual-learning mode: a stream of tasks (the open dataset's classes in T groups, or
// several datasets as domains) for the continual methods (L2P, sequential fine-tuning) and the protocol's
// joint training over seeds, as `tunebench-cli continual` runs it and in the same run folders (either
// resumes the other's). While it runs: the loss of every step on a task timeline (one colour per task), the
// accuracy matrix filling in as a heat map; then A_T and F_T per method and L2P's prompt-selection
// histogram. Export copies the shown method's pool, keys and head.
class ContinualPanel : public StudyPanel
{
    Q_OBJECT

public:
    explicit ContinualPanel(JobHost* jobs, QWidget* parent = nullptr);
    ~ContinualPanel() override;

    // Writes the shown method's last export (export.safetensors + export.json) into `folder`.
    bool exportTo(const QString& folder);
    // Adds a finished stream's run folder (the run history's Show results) to the table and heat maps, as if
    // this tab had just run it. Error when its results.json is not a continual stream's.
    void showRunFolder(const QString& folder);
    QMap<QString, ContinualSummary> summaries() const { return m_summaries; }
    QString tabTitle() const override;
    void retranslate() override;

private:
    bool hasChosenRuns() const override;  // the joint training counts
    QString settingsProblem() const override;
    void updateOwnControls(bool running) override;
    JobHost::Work prepareJob(const QList<int>& seeds) override;
    QString finishedText() const override;
    void showMethod(const QString& method);
    void onStep(const QString& method, int seed, int stage, double step, double loss);
    void onRow(int stage, const std::vector<double>& row, int tasks, const QString& method);
    void onRunDone(const ContinualResult& result, const QString& runFolder, int tasks);

    QComboBox* m_protocol = nullptr;
    QSpinBox* m_taskCount = nullptr;
    QLineEdit* m_domains = nullptr;
    QCheckBox* m_joint = nullptr;  // the protocol's joint training (ContinualSettings::joint), beside the methods
    QSpinBox* m_epochs = nullptr;
    QSpinBox* m_trainPerClass = nullptr;
    QSpinBox* m_testPerClass = nullptr;
    QPushButton* m_export = nullptr;
    QCustomPlot* m_timeline = nullptr;
    HeatMap* m_matrix = nullptr;
    HeatMap* m_selection = nullptr;
    QComboBox* m_shownMethod = nullptr;
    QTableWidget* m_summary = nullptr;

    QMap<QString, std::vector<ContinualResult>> m_results;   // finished runs per method
    QMap<QString, ContinualSummary> m_summaries;
    QMap<QString, QString> m_lastRunFolder;                   // per method, for Export
    int m_tasksInStream = 0;
    std::vector<std::vector<double>> m_liveRows;  // the running stream's matrix so far
};

} // namespace tunebench
