#pragma once

#include "core/io/StateDict.h"
#include "core/train/BatchSource.h"

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace tunebench {

class RunControl;

// What one optimisation step returns: the loss and, when the task classifies, the logits (for the
// running accuracy).
struct StepOutput
{
    at::Tensor loss;
    at::Tensor logits;  // rows of unlabelled images (label < 0) are left out of the running accuracy
    std::map<std::string, double> metrics{};  // further per-step scalars, e.g. DAPL's pseudo-label coverage
};

// What the trainer optimises. Strategies implement it; the trainer never sees a model.
class Trainable
{
public:
    virtual ~Trainable() = default;
    virtual std::vector<at::Tensor> trainableParameters() = 0;
    virtual void setTraining(bool training) = 0;
    virtual StepOutput trainStep(const Batch& batch) = 0;  // forward and loss, batch already on the device
    virtual StateDict trainableState() = 0;                // what a checkpoint keeps besides the optimizer
    virtual void loadTrainableState(const StateDict& state) = 0;
    virtual void afterEpoch(int epoch, int epochs) {}      // e.g. weight aggregation across epochs
};

struct TrainerConfig
{
    std::string optimizer = "sgd";  // sgd | adamw
    double lr = 0.002;
    double momentum = 0.9;
    double weightDecay = 5e-4;
    double adamBeta1 = 0.9, adamBeta2 = 0.999, adamEps = 1e-8;
    int epochs = 10;
    int warmupEpochs = 1;     // constant warm-up (Dassl's ConstantWarmupScheduler)
    double warmupLr = 1e-5;
    bool cosinePerStep = false;  // cosine over all steps instead of per epoch (Tip-Adapter-F)
    bool constantLr = false;     // no decay after the warm-up (L2P)
    double gradClipNorm = 0.0;   // 0 = off
    std::string precision = "fp32";  // fp32 | bf16 | fp16 (the latter two on CUDA only; fp16 uses loss scaling)
    std::string checkpointDir;       // empty: no checkpoints
    bool resume = false;
    std::int64_t maxSteps = 0;       // > 0: stop after this many optimiser steps (benchmarks, smoke tests)
    // Micro-batches per optimiser step (gradient accumulation): the batch source's batch is the micro-batch,
    // the effective batch is `accumulate` times it. Steps, maxSteps and the schedule count optimiser steps.
    int accumulate = 1;
    // Which towers recompute their blocks in the backward pass instead of keeping their activations
    // (gradient checkpointing, core/model/Checkpointing.h): none | image | text | both.
    std::string checkpointing = "none";
};

nlohmann::json toJson(const TrainerConfig& config);
TrainerConfig trainerConfigFromJson(const nlohmann::json& json, TrainerConfig defaults = {});

struct StepReport
{
    int epoch = 0;
    int epochs = 0;
    std::int64_t step = 0;        // global, 1-based; optimiser steps
    std::int64_t totalSteps = 0;
    double loss = 0;              // the mean loss of the step's micro-batches (weighted by their images)
    double accuracy = -1;         // running accuracy of the epoch; -1 when the task has no logits
    double lr = 0;
    double imagesPerSecond = 0;
    double etaSeconds = 0;
    std::map<std::string, double> metrics{};  // the step's StepOutput::metrics
};

struct EpochReport
{
    int epoch = 0;  // 0-based
    int epochs = 0;
    double loss = 0;
    double accuracy = -1;
    double seconds = 0;
};

struct TrainerCallbacks
{
    std::function<void(const StepReport&)> onStep;
    std::function<void(const EpochReport&)> onEpoch;
};

struct TrainResult
{
    enum class Status { Finished, Stopped, Diverged };
    Status status = Status::Finished;
    std::string message;
    int epochsDone = 0;
    std::int64_t steps = 0;
    double seconds = 0;
    double finalLoss = 0;
};

// The recipe with another epoch count; the warm-up shrinks in proportion (rounded), so that a short run
// is not spent entirely at the warm-up rate.
TrainerConfig withEpochs(TrainerConfig recipe, int epochs);

// lr of epoch `epoch` (0-based), or of a step when cosinePerStep: constant warm-up, then cosine from lr
// (or lr itself when constantLr).
double scheduledLr(const TrainerConfig& config, int epoch, std::int64_t step, std::int64_t totalSteps);

// The last complete checkpoint in a checkpoint folder (what a resume continues from); nullopt when the
// folder holds none. Errors name the manifest.
struct CheckpointInfo
{
    std::string trainablePath;  // safetensors of the trainable state
    std::string optimizerPath;
    int epochsDone = 0;
    std::int64_t steps = 0;
    double finalLoss = 0;  // the mean loss of the last epoch saved
    double seconds = 0;    // training time up to that epoch, across resumes
};
std::optional<CheckpointInfo> findCheckpoint(const std::string& checkpointDir);

// Optimiser + schedule + checkpoint/resume + NaN guard + cooperative stop/pause. Checkpoints after
// every epoch into config.checkpointDir as one atomic set (trainable-eNNNN.safetensors,
// optimizer-eNNNN.pt, then checkpoint.json naming them): a crash at any moment resumes from the last
// complete epoch. A non-finite loss stops the run and keeps the last good checkpoint.
class Trainer
{
public:
    explicit Trainer(TrainerConfig config);
    TrainResult fit(Trainable& task, BatchSource& data, const TrainerCallbacks& callbacks = {}, RunControl* control = nullptr);

private:
    TrainerConfig m_config;
};

} // namespace tunebench
