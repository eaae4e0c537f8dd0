#pragma once

#include "core/tuning/classic/ClassicPetlStrategy.h"

namespace tunebench {

// SSF (Lian et al. 2022; methods-3.md §2): a learned per-channel scale (from 1) and shift (from 0),
// y = gamma * x + beta, after each operation of every block (ln_1, the packed q/k/v projection, the
// attention's output projection, ln_2, the MLP's two linears) and after the final norm, and the head.
// Each pair folds into the operation before it (mergedBackbone). Not wrapped: the patch embedding.
class SsfTuning : public ClassicPetlStrategy
{
public:
    SsfTuning();
    ~SsfTuning() override;
    std::string name() const override { return "ssf"; }
    TrainerConfig defaultTrainerConfig(int shots) const override;
    TransformerHooks* hooks() override;
    // The backbone with every scale and shift folded in (mergedBackbone), without hooks.
    DeployableModel deployable() override;
    // The scaled and shifted weights and biases (and ln_post's), by their names in the model.
    StateDict mergedBackbone() const;

protected:
    ParamSchema paramSchema() const override { return {}; }
    std::shared_ptr<torch::nn::Module> createMethodModule(const VisionSpec& vision) override;
    std::string methodModuleName() const override { return "ssf"; }
    at::Tensor combineFeatures(const at::Tensor& images, const at::Tensor& pooled) override;

private:
    class Hooks;
    std::unique_ptr<Hooks> m_hooks;
};

StrategyInfo ssfStrategyInfo();

} // namespace tunebench
