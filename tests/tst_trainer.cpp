// The trainer on a tiny linear classifier: the Dassl schedule, shortened recipes, resume that equals an
// uninterrupted run, the NaN guard keeping the last good checkpoint, and cooperative stop.
#include "core/Error.h"
#include "core/io/AtomicFile.h"
#include "core/train/Evaluator.h"
#include "core/train/RunControl.h"
#include "core/train/Trainer.h"
#include "core/tuning/StrategyInfo.h"

#include <QtTest>

#include <torch/torch.h>

#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include <sys/resource.h>

using namespace tunebench;

namespace {

class LinearTask : public Trainable
{
public:
    explicit LinearTask(int poisonAtStep = -1) : m_poisonAtStep(poisonAtStep)
    {
        torch::manual_seed(3);
        m_layer = torch::nn::Linear(4, 3);
    }
    std::vector<at::Tensor> trainableParameters() override { return m_layer->parameters(); }
    void setTraining(bool training) override { m_layer->train(training); }
    StepOutput trainStep(const Batch& batch) override
    {
        auto logits = m_layer(batch.inputs);
        auto loss = torch::cross_entropy_loss(logits, batch.labels);
        if (++m_steps == m_poisonAtStep)
            loss = loss * std::numeric_limits<float>::quiet_NaN();
        return {loss, logits};
    }
    StateDict trainableState() override { return {{"weight", m_layer->weight.detach().clone()}, {"bias", m_layer->bias.detach().clone()}}; }
    void loadTrainableState(const StateDict& state) override
    {
        torch::NoGradGuard noGrad;
        m_layer->weight.copy_(state.at("weight"));
        m_layer->bias.copy_(state.at("bias"));
    }
    torch::nn::Linear m_layer{nullptr};

private:
    int m_poisonAtStep;
    int m_steps = 0;
};

TensorBatchSource makeData()
{
    torch::manual_seed(11);
    auto inputs = torch::randn({40, 4});
    auto labels = inputs.narrow(1, 0, 3).argmax(1);  // learnable: the largest of the first three features
    return TensorBatchSource(inputs, labels, 8, true, 5);
}

TrainerConfig config(int epochs)
{
    TrainerConfig c;
    c.lr = 0.5;
    c.epochs = epochs;
    c.warmupEpochs = 1;
    c.warmupLr = 0.01;
    return c;
}

// A fresh task trained from the checkpoint in `checkpointDir` on to 4 epochs.
TrainResult resumeToFourEpochs(const std::string& checkpointDir, LinearTask& task)
{
    TrainerConfig c = config(4);
    c.checkpointDir = checkpointDir;
    c.resume = true;
    auto data = makeData();
    return Trainer(c).fit(task, data);
}

} // namespace

