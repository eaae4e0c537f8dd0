// Sweeps (issue 19): the plan and its run folders, the states read from them, the sbatch script, the collected
// table; and `tunebench-cli sweep` on the demo model: a local sweep whose table equals its runs' results.json,
// that redoes nothing when run again, and whose Slurm script resubmits only what is unfinished.
#include "core/Error.h"
#include "core/experiment/Sweep.h"
#include "core/io/AtomicFile.h"
#include "core/io/FolderLock.h"
#include "core/train/RunStore.h"
#include "tests/CliRunner.h"
#include "tests/ErrorOf.h"

#include <QtTest>

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>

#include <sys/stat.h>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace tunebench;
using test::errorOf;
using nlohmann::json;

namespace {

std::string readText(const fs::path& file)
{
    std::ifstream in(file);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

json readJson(const fs::path& file)
{
    return json::parse(readText(file));
}

std::string demoModel()
{
    const char* source = std::getenv("TUNEBENCH_SOURCE_DIR");
    return std::string(source ? source : ".") + "/resources/demo-model";
}

} // namespace

class TestSweep : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() { QVERIFY(m_dir.isValid()); }

    void planFoldersStatesAndScript()
    {
        RunSettings base;
        base.model = "/models/clip.pt";
        base.epochs = 3;
        const std::string dir = m_dir.path().toStdString() + "/plan";
        const SweepPlan plan = makeSweepPlan(dir, base, {"fashion-mnist:sketch"}, {"zeroshot", "coop"}, {1, 2}, {1, 2});
        // Zero-shot ignores the training images: one run; CoOp: 2 shot counts x 2 seeds.
        QCOMPARE(plan.runs.size(), std::size_t(5));
        QCOMPARE(plan.runs[0].method, std::string("zeroshot"));
        QCOMPARE(plan.runs[4].shots, 2);
        QCOMPARE(plan.runs[4].seed, 2);
        QVERIFY(fs::path(plan.runs[3].folder).filename() == "0003-coop-fashion-mnist_sketch-2shot-seed1");
        writeSweepPlan(plan);
        const json config = readJson(fs::path(plan.runs[3].folder) / "config.json");
        QCOMPARE(config["settings"]["shots"].get<int>(), 2);
        QCOMPARE(config["settings"]["epochs"].get<int>(), 3);
        QCOMPARE(config["settings"]["dataset"].get<std::string>(), std::string("fashion-mnist:sketch"));
        QVERIFY(readSweepPlan(dir).toJson() == plan.toJson());
        QCOMPARE(readText(fs::path(dir) / "runs.txt").substr(0, plan.runs[0].folder.size()), plan.runs[0].folder);
        writeSweepPlan(plan);  // the same plan again: fine
        const std::string other = errorOf([&] { writeSweepPlan(makeSweepPlan(dir, base, {"fashion-mnist:sketch"}, {"coop"}, {1}, {1})); });
        QVERIFY2(other.find("plan.json holds another sweep") != std::string::npos, other.c_str());

        // States from results.json.
        QVERIFY(runFolderState(plan.runs[1].folder) == RunState::Pending);
        auto writeResults = [&](int run, const json& results) {
            writeFileAtomically((fs::path(plan.runs[size_t(run)].folder) / "results.json").string(), results.dump());
        };
        writeResults(1, {{"status", "finished"}, {"accuracy", 0.5}, {"base_new", false}});
        writeResults(2, {{"status", "finished"}, {"accuracy", 0.7}, {"base_new", false}});
        writeResults(3, {{"status", "diverged"}});
        writeResults(4, {{"status", "stopped"}});
        QVERIFY(runFolderState(plan.runs[1].folder) == RunState::Finished);
        QVERIFY(runFolderState(plan.runs[3].folder) == RunState::Failed);
        QVERIFY(runFolderState(plan.runs[4].folder) == RunState::Pending);  // a stopped run resumes
        std::vector<RunState> states;
        for (const SweepRun& run : plan.runs)
            states.push_back(runFolderState(run.folder));
        QVERIFY(countStates(states).toJson() == (json{{"total", 5}, {"finished", 2}, {"failed", 1}, {"running", 0}, {"pending", 2}}));
        // A FIFO where a worker's pid goes is not read (the read would wait for a writer): the run is pending.
        const std::string fifo = (fs::path(plan.runs[4].folder) / "worker.pid").string();
        QVERIFY(::mkfifo(fifo.c_str(), 0600) == 0);
        QVERIFY(sweepStates(plan)[4] == RunState::Pending);
        fs::remove(fifo);

        // The table: mean and sample standard deviation of the finished seeds, per dataset x method x shots.
        const std::vector<SweepCell> cells = collectSweep(plan);
        QCOMPARE(cells.size(), std::size_t(3));
        QCOMPARE(cells[1].method, std::string("coop"));
        QCOMPARE(cells[1].shots, 1);
        QCOMPARE(cells[1].seeds, 2);
        QVERIFY(std::abs(cells[1].mean.at("accuracy") - 0.6) < 1e-12);
        QVERIFY(std::abs(cells[1].stdev.at("accuracy") - std::sqrt(0.02)) < 1e-12);
        QCOMPARE(cells[2].seeds, 0);

        QCOMPARE(arrayRanges({0, 1, 2, 5, 7, 8}), std::string("0-2,5,7-8"));
        QCOMPARE(arrayRanges({4}), std::string("4"));
        SlurmOptions options;
        options.partition = "gpu";
        options.gpusPerTask = 1;
        options.time = "01:00:00";
        options.maxConcurrent = 3;
        const std::string script = sbatchScript(plan, {0, 3, 4}, options, "/opt/tunebench-cli");
        for (const std::string& line : {std::string("#SBATCH --array=0,3-4%3\n"), "#SBATCH --output=" + plan.folder + "/logs/%x_%A_%a.out\n",
                                        std::string("#SBATCH --partition=gpu\n"), std::string("#SBATCH --gpus-per-task=1\n"),
                                        std::string("#SBATCH --time=01:00:00\n"), std::string("#SBATCH --open-mode=append\n"),
                                        std::string("train --config \"$run/config.json\" --run-folder \"$run\"")})
            QVERIFY2(script.find(line) != std::string::npos, line.c_str());
    }

