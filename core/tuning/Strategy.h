#pragma once

#include "core/model/ClipModel.h"
#include "core/train/Trainer.h"

#include <nlohmann/json.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace tunebench {

class ClipTokenizer;

enum class StrategyFamily { PromptLearning, ClassicPetl };

// One typed option of a strategy. The GUI turns a schema into a form, the CLI into --name flags.
struct ParamField
{
    enum class Type { Int, Double, Bool, Choice, Text };
    std::string name;        // snake_case, e.g. "n_ctx"
    Type type = Type::Int;
    nlohmann::json defaultValue;
    double min = 0, max = 0;             // for Int/Double; min == max means unbounded
    std::vector<std::string> choices;    // for Choice
    std::string help;
};
using ParamSchema = std::vector<ParamField>;

// Validates `given` against the schema (unknown names, wrong types, out-of-range values are Errors
// naming the option) and fills defaults.
nlohmann::json resolveParams(const ParamSchema& schema, const nlohmann::json& given);

// What a strategy is attached to.
struct TaskSetup
{
    std::vector<std::string> classNames;           // prompt names, label order
    std::string promptTemplate = "a photo of a {}.";
    std::string datasetName;
    int shots = 16;
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
    // Training-free methods (zero-shot) return false; Tip-Adapter builds its cache in prepare().
    virtual bool needsTraining() const { return true; }
    virtual void prepare(BatchSource& train) {}
    // Exported tensors (context vectors, Meta-Net weights, final class text features, ...) and manifest
    // fields (method, hyper-parameters, nearest words ...).
    virtual StateDict exportTensors() = 0;
    virtual nlohmann::json exportManifest() = 0;

    std::int64_t trainableParameterCount();
};

struct StrategyInfo
{
    std::string name;    // registry key, e.g. "coop"
    std::string title;   // "CoOp"
    StrategyFamily family = StrategyFamily::PromptLearning;
    std::string description;
    ParamSchema schema;
    std::function<std::unique_ptr<Strategy>()> create;
    // What views and the experiment layer ask instead of the name:
    bool usesTrainingImages = true;  // false: the result ignores the few-shot images (zero-shot), so shot sweeps run it once
    bool usesPrompts = true;         // false: classifies image features without text (the linear probe; dashed in curves)
};

// All strategies, in display order.
const std::vector<StrategyInfo>& strategyRegistry();
// Error listing the known names when `name` is unknown.
const StrategyInfo& findStrategy(const std::string& name);

} // namespace tunebench
