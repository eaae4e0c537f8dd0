// Figures into files with the window's own plot widgets, on an offscreen application when the process has
// no window (the CLI).
#include "report/Figures.h"

#include "report/HeadlessApplication.h"
#include "report/HeatMap.h"
#include "report/ShotCurvePlot.h"

#include <QCoreApplication>

#include <algorithm>

namespace tunebench {

std::string figuresUnavailable()
{
    return {};
}

std::string writeShotCurveFigure(const std::vector<ShotCurve>& curves, const std::string& title, const std::string& yLabel,
                                 const std::string& pngPath, const std::string& pdfPath)
{
    const HeadlessApplication application;
    ShotCurvePlot plot;
    plot.resize(720, 480);
    plot.setCurves(curves, QString::fromStdString(title), QString::fromStdString(yLabel));
    std::string problems;
    if (!pngPath.empty() && !plot.savePng(QString::fromStdString(pngPath), 720, 480))
        problems += pngPath + ": cannot write";
    if (!pdfPath.empty() && !plot.savePdf(QString::fromStdString(pdfPath), 720, 480))
        problems += (problems.empty() ? "" : "; ") + pdfPath + ": cannot write";
    return problems;
}

std::string writeHeatMapFigure(const HeatMapData& data, const std::string& pngPath)
{
    const HeadlessApplication application;
    HeatMap map;
    const int width = 160 + 80 * std::max<int>(1, static_cast<int>(data.columnLabels.size()));
    const int height = 120 + 60 * std::max<int>(1, static_cast<int>(data.rows.size()));
    map.resize(width, height);
    map.setData(data);
    return map.savePng(QString::fromStdString(pngPath), width, height) ? std::string() : pngPath + ": cannot write";
}

std::string figureText(const char* text)
{
    return QCoreApplication::translate("QObject", text).toStdString();
}

} // namespace tunebench
