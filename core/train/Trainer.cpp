#include "core/train/Trainer.h"

#include "core/Autocast.h"
#include "core/Device.h"
#include "core/Error.h"
#include "core/io/AtomicFile.h"
#include "core/io/JsonFields.h"
#include "core/io/RegularFile.h"
#include "core/model/Checkpointing.h"
#include "core/train/RunControl.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;

namespace tunebench {

namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start)
{
    return std::chrono::duration<double>(Clock::now() - start).count();
}

// Dynamic loss scaling for fp16: skip the step and halve the scale on overflow, double it after a
// run of good steps.
class LossScaler
{
public:
    explicit LossScaler(bool enabled) : m_enabled(enabled) {}
    torch::Tensor scale(const torch::Tensor& loss) const { return m_enabled ? loss * m_scale : loss; }
    // Unscales gradients in place; false when they overflowed (the step must be skipped).
    bool unscale(const std::vector<torch::Tensor>& params)
    {
        if (!m_enabled)
            return true;
        bool finite = true;
        for (const auto& p : params) {
            if (!p.grad().defined())
                continue;
            p.grad().div_(m_scale);
            finite = finite && torch::isfinite(p.grad()).all().item<bool>();
        }
        if (!finite) {
            m_scale /= 2.0;
            m_goodSteps = 0;
        } else if (++m_goodSteps % 2000 == 0) {
            m_scale *= 2.0;
        }
        return finite;
    }

private:
    bool m_enabled;
    double m_scale = 65536.0;
    std::int64_t m_goodSteps = 0;
};

std::unique_ptr<torch::optim::Optimizer> makeOptimizer(const TrainerConfig& c, const std::vector<torch::Tensor>& params)
{
    if (c.optimizer == "sgd")
        return std::make_unique<torch::optim::SGD>(
            params, torch::optim::SGDOptions(c.lr).momentum(c.momentum).weight_decay(c.weightDecay));
    if (c.optimizer == "adamw")
        return std::make_unique<torch::optim::AdamW>(
            params, torch::optim::AdamWOptions(c.lr).betas({c.adamBeta1, c.adamBeta2}).eps(c.adamEps).weight_decay(c.weightDecay));
    throw Error("unknown optimizer '" + c.optimizer + "' (use sgd or adamw)");
}

void setLr(torch::optim::Optimizer& optimizer, double lr)
{
    for (auto& group : optimizer.param_groups())
        group.options().set_lr(lr);
}

struct Progress
{
    int epochsDone = 0;
    std::int64_t steps = 0;
    // Kept with the checkpoint so that a resumed run, even one with no epoch left, reports its training
    // as it was: the last epoch's mean loss and the training time of every process so far.
    double finalLoss = 0;
    double seconds = 0;
};

// A checkpoint is one set: the trainable weights and the optimiser state of epoch N in files named for
// N, then checkpoint.json naming them, written last. Each file is written atomically, so a crash at any
// moment leaves checkpoint.json naming the last complete set; files it does not name are leftovers.
const char* const kCheckpointManifest = "checkpoint.json";

bool isCheckpointLeftover(const std::string& name, const nlohmann::json& manifest)
{
    if (name == manifest.value("trainable", "") || name == manifest.value("optimizer", "") || name == kCheckpointManifest)
        return false;
    return name.rfind("trainable", 0) == 0 || name.rfind("optimizer", 0) == 0 || name == "progress.json" ||
           name.rfind(std::string(kCheckpointManifest) + ".tmp-", 0) == 0;
}

void saveCheckpoint(const fs::path& dir, Trainable& task, torch::optim::Optimizer& optimizer, const Progress& progress)
{
    std::error_code error;
    fs::create_directories(dir, error);
    if (error)
        throw Error(dir.string() + ": cannot create the checkpoint folder (" + error.message() + ")");
    char tag[16];
    std::snprintf(tag, sizeof tag, "e%04d", progress.epochsDone);
    const std::string trainableName = std::string("trainable-") + tag + ".safetensors";
    const std::string optimizerName = std::string("optimizer-") + tag + ".pt";
    writeSafetensors(task.trainableState(), (dir / trainableName).string());
    torch::serialize::OutputArchive archive;
    optimizer.save(archive);
    // Serialised in memory, then written by the checked writer: LibTorch's own file writer ignores a full
    // disk until its destructor aborts the process ("unexpected pos").
    std::ostringstream serialised;
    archive.save_to(serialised);
    writeFileAtomically((dir / optimizerName).string(), serialised.str());
    const nlohmann::json manifest = {{"epochs_done", progress.epochsDone},
                                     {"steps", progress.steps},
                                     {"final_loss", progress.finalLoss},
                                     {"seconds", progress.seconds},
                                     {"trainable", trainableName},
                                     {"optimizer", optimizerName}};
    writeFileAtomically((dir / kCheckpointManifest).string(), manifest.dump(2) + "\n");
    // Committed: the sets of earlier epochs and the temporaries of interrupted writes can go.
    for (const auto& entry : fs::directory_iterator(dir, error))
        if (isCheckpointLeftover(entry.path().filename().string(), manifest))
            fs::remove(entry.path(), error);
}

