#pragma once

#include "core/tuning/classic/ClassicPetlStrategy.h"

namespace tunebench {

// Pfeiffer-style adapters: after each block's MLP, Linear(d -> d/r) -> GELU -> Linear(d/r -> d) applied
// to the MLP output and added to it before the residual (through TransformerHooks::afterMlp). As in
// the reference, both Linears start at zero (so the model is unchanged at step 0, and with that init
// only the up-projection bias ever receives a gradient: `init=zero`). `init=random-down` starts the down
// projection at PyTorch's default instead so that all adapter weights can learn.
class AdapterTuning : public ClassicPetlStrategy
{
public:
    AdapterTuning();
    ~AdapterTuning() override;
    std::string name() const override { return "adapter"; }
    TrainerConfig defaultTrainerConfig(int shots) const override;
    TransformerHooks* hooks() override;

    static ParamSchema schema();

protected:
    ParamSchema paramSchema() const override { return schema(); }
    std::shared_ptr<torch::nn::Module> createMethodModule(const VisionSpec& vision) override;
    std::string methodModuleName() const override { return "adapters"; }

private:
    class Hooks;
    std::unique_ptr<Hooks> m_hooks;
};

StrategyInfo adapterStrategyInfo();

} // namespace tunebench
