#include "core/tuning/prompt/MapleStrategy.h"

#include <torch/torch.h>

namespace tunebench {

StrategyInfo mapleStrategyInfo()
{
    StrategyInfo info;
    info.name = "maple";
    info.title = "MaPLe";
    info.family = StrategyFamily::PromptLearning;
    info.description = "Multi-modal prompts: deep text prompts, and vision prompts generated from them by linear couplers "
                       "(Khattak et al. 2023).";
    info.schema = {
        {"n_ctx", ParamField::Type::Int, 2, 1, 16, {}, "prompt tokens per layer in each tower"},
        {"depth", ParamField::Type::Int, 9, 1, 48, {}, "layers with prompts, from the first (capped by the towers' depth)"},
        {"ctx_init", ParamField::Type::Text, "a photo of a", 0, 0, {}, "phrase whose first n_ctx words start the context"},
    };
    info.capabilities.needsTextTower = true;
    info.capabilities.learnsPromptContext = true;
    info.capabilities.needsVitImageTower = true;  // prompts among the patch tokens
    info.create = [] { return std::make_unique<MapleStrategy>(); };
    return info;
}

void MapleStrategy::createVisionParameters()
{
    const int64_t textWidth = m_model->spec().text->width, visionWidth = m_model->spec().vision.width;
    // nn.Linear's default initialisation: U(-1/sqrt(in), 1/sqrt(in)) for weight and bias.
    const double bound = 1.0 / std::sqrt(static_cast<double>(textWidth));
    auto uniform = [&](std::vector<int64_t> shape) {
        return torch::empty(shape, torch::TensorOptions(device())).uniform_(-bound, bound).set_requires_grad(true);
    };
    m_couplers.clear();
    for (int layer = 0; layer < m_visionDepth; ++layer)
        m_couplers.emplace_back(uniform({visionWidth, textWidth}), uniform({visionWidth}));
}

std::vector<at::Tensor> MapleStrategy::visionPrompts()
{
    // Layer 0 from the first text context, layer l from layer l's text prompts.
    std::vector<at::Tensor> out;
    for (int layer = 0; layer < m_visionDepth; ++layer) {
        const at::Tensor& text = layer == 0 ? m_learner->context() : m_textPrompts[size_t(layer - 1)];
        out.push_back(torch::linear(text, m_couplers[size_t(layer)].first, m_couplers[size_t(layer)].second));
    }
    return out;
}

std::vector<std::pair<std::string, at::Tensor>> MapleStrategy::visionParameters()
{
    std::vector<std::pair<std::string, at::Tensor>> out;
    for (size_t layer = 0; layer < m_couplers.size(); ++layer) {
        out.emplace_back("couplers." + std::to_string(layer) + ".weight", m_couplers[layer].first);
        out.emplace_back("couplers." + std::to_string(layer) + ".bias", m_couplers[layer].second);
    }
    return out;
}

} // namespace tunebench
