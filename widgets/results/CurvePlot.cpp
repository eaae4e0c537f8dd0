#include "widgets/results/CurvePlot.h"

#include "core/io/AtomicFile.h"
#include "report/PlotFiles.h"
#include "report/PlotStyle.h"

#include <QCheckBox>
#include <QComboBox>
#include <QFile>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QLabel>
#include <QMenu>
#include <QMessageBox>
#include <QSlider>
#include <QTextStream>
#include <QToolButton>
#include <QVBoxLayout>

#include <cmath>

namespace tunebench {

namespace {

QColor faint(QColor colour)
{
    colour.setAlpha(70);
    return colour;
}

} // namespace

CurvePlot::CurvePlot(QWidget* parent)
    : QWidget(parent)
{
    m_plot = new QCustomPlot(this);
    m_plot->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    m_plot->setMinimumSize(320, 200);
    m_plot->legend->setVisible(false);
    m_plot->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);

    m_metricBox = new QComboBox(this);
    m_axisBox = new QComboBox(this);
    m_smoothingLabel = new QLabel(this);
    m_smoothingSlider = new QSlider(Qt::Horizontal, this);
    m_smoothingSlider->setRange(0, 99);
    m_smoothingSlider->setValue(static_cast<int>(m_smoothing * 100 + 0.5));
    m_smoothingSlider->setMaximumWidth(160);
    m_logBox = new QCheckBox(this);
    m_resetButton = new QToolButton(this);
    m_exportButton = new QToolButton(this);

    auto* controls = new QHBoxLayout;
    controls->addWidget(m_metricBox);
    controls->addWidget(m_axisBox);
    controls->addWidget(m_smoothingLabel);
    controls->addWidget(m_smoothingSlider);
    controls->addWidget(m_logBox);
    controls->addStretch(1);
    controls->addWidget(m_resetButton);
    controls->addWidget(m_exportButton);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addLayout(controls);
    layout->addWidget(m_plot, 1);

    connect(m_metricBox, &QComboBox::currentIndexChanged, this,
            [this](int index) { setMetric(index == 1 ? Metric::Accuracy : Metric::Loss); });
    connect(m_axisBox, &QComboBox::currentIndexChanged, this, [this](int index) { setXAxis(index == 1 ? XAxis::Epoch : XAxis::Step); });
    connect(m_smoothingSlider, &QSlider::valueChanged, this, [this](int value) { setSmoothing(value / 100.0); });
    connect(m_logBox, &QCheckBox::toggled, this, &CurvePlot::setLogScale);
    connect(m_resetButton, &QToolButton::clicked, this, [this] {
        updateAxes();
        m_plot->replot();
    });
    connect(m_exportButton, &QToolButton::clicked, this, &CurvePlot::chooseExport);
    retranslate();
    updateAxes();
}

void CurvePlot::retranslate()
{
    const int metric = m_metricBox->currentIndex(), axis = m_axisBox->currentIndex();
    const QSignalBlocker blockMetric(m_metricBox), blockAxis(m_axisBox);
    m_metricBox->clear();
    m_metricBox->addItems({tr("Loss"), tr("Accuracy")});
    m_metricBox->setCurrentIndex(std::max(0, metric));
    m_metricBox->setToolTip(tr("Which quantity the curves show"));
    m_axisBox->clear();
    m_axisBox->addItems({tr("per step"), tr("per epoch")});
    m_axisBox->setCurrentIndex(std::max(0, axis));
    m_axisBox->setToolTip(tr("Horizontal axis: optimisation step or (fractional) epoch"));
    m_smoothingLabel->setText(tr("Smoothing %1").arg(m_smoothing, 0, 'f', 2));
    m_smoothingSlider->setToolTip(tr("Exponential moving average weight (debiased, as in TensorBoard); the raw curve stays faint"));
    m_logBox->setText(tr("Log scale"));
    m_logBox->setToolTip(tr("Logarithmic vertical axis"));
    m_resetButton->setText(tr("Reset view"));
    m_resetButton->setToolTip(tr("Fit the axes to the data again after zooming (mouse wheel) or dragging"));
    m_exportButton->setText(tr("Export..."));
    m_exportButton->setToolTip(tr("Save the plot as PNG or PDF, or the points as CSV"));
    updateAxes();
    m_plot->replot();
}

