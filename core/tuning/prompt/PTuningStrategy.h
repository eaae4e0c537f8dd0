#pragma once

#include "core/tuning/prompt/CoopStrategy.h"

#include <torch/nn/module.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/rnn.h>

namespace tunebench {

// P-Tuning's prompt encoder (methods-next.md 2.2): Embedding(p, d) -> 2-layer bidirectional LSTM with
// d/2 units per direction -> Linear(d, d) - ReLU - Linear(d, d); its p outputs are the continuous prompt.
class PromptEncoderImpl : public torch::nn::Module
{
public:
    PromptEncoderImpl(int length, int width);
    at::Tensor forward();  // [p, d]

    torch::nn::Embedding embedding{nullptr};
    torch::nn::LSTM lstm{nullptr};
    torch::nn::Linear mlp_in{nullptr};
    torch::nn::Linear mlp_out{nullptr};

private:
    int m_length;
};
TORCH_MODULE(PromptEncoder);

// P-Tuning (Liu et al. 2021) on CLIP's text tower: p pseudo-tokens before the class name, filled by the
// prompt encoder's outputs; the encoder trains. The export holds its p outputs (no LSTM needed at test
// time); an imported prompt is a fixed context, as CoOp's.
class PTuningStrategy : public CoopStrategy
{
public:
    std::string name() const override { return "p-tuning"; }
    std::vector<at::Tensor> trainableParameters() override;
    StateDict trainableState() override;  // the encoder's tensors ("encoder.*"), or "ctx" once imported
    void loadTrainableState(const StateDict& state) override;
    StateDict exportTensors() override;   // "ctx": the encoder's output
    at::Tensor classTextFeatures() override;
    at::Tensor contextVectors() override;
    TrainerConfig defaultTrainerConfig(int shots) const override;

protected:
    void onAttach() override;
    at::Tensor classLogits(const at::Tensor& images) override;
    PromptLearnerOptions learnerOptions() const override;

private:
    at::Tensor context();  // the encoder's output, or the imported context

    PromptEncoder m_encoder{nullptr};
};

StrategyInfo pTuningStrategyInfo();

} // namespace tunebench
