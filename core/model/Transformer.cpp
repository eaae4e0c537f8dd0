#include "core/model/Transformer.h"

#include "core/model/AttentionRollout.h"

#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <tuple>

namespace tunebench {

namespace {
std::atomic<AttentionKernel> g_attentionKernel{AttentionKernel::Fused};
} // namespace

void setAttentionKernel(AttentionKernel kernel)
{
    g_attentionKernel = kernel;
}

AttentionKernel attentionKernel()
{
#if TORCH_VERSION_MAJOR >= 2
    return g_attentionKernel;
#else
    return AttentionKernel::Explicit;
#endif
}

torch::Tensor TransformerHooks::linear(int, BlockLayer, const torch::Tensor& input, const torch::Tensor& weight, const torch::Tensor& bias)
{
    return torch::linear(input, weight, bias);
}

torch::Tensor BlockHooks::linear(BlockLayer which, const torch::Tensor& input, const torch::Tensor& weight, const torch::Tensor& bias) const
{
    return adapts() ? hooks->linear(layer, which, input, weight, bias) : torch::linear(input, weight, bias);
}

SelfAttentionImpl::SelfAttentionImpl(int width, int heads)
    : m_heads(heads)
{
    TORCH_CHECK(heads > 0 && width % heads == 0, "attention width ", width, " is not divisible by ", heads, " heads");
    in_proj_weight = register_parameter("in_proj_weight", torch::empty({3 * width, width}));
    in_proj_bias = register_parameter("in_proj_bias", torch::zeros({3 * width}));
    out_proj = register_module("out_proj", torch::nn::Linear(width, width));
    torch::nn::init::xavier_uniform_(in_proj_weight);
}

namespace {

// [E, W] or [B, E, W] -> [B, H, E, d]
torch::Tensor splitHeads(const torch::Tensor& t, int64_t batch, int64_t heads)
{
    auto rows = t.dim() == 2 ? t.unsqueeze(0).expand({batch, t.size(0), t.size(1)}) : t;
    return rows.view({batch, rows.size(1), heads, rows.size(2) / heads}).permute({0, 2, 1, 3});
}

// Which keys each of `length` queries may see: `extra` prefix keys always, then its own sequence causally
// (or entirely). [length, extra + length], true = attend.
torch::Tensor allowedKeys(int64_t length, int64_t extra, bool causal, const torch::TensorOptions& options)
{
    auto self = causal ? torch::ones({length, length}, options.dtype(torch::kBool)).tril()
                       : torch::ones({length, length}, options.dtype(torch::kBool));
    return torch::cat({torch::ones({length, extra}, options.dtype(torch::kBool)), self}, 1);
}

} // namespace

torch::Tensor SelfAttentionImpl::forward(const torch::Tensor& x, bool causal, const KeyValuePrefix& extra, const BlockHooks& hooks)
{
    const int64_t batch = x.size(0), length = x.size(1), width = x.size(2);
    const int64_t headDim = width / m_heads;
    // [B, L, 3, H, d] -> three [B, H, L, d]
    auto qkv = hooks.linear(BlockLayer::QkvProjection, x, in_proj_weight, in_proj_bias).view({batch, length, 3, m_heads, headDim}).permute({2, 0, 3, 1, 4});
    auto q = qkv[0], k = qkv[1], v = qkv[2];
    int64_t extraLength = 0;
    if (!extra.empty()) {
        extraLength = extra.keys.size(-2);
        k = torch::cat({splitHeads(extra.keys.to(k.scalar_type()), batch, m_heads), k}, 2);
        v = torch::cat({splitHeads(extra.values.to(v.scalar_type()), batch, m_heads), v}, 2);
    }
    torch::Tensor context;
    // An image tower's attention (not causal) is wanted by a recorder: the explicit path, which has the weights.
    const bool record = !causal && AttentionRecorder::active();
#if TORCH_VERSION_MAJOR >= 2
    if (attentionKernel() == AttentionKernel::Fused && !record)
        context = extraLength == 0 ? at::scaled_dot_product_attention(q, k, v, {}, 0.0, causal)
                                   : at::scaled_dot_product_attention(q, k, v, allowedKeys(length, extraLength, causal, q.options()), 0.0, false);
#endif
    if (!context.defined()) {
        auto scores = torch::matmul(q * (1.0 / std::sqrt(static_cast<double>(headDim))), k.transpose(-2, -1));
        if (causal || extraLength > 0)
            scores = scores.masked_fill(allowedKeys(length, extraLength, causal, scores.options()).logical_not(),
                                        -std::numeric_limits<float>::infinity());
        const auto weights = torch::softmax(scores, -1);
        if (record)  // among the sequence's own tokens (a key-value prefix is not a token of the image)
            AttentionRecorder::recordSelfAttention(weights.narrow(-1, extraLength, length));
        context = torch::matmul(weights, v);
    }
    context = context.permute({0, 2, 1, 3}).reshape({batch, length, width});
    return hooks.linear(BlockLayer::OutProjection, context, out_proj->weight, out_proj->bias);
}

std::pair<torch::Tensor, torch::Tensor> SelfAttentionImpl::forwardSharedPrefix(const torch::Tensor& prefix, const torch::Tensor& suffix,
                                                                               const KeyValuePrefix& extra, const BlockHooks& hooks)
{
    const int64_t n = prefix.size(0), prefixLength = prefix.size(1), width = prefix.size(2);
    const int64_t classes = suffix.size(0) / n, suffixLength = suffix.size(1);
    const int64_t headDim = width / m_heads;
    const double scale = 1.0 / std::sqrt(static_cast<double>(headDim));
    auto pqkv = hooks.linear(BlockLayer::QkvProjection, prefix, in_proj_weight, in_proj_bias)
                    .view({n, prefixLength, 3, m_heads, headDim})
                    .permute({2, 0, 3, 1, 4});
    auto sqkv = hooks.linear(BlockLayer::QkvProjection, suffix, in_proj_weight, in_proj_bias)
                    .view({n * classes, suffixLength, 3, m_heads, headDim})
                    .permute({2, 0, 3, 1, 4});
    auto pq = pqkv[0], pk = pqkv[1], pv = pqkv[2];  // [N, H, P, d]
    auto sq = sqkv[0], sk = sqkv[1], sv = sqkv[2];  // [N*C, H, S, d]
    // [N*C, H, S, X] <-> [N, H, C*S, X]: every suffix query of an n meets that n's prefix keys in one product.
    auto toShared = [&](const torch::Tensor& t) {
        return t.view({n, classes, m_heads, suffixLength, t.size(-1)}).permute({0, 2, 1, 3, 4}).reshape({n, m_heads, classes * suffixLength, t.size(-1)});
    };
    auto fromShared = [&](const torch::Tensor& t) {
        return t.view({n, m_heads, classes, suffixLength, t.size(-1)}).permute({0, 2, 1, 3, 4}).reshape({n * classes, m_heads, suffixLength, t.size(-1)});
    };
    const float negInf = -std::numeric_limits<float>::infinity();
    // Extra keys and values are the same for every sequence: [1, H, E, d].
    TORCH_CHECK(extra.empty() || extra.keys.dim() == 2, "a shared-prefix pass takes key/value prefixes shared by the batch");
    const int64_t extraLength = extra.empty() ? 0 : extra.keys.size(0);
    const auto ek = extra.empty() ? torch::Tensor() : splitHeads(extra.keys.to(pk.scalar_type()), 1, m_heads);
    const auto ev = extra.empty() ? torch::Tensor() : splitHeads(extra.values.to(pv.scalar_type()), 1, m_heads);

    // The prefix attends only to the extra keys and itself (causal): its output is the same for all C sequences.
    auto prefixScores = torch::matmul(pq * scale, pk.transpose(-2, -1));
    prefixScores = prefixScores + torch::full({prefixLength, prefixLength}, negInf, prefixScores.options()).triu(1);
    if (extraLength > 0)
        prefixScores = torch::cat({torch::matmul(pq * scale, ek.transpose(-2, -1)), prefixScores}, -1);
    auto prefixWeights = torch::softmax(prefixScores, -1);
    auto prefixContext = extraLength > 0 ? torch::matmul(prefixWeights, torch::cat({ev.expand({n, -1, -1, -1}), pv}, 2))
                                         : torch::matmul(prefixWeights, pv);

    // A suffix token attends to the extra keys, the whole prefix and the suffix tokens up to itself.
    auto scaledQuery = sq * scale;
    auto toPrefix = fromShared(torch::matmul(toShared(scaledQuery), pk.transpose(-2, -1)));  // [N*C, H, S, P]
    auto toSelf = torch::matmul(scaledQuery, sk.transpose(-2, -1));                        // [N*C, H, S, S]
    toSelf = toSelf + torch::full({suffixLength, suffixLength}, negInf, toSelf.options()).triu(1);
    std::vector<torch::Tensor> parts = {toPrefix, toSelf};
    if (extraLength > 0)
        parts.insert(parts.begin(), torch::matmul(scaledQuery, ek.transpose(-2, -1)));  // [N*C, H, S, E]
    auto weights = torch::softmax(torch::cat(parts, -1), -1);
    auto suffixContext = fromShared(torch::matmul(toShared(weights.narrow(-1, extraLength, prefixLength)), pv)) +
                         torch::matmul(weights.narrow(-1, extraLength + prefixLength, suffixLength), sv);
    if (extraLength > 0)
        suffixContext = suffixContext + torch::matmul(weights.narrow(-1, 0, extraLength), ev);

    prefixContext = prefixContext.permute({0, 2, 1, 3}).reshape({n, prefixLength, width});
    suffixContext = suffixContext.permute({0, 2, 1, 3}).reshape({n * classes, suffixLength, width});
    return {hooks.linear(BlockLayer::OutProjection, prefixContext, out_proj->weight, out_proj->bias),
            hooks.linear(BlockLayer::OutProjection, suffixContext, out_proj->weight, out_proj->bias)};
}

MlpImpl::MlpImpl(int width, int hidden, Activation activation)
    : m_activation(activation)
{
    c_fc = register_module("c_fc", torch::nn::Linear(width, hidden));
    c_proj = register_module("c_proj", torch::nn::Linear(hidden, width));
}

torch::Tensor MlpImpl::forward(const torch::Tensor& x, const BlockHooks& hooks)
{
    auto h = hooks.linear(BlockLayer::MlpIn, x, c_fc->weight, c_fc->bias);
    h = m_activation == Activation::QuickGelu ? h * torch::sigmoid(1.702 * h) : torch::gelu(h);
    return hooks.linear(BlockLayer::MlpOut, h, c_proj->weight, c_proj->bias);
}

Fp32LayerNormImpl::Fp32LayerNormImpl(int width, double eps)
    : m_eps(eps)
{
    weight = register_parameter("weight", torch::ones({width}));
    bias = register_parameter("bias", torch::zeros({width}));
}

torch::Tensor Fp32LayerNormImpl::forward(const torch::Tensor& x)
{
    if (x.scalar_type() == torch::kFloat)
        return torch::layer_norm(x, {weight.size(0)}, weight, bias, m_eps);
    return torch::layer_norm(x.to(torch::kFloat), {weight.size(0)}, weight.to(torch::kFloat), bias.to(torch::kFloat), m_eps)
        .to(x.scalar_type());
}

ResidualAttentionBlockImpl::ResidualAttentionBlockImpl(const TowerSpec& spec)
{
    attn = register_module("attn", SelfAttention(spec.width, spec.heads));
    ln_1 = register_module("ln_1", Fp32LayerNorm(spec.width, spec.layerNormEps));
    mlp = register_module("mlp", Mlp(spec.width, spec.mlpWidth, spec.activation));
    ln_2 = register_module("ln_2", Fp32LayerNorm(spec.width, spec.layerNormEps));
}

namespace {

torch::Tensor norm(Fp32LayerNorm& layerNorm, BlockLayer which, const torch::Tensor& x, const BlockHooks& hooks)
{
    auto out = layerNorm(x);
    return hooks.adapts() ? hooks.hooks->afterNorm(hooks.layer, which, out) : out;
}

} // namespace

torch::Tensor ResidualAttentionBlockImpl::forward(const torch::Tensor& x, bool causal, int layer, TransformerHooks* hooks)
{
    return forward(x, causal, layer, hooks, hooks ? hooks->keyValuePrefix(layer) : KeyValuePrefix{});
}

torch::Tensor ResidualAttentionBlockImpl::forward(const torch::Tensor& x, bool causal, int layer, TransformerHooks* hooks,
                                                  const KeyValuePrefix& extra)
{
    const BlockHooks own{hooks, layer};
    auto h = x + attn->forward(norm(ln_1, BlockLayer::Norm1, x, own), causal, extra, own);
    auto mlpInput = norm(ln_2, BlockLayer::Norm2, h, own);
    auto mlpOutput = mlp->forward(mlpInput, own);
    if (hooks)
        mlpOutput = hooks->afterMlp(layer, mlpOutput, mlpInput, h);
    return h + mlpOutput;
}

std::pair<torch::Tensor, torch::Tensor> ResidualAttentionBlockImpl::forwardSharedPrefix(const torch::Tensor& prefix,
                                                                                       const torch::Tensor& suffix, int layer,
                                                                                       TransformerHooks* hooks)
{
    return forwardSharedPrefix(prefix, suffix, layer, hooks, hooks ? hooks->keyValuePrefix(layer) : KeyValuePrefix{});
}

std::pair<torch::Tensor, torch::Tensor> ResidualAttentionBlockImpl::forwardSharedPrefix(const torch::Tensor& prefix,
                                                                                       const torch::Tensor& suffix, int layer,
                                                                                       TransformerHooks* hooks, const KeyValuePrefix& extra)
{
    const BlockHooks own{hooks, layer};
    auto [prefixAttention, suffixAttention] =
        attn->forwardSharedPrefix(norm(ln_1, BlockLayer::Norm1, prefix, own), norm(ln_1, BlockLayer::Norm1, suffix, own), extra, own);
    auto p = prefix + prefixAttention;
    auto s = suffix + suffixAttention;
    // The MLP branch is position-wise: running it on the two parts apart is exact, hooks included.
    auto mlpBranch = [&](const torch::Tensor& h) {
        auto input = norm(ln_2, BlockLayer::Norm2, h, own);
        auto output = mlp->forward(input, own);
        return hooks ? hooks->afterMlp(layer, output, input, h) : output;
    };
    return {p + mlpBranch(p), s + mlpBranch(s)};
}

TransformerImpl::TransformerImpl(const TowerSpec& spec, Tower tower)
    : m_tower(tower)
{
    resblocks = register_module("resblocks", torch::nn::ModuleList());
    for (int i = 0; i < spec.layers; ++i)
        resblocks->push_back(ResidualAttentionBlock(spec));
}

ResidualAttentionBlock TransformerImpl::block(int layer) const
{
    return ResidualAttentionBlock(resblocks->ptr<ResidualAttentionBlockImpl>(layer));
}

namespace {

// A checkpointed block's inputs: the tokens (or prefix and suffix), then the key/value prefix if any. The
// prefix is asked for once, here, and goes in as inputs rather than captured: its gradient then reaches its
// own graph (prefix tuning's reparameterising MLP, shared by all layers) through this node, like the tokens'.
std::vector<at::Tensor> blockInputs(std::vector<at::Tensor> tokens, const KeyValuePrefix& extra)
{
    if (!extra.empty()) {
        tokens.push_back(extra.keys);
        tokens.push_back(extra.values);
    }
    return tokens;
}

KeyValuePrefix prefixAt(const std::vector<at::Tensor>& inputs, size_t first)
{
    return inputs.size() > first ? KeyValuePrefix{inputs[first], inputs[first + 1]} : KeyValuePrefix{};
}

// The hooks a recomputation may call: none when they act only between blocks (they may be gone by then).
TransformerHooks* hooksInside(TransformerHooks* hooks)
{
    return hooks && hooks->actsInsideBlocks() ? hooks : nullptr;
}

// Whether a gradient can flow through `block`: a frozen block with frozen inputs (a frozen tower under a
// trained head, partial tuning's first blocks) keeps no activations anyway, and recomputing it is waste.
// Hooks that act inside blocks (adapters, LoRA) hold tensors of their own: assumed trained.
bool gradientFlows(const torch::nn::Module& block, const std::vector<at::Tensor>& inputs, TransformerHooks* inside)
{
    if (inside || std::any_of(inputs.begin(), inputs.end(), [](const at::Tensor& t) { return t.requires_grad(); }))
        return true;
    const auto parameters = block.parameters();
    return std::any_of(parameters.begin(), parameters.end(), [](const at::Tensor& t) { return t.requires_grad(); });
}

} // namespace

torch::Tensor TransformerImpl::forward(torch::Tensor x, bool causal, TransformerHooks* hooks)
{
    const bool checkpoint = checkpointsBlocks(m_tower);
    for (int i = 0; i < layers(); ++i) {
        if (hooks)
            x = hooks->beforeBlock(i, x);
        auto block = resblocks->ptr<ResidualAttentionBlockImpl>(i);
        const KeyValuePrefix extra = hooks ? hooks->keyValuePrefix(i) : KeyValuePrefix{};
        TransformerHooks* inside = hooksInside(hooks);
        const auto inputs = blockInputs({x}, extra);
        if (!checkpoint || !gradientFlows(*block, inputs, inside)) {
            x = block->forward(x, causal, i, hooks, extra);
            continue;
        }
        x = checkpointed(
                [block, causal, i, inside](const std::vector<at::Tensor>& in) {
                    return std::vector<at::Tensor>{block->forward(in[0], causal, i, inside, prefixAt(in, 1))};
                },
                inputs)
                .front();
    }
    return x;
}

std::pair<torch::Tensor, torch::Tensor> TransformerImpl::forwardSharedPrefix(torch::Tensor prefix, torch::Tensor suffix,
                                                                             TransformerHooks* hooks)
{
    const bool checkpoint = checkpointsBlocks(m_tower);
    for (int i = 0; i < layers(); ++i) {
        if (hooks) {
            auto replaced = hooks->beforeBlock(i, prefix);
            TORCH_CHECK(replaced.sizes() == prefix.sizes(), "a hook changed the shape of the shared prefix at layer ", i);
            prefix = replaced;
        }
        auto block = resblocks->ptr<ResidualAttentionBlockImpl>(i);
        const KeyValuePrefix extra = hooks ? hooks->keyValuePrefix(i) : KeyValuePrefix{};
        TransformerHooks* inside = hooksInside(hooks);
        const auto inputs = blockInputs({prefix, suffix}, extra);
        if (!checkpoint || !gradientFlows(*block, inputs, inside)) {
            std::tie(prefix, suffix) = block->forwardSharedPrefix(prefix, suffix, i, hooks, extra);
            continue;
        }
        const auto out = checkpointed(
            [block, i, inside](const std::vector<at::Tensor>& in) {
                auto [p, s] = block->forwardSharedPrefix(in[0], in[1], i, inside, prefixAt(in, 2));
                return std::vector<at::Tensor>{p, s};
            },
            inputs);
        prefix = out[0];
        suffix = out[1];
    }
    return {prefix, suffix};
}

} // namespace tunebench
