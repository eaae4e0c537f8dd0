// The trainer on a tiny linear classifier: the Dassl schedule, shortened recipes, resume that equals an
// uninterrupted run, the NaN guard keeping the last good checkpoint, cooperative stop, gradient
// accumulation (K micro-batches per optimiser step equal one batch of their images), and out of memory
// mid-run (a stop at the checkpoint, and a resume with less memory that ends where the run would have).
#include "core/Device.h"
#include "core/Error.h"
#include "core/io/AtomicFile.h"
#include "core/train/Evaluator.h"
#include "core/train/RunControl.h"
#include "core/train/Trainer.h"
#include "core/tuning/StrategyInfo.h"
#include "tests/MemoryCeiling.h"

#include <QtTest>

#include <nlohmann/json.hpp>

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
    // `widen`: the four features repeated that many times before the layer, so that the step's largest
    // tensors (batch x 4 x widen floats) outgrow the weights (3 x 4 x widen).
    explicit LinearTask(int poisonAtStep = -1, int widen = 1) : m_poisonAtStep(poisonAtStep), m_widen(widen)
    {
        torch::manual_seed(3);
        m_layer = torch::nn::Linear(4 * widen, 3);
    }
    std::vector<at::Tensor> trainableParameters() override { return m_layer->parameters(); }
    void setTraining(bool training) override { m_layer->train(training); }
    StepOutput trainStep(const Batch& batch) override
    {
        auto logits = m_layer(m_widen > 1 ? batch.inputs.repeat({1, m_widen}) : batch.inputs);
        auto loss = torch::cross_entropy_loss(logits, batch.labels);
        if (++m_steps == m_poisonAtStep)
            loss = loss * std::numeric_limits<float>::quiet_NaN();
        if (m_lossFactor != 1.0)
            loss = loss * m_lossFactor;
        return {loss, logits};
    }
    int trainSteps() const { return m_steps; }  // forward passes: micro-batches
    double m_lossFactor = 1.0;
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
    int m_widen;
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

// `samples` rows in a fixed order (no shuffle), so that any batch size sees the same images in the same order.
TensorBatchSource orderedData(int samples, int batchSize)
{
    torch::manual_seed(17);
    auto inputs = torch::randn({samples, 4});
    auto labels = inputs.narrow(1, 0, 3).argmax(1);
    return TensorBatchSource(inputs, labels, batchSize, /*shuffle=*/false);
}

// One epoch at a constant learning rate (no warm-up; the per-epoch cosine is lr itself at epoch 0).
TrainerConfig oneEpoch(const std::string& optimizer, int accumulate, std::int64_t maxSteps = 0)
{
    TrainerConfig c;
    c.optimizer = optimizer;
    c.lr = optimizer == "sgd" ? 0.5 : 0.05;
    c.momentum = 0.9;
    c.weightDecay = optimizer == "sgd" ? 5e-4 : 0.01;
    c.epochs = 1;
    c.warmupEpochs = 0;
    c.accumulate = accumulate;
    c.maxSteps = maxSteps;
    return c;
}

at::Tensor weightsOf(LinearTask& task)
{
    return torch::cat({task.m_layer->weight.detach().flatten(), task.m_layer->bias.detach()});
}

// The classifier's weights after `config` on `samples` ordered images in batches of `batchSize`.
at::Tensor trainedWeights(const TrainerConfig& config, int samples, int batchSize, double lossFactor = 1.0)
{
    LinearTask task;
    task.m_lossFactor = lossFactor;
    auto data = orderedData(samples, batchSize);
    const TrainResult result = Trainer(config).fit(task, data);
    if (result.status != TrainResult::Status::Finished)
        throw std::runtime_error("training did not finish: " + result.message);
    return weightsOf(task);
}

