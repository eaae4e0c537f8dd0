#include "core/experiment/SeedStatistics.h"

#include "core/train/Evaluator.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace tunebench {

SeedStatistics::SeedStatistics(MeanOrder order)
    : m_order(order)
{
}

void SeedStatistics::startSeed()
{
    ++m_seeds;
}

void SeedStatistics::markRecorded(int& lastSeed, const std::string& metric) const
{
    // A value recorded twice, or before any seed, would silently change the divisor.
    if (m_seeds == 0)
        throw std::logic_error("SeedStatistics: '" + metric + "' recorded before startSeed()");
    if (lastSeed == m_seeds)
        throw std::logic_error("SeedStatistics: '" + metric + "' recorded twice for seed " + std::to_string(m_seeds));
    lastSeed = m_seeds;
}

void SeedStatistics::add(const std::string& metric, double value)
{
    Series& series = m_values[metric];
    markRecorded(series.lastSeed, metric);
    series.values.push_back(value);
}

void SeedStatistics::addElementwise(const std::string& metric, const std::vector<double>& values)
{
    addElementwise(metric, std::vector<std::vector<double>>{values});
}

void SeedStatistics::addElementwise(const std::string& metric, const std::vector<std::vector<double>>& rows)
{
    ElementSeries& series = m_elements[metric];
    markRecorded(series.lastSeed, metric);
    series.seeds.push_back(rows);
}

std::vector<std::string> SeedStatistics::metrics() const
{
    std::vector<std::string> names;
    for (const auto& [name, series] : m_values)
        names.push_back(name);
    return names;
}

double SeedStatistics::meanOf(const std::vector<double>& values, double count) const
{
    double sum = 0;
    if (m_order == MeanOrder::DivideEachThenSum) {
        for (double v : values)
            sum += v / count;
        return sum;
    }
    for (double v : values)
        sum += v;
    return sum / count;
}

std::optional<double> SeedStatistics::mean(const std::string& metric) const
{
    const auto found = m_values.find(metric);
    if (found == m_values.end() || static_cast<int>(found->second.values.size()) != m_seeds)
        return std::nullopt;
    return meanOf(found->second.values, static_cast<double>(m_seeds));
}

std::optional<double> SeedStatistics::harmonicMeanOfMeans(const std::string& base, const std::string& novel) const
{
    const auto baseMean = mean(base), novelMean = mean(novel);
    if (!baseMean || !novelMean)
        return std::nullopt;
    return harmonicMean(*baseMean, *novelMean);
}

std::optional<MetricOverSeeds> SeedStatistics::overSeedsWithValue(const std::string& metric) const
{
    const auto found = m_values.find(metric);
    if (found == m_values.end() || found->second.values.empty())
        return std::nullopt;
    const std::vector<double>& values = found->second.values;
    MetricOverSeeds out;
    out.seeds = static_cast<int>(values.size());
    out.mean = meanOf(values, static_cast<double>(values.size()));
    double squares = 0;
    for (double v : values)
        squares += (v - out.mean) * (v - out.mean);
    out.stdev = values.size() > 1 ? std::sqrt(squares / static_cast<double>(values.size() - 1)) : 0.0;
    return out;
}

std::vector<std::vector<double>> SeedStatistics::elementwiseMeanRows(const std::string& metric) const
{
    const auto found = m_elements.find(metric);
    if (found == m_elements.end() || found->second.seeds.empty())
        return {};
    const auto& seeds = found->second.seeds;
    const double count = static_cast<double>(seeds.size());
    // A seed with no rows (a stream stopped before its first task) gives no shape.
    const auto shaped = std::find_if(seeds.begin(), seeds.end(), [](const auto& rows) { return !rows.empty(); });
    if (shaped == seeds.end())
        return {};
    std::vector<std::vector<double>> means = *shaped;
    std::vector<double> values;
    for (std::size_t r = 0; r < means.size(); ++r)
        for (std::size_t c = 0; c < means[r].size(); ++c) {
            values.clear();
            for (const auto& rows : seeds)
                if (r < rows.size() && c < rows[r].size())
                    values.push_back(rows[r][c]);
            means[r][c] = meanOf(values, count);
        }
    return means;
}

std::vector<double> SeedStatistics::elementwiseMean(const std::string& metric) const
{
    std::vector<std::vector<double>> rows = elementwiseMeanRows(metric);
    return rows.empty() ? std::vector<double>() : std::move(rows.front());
}

} // namespace tunebench
