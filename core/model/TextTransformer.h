#pragma once

#include "core/model/Transformer.h"

#include <torch/nn/modules/embedding.h>

namespace tunebench {

// CLIP's text tower with OpenAI parameter names: token_embedding + positional_embedding -> causal
// transformer -> ln_final -> the end-of-text token -> @ text_projection.
class TextTransformerImpl : public torch::nn::Module
{
public:
    explicit TextTransformerImpl(const TextSpec& spec);

    // Token ids [B, L] (L <= context length) -> features [B, outputDim].
    torch::Tensor forward(const torch::Tensor& tokens, TransformerHooks* hooks = nullptr);

    // Prompt learners build the embedded sequence themselves (learned context vectors in place of
    // words): embeddings [B, L, width] without positions, and the end-of-text position of each row.
    torch::Tensor encodeEmbeddings(const torch::Tensor& embeddings, const torch::Tensor& endPositions,
                                   TransformerHooks* hooks = nullptr);

    torch::Tensor embedTokens(const torch::Tensor& tokens);           // [B, L, width], no positions
    torch::Tensor endPositions(const torch::Tensor& tokens) const;    // [B], first end-of-text id per row

    const TextSpec& spec() const { return m_spec; }

    torch::nn::Embedding token_embedding{nullptr};
    torch::Tensor positional_embedding;
    Transformer transformer{nullptr};
    Fp32LayerNorm ln_final{nullptr};
    torch::Tensor text_projection;  // [width, outputDim]

private:
    TextSpec m_spec;
};
TORCH_MODULE(TextTransformer);

} // namespace tunebench
