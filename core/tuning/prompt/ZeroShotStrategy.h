#pragma once

#include "core/tuning/prompt/ClipStrategy.h"

namespace tunebench {

// Hand-crafted prompts, no training: the dataset's template, CLIP's 80- or 7-template ImageNet
// ensembles (feature averaging), or the user's own `|`-separated templates.
class ZeroShotStrategy : public ClipStrategy
{
public:
    std::string name() const override { return "zeroshot"; }
    bool needsTraining() const override { return false; }
    std::vector<at::Tensor> trainableParameters() override { return {}; }
    StateDict trainableState() override { return {}; }
    void loadTrainableState(const StateDict&) override {}
    at::Tensor classTextFeatures() override { return m_textFeatures; }
    nlohmann::json exportManifest() override;
    // The templates the current options select.
    std::vector<std::string> templates() const;

protected:
    void onAttach() override;
    void onClassesChanged() override;
    at::Tensor classLogits(const at::Tensor& images) override;

private:
    at::Tensor m_textFeatures;  // [C, E], normalised
};

StrategyInfo zeroShotStrategyInfo();

} // namespace tunebench
