#pragma once
// Where an image tower looks. A ViT: attention rollout (Abnar & Zuidema 2020): per layer the attention
// averaged over heads, plus the identity for the residual, rows renormalised; the layers multiplied from the
// first to the last; the [CLS] row over the patch tokens is the map. A ResNet CLIP: its attention pool's
// query (the mean token) over the spatial positions, averaged over heads.
//
// The attention is recorded while the model runs, whatever hooks a tuning method adds, by an
// AttentionRecorder alive on the running thread: the image tower's self-attention (not causal; the text
// tower's is) and the attention pool report to it. Without a recorder nothing is kept and nothing is slower.

#include <torch/types.h>

#include <string>
#include <vector>

namespace tunebench {

class AttentionRecorder
{
public:
    AttentionRecorder();   // records on this thread from now on (one recorder per thread at a time)
    ~AttentionRecorder();
    AttentionRecorder(const AttentionRecorder&) = delete;
    AttentionRecorder& operator=(const AttentionRecorder&) = delete;

    // The self-attention of each layer that ran, in order: [B, L, L], averaged over heads, on the CPU.
    const std::vector<torch::Tensor>& layers() const { return m_layers; }
    // The attention pool's weights over [mean token, positions...]: [B, 1 + HW], averaged over heads;
    // undefined when no pool ran.
    const torch::Tensor& pool() const { return m_pool; }

    // What the models call: whether this thread records, and the weights [B, H, L, L] / [B, H, 1, L].
    static bool active();
    static void recordSelfAttention(const torch::Tensor& weights);
    static void recordPool(const torch::Tensor& weights);

private:
    std::vector<torch::Tensor> m_layers;
    torch::Tensor m_pool;
    AttentionRecorder* m_previous = nullptr;
};

// The rollout of per-layer attention [B, L, L] (each layer the same L): [B, L, L], row i saying how much
// each input token flows into output token i. Error when there is no layer or the lengths differ.
torch::Tensor attentionRollout(const std::vector<torch::Tensor>& layers);

// A map [B, grid, grid] scaled to a maximum of 1 per image, and how it was made, for the view to name.
struct AttentionMap
{
    torch::Tensor map;
    std::string method;  // "attention rollout over N layers" or "attention pool (mean-token query)"
};
// From what `recorder` holds: the rollout's [CLS] row (token 0) over the grid x grid patch tokens starting
// at `firstPatch` (1 for a plain ViT and for prompts appended after the patches, as MaPLe's; 1 + P for P
// prompts inserted after [CLS], as VPT's and L2P's), or the attention pool's weights over its positions.
// `depth`: the tower's layers. A method that runs the tower twice per image (L2P: a query pass without prompts
// picks the prompts of the pass that classifies) records more; the last `depth` layers, the pass whose
// features are scored, make the map. 0: every layer recorded.
// Error naming what is missing when the recorder holds neither, or the tokens do not fit.
AttentionMap attentionMap(const AttentionRecorder& recorder, int64_t grid, int64_t firstPatch = 1, int64_t depth = 0);

} // namespace tunebench
