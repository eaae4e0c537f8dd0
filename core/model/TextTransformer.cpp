#include "core/model/TextTransformer.h"

#include <torch/torch.h>

namespace tunebench {

TextTransformerImpl::TextTransformerImpl(const TextSpec& spec)
    : m_spec(spec)
{
    token_embedding = register_module("token_embedding", torch::nn::Embedding(spec.vocabSize, spec.width));
    torch::nn::init::normal_(token_embedding->weight, 0.0, 0.02);
    positional_embedding = register_parameter("positional_embedding", torch::randn({spec.contextLength, spec.width}) * 0.01);
    transformer = register_module("transformer", Transformer(spec));
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

} // namespace tunebench
