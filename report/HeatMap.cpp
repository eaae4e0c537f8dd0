#include "report/HeatMap.h"

#include "report/PlotFiles.h"
#include "report/PlotStyle.h"

#include <QVBoxLayout>

#include <algorithm>
#include <limits>

namespace tunebench {

HeatMap::HeatMap(QWidget* parent)
    : QWidget(parent)
{
    m_plot = new QCustomPlot(this);
    m_plot->setMinimumSize(260, 200);
    m_plot->xAxis->grid()->setVisible(false);
    m_plot->yAxis->grid()->setVisible(false);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_plot);
}

void HeatMap::clear()
{
    setData({});
}

void HeatMap::setData(const HeatMapData& data)
{
    m_plot->clearPlottables();
    m_plot->clearItems();
    if (m_plot->plotLayout()->rowCount() > 1) {
        m_plot->plotLayout()->removeAt(0);
        m_plot->plotLayout()->simplify();
    }
    m_rows = static_cast<int>(data.rows.size());
    const int rows = std::max(m_rows, 1);
    const int columns = std::max<int>(1, static_cast<int>(data.columnLabels.size()));
    auto* map = new QCPColorMap(m_plot->xAxis, m_plot->yAxis);
    map->data()->setSize(columns, rows);
    map->data()->setRange(QCPRange(1, columns), QCPRange(1, rows));
    for (int r = 0; r < rows; ++r)
        for (int c = 0; c < columns; ++c) {
            const bool known = r < m_rows && c < static_cast<int>(data.rows[r].size());
            // The first row at the top, as a table is read.
            map->data()->setCell(c, rows - 1 - r, known ? 100.0 * data.rows[r][c] : std::numeric_limits<double>::quiet_NaN());
            if (!known)
                continue;
            auto* label = new QCPItemText(m_plot);
            label->position->setCoords(c + 1, rows - r);
            label->setText(QString::number(100.0 * data.rows[r][c], 'f', data.decimals));
            label->setColor(data.rows[r][c] > 0.55 ? Qt::black : Qt::white);
        }
    // Viridis' ends and middle: dark for low values, light for high, readable in grey print.
    QCPColorGradient gradient;
    gradient.clearColorStops();
    gradient.setColorStopAt(0.0, QColor(68, 1, 84));
    gradient.setColorStopAt(0.5, QColor(33, 145, 140));
    gradient.setColorStopAt(1.0, QColor(253, 231, 37));
    gradient.setNanHandling(QCPColorGradient::nhTransparent);
    map->setGradient(gradient);
    map->setDataRange(QCPRange(0, 100));
    map->setInterpolate(false);

    QSharedPointer<QCPAxisTickerText> xTicks(new QCPAxisTickerText), yTicks(new QCPAxisTickerText);
    for (int c = 0; c < static_cast<int>(data.columnLabels.size()); ++c)
        xTicks->addTick(c + 1, QString::fromStdString(data.columnLabels[c]));
    for (int r = 0; r < static_cast<int>(data.rowLabels.size()); ++r)
        yTicks->addTick(rows - r, QString::fromStdString(data.rowLabels[r]));
    m_plot->xAxis->setTicker(xTicks);
    m_plot->yAxis->setTicker(yTicks);
    m_plot->xAxis->setLabel(QString::fromStdString(data.xLabel));
    m_plot->yAxis->setLabel(QString::fromStdString(data.yLabel));
    m_plot->xAxis->setRange(0.5, columns + 0.5);
    m_plot->yAxis->setRange(0.5, rows + 0.5);
    if (!data.title.empty()) {
        m_plot->plotLayout()->insertRow(0);
        m_plot->plotLayout()->addElement(0, 0, new QCPTextElement(m_plot, QString::fromStdString(data.title)));
    }
    m_plot->replot();
}

bool HeatMap::savePng(const QString& path, int width, int height) const
{
    return savePlotPng(*m_plot, path, width, height, 2.0);
}

} // namespace tunebench