std::optional<Progress> loadCheckpoint(const fs::path& dir, Trainable& task, torch::optim::Optimizer& optimizer)
{
    const std::optional<CheckpointInfo> found = findCheckpoint(dir.string());
    if (!found)
        return std::nullopt;
    task.loadTrainableState(readSafetensors(found->trainablePath));
    torch::serialize::InputArchive archive;
    try {
        archive.load_from(found->optimizerPath);
        optimizer.load(archive);
    } catch (const c10::Error& e) {
        throw Error(found->optimizerPath + ": cannot restore the optimiser state (" + e.what_without_backtrace() + ")");
    }
    return Progress{found->epochsDone, found->steps, found->finalLoss, found->seconds};
}

// Runs `work`; LibTorch's out-of-memory error becomes OutOfMemory, one line that says what ran out and
// which settings would use less, instead of the allocator's dump. Every other error passes through unchanged.
template <typename Work>
void explainingOutOfMemory(const char* what, const MemorySettings& settings, const std::string& progress, Work&& work)
{
    try {
        work();
    } catch (const Error&) {
        throw;
    } catch (const std::exception& e) {
        if (!isOutOfMemory(e))
            throw;
        throw OutOfMemory(explainOutOfMemory(what, settings) + progress, lessMemoryOptions(settings));
    }
}

} // namespace

std::optional<CheckpointInfo> findCheckpoint(const std::string& checkpointDir)
{
    const fs::path dir = checkpointDir;
    // Checkpoints written before the manifest existed: three fixed names, progress.json last.
    const bool legacy = !fs::exists(dir / kCheckpointManifest) && fs::exists(dir / "progress.json");
    const fs::path manifestPath = dir / (legacy ? "progress.json" : kCheckpointManifest);
    if (!fs::exists(manifestPath))
        return std::nullopt;
    nlohmann::json manifest;
    {
        requireRegularFile(manifestPath.string(), "checkpoint manifest");
        std::ifstream in(manifestPath);
        try {
            manifest = nlohmann::json::parse(in);
        } catch (const nlohmann::json::exception& e) {
            throw Error(manifestPath.string() + ": invalid JSON (" + e.what() + ")");
        }
    }
    CheckpointInfo info;
    std::string trainableName = "trainable.safetensors", optimizerName = "optimizer.pt";
    try {
        if (!manifest.contains("epochs_done") || !manifest.contains("steps"))
            throw Error(manifestPath.string() + ": not a checkpoint manifest (needs epochs_done and steps)");
        info.epochsDone = integerField(manifest, "epochs_done", 0, manifestPath.string());
        info.steps = integerField<std::int64_t>(manifest, "steps", 0, manifestPath.string());
        info.finalLoss = numberField(manifest, "final_loss", 0, manifestPath.string());  // absent in older checkpoints
        info.seconds = numberField(manifest, "seconds", 0, manifestPath.string());
        if (!legacy) {
            trainableName = manifest.at("trainable").get<std::string>();
            optimizerName = manifest.at("optimizer").get<std::string>();
        }
    } catch (const nlohmann::json::exception& e) {
        throw Error(manifestPath.string() + ": not a checkpoint manifest (" + e.what() + ")");
    }
    if (info.epochsDone < 0 || info.steps < 0)
        throw Error(manifestPath.string() + ": negative epochs_done or steps");
    for (const std::string& name : {trainableName, optimizerName})
        if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..")
            throw Error(manifestPath.string() + ": checkpoint file '" + name + "' must be a file name beside it");
    info.trainablePath = (dir / trainableName).string();
    info.optimizerPath = (dir / optimizerName).string();
    return info;
}

