#include "core/tuning/ConditionalText.h"

#include "core/Error.h"

#include <torch/torch.h>

namespace tunebench {

at::Tensor runConditionalText(const ConditionalTextModel& m, const at::Tensor& images)
{
    torch::NoGradGuard noGrad;
    ClipModel model = m.image.model;  // a handle: the modules' forward is not const
    auto& text = model->text;
    const auto f = l2Normalize(deployableFeatures(m.image, images).to(torch::kFloat));  // [N, E]
    const auto options = f.options();
    const auto bias = torch::linear(torch::relu(torch::linear(f, m.linear1Weight.to(options), m.linear1Bias.to(options))),
                                    m.linear2Weight.to(options), m.linear2Bias.to(options));  // [N, D]
    const std::int64_t n = f.size(0), classes = m.suffixes.size(0), contextLength = m.context.size(0);
    const std::int64_t width = m.context.size(1), suffixLength = m.suffixes.size(1), length = 1 + contextLength + suffixLength;
    if (std::int64_t(m.endPositions.size()) != classes)
        throw Error("the conditional text model has " + std::to_string(m.endPositions.size()) + " end positions for " +
                    std::to_string(classes) + " classes");
    const auto context = (m.context.to(options).unsqueeze(0) + bias.unsqueeze(1)).unsqueeze(1).expand({n, classes, contextLength, width});
    const auto start = m.start.to(options).view({1, 1, 1, width}).expand({n, classes, 1, width});
    const auto suffixes = m.suffixes.to(options).unsqueeze(0).expand({n, classes, suffixLength, width});
    auto x = torch::cat({start, context, suffixes}, 2).reshape({n * classes, length, width});
    const auto type = text->text_projection.scalar_type();
    x = (x + text->positional_embedding.narrow(0, 0, length).to(options)).to(type);
    x = text->ln_final(text->transformer(x, true, nullptr));  // [N C, L, D]
    const auto ends = torch::tensor(m.endPositions, torch::kLong).to(x.device()).repeat({n});
    const auto pooled = x.index({torch::arange(n * classes, ends.options()), ends});
    const auto t = l2Normalize(torch::matmul(pooled, text->text_projection).to(torch::kFloat)).view({n, classes, -1});
    return m.scale * torch::einsum("ne,nce->nc", {f, t});
}

} // namespace tunebench
