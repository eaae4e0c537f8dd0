#include "core/tuning/classic/PartialTuning.h"

#include "core/Error.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

namespace tunebench {

ParamSchema PartialTuning::schema()
{
    return {{"k", ParamField::Type::Int, 1, 1, 64, {}, "number of final transformer blocks that train"}};
}

bool PartialTuning::trainsBackboneTensor(const std::string& name) const
{
    const VisionSpec& vision = model()->spec().vision;
    if (vision.isResNet())
        return trainsResNetTensor(name, vision);
    if (name.rfind("visual.ln_post.", 0) == 0)
        return true;
    const std::string blocks = "visual.transformer.resblocks.";
    if (name.rfind(blocks, 0) != 0)
        return false;
    const int layers = model()->spec().vision.layers;
    const int k = m_params.at("k").get<int>();
    if (k > layers)
        throw Error("partial: option 'k' is " + std::to_string(k) + " but the model has only " + std::to_string(layers) + " blocks");
    const int layer = std::stoi(name.substr(blocks.size()));
    return layer >= layers - k;
}

// On a ResNet CLIP the blocks are the bottlenecks counted across the four stages, and the attention pool
// plays the part of the final norm: the last k bottlenecks and the pool train.
bool PartialTuning::trainsResNetTensor(const std::string& name, const VisionSpec& vision) const
{
    if (name.rfind("visual.attnpool.", 0) == 0)
        return true;
    const int k = m_params.at("k").get<int>();
    if (k > vision.layers)
        throw Error("partial: option 'k' is " + std::to_string(k) + " but the model has only " + std::to_string(vision.layers) +
                    " bottleneck blocks");
    int before = 0;  // blocks in the stages before this one
    for (size_t stage = 0; stage < vision.stageBlocks.size(); ++stage) {
        const std::string prefix = "visual.layer" + std::to_string(stage + 1) + ".";
        if (name.rfind(prefix, 0) == 0)
            return before + std::stoi(name.substr(prefix.size())) >= vision.layers - k;
        before += vision.stageBlocks[stage];
    }
    return false;  // the stem
}

TrainerConfig PartialTuning::defaultTrainerConfig(int shots) const
{
    return sgdRecipe(0.01, 10);
}

StrategyInfo partialStrategyInfo()
{
    return {"partial", "Partial-k", StrategyFamily::ClassicPetl,
            "Fine-tunes the last k transformer blocks (bottlenecks on a ResNet), the final norm (attention pool) and the head.", PartialTuning::schema(),
            [] { return std::make_unique<PartialTuning>(); }, StrategyCapabilities{}};
}

} // namespace tunebench
