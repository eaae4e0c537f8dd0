#pragma once
// Low-rank updates of a transformer tower's linear layers (methods-3.md §1-2): LoRA, W' = W + (alpha / r) B A,
// and DoRA, W' = m * (W + (alpha / r) B A) / ||W + (alpha / r) B A|| (norm per output feature, not
// differentiated, as PEFT does). Shared by the classic LoRA / DoRA on a ViT and by CLIP-LoRA on both of
// CLIP's towers.

#include "core/io/StateDict.h"
#include "core/model/Transformer.h"

#include <torch/nn/module.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace tunebench {

// What a low-rank update adapts in each block: q, k, v (row blocks of attention's packed projection),
// qkv (the packed projection as one matrix, which is what PEFT adapts on timm's `qkv` Linear), o (the
// attention's output projection), fc1 and fc2 (the MLP's two linears).
struct LowRankOptions
{
    std::vector<std::string> targets = {"q", "v"};
    int rank = 8;
    double alpha = 8;
    double dropout = 0;   // on the update's input, training only
    bool magnitude = false;  // DoRA
    double scale() const { return alpha / rank; }
};

// "q,v" -> {"q", "v"}; an Error naming `option` and the known targets for an unknown or repeated one, or
// for qkv together with q, k or v.
std::vector<std::string> parseLowRankTargets(const std::string& text, const std::string& option);

// The update matrices of every block of one tower, as parameters "<layer>.<target>.lora_A" [r, in],
// ".lora_B" [out, r] (zero: the tower starts as the pre-trained one) and, for DoRA, ".magnitude" [out]
// (the norms of the pre-trained rows).
class LowRankAdaptersImpl : public torch::nn::Module
{
public:
    // `tower` gives each block's pre-trained weights (DoRA's magnitudes start at their norms).
    LowRankAdaptersImpl(const TowerSpec& spec, const LowRankOptions& options, const TransformerImpl& tower);
    const LowRankOptions& options() const { return m_options; }
    // Whether block layer `which` has an update.
    bool adapts(BlockLayer which) const;
    // The weight a block layer computes with: `weight` with its targeted rows updated.
    torch::Tensor effectiveWeight(int layer, BlockLayer which, const torch::Tensor& weight) const;
    // linear(input, effectiveWeight, bias); with dropout in training the update sees the dropped input.
    torch::Tensor linear(int layer, BlockLayer which, const torch::Tensor& input, const torch::Tensor& weight, const torch::Tensor& bias);
    // The tower's adapted weights merged, keyed by their names under `prefix` (e.g. "visual.transformer."):
    // a tower loaded with them computes without the update what the tower computes with it.
    StateDict mergedWeights(const TransformerImpl& tower, const std::string& prefix) const;

private:
    struct Target
    {
        std::string name;
        BlockLayer layer;
        int64_t firstRow, rows, inputs;
    };
    std::vector<Target> m_targets;
    LowRankOptions m_options;
    std::vector<std::map<std::string, torch::Tensor>> m_parameters;  // per layer: "<target>.lora_A", ...
};
TORCH_MODULE(LowRankAdapters);

// The hooks that run a tower with its updates.
class LowRankHooks : public TransformerHooks
{
public:
    explicit LowRankHooks(LowRankAdapters adapters) : m_adapters(std::move(adapters)) {}
    bool adaptsLayers() const override { return true; }
    torch::Tensor linear(int layer, BlockLayer which, const torch::Tensor& input, const torch::Tensor& weight,
                         const torch::Tensor& bias) override;

private:
    LowRankAdapters m_adapters;
};

// The weight of block layer `which` in a tower (QkvProjection: in_proj_weight, ...), and its name under the
// block ("attn.in_proj_weight").
const torch::Tensor& blockWeight(const TransformerImpl& tower, int layer, BlockLayer which);
std::string blockWeightName(BlockLayer which);

} // namespace tunebench
