#pragma once

#include <QString>
#include <QStringList>
#include <QVector>
#include <QWidget>

#include <vector>

class QCustomPlot;

namespace tunebench {

// What a heat map shows: values in [0, 1] drawn on a fixed 0-100 % scale and written in each cell; a row
// shorter than the column count leaves its last cells empty.
struct HeatMapData
{
    QVector<QVector<double>> rows;
    QStringList rowLabels;     // top to bottom
    QStringList columnLabels;  // left to right
    QString xLabel, yLabel, title;
    int decimals = 1;          // of the percentages in the cells
};

// The continual-learning accuracy matrix (row t: after training task t; column i: tested on task i), with
// `rowLabels` naming the rows ("after task 1", or "joint").
HeatMapData accuracyMatrixHeatMap(const std::vector<std::vector<double>>& matrix, int tasks, const QStringList& rowLabels,
                                  const QString& title);
// L2P's prompt-selection histogram: per task (rows), the share of its test images' choices that fell on
// each pool prompt (columns).
HeatMapData selectionHeatMap(const std::vector<std::vector<std::int64_t>>& counts, const QString& title);

class HeatMap : public QWidget
{
    Q_OBJECT

public:
    explicit HeatMap(QWidget* parent = nullptr);
    void setData(const HeatMapData& data);
    void clear();
    int rowCount() const { return m_rows; }
    bool savePng(const QString& path, int width, int height) const;

private:
    QCustomPlot* m_plot = nullptr;
    int m_rows = 0;
};

// Draws a heat map into a PNG without a window (an offscreen application when the process has none).
// Returns an empty string, or what could not be written.
QString renderHeatMap(const HeatMapData& data, const QString& pngPath);

} // namespace tunebench
