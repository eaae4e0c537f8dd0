#include "core/model/TextTransformer.h"

#include <torch/torch.h>

namespace tunebench {

TextTransformerImpl::TextTransformerImpl(const TextSpec& spec)
    : m_spec(spec)
{
    token_embedding = register_module("token_embedding", torch::nn::Embedding(spec.vocabSize, spec.width));
    torch::nn::init::normal_(token_embedding->weight, 0.0, 0.02);
    positional_embedding = register_parameter("positional_embedding", torch::randn({spec.contextLength, spec.width}) * 0.01);
    transformer = register_module("transformer", Transformer(spec, Tower::Text));
    ln_final = register_module("ln_final", Fp32LayerNorm(spec.width, spec.layerNormEps));
    text_projection = register_parameter("text_projection",
                                         torch::randn({spec.width, spec.outputDim}) / std::sqrt(static_cast<double>(spec.width)));
}

torch::Tensor TextTransformerImpl::embedTokens(const torch::Tensor& tokens)
{
    return token_embedding(tokens);
}

torch::Tensor TextTransformerImpl::endPositions(const torch::Tensor& tokens) const
{
    // The reference takes argmax(ids), which is the first end-of-text token because that id is the
    // largest in the CLIP vocabulary; looking for the id itself also holds for other vocabularies.
    auto isEnd = (tokens == m_spec.endOfTextId).to(torch::kInt);
    auto hasEnd = isEnd.amax(1).to(torch::kBool);
    auto first = isEnd.argmax(1);
    return torch::where(hasEnd, first, tokens.argmax(1));
}

torch::Tensor TextTransformerImpl::forward(const torch::Tensor& tokens, TransformerHooks* hooks)
{
    return encodeEmbeddings(embedTokens(tokens), endPositions(tokens), hooks);
}

torch::Tensor TextTransformerImpl::encodeEmbeddings(const torch::Tensor& embeddings, const torch::Tensor& endPositions,
                                                    TransformerHooks* hooks)
{
    TORCH_CHECK(embeddings.dim() == 3 && embeddings.size(1) <= m_spec.contextLength, "text sequence of shape ",
                embeddings.sizes(), " exceeds the context length ", m_spec.contextLength);
    // Exact shortcut: under the causal mask no position after the last end-of-text token can change a
    // pooled feature, so the tower only runs on the prefix that ends there.
    const int64_t used = endPositions.max().item<int64_t>() + 1;
    auto x = embeddings.narrow(1, 0, used);
    x = x + positional_embedding.narrow(0, 0, used).to(x.scalar_type());
    x = ln_final(transformer(x, true, hooks));
    auto rows = torch::arange(x.size(0), endPositions.options().dtype(torch::kLong));
    auto pooled = x.index({rows, endPositions.to(torch::kLong)});
    return torch::matmul(pooled, text_projection.to(pooled.scalar_type()));
}

torch::Tensor TextTransformerImpl::encodeSharedPrefix(const torch::Tensor& prefix, const torch::Tensor& suffix,
                                                      const torch::Tensor& endPositions, TransformerHooks* hooks)
{
    const int64_t n = prefix.size(0), prefixLength = prefix.size(1), classes = suffix.size(0);
    const int64_t used = endPositions.max().item<int64_t>() + 1;
    TORCH_CHECK(endPositions.min().item<int64_t>() >= prefixLength, "an end-of-text token lies inside the shared prefix");
    TORCH_CHECK(used <= m_spec.contextLength && used - prefixLength <= suffix.size(1), "text sequence longer than the context length");
    const int64_t suffixLength = used - prefixLength;
    auto p = prefix + positional_embedding.narrow(0, 0, prefixLength).to(prefix.scalar_type());
    auto s = suffix.narrow(1, 0, suffixLength) + positional_embedding.narrow(0, prefixLength, suffixLength).to(suffix.scalar_type());
    s = s.unsqueeze(0).expand({n, classes, suffixLength, s.size(2)}).reshape({n * classes, suffixLength, s.size(2)});
    s = transformer->forwardSharedPrefix(p, s, hooks).second;
    auto rows = torch::arange(n * classes, endPositions.options().dtype(torch::kLong));
    auto ends = (endPositions.to(torch::kLong) - prefixLength).unsqueeze(0).expand({n, classes}).reshape({n * classes});
    auto pooled = ln_final(s.index({rows, ends}));
    return torch::matmul(pooled, text_projection.to(pooled.scalar_type())).view({n, classes, -1});
}

torch::Tensor TextTransformerImpl::encodeTokensSharingPrefix(const torch::Tensor& tokens, TransformerHooks* hooks)
{
    const auto ends = endPositions(tokens);
    // The longest run of leading tokens that every row has, ending before the first end-of-text token.
    const auto same = (tokens == tokens.narrow(0, 0, 1)).all(0).to(torch::kInt);  // [L]
    const int64_t common = std::min<int64_t>(same.cumprod(0).sum().item<int64_t>(), ends.min().item<int64_t>());
    if (common < 1 || tokens.size(0) < 2)
        return encodeEmbeddings(embedTokens(tokens), ends, hooks);
    auto embedded = embedTokens(tokens);
    return encodeSharedPrefix(embedded.narrow(0, 0, 1).narrow(1, 0, common), embedded.narrow(1, common, tokens.size(1) - common), ends,
                              hooks)
        .squeeze(0);
}

} // namespace tunebench
