#include "core/tuning/classic/HeadTuning.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

namespace tunebench {

ParamSchema HeadTuning::schema(bool multiLayer)
{
    if (!multiLayer)
        return {};
    return {{"k", ParamField::Type::Int, 3, 1, 16, {},
             "layers of the MLP head in total (k - 1 hidden blocks + the final Linear); 1 = Linear"}};
}

int HeadTuning::headHiddenLayers() const
{
    return m_multiLayer ? m_params.at("k").get<int>() - 1 : 0;
}

TrainerConfig HeadTuning::defaultTrainerConfig(int shots) const
{
    return sgdRecipe(0.05, 10);
}

StrategyInfo linearStrategyInfo()
{
    return {"linear", "Linear", StrategyFamily::ClassicPetl,
            "A linear classifier on the frozen [CLS] feature (VPT's head: Kaiming fan-out init, bias -ln 99).",
            HeadTuning::schema(false), [] { return std::make_unique<HeadTuning>(false); }, StrategyCapabilities{}};
}

StrategyInfo mlpStrategyInfo()
{
    return {"mlp", "MLP-k", StrategyFamily::ClassicPetl,
            "A k-layer MLP head (Linear, ReLU, BatchNorm, Dropout 0.1 per hidden layer) on the frozen [CLS] feature.",
            HeadTuning::schema(true), [] { return std::make_unique<HeadTuning>(true); }, StrategyCapabilities{}};
}

} // namespace tunebench
