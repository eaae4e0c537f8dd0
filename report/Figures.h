#pragma once
// The figures Tunebench writes into files (the few-shot curves of compare and sweep collect, the continual
// heat maps): what they show, built without Qt, and the functions that draw them. The window shows the same
// data in its plot widgets (report/ShotCurvePlot.h, report/HeatMap.h). A build without the window
// (-DTUNEBENCH_GUI=OFF, for compute nodes) draws nothing: figuresUnavailable() says why, and the commands
// still write their JSON and CSV.

#include <cstdint>
#include <string>
#include <vector>

namespace tunebench {

struct SweepCell;
struct SweepPlan;

// One method's points on the few-shot figure: a score against labelled images per class.
struct ShotCurve
{
    std::string method;
    std::vector<double> shots;   // 0 = no training images (zero-shot): drawn as a star, as in CoOp's figure
    std::vector<double> values;  // fractions in [0, 1]
    bool dashed = false;         // a baseline without prompts (the linear probe): dashed, as in CoOp's figure
};

// What a heat map shows: values in [0, 1] drawn on a fixed 0-100 % scale and written in each cell; a row
// shorter than the column count leaves its last cells empty.
struct HeatMapData
{
    std::vector<std::vector<double>> rows;
    std::vector<std::string> rowLabels;     // top to bottom
    std::vector<std::string> columnLabels;  // left to right
    std::string xLabel, yLabel, title;
    int decimals = 1;                       // of the percentages in the cells
};

// The continual-learning accuracy matrix (row t: after training task t; column i: tested on task i), with
// `rowLabels` naming the first rows ("joint"); the others read "after task N".
HeatMapData accuracyMatrixHeatMap(const std::vector<std::vector<double>>& matrix, int tasks,
                                  const std::vector<std::string>& rowLabels, const std::string& title);
// L2P's prompt-selection histogram: per task (rows), the share of its test images' choices that fell on
// each pool prompt (columns).
HeatMapData selectionHeatMap(const std::vector<std::vector<std::int64_t>>& counts, const std::string& title);

// The few-shot figure of one dataset of a sweep: a curve per method over its shot counts (H under
// base-to-new, else accuracy), methods that ignore the training images as the star at 0. `metric` says which.
std::vector<ShotCurve> sweepCurves(const SweepPlan& plan, const std::vector<SweepCell>& cells, const std::string& dataset,
                                   std::string* metric);

// Empty where this build draws figures; else one line saying why it does not.
std::string figuresUnavailable();
// Draw into PNG (and PDF where a path is given) without a window. Each returns an empty string, or what
// could not be written (figuresUnavailable() in a build without the window).
std::string writeShotCurveFigure(const std::vector<ShotCurve>& curves, const std::string& title, const std::string& yLabel,
                                 const std::string& pngPath, const std::string& pdfPath);
std::string writeHeatMapFigure(const HeatMapData& data, const std::string& pngPath);

// A figure's word in the user's language where the build has translations (the window's catalogue), else
// as written. `text` is marked with QT_TRANSLATE_NOOP("QObject", ...) where it is written.
std::string figureText(const char* text);

} // namespace tunebench
