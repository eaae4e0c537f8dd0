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

    // The same features for N x C prompts that share their first P embedded tokens per n (CoOp's start
    // token and unified context): `prefix` [N, P, width], `suffix` [C, L - P, width] (the rest of each
    // class's prompt, the same for every n), `endPositions` [C] counted from the prompt's start.
    // Returns [N, C, outputDim]. Exact shortcut: under the causal mask the prefix's hidden states do
    // not depend on what follows, so they are computed once per n instead of once per prompt. Hooks: see
    // TransformerImpl::forwardSharedPrefix (deep prompts inside the prefix, key/value prefixes, adapters).
    torch::Tensor encodeSharedPrefix(const torch::Tensor& prefix, const torch::Tensor& suffix, const torch::Tensor& endPositions,
                                     TransformerHooks* hooks = nullptr);
    // Token ids [B, L] as forward() encodes them, with the first tokens that every row shares run once
    // (the shared-prefix shortcut for hand-crafted prompts such as "a photo of a {class}.").
    torch::Tensor encodeTokensSharingPrefix(const torch::Tensor& tokens, TransformerHooks* hooks = nullptr);

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
