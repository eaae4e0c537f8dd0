#pragma once

#include "core/tuning/prompt/ClipStrategy.h"

#include <torch/nn/modules/linear.h>

namespace tunebench {

// CLIP-Adapter: f' = ratio x adapter(f) + (1 - ratio) x f on the image feature, adapter = Linear(E, E/r,
// no bias) -> ReLU -> Linear(E/r, E, no bias) -> ReLU; hand-crafted text features; the adapter trains.
class ClipAdapterStrategy : public ClipStrategy
{
public:
    std::string name() const override { return "clip-adapter"; }
    std::vector<at::Tensor> trainableParameters() override;
    StateDict trainableState() override;
    void loadTrainableState(const StateDict& state) override;
    TrainerConfig defaultTrainerConfig(int shots) const override;
    at::Tensor classTextFeatures() override { return m_textFeatures; }
    DeployableModel deployable() override;

protected:
    void onAttach() override;
    void onClassesChanged() override;
    at::Tensor classLogits(const at::Tensor& images) override;

private:
    torch::nn::Linear m_down{nullptr};
    torch::nn::Linear m_up{nullptr};
    at::Tensor m_textFeatures;
};

StrategyInfo clipAdapterStrategyInfo();

} // namespace tunebench
