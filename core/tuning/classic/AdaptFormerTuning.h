#pragma once

#include "core/tuning/classic/ClassicPetlStrategy.h"

namespace tunebench {

// AdaptFormer (Chen et al. 2022; methods-3.md §2): beside every block's MLP a bottleneck (Linear d -> 64,
// ReLU, dropout, Linear 64 -> d) reads the same residual stream as the MLP's LayerNorm does, and its
// output, scaled by 0.1, is added to the MLP's. The up-projection starts at zero (the model starts
// unchanged), the down-projection at nn.Linear's initialisation, as in the reference.
class AdaptFormerTuning : public ClassicPetlStrategy
{
public:
    AdaptFormerTuning();
    ~AdaptFormerTuning() override;
    std::string name() const override { return "adaptformer"; }
    TrainerConfig defaultTrainerConfig(int shots) const override;
    TransformerHooks* hooks() override;

    static ParamSchema schema();

protected:
    ParamSchema paramSchema() const override { return schema(); }
    std::shared_ptr<torch::nn::Module> createMethodModule(const VisionSpec& vision) override;
    std::string methodModuleName() const override { return "adaptformer"; }

private:
    class Hooks;
    std::unique_ptr<Hooks> m_hooks;
};

StrategyInfo adaptFormerStrategyInfo();

} // namespace tunebench
