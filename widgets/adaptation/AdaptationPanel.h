#pragma once

#include "core/experiment/DomainAdaptation.h"
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

class JobHost;

// The workbench's domain-adaptation mode: a labelled source and an unlabelled target domain with the same
// classes; zero-shot, CoOp trained on the source and DAPL (source plus the target's images without labels)
// over seeds, as `tunebench-cli adapt` runs them, one run folder each. While a run trains: its loss and,
// for DAPL, the pseudo-label coverage (the share of target images whose zero-shot probability passes the
// threshold). Then the target accuracy per class of every method side by side, and a summary table. The
// series runs as a job of the window's JobHost.
class AdaptationPanel : public WorkbenchTab
{
    Q_OBJECT

public:
    explicit AdaptationPanel(JobHost* jobs, QWidget* parent = nullptr);
    ~AdaptationPanel() override;

    void modelChanged(const LoadedModel& model) override;
    void datasetChanged(const QString& pathOrName, const QString& name) override;  // the default source
    void runsRootChanged(const QString& folder) override;
    void deviceChanged(const QString& device) override;

    // Starts the methods as a job; false (with the reason in the status line) when the settings cannot run
    // or a job is running.
    bool start();
    void stop();  // after the current step
    bool isRunning() const;  // this panel's series is the running job
    // Mean target accuracy per method over the finished runs (fractions).
    QMap<QString, double> targetAccuracies() const;
    QString statusText() const;
    QString tabTitle() const override;
    void retranslate() override;

Q_SIGNALS:
    void seriesFinished(bool completed);

private:
    struct Job;
    void updateControls();
    QStringList chosenMethods() const;
    void onRunStart(const QString& method, int seed);
    void onStep(double step, double loss, double coverage);
    void onRunDone(const AdaptationRun& run);
    void onSeriesEnd(bool completed, const QString& message);
    void showPerClass();

    JobHost* m_jobs = nullptr;
    QComboBox* m_source = nullptr;
    QComboBox* m_target = nullptr;
    QMap<QString, QCheckBox*> m_methodBoxes;
    QSpinBox* m_shots = nullptr;
    QLineEdit* m_seeds = nullptr;
    QSpinBox* m_epochs = nullptr;
    QSpinBox* m_testImages = nullptr;
    QPushButton* m_start = nullptr;
    QPushButton* m_stop = nullptr;
    QProgressBar* m_progress = nullptr;
    QLabel* m_status = nullptr;
    QCustomPlot* m_curves = nullptr;
    QCustomPlot* m_perClass = nullptr;
    QTableWidget* m_summary = nullptr;
    QLabel* m_labels[6] = {};

    QString m_modelPath, m_vocabulary, m_dataset, m_runsRoot;
    QString m_device = QStringLiteral("auto");
    ModelSpec m_spec;
    bool m_modelUsable = false;
    QStringList m_classNames;
    QMap<QString, AdaptationSummary> m_methodSummaries;  // per method, over its finished runs
    QStringList m_methodOrder;
};

} // namespace tunebench
