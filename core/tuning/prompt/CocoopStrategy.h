#pragma once

#include "core/tuning/ConditionalText.h"
#include "core/tuning/prompt/CoopStrategy.h"

#include <torch/nn/modules/linear.h>

namespace tunebench {

// CoCoOp: CoOp's context plus a Meta-Net (Linear E -> E/16, ReLU, Linear E/16 -> D) whose output, computed
// from the normalised image feature, is added to every context vector. Batched: the B x C prompts of a
// batch go through the text tower in one pass.
class CocoopStrategy : public CoopStrategy, public ConditionalTextStrategy
{
public:
    std::string name() const override { return "cocoop"; }
    std::vector<at::Tensor> trainableParameters() override;
    StateDict trainableState() override;
    void loadTrainableState(const StateDict& state) override;
    TrainerConfig defaultTrainerConfig(int shots) const override;
    int defaultBatchSize(int shots) const override { return 1; }
    nlohmann::json exportManifest() override;
    // Refused: its prompts depend on the image, so its description needs the text tower (conditionalText).
    DeployableModel deployable() override;
    // The image tower, the Meta-Net, the context, each class's frozen prompt parts and the text tower.
    ConditionalTextModel conditionalText() override;

    // The image-conditioned bias [B, D] for normalised image features [B, E].
    at::Tensor metaBias(const at::Tensor& normalisedImageFeatures);
    // Reference semantics, one image at a time (tests compare it with the batched path).
    at::Tensor logitsPerImageLoop(const at::Tensor& images);

protected:
    void onAttach() override;
    at::Tensor classLogits(const at::Tensor& images) override;
    PromptLearnerOptions learnerOptions() const override;

private:
    torch::nn::Linear m_linear1{nullptr};
    torch::nn::Linear m_linear2{nullptr};
};

StrategyInfo cocoopStrategyInfo();

} // namespace tunebench
