#pragma once

#include "widgets/results/RunResults.h"
#include "widgets/window/WorkbenchTab.h"

#include <QWidget>

#include <vector>

class QComboBox;
class QLabel;

namespace tunebench {

class ShotCurvePlot;
struct ShotCurve;

// The few-shot figure of this session's runs (and reopened ones) on the open dataset: per method, the
// score averaged over seeds at each shot count, zero-shot as a star. Run the same method at several
// --shots (1, 2, 4, 8, 16) and the curves fill in.
class FewShotPanel : public WorkbenchTab
{
    Q_OBJECT

public:
    enum class Metric { Auto, Accuracy, Base, New, H };

    explicit FewShotPanel(QWidget* parent = nullptr);

    // Adds a run (or replaces the run with the same id).
    void addResults(const RunResults& results);
    void runFinished(const RunResults& results) override { addResults(results); }
    void clear();
    // The dataset whose runs are drawn; empty: the latest run's.
    void setDataset(const QString& name);
    void datasetChanged(const QString&, const QString& name) override { setDataset(name); }
    void setMetric(Metric metric);
    std::vector<ShotCurve> curves() const;
    ShotCurvePlot* plot() const { return m_plot; }
    QString tabTitle() const override;
    void retranslate() override;

private:
    QString shownDataset() const;  // m_dataset, else the latest run's
    Metric effectiveMetric() const;
    void rebuild();

    QComboBox* m_metricBox = nullptr;
    QLabel* m_note = nullptr;
    ShotCurvePlot* m_plot = nullptr;
    QVector<RunResults> m_runs;
    QString m_dataset;
    Metric m_metric = Metric::Auto;
};

} // namespace tunebench
