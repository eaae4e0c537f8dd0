#pragma once

#include "core/tuning/classic/ClassicPetlStrategy.h"

namespace tunebench {

class LowRankHooks;

// LoRA on the image tower (Hu et al. 2021; methods-3.md §2): W' = W + (alpha / r) B A on the chosen
// projections of every block (default q and v, rank 8, alpha 8, dropout 0.1 on the update's input), and
// the head. B starts at zero, so training starts at the pre-trained function; the update merges into the
// weights (mergedBackbone), so the tuned model computes at the backbone's cost.
class LoraTuning : public ClassicPetlStrategy
{
public:
    LoraTuning();
    ~LoraTuning() override;
    std::string name() const override { return m_magnitude ? "dora" : "lora"; }
    TrainerConfig defaultTrainerConfig(int shots) const override;
    TransformerHooks* hooks() override;
    // The adapted backbone weights with the update folded in, by their names in the model.
    StateDict mergedBackbone() const;

    static ParamSchema schema();

protected:
    // DoRA: the same update with a learned magnitude per output feature.
    explicit LoraTuning(bool magnitude);
    ParamSchema paramSchema() const override { return schema(); }
    std::shared_ptr<torch::nn::Module> createMethodModule(const VisionSpec& vision) override;
    std::string methodModuleName() const override { return "lora"; }

private:
    bool m_magnitude = false;
    std::unique_ptr<LowRankHooks> m_hooks;
};

StrategyInfo loraStrategyInfo();

} // namespace tunebench