class TestTrainer : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void scheduleFollowsDassl()
    {
        TrainerConfig c = config(10);
        QCOMPARE(scheduledLr(c, 0, 0, 50), 0.01);  // constant warm-up epoch
        QVERIFY(std::abs(scheduledLr(c, 1, 0, 50) - 0.25 * (1 + std::cos(M_PI / 10))) < 1e-12);
        QVERIFY(std::abs(scheduledLr(c, 5, 0, 50) - 0.25) < 1e-12);
        c.cosinePerStep = true;
        c.warmupEpochs = 0;
        QVERIFY(std::abs(scheduledLr(c, 3, 25, 50) - 0.25) < 1e-12);
    }

    void shortenedRecipeScalesWarmup()
    {
        TrainerConfig recipe = config(100);
        recipe.warmupEpochs = 10;
        QCOMPARE(withEpochs(recipe, 20).warmupEpochs, 2);
        QCOMPARE(withEpochs(recipe, 20).epochs, 20);
        QCOMPARE(withEpochs(recipe, 4).warmupEpochs, 0);
        QCOMPARE(withEpochs(recipe, 0).epochs, 100);  // 0 keeps the recipe
    }

    void learnsAndResumesExactly()
    {
        QTemporaryDir dir;
        // Uninterrupted: 4 epochs.
        LinearTask straight;
        auto data = makeData();
        const TrainResult full = Trainer(config(4)).fit(straight, data);
        QCOMPARE(int(full.status), int(TrainResult::Status::Finished));
        QCOMPARE(full.epochsDone, 4);
        QCOMPARE(full.steps, int64_t(20));

        // Interrupted after 2 epochs, then resumed to 4 from the checkpoint by a fresh task.
        TrainerConfig first = config(4);
        first.checkpointDir = dir.path().toStdString();
        first.maxSteps = 10;
        LinearTask part;
        auto data2 = makeData();
        Trainer(first).fit(part, data2);
        QCOMPARE(findCheckpoint(first.checkpointDir)->epochsDone, 2);
        LinearTask resumed;
        const TrainResult rest = resumeToFourEpochs(first.checkpointDir, resumed);
        QCOMPARE(rest.epochsDone, 4);
        QCOMPARE(rest.steps, int64_t(20));
        QVERIFY(torch::equal(resumed.m_layer->weight, straight.m_layer->weight));
        QVERIFY(torch::equal(resumed.m_layer->bias, straight.m_layer->bias));
    }

    // A step limit inside an epoch does not count that epoch as done: resuming redoes it and ends exactly
    // where an uninterrupted run ends.
    // Issue 32 (19): an epoch's line is logged before its checkpoint commits it. A kill between the two
    // then leaves a line that a resume drops and writes again, never a committed epoch without its line.
    void epochIsReportedBeforeItsCheckpointCommits()
    {
        QTemporaryDir dir;
        TrainerConfig c = config(3);
        c.checkpointDir = dir.path().toStdString();
        std::vector<int> committedAtReport;
        TrainerCallbacks callbacks;
        callbacks.onEpoch = [&](const EpochReport& report) {
            const auto found = findCheckpoint(c.checkpointDir);
            committedAtReport.push_back(found ? found->epochsDone : 0);
            QCOMPARE(found ? found->epochsDone : 0, report.epoch);  // epoch `report.epoch` (from 0) is not committed yet
        };
        LinearTask task;
        auto data = makeData();
        Trainer(c).fit(task, data, callbacks);
        QCOMPARE(committedAtReport, (std::vector<int>{0, 1, 2}));
        QCOMPARE(findCheckpoint(c.checkpointDir)->epochsDone, 3);
    }

    void stepLimitInsideAnEpochKeepsResumeExact()
    {
        QTemporaryDir dir;
        LinearTask straight;
        auto data = makeData();
        Trainer(config(4)).fit(straight, data);

        TrainerConfig first = config(4);
        first.checkpointDir = dir.path().toStdString();
        first.maxSteps = 7;  // 5 steps per epoch: 2 steps into the second
        LinearTask part;
        auto data2 = makeData();
        const TrainResult cut = Trainer(first).fit(part, data2);
        QCOMPARE(cut.steps, int64_t(7));
        QCOMPARE(cut.epochsDone, 1);
        LinearTask resumed;
        const TrainResult rest = resumeToFourEpochs(first.checkpointDir, resumed);
        QCOMPARE(rest.steps, int64_t(20));
        QVERIFY(torch::equal(resumed.m_layer->weight, straight.m_layer->weight));
        QVERIFY(torch::equal(resumed.m_layer->bias, straight.m_layer->bias));
    }

    void nanStopsAndKeepsTheLastGoodCheckpoint()
    {
        QTemporaryDir dir;
        TrainerConfig c = config(4);
        c.checkpointDir = dir.path().toStdString();
        LinearTask task(/*poisonAtStep=*/13);  // epoch 3 of 5-step epochs
        auto data = makeData();
        const TrainResult result = Trainer(c).fit(task, data);
        QCOMPARE(int(result.status), int(TrainResult::Status::Diverged));
        QVERIFY2(result.message.find("NaN at epoch 3, step 13") != std::string::npos, result.message.c_str());
        QVERIFY(result.message.find(c.checkpointDir) != std::string::npos);
        QCOMPARE(result.epochsDone, 2);
        const StateDict kept = readSafetensors(findCheckpoint(c.checkpointDir)->trainablePath);
        QVERIFY(torch::isfinite(kept.at("weight")).all().item<bool>());
    }

    // A checkpoint is one atomic set: whichever step of whichever file's write fails (as a crash or a full
    // disk would make it), resuming from what is left on disk ends exactly where an uninterrupted run ends.
    void checkpointSurvivesAFailureAtEveryWriteStep()
    {
        const int epochs = 4;
        LinearTask straight;
        auto data = makeData();
        Trainer(config(epochs)).fit(straight, data);

        // The write steps of a checkpointed run, counted as they happen.
        std::vector<std::pair<std::string, AtomicWriteStep>> steps;
        {
            QTemporaryDir dir;
            TrainerConfig c = config(epochs);
            c.checkpointDir = dir.path().toStdString();
            setAtomicWriteFaultForTesting([&](const std::string& path, AtomicWriteStep step) {
                steps.emplace_back(std::filesystem::path(path).filename().string(), step);
            });
            LinearTask task;
            auto d = makeData();
            Trainer(c).fit(task, d);
            setAtomicWriteFaultForTesting({});
        }
        const int filesPerCheckpoint = 3;  // weights, optimiser state, manifest
        const int stepsPerFile = int(AtomicWriteStep::SyncFolder) + 1;
        QCOMPARE(int(steps.size()), epochs * filesPerCheckpoint * stepsPerFile);

        for (int failAt = 0; failAt < int(steps.size()); ++failAt) {
            QTemporaryDir dir;
            TrainerConfig c = config(epochs);
            c.checkpointDir = dir.path().toStdString();
            int seen = 0;
            setAtomicWriteFaultForTesting([&](const std::string&, AtomicWriteStep) {
                if (seen++ == failAt)
                    throw std::runtime_error("injected failure");
            });
            LinearTask interrupted;
            auto d = makeData();
            std::string message;
            try {
                Trainer(c).fit(interrupted, d);
            } catch (const Error& e) {
                message = e.what();
            }
            setAtomicWriteFaultForTesting({});
            const std::string where = std::to_string(failAt) + ": " + atomicWriteStepName(steps[failAt].second) + " of " +
                                      steps[failAt].first;
            QVERIFY2(message.find("injected failure") != std::string::npos, where.c_str());
            QVERIFY2(message.find(steps[failAt].first) != std::string::npos, message.c_str());
            // What a crash would leave besides: a temporary of an interrupted write, a set never committed.
            std::ofstream(c.checkpointDir + "/trainable-e0009.safetensors.tmp-1-0") << "partial";
            std::ofstream(c.checkpointDir + "/optimizer-e0009.pt") << "never committed";

            LinearTask resumed;
            const TrainResult rest = resumeToFourEpochs(c.checkpointDir, resumed);
            QCOMPARE(rest.epochsDone, epochs);
            QVERIFY2(torch::equal(resumed.m_layer->weight, straight.m_layer->weight), where.c_str());
            QVERIFY2(torch::equal(resumed.m_layer->bias, straight.m_layer->bias), where.c_str());
            // A resume that trained an epoch cleaned up: the manifest and its two files only. (After a
            // failure at the very last step, the last checkpoint is committed and nothing is left to train.)
            if (failAt + 1 < int(steps.size())) {
                int files = 0;
                for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(c.checkpointDir))
                    ++files;
                QCOMPARE(files, filesPerCheckpoint);
            }
        }
    }

    // The optimiser state written to a full disk (here: past a file size limit, as EFBIG): an Error naming
    // the file, not LibTorch's abort; the previous checkpoint stays the one named, and no temporary is left.
    void optimiserStateOnAFullDiskIsAnError()
    {
        QTemporaryDir dir;
        const std::string checkpointDir = dir.path().toStdString();
        {
            TrainerConfig c = config(1);
            c.checkpointDir = checkpointDir;
            LinearTask task;
            auto data = makeData();
            Trainer(c).fit(task, data);
        }
        const CheckpointInfo before = *findCheckpoint(checkpointDir);
        const auto weightsSize = std::filesystem::file_size(before.trainablePath);
        const auto optimiserSize = std::filesystem::file_size(before.optimizerPath);
        QVERIFY2(weightsSize + 64 < optimiserSize, "the test needs the optimiser state to be the larger file");

        std::string message;
        {
            // Room for the weights and the manifest, not for the optimiser state.
            const auto previousSignal = std::signal(SIGXFSZ, SIG_IGN);
            rlimit previous{};
            getrlimit(RLIMIT_FSIZE, &previous);
            rlimit limited = previous;
            limited.rlim_cur = (weightsSize + optimiserSize) / 2;
            setrlimit(RLIMIT_FSIZE, &limited);
            TrainerConfig c = config(2);
            c.checkpointDir = checkpointDir;
            c.resume = true;
            LinearTask task;
            auto data = makeData();
            try {
                Trainer(c).fit(task, data);
            } catch (const Error& e) {
                message = e.what();
            }
            setrlimit(RLIMIT_FSIZE, &previous);
            std::signal(SIGXFSZ, previousSignal);
        }
        QVERIFY2(message.find("optimizer-e0002.pt") != std::string::npos, message.c_str());
        QVERIFY2(message.find('\n') == std::string::npos, message.c_str());
        const CheckpointInfo after = *findCheckpoint(checkpointDir);
        QCOMPARE(after.epochsDone, 1);
        QCOMPARE(after.optimizerPath, before.optimizerPath);
        QCOMPARE(std::filesystem::file_size(after.optimizerPath), optimiserSize);
        for (const auto& entry : std::filesystem::directory_iterator(checkpointDir))
            QVERIFY2(entry.path().filename().string().find(".tmp-") == std::string::npos, entry.path().c_str());
        // And it resumes from there once there is room.
        TrainerConfig c = config(2);
        c.checkpointDir = checkpointDir;
        c.resume = true;
        LinearTask task;
        auto data = makeData();
        QCOMPARE(Trainer(c).fit(task, data).epochsDone, 2);
    }

    // A finished run resumed (after a kill while its results were written, or on purpose) reports its
    // training as it was, not a loss of 0 in no time.
    void resumingAFinishedRunKeepsItsTrainingNumbers()
    {
        QTemporaryDir dir;
        TrainerConfig c = config(3);
        c.checkpointDir = dir.path().toStdString();
        LinearTask task;
        auto data = makeData();
        const TrainResult finished = Trainer(c).fit(task, data);
        QVERIFY(finished.finalLoss > 0);
        c.resume = true;
        LinearTask again;
        auto data2 = makeData();
        const TrainResult resumed = Trainer(c).fit(again, data2);
        QCOMPARE(resumed.epochsDone, 3);
        QCOMPARE(resumed.steps, finished.steps);
        QCOMPARE(resumed.finalLoss, finished.finalLoss);
        QVERIFY2(resumed.seconds >= findCheckpoint(c.checkpointDir)->seconds && resumed.seconds > 0, std::to_string(resumed.seconds).c_str());
        QVERIFY(std::abs(resumed.seconds - finished.seconds) < 0.5 * finished.seconds + 0.05);
    }

    // A method option must be a finite number in its range: an infinity is refused, naming the option.
    void optionsMustBeFinite()
    {
        const ParamSchema schema = {{"scale", ParamField::Type::Double, 1.0, 0, 0, {}, "unbounded"}};
        QCOMPARE(resolveParams(schema, {{"scale", 2.5}})["scale"].get<double>(), 2.5);
        for (const double bad : {std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity()}) {
            try {
                resolveParams(schema, {{"scale", bad}});
                QFAIL("an infinite option was accepted");
            } catch (const Error& e) {
                QVERIFY2(std::string(e.what()).find("'scale'") != std::string::npos, e.what());
            }
        }
    }

    // An evaluation asked to give up ends at the next batch with an error that says so.
    void evaluationCanBeAbandoned()
    {
        LinearTask task;
        auto data = makeData();
        const auto logits = [&](const at::Tensor& inputs) { return task.m_layer(inputs); };
        QCOMPARE(evaluate(logits, data, 3).n, int64_t(40));
        int batches = 0;
        try {
            evaluate(logits, data, 3, [&] { return ++batches > 2; });
            QFAIL("the evaluation was not abandoned");
        } catch (const Error& e) {
            QVERIFY(std::string(e.what()).find("stopped by request") != std::string::npos);
        }
        QCOMPARE(batches, 3);
    }

    // A hand-edited or damaged manifest gives an error naming it, never a resume from nonsense.
    void badCheckpointManifestIsNamed()
    {
        QTemporaryDir dir;
        const std::string manifest = dir.path().toStdString() + "/checkpoint.json";
        for (const char* text : {R"({"epochs_done": 1e300, "steps": 4, "trainable": "t", "optimizer": "o"})",
                                 R"({"steps": 4})", R"([1])",
                                 R"({"epochs_done": 1, "steps": 4, "trainable": "../t", "optimizer": "o"})"}) {
            std::ofstream(manifest) << text;
            try {
                findCheckpoint(dir.path().toStdString());
                QFAIL(text);
            } catch (const Error& e) {
                QVERIFY2(std::string(e.what()).find(manifest) != std::string::npos, e.what());
            }
        }
    }

    void stopRequestEndsTheRun()
    {
        RunControl control;
        LinearTask task;
        auto data = makeData();
        TrainerCallbacks callbacks;
        callbacks.onStep = [&](const StepReport& report) {
            if (report.step == 3)
                control.requestStop();
        };
        const TrainResult result = Trainer(config(4)).fit(task, data, callbacks, &control);
        QCOMPARE(int(result.status), int(TrainResult::Status::Stopped));
        QCOMPARE(result.steps, int64_t(3));
    }
};

QTEST_APPLESS_MAIN(TestTrainer)
#include "tst_trainer.moc"
