#pragma once

#include "core/model/Checkpointing.h"
#include "core/model/ModelSpec.h"

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include <optional>
#include <utility>

namespace tunebench {

// Keys and values put in front of one block's attention, already projected (the rows in_proj's k and v
// parts would give): [P, width] each, shared by the batch, or [B, P, width]. Every position attends to
// them whatever the mask, and they carry no position (prefix-tuning, P-Tuning v2).
struct KeyValuePrefix
{
    torch::Tensor keys, values;
    bool empty() const { return !keys.defined(); }
};

// The layers inside a block that weight-space methods (LoRA, DoRA, SSF) adapt: the two LayerNorms and the
// four linear layers (attention's packed q/k/v projection and output projection, the MLP's two).
enum class BlockLayer { Norm1, QkvProjection, OutProjection, Norm2, MlpIn, MlpOut };

// What an adapter's afterMlp adds to the MLP branch, for exporters that rebuild the block elsewhere (ONNX):
// output + scale * up(nonlinearity(down(source))), where source is the MLP's output or the residual stream.
struct MlpBranch
{
    enum class Source { MlpOutput, Stream } source = Source::MlpOutput;
    enum class Nonlinearity { Gelu, Relu } nonlinearity = Nonlinearity::Gelu;
    torch::Tensor downWeight, downBias, upWeight, upBias;
    double scale = 1;
};

// Per-layer extension points of a transformer tower. Strategies insert or replace prompt tokens
// (VPT-deep, deep text prompts, MaPLe), add branches (adapters) and change the block's own layers (LoRA,
// SSF) here instead of subclassing the model. Tokens are batch-first: [batch, sequence, width].
class TransformerHooks
{
public:
    virtual ~TransformerHooks() = default;
    // Before block `layer`: may return a sequence of another length (inserted tokens).
    virtual torch::Tensor beforeBlock(int layer, const torch::Tensor& tokens) { return tokens; }
    // The MLP branch output of block `layer` before its residual add; `mlpInput` is the (normalised)
    // input of that branch, `stream` the residual stream it is added to (the branch's input before
    // ln_2). Adapters add their output here.
    virtual torch::Tensor afterMlp(int layer, const torch::Tensor& mlpOutput, const torch::Tensor& mlpInput,
                                   const torch::Tensor& stream)
    {
        return mlpOutput;
    }
    // Extra keys and values of block `layer`'s attention; empty for none.
    virtual KeyValuePrefix keyValuePrefix(int layer) { return {}; }
    // Whether linear() and afterNorm() below change anything; blocks skip them when not.
    virtual bool adaptsLayers() const { return false; }
    // The output of linear layer `which` of block `layer` for `input`: linear(input, weight, bias) unless
    // the method adds a low-rank update or scales and shifts it.
    virtual torch::Tensor linear(int layer, BlockLayer which, const torch::Tensor& input, const torch::Tensor& weight,
                                 const torch::Tensor& bias);
    // The output of LayerNorm `which` (Norm1, Norm2) of block `layer`, unchanged unless the method scales
    // and shifts it.
    virtual torch::Tensor afterNorm(int layer, BlockLayer which, const torch::Tensor& output) { return output; }
    // afterMlp of block `layer` as an MlpBranch, when it is one (exporters check it against afterMlp).
    virtual std::optional<MlpBranch> mlpBranch(int layer) const { return std::nullopt; }
    // Whether afterMlp, linear or afterNorm may change anything. A checkpointed block (Checkpointing.h)
    // calls them again during the backward pass, with the same inputs: hooks that do must live until then
    // and answer the same. Hooks that only insert tokens (beforeBlock) or give key/value prefixes, which are
    // asked once, in the forward pass, may say false and live on the stack of the forward.
    virtual bool actsInsideBlocks() const { return true; }
};

// Block `layer`'s view of the hooks, as its sub-layers call them (no hooks, or hooks that adapt no layer:
// plain layers).
struct BlockHooks
{
    TransformerHooks* hooks = nullptr;
    int layer = 0;
    bool adapts() const { return hooks && hooks->adaptsLayers(); }
    torch::Tensor linear(BlockLayer which, const torch::Tensor& input, const torch::Tensor& weight, const torch::Tensor& bias) const;
};

// How SelfAttention computes softmax(QK^T / sqrt(d)) V. Fused is LibTorch 2.x's
// scaled_dot_product_attention (flash / memory-efficient kernels on CUDA, a fused kernel on the CPU);
// Explicit writes out the product, the mask and the softmax, and is what LibTorch 1.x always uses.
// Process-wide, default Fused; benchmarks set Explicit to measure the difference.
enum class AttentionKernel { Fused, Explicit };
void setAttentionKernel(AttentionKernel kernel);
AttentionKernel attentionKernel();

// Multi-head self-attention with the parameter names of torch.nn.MultiheadAttention (the names every
// CLIP checkpoint uses): in_proj_weight rows [q; k; v], in_proj_bias, out_proj.
class SelfAttentionImpl : public torch::nn::Module
{
public:
    SelfAttentionImpl(int width, int heads);
    // `causal`: position i attends to positions <= i only (CLIP's text mask); `extra`: keys and values
    // every position also attends to.
    torch::Tensor forward(const torch::Tensor& x, bool causal, const KeyValuePrefix& extra = {}, const BlockHooks& hooks = {});
    // Causal attention over sequences that share their first tokens: `prefix` [N, P, W] is common to the C
    // sequences of each n, `suffix` [N * C, S, W] holds their own tokens (n-major). Equal to running
    // forward(causal, extra) on the N * C full sequences, but the prefix is computed once per n. `extra`
    // must be shared by the batch ([E, W]).
    std::pair<torch::Tensor, torch::Tensor> forwardSharedPrefix(const torch::Tensor& prefix, const torch::Tensor& suffix,
                                                                const KeyValuePrefix& extra = {}, const BlockHooks& hooks = {});

