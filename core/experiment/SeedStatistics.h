#pragma once
// The one aggregator of a study's seeds: compare's table, adapt's report, continual's summary, a sweep's
// cells and the workbench's panels all reduce their seeds here. No Qt.

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace tunebench {

// The order a mean adds its seeds up in. The two can differ in the last bit for seed counts that are not
// powers of two; each study keeps the order its published numbers were computed in, so that results
// written before stay reproducible bit for bit.
enum class MeanOrder
{
    SumThenDivide,      // (v1 + ... + vn) / n: compare, continual
    DivideEachThenSum,  // v1/n + ... + vn/n: adapt's report, sweep collect
};

// One metric over the seeds that have it.
struct MetricOverSeeds
{
    int seeds = 0;      // how many seeds had a value
    double mean = 0;
    double stdev = 0;   // sample standard deviation (n - 1 denominator); 0 for one seed
};

// Named metrics of one cell of a study (a method at a shot count, ...), recorded seed by seed in seed
// order. A seed may leave a metric out (New when its new classes could not be scored, F_T for joint
// training): that seed lacks it.
class SeedStatistics
{
public:
    explicit SeedStatistics(MeanOrder order = MeanOrder::SumThenDivide);

    // Starts the next seed: add() and addElementwise() record this seed's values until the next call.
    void startSeed();
    // Errors (std::logic_error): no seed started, or the metric already recorded for this seed.
    void add(const std::string& metric, double value);
    // Per-element values (per-class accuracies, an accuracy matrix by rows). A -1 ("no test images") is
    // averaged like any other value, as the reports always have: -1 in every seed gives -1 (to the last
    // bit or so under DivideEachThenSum), and views draw negative means as 0.
    void addElementwise(const std::string& metric, const std::vector<double>& values);
    void addElementwise(const std::string& metric, const std::vector<std::vector<double>>& rows);

    int seeds() const { return m_seeds; }
    // The scalar metrics some seed recorded, sorted.
    std::vector<std::string> metrics() const;

    // The mean over all seeds; nullopt when a seed lacks the metric (a mean of fewer seeds would not be
    // comparable with the other methods' means).
    std::optional<double> mean(const std::string& metric) const;
    // H of the means of Base and New, as the papers' tables report it: not the mean of the seeds' H.
    // nullopt when either mean is.
    std::optional<double> harmonicMeanOfMeans(const std::string& base, const std::string& novel) const;
    // Mean and sample standard deviation over the seeds that have the metric; nullopt when none has.
    std::optional<MetricOverSeeds> overSeedsWithValue(const std::string& metric) const;

    // Element-wise means in the shape of the first seed that recorded any rows, each element divided by the
    // number of seeds that recorded the metric (a seed with fewer elements adds nothing to the ones it
    // lacks). Empty when no seed recorded rows.
    std::vector<double> elementwiseMean(const std::string& metric) const;
    std::vector<std::vector<double>> elementwiseMeanRows(const std::string& metric) const;

private:
    struct Series
    {
        std::vector<double> values;  // in seed order
        int lastSeed = -1;
    };
    struct ElementSeries
    {
        std::vector<std::vector<std::vector<double>>> seeds;  // each seed's rows, in seed order
        int lastSeed = -1;
    };
    double meanOf(const std::vector<double>& values, double count) const;
    void markRecorded(int& lastSeed, const std::string& metric) const;

    MeanOrder m_order;
    int m_seeds = 0;
    std::map<std::string, Series> m_values;
    std::map<std::string, ElementSeries> m_elements;
};

} // namespace tunebench
