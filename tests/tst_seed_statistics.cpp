// The one aggregator over seeds: exact means in the order each study has always used, sample standard
// deviations, missing metrics, H from the means, element-wise means with -1 classes.
#include "core/experiment/DomainAdaptation.h"
#include "core/experiment/SeedStatistics.h"
#include "core/train/Evaluator.h"

#include <QtTest>

#include <cmath>
#include <cstdio>
#include <stdexcept>

using namespace tunebench;

namespace {

std::string bothValues(double actual, double expected)
{
    char text[100];
    std::snprintf(text, sizeof text, "actual %.17g, expected %.17g", actual, expected);
    return text;
}

} // namespace

// QCOMPARE compares doubles fuzzily; the reports must keep every bit.
#define COMPARE_EXACT(actual, expected)                                                                 \
    do {                                                                                                \
        const double a_ = (actual), e_ = (expected);                                                    \
        QVERIFY2(a_ == e_, bothValues(a_, e_).c_str());                                                 \
    } while (false)

class TestSeedStatistics : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void meanAndSampleStdev()
    {
        SeedStatistics seeds;
        for (double accuracy : {0.5, 0.75, 1.0}) {
            seeds.startSeed();
            seeds.add("accuracy", accuracy);
        }
        QCOMPARE(seeds.seeds(), 3);
        COMPARE_EXACT(*seeds.mean("accuracy"), 0.75);
        const auto overSeeds = seeds.overSeedsWithValue("accuracy");
        QVERIFY(overSeeds);
        QCOMPARE(overSeeds->seeds, 3);
        COMPARE_EXACT(overSeeds->mean, 0.75);
        // Deviations -0.25, 0, 0.25: sqrt(0.125 / (3 - 1)), the sample (n - 1) standard deviation.
        COMPARE_EXACT(overSeeds->stdev, 0.25);

        SeedStatistics one;
        one.startSeed();
        one.add("accuracy", 0.4);
        COMPARE_EXACT(one.overSeedsWithValue("accuracy")->stdev, 0.0);
        COMPARE_EXACT(*one.mean("accuracy"), 0.4);
        QVERIFY(!one.mean("base"));
        QVERIFY(!one.overSeedsWithValue("base"));
    }

    // The two orders differ in the last bit on these values; each study's numbers keep theirs.
    void meanKeepsItsSummationOrder()
    {
        SeedStatistics sumThenDivide(MeanOrder::SumThenDivide), divideEach(MeanOrder::DivideEachThenSum);
        for (double value : {0.1, 0.2, 0.4}) {
            sumThenDivide.startSeed();
            sumThenDivide.add("accuracy", value);
            divideEach.startSeed();
            divideEach.add("accuracy", value);
        }
        const double summedFirst = (0.1 + 0.2 + 0.4) / 3, dividedFirst = 0.1 / 3 + 0.2 / 3 + 0.4 / 3;
        QVERIFY(summedFirst != dividedFirst);
        COMPARE_EXACT(*sumThenDivide.mean("accuracy"), summedFirst);
        COMPARE_EXACT(*divideEach.mean("accuracy"), dividedFirst);
        COMPARE_EXACT(divideEach.overSeedsWithValue("accuracy")->mean, dividedFirst);
        const double deviation = ((0.1 - dividedFirst) * (0.1 - dividedFirst) + (0.2 - dividedFirst) * (0.2 - dividedFirst) +
                                  (0.4 - dividedFirst) * (0.4 - dividedFirst));
        COMPARE_EXACT(divideEach.overSeedsWithValue("accuracy")->stdev, std::sqrt(deviation / 2));
    }

    // compare: New missing for one seed means no mean New and no H; the sweep's cells average what there is.
    void missingNewLeavesNoMeanAndNoH()
    {
        SeedStatistics seeds;
        const double base[] = {0.5, 0.75, 1.0};
        for (int s = 0; s < 3; ++s) {
            seeds.startSeed();
            seeds.add("base", base[s]);
            if (s != 1)
                seeds.add("new", 0.25 * (s + 1));
        }
        COMPARE_EXACT(*seeds.mean("base"), 0.75);
        QVERIFY(!seeds.mean("new"));
        QVERIFY(!seeds.harmonicMeanOfMeans("base", "new"));
        const auto present = seeds.overSeedsWithValue("new");
        QVERIFY(present);
        QCOMPARE(present->seeds, 2);
        COMPARE_EXACT(present->mean, (0.25 + 0.75) / 2);
        QCOMPARE(seeds.metrics(), (std::vector<std::string>{"base", "new"}));
    }

    void harmonicMeanOfTheMeansNotMeanOfH()
    {
        SeedStatistics seeds;
        const double base[] = {0.75, 0.25}, novel[] = {0.5, 1.0};
        double perSeedH = 0;
        for (int s = 0; s < 2; ++s) {
            seeds.startSeed();
            seeds.add("base", base[s]);
            seeds.add("new", novel[s]);
            perSeedH += harmonicMean(base[s], novel[s]) / 2;
        }
        // Means 0.5 and 0.75: H = 2 * 0.5 * 0.75 / 1.25 = 0.6, where the seeds' own H (0.6, 0.4) average 0.5.
        COMPARE_EXACT(*seeds.harmonicMeanOfMeans("base", "new"), harmonicMean(0.5, 0.75));
        QVERIFY(std::abs(*seeds.harmonicMeanOfMeans("base", "new") - 0.6) < 1e-15);
        QVERIFY(std::abs(perSeedH - 0.5) < 1e-15);
    }

    // Per-class accuracies: -1 (a class without test images) is averaged like any other value.
    void elementwiseMeansWithClassesWithoutImages()
    {
        SeedStatistics seeds;
        const std::vector<std::vector<double>> perClass = {{0.5, -1, 1.0, -1}, {1.0, -1, 0.5, 0.5}, {0.75, -1, 0.0, -1}};
        for (const auto& classes : perClass) {
            seeds.startSeed();
            seeds.addElementwise("per_class", classes);
        }
        const std::vector<double> mean = seeds.elementwiseMean("per_class");
        QCOMPARE(mean.size(), std::size_t(4));
        COMPARE_EXACT(mean[0], 0.75);
        COMPARE_EXACT(mean[1], -1.0);     // no test images in any seed
        COMPARE_EXACT(mean[2], 0.5);
        COMPARE_EXACT(mean[3], -1.5 / 3);  // images in one seed only: the -1s count
        QVERIFY(seeds.elementwiseMean("other").empty());
    }

    // Continual's accuracy matrices: the first shaped seed gives the shape, a shorter one adds nothing where
    // it has nothing, and the divisor is every seed.
    void elementwiseMeansOfRaggedRows()
    {
        SeedStatistics seeds;
        seeds.startSeed();
        seeds.addElementwise("matrix", std::vector<std::vector<double>>{});
        seeds.startSeed();
        seeds.addElementwise("matrix", std::vector<std::vector<double>>{{0.5}, {0.25, 0.75}});
        seeds.startSeed();
        seeds.addElementwise("matrix", std::vector<std::vector<double>>{{1.0}, {0.5, 0.75, 0.5}, {1.0}});
        const auto mean = seeds.elementwiseMeanRows("matrix");
        QCOMPARE(mean.size(), std::size_t(2));
        QCOMPARE(mean[1].size(), std::size_t(2));
        COMPARE_EXACT(mean[0][0], 1.5 / 3);
        COMPARE_EXACT(mean[1][0], 0.75 / 3);
        COMPARE_EXACT(mean[1][1], 1.5 / 3);
    }

    void recordingOutsideASeedIsAnError()
    {
        SeedStatistics seeds;
        QVERIFY_THROWS_EXCEPTION(std::logic_error, seeds.add("accuracy", 0.5));
        seeds.startSeed();
        seeds.add("accuracy", 0.5);
        QVERIFY_THROWS_EXCEPTION(std::logic_error, seeds.add("accuracy", 0.5));
        seeds.addElementwise("per_class", std::vector<double>{0.5});
        QVERIFY_THROWS_EXCEPTION(std::logic_error, seeds.addElementwise("per_class", std::vector<double>{0.5}));
    }

    // adapt's report: each seed divided by n, then added, as its reports always were.
    void adaptationSummaryOverSeeds()
    {
        std::vector<AdaptationRun> runs(3);
        const double target[] = {0.1, 0.2, 0.4};
        for (int s = 0; s < 3; ++s) {
            runs[std::size_t(s)].seed = s + 1;
            runs[std::size_t(s)].targetAccuracy = target[s];
            runs[std::size_t(s)].sourceAccuracy = 0.5;
            runs[std::size_t(s)].targetPerClass = {target[s], -1};
        }
        const AdaptationSummary summary = summariseAdaptationSeeds("coop", runs);
        QCOMPARE(summary.method, std::string("coop"));
        QCOMPARE(summary.runs.size(), std::size_t(3));
        COMPARE_EXACT(summary.targetAccuracy, 0.1 / 3 + 0.2 / 3 + 0.4 / 3);
        COMPARE_EXACT(summary.sourceAccuracy, 0.5 / 3 + 0.5 / 3 + 0.5 / 3);
        QCOMPARE(summary.targetPerClass.size(), std::size_t(2));
        COMPARE_EXACT(summary.targetPerClass[0], 0.1 / 3 + 0.2 / 3 + 0.4 / 3);
        COMPARE_EXACT(summary.targetPerClass[1], -1.0);
        QVERIFY(summariseAdaptationSeeds("coop", {}).targetPerClass.empty());
    }
};

QTEST_APPLESS_MAIN(TestSeedStatistics)
#include "tst_seed_statistics.moc"
