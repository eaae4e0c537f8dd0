#include "report/ShotCurvePlot.h"

#include "report/PlotFiles.h"
#include "report/PlotStyle.h"

#include <QVBoxLayout>

#include <cmath>
#include <memory>
#include <set>

namespace tunebench {

namespace {

// Shots on a log2 axis with zero-shot one step left of a single shot: 0 -> 0, 1 -> 1, 2 -> 2, 4 -> 3, 16 -> 5.
double axisPosition(double shots)
{
    return shots <= 0 ? 0.0 : std::log2(shots) + 1.0;
}

} // namespace

ShotCurvePlot::ShotCurvePlot(QWidget* parent)
    : QWidget(parent)
{
    m_plot = new QCustomPlot(this);
    m_plot->setMinimumSize(320, 220);
    m_plot->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    m_plot->legend->setVisible(true);
    m_plot->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignBottom | Qt::AlignRight);
    m_plot->plotLayout()->insertRow(0);
    m_plot->plotLayout()->addElement(0, 0, new QCPTextElement(m_plot, QString(), QFont(font().family(), 10, QFont::Bold)));
    m_plot->xAxis->setLabel(tr("Labelled training images per class"));
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_plot);
}

void ShotCurvePlot::setCurves(const std::vector<ShotCurve>& curves, const QString& title, const QString& yLabel)
{
    m_curves = curves;
    m_plot->clearGraphs();
    if (auto* heading = qobject_cast<QCPTextElement*>(m_plot->plotLayout()->element(0, 0)))
        heading->setText(title);
    m_plot->yAxis->setLabel(yLabel);

    std::set<double> shotsSeen;
    double low = 100, high = 0;
    for (int i = 0; i < static_cast<int>(curves.size()); ++i) {
        const ShotCurve& curve = curves[i];
        QCPGraph* graph = m_plot->addGraph();
        graph->setName(QString::fromStdString(curve.method));
        const QColor colour = plotColour(i);
        QPen pen(colour, 2);
        if (curve.dashed)
            pen.setStyle(Qt::DashLine);
        graph->setPen(pen);
        const bool star = curve.shots.size() == 1 && curve.shots.front() <= 0;
        if (star) {
            graph->setLineStyle(QCPGraph::lsNone);
            graph->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssStar, QPen(colour, 2), colour, 14));
        } else {
            graph->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, colour, colour, 6));
        }
        QVector<double> x, y;
        for (std::size_t p = 0; p < curve.shots.size() && p < curve.values.size(); ++p) {
            x.push_back(axisPosition(curve.shots[p]));
            y.push_back(100.0 * curve.values[p]);
            shotsSeen.insert(curve.shots[p]);
            low = std::min(low, y.back());
            high = std::max(high, y.back());
        }
        graph->setData(x, y, /*alreadySorted=*/false);
    }

    auto ticker = QSharedPointer<QCPAxisTickerText>::create();
    for (double shots : shotsSeen)
        ticker->addTick(axisPosition(shots), QString::number(shots));
    m_plot->xAxis->setTicker(ticker);
    const double left = shotsSeen.empty() ? 0 : axisPosition(*shotsSeen.begin());
    const double right = shotsSeen.empty() ? 5 : axisPosition(*shotsSeen.rbegin());
    m_plot->xAxis->setRange(left - 0.4, right + 0.4);
    if (high < low)
        low = 0, high = 100;
    const double margin = std::max(2.0, (high - low) * 0.08);
    m_plot->yAxis->setRange(std::max(0.0, low - margin), std::min(100.0, high + margin));
    m_plot->replot();
}

bool ShotCurvePlot::savePng(const QString& path, int width, int height) const
{
    return savePlotPng(*m_plot, path, width, height, 2.0);
}

bool ShotCurvePlot::savePdf(const QString& path, int width, int height) const
{
    return savePlotPdf(*m_plot, path, width, height);
}

} // namespace tunebench
