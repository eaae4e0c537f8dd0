#include "core/model/AttentionRollout.h"

#include "core/Error.h"
#include "core/model/Checkpointing.h"

#include <torch/torch.h>

namespace tunebench {

namespace {
thread_local AttentionRecorder* t_recorder = nullptr;

// [B, L] -> [B, grid, grid], each image's largest value 1.
torch::Tensor toGrid(const torch::Tensor& weights, int64_t grid)
{
    auto map = weights.reshape({weights.size(0), grid, grid});
    const auto peak = std::get<0>(map.flatten(1).max(1)).clamp_min(1e-12).view({-1, 1, 1});
    return map / peak;
}
} // namespace

AttentionRecorder::AttentionRecorder()
    : m_previous(t_recorder)
{
    t_recorder = this;
}

AttentionRecorder::~AttentionRecorder()
{
    t_recorder = m_previous;
}

bool AttentionRecorder::active()
{
    return t_recorder != nullptr;
}

// A checkpointed block computes its forward again in the backward pass: the recorder saw it the first time.
void AttentionRecorder::recordSelfAttention(const torch::Tensor& weights)
{
    if (t_recorder && !recomputingCheckpoint())
        t_recorder->m_layers.push_back(weights.detach().mean(1).to(torch::kCPU, torch::kFloat));
}

void AttentionRecorder::recordPool(const torch::Tensor& weights)
{
    if (t_recorder && !recomputingCheckpoint())
        t_recorder->m_pool = weights.detach().mean(1).squeeze(1).to(torch::kCPU, torch::kFloat);
}

torch::Tensor attentionRollout(const std::vector<torch::Tensor>& layers)
{
    if (layers.empty())
        throw Error("attention rollout: no attention layer was recorded");
    const int64_t length = layers.front().size(-1);
    const auto identity = torch::eye(length, torch::kDouble);
    torch::Tensor rollout;
    for (std::size_t i = 0; i < layers.size(); ++i) {
        if (layers[i].size(-1) != length || layers[i].size(-2) != length)
            throw Error("attention rollout: layer " + std::to_string(i) + " has " + std::to_string(layers[i].size(-1)) + " tokens, layer 0 has " +
                        std::to_string(length) + " (a method that changes the token count between layers)");
        auto step = layers[i].to(torch::kDouble) + identity;  // the residual path
        step = step / step.sum(-1, /*keepdim=*/true);
        rollout = rollout.defined() ? torch::matmul(step, rollout) : step;  // later layers act on the result of earlier ones
    }
    return rollout.to(torch::kFloat);
}

AttentionMap attentionMap(const AttentionRecorder& recorder, int64_t grid, int64_t firstPatch, int64_t depth)
{
    const int64_t patches = grid * grid;
    if (!recorder.layers().empty()) {
        std::vector<torch::Tensor> layers = recorder.layers();
        if (depth > 0 && static_cast<int64_t>(layers.size()) > depth)
            layers.erase(layers.begin(), layers.end() - depth);
        const torch::Tensor rollout = attentionRollout(layers);
        if (firstPatch < 1 || firstPatch + patches > rollout.size(-1))
            throw Error("attention rollout: " + std::to_string(patches) + " patch tokens from position " + std::to_string(firstPatch) +
                        " do not fit in " + std::to_string(rollout.size(-1)) + " tokens");
        return {toGrid(rollout.select(1, 0).narrow(1, firstPatch, patches), grid),
                "attention rollout over " + std::to_string(layers.size()) + " layers"};
    }
    if (recorder.pool().defined()) {
        if (recorder.pool().size(-1) != 1 + patches)
            throw Error("attention pool: " + std::to_string(recorder.pool().size(-1) - 1) + " positions, not a " + std::to_string(grid) + " x " +
                        std::to_string(grid) + " grid");
        return {toGrid(recorder.pool().narrow(1, 1, patches), grid), "attention pool (mean-token query)"};
    }
    throw Error("where the model looks: no image-tower attention was recorded (the image tower did not run)");
}

} // namespace tunebench
