#pragma once

#include "report/Figures.h"

#include <QString>
#include <QWidget>

#include <vector>

class QCustomPlot;

namespace tunebench {

// The seed paper's few-shot figure (CoOp, "accuracy against shots"): one line per method over shot counts
// on a log2 axis, zero-shot as a star at 0. The CLI draws its curve.png/.pdf with this same widget (writeShotCurveFigure).
class ShotCurvePlot : public QWidget
{
    Q_OBJECT

public:
    explicit ShotCurvePlot(QWidget* parent = nullptr);

    // `yLabel`: what the values are ("Accuracy (%)", "H (%)").
    void setCurves(const std::vector<ShotCurve>& curves, const QString& title, const QString& yLabel);
    int curveCount() const { return static_cast<int>(m_curves.size()); }

    bool savePng(const QString& path, int width, int height) const;
    bool savePdf(const QString& path, int width, int height) const;

private:
    QCustomPlot* m_plot = nullptr;
    std::vector<ShotCurve> m_curves;
};

} // namespace tunebench
