#pragma once

#include "core/model/ModifiedResNet.h"
#include "core/model/TextTransformer.h"
#include "core/model/VisionTransformer.h"

namespace tunebench {

// A loaded backbone in the canonical naming every checkpoint format maps onto: `visual.*` (OpenAI's
// image-tower names), `text.*` (OpenAI's text-tower names under a `text.` prefix, as open_clip's
// custom-text models), `logit_scale`, and `head.*` for a timm ViT's classifier. A timm ViT has no text
// tower; a CLIP model has no head. The image tower is a ViT, or OpenAI's modified ResNet (both named
// `visual`; exactly one of `visual` and `resnet` is set).
class ClipModelImpl : public torch::nn::Module
{
public:
    explicit ClipModelImpl(const ModelSpec& spec);

    // Unnormalised features. Hooks reach a ViT's blocks; a ResNet tower takes none.
    torch::Tensor encodeImage(const torch::Tensor& images, TransformerHooks* hooks = nullptr);
    torch::Tensor encodeText(const torch::Tensor& tokens, TransformerHooks* hooks = nullptr);   // unnormalised
    // exp(logit_scale) x cosine similarity, [images, texts].
    torch::Tensor logits(const torch::Tensor& imageFeatures, const torch::Tensor& textFeatures);

    const ModelSpec& spec() const { return m_spec; }
    bool hasText() const { return !text.is_empty(); }
    bool hasVitImageTower() const { return !visual.is_empty(); }
    c10::Device device() const;  // where the weights live

    VisionTransformer visual{nullptr};
    ModifiedResNet resnet{nullptr};
    TextTransformer text{nullptr};
    torch::Tensor logit_scale;
    torch::nn::Linear head{nullptr};

private:
    ModelSpec m_spec;
};
TORCH_MODULE(ClipModel);

torch::Tensor l2Normalize(const torch::Tensor& features);

} // namespace tunebench
