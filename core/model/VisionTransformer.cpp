#include "core/model/VisionTransformer.h"

#include <torch/torch.h>

namespace tunebench {

VisionTransformerImpl::VisionTransformerImpl(const VisionSpec& spec)
    : m_spec(spec)
{
    const int grid = spec.gridSize();
    conv1 = register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, spec.width, spec.patchSize)
                                                           .stride(spec.patchSize)
                                                           .bias(spec.patchBias)));
    const double scale = 1.0 / std::sqrt(static_cast<double>(spec.width));
    class_embedding = register_parameter("class_embedding", torch::randn({spec.width}) * scale);
    positional_embedding = register_parameter("positional_embedding", torch::randn({grid * grid + 1, spec.width}) * scale);
    if (spec.preNorm)
        ln_pre = register_module("ln_pre", Fp32LayerNorm(spec.width, spec.layerNormEps));
    transformer = register_module("transformer", Transformer(spec));
    ln_post = register_module("ln_post", Fp32LayerNorm(spec.width, spec.layerNormEps));
    if (spec.outputDim > 0)
        proj = register_parameter("proj", torch::randn({spec.width, spec.outputDim}) * scale);
}

torch::Tensor VisionTransformerImpl::embed(const torch::Tensor& images)
{
    TORCH_CHECK(images.dim() == 4 && images.size(1) == 3, "expected images [B, 3, H, W], got ", images.sizes());
    TORCH_CHECK(images.size(2) == m_spec.imageSize && images.size(3) == m_spec.imageSize, "expected ", m_spec.imageSize,
                "x", m_spec.imageSize, " images, got ", images.size(3), "x", images.size(2));
    auto x = conv1(images.to(conv1->weight.scalar_type()));  // [B, width, grid, grid]
    x = x.flatten(2).transpose(1, 2);                         // [B, grid^2, width], patches row-major
    auto cls = class_embedding.to(x.scalar_type()).view({1, 1, -1}).expand({x.size(0), 1, x.size(2)});
    x = torch::cat({cls, x}, 1) + positional_embedding.to(x.scalar_type());
    if (ln_pre)
        x = ln_pre(x);
    return x;
}

torch::Tensor VisionTransformerImpl::pool(const torch::Tensor& tokens)
{
    auto pooled = ln_post(tokens.select(1, 0));
    return proj.defined() ? torch::matmul(pooled, proj.to(pooled.scalar_type())) : pooled;
}

torch::Tensor VisionTransformerImpl::forward(const torch::Tensor& images, TransformerHooks* hooks)
{
    return pool(transformer(embed(images), false, hooks));
}

} // namespace tunebench
