#include "core/model/ModifiedResNet.h"

#include "core/model/AttentionRollout.h"
#include "core/model/Checkpointing.h"

#include <torch/torch.h>

#include <cmath>

namespace tunebench {

namespace {

torch::nn::Conv2d convolution(int in, int out, int kernel)
{
    return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel).padding(kernel / 2).bias(false));
}

} // namespace

FrozenBatchNorm2dImpl::FrozenBatchNorm2dImpl(int channels, double eps)
    : m_eps(eps)
{
    weight = register_parameter("weight", torch::ones({channels}));
    bias = register_parameter("bias", torch::zeros({channels}));
    running_mean = register_buffer("running_mean", torch::zeros({channels}));
    running_var = register_buffer("running_var", torch::ones({channels}));
}

torch::Tensor FrozenBatchNorm2dImpl::forward(const torch::Tensor& x)
{
    return torch::batch_norm(x, weight, bias, running_mean, running_var, /*training=*/false, 0.0, m_eps, /*cudnn_enabled=*/true);
}

ClipBottleneckImpl::ClipBottleneckImpl(int inplanes, int planes, int stride)
    : m_stride(stride)
{
    conv1 = register_module("conv1", convolution(inplanes, planes, 1));
    bn1 = register_module("bn1", FrozenBatchNorm2d(planes));
    conv2 = register_module("conv2", convolution(planes, planes, 3));
    bn2 = register_module("bn2", FrozenBatchNorm2d(planes));
    conv3 = register_module("conv3", convolution(planes, planes * kExpansion, 1));
    bn3 = register_module("bn3", FrozenBatchNorm2d(planes * kExpansion));
    if (stride > 1 || inplanes != planes * kExpansion) {
        // OpenAI's Sequential is ("-1" AvgPool2d, "0" conv, "1" BatchNorm): only "0" and "1" hold tensors.
        auto downsample = register_module("downsample", std::make_shared<torch::nn::Module>());
        downsampleConv = downsample->register_module("0", convolution(inplanes, planes * kExpansion, 1));
        downsampleNorm = downsample->register_module("1", FrozenBatchNorm2d(planes * kExpansion));
    }
}

torch::Tensor ClipBottleneckImpl::forward(const torch::Tensor& x)
{
    auto out = torch::relu(bn1(conv1(x)));
    out = torch::relu(bn2(conv2(out)));
    if (m_stride > 1)
        out = torch::avg_pool2d(out, m_stride);  // anti-aliased downsampling: pooling instead of a strided conv
    out = bn3(conv3(out));
    torch::Tensor identity = x;
    if (downsampleConv)
        identity = downsampleNorm(downsampleConv(m_stride > 1 ? torch::avg_pool2d(x, m_stride) : x));
    return torch::relu(out + identity);
}

AttentionPool2dImpl::AttentionPool2dImpl(int grid, int channels, int heads, int outputDim)
    : m_heads(heads)
{
    positional_embedding = register_parameter("positional_embedding", torch::randn({grid * grid + 1, channels}) / std::sqrt(channels));
    q_proj = register_module("q_proj", torch::nn::Linear(channels, channels));
    k_proj = register_module("k_proj", torch::nn::Linear(channels, channels));
    v_proj = register_module("v_proj", torch::nn::Linear(channels, channels));
    c_proj = register_module("c_proj", torch::nn::Linear(channels, outputDim));
}