int CurvePlot::addRun(const QString& label)
{
    Series series;
    series.label = label;
    series.colour = plotColour(m_runs.size());
    series.raw = m_plot->addGraph();
    series.raw->setPen(QPen(faint(series.colour), 1.0));
    series.raw->removeFromLegend();
    series.smoothed = m_plot->addGraph();
    series.smoothed->setPen(QPen(series.colour, 2.0));
    series.smoothed->setName(label);
    m_runs.append(series);
    // The legend names the latest runs only: a long session's legend would cover the plot.
    constexpr int kRunsInLegend = 4;
    if (m_runs.size() > kRunsInLegend)
        m_runs[m_runs.size() - 1 - kRunsInLegend].smoothed->removeFromLegend();
    m_plot->legend->setVisible(true);
    m_plot->replot(QCustomPlot::rpQueuedReplot);
    return m_runs.size() - 1;
}

void CurvePlot::addPoint(int run, double step, double epoch, double loss, double accuracy)
{
    if (run < 0 || run >= m_runs.size())
        return;
    Series& series = m_runs[run];
    series.steps.append(step);
    series.epochs.append(epoch);
    series.loss.append(loss);
    series.accuracy.append(accuracy >= 0 ? accuracy * 100.0 : qQNaN());
    updateSeries(series);
    updateAxes();
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

void CurvePlot::clearRuns()
{
    m_plot->clearGraphs();
    m_runs.clear();
    m_plot->legend->setVisible(false);
    updateAxes();
    m_plot->replot();
}

int CurvePlot::pointCount(int run) const
{
    return run >= 0 && run < m_runs.size() ? m_runs[run].steps.size() : 0;
}

QColor CurvePlot::runColour(int run) const
{
    return run >= 0 && run < m_runs.size() ? m_runs[run].colour : QColor();
}

void CurvePlot::setMetric(Metric metric)
{
    m_metric = metric;
    if (m_metricBox->currentIndex() != (metric == Metric::Accuracy ? 1 : 0))
        m_metricBox->setCurrentIndex(metric == Metric::Accuracy ? 1 : 0);
    for (Series& series : m_runs)
        updateSeries(series);
    updateAxes();
    m_plot->replot();
}

void CurvePlot::setXAxis(XAxis axis)
{
    m_axis = axis;
    if (m_axisBox->currentIndex() != (axis == XAxis::Epoch ? 1 : 0))
        m_axisBox->setCurrentIndex(axis == XAxis::Epoch ? 1 : 0);
    for (Series& series : m_runs)
        updateSeries(series);
    updateAxes();
    m_plot->replot();
}

void CurvePlot::setSmoothing(double weight)
{
    m_smoothing = std::clamp(weight, 0.0, 0.99);
    const int slider = static_cast<int>(m_smoothing * 100 + 0.5);
    if (m_smoothingSlider->value() != slider)
        m_smoothingSlider->setValue(slider);
    m_smoothingLabel->setText(tr("Smoothing %1").arg(m_smoothing, 0, 'f', 2));
    for (Series& series : m_runs)
        updateSeries(series);
    m_plot->replot();
}

void CurvePlot::setLogScale(bool logScale)
{
    if (m_logBox->isChecked() != logScale)
        m_logBox->setChecked(logScale);
    m_plot->yAxis->setScaleType(logScale ? QCPAxis::stLogarithmic : QCPAxis::stLinear);
    if (logScale)
        m_plot->yAxis->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
    else
        m_plot->yAxis->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
    updateAxes();
    m_plot->replot();
}

QVector<double> CurvePlot::smooth(const QVector<double>& values, double weight)
{
    QVector<double> out;
    out.reserve(values.size());
    double last = 0;
    int count = 0;
    for (double value : values) {
        if (!std::isfinite(value)) {
            out.append(value);
            continue;
        }
        last = last * weight + (1 - weight) * value;
        ++count;
        const double debias = weight == 0 ? 1.0 : 1.0 - std::pow(weight, count);
        out.append(last / debias);
    }
    return out;
}

void CurvePlot::updateSeries(Series& series)
{
    const QVector<double>& xs = m_axis == XAxis::Epoch ? series.epochs : series.steps;
    const QVector<double>& ys = m_metric == Metric::Accuracy ? series.accuracy : series.loss;
    series.raw->setData(xs, ys, true);
    series.smoothed->setData(xs, smooth(ys, m_smoothing), true);
    series.raw->setVisible(m_smoothing > 0);
}

void CurvePlot::updateAxes()
{
    m_plot->xAxis->setLabel(m_axis == XAxis::Epoch ? tr("Epoch") : tr("Step"));
    m_plot->yAxis->setLabel(m_metric == Metric::Accuracy ? tr("Training accuracy (%)") : tr("Training loss"));
    bool any = false;
    for (const Series& series : m_runs)
        any = any || !series.steps.isEmpty();
    if (!any) {
        m_plot->xAxis->setRange(0, 10);
        m_plot->yAxis->setRange(m_metric == Metric::Accuracy ? 0 : 0.01, m_metric == Metric::Accuracy ? 100 : 3);
        return;
    }
    m_plot->rescaleAxes(true);
    // A little air above and below, so that the curve does not touch the frame.
    const QCPRange y = m_plot->yAxis->range();
    if (m_plot->yAxis->scaleType() == QCPAxis::stLinear) {
        const double pad = std::max(1e-6, y.size() * 0.05);
        m_plot->yAxis->setRange(y.lower - pad, y.upper + pad);
    }
}

bool CurvePlot::exportPng(const QString& path) const
{
    // Rendered in memory and written by the checked writer: a full disk leaves no truncated file.
    return savePlotPng(*m_plot, path, 0, 0, 2.0);
}

bool CurvePlot::exportPdf(const QString& path) const
{
    return savePlotPdf(*m_plot, path, 0, 0);
}

bool CurvePlot::exportCsv(const QString& path) const
{
    QString csv;
    QTextStream out(&csv);
    out << "run,step,epoch,loss,accuracy,loss_smoothed,accuracy_smoothed\n";
    for (const Series& series : m_runs) {
        const QVector<double> loss = smooth(series.loss, m_smoothing), accuracy = smooth(series.accuracy, m_smoothing);
        QString label = series.label;
        label.replace('"', "\"\"");
        auto number = [](double v) { return std::isfinite(v) ? QString::number(v, 'g', 8) : QString(); };
        for (int i = 0; i < series.steps.size(); ++i)
            out << '"' << label << "\"," << number(series.steps[i]) << ',' << number(series.epochs[i]) << ',' << number(series.loss[i])
                << ',' << number(series.accuracy[i] / 100.0) << ',' << number(loss[i]) << ',' << number(accuracy[i] / 100.0) << '\n';
    }
    out.flush();
    try {
        writeFileAtomically(path.toStdString(), csv.toStdString());
        return true;
    } catch (const std::exception&) {
        return false;
    }
}

void CurvePlot::chooseExport()
{
    const QString path = QFileDialog::getSaveFileName(this, tr("Export curves"), QStringLiteral("curves.png"),
                                                      tr("PNG image (*.png);;PDF document (*.pdf);;CSV table (*.csv)"));
    if (path.isEmpty())
        return;
    bool ok = false;
    if (path.endsWith(".pdf", Qt::CaseInsensitive))
        ok = exportPdf(path);
    else if (path.endsWith(".csv", Qt::CaseInsensitive))
        ok = exportCsv(path);
    else
        ok = exportPng(path.endsWith(".png", Qt::CaseInsensitive) ? path : path + ".png");
    if (!ok)
        QMessageBox::warning(this, tr("Export failed"), tr("Could not write %1").arg(path));
}

} // namespace tunebench