    // Option grids: a method runs the product of the names it has; the others do not multiply its runs.
    void optionGrids()
    {
        QCOMPARE(gridValues("0.002"), std::optional<std::vector<json>>());
        QVERIFY(gridValues("0.002,0.0005") == (std::vector<json>{0.002, 0.0005}));
        QVERIFY(gridValues("[4,16]") == (std::vector<json>{4, 16}));
        QVERIFY(gridValues("[\"a photo, of a\", \"x\"]") == (std::vector<json>{"a photo, of a", "x"}));
        QVERIFY(gridValues("[\"a photo, of a\"]") == std::nullopt);  // one value: an ordinary option
        QVERIFY(gridValues("a,b") == (std::vector<json>{"a", "b"}));

        RunSettings base;
        base.model = "/models/clip.pt";
        const std::string dir = m_dir.path().toStdString() + "/grid";
        const OptionGrid grid = {{"lr", {0.002, 0.0005}}, {"n_ctx", {4, 16}}};
        const SweepPlan plan = makeSweepPlan(dir, base, {"fashion-mnist"}, {"zeroshot", "coop"}, {1, 2}, {1}, grid);
        // Zero-shot has no n_ctx and trains nothing (lr does not apply): 1 run; CoOp: 2 x 2 points x 2 shots.
        QCOMPARE(plan.runs.size(), std::size_t(1 + 8));
        QVERIFY(plan.runs[0].options.empty());
        QVERIFY(plan.runs[1].options == (json{{"lr", 0.002}, {"n_ctx", 4}}));
        QVERIFY(fs::path(plan.runs[1].folder).filename() == "0001-coop-fashion-mnist-lr0.002-n_ctx4-1shot-seed1");
        const RunSettings settings = runSettingsOf(plan, plan.runs[8]);
        QCOMPARE(settings.lr, 0.0005);
        QCOMPARE(settings.options["n_ctx"].get<int>(), 16);
        QCOMPARE(settings.shots, 2);
        writeSweepPlan(plan);
        QVERIFY(readSweepPlan(dir).toJson() == plan.toJson());
        QCOMPARE(readJson(fs::path(plan.runs[8].folder) / "config.json")["settings"]["options"]["n_ctx"].get<int>(), 16);

        // Cells per grid point.
        writeFileAtomically((fs::path(plan.runs[1].folder) / "results.json").string(),
                            json{{"status", "finished"}, {"accuracy", 0.5}, {"base_new", false}}.dump());
        const std::vector<SweepCell> cells = collectSweep(plan);
        QCOMPARE(cells.size(), plan.runs.size());  // one seed: a cell per run
        QVERIFY(cells[1].options == plan.runs[1].options);
        QCOMPARE(cells[1].seeds, 1);
        QCOMPARE(cells[2].seeds, 0);

        const std::string unknown = errorOf([&] { makeSweepPlan(dir, base, {"fashion-mnist"}, {"zeroshot"}, {1}, {1}, {{"n_ctx", {4, 16}}}); });
        QVERIFY2(unknown.find("--opt n_ctx") != std::string::npos, unknown.c_str());
        const std::string refused = errorOf([&] { makeSweepPlan(dir, base, {"fashion-mnist"}, {"coop"}, {1}, {1}, {{"n_ctx", {4, 999}}}); });
        QVERIFY2(refused.find("coop at n_ctx=999") != std::string::npos && refused.find("n_ctx") != std::string::npos, refused.c_str());

        // Through the CLI: two values of lr plan twice the runs of one.
        const QStringList sweep = {"sweep", "--model", QString::fromStdString(demoModel()), "--datasets", "fashion-mnist",
                                   "--methods", "coop", "--shots", "1,2", "--seeds", "1,2", "--local", "1", "--dry-run"};
        const auto one = test::runCli(sweep + QStringList{"--out", m_dir.path() + "/grid-one"});
        const auto two = test::runCli(sweep + QStringList{"--out", m_dir.path() + "/grid-two", "--opt", "lr=0.002,0.0005"});
        QVERIFY2(one.exitCode == 0 && two.exitCode == 0, (one.err + two.err).c_str());
        QCOMPARE(json::parse(one.out)["total"].get<int>(), 4);
        QCOMPARE(json::parse(two.out)["total"].get<int>(), 8);
        QVERIFY(!fs::exists(m_dir.path().toStdString() + "/grid-two/runs/0000-coop-fashion-mnist-lr0.002-1shot-seed1/results.json"));
        QVERIFY(fs::exists(m_dir.path().toStdString() + "/grid-two/runs/0000-coop-fashion-mnist-lr0.002-1shot-seed1/config.json"));
        // A single value of a run setting sets it, as its flag would; it is no method option.
        const auto single = test::runCli(sweep + QStringList{"--out", m_dir.path() + "/grid-single", "--opt", "epochs=3"});
        QVERIFY2(single.exitCode == 0, single.err.c_str());
        const json config = readJson(m_dir.path().toStdString() + "/grid-single/runs/0000-coop-fashion-mnist-1shot-seed1/config.json");
        QCOMPARE(config["settings"]["epochs"].get<int>(), 3);
        QVERIFY(!config["settings"]["options"].contains("epochs"));
    }

