// Continual learning (issue 16): the metrics, L2P's mechanics (logit mask, top-N and batch-wise selection,
// the pool's size), the task streams and their errors, resume at a task boundary, and `tunebench-cli continual`.
#include "core/Device.h"
#include "core/Error.h"
#include "core/data/DatasetLayouts.h"
#include "core/experiment/ContinualLearning.h"
#include "core/experiment/Experiment.h"
#include "core/io/CheckpointWriter.h"
#include "core/io/StateDict.h"
#include "core/train/RunStore.h"
#include "core/tuning/ParameterBudget.h"
#include "core/tuning/continual/L2pStrategy.h"
#include "tests/CliRunner.h"
#include "tests/ErrorOf.h"
#include "tests/MemoryCeiling.h"
#include "tests/ModelFixtures.h"

#include <QtTest>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>

namespace fs = std::filesystem;
using namespace tunebench;
using test::errorOf;
using nlohmann::json;

namespace {

// A dataset of `classes` names with no images, for the stream errors.
DatasetIndex namesOnly(int classes)
{
    DatasetIndex dataset;
    dataset.name = "toy";
    for (int c = 0; c < classes; ++c)
        dataset.classNames.push_back("class " + std::to_string(c));
    return dataset;
}

} // namespace

class TestContinual : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        torch::set_num_threads(2);
        QVERIFY(m_dir.isValid());
        m_root = m_dir.path().toStdString();
        m_modelPath = m_root + "/tiny.safetensors";
        writeOpenAiSafetensors(test::randomWeights(test::tinyClipSpec(), 9), m_modelPath);
        // Four colour classes: 6 training and 3 test images each, 32 x 32.
        m_dataset = m_root + "/colours";
        const char* names[] = {"red", "green", "blue", "grey"};
        const cv::Scalar colours[] = {{30, 30, 220}, {30, 200, 30}, {220, 40, 30}, {128, 128, 128}};
        for (int c = 0; c < 4; ++c)
            for (auto [split, count] : {std::pair<const char*, int>{"train", 6}, {"test", 3}}) {
                const fs::path folder = fs::path(m_dataset) / split / names[c];
                fs::create_directories(folder);
                for (int i = 0; i < count; ++i) {
                    cv::Mat image(32, 32, CV_8UC3, colours[c]);
                    cv::randn(image, colours[c], cv::Scalar(25, 25, 25));
                    QVERIFY(cv::imwrite((folder / (std::to_string(i) + ".png")).string(), image));
                }
            }
    }

    // The L2P paper's A_T and F_T on hand-made matrices.
    void metricFormulas()
    {
        const AccuracyMatrix forgetful = {{0.9}, {0.6, 0.8}, {0.5, 0.7, 0.95}};
        QVERIFY(std::abs(averageAccuracy(forgetful) - (0.5 + 0.7 + 0.95) / 3) < 1e-12);
        QVERIFY(std::abs(*forgetting(forgetful) - ((0.9 - 0.5) + (0.8 - 0.7)) / 2) < 1e-12);
        // The best accuracy on a task may come after it was trained (a later task helped it).
        const AccuracyMatrix helped = {{0.5}, {0.7, 0.8}, {0.6, 0.8, 0.9}};
        QVERIFY(std::abs(*forgetting(helped) - ((0.7 - 0.6) + 0.0) / 2) < 1e-12);
        QVERIFY(!forgetting({{0.4, 0.6}}).has_value());  // joint training: one row
        QVERIFY(std::abs(averageAccuracy({{0.4, 0.6}}) - 0.5) < 1e-12);

        // Over seeds: the mean matrix, mean A_T and F_T, the selection counts summed.
        ContinualResult a, b;
        a.matrix = forgetful;
        b.matrix = helped;
        a.selection = {{3, 1}, {0, 4}};
        b.selection = {{1, 1}, {2, 0}};
        const ContinualSummary summary = summariseContinualSeeds({a, b});
        QCOMPARE(summary.seeds, 2);
        QVERIFY(std::abs(summary.matrix[1][0] - (0.6 + 0.7) / 2) < 1e-12);
        QVERIFY(std::abs(summary.averageAccuracy - (averageAccuracy(forgetful) + averageAccuracy(helped)) / 2) < 1e-12);
        QVERIFY(std::abs(*summary.forgetting - (*forgetting(forgetful) + *forgetting(helped)) / 2) < 1e-12);
        QCOMPARE(summary.selection, (std::vector<std::vector<std::int64_t>>{{4, 2}, {2, 4}}));
        QVERIFY(summary.hasSelection());
        QVERIFY(!summariseContinualSeeds({ContinualResult{}}).hasSelection());
    }

    // Training on task {1, 2}: the logits of classes 0 and 3 are -inf, and no gradient reaches their head rows.
    void maskKeepsOtherTasksClassesOutOfTheGradient()
    {
        for (const bool pool : {true, false}) {
            L2pStrategy strategy(pool);
            strategy.attach(ClipModel(test::tinyClipSpec()), setup(4), json::object());
            strategy.setTaskClasses({1, 2});
            strategy.setTraining(true);
            torch::manual_seed(3);
            const Batch batch{torch::randn({4, 3, 32, 32}), torch::tensor({1, 2, 2, 1}), {}};
            const StepOutput step = strategy.trainStep(batch);
            step.loss.backward();
            const auto grad = strategy.head()->last_layer->weight.grad();
            QVERIFY(grad.defined());
            for (int c = 0; c < 4; ++c) {
                const double norm = grad[c].abs().sum().item<double>();
                const bool current = c == 1 || c == 2;
                if (pool) {
                    QVERIFY2(current ? norm > 0 : norm == 0, qPrintable(QString("class %1: %2").arg(c).arg(norm)));
                    QVERIFY(current ? std::isfinite(step.logits[0][c].item<double>()) : std::isinf(step.logits[0][c].item<double>()));
                } else if (!current) {
                    QVERIFY2(norm > 0, "seq-ft trains without the mask: other classes are pushed down");
                }
            }
        }
    }

    // Top-N by cosine similarity per image; batch-wise, the N prompts chosen most often, ties to the lower id.
    void topNAndBatchwiseSelection()
    {
        L2pStrategy strategy(true);
        // Three classes, so that no other trainable tensor has the keys' shape [4, width].
        strategy.attach(ClipModel(test::tinyClipSpec()), setup(3), json{{"pool_size", 4}, {"top_k", 2}, {"batchwise", false}});
        const int width = test::tinyClipSpec().vision.width;
        auto keys = strategy.trainableParameters();  // prompts, keys, head weight, head bias
        QVERIFY(strategy.trainableState().count("prompt_pool.keys"));
        at::Tensor poolKeys;
        for (auto& p : keys)
            if (p.dim() == 2 && p.size(0) == 4 && p.size(1) == width)
                poolKeys = p;
        QVERIFY(poolKeys.defined());
        {
            torch::NoGradGuard noGrad;
            poolKeys.zero_();
            for (int i = 0; i < 4; ++i)
                poolKeys[i][i] = 3.0;  // key i points along axis i
        }
        auto query = [&](std::vector<std::pair<int, double>> parts) {
            auto q = torch::zeros({width});
            for (auto [axis, weight] : parts)
                q[axis] = weight;
            return q;
        };
        const auto queries = torch::stack({query({{0, 1.0}, {1, 0.5}}), query({{1, 1.0}, {2, 0.5}}), query({{2, 1.0}, {1, 0.4}})});
        strategy.setTraining(true);
        auto chosen = strategy.selectPrompts(queries);
        QCOMPARE(chosen[0][0].item<int64_t>(), int64_t(0));
        QCOMPARE(chosen[0][1].item<int64_t>(), int64_t(1));
        QCOMPARE(chosen[1][0].item<int64_t>(), int64_t(1));
        QCOMPARE(chosen[1][1].item<int64_t>(), int64_t(2));
        QCOMPARE(chosen[2][0].item<int64_t>(), int64_t(2));
        QCOMPARE(chosen[2][1].item<int64_t>(), int64_t(1));

        L2pStrategy batchwise(true);
        batchwise.attach(ClipModel(test::tinyClipSpec()), setup(3), json{{"pool_size", 4}, {"top_k", 2}});
        for (auto& p : batchwise.trainableParameters())
            if (p.dim() == 2 && p.size(0) == 4 && p.size(1) == width) {
                torch::NoGradGuard noGrad;
                p.copy_(poolKeys);
            }
        // Counts 1: 3, 2: 2, 0: 1 -> prompts {1, 2} for every image.
        chosen = batchwise.selectPrompts(queries);
        for (int row = 0; row < 3; ++row) {
            QCOMPARE(chosen[row][0].item<int64_t>(), int64_t(1));
            QCOMPARE(chosen[row][1].item<int64_t>(), int64_t(2));
        }
        // Every prompt chosen once: the tie goes to the lower ids, {0, 1}. Evaluation counts the choices.
        batchwise.setTraining(false);
        batchwise.resetSelectionCounts();
        const auto tied = torch::stack({query({{0, 1.0}, {3, 0.5}}), query({{1, 1.0}, {2, 0.5}})});
        chosen = batchwise.selectPrompts(tied);
        QCOMPARE(chosen[1][0].item<int64_t>(), int64_t(0));
        QCOMPARE(chosen[1][1].item<int64_t>(), int64_t(1));
        QCOMPARE(batchwise.selectionCounts(), (std::vector<std::int64_t>{2, 2, 0, 0}));
    }

    // methods.md 1.11: 10 x 5 x 768 prompt values and 10 x 768 keys on ViT-B/16 = 46,080, plus the head.
    void poolSizeOnVitB16()
    {
        torch::NoGradGuard noGrad;
        ClipModel model(modelGeometry("vit-b16"));
        L2pStrategy strategy(true);
        strategy.attach(model, setup(100), json::object());
        std::int64_t pool = 0;
        for (const auto& [name, tensor] : strategy.trainableState())
            if (name.rfind("prompt_pool.", 0) == 0)
                pool += tensor.numel();
        QCOMPARE(pool, std::int64_t(46080));
        QCOMPARE(strategy.trainableParameterCount(), std::int64_t(46080 + 768 * 100 + 100));
        const auto cli = test::runCli({"params", "--model", "vit-b16", "--strategy", "l2p", "--classes", "100"});
        QVERIFY2(cli.exitCode == 0, cli.err.c_str());
        QCOMPARE(json::parse(cli.out)["trainable"].get<std::int64_t>(), std::int64_t(46080 + 76900));
    }

    // The protocol finds what it needs through the capability: `continual` <=> a ContinualLearner.
    void continualCapabilityMeansAContinualLearner()
    {
        int continual = 0;
        for (const StrategyInfo& info : strategyRegistry()) {
            const auto strategy = info.create();
            QVERIFY2(info.capabilities.continual == (dynamic_cast<ContinualLearner*>(strategy.get()) != nullptr), info.name.c_str());
            QVERIFY2(!info.capabilities.continual || info.capabilities.needsVitImageTower, info.name.c_str());
            continual += info.capabilities.continual ? 1 : 0;
        }
        QCOMPARE(continual, 2);  // l2p, seq-ft
    }

    void streamsAndTheirErrors()
    {
        const auto tasks = classIncrementalTasks(namesOnly(10), 5, 1);
        QCOMPARE(tasks.size(), size_t(5));
        std::vector<std::int64_t> all;
        for (const auto& task : tasks) {
            QCOMPARE(task.classes.size(), size_t(2));
            all.insert(all.end(), task.classes.begin(), task.classes.end());
        }
        std::sort(all.begin(), all.end());
        QCOMPARE(all, (std::vector<std::int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
        QVERIFY(classIncrementalTasks(namesOnly(10), 5, 2)[0].classes != tasks[0].classes ||
                classIncrementalTasks(namesOnly(10), 5, 2)[1].classes != tasks[1].classes);  // the order is seeded

        std::string message = errorOf([] { classIncrementalTasks(namesOnly(10), 3, 1); });
        QVERIFY2(message.find("does not divide the 10 classes") != std::string::npos && message.find("10 = 3 x 3 + 1") != std::string::npos &&
                     message.find("2, 5, 10") != std::string::npos && message.find('\n') == std::string::npos,
                 message.c_str());
        message = errorOf([] { classIncrementalTasks(namesOnly(10), 1, 1); });
        QVERIFY2(message.find("at least 2 tasks") != std::string::npos, message.c_str());
        message = errorOf([] { domainIncrementalTasks({namesOnly(4)}); });
        QVERIFY2(message.find("at least 2") != std::string::npos, message.c_str());
        message = errorOf([] { domainIncrementalTasks({namesOnly(4), namesOnly(5)}); });
        QVERIFY2(message != "(no error)", message.c_str());
    }

    // A stream that runs out of memory ends as out_of_memory, as a few-shot run does, not as failed (here LibTorch's
    // own allocation error, before any training step could explain it).
    void outOfMemoryIsRecordedAsSuch()
    {
        const Backbone backbone{m_modelPath, readCheckpoint(m_modelPath), nullptr, c10::kCPU};
        const auto tasks = classIncrementalTasks(openDataset(m_dataset), 2, 1);
        RunSettings settings;
        settings.model = m_modelPath;
        settings.dataset = m_dataset;
        settings.method = "l2p";
        settings.options = {{"pool_size", 4}, {"length", 2}, {"top_k", 2}};
        settings.epochs = 1;
        settings.batchSize = 4;
        settings.loaderThreads = 1;
        settings.protocol = "continual";
        settings.protocolOptions = {{"stream", "class"}, {"tasks", 2}};
        RunStore store = RunStore::at(m_root + "/out-of-memory");
        std::string message;
        {
            const test::MemoryCeiling device(64);
            try {
                runContinualCell(settings, backbone, tasks, "class", store, {}, nullptr);
            } catch (const std::exception& e) {  // LibTorch's own error where no step explains it
                message = e.what();
            }
        }
        QVERIFY2(isOutOfMemory(std::runtime_error(message)), message.c_str());
        const nlohmann::json results = store.readResults();
        QCOMPARE(results.value("status", ""), std::string("out_of_memory"));
        QCOMPARE(results.value("message", ""), message.substr(0, message.find('\n')));
    }

    // Stopping after task 1 and running again gives what an uninterrupted run gives, bit for bit.
    void resumeAfterATaskBoundaryIsExact()
    {
        const Backbone backbone{m_modelPath, readCheckpoint(m_modelPath), nullptr, c10::kCPU};
        const auto tasks = classIncrementalTasks(openDataset(m_dataset), 2, 1);
        ContinualSettings settings;
        settings.method = "l2p";
        settings.options = {{"pool_size", 4}, {"length", 2}, {"top_k", 2}};
        settings.epochsPerTask = 2;
        settings.batchSize = 4;
        settings.loaderThreads = 1;
        settings.runFolder = m_root + "/whole";
        const ContinualResult whole = runContinual(backbone, tasks, settings);
        QCOMPARE(whole.matrix.size(), size_t(2));
        QCOMPARE(whole.matrix[1].size(), size_t(2));
        QCOMPARE(whole.resumedTasks, 0);

        fs::copy(m_root + "/whole", m_root + "/cut", fs::copy_options::recursive);
        fs::remove_all(m_root + "/cut/task-2");
        settings.runFolder = m_root + "/cut";
        const ContinualResult resumed = runContinual(backbone, tasks, settings);
        QCOMPARE(resumed.resumedTasks, 1);
        QCOMPARE(resumed.matrix, whole.matrix);
        QCOMPARE(resumed.selection, whole.selection);
        const StateDict a = readSafetensors(m_root + "/whole/task-2/trainable.safetensors");
        const StateDict b = readSafetensors(m_root + "/cut/task-2/trainable.safetensors");
        QCOMPARE(a.size(), b.size());
        for (const auto& [name, tensor] : a)
            QVERIFY2(torch::equal(tensor, b.at(name)), name.c_str());

        // Everything finished: a third call reads both tasks back; other settings are refused.
        QCOMPARE(runContinual(backbone, tasks, settings).resumedTasks, 2);
        settings.epochsPerTask = 3;
        const std::string message = errorOf([&] { runContinual(backbone, tasks, settings); });
        QVERIFY2(message.find("other settings") != std::string::npos, message.c_str());
    }

    void cliRunsEveryMethodAndNamesBadInput()
    {
        const QString model = QString::fromStdString(m_modelPath), dataset = QString::fromStdString(m_dataset);
        const QString runs = QString::fromStdString(m_root + "/runs");
        // A list typed with spaces after its commas reads as one without (splitCommaList).
        const auto r = test::runCli({"continual", "--model", model, "--dataset", dataset, "--tasks", "2", "--methods", "l2p, seq-ft, joint", "--seeds",
                                     "1,2", "--epochs-per-task", "1", "--batch-size", "4", "--opt", "pool_size=4", "--opt", "top_k=2", "--runs", runs,
                                     "--threads", "2"});
        QVERIFY2(r.exitCode == 0, r.err.c_str());
        const json out = json::parse(r.out);
        QCOMPARE(out["tasks"].size(), size_t(2));
        for (const char* method : {"l2p", "seq-ft", "joint"}) {
            const json& m = out["methods"][method];
            QVERIFY2(m["average_accuracy"].is_number(), method);
            QCOMPARE(m["per_seed"].size(), size_t(2));
            const json& first = m["per_seed"][0];
            const double a = first["average_accuracy"].get<double>(), b = m["per_seed"][1]["average_accuracy"].get<double>();
            QVERIFY(std::abs(m["average_accuracy"].get<double>() - (a + b) / 2) < 1e-12);
            QVERIFY(fs::path(first["run"].get<std::string>()).is_absolute());
            QVERIFY(fs::exists(fs::path(first["run"].get<std::string>()) / "export.safetensors"));
        }
        QCOMPARE(out["methods"]["l2p"]["matrix"].size(), size_t(2));
        QVERIFY(out["methods"]["l2p"]["forgetting"].is_number());
        QCOMPARE(out["methods"]["joint"]["matrix"].size(), size_t(1));  // one stage, evaluated on both tasks
        QCOMPARE(out["methods"]["joint"]["matrix"][0].size(), size_t(2));
        QVERIFY(out["methods"]["joint"]["forgetting"].is_null());
        QCOMPARE(out["methods"]["l2p"]["per_seed"][0]["selection"].size(), size_t(2));
        QVERIFY(r.err.find("after task 2:") != std::string::npos);
        QVERIFY(fs::file_size(out["methods"]["l2p"]["heat_map"].get<std::string>()) > 1000);
        QVERIFY(fs::file_size(out["methods"]["l2p"]["selection_map"].get<std::string>()) > 1000);
        QVERIFY(!out["methods"]["seq-ft"].contains("selection_map"));  // no pool

        // Each stream is an ordinary run folder (config.json + results.json): the run history lists it.
        int listed = 0;
        for (const RunSummary& run : listRuns(m_root + "/runs")) {
            if (run.results.value("protocol", "") != "continual")
                continue;
            ++listed;
            QCOMPARE(run.status, std::string("finished"));
            QVERIFY(run.method == "l2p" || run.method == "seq-ft" || run.method == "joint");
            QCOMPARE(run.dataset, std::string("colours-class2"));
            QCOMPARE(run.results["accuracy"], run.results["average_accuracy"]);
        }
        QCOMPARE(listed, 6);

        // The same command again reads the finished streams back (nothing retrains, the numbers are the
        // same); with another schedule it is refused, naming the folder and the setting, not answered from
        // the finished runs.
        const QStringList again = {"continual", "--model", model, "--dataset", dataset, "--tasks", "2", "--methods", "l2p", "--seeds", "1",
                                   "--epochs-per-task", "1", "--batch-size", "4", "--opt", "pool_size=4", "--opt", "top_k=2", "--runs", runs,
                                   "--threads", "2"};
        const auto reread = test::runCli(again);
        QVERIFY2(reread.exitCode == 0, reread.err.c_str());
        QVERIFY2(reread.err.find("after task") == std::string::npos, reread.err.c_str());
        QCOMPARE(json::parse(reread.out)["methods"]["l2p"]["per_seed"][0], out["methods"]["l2p"]["per_seed"][0]);
        QStringList otherSchedule = again;
        otherSchedule[otherSchedule.indexOf("--epochs-per-task") + 1] = "2";
        const auto refused = test::runCli(otherSchedule);
        QVERIFY2(refused.exitCode != 0 && refused.err.find("\"epochs\" differs") != std::string::npos &&
                     refused.err.find(out["methods"]["l2p"]["per_seed"][0]["run"].get<std::string>()) != std::string::npos,
                 refused.err.c_str());

        // The same streams as a study of the continual protocol, run by worker processes: the collected
        // means are the command's.
        const QString sweepDir = QString::fromStdString(m_root + "/continual-sweep");
        const auto sweep = test::runCli({"sweep", "--protocol", "continual", "--protocol-opt", "tasks=2", "--model", model, "--datasets", dataset,
                                         "--methods", "l2p,seq-ft", "--seeds", "1,2", "--shots", "0", "--epochs", "1", "--batch-size", "4",
                                         "--opt", "pool_size=4", "--opt", "top_k=2", "--threads", "2", "--local", "2", "--out", sweepDir});
        QVERIFY2(sweep.exitCode == 0, sweep.err.c_str());
        const auto collected = test::runCli({"sweep", "collect", sweepDir});
        QVERIFY2(collected.exitCode == 0, collected.err.c_str());
        const json rows = json::parse(collected.out)["rows"];
        QCOMPARE(rows.size(), size_t(2));
        for (const json& row : rows) {
            const std::string method = row["method"];
            QCOMPARE(row["seeds"].get<int>(), 2);
            QVERIFY2(std::abs(row["average_accuracy"]["mean"].get<double>() - out["methods"][method]["average_accuracy"].get<double>()) < 1e-12,
                     method.c_str());
            QVERIFY(std::abs(row["forgetting"]["mean"].get<double>() - out["methods"][method]["forgetting"].get<double>()) < 1e-12);
        }

        const auto bad = test::runCli({"continual", "--model", model, "--dataset", dataset, "--tasks", "3", "--runs", runs});
        QVERIFY(bad.exitCode != 0);
        QVERIFY2(bad.err.find("does not divide the 4 classes") != std::string::npos, bad.err.c_str());
        const auto one = test::runCli({"continual", "--model", model, "--dataset", dataset, "--tasks", "1", "--runs", runs});
        QVERIFY(one.exitCode != 0);
        QVERIFY2(one.err.find("at least 2 tasks") != std::string::npos, one.err.c_str());
        const auto wrong = test::runCli({"continual", "--model", model, "--dataset", dataset, "--tasks", "2", "--methods", "coop"});
        QVERIFY(wrong.exitCode != 0);
        QVERIFY2(wrong.err.find("not a continual-learning method") != std::string::npos, wrong.err.c_str());
    }

private:
    static TaskSetup setup(int classes)
    {
        TaskSetup s;
        for (int c = 0; c < classes; ++c)
            s.classNames.push_back("class " + std::to_string(c));
        return s;
    }

    QTemporaryDir m_dir;
    std::string m_root, m_modelPath, m_dataset;
};

QTEST_GUILESS_MAIN(TestContinual)
#include "tst_continual.moc"
