#pragma once

#include "core/model/ClipModel.h"
#include "core/train/Trainer.h"
#include "core/tuning/DeployableModel.h"
#include "core/tuning/StrategyInfo.h"

#include <nlohmann/json.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace tunebench {

class BatchSource;
class ClipTokenizer;

// What a strategy is attached to.
struct TaskSetup
{
    std::vector<std::string> classNames;           // prompt names, label order
    std::string promptTemplate = "a photo of a {}.";
    std::string datasetName;
    int shots = 16;
    // Domain adaptation: the source's and the target's domain words, in that order ("photo", "sketch").
    std::vector<std::string> domainNames;
    std::shared_ptr<const ClipTokenizer> tokenizer;  // null for vision-only models
};

// A tuning method behind one interface: attach to a frozen backbone, train what the recipe trains,
// classify, export. Adding a strategy = one file pair + one registry line + its tests.
class Strategy : public Trainable
{
public:
    virtual std::string name() const = 0;
    // Freezes the backbone and creates the method's parameters on the model's device.
    virtual void attach(ClipModel model, const TaskSetup& setup, const nlohmann::json& params) = 0;
    // Class scores for preprocessed images [B, 3, H, W] (evaluation mode, no gradient needed).
    virtual at::Tensor logits(const at::Tensor& images) = 0;
    // Switches to other classes (base -> new evaluation); Error when the method cannot (class-specific contexts).
    virtual void setClasses(const std::vector<std::string>& classNames) = 0;
    // The recipe's optimiser, schedule and batch size for this many shots.
    virtual TrainerConfig defaultTrainerConfig(int shots) const = 0;
    virtual int defaultBatchSize(int shots) const { return 32; }
    // Whether an image's scores depend on the other images of its batch (L2P's batch-wise prompt vote): then
    // the evaluation cannot score a batch that does not fit in smaller pieces.
    virtual bool scoresDependOnBatch() const { return false; }
    // Training-free methods (zero-shot) return false; Tip-Adapter builds its cache in prepare().
    virtual bool needsTraining() const { return true; }
    virtual void prepare(BatchSource& train) {}
    // Strategies whose capabilities say validationTuned choose hyper-parameters here, after training, on the
    // few-shot validation split (Tip-Adapter's alpha/beta grid, the linear probe's C search).
    virtual void tuneOnValidation(BatchSource& val) {}
    // Exported tensors (context vectors, Meta-Net weights, final class text features, ...) and manifest
    // fields (method, hyper-parameters, nearest words ...).
    virtual StateDict exportTensors() = 0;
    virtual nlohmann::json exportManifest() = 0;
    // This tuned model as one feed-forward computation from images to logits (what ONNX export writes); an
    // Error naming the method and the reason when it is not one (prompts that depend on the image).
    virtual DeployableModel deployable();

    std::int64_t trainableParameterCount();
};

} // namespace tunebench
