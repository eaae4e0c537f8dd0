#include "core/tuning/classic/BiasTuning.h"

#include <torch/torch.h>

namespace tunebench {

bool BiasTuning::trainsBackboneTensor(const std::string& name) const
{
    // The reference selects names containing "bias"; ours end in ".bias" or "_bias" (in_proj_bias).
    return name.find("bias") != std::string::npos;
}

TrainerConfig BiasTuning::defaultTrainerConfig(int shots) const
{
    return sgdRecipe(0.05, 10);
}

StrategyInfo biasStrategyInfo()
{
    return {"bias", "Bias", StrategyFamily::ClassicPetl,
            "Trains every bias of the image tower (incl. LayerNorm and patch embedding) and the head.", {},
            [] { return std::make_unique<BiasTuning>(); }, vitOnlyCapabilities()};
}

} // namespace tunebench
