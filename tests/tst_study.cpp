// The study layer (issue 28): a new kind of study costs one protocol. This test adds a toy protocol,
// "leave-one-domain-out" (train on another domain, score the held-out one), in this file alone, and runs
// a study of it through the layer everything else uses: a sweep's plan, the in-process executor, the
// collector (mean ± std over seeds) and the run history's listing. Its cost in files is in
// docs/architecture.md.
#include "core/Error.h"
#include "core/data/DatasetLayouts.h"
#include "core/experiment/DomainAdaptation.h"
#include "core/experiment/Experiment.h"
#include "core/experiment/Protocol.h"
#include "core/experiment/RunOutcome.h"
#include "core/experiment/Sweep.h"
#include "core/train/RunControl.h"
#include "core/train/RunStore.h"
#include "tests/ErrorOf.h"

#include <QtTest>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>

namespace fs = std::filesystem;
using namespace tunebench;
using nlohmann::json;

namespace {

// The toy protocol. A cell's dataset is the held-out domain; protocol option "domains" lists them all.
StudyProtocol leaveOneDomainOut()
{
    StudyProtocol protocol;
    protocol.name = "leave-one-domain-out";
    protocol.summary = "train on the first other domain, score the held-out one";
    protocol.validate = [](const RunSettings& settings) {
        const json domains = settings.protocolOptions.value("domains", json::array());
        if (domains.size() < 2 || std::find(domains.begin(), domains.end(), json(settings.dataset)) == domains.end())
            throw Error("leave-one-domain-out: " + settings.dataset + " is not one of protocol option domains " + domains.dump());
    };
    protocol.run = [](const RunSettings& cell, const Backbone& backbone, RunStore& store, bool resume, const CellCallbacks& callbacks,
                      RunControl* control) {
        // A few-shot run on the first other domain, with the held-out domain as its one evaluation target.
        RunSettings source = cell;
        source.protocol.clear();
        source.protocolOptions = json::object();
        for (const json& domain : cell.protocolOptions["domains"])
            if (domain.get<std::string>() != cell.dataset) {
                source.dataset = domain.get<std::string>();
                break;
            }
        source.evalDatasets = {cell.dataset};
        json results = findProtocol("few-shot").run(source, backbone, store, resume, callbacks, control);
        json config = store.readConfig();  // the cell's own settings, so that an executor reruns this protocol
        config["protocol"] = "leave-one-domain-out";
        config["settings"] = cell.toJson();
        store.writeConfig(config);
        results["held_out"] = results["targets"].begin().value()["accuracy"];
        store.writeResults(results);
        return results;
    };
    protocol.metrics = [](const json& results) {
        return std::map<std::string, double>{{"held_out", results.at("held_out").get<double>()}, {"source", results.at("accuracy").get<double>()}};
    };
    return protocol;
}

std::string demoModel()
{
    const char* source = std::getenv("TUNEBENCH_SOURCE_DIR");
    return std::string(source ? source : ".") + "/resources/demo-model";
}

} // namespace