    // 1 dataset x 2 methods x 2 shot counts x 2 seeds on the demo model, two worker processes.
    void localSweepOnTheDemoModel()
    {
        if (!fs::exists("/usr/share/datasets/fashion-mnist"))
            QSKIP("dataset-fashion-mnist is not installed");
        const QString dir = m_dir.path() + "/demo";
        const QStringList sweep = {"sweep", "--model", QString::fromStdString(demoModel()), "--datasets", "fashion-mnist:tinted",
                                   "--methods", "coop,kgcoop", "--shots", "1,2", "--seeds", "1,2", "--epochs", "1",
                                   "--max-test-images", "300", "--out", dir};
        const auto first = test::runCli(sweep + QStringList{"--local", "2"}, QProcessEnvironment::systemEnvironment(), 600000);
        QVERIFY2(first.exitCode == 0, first.err.c_str());
        QCOMPARE(json::parse(first.out)["finished"].get<int>(), 8);

        // The table holds the runs' own numbers.
        const auto collected = test::runCli({"sweep", "collect", dir});
        QVERIFY2(collected.exitCode == 0, collected.err.c_str());
        const json table = json::parse(collected.out);
        QCOMPARE(table["rows"].size(), std::size_t(4));
        const SweepPlan plan = readSweepPlan(dir.toStdString());
        for (const json& row : table["rows"]) {
            std::vector<double> accuracies;
            for (const SweepRun& run : plan.runs)
                if (run.method == row["method"] && run.shots == row["shots"].get<int>())
                    accuracies.push_back(readJson(fs::path(run.folder) / "results.json")["accuracy"].get<double>());
            QCOMPARE(accuracies.size(), std::size_t(2));
            QCOMPARE(row["seeds"].get<int>(), 2);
            QVERIFY(std::abs(row["accuracy"]["mean"].get<double>() - (accuracies[0] + accuracies[1]) / 2) < 1e-12);
            QVERIFY(std::abs(row["accuracy"]["std"].get<double>() - std::abs(accuracies[0] - accuracies[1]) / std::sqrt(2.0)) < 1e-12);
        }
        QVERIFY(fs::file_size(dir.toStdString() + "/collect.csv") > 0);
        QVERIFY(fs::file_size(dir.toStdString() + "/curve-fashion-mnist_tinted.png") > 0);

        // Run again: nothing is redone.
        const auto before = fs::last_write_time(fs::path(plan.runs[5].folder) / "results.json");
        const auto again = test::runCli(sweep + QStringList{"--local", "2"});
        QVERIFY2(again.exitCode == 0 && again.err.find("8 finished, 0 to run") != std::string::npos, again.err.c_str());
        QVERIFY(fs::last_write_time(fs::path(plan.runs[5].folder) / "results.json") == before);
        const auto status = test::runCli({"sweep", "status", dir});
        QCOMPARE(json::parse(status.out)["finished"].get<int>(), 8);

        // Under Slurm a finished sweep submits nothing; a run whose result is gone is the array's only task.
        QVERIFY(json::parse(test::runCli(sweep + QStringList{"--slurm", "--dry-run"}).out)["runs"] == 0);
        fs::remove(fs::path(plan.runs[5].folder) / "results.json");
        const auto resubmit = test::runCli(sweep + QStringList{"--slurm", "--dry-run", "--max-concurrent", "2"});
        QVERIFY2(resubmit.exitCode == 0, resubmit.err.c_str());
        QCOMPARE(json::parse(resubmit.out)["array"].get<std::string>(), std::string("5"));
        QVERIFY(readText(dir.toStdString() + "/submit.sbatch").find("#SBATCH --array=5%2\n") != std::string::npos);
        // A fresh plan's array covers every run.
        QStringList fresh = sweep;
        fresh.last() = m_dir.path() + "/fresh";
        const auto dry = test::runCli(fresh + QStringList{"--slurm", "--dry-run"});
        QVERIFY2(dry.exitCode == 0, dry.err.c_str());
        QVERIFY(readText(m_dir.path().toStdString() + "/fresh/submit.sbatch").find("#SBATCH --array=0-7\n") != std::string::npos);
        // Neither --local nor --slurm: an error that says what to give.
        const auto nowhere = test::runCli(fresh);
        QVERIFY(nowhere.exitCode != 0 && nowhere.err.find("--local N") != std::string::npos);
    }

