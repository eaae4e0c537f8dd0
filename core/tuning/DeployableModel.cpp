#include "core/tuning/DeployableModel.h"

#include "core/Error.h"

#include <torch/torch.h>

namespace tunebench {

namespace {

// The L2P reference's l2_normalize: x / sqrt(max(sum x^2, 1e-12)).
at::Tensor l2Normalized(const at::Tensor& x)
{
    return x * torch::rsqrt(x.square().sum(-1, true).clamp_min(1e-12));
}

// The chosen prompts' rows [B, topK x L, width] after [CLS] of `tokens` [B, 1 + patches, width].
at::Tensor withPoolPrompts(const DeployableModel& d, const at::Tensor& tokens)
{
    ClipModel model = d.model;  // a handle: the modules' forward is not const
    auto& visual = model->visual;
    const auto& pool = *d.promptPool;
    const auto queries = visual->ln_post(visual->transformer(tokens, false, nullptr).select(1, 0));
    const auto chosen = choosePoolPrompts(queries, pool.keys, pool.topK, pool.batchwise);
    const std::int64_t batch = tokens.size(0), width = tokens.size(2);
    const auto prompts = pool.prompts.to(tokens.device(), tokens.scalar_type()).index_select(0, chosen.flatten()).view({batch, -1, width});
    return torch::cat({tokens.narrow(1, 0, 1), prompts, tokens.narrow(1, 1, tokens.size(1) - 1)}, 1);
}

at::Tensor sideFeatures(const DeployableModel::SideNetwork& side, const at::Tensor& images)
{
    auto x = images;
    for (const auto& conv : side.convolutions)
        x = torch::relu(torch::conv2d(x, conv.weight.to(x.device(), x.scalar_type()), conv.bias.to(x.device(), x.scalar_type()),
                                      conv.stride, conv.padding));
    x = torch::adaptive_avg_pool2d(x, {side.pooledSize, side.pooledSize}).flatten(1);
    return torch::matmul(x, side.projection.to(x.device(), x.scalar_type()).t());
}

} // namespace

at::Tensor choosePoolPrompts(const at::Tensor& queries, const at::Tensor& keys, std::int64_t topK, bool batchwise)
{
    torch::NoGradGuard noGrad;
    const auto similarity = torch::matmul(l2Normalized(queries), l2Normalized(keys.to(queries.device(), queries.scalar_type())).t());
    auto chosen = std::get<1>(similarity.topk(topK, 1));  // [B, topK]
    if (batchwise) {
        // The topK prompts chosen most often in the batch, ties to the lower id (a stable sort by count).
        const auto counts = torch::bincount(chosen.flatten(), {}, keys.size(0));
        const auto order = std::get<1>(torch::sort(counts, /*stable=*/true, 0, /*descending=*/true));
        chosen = order.narrow(0, 0, topK).unsqueeze(0).expand({queries.size(0), topK});
    }
    return chosen.contiguous();
}

at::Tensor deployableFeatures(const DeployableModel& d, const at::Tensor& images)
{
    torch::NoGradGuard noGrad;
    ClipModel model = d.model;  // a handle: the modules' forward is not const
    at::Tensor features;
    if (!model->hasVitImageTower()) {
        features = model->resnet(images);
    } else {
        auto& visual = model->visual;
        auto tokens = visual->embed(images);
        if (d.appendedTokens.defined()) {
            const auto rows = d.appendedTokens.to(tokens.scalar_type()).unsqueeze(0).expand({tokens.size(0), -1, -1});
            tokens = torch::cat({tokens, rows}, 1);
        }
        if (d.promptPool)
            tokens = withPoolPrompts(d, tokens);
        tokens = visual->transformer(tokens, false, d.hooks.get());
        const auto& rows = d.pooledRows;
        if (rows.first < 0 || rows.count < 1 || rows.first + rows.count > tokens.size(1))
            throw Error("the pooled token rows [" + std::to_string(rows.first) + ", " + std::to_string(rows.first + rows.count) +
                        ") are outside the tower's " + std::to_string(tokens.size(1)) + " tokens");
        const auto pooled = rows.count == 1 ? visual->ln_post(tokens.select(1, rows.first))
                                            : visual->ln_post(tokens.narrow(1, rows.first, rows.count)).mean(1);
        features = d.project && visual->proj.defined() ? torch::matmul(pooled, visual->proj) : pooled;
    }
    if (d.sideNetwork)
        features = d.sideNetwork->blend * features + (1.0 - d.sideNetwork->blend) * sideFeatures(*d.sideNetwork, images.to(features.scalar_type()));
    return features;
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
