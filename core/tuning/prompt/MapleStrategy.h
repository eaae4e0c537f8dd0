#pragma once

#include "core/tuning/prompt/MultiModalPrompts.h"

namespace tunebench {

// MaPLe (Khattak et al. 2023): deep text prompts (2 tokens, first 9 layers, "a photo of a" with n_ctx 2
// keeping "of a" as words), and vision prompts produced from them by one linear coupler per layer
// (text width -> vision width). Trains the context, the deeper text prompts and the couplers.
class MapleStrategy : public MultiModalPromptStrategy
{
public:
    std::string name() const override { return "maple"; }

protected:
    int textTokens() const override { return m_params.at("n_ctx").get<int>(); }
    int visionTokens() const override { return textTokens(); }
    int depth() const override { return m_params.at("depth").get<int>(); }
    bool coupledDepths() const override { return true; }
    std::vector<at::Tensor> visionPrompts() override;
    std::vector<std::pair<std::string, at::Tensor>> visionParameters() override;
    void createVisionParameters() override;

private:
    std::vector<std::pair<at::Tensor, at::Tensor>> m_couplers;  // per layer: weight [vision, text], bias [vision]
};

StrategyInfo mapleStrategyInfo();

} // namespace tunebench