    // Issue 32 (10): a run folder is locked while a process writes it; a second writer is refused with one
    // line naming the folder and the holder's pid.
    void aRunFolderHasOneWriter()
    {
        const std::string folder = m_dir.path().toStdString() + "/locked-run";
        const RunStore store = RunStore::at(folder);
        store.writeConfig({{"settings", json::object()}});
        const FolderLock held = store.lock();
        QVERIFY(!FolderLock::tryAcquire(folder));  // another open file description: refused, even in this process
        const std::string refused = errorOf([&] { store.lock(); });
        QVERIFY2(refused.find(folder + ": in use by process " + std::to_string(::getpid())) == 0, refused.c_str());
        // train --resume of a run another process writes: refused before anything is read or written.
        const auto resumed = test::runCli({"train", "--resume", QString::fromStdString(folder)});
        QCOMPARE(resumed.exitCode, 1);
        QVERIFY2(resumed.err.find(folder + ": in use by process " + std::to_string(::getpid())) != std::string::npos, resumed.err.c_str());
        QCOMPARE(std::count(resumed.err.begin(), resumed.err.end(), '\n'), std::ptrdiff_t(1));
        const auto planned = test::runCli({"train", "--run-folder", QString::fromStdString(folder)});
        QVERIFY2(planned.exitCode == 1 && planned.err.find("in use by process") != std::string::npos, planned.err.c_str());
    }

