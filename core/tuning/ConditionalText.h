#pragma once

#include "core/tuning/DeployableModel.h"

#include <cstdint>
#include <vector>

namespace tunebench {

// A CLIP model whose class text depends on each image (CoCoOp), as one feed-forward computation for
// exporters (ONNX) beside DeployableModel, which it extends with the text tower:
//
//   f = normalize(tower(images))                          [N, E], the image tower of `image` (its head unused)
//   bias = linear2(relu(linear1(f)))                      [N, D], the Meta-Net
//   prompt(n, c) = [start, context + bias[n], suffix[c]]  [L, D], plus the positional embedding
//   t(n, c) = normalize(ln_final(text transformer(prompt(n, c)), causal)[end[c]] text_projection)
//   logits[n, c] = scale * f[n] . t(n, c)
//
// The text tower's weights are image.model's. Every prompt has the same length L = 1 + M + S.
struct ConditionalTextModel
{
    DeployableModel image;
    at::Tensor linear1Weight, linear1Bias;  // [H, E], [H]
    at::Tensor linear2Weight, linear2Bias;  // [D, H], [D]
    at::Tensor start;                       // [1, D]: the start token's embedding, the same for every class
    at::Tensor context;                     // [M, D]: the learned context
    at::Tensor suffixes;                    // [C, S, D]: each class's name, '.', end token, ... up to the last end position
    std::vector<std::int64_t> endPositions;  // [C], counted from the prompt's start (all >= 1 + M)
    double scale = 1;
};

// The computation above with LibTorch, no gradient, images [B, 3, H, W] on the model's device; [B, C] fp32.
at::Tensor runConditionalText(const ConditionalTextModel& model, const at::Tensor& images);

// Strategies whose class text depends on the image: their deployable() refuses (a DeployableModel has no
// text tower), and exporters that write the text tower ask this instead.
class ConditionalTextStrategy
{
public:
    virtual ~ConditionalTextStrategy() = default;
    virtual ConditionalTextModel conditionalText() = 0;
};

} // namespace tunebench
