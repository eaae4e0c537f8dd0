#include "core/tuning/DeployableModel.h"

#include <torch/torch.h>

namespace tunebench {

at::Tensor deployableFeatures(const DeployableModel& d, const at::Tensor& images)
{
    torch::NoGradGuard noGrad;
    ClipModel model = d.model;  // a handle: the modules' forward is not const
    if (!model->hasVitImageTower())
        return model->resnet(images);
    auto& visual = model->visual;
    auto tokens = visual->embed(images);
    if (d.appendedTokens.defined()) {
        const auto rows = d.appendedTokens.to(tokens.scalar_type()).unsqueeze(0).expand({tokens.size(0), -1, -1});
        tokens = torch::cat({tokens, rows}, 1);
    }
    tokens = visual->transformer(tokens, false, d.hooks.get());
    auto pooled = visual->ln_post(tokens.select(1, 0));
    return d.project && visual->proj.defined() ? torch::matmul(pooled, visual->proj) : pooled;
}

at::Tensor runDeployable(const DeployableModel& d, const at::Tensor& images)
{
    torch::NoGradGuard noGrad;
    auto f = deployableFeatures(d, images).to(torch::kFloat);
    if (d.featureAdapter) {
        const auto adapted = torch::relu(torch::matmul(torch::relu(torch::matmul(f, d.featureAdapter->down.t())), d.featureAdapter->up.t()));
        f = d.featureAdapter->ratio * adapted + (1.0 - d.featureAdapter->ratio) * f;
    }
    for (const auto& layer : d.hiddenLayers)
        f = torch::relu(torch::linear(f, layer.weight, layer.bias)) * layer.scale + layer.shift;
    if (d.normalize)
        f = l2Normalize(f);
    auto logits = d.scale * torch::matmul(f, d.weight.to(f.device(), torch::kFloat).t());
    if (d.bias.defined())
        logits = logits + d.bias.to(f.device(), torch::kFloat);
    if (d.cache) {
        const auto affinity = torch::matmul(f, d.cache->keys.to(f.device(), torch::kFloat).t());
        logits = logits + d.cache->alpha * torch::matmul(torch::exp(-d.cache->beta * (1.0 - affinity)), d.cache->values.to(f.device(), torch::kFloat));
    }
    return logits;
}

} // namespace tunebench
