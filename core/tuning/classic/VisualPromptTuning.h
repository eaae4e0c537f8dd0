#pragma once

#include "core/tuning/classic/ClassicPetlStrategy.h"

namespace tunebench {

// VPT (methods.md 1.10): p learnable tokens after [CLS], before the patch tokens (sequence 1 + p +
// patches), inserted through TransformerHooks::beforeBlock. Shallow: only before block 0. Deep: a new
// set before every block; from block 1 on the previous block's prompt outputs are replaced. Init
// uniform(-v, v), v = sqrt(6 / (3 patch^2 + d)); optional prompt dropout. The encoder follows the
// training mode, as in the reference. On a CLIP tower the prompts enter after ln_pre.
class VisualPromptTuning : public ClassicPetlStrategy
{
public:
    explicit VisualPromptTuning(bool deep);
    ~VisualPromptTuning() override;
    std::string name() const override { return m_deep ? "vpt-deep" : "vpt-shallow"; }
    TrainerConfig defaultTrainerConfig(int shots) const override;
    TransformerHooks* hooks() override;

    static ParamSchema schema();
    // uniform(-v, v) bound of the prompt init
    static double initBound(int patchSize, int width);
    // [layers or 1, p, width]
    at::Tensor prompts() const;

protected:
    ParamSchema paramSchema() const override { return schema(); }
    std::shared_ptr<torch::nn::Module> createMethodModule(const VisionSpec& vision) override;
    std::string methodModuleName() const override { return "prompt"; }
    bool encoderFollowsTrainingMode() const override { return true; }

private:
    class Hooks;
    bool m_deep;
    std::unique_ptr<Hooks> m_hooks;
};

StrategyInfo vptShallowStrategyInfo();
StrategyInfo vptDeepStrategyInfo();

} // namespace tunebench
