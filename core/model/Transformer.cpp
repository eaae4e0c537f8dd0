#include "core/model/Transformer.h"

#include <torch/torch.h>

#include <cmath>
#include <limits>
#include <tuple>

namespace tunebench {

SelfAttentionImpl::SelfAttentionImpl(int width, int heads)
    : m_heads(heads)
{
    TORCH_CHECK(heads > 0 && width % heads == 0, "attention width ", width, " is not divisible by ", heads, " heads");
    in_proj_weight = register_parameter("in_proj_weight", torch::empty({3 * width, width}));
    in_proj_bias = register_parameter("in_proj_bias", torch::zeros({3 * width}));
    out_proj = register_module("out_proj", torch::nn::Linear(width, width));
    torch::nn::init::xavier_uniform_(in_proj_weight);
}

torch::Tensor SelfAttentionImpl::forward(const torch::Tensor& x, bool causal)
{
    const int64_t batch = x.size(0), length = x.size(1), width = x.size(2);
    const int64_t headDim = width / m_heads;
    // [B, L, 3, H, d] -> three [B, H, L, d]
    auto qkv = torch::linear(x, in_proj_weight, in_proj_bias).view({batch, length, 3, m_heads, headDim}).permute({2, 0, 3, 1, 4});
    auto q = qkv[0], k = qkv[1], v = qkv[2];
#if TORCH_VERSION_MAJOR >= 2
    // The fused kernel (flash / memory-efficient attention on CUDA) where this LibTorch has it.
    auto context = at::scaled_dot_product_attention(q, k, v, {}, 0.0, causal);
#else
    auto scores = torch::matmul(q * (1.0 / std::sqrt(static_cast<double>(headDim))), k.transpose(-2, -1));
    if (causal) {
        auto mask = torch::full({length, length}, -std::numeric_limits<float>::infinity(), scores.options()).triu(1);
        scores = scores + mask;
    }
    auto context = torch::matmul(torch::softmax(scores, -1), v);
#endif
    context = context.permute({0, 2, 1, 3}).reshape({batch, length, width});
    return out_proj(context);
}

std::pair<torch::Tensor, torch::Tensor> SelfAttentionImpl::forwardSharedPrefix(const torch::Tensor& prefix, const torch::Tensor& suffix)
{
    const int64_t n = prefix.size(0), prefixLength = prefix.size(1), width = prefix.size(2);
    const int64_t classes = suffix.size(0) / n, suffixLength = suffix.size(1);
    const int64_t headDim = width / m_heads;
    const double scale = 1.0 / std::sqrt(static_cast<double>(headDim));
    auto pqkv = torch::linear(prefix, in_proj_weight, in_proj_bias).view({n, prefixLength, 3, m_heads, headDim}).permute({2, 0, 3, 1, 4});
    auto sqkv = torch::linear(suffix, in_proj_weight, in_proj_bias)
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

    // The prefix attends only to itself (causal): its output is the same for all C sequences.
    auto prefixScores = torch::matmul(pq * scale, pk.transpose(-2, -1));
    prefixScores = prefixScores + torch::full({prefixLength, prefixLength}, negInf, prefixScores.options()).triu(1);
    auto prefixContext = torch::matmul(torch::softmax(prefixScores, -1), pv);

    // A suffix token attends to the whole prefix and to the suffix tokens up to itself.
    auto scaledQuery = sq * scale;
    auto toPrefix = fromShared(torch::matmul(toShared(scaledQuery), pk.transpose(-2, -1)));  // [N*C, H, S, P]
    auto toSelf = torch::matmul(scaledQuery, sk.transpose(-2, -1));                        // [N*C, H, S, S]
    toSelf = toSelf + torch::full({suffixLength, suffixLength}, negInf, toSelf.options()).triu(1);
    auto weights = torch::softmax(torch::cat({toPrefix, toSelf}, -1), -1);
    auto suffixContext = fromShared(torch::matmul(toShared(weights.narrow(-1, 0, prefixLength)), pv)) +
                         torch::matmul(weights.narrow(-1, prefixLength, suffixLength), sv);

    prefixContext = prefixContext.permute({0, 2, 1, 3}).reshape({n, prefixLength, width});
    suffixContext = suffixContext.permute({0, 2, 1, 3}).reshape({n * classes, suffixLength, width});
    return {out_proj(prefixContext), out_proj(suffixContext)};
}

MlpImpl::MlpImpl(int width, int hidden, Activation activation)
    : m_activation(activation)
{
    c_fc = register_module("c_fc", torch::nn::Linear(width, hidden));
    c_proj = register_module("c_proj", torch::nn::Linear(hidden, width));
}

torch::Tensor MlpImpl::forward(const torch::Tensor& x)
{
    auto h = c_fc(x);
    h = m_activation == Activation::QuickGelu ? h * torch::sigmoid(1.702 * h) : torch::gelu(h);
    return c_proj(h);
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

torch::Tensor ResidualAttentionBlockImpl::forward(const torch::Tensor& x, bool causal, int layer, TransformerHooks* hooks)
{
    auto h = x + attn(ln_1(x), causal);
    auto mlpInput = ln_2(h);
    auto mlpOutput = mlp(mlpInput);
    if (hooks)
        mlpOutput = hooks->afterMlp(layer, mlpOutput, mlpInput);
    return h + mlpOutput;
}

std::pair<torch::Tensor, torch::Tensor> ResidualAttentionBlockImpl::forwardSharedPrefix(const torch::Tensor& prefix,
                                                                                       const torch::Tensor& suffix)
{
    auto [prefixAttention, suffixAttention] = attn->forwardSharedPrefix(ln_1(prefix), ln_1(suffix));
    auto p = prefix + prefixAttention;
    auto s = suffix + suffixAttention;
    return {p + mlp(ln_2(p)), s + mlp(ln_2(s))};
}

TransformerImpl::TransformerImpl(const TowerSpec& spec)
{
    resblocks = register_module("resblocks", torch::nn::ModuleList());
    for (int i = 0; i < spec.layers; ++i)
        resblocks->push_back(ResidualAttentionBlock(spec));
}

ResidualAttentionBlock TransformerImpl::block(int layer) const
{
    return ResidualAttentionBlock(resblocks->ptr<ResidualAttentionBlockImpl>(layer));
}

torch::Tensor TransformerImpl::forward(torch::Tensor x, bool causal, TransformerHooks* hooks)
{
    for (int i = 0; i < layers(); ++i) {
        if (hooks)
            x = hooks->beforeBlock(i, x);
        x = resblocks->ptr<ResidualAttentionBlockImpl>(i)->forward(x, causal, i, hooks);
    }
    return x;
}

std::pair<torch::Tensor, torch::Tensor> TransformerImpl::forwardSharedPrefix(torch::Tensor prefix, torch::Tensor suffix)
{
    for (int i = 0; i < layers(); ++i)
        std::tie(prefix, suffix) = resblocks->ptr<ResidualAttentionBlockImpl>(i)->forwardSharedPrefix(prefix, suffix);
    return {prefix, suffix};
}

} // namespace tunebench
