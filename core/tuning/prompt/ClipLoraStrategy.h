#pragma once

#include "core/tuning/LowRank.h"
#include "core/tuning/prompt/ClipStrategy.h"

#include <memory>

namespace tunebench {

// CLIP-LoRA (Zanella & Ben Ayed, CVPR-W 2024; methods-3.md §1): LoRA (rank 2, alpha 1, dropout 0.25) on
// the q, k and v projections of every block of both towers, the dataset's hand-crafted prompt ("a photo
// of a {}.") as the text input, re-encoded at every step because the text tower changes. AdamW 2e-4,
// weight decay 1e-2, cosine over 500 x shots iterations of batch 32. ViT image towers only.
class ClipLoraStrategy : public ClipStrategy
{
public:
    ClipLoraStrategy();
    ~ClipLoraStrategy() override;
    std::string name() const override { return "clip-lora"; }
    std::vector<at::Tensor> trainableParameters() override;
    StateDict trainableState() override;
    void loadTrainableState(const StateDict& state) override;
    void setTraining(bool training) override;
    TrainerConfig defaultTrainerConfig(int shots) const override;
    at::Tensor classTextFeatures() override;
    nlohmann::json exportManifest() override;
    // Each tower's adapted weights with the update folded in, by their names in the model.
    StateDict mergedWeights() const;

protected:
    void onAttach() override;
    void onClassesChanged() override;
    at::Tensor classLogits(const at::Tensor& images) override;

public:
    DeployableModel deployable() override;

private:
    at::Tensor textFeatures();  // [C, E], normalised, through the adapted text tower
    std::vector<std::pair<std::string, at::Tensor>> ownTensors() const;

    LowRankAdapters m_vision{nullptr}, m_text{nullptr};  // null for a tower the `encoder` option leaves out
    std::unique_ptr<LowRankHooks> m_visionHooks, m_textHooks;
    at::Tensor m_tokens;  // [C, context] of the hand-crafted prompt
};

StrategyInfo clipLoraStrategyInfo();

} // namespace tunebench
