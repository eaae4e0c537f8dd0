#pragma once
// What a tuning method is, without tensors: its name, options and capabilities. Views, the CLI and the
// experiment layer read this (cheaply: no LibTorch here); Strategy.h adds the method itself.

#include <nlohmann/json.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace tunebench {

class Strategy;
struct ModelSpec;

enum class StrategyFamily { PromptLearning, ClassicPetl, Continual };

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
// Whether the schema has an option called `name`.
bool hasParam(const ParamSchema& schema, const std::string& name);
// The entries of `options` that the schema has: a study's --opt values go to the methods that have them
// (pool_size to L2P, not to seq-ft).
nlohmann::json paramsOf(const ParamSchema& schema, const nlohmann::json& options);

// What views and the experiment layer ask instead of a strategy's name.
struct StrategyCapabilities
{
    bool needsTextTower = false;       // a CLIP model with a text tower and a vocabulary (prompt learning)
    bool learnsPromptContext = false;  // learns prompt context vectors: shown in the prompt comparison, with nearest words
    bool imageConditioned = false;     // its prompts depend on each image (CoCoOp's Meta-Net): text encoded per image
    bool validationTuned = false;      // chooses hyper-parameters on the validation split after training (tuneOnValidation)
    bool usesTrainingImages = true;    // false: the result ignores the few-shot images (zero-shot), so shot sweeps run it once
    bool usesPrompts = true;           // false: classifies image features without text (the linear probe; dashed in curves)
    bool needsVitImageTower = false;   // works on a ViT's tokens or blocks (prompts among patches, adapters, BitFit): not on a ResNet CLIP
    bool continual = false;            // learns a stream of tasks (a ContinualLearner): `continual` runs it task after task
    // Learns from unlabelled images of a target domain too (a DomainAdaptiveLearner, DAPL): a run needs
    // RunSettings::adaptTarget, whose training images it sees without their labels.
    bool adaptsToTarget = false;
    // Keeps the image tower frozen and reaches it only through ClipStrategy::imageFeatures, so the
    // experiment layer may hand it cached image features [B, E] instead of images (CachedFeatureSource).
    bool frozenImageTower = false;
    // Whether scoring the dataset's hand-crafted prompt beside it says something: a CLIP method that learns
    // from images (zero-shot is the hand-crafted prompt itself).
    bool comparesWithHandcrafted() const { return needsTextTower && usesTrainingImages; }
};

struct StrategyInfo
{
    std::string name;    // registry key, e.g. "coop"
    std::string title;   // "CoOp"
    StrategyFamily family = StrategyFamily::PromptLearning;  // the group it is listed in
    std::string description;
    ParamSchema schema;
    std::function<std::unique_ptr<Strategy>()> create;
    StrategyCapabilities capabilities;
};

// The capabilities of the classic methods that work inside a ViT (VPT, Adapter, Bias, Side-tune).
inline StrategyCapabilities vitOnlyCapabilities()
{
    StrategyCapabilities capabilities;
    capabilities.needsVitImageTower = true;
    return capabilities;
}

// Why `info` cannot run on a model of this spec, in one sentence naming both ("" when it can). Strategies
// check it when they attach; the workbench greys out what it refuses, with the sentence as the tooltip.
std::string strategyRefusal(const StrategyInfo& info, const ModelSpec& spec);

// All strategies, in display order.
const std::vector<StrategyInfo>& strategyRegistry();
// Error listing the known names when `name` is unknown.
const StrategyInfo& findStrategy(const std::string& name);

} // namespace tunebench
