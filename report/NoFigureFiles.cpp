// Figures in a build without the window (-DTUNEBENCH_GUI=OFF): QCustomPlot draws through Qt Widgets, which
// a compute node need not have, so nothing is drawn and the commands say so once.
#include "report/Figures.h"

namespace tunebench {

std::string figuresUnavailable()
{
    return "figures are not drawn: this tunebench-cli was built without Qt Widgets (-DTUNEBENCH_GUI=OFF)";
}

std::string writeShotCurveFigure(const std::vector<ShotCurve>&, const std::string&, const std::string&, const std::string&,
                                 const std::string&)
{
    return figuresUnavailable();
}

std::string writeHeatMapFigure(const HeatMapData&, const std::string&)
{
    return figuresUnavailable();
}

std::string figureText(const char* text)
{
    return text;
}

} // namespace tunebench
