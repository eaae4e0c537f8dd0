#pragma once

#include "core/tuning/prompt/ClipStrategy.h"

namespace tunebench {

// Key/value prefixes on CLIP's text tower (methods-next.md 2): every text layer's attention gets p extra
// keys and values that all positions see, in front of the dataset's hand-crafted prompt. The tokens keep
// their positions and end-of-text index; the prefixes carry no position.
//  - prefix-tuning (Li & Liang 2021): the prefixes come from an MLP over p embeddings while training
//    (Embedding(p, d) -> Linear(d, m) -> tanh -> Linear(m, L*2*d)); exported as the plain prefixes.
//  - p-tuning-v2 (Liu et al. 2022): the prefixes themselves are trained, with dropout on them.
class PrefixTuningStrategy : public ClipStrategy
{
public:
    explicit PrefixTuningStrategy(bool reparameterize) : m_reparameterize(reparameterize) {}
    std::string name() const override { return m_reparameterize ? "prefix-tuning" : "p-tuning-v2"; }
    std::vector<at::Tensor> trainableParameters() override;
    // The training form (embedding and MLP) for prefix-tuning until plain prefixes are loaded, else the
    // prefixes "prefix_keys" / "prefix_values" [layers, p, width].
    StateDict trainableState() override;
    // Either form; plain prefixes turn a prefix-tuning strategy into its exported form (no MLP).
    void loadTrainableState(const StateDict& state) override;
    StateDict exportTensors() override;  // always the plain prefixes
    nlohmann::json exportManifest() override;
    at::Tensor classTextFeatures() override;
    TrainerConfig defaultTrainerConfig(int shots) const override;
    int defaultBatchSize(int shots) const override { return m_reparameterize ? 10 : 32; }

    // [layers, 2, p, width]: the keys (index 0) and values (1) of every text layer, as used now.
    at::Tensor prefixes();

protected:
    void onAttach() override;
    void onClassesChanged() override;
    at::Tensor classLogits(const at::Tensor& images) override;

private:
    at::Tensor textFeatures();  // [C, E], unnormalised, through the prefixes

    bool m_reparameterize;
    int m_length = 0;
    at::Tensor m_tokens;  // [C, context] hand-crafted prompts
    // Plain form: the prefixes themselves, [layers, 2, p, width].
    at::Tensor m_plain;
    // Training form of prefix-tuning.
    at::Tensor m_embedding;              // [p, width]
    at::Tensor m_inWeight, m_inBias;     // [m, width], [m]
    at::Tensor m_outWeight, m_outBias;   // [layers * 2 * width, m], [layers * 2 * width]
};

StrategyInfo prefixTuningStrategyInfo();
StrategyInfo pTuningV2StrategyInfo();

} // namespace tunebench
