#pragma once

#include <QColor>
#include <QVector>
#include <QWidget>

class QCheckBox;
class QComboBox;
class QCustomPlot;
class QCPGraph;
class QLabel;
class QSlider;
class QToolButton;

namespace tunebench {

// Live training curves: loss or accuracy against step or epoch, one colour per run, with a
// TensorBoard-style smoothing slider (the raw line stays visible, faint), log scale, zoom and drag
// (mouse wheel and drag on the plot), and export as PNG, PDF or CSV.
class CurvePlot : public QWidget
{
    Q_OBJECT

public:
    enum class Metric { Loss, Accuracy };
    enum class XAxis { Step, Epoch };

    explicit CurvePlot(QWidget* parent = nullptr);

    // A new curve; returns its index for addPoint().
    int addRun(const QString& label);
    // `accuracy` < 0 means unknown (no point on the accuracy curve).
    void addPoint(int run, double step, double epoch, double loss, double accuracy);
    void clearRuns();
    int runCount() const { return m_runs.size(); }
    int pointCount(int run) const;
    QColor runColour(int run) const;

    void setMetric(Metric metric);
    void setXAxis(XAxis axis);
    // 0 = raw values, up to 0.99 (TensorBoard's slider).
    void setSmoothing(double weight);
    double smoothing() const { return m_smoothing; }
    void setLogScale(bool logScale);

    bool exportPng(const QString& path) const;
    bool exportPdf(const QString& path) const;
    bool exportCsv(const QString& path) const;

    // Debiased exponential moving average, as TensorBoard draws it: the first values are not pulled
    // towards zero. Non-finite values are passed through and do not disturb the average.
    static QVector<double> smooth(const QVector<double>& values, double weight);

    void retranslate();

private:
    struct Series
    {
        QString label;
        QColor colour;
        QVector<double> steps, epochs, loss, accuracy;
        QCPGraph* raw = nullptr;
        QCPGraph* smoothed = nullptr;
    };

    void updateSeries(Series& series);
    void updateAxes();
    void chooseExport();

    QCustomPlot* m_plot = nullptr;
    QComboBox* m_metricBox = nullptr;
    QComboBox* m_axisBox = nullptr;
    QLabel* m_smoothingLabel = nullptr;
    QSlider* m_smoothingSlider = nullptr;
    QCheckBox* m_logBox = nullptr;
    QToolButton* m_resetButton = nullptr;
    QToolButton* m_exportButton = nullptr;
    QVector<Series> m_runs;
    Metric m_metric = Metric::Loss;
    XAxis m_axis = XAxis::Step;
    double m_smoothing = 0.6;
};

} // namespace tunebench
