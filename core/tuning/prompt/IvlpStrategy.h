#pragma once

#include "core/tuning/prompt/MultiModalPrompts.h"

namespace tunebench {

// IVLP: independent deep vision and language prompts (the MaPLe repository's baseline; PromptSRC's
// prompts): text prompts as MaPLe's, and vision prompts of their own, N(0, 0.02), in each tower's first
// `depth` layers.
class IvlpStrategy : public MultiModalPromptStrategy
{
public:
    std::string name() const override { return "ivlp"; }

protected:
    int textTokens() const override { return m_params.at("n_ctx_text").get<int>(); }
    int visionTokens() const override { return m_params.at("n_ctx_vision").get<int>(); }
    int depth() const override { return m_params.at("depth").get<int>(); }
    std::vector<at::Tensor> visionPrompts() override { return m_visionPrompts; }
    std::vector<std::pair<std::string, at::Tensor>> visionParameters() override;
    void createVisionParameters() override;

    std::vector<at::Tensor> m_visionPrompts;  // layers 0..visionDepth-1: [visionTokens, vision width]
};

// The schema of IVLP-style prompts with these defaults (PromptSRC reuses it).
ParamSchema ivlpSchema(int textTokens, int visionTokens, int depth);
StrategyInfo ivlpStrategyInfo();

} // namespace tunebench
