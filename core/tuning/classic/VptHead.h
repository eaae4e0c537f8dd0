#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

namespace tunebench {

// The classifier every classic PETL variant of the VPT paper puts on the pooled feature: `hiddenLayers`
// blocks of Linear(d, d) -> ReLU -> BatchNorm1d -> Dropout(0.1), then Linear(d, classes). Linear
// weights are Kaiming-normal (fan-out), biases zero, except the last bias: -ln(99), a 1% class prior,
// so that the first steps do not start from a large loss.
class VptHeadImpl : public torch::nn::Module
{
public:
    VptHeadImpl(int inputDim, int hiddenLayers, int classes);
    torch::Tensor forward(const torch::Tensor& features);

    int hiddenLayers() const { return m_hiddenLayers; }
    int classes() const { return m_classes; }

    torch::nn::Sequential projection{nullptr};  // empty when hiddenLayers == 0
    torch::nn::Linear last_layer{nullptr};

private:
    int m_hiddenLayers;
    int m_classes;
};
TORCH_MODULE(VptHead);

} // namespace tunebench
