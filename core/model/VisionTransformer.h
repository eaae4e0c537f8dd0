#pragma once

#include "core/model/Transformer.h"

#include <torch/nn/modules/conv.h>

namespace tunebench {

// The image tower of CLIP and of timm ViTs, with OpenAI parameter names:
// conv1 -> [class_embedding; patches] + positional_embedding -> ln_pre -> transformer -> ln_post(token 0) @ proj.
class VisionTransformerImpl : public torch::nn::Module
{
public:
    explicit VisionTransformerImpl(const VisionSpec& spec);

    // Images [B, 3, H, W] -> pooled features [B, outputDim] (or [B, width] without projection).
    torch::Tensor forward(const torch::Tensor& images, TransformerHooks* hooks = nullptr);

    // The steps, for strategies that need the token sequence.
    torch::Tensor embed(const torch::Tensor& images);  // [B, 1 + grid^2, width], after ln_pre
    torch::Tensor pool(const torch::Tensor& tokens);   // ln_post of token 0, then the projection

    const VisionSpec& spec() const { return m_spec; }

    torch::nn::Conv2d conv1{nullptr};
    torch::Tensor class_embedding;
    torch::Tensor positional_embedding;
    Fp32LayerNorm ln_pre{nullptr};
    Transformer transformer{nullptr};
    Fp32LayerNorm ln_post{nullptr};
    torch::Tensor proj;  // [width, outputDim]; undefined when the tower has no projection

private:
    VisionSpec m_spec;
};
TORCH_MODULE(VisionTransformer);

} // namespace tunebench