nlohmann::json toJson(const TrainerConfig& c)
{
    nlohmann::json json = {{"optimizer", c.optimizer},   {"lr", c.lr},
            {"momentum", c.momentum},     {"weight_decay", c.weightDecay},
            {"adam_beta1", c.adamBeta1},  {"adam_beta2", c.adamBeta2},
            {"adam_eps", c.adamEps},      {"epochs", c.epochs},
            {"warmup_epochs", c.warmupEpochs}, {"warmup_lr", c.warmupLr},
            {"cosine_per_step", c.cosinePerStep}, {"constant_lr", c.constantLr}, {"grad_clip_norm", c.gradClipNorm},
            {"precision", c.precision},   {"max_steps", c.maxSteps},
            {"accumulate", c.accumulate}};
    if (c.checkpointing != "none")  // only where set, so that configs keep their shape
        json["checkpointing"] = c.checkpointing;
    return json;
}

TrainerConfig trainerConfigFromJson(const nlohmann::json& j, TrainerConfig c)
{
    c.optimizer = j.value("optimizer", c.optimizer);
    c.lr = j.value("lr", c.lr);
    c.momentum = j.value("momentum", c.momentum);
    c.weightDecay = j.value("weight_decay", c.weightDecay);
    c.adamBeta1 = j.value("adam_beta1", c.adamBeta1);
    c.adamBeta2 = j.value("adam_beta2", c.adamBeta2);
    c.adamEps = j.value("adam_eps", c.adamEps);
    c.epochs = j.value("epochs", c.epochs);
    c.warmupEpochs = j.value("warmup_epochs", c.warmupEpochs);
    c.warmupLr = j.value("warmup_lr", c.warmupLr);
    c.cosinePerStep = j.value("cosine_per_step", c.cosinePerStep);
    c.constantLr = j.value("constant_lr", c.constantLr);
    c.gradClipNorm = j.value("grad_clip_norm", c.gradClipNorm);
    c.precision = j.value("precision", c.precision);
    c.maxSteps = j.value("max_steps", c.maxSteps);
    c.accumulate = j.value("accumulate", c.accumulate);
    c.checkpointing = j.value("checkpointing", c.checkpointing);
    return c;
}

TrainerConfig withEpochs(TrainerConfig recipe, int epochs)
{
    if (epochs <= 0 || epochs == recipe.epochs)
        return recipe;
    if (recipe.epochs > 0)
        recipe.warmupEpochs = static_cast<int>(std::lround(static_cast<double>(recipe.warmupEpochs) * epochs / recipe.epochs));
    recipe.epochs = epochs;
    return recipe;
}

double scheduledLr(const TrainerConfig& c, int epoch, std::int64_t step, std::int64_t totalSteps)
{
    if (epoch < c.warmupEpochs)
        return c.warmupLr;
    const double pi = 3.14159265358979323846;
    if (c.constantLr)
        return c.lr;
    if (c.cosinePerStep)
        return c.lr * 0.5 * (1.0 + std::cos(pi * static_cast<double>(step) / std::max<std::int64_t>(1, totalSteps)));
    // Dassl steps the cosine once per epoch after the warm-up: epoch e uses cos(pi * e / E).
    return c.lr * 0.5 * (1.0 + std::cos(pi * epoch / std::max(1, c.epochs)));
}

Trainer::Trainer(TrainerConfig config)
    : m_config(std::move(config))
{
    if (m_config.precision != "fp32" && m_config.precision != "bf16" && m_config.precision != "fp16")
        throw Error("unknown precision '" + m_config.precision + "' (use fp32, bf16 or fp16)");
    if (m_config.epochs <= 0)
        throw Error("epochs must be positive, got " + std::to_string(m_config.epochs));
    if (m_config.accumulate < 1)
        throw Error("accumulate must be at least 1, got " + std::to_string(m_config.accumulate));
    parseCheckpointing(m_config.checkpointing, "checkpointing");
}