torch::Tensor AttentionPool2dImpl::forward(const torch::Tensor& features)
{
    const int64_t batch = features.size(0), channels = features.size(1);
    auto tokens = features.flatten(2).transpose(1, 2);                          // [B, HW, C], row-major positions
    tokens = torch::cat({tokens.mean(1, /*keepdim=*/true), tokens}, 1);        // [B, 1 + HW, C]
    tokens = tokens + positional_embedding.to(tokens.scalar_type());
    const int64_t headDim = channels / m_heads, length = tokens.size(1);
    // Only the mean token asks: one query per head over all 1 + HW keys.
    auto q = q_proj(tokens.select(1, 0)).view({batch, m_heads, 1, headDim}) * (1.0 / std::sqrt(static_cast<double>(headDim)));
    auto k = k_proj(tokens).view({batch, length, m_heads, headDim}).transpose(1, 2);  // [B, h, L, d]
    auto v = v_proj(tokens).view({batch, length, m_heads, headDim}).transpose(1, 2);
    auto weights = torch::softmax(torch::matmul(q, k.transpose(-2, -1)), -1);       // [B, h, 1, L]
    AttentionRecorder::recordPool(weights);                                          // where the model looks
    auto pooled = torch::matmul(weights, v).reshape({batch, channels});             // heads concatenated
    return c_proj(pooled);
}

ModifiedResNetImpl::ModifiedResNetImpl(const VisionSpec& spec)
    : m_spec(spec)
{
    const int width = spec.width;
    conv1 = register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, width / 2, 3).stride(2).padding(1).bias(false)));
    bn1 = register_module("bn1", FrozenBatchNorm2d(width / 2));
    conv2 = register_module("conv2", convolution(width / 2, width / 2, 3));
    bn2 = register_module("bn2", FrozenBatchNorm2d(width / 2));
    conv3 = register_module("conv3", convolution(width / 2, width, 3));
    bn3 = register_module("bn3", FrozenBatchNorm2d(width));
    int inplanes = width;
    for (size_t stage = 0; stage < spec.stageBlocks.size(); ++stage) {
        const int planes = width << stage;
        torch::nn::ModuleList blocks;
        for (int block = 0; block < spec.stageBlocks[stage]; ++block) {
            blocks->push_back(ClipBottleneck(inplanes, planes, block == 0 && stage > 0 ? 2 : 1));
            inplanes = planes * ClipBottleneckImpl::kExpansion;
        }
        stages.push_back(register_module("layer" + std::to_string(stage + 1), blocks));
    }
    attnpool = register_module("attnpool", AttentionPool2d(spec.imageSize / 32, inplanes, spec.heads, spec.outputDim));
}

torch::Tensor ModifiedResNetImpl::featureMap(const torch::Tensor& images)
{
    TORCH_CHECK(images.dim() == 4 && images.size(1) == 3, "expected images [B, 3, H, W], got ", images.sizes());
    TORCH_CHECK(images.size(2) == m_spec.imageSize && images.size(3) == m_spec.imageSize, "expected ", m_spec.imageSize,
                "x", m_spec.imageSize, " images, got ", images.size(3), "x", images.size(2));
    auto x = images.to(conv1->weight.scalar_type());
    x = torch::relu(bn1(conv1(x)));
    x = torch::relu(bn2(conv2(x)));
    x = torch::relu(bn3(conv3(x)));
    x = torch::avg_pool2d(x, 2);
    // --checkpointing image|both: each stage (layer1..layer4) keeps only its input for the backward pass.
    const bool checkpoint = checkpointsBlocks(Tower::Image);
    for (auto& stage : stages) {
        auto runStage = [stage](const torch::Tensor& input) {
            auto h = input;
            for (const auto& block : *stage)
                h = block->as<ClipBottleneck>()->forward(h);
            return h;
        };
        // A frozen stage with a frozen input keeps nothing for a backward pass: nothing to recompute.
        bool trains = x.requires_grad();
        for (const auto& parameter : stage->parameters())
            trains = trains || parameter.requires_grad();
        x = checkpoint && trains
                ? checkpointed([runStage](const std::vector<at::Tensor>& in) { return std::vector<at::Tensor>{runStage(in[0])}; }, {x}).front()
                : runStage(x);
    }
    return x;
}

torch::Tensor ModifiedResNetImpl::forward(const torch::Tensor& images)
{
    return attnpool(featureMap(images));
}

} // namespace tunebench
