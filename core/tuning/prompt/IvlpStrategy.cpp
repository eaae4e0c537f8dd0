#include "core/tuning/prompt/IvlpStrategy.h"

#include <torch/torch.h>

namespace tunebench {

ParamSchema ivlpSchema(int textTokens, int visionTokens, int depth)
{
    return {
        {"n_ctx_text", ParamField::Type::Int, textTokens, 1, 16, {}, "text prompt tokens per layer"},
        {"n_ctx_vision", ParamField::Type::Int, visionTokens, 1, 64, {}, "vision prompt tokens per layer"},
        {"depth", ParamField::Type::Int, depth, 1, 48, {}, "layers with prompts in each tower, from the first (capped by its depth)"},
        {"ctx_init", ParamField::Type::Text, "a photo of a", 0, 0, {}, "phrase whose first n_ctx_text words start the text context"},
    };
}

StrategyInfo ivlpStrategyInfo()
{
    StrategyInfo info;
    info.name = "ivlp";
    info.title = "IVLP";
    info.family = StrategyFamily::PromptLearning;
    info.description = "Independent deep vision and language prompts (the MaPLe paper's IVLP baseline).";
    // The MaPLe repository's IVLP config: 2 + 2 tokens in all 12 layers, SGD 0.0035, 5 epochs.
    info.schema = ivlpSchema(2, 2, 12);
    info.capabilities.needsTextTower = true;
    info.capabilities.learnsPromptContext = true;
    info.capabilities.needsVitImageTower = true;  // prompts among the patch tokens
    info.create = [] { return std::make_unique<IvlpStrategy>(); };
    return info;
}

void IvlpStrategy::createVisionParameters()
{
    m_visionPrompts.clear();
    for (int layer = 0; layer < m_visionDepth; ++layer)
        m_visionPrompts.push_back(normalParameter({visionTokens(), m_model->spec().vision.width}, 0.02));
}

std::vector<std::pair<std::string, at::Tensor>> IvlpStrategy::visionParameters()
{
    std::vector<std::pair<std::string, at::Tensor>> out;
    for (size_t layer = 0; layer < m_visionPrompts.size(); ++layer)
        out.emplace_back("vision_prompts." + std::to_string(layer), m_visionPrompts[layer]);
    return out;
}

} // namespace tunebench