    // Issue 32 (19): what a kill leaves in a run folder.
    void interruptedWritesAreRecoveredOrCleaned()
    {
        // Killed after config.json was written and synced but before its rename: the run is recognised.
        const fs::path complete = m_dir.path().toStdString() + "/config-written";
        fs::create_directories(complete / "export");
        std::ofstream(complete / "config.json.tmp-77-0") << json{{"settings", {{"method", "coop"}}}}.dump();
        const RunStore recovered = RunStore::open(complete.string());
        QCOMPARE(recovered.readConfig()["settings"]["method"].get<std::string>(), std::string("coop"));
        // Killed mid-write: nothing ran, and the error says so.
        const fs::path torn = m_dir.path().toStdString() + "/config-torn";
        fs::create_directories(torn);
        std::ofstream(torn / "config.json.tmp-77-0") << "{\"settings\": {\"met";
        const std::string error = errorOf([&] { RunStore::open(torn.string()); });
        QVERIFY2(error.find(torn.string() + ": a run stopped while its config.json was written") == 0, error.c_str());
        QVERIFY(errorOf([&] { RunStore::open(m_dir.path().toStdString()); }).find("not a run folder") != std::string::npos);

        // Temporaries of killed writes go when the next writer takes the folder.
        std::ofstream(complete / "results.json.tmp-77-1") << "{";
        std::ofstream(complete / "export" / "prompt.json.tmp-77-2") << "{";
        std::ofstream(complete / "export" / "prompt.safetensors.tmp-77-3") << "x";
        {
            const FolderLock lock = recovered.lock();
            for (const auto& dir : {complete, complete / "export"})
                for (const auto& entry : fs::directory_iterator(dir))
                    QVERIFY2(entry.path().filename().string().find(".tmp-") == std::string::npos, entry.path().c_str());
        }

        // Resuming from the checkpoint of 2 epochs (10 steps) drops the lines of the steps run after it.
        std::string lines;
        for (int epoch = 0; epoch < 3; ++epoch) {
            for (int step = epoch * 5 + 1; step <= epoch * 5 + 5; step += 2)
                lines += json{{"type", "step"}, {"epoch", epoch}, {"step", step}}.dump() + "\n";
            lines += json{{"type", "epoch"}, {"epoch", epoch}}.dump() + "\n";
        }
        lines += json{{"type", "eval"}, {"split", "test"}}.dump() + "\n";
        std::ofstream(complete / "metrics.jsonl") << lines;
        recovered.keepMetricsUpTo(2, 10);
        const std::vector<json> kept = recovered.readMetrics();
        QCOMPARE(kept.size(), std::size_t(8));  // 3 steps + epoch 0, 3 steps + epoch 1
        QCOMPARE(kept.back(), (json{{"type", "epoch"}, {"epoch", 1}}));
        recovered.keepMetricsUpTo(0, 0);
        QVERIFY(recovered.readMetrics().empty());
    }

    // Issue 32 (10): two `sweep --local 1` on one folder split the runs; every run is done exactly once.
    void twoLocalSweepsShareOneFolder()
    {
        if (!fs::exists("/usr/share/datasets/fashion-mnist"))
            QSKIP("dataset-fashion-mnist is not installed");
        const QString dir = m_dir.path() + "/shared";
        const QStringList sweep = {"sweep", "--model", QString::fromStdString(demoModel()), "--datasets", "fashion-mnist",
                                   "--methods", "coop,kgcoop", "--shots", "1", "--seeds", "1,2", "--epochs", "1",
                                   "--max-test-images", "50", "--local", "1", "--out", dir};
        const std::vector<test::CliResult> both = test::runClisTogether({sweep, sweep}, 600000);
        for (const test::CliResult& result : both) {
            QVERIFY2(result.exitCode == 0, result.err.c_str());
            QCOMPARE(json::parse(result.out)["finished"].get<int>(), 4);
        }
        const SweepPlan plan = readSweepPlan(dir.toStdString());
        QCOMPARE(plan.runs.size(), std::size_t(4));
        for (const SweepRun& run : plan.runs) {
            // Both sweeps' workers append to the run's train.log: one start there is one run.
            const std::string log = readText(fs::path(run.folder) / "train.log");
            std::size_t starts = 0;
            for (std::size_t at = log.find("run folder: "); at != std::string::npos; at = log.find("run folder: ", at + 1))
                ++starts;
            QVERIFY2(starts == 1, (run.folder + ":\n" + log).c_str());
            std::size_t epochLines = 0;
            for (const json& record : RunStore::open(run.folder).readMetrics())
                epochLines += record.value("type", "") == "epoch" ? 1 : 0;
            QCOMPARE(epochLines, std::size_t(1));
        }
    }

private:
    QTemporaryDir m_dir;
};

QTEST_APPLESS_MAIN(TestSweep)
#include "tst_sweep.moc"
