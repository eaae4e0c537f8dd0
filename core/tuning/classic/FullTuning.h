#pragma once

#include "core/tuning/classic/ClassicPetlStrategy.h"

namespace tunebench {

// Full fine-tuning (the reference's `end2end`): every backbone tensor the feature passes through and
// the head train, with AdamW; the encoder follows the training mode. Each task stores a whole backbone.
class FullTuning : public ClassicPetlStrategy
{
public:
    std::string name() const override { return "full"; }
    TrainerConfig defaultTrainerConfig(int shots) const override;
    bool storesWholeBackbone() const override { return true; }

protected:
    ParamSchema paramSchema() const override { return {}; }
    bool trainsBackboneTensor(const std::string& name) const override { return true; }
    bool encoderFollowsTrainingMode() const override { return true; }
};

StrategyInfo fullStrategyInfo();

} // namespace tunebench
