#pragma once

#include "core/experiment/ContinualLearning.h"
#include "core/model/ModelSpec.h"
#include "widgets/window/WorkbenchTab.h"

#include <QMap>
#include <QString>
#include <QStringList>
#include <QWidget>

#include <memory>

class QCheckBox;
class QComboBox;
class QCustomPlot;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QTableWidget;

namespace tunebench {

class HeatMap;
class JobHost;

// The workbench's continual-learning mode: a stream of tasks (the open dataset's classes in T groups, or
// several datasets as domains) for L2P, seq-ft and joint training over seeds, as `tunebench-cli continual`
// runs it and in the same run folders (either resumes the other's). While it runs: the loss of every step
// on a task timeline (one colour per task), the accuracy matrix filling in as a heat map; then A_T and F_T
// per method and L2P's prompt-selection histogram. Export copies the shown method's pool, keys and head.
// The stream runs as a job of the window's JobHost.
class ContinualPanel : public WorkbenchTab
{
    Q_OBJECT

public:
    explicit ContinualPanel(JobHost* jobs, QWidget* parent = nullptr);
    ~ContinualPanel() override;

    void modelChanged(const LoadedModel& model) override;
    void datasetChanged(const QString& pathOrName, const QString& name) override;
    void runsRootChanged(const QString& folder) override;
    void deviceChanged(const QString& device) override;

    // Starts the stream of the current settings as a job; false (with the reason in the status line) when
    // the model or dataset cannot run it or a job is running.
    bool start();
    void stop();  // after the current step; finished stages stay in their run folders
    bool isRunning() const;  // this panel's stream is the running job
    // Writes the shown method's last export (export.safetensors + export.json) into `folder`.
    bool exportTo(const QString& folder);
    QMap<QString, ContinualSummary> summaries() const { return m_summaries; }
    QString statusText() const;
    QString tabTitle() const override;
    void retranslate() override;

Q_SIGNALS:
    void streamFinished(bool completed);  // every method and seed done, or stopped / failed

private:
    struct Job;
    void updateControls();
    void showMethod(const QString& method);
    void onStep(const QString& method, int seed, int stage, double step, double loss);
    void onRow(int stage, const std::vector<double>& row, int tasks, const QString& method);
    void onRunDone(const ContinualResult& result, const QString& runFolder, int tasks);
    void onStreamEnd(bool completed, const QString& message);
    QStringList chosenMethods() const;

    JobHost* m_jobs = nullptr;
    QComboBox* m_protocol = nullptr;
    QSpinBox* m_taskCount = nullptr;
    QLineEdit* m_domains = nullptr;
    QMap<QString, QCheckBox*> m_methodBoxes;
    QLineEdit* m_seeds = nullptr;
    QSpinBox* m_epochs = nullptr;
    QSpinBox* m_trainPerClass = nullptr;
    QSpinBox* m_testPerClass = nullptr;
    QPushButton* m_start = nullptr;
    QPushButton* m_stop = nullptr;
    QPushButton* m_export = nullptr;
    QProgressBar* m_progress = nullptr;
    QLabel* m_status = nullptr;
    QCustomPlot* m_timeline = nullptr;
    HeatMap* m_matrix = nullptr;
    HeatMap* m_selection = nullptr;
    QComboBox* m_shownMethod = nullptr;
    QTableWidget* m_summary = nullptr;
    QLabel* m_labels[8] = {};

    QString m_modelPath, m_dataset, m_runsRoot;
    QString m_device = QStringLiteral("auto");
    ModelSpec m_spec;
    QMap<QString, std::vector<ContinualResult>> m_results;   // finished runs per method
    QMap<QString, ContinualSummary> m_summaries;
    QMap<QString, QString> m_lastRunFolder;                   // per method, for Export
    int m_tasksInStream = 0;
    std::vector<std::vector<double>> m_liveRows;  // the running stream's matrix so far
};

} // namespace tunebench
