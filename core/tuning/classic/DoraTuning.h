#pragma once

#include "core/tuning/classic/LoraTuning.h"

namespace tunebench {

// DoRA (Liu et al. 2024; PEFT's use_dora): LoRA's update as a direction, W' = m * (W + (alpha / r) B A) /
// ||W + (alpha / r) B A|| with a learned magnitude m per output feature (starting at the norms of W's
// rows, so the model starts unchanged). Options and recipe as LoRA's; mergeable as LoRA is.
class DoraTuning : public LoraTuning
{
public:
    DoraTuning() : LoraTuning(true) {}
};

StrategyInfo doraStrategyInfo();

} // namespace tunebench
