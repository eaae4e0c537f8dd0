#include "widgets/HeatMap.h"

#include "widgets/AtomicSave.h"
#include "widgets/HeadlessApplication.h"
#include "widgets/PlotStyle.h"

#include <QVBoxLayout>

#include <algorithm>
#include <limits>

namespace tunebench {

HeatMapData accuracyMatrixHeatMap(const std::vector<std::vector<double>>& matrix, int tasks, const QStringList& rowLabels,
                                  const QString& title)
{
    HeatMapData data;
    for (const auto& row : matrix)
        data.rows.push_back(QVector<double>(row.begin(), row.end()));
    for (int t = 0; t < tasks; ++t)
        data.columnLabels << QObject::tr("task %1").arg(t + 1);
    for (int r = 0; r < static_cast<int>(matrix.size()); ++r)
        data.rowLabels << (r < rowLabels.size() ? rowLabels[r] : QObject::tr("after task %1").arg(r + 1));
    data.xLabel = QObject::tr("Tested on");
    data.yLabel = QObject::tr("Trained through");
    data.title = title;
    return data;
}

HeatMapData selectionHeatMap(const std::vector<std::vector<std::int64_t>>& counts, const QString& title)
{
    HeatMapData data;
    size_t prompts = 0;
    for (size_t t = 0; t < counts.size(); ++t) {
        std::int64_t total = 0;
        for (auto c : counts[t])
            total += c;
        QVector<double> row;
        for (auto c : counts[t])
            row.push_back(total > 0 ? static_cast<double>(c) / static_cast<double>(total) : 0.0);
        data.rows.push_back(row);
        data.rowLabels << QObject::tr("task %1").arg(t + 1);
        prompts = std::max(prompts, counts[t].size());
    }
    for (size_t p = 0; p < prompts; ++p)
        data.columnLabels << QString::number(p + 1);
    data.xLabel = QObject::tr("Pool prompt");
    data.yLabel = QObject::tr("Test images of");
    data.title = title;
    data.decimals = 0;
    return data;
}

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
    m_rows = data.rows.size();
    const int rows = std::max(m_rows, 1);
    const int columns = std::max<int>(1, data.columnLabels.size());
    auto* map = new QCPColorMap(m_plot->xAxis, m_plot->yAxis);
    map->data()->setSize(columns, rows);
    map->data()->setRange(QCPRange(1, columns), QCPRange(1, rows));
    for (int r = 0; r < rows; ++r)
        for (int c = 0; c < columns; ++c) {
            const bool known = r < m_rows && c < data.rows[r].size();
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
    for (int c = 0; c < data.columnLabels.size(); ++c)
        xTicks->addTick(c + 1, data.columnLabels[c]);
    for (int r = 0; r < data.rowLabels.size(); ++r)
        yTicks->addTick(rows - r, data.rowLabels[r]);
    m_plot->xAxis->setTicker(xTicks);
    m_plot->yAxis->setTicker(yTicks);
    m_plot->xAxis->setLabel(data.xLabel);
    m_plot->yAxis->setLabel(data.yLabel);
    m_plot->xAxis->setRange(0.5, columns + 0.5);
    m_plot->yAxis->setRange(0.5, rows + 0.5);
    if (!data.title.isEmpty()) {
        m_plot->plotLayout()->insertRow(0);
        m_plot->plotLayout()->addElement(0, 0, new QCPTextElement(m_plot, data.title));
    }
    m_plot->replot();
}

bool HeatMap::savePng(const QString& path, int width, int height) const
{
    return saveAtomically(path, [&](const QString& temporary) { return m_plot->savePng(temporary, width, height, 2.0); });
}

QString renderHeatMap(const HeatMapData& data, const QString& pngPath)
{
    const HeadlessApplication application;
    HeatMap map;
    const int width = 160 + 80 * std::max<int>(1, data.columnLabels.size());
    const int height = 120 + 60 * std::max<int>(1, data.rows.size());
    map.resize(width, height);
    map.setData(data);
    return map.savePng(pngPath, width, height) ? QString() : pngPath + ": cannot write";
}

} // namespace tunebench
