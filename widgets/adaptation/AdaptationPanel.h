#pragma once

#include "core/experiment/DomainAdaptation.h"
#include "widgets/window/StudyPanel.h"

#include <QMap>
#include <QString>
#include <QStringList>

class QComboBox;
class QCustomPlot;
class QSpinBox;
class QTableWidget;

namespace tunebench {

// The workbench's domain-adaptation mode: a labelled source and an unlabelled target domain with the same
// classes; the source-only baselines (zero-shot, CoOp trained on the source) and the methods that adapt
// (DAPL: source plus the target's images without labels) over seeds, as `tunebench-cli adapt` runs them,
// one run folder each. While a run trains: its loss and, for DAPL, the pseudo-label coverage (the share of
// target images whose zero-shot probability passes the threshold). Then the target accuracy per class of
// every method side by side, and a summary table.
class AdaptationPanel : public StudyPanel
{
    Q_OBJECT

public:
    explicit AdaptationPanel(JobHost* jobs, QWidget* parent = nullptr);
    ~AdaptationPanel() override;

    void datasetChanged(const QString& pathOrName, const QString& name) override;  // the default source
    // Mean target accuracy per method over the finished runs (fractions).
    QMap<QString, double> targetAccuracies() const;
    QString tabTitle() const override;
    void retranslate() override;

private:
    QString methodLabel(const StrategyInfo& info) const override;
    QString settingsProblem() const override;
    JobHost::Work prepareJob(const QList<int>& seeds) override;
    QString finishedText() const override;
    void onRunStart(const QString& method, int seed);
    void onStep(double step, double loss, double coverage);
    void onRunDone(const AdaptationRun& run);
    void showPerClass();

    QComboBox* m_source = nullptr;
    QComboBox* m_target = nullptr;
    QSpinBox* m_shots = nullptr;
    QSpinBox* m_epochs = nullptr;
    QSpinBox* m_testImages = nullptr;
    QCustomPlot* m_curves = nullptr;
    QCustomPlot* m_perClass = nullptr;
    QTableWidget* m_summary = nullptr;

    QStringList m_classNames;
    QMap<QString, AdaptationSummary> m_methodSummaries;  // per method, over its finished runs
    QStringList m_methodOrder;
};

} // namespace tunebench
