#include "core/tuning/PartialTuning.h"

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

TrainerConfig PartialTuning::defaultTrainerConfig(int shots) const
{
    return sgdRecipe(0.01, 10);
}

StrategyInfo partialStrategyInfo()
{
    return {"partial", "Partial-k", StrategyFamily::ClassicPetl,
            "Fine-tunes the last k transformer blocks, the final norm and the head.", PartialTuning::schema(),
            [] { return std::make_unique<PartialTuning>(); }, StrategyCapabilities{}};
}

} // namespace tunebench