double maxDifference(const at::Tensor& a, const at::Tensor& b)
{
    return (a - b).abs().max().item<double>();
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

    // Issue 30 (2): K micro-batches of B/K images make the optimiser step of one batch of B, for SGD with
    // momentum and weight decay and for AdamW: one step and a whole epoch of two.
    void accumulatedMicroBatchesEqualOneBatch()
    {
        LinearTask untrained;
        const at::Tensor initial = weightsOf(untrained);
        for (const std::string optimizer : {"sgd", "adamw"})
            for (const std::int64_t maxSteps : {std::int64_t(1), std::int64_t(0)}) {
                const std::string what = optimizer + (maxSteps ? ", one step" : ", two steps");
                const at::Tensor whole = trainedWeights(oneEpoch(optimizer, 1, maxSteps), 16, 8);
                const at::Tensor accumulated = trainedWeights(oneEpoch(optimizer, 4, maxSteps), 16, 2);
                QVERIFY2(maxDifference(whole, accumulated) < 1e-5, (what + ": " + std::to_string(maxDifference(whole, accumulated))).c_str());
                // The step moves the weights by far more than the tolerance.
                QVERIFY2(maxDifference(whole, initial) > 1e-2, what.c_str());
                // Only the group's first micro-batch (batch 2, no accumulation) is another step: each micro-batch counts.
                QVERIFY2(maxDifference(whole, trainedWeights(oneEpoch(optimizer, 1, 1), 16, 2)) > 1e-3, what.c_str());
            }
        // The test can fail: micro-batch losses summed instead of averaged (here the task's loss times K,
        // which undoes the trainer's 1/K) give SGD a K times larger gradient step. (Adam's update does not
        // change when every gradient is scaled by one constant, so SGD is the optimiser that shows it;
        // AdamW shows the short group's weight in shortLastGroupIsTheMeanOverItsImages.)
        const at::Tensor whole = trainedWeights(oneEpoch("sgd", 1, 1), 16, 8);
        QVERIFY(maxDifference(whole, trainedWeights(oneEpoch("sgd", 4, 1), 16, 2, /*lossFactor=*/4.0)) > 1e-2);
    }

    // An epoch's last group may hold fewer micro-batches (10 images, batch 2, K = 4: groups of 4 and 1) or a
    // smaller last micro-batch (7 images: 2 + 2 + 2 + 1): each step is the mean loss over its group's images.
    void shortLastGroupIsTheMeanOverItsImages()
    {
        // Batch 8 without accumulation steps on 8 then 2 images, as the groups of 4 and 1 micro-batches do.
        for (const std::string optimizer : {"sgd", "adamw"}) {
            const double difference = maxDifference(trainedWeights(oneEpoch(optimizer, 1), 10, 8), trainedWeights(oneEpoch(optimizer, 4), 10, 2));
            QVERIFY2(difference < 1e-5, (optimizer + ": " + std::to_string(difference)).c_str());
        }
        // The second step's gradient, by hand: plain SGD (no momentum, no decay) from the first step's weights
        // moves by lr times the gradient of the mean loss over images 8 and 9.
        TrainerConfig plain = oneEpoch("sgd", 4);
        plain.momentum = 0;
        plain.weightDecay = 0;
        TrainerConfig firstStep = plain;
        firstStep.maxSteps = 1;
        LinearTask task;
        auto data = orderedData(10, 2);
        QCOMPARE(Trainer(firstStep).fit(task, data).steps, std::int64_t(1));
        const at::Tensor afterFirst = weightsOf(task);
        auto all = orderedData(10, 10);
        all.startEpoch(0);
        const Batch everything = *all.next();
        for (auto& p : task.m_layer->parameters())
            p.mutable_grad() = at::Tensor();
        torch::cross_entropy_loss(task.m_layer(everything.inputs.narrow(0, 8, 2)), everything.labels.narrow(0, 8, 2)).backward();
        const at::Tensor gradient = torch::cat({task.m_layer->weight.grad().flatten(), task.m_layer->bias.grad()});
        const at::Tensor expected = afterFirst - plain.lr * gradient;
        const at::Tensor trained = trainedWeights(plain, 10, 2);
        QVERIFY2(maxDifference(trained, expected) < 1e-6, std::to_string(maxDifference(trained, expected)).c_str());
        // Weighted as a full group's micro-batch (1/K), the step would be a quarter of it: far off.
        QVERIFY(maxDifference(expected, afterFirst) * 0.75 > 1e-3);
        // A smaller last micro-batch counts by its images: 2 + 2 + 2 + 1 is one batch of 7.
        const double partial = maxDifference(trainedWeights(oneEpoch("sgd", 1), 7, 7), trainedWeights(oneEpoch("sgd", 4), 7, 2));
        QVERIFY2(partial < 1e-5, std::to_string(partial).c_str());
    }

    // Steps, the reported total, the per-step cosine and --max-steps count optimiser steps, not micro-batches.
    void stepsAndScheduleCountOptimiserSteps()
    {
        TrainerConfig c = oneEpoch("sgd", 4);
        c.epochs = 3;
        c.cosinePerStep = true;
        std::vector<StepReport> reports;
        TrainerCallbacks callbacks;
        callbacks.onStep = [&](const StepReport& report) { reports.push_back(report); };
        {
            LinearTask task;
            auto data = orderedData(16, 2);  // 8 micro-batches an epoch: 2 steps
            const TrainResult result = Trainer(c).fit(task, data, callbacks);
            QCOMPARE(result.steps, std::int64_t(6));
            QCOMPARE(task.trainSteps(), 24);
            QCOMPARE(reports.size(), std::size_t(6));
            for (std::size_t i = 0; i < reports.size(); ++i) {
                QCOMPARE(reports[i].step, std::int64_t(i + 1));
                QCOMPARE(reports[i].totalSteps, std::int64_t(6));
                QCOMPARE(reports[i].epoch, int(i / 2));
                QCOMPARE(reports[i].lr, scheduledLr(c, reports[i].epoch, reports[i].step - 1, 6));
            }
            QVERIFY(reports[3].lr < reports[1].lr);  // the cosine advanced per optimiser step
        }
        {
            reports.clear();
            LinearTask task;
            auto data = orderedData(10, 2);  // 5 micro-batches an epoch: steps of 4 and 1
            QCOMPARE(Trainer(c).fit(task, data, callbacks).steps, std::int64_t(6));
            QCOMPARE(task.trainSteps(), 15);
            QCOMPARE(reports.back().totalSteps, std::int64_t(6));
        }
        {
            c.maxSteps = 3;
            reports.clear();
            LinearTask task;
            auto data = orderedData(16, 2);
            QCOMPARE(Trainer(c).fit(task, data, callbacks).steps, std::int64_t(3));
            QCOMPARE(task.trainSteps(), 12);
            QCOMPARE(reports.back().totalSteps, std::int64_t(3));
        }
    }

    // Checkpoints stay at epoch boundaries: a cut and resumed run with accumulation ends where an
    // uninterrupted one does; a resume with another K counts on from the optimiser steps taken.
    void accumulationResumesExactly()
    {
        TrainerConfig c = config(4);
        c.accumulate = 2;  // 5 micro-batches an epoch: steps of 2, 2 and 1
        LinearTask straight;
        auto data = makeData();
        QCOMPARE(Trainer(c).fit(straight, data).steps, std::int64_t(12));

        QTemporaryDir dir;
        TrainerConfig first = c;
        first.checkpointDir = dir.path().toStdString();
        first.maxSteps = 4;  // one step into the second epoch
        LinearTask part;
        auto data2 = makeData();
        QCOMPARE(Trainer(first).fit(part, data2).steps, std::int64_t(4));
        QCOMPARE(findCheckpoint(first.checkpointDir)->steps, std::int64_t(3));
        TrainerConfig rest = c;
        rest.checkpointDir = first.checkpointDir;
        rest.resume = true;
        LinearTask resumed;
        auto data3 = makeData();
        QCOMPARE(Trainer(rest).fit(resumed, data3).steps, std::int64_t(12));
        QVERIFY(torch::equal(weightsOf(resumed), weightsOf(straight)));

        // Two epochs without accumulation (10 steps), then two with K = 5: one step an epoch.
        QTemporaryDir other;
        TrainerConfig plain = config(2);
        plain.checkpointDir = other.path().toStdString();
        LinearTask early;
        auto data4 = makeData();
        QCOMPARE(Trainer(plain).fit(early, data4).steps, std::int64_t(10));
        TrainerConfig accumulated = config(4);
        accumulated.checkpointDir = plain.checkpointDir;
        accumulated.resume = true;
        accumulated.accumulate = 5;
        std::vector<std::int64_t> totals;
        TrainerCallbacks callbacks;
        callbacks.onStep = [&](const StepReport& report) { totals.push_back(report.totalSteps); };
        LinearTask late;
        auto data5 = makeData();
        QCOMPARE(Trainer(accumulated).fit(late, data5, callbacks).steps, std::int64_t(12));
        QCOMPARE(totals, (std::vector<std::int64_t>{12, 12}));
    }

    // A stop waits for the group's optimiser step; the NaN guard names the optimiser step.
    void stopAndDivergenceCountOptimiserSteps()
    {
        RunControl control;
        LinearTask task;
        auto data = orderedData(16, 2);
        TrainerCallbacks callbacks;
        callbacks.onStep = [&](const StepReport& report) {
            if (report.step == 1)
                control.requestStop();
        };
        const TrainResult stopped = Trainer(oneEpoch("sgd", 4)).fit(task, data, callbacks, &control);
        QCOMPARE(int(stopped.status), int(TrainResult::Status::Stopped));
        QCOMPARE(stopped.steps, std::int64_t(1));
        QCOMPARE(task.trainSteps(), 4);

        TrainerConfig c = config(4);
        c.accumulate = 4;  // 5 micro-batches an epoch: steps of 4 and 1
        LinearTask poisoned(/*poisonAtStep=*/6);  // the first micro-batch of epoch 2: its first step, the third
        auto data2 = makeData();
        const TrainResult diverged = Trainer(c).fit(poisoned, data2);
        QCOMPARE(int(diverged.status), int(TrainResult::Status::Diverged));
        QVERIFY2(diverged.message.find("NaN at epoch 2, step 3") != std::string::npos, diverged.message.c_str());
        QCOMPARE(diverged.steps, std::int64_t(2));
    }

    void accumulateIsInTheConfigAndChecked()
    {
        TrainerConfig c;
        QCOMPARE(c.accumulate, 1);
        c.accumulate = 8;
        const nlohmann::json json = toJson(c);
        QCOMPARE(json.at("accumulate").get<int>(), 8);
        QCOMPARE(trainerConfigFromJson(json).accumulate, 8);
        QCOMPARE(trainerConfigFromJson(nlohmann::json::object()).accumulate, 1);
        c.accumulate = 0;
        try {
            Trainer trainer(c);
            QFAIL("accumulate 0 was accepted");
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find("accumulate") != std::string::npos, e.what());
        }
    }

    // Out of memory names what uses less: half the batch accumulated twice as often (the same step),
    // checkpointing in both towers, bf16 on CUDA; only what the run does not use already.
    void outOfMemoryNamesTheOptionsThatHelp()
    {
        const std::string batch = explainOutOfMemory("the training step", {32, 1, "none", "fp32", true});
        QVERIFY2(batch.find("during the training step with batch size 32") != std::string::npos, batch.c_str());
        QVERIFY2(batch.find("try --batch-size 16 --accumulate 2 (the same effective batch), --checkpointing both or --precision bf16") !=
                     std::string::npos,
                 batch.c_str());
        QCOMPARE(lessMemoryOptions({32, 4, "image", "fp32", false}),
                 (std::vector<std::string>{"--batch-size 16 --accumulate 8", "--checkpointing both"}));  // no bf16 on the CPU
        QCOMPARE(lessMemoryOptions({1, 1, "both", "bf16", true}), std::vector<std::string>{});
        const std::string none = explainOutOfMemory("the backward pass", {1, 1, "both", "bf16", true});
        QVERIFY2(none.find("--") == std::string::npos && none.find("smaller model") != std::string::npos, none.c_str());
    }

    // A batch that no longer fits in the middle of a run: the run stops at its last checkpoint with a line
    // that names what uses less, and a resume with half the batch accumulated twice goes on and ends where
    // the uninterrupted run ends. The ceiling lets blocks of 6,000 bytes through: the widened step needs
    // 8 KiB at batch 8 and 4 KiB at batch 4.
    void outOfMemoryStopsAtTheCheckpointAndAResumeWithLessMemoryGoesOn()
    {
        constexpr int widen = 64;
        LinearTask straight(-1, widen);
        auto data = orderedData(16, 8);
        QCOMPARE(Trainer(config(4)).fit(straight, data).steps, std::int64_t(8));

        QTemporaryDir dir;
        TrainerConfig first = config(4);
        first.checkpointDir = dir.path().toStdString();
        first.maxSteps = 4;  // two epochs of two steps, checkpointed
        LinearTask part(-1, widen);
        auto data2 = orderedData(16, 8);
        QCOMPARE(Trainer(first).fit(part, data2).epochsDone, 2);

        TrainerConfig rest = config(4);
        rest.checkpointDir = first.checkpointDir;
        rest.resume = true;
        LinearTask tooBig(-1, widen);
        auto data3 = orderedData(16, 8);
        std::vector<std::string> options;
        std::string message;
        {
            const test::MemoryCeiling ceiling(6000);
            try {
                Trainer(rest).fit(tooBig, data3);
            } catch (const OutOfMemory& e) {
                message = e.what();
                options = e.options;
            }
        }
        QVERIFY2(message.find("out of memory during the training step with batch size 8") == 0, message.c_str());
        QVERIFY2(message.find("try --batch-size 4 --accumulate 2 (the same effective batch) or --checkpointing both") != std::string::npos,
                 message.c_str());
        QVERIFY2(message.find("the checkpoint keeps epoch 2 of 4") != std::string::npos, message.c_str());
        QCOMPARE(options.front(), std::string("--batch-size 4 --accumulate 2"));
        QCOMPARE(findCheckpoint(rest.checkpointDir)->epochsDone, 2);  // nothing written after the failure
        QCOMPARE(findCheckpoint(rest.checkpointDir)->steps, std::int64_t(4));

        TrainerConfig lessMemory = rest;
        lessMemory.accumulate = 2;
        LinearTask resumed(-1, widen);
        auto halves = orderedData(16, 4);
        TrainResult result;
        {
            const test::MemoryCeiling ceiling(6000);
            result = Trainer(lessMemory).fit(resumed, halves);
        }
        QCOMPARE(int(result.status), int(TrainResult::Status::Finished));
        QCOMPARE(result.steps, std::int64_t(8));
        QVERIFY2(maxDifference(weightsOf(resumed), weightsOf(straight)) < 1e-5, std::to_string(maxDifference(weightsOf(resumed), weightsOf(straight))).c_str());
        QVERIFY(maxDifference(weightsOf(resumed), weightsOf(part)) > 1e-3);  // the last two epochs moved the weights
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
