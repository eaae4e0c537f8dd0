#include "core/tuning/classic/DoraTuning.h"

#include <torch/torch.h>

namespace tunebench {

StrategyInfo doraStrategyInfo()
{
    return {"dora", "DoRA", StrategyFamily::ClassicPetl,
            "LoRA split into magnitude and direction: a learned norm per output feature times the low-rank-updated weight's direction.",
            LoraTuning::schema(), [] { return std::make_unique<DoraTuning>(); }, vitOnlyCapabilities()};
}

} // namespace tunebench
