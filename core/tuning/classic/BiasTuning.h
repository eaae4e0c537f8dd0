#pragma once

#include "core/tuning/classic/ClassicPetlStrategy.h"

namespace tunebench {

// Bias (the reference's `tinytl-bias`, BitFit): every backbone bias trains (attention, MLP, LayerNorm and
// the patch-embedding bias when the tower has one) together with the head.
class BiasTuning : public ClassicPetlStrategy
{
public:
    std::string name() const override { return "bias"; }
    TrainerConfig defaultTrainerConfig(int shots) const override;

protected:
    ParamSchema paramSchema() const override { return {}; }
    bool trainsBackboneTensor(const std::string& name) const override;
};

StrategyInfo biasStrategyInfo();

} // namespace tunebench
