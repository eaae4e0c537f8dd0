#include "core/tuning/classic/VptHead.h"

#include <torch/torch.h>

#include <cmath>

namespace tunebench {

VptHeadImpl::VptHeadImpl(int inputDim, int hiddenLayers, int classes)
    : m_hiddenLayers(hiddenLayers), m_classes(classes)
{
    projection = register_module("projection", torch::nn::Sequential());
    for (int i = 0; i < hiddenLayers; ++i) {
        projection->push_back(torch::nn::Linear(inputDim, inputDim));
        projection->push_back(torch::nn::ReLU());
        projection->push_back(torch::nn::BatchNorm1d(inputDim));
        projection->push_back(torch::nn::Dropout(0.1));
    }
    last_layer = register_module("last_layer", torch::nn::Linear(inputDim, classes));

    torch::NoGradGuard noGrad;
    for (auto& module : modules(/*include_self=*/false)) {
        if (auto* linear = module->as<torch::nn::Linear>()) {
            torch::nn::init::kaiming_normal_(linear->weight, 0.0, torch::kFanOut, torch::kReLU);
            linear->bias.zero_();
        }
    }
    last_layer->bias.fill_(-std::log(99.0));
}

torch::Tensor VptHeadImpl::forward(const torch::Tensor& features)
{
    auto x = m_hiddenLayers > 0 ? projection->forward(features) : features;
    return last_layer(x);
}

} // namespace tunebench
