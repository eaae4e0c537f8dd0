#pragma once

#include "core/model/ModelSpec.h"

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

namespace tunebench {

// BatchNorm that always normalises with its running statistics (CLIP's towers are used frozen, and the
// statistics of a few-shot batch would be noise). Its affine weight and bias still train in Full tuning.
class FrozenBatchNorm2dImpl : public torch::nn::Module
{
public:
    FrozenBatchNorm2dImpl(int channels, double eps = 1e-5);
    torch::Tensor forward(const torch::Tensor& x);
    double eps() const { return m_eps; }

    torch::Tensor weight, bias, running_mean, running_var;

private:
    double m_eps;
};
TORCH_MODULE(FrozenBatchNorm2d);

// One bottleneck of OpenAI's modified ResNet: 1x1 -> 3x3 (stride 1) -> average pool by the stride ->
// 1x1 (x4 channels), with a shortcut that pools, then projects, when the shape changes.
class ClipBottleneckImpl : public torch::nn::Module
{
public:
    ClipBottleneckImpl(int inplanes, int planes, int stride);
    torch::Tensor forward(const torch::Tensor& x);

    int stride() const { return m_stride; }

    static constexpr int kExpansion = 4;
    torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
    FrozenBatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
    torch::nn::Conv2d downsampleConv{nullptr};  // "downsample.0" (null: identity shortcut)
    FrozenBatchNorm2d downsampleNorm{nullptr};  // "downsample.1"

private:
    int m_stride;
};
TORCH_MODULE(ClipBottleneck);

// Attention pooling over the final feature map: the mean token, with a positional embedding, is the only
// query over [mean; every position]; separate q/k/v projections and c_proj as the output projection.
class AttentionPool2dImpl : public torch::nn::Module
{
public:
    AttentionPool2dImpl(int grid, int channels, int heads, int outputDim);
    torch::Tensor forward(const torch::Tensor& features);  // [B, C, H, W] -> [B, outputDim]
    int heads() const { return m_heads; }

    torch::Tensor positional_embedding;
    torch::nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, c_proj{nullptr};

private:
    int m_heads;
};
TORCH_MODULE(AttentionPool2d);

// The image tower of OpenAI's ResNet CLIP (RN50, RN101, RN50x4, RN50x16, RN50x64) with OpenAI's
// parameter names: a three-convolution stem, four stages of bottlenecks, attention pooling.
class ModifiedResNetImpl : public torch::nn::Module
{
public:
    explicit ModifiedResNetImpl(const VisionSpec& spec);

    torch::Tensor forward(const torch::Tensor& images);  // [B, 3, H, W] -> [B, outputDim]
    torch::Tensor featureMap(const torch::Tensor& images);  // after layer4: [B, 32 * width, H/32, W/32]

    const VisionSpec& spec() const { return m_spec; }

    torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
    FrozenBatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
    std::vector<torch::nn::ModuleList> stages;  // layer1 .. layer4, of ClipBottleneck
    AttentionPool2d attnpool{nullptr};

private:
    VisionSpec m_spec;
};
TORCH_MODULE(ModifiedResNet);

} // namespace tunebench