    torch::Tensor in_proj_weight;
    torch::Tensor in_proj_bias;
    torch::nn::Linear out_proj{nullptr};

private:
    int m_heads;
};
TORCH_MODULE(SelfAttention);

class MlpImpl : public torch::nn::Module
{
public:
    MlpImpl(int width, int hidden, Activation activation);
    torch::Tensor forward(const torch::Tensor& x, const BlockHooks& hooks = {});

    torch::nn::Linear c_fc{nullptr};
    torch::nn::Linear c_proj{nullptr};

private:
    Activation m_activation;
};
TORCH_MODULE(Mlp);

// LayerNorm computed in fp32 whatever the input type, as the reference does.
class Fp32LayerNormImpl : public torch::nn::Module
{
public:
    Fp32LayerNormImpl(int width, double eps);
    torch::Tensor forward(const torch::Tensor& x);

    torch::Tensor weight;
    torch::Tensor bias;

private:
    double m_eps;
};
TORCH_MODULE(Fp32LayerNorm);

// Pre-norm residual block: x + attn(ln_1(x)), then x + mlp(ln_2(x)).
class ResidualAttentionBlockImpl : public torch::nn::Module
{
public:
    explicit ResidualAttentionBlockImpl(const TowerSpec& spec);
    torch::Tensor forward(const torch::Tensor& x, bool causal, int layer, TransformerHooks* hooks);
    // With `extra` as the attention's key/value prefix instead of asking the hooks for it.
    torch::Tensor forward(const torch::Tensor& x, bool causal, int layer, TransformerHooks* hooks, const KeyValuePrefix& extra);
    // Causal; see SelfAttentionImpl::forwardSharedPrefix. The hooks' key/value prefix and afterMlp apply.
    std::pair<torch::Tensor, torch::Tensor> forwardSharedPrefix(const torch::Tensor& prefix, const torch::Tensor& suffix, int layer,
                                                                TransformerHooks* hooks);
    std::pair<torch::Tensor, torch::Tensor> forwardSharedPrefix(const torch::Tensor& prefix, const torch::Tensor& suffix, int layer,
                                                                TransformerHooks* hooks, const KeyValuePrefix& extra);

    SelfAttention attn{nullptr};
    Fp32LayerNorm ln_1{nullptr};
    Mlp mlp{nullptr};
    Fp32LayerNorm ln_2{nullptr};
};
TORCH_MODULE(ResidualAttentionBlock);

// `tower` says which --checkpointing value checkpoints its blocks (CheckpointingScope): each block then
// keeps only its input for the backward pass. beforeBlock runs outside the checkpointed part, once.
class TransformerImpl : public torch::nn::Module
{
public:
    explicit TransformerImpl(const TowerSpec& spec, Tower tower = Tower::Image);
    torch::Tensor forward(torch::Tensor x, bool causal, TransformerHooks* hooks = nullptr);
    // Causal; see SelfAttentionImpl::forwardSharedPrefix. Hooks apply as in forward, except that
    // beforeBlock sees only the shared prefix [N, P, W] and must keep its shape (deep prompts that replace
    // rows inside the prefix); it is exact when the hook does not depend on the rest of the sequence.
    std::pair<torch::Tensor, torch::Tensor> forwardSharedPrefix(torch::Tensor prefix, torch::Tensor suffix, TransformerHooks* hooks = nullptr);
    ResidualAttentionBlock block(int layer) const;
    int layers() const { return static_cast<int>(resblocks->size()); }

    torch::nn::ModuleList resblocks{nullptr};

private:
    Tower m_tower;
};
TORCH_MODULE(Transformer);

} // namespace tunebench