class TestStudy : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        addProtocol(leaveOneDomainOut());
    }

    void protocolsAreFoundByName()
    {
        QCOMPARE(findProtocol("").name, std::string("few-shot"));
        QCOMPARE(findProtocol("continual").name, std::string("continual"));
        const QString unknown = QString::fromStdString(test::errorOf([] { findProtocol("leave-two-out"); }));
        QVERIFY2(unknown.contains("unknown protocol 'leave-two-out'") && unknown.contains("leave-one-domain-out"), qPrintable(unknown));
        const QString twice = QString::fromStdString(test::errorOf([] { addProtocol(leaveOneDomainOut()); }));
        QVERIFY2(twice.contains("already known"), qPrintable(twice));
    }

    // The one typed reader of results.json: what each kind of run shows first, and what a study averages.
    void outcomesOfEveryKindOfRun()
    {
        const RunOutcome plain = RunOutcome::fromJson({{"method", "linear"}, {"status", "finished"}, {"accuracy", 0.8}, {"base_new", false}}, "r");
        QCOMPARE(plain.headline()->name, std::string("accuracy"));
        QCOMPARE(plain.metrics(), (std::map<std::string, double>{{"accuracy", 0.8}}));

        const json baseNewJson = {{"accuracy", 0.7}, {"base_new", true}, {"base", 0.7}, {"new", 0.5}, {"h", 0.58}};
        const RunOutcome baseNew = RunOutcome::fromJson(baseNewJson, "r");
        QCOMPARE(baseNew.headline()->name, std::string("H"));
        QCOMPARE(baseNew.firstAccuracy()->name, std::string("base"));
        QCOMPARE(baseNew.metrics().size(), std::size_t(4));
        // New classes refused: no H; the headline is the accuracy.
        const RunOutcome refused = RunOutcome::fromJson({{"accuracy", 0.7}, {"base_new", true}, {"base", 0.7}, {"new", nullptr}, {"h", nullptr}}, "r");
        QCOMPARE(refused.headline()->name, std::string("accuracy"));

        // DAPL: the source's test images are "accuracy"; what it is shown by is the target's.
        const RunOutcome adapted = RunOutcome::fromJson(
            {{"method", "dapl"}, {"accuracy", 0.725}, {"base_new", false}, {"adaptation", {{"target", "office-home:Clipart"}}},
             {"targets", {{"office-home:Clipart", {{"accuracy", 0.495}}}}}},
            "r");
        QCOMPARE(adapted.headline()->name, std::string("target"));
        QCOMPARE(adapted.headline()->value, 0.495);
        QCOMPARE(adapted.firstAccuracy()->value, 0.495);
        QCOMPARE(adapted.metrics().at("target"), 0.495);

        const RunOutcome stream = RunOutcome::fromJson({{"protocol", "continual"}, {"average_accuracy", 0.6}, {"forgetting", 0.1}, {"accuracy", 0.6}}, "r");
        QCOMPARE(stream.headline()->name, std::string("A_T"));
        QCOMPARE(stream.metrics(), (std::map<std::string, double>{{"average_accuracy", 0.6}, {"forgetting", 0.1}}));

        const QString wrong = QString::fromStdString(test::errorOf([] { RunOutcome::fromJson({{"accuracy", "high"}}, "RUN/results.json"); }));
        QVERIFY2(wrong.contains("RUN/results.json") && wrong.contains("\"accuracy\""), qPrintable(wrong));
    }

    // Stop pressed while the last run of an adaptation series is evaluated: the series says it stopped.
    void adaptationSeriesStoppedDuringTheLastRun()
    {
        if (!fs::exists("/usr/share/datasets/fashion-mnist"))
            QSKIP("dataset-fashion-mnist is not installed");
        const Backbone backbone = loadBackbone(demoModel(), "", "cpu");
        const DatasetIndex source = openDataset("fashion-mnist"), target = openDataset("fashion-mnist:negative");
        AdaptationSettings settings;
        settings.base.model = demoModel();
        settings.base.dataset = "fashion-mnist";
        settings.base.maxTestImages = 40;
        settings.target = "fashion-mnist:negative";
        settings.runsRoot = m_dir.path().toStdString() + "/stopped-series";
        settings.methods = {"zeroshot"};
        RunControl control;
        AdaptationCallbacks callbacks;
        callbacks.onRunDone = [&](const AdaptationRun&) { control.requestStop(); };  // as if pressed during its evaluation
        const AdaptationReport report = runAdaptation(backbone, source, target, settings, callbacks, &control);
        QCOMPARE(report.methods.size(), std::size_t(1));
        QVERIFY(report.stopped);
        RunControl quiet;
        settings.runsRoot = m_dir.path().toStdString() + "/whole-series";
        QVERIFY(!runAdaptation(backbone, source, target, settings, {}, &quiet).stopped);
    }

    // The adaptation protocol: the same cells as `adapt` (runAdaptation), run as a study by the in-process
    // executor, give the same target and source accuracies; each run names its target.
    void adaptationAsAStudyMatchesTheSeries()
    {
        if (!fs::exists("/usr/share/datasets/fashion-mnist"))
            QSKIP("dataset-fashion-mnist is not installed");
        RunSettings base;
        base.model = demoModel();
        base.shots = 2;
        base.maxSteps = 3;
        base.maxTestImages = 60;
        base.threads = 2;
        AdaptationSettings series;
        series.base = base;
        series.base.dataset = "fashion-mnist";
        series.target = "fashion-mnist:negative";
        series.methods = {"zeroshot", "coop"};
        series.seeds = {1, 2};
        series.runsRoot = m_dir.path().toStdString() + "/series";
        const Backbone backbone = loadBackbone(demoModel(), "", "cpu");
        const AdaptationReport report =
            runAdaptation(backbone, openDataset("fashion-mnist"), openDataset("fashion-mnist:negative"), series, {}, nullptr);

        base.protocol = "adaptation";
        base.protocolOptions = {{"target", "fashion-mnist:negative"}};
        const SweepPlan plan = makeSweepPlan(m_dir.path().toStdString() + "/adaptation", base, {"fashion-mnist"}, {"zeroshot", "coop"}, {2}, {1, 2});
        // Each method for each seed: the seed samples the scored test images (max_test_images), zero-shot's too.
        QCOMPARE(plan.runs.size(), std::size_t(4));
        writeSweepPlan(plan);
        QCOMPARE(runSweepHere(plan), 4);
        const std::vector<SweepCell> cells = collectSweep(plan);
        QCOMPARE(cells.size(), std::size_t(2));
        for (std::size_t m = 0; m < 2; ++m) {
            QCOMPARE(cells[m].method, report.methods[m].method);
            QVERIFY(std::abs(cells[m].mean.at("target_accuracy") - report.methods[m].targetAccuracy) < 1e-12);
            QVERIFY(std::abs(cells[m].mean.at("source_accuracy") - report.methods[m].sourceAccuracy) < 1e-12);
        }
        for (const SweepRun& run : plan.runs) {
            const RunOutcome outcome = RunOutcome::fromJson(RunStore::readJsonFile(run.folder + "/results.json"), run.folder);
            QCOMPARE(outcome.headline()->name, std::string("target"));  // a source-only baseline too
        }
        const QString wrong = QString::fromStdString(test::errorOf([&] {
            RunSettings noTarget = base;
            noTarget.protocolOptions = nlohmann::json::object();
            makeSweepPlan(m_dir.path().toStdString() + "/adaptation-bad", noTarget, {"fashion-mnist"}, {"coop"}, {2}, {1});
        }));
        QVERIFY2(wrong.contains("protocol option target"), qPrintable(wrong));
    }

    void toyProtocolRunsAsAStudy()
    {
        if (!fs::exists("/usr/share/datasets/fashion-mnist"))
            QSKIP("dataset-fashion-mnist is not installed");
        const std::vector<std::string> domains = {"fashion-mnist:sketch", "fashion-mnist:tinted", "fashion-mnist:negative"};
        RunSettings base;
        base.model = demoModel();
        base.protocol = "leave-one-domain-out";
        base.protocolOptions = {{"domains", domains}};
        base.maxSteps = 3;
        base.maxTestImages = 60;
        base.threads = 2;
        const std::string dir = m_dir.path().toStdString() + "/lodo";

        // The plan checks every cell with the protocol before anything runs.
        const QString outside = QString::fromStdString(test::errorOf([&] { makeSweepPlan(dir, base, {"fashion-mnist:blurred"}, {"coop"}, {1}, {1}); }));
        QVERIFY2(outside.contains("fashion-mnist:blurred is not one of protocol option domains"), qPrintable(outside));

        const SweepPlan plan = makeSweepPlan(dir, base, domains, {"coop"}, {1}, {1, 2});
        writeSweepPlan(plan);
        QCOMPARE(runSweepHere(plan), 6);
        QCOMPARE(countStates(sweepStates(plan)).finished, 6);
        QCOMPARE(runSweepHere(plan), 0);  // finished cells are not run again

        // The collector averages the protocol's own metrics over the seeds, per held-out domain.
        const std::vector<SweepCell> cells = collectSweep(plan);
        QCOMPARE(cells.size(), std::size_t(3));
        for (std::size_t c = 0; c < cells.size(); ++c) {
            QCOMPARE(cells[c].dataset, domains[c]);
            QCOMPARE(cells[c].seeds, 2);
            double sum = 0;
            for (const SweepRun& run : plan.runs)
                if (run.dataset == domains[c]) {
                    const json results = RunStore::readJsonFile(run.folder + "/results.json");
                    QVERIFY(results["held_out"].is_number());
                    QVERIFY(results["targets"].size() == 1);
                    sum += results["held_out"].get<double>();
                }
            QVERIFY(std::abs(cells[c].mean.at("held_out") - sum / 2) < 1e-12);
            QVERIFY(cells[c].mean.count("source") && cells[c].stdev.count("held_out"));
        }

        // Every cell is an ordinary run folder: the history lists it, and its config names the protocol.
        const std::vector<RunSummary> runs = listRuns(dir + "/runs");
        QCOMPARE(runs.size(), std::size_t(6));
        for (const RunSummary& run : runs) {
            QCOMPARE(run.status, std::string("finished"));
            QCOMPARE(RunStore::readJsonFile(run.folder + "/config.json")["settings"]["protocol"].get<std::string>(),
                     std::string("leave-one-domain-out"));
        }
    }

private:
    QTemporaryDir m_dir;
};

QTEST_GUILESS_MAIN(TestStudy)
#include "tst_study.moc"
