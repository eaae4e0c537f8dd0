#pragma once

#include "report/Figures.h"

#include <QString>
#include <QWidget>

class QCustomPlot;

namespace tunebench {

// A heat map widget (QCustomPlot): the continual panel's accuracy matrix and prompt selection.
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

} // namespace tunebench
