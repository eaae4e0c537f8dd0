#pragma once

#include "core/tuning/classic/ClassicPetlStrategy.h"

namespace tunebench {

// Partial-k: the last k transformer blocks, the final norm (ln_post) and the head train. As in the
// reference, the encoder stays in eval mode, the trainable blocks included.
class PartialTuning : public ClassicPetlStrategy
{
public:
    std::string name() const override { return "partial"; }
    TrainerConfig defaultTrainerConfig(int shots) const override;

    static ParamSchema schema();

protected:
    ParamSchema paramSchema() const override { return schema(); }
    bool trainsBackboneTensor(const std::string& name) const override;

private:
    bool trainsResNetTensor(const std::string& name, const VisionSpec& vision) const;
};

StrategyInfo partialStrategyInfo();

} // namespace tunebench
