#pragma once

#include <QString>
#include <QVector>
#include <QWidget>

class QCustomPlot;

namespace tunebench {

// One method's points on the few-shot figure: a score against labelled images per class.
struct ShotCurve
{
    QString method;
    QVector<double> shots;   // 0 = no training images (zero-shot): drawn as a star, as in CoOp's figure
    QVector<double> values;  // fractions in [0, 1]
    bool dashed = false;     // a baseline without prompts (the linear probe): dashed, as in CoOp's figure
};

// The seed paper's few-shot figure (CoOp, "accuracy against shots"): one line per method over shot counts
// on a log2 axis, zero-shot as a star at 0. The CLI draws its curve.png/.pdf with this same widget.
class ShotCurvePlot : public QWidget
{
    Q_OBJECT

public:
    explicit ShotCurvePlot(QWidget* parent = nullptr);

    // `yLabel`: what the values are ("Accuracy (%)", "H (%)").
    void setCurves(const QVector<ShotCurve>& curves, const QString& title, const QString& yLabel);
    int curveCount() const { return m_curves.size(); }

    bool savePng(const QString& path, int width, int height) const;
    bool savePdf(const QString& path, int width, int height) const;

private:
    QCustomPlot* m_plot = nullptr;
    QVector<ShotCurve> m_curves;
};

// Draws the figure into a PNG and a PDF without a window (on an offscreen QApplication when the process
// has none, as the CLI). Returns an empty string, or what could not be written.
QString renderShotCurves(const QVector<ShotCurve>& curves, const QString& title, const QString& yLabel, const QString& pngPath,
                         const QString& pdfPath);

} // namespace tunebench
