// The figures' data, built without Qt (a build for compute nodes has none).
#include "report/Figures.h"

#include "core/experiment/Sweep.h"
#include "core/tuning/StrategyInfo.h"

#include <algorithm>

// lupdate finds the words by this macro's name; they are translated when drawn (figureText).
#define QT_TRANSLATE_NOOP(context, text) text

namespace tunebench {

namespace {

// `pattern` with its "%1" replaced by `number`.
std::string numbered(const char* pattern, std::size_t number)
{
    std::string text = figureText(pattern);
    const auto at = text.find("%1");
    return at == std::string::npos ? text : text.replace(at, 2, std::to_string(number));
}

} // namespace

HeatMapData accuracyMatrixHeatMap(const std::vector<std::vector<double>>& matrix, int tasks,
                                  const std::vector<std::string>& rowLabels, const std::string& title)
{
    HeatMapData data;
    data.rows = matrix;
    for (int t = 0; t < tasks; ++t)
        data.columnLabels.push_back(numbered(QT_TRANSLATE_NOOP("QObject", "task %1"), std::size_t(t) + 1));
    for (std::size_t r = 0; r < matrix.size(); ++r)
        data.rowLabels.push_back(r < rowLabels.size() ? rowLabels[r] : numbered(QT_TRANSLATE_NOOP("QObject", "after task %1"), r + 1));
    data.xLabel = figureText(QT_TRANSLATE_NOOP("QObject", "Tested on"));
    data.yLabel = figureText(QT_TRANSLATE_NOOP("QObject", "Trained through"));
    data.title = title;
    return data;
}

HeatMapData selectionHeatMap(const std::vector<std::vector<std::int64_t>>& counts, const std::string& title)
{
    HeatMapData data;
    std::size_t prompts = 0;
    for (std::size_t t = 0; t < counts.size(); ++t) {
        std::int64_t total = 0;
        for (auto c : counts[t])
            total += c;
        std::vector<double> row;
        for (auto c : counts[t])
            row.push_back(total > 0 ? static_cast<double>(c) / static_cast<double>(total) : 0.0);
        data.rows.push_back(row);
        data.rowLabels.push_back(numbered(QT_TRANSLATE_NOOP("QObject", "task %1"), t + 1));
        prompts = std::max(prompts, counts[t].size());
    }
    for (std::size_t p = 0; p < prompts; ++p)
        data.columnLabels.push_back(std::to_string(p + 1));
    data.xLabel = figureText(QT_TRANSLATE_NOOP("QObject", "Pool prompt"));
    data.yLabel = figureText(QT_TRANSLATE_NOOP("QObject", "Test images of"));
    data.title = title;
    data.decimals = 0;
    return data;
}

std::vector<ShotCurve> sweepCurves(const SweepPlan& plan, const std::vector<SweepCell>& cells, const std::string& dataset,
                                   std::string* metric)
{
    *metric = plan.base.baseNew ? "h" : "accuracy";
    std::vector<ShotCurve> curves;
    for (const std::string& method : plan.methods) {
        const StrategyInfo& info = findStrategy(method);
        // One curve per point of the option grid the method ran, in plan order.
        std::vector<nlohmann::json> points;
        for (const SweepCell& cell : cells)
            if (cell.dataset == dataset && cell.method == method && std::find(points.begin(), points.end(), cell.options) == points.end())
                points.push_back(cell.options);
        for (const nlohmann::json& point : points) {
            ShotCurve curve;
            const std::string label = gridPointLabel(point);
            curve.method = label.empty() ? info.title : info.title + " " + label;
            curve.dashed = !info.capabilities.usesPrompts;
            for (const SweepCell& cell : cells)
                if (cell.dataset == dataset && cell.method == method && cell.options == point && cell.mean.count(*metric)) {
                    curve.shots.push_back(info.capabilities.usesTrainingImages ? cell.shots : 0);
                    curve.values.push_back(cell.mean.at(*metric));
                }
            if (!curve.values.empty())
                curves.push_back(curve);
        }
    }
    return curves;
}

} // namespace tunebench
