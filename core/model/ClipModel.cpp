#include "core/model/ClipModel.h"

#include <torch/torch.h>

#include <cmath>

namespace tunebench {

ClipModelImpl::ClipModelImpl(const ModelSpec& spec)
    : m_spec(spec)
{
    if (spec.vision.isResNet())
        resnet = register_module("visual", ModifiedResNet(spec.vision));
    else
        visual = register_module("visual", VisionTransformer(spec.vision));
    if (spec.text) {
        text = register_module("text", TextTransformer(*spec.text));
        logit_scale = register_parameter("logit_scale", torch::full({}, std::log(1.0 / 0.07)));
    }
    if (spec.headClasses > 0)
        head = register_module("head", torch::nn::Linear(spec.embedDim(), spec.headClasses));
}

torch::Tensor ClipModelImpl::encodeImage(const torch::Tensor& images, TransformerHooks* hooks)
{
    if (resnet) {
        TORCH_CHECK(hooks == nullptr, "a ResNet image tower has no transformer blocks to hook");
        return resnet(images);
    }
    return visual(images, hooks);
}

c10::Device ClipModelImpl::device() const
{
    return parameters().front().device();
}

torch::Tensor ClipModelImpl::encodeText(const torch::Tensor& tokens, TransformerHooks* hooks)
{
    TORCH_CHECK(hasText(), "this model has no text tower");
    return text(tokens, hooks);
}

torch::Tensor ClipModelImpl::logits(const torch::Tensor& imageFeatures, const torch::Tensor& textFeatures)
{
    auto scale = logit_scale.exp().to(imageFeatures.scalar_type());
    return scale * torch::matmul(l2Normalize(imageFeatures), l2Normalize(textFeatures).t());
}

torch::Tensor l2Normalize(const torch::Tensor& features)
{
    return features / features.norm(2, -1, true);
}

} // namespace tunebench