TrainResult Trainer::fit(Trainable& task, BatchSource& data, const TrainerCallbacks& callbacks, RunControl* control)
{
    const TrainerConfig& c = m_config;
    const auto params = task.trainableParameters();
    if (params.empty())
        throw Error("nothing to train: the strategy has no trainable parameters");
    const torch::Device device = params.front().device();
    auto optimizer = makeOptimizer(c, params);
    LossScaler scaler(c.precision == "fp16" && device.is_cuda());

    Progress progress;
    const fs::path checkpointDir = c.checkpointDir;
    if (!c.checkpointDir.empty() && c.resume) {
        if (auto restored = loadCheckpoint(checkpointDir, task, *optimizer))
            progress = *restored;
    }

    // The source's batches are micro-batches; an optimiser step takes `accumulate` of them, and the last
    // group of an epoch may be shorter (a step of its own). Steps, the step limit and the schedule count
    // optimiser steps.
    const std::int64_t accumulate = c.accumulate;
    const std::int64_t stepsPerEpoch = (data.batchesPerEpoch() + accumulate - 1) / accumulate;
    // The steps taken (from the checkpoint) and those left, in this run's steps: a resume with another
    // --accumulate goes on along the schedule from where it stopped. Without one, stepsPerEpoch * epochs.
    std::int64_t totalSteps = progress.steps + stepsPerEpoch * std::max(0, c.epochs - progress.epochsDone);
    if (c.maxSteps > 0)
        totalSteps = std::min(totalSteps, c.maxSteps);

    TrainResult result;
    result.epochsDone = progress.epochsDone;
    result.steps = progress.steps;
    result.finalLoss = progress.finalLoss;
    const auto runStart = Clock::now();
    std::int64_t stepsThisRun = 0;
    double imagesThisRun = 0;

    for (int epoch = progress.epochsDone; epoch < c.epochs; ++epoch) {
        const auto epochStart = Clock::now();
        task.setTraining(true);
        data.startEpoch(epoch);
        double lossSum = 0;
        std::int64_t lossCount = 0, correct = 0, seen = 0;
        bool cutInsideEpoch = false;
        // Out of memory ends the run where it is: this epoch's steps are dropped (nothing is saved after a
        // failed allocation), and a resume with a smaller micro-batch, checkpointing or bf16 goes on from
        // the last checkpoint.
        const std::string kept = c.checkpointDir.empty() ? std::string()
                                 : epoch > 0 ? "; the checkpoint keeps epoch " + std::to_string(epoch) + " of " + std::to_string(c.epochs)
                                             : "; no epoch had finished, so a resume starts from the first";
        if (!c.cosinePerStep)
            setLr(*optimizer, scheduledLr(c, epoch, 0, totalSteps));
        std::optional<Batch> batch;
        while ((batch = data.next())) {
            // Between optimiser steps only: a stop, a pause or the step limit never splits a group.
            if (control && (control->stopRequested() || (control->paused() && !control->waitWhilePaused()))) {
                result.status = TrainResult::Status::Stopped;
                result.message = "stopped by request";
                break;
            }
            if (c.maxSteps > 0 && result.steps >= c.maxSteps) {
                cutInsideEpoch = true;  // a batch of this epoch is left
                break;
            }
            double lr = scheduledLr(c, epoch, result.steps, totalSteps);
            if (c.cosinePerStep)
                setLr(*optimizer, lr);

            // One optimiser step: backward over a group of up to `accumulate` (K) micro-batches, the
            // gradients adding up in .grad, then one step. Micro-batch i's loss (a mean over its n_i images)
            // is weighted by n_i / (K * n_0), n_0 being the group's first micro-batch: a full group of equal
            // micro-batches then sums to the gradient of the mean loss over its K * n_0 images, as one batch
            // of that size would. A group that comes out smaller (the last of an epoch, with fewer
            // micro-batches or a smaller last one) holds N = sum n_i images: its summed gradient is rescaled
            // by K * n_0 / N once the group is complete, which makes it the gradient of the mean loss over
            // those N images (gradients are linear in the loss). With K = 1 the weight and the rescale are 1
            // and are left out: the step is exactly the one before accumulation existed.
            optimizer->zero_grad();
            std::int64_t micro = 0, firstImages = 0, groupImages = 0;
            double weightedLoss = 0, lossValue = 0;
            std::map<std::string, double> weightedMetrics, metrics;
            bool epochEnded = false;
            for (;;) {
                const auto batchSize = batch->labels.size(0);
                if (micro == 0)
                    firstImages = std::max<std::int64_t>(1, batchSize);
                const MemorySettings memory{static_cast<int>(batchSize), static_cast<int>(accumulate), c.checkpointing, c.precision, device.is_cuda()};
                StepOutput out;
                explainingOutOfMemory("the training step", memory, kept, [&] {
                    // Page-locked host memory lets the copy overlap with the previous step's kernels.
                    if (device.is_cuda() && batch->inputs.device().is_cpu() && !batch->inputs.is_pinned())
                        batch->inputs = batch->inputs.pin_memory();
                    batch->inputs = batch->inputs.to(device, /*non_blocking=*/true);
                    batch->labels = batch->labels.to(device, true);
                    {
                        AutocastScope autocast(device.is_cuda() ? c.precision : "fp32", c10::DeviceType::CUDA);  // bf16/fp16 on CUDA only
                        CheckpointingScope checkpointing(parseCheckpointing(c.checkpointing));
                        out = task.trainStep(*batch);
                    }
                    lossValue = out.loss.item<double>();
                });
                if (!std::isfinite(lossValue)) {
                    result.status = TrainResult::Status::Diverged;
                    result.message = "the loss became " + std::string(std::isnan(lossValue) ? "NaN" : "infinite") + " at epoch " +
                                     std::to_string(epoch + 1) + ", step " + std::to_string(result.steps + 1) +
                                     (c.checkpointDir.empty() ? "" : "; the last good checkpoint is kept in " + c.checkpointDir) +
                                     " (try a lower learning rate)";
                    break;
                }
                explainingOutOfMemory("the backward pass", memory, kept, [&] {
                    const double weight = static_cast<double>(batchSize) / static_cast<double>(accumulate * firstImages);
                    scaler.scale(accumulate == 1 ? out.loss : out.loss * weight).backward();
                });
                imagesThisRun += static_cast<double>(batchSize);
                groupImages += batchSize;
                weightedLoss += lossValue * static_cast<double>(batchSize);
                metrics = out.metrics;
                for (const auto& [name, value] : out.metrics)
                    weightedMetrics[name] += value * static_cast<double>(batchSize);
                if (out.logits.defined()) {
                    const auto labelled = batch->labels >= 0;
                    correct += ((out.logits.argmax(-1) == batch->labels) & labelled).sum().item<std::int64_t>();
                    seen += labelled.sum().item<std::int64_t>();
                }
                if (++micro == accumulate)
                    break;
                batch = data.next();
                if (!batch) {
                    epochEnded = true;
                    break;
                }
            }
            if (result.status != TrainResult::Status::Finished)
                break;
            // The step's loss and metrics: the group's means over its images (one micro-batch's own values).
            if (micro > 1 && groupImages > 0) {
                lossValue = weightedLoss / static_cast<double>(groupImages);
                for (auto& [name, value] : weightedMetrics)
                    value /= static_cast<double>(groupImages);
                metrics = weightedMetrics;
            }
            const MemorySettings memory{static_cast<int>(firstImages), static_cast<int>(accumulate), c.checkpointing, c.precision, device.is_cuda()};
            explainingOutOfMemory("the optimiser step", memory, kept, [&] {
                const std::int64_t nominal = accumulate * firstImages;
                if (groupImages > 0 && groupImages != nominal) {
                    torch::NoGradGuard noGrad;
                    const double rescale = static_cast<double>(nominal) / static_cast<double>(groupImages);
                    for (const auto& p : params)
                        if (p.grad().defined())
                            p.grad().mul_(rescale);
                }
                if (scaler.unscale(params)) {
                    if (c.gradClipNorm > 0)
                        torch::nn::utils::clip_grad_norm_(params, c.gradClipNorm);
                    optimizer->step();
                }
            });
            ++result.steps;
            ++stepsThisRun;
            lossSum += lossValue;
            ++lossCount;
            if (callbacks.onStep) {
                const double elapsed = secondsSince(runStart);
                StepReport report;
                report.epoch = epoch;
                report.epochs = c.epochs;
                report.step = result.steps;
                report.totalSteps = totalSteps;
                report.loss = lossValue;
                report.accuracy = seen > 0 ? static_cast<double>(correct) / seen : -1;
                report.lr = lr;
                report.imagesPerSecond = elapsed > 0 ? imagesThisRun / elapsed : 0;
                report.etaSeconds = elapsed / stepsThisRun * static_cast<double>(totalSteps - result.steps);
                report.metrics = metrics;
                callbacks.onStep(report);
            }
            if (epochEnded)
                break;
        }
        if (result.status != TrainResult::Status::Finished)
            break;
        result.finalLoss = lossCount ? lossSum / lossCount : 0;
        // A --max-steps cut inside an epoch leaves it unfinished: no epoch-end work and no checkpoint, so
        // that resuming redoes the whole epoch from the last one exactly.
        if (cutInsideEpoch)
            break;
        task.afterEpoch(epoch, c.epochs);
        result.epochsDone = epoch + 1;
        // The epoch is reported (and logged) before its checkpoint commits it: a resume from the checkpoint
        // before drops a line of an uncommitted epoch, while a line written after would be lost to a kill.
        if (callbacks.onEpoch)
            callbacks.onEpoch({epoch, c.epochs, result.finalLoss, seen > 0 ? static_cast<double>(correct) / seen : -1,
                               secondsSince(epochStart)});
        if (!c.checkpointDir.empty())
            saveCheckpoint(checkpointDir, task, *optimizer,
                           {result.epochsDone, result.steps, result.finalLoss, progress.seconds + secondsSince(runStart)});
        if (c.maxSteps > 0 && result.steps >= c.maxSteps)
            break;
    }
    task.setTraining(false);
    result.seconds = progress.seconds + secondsSince(runStart);
    return result;
}

} // namespace tunebench
