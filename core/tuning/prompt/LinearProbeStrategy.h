#pragma once

#include "core/tuning/prompt/ClipStrategy.h"

namespace tunebench {

// CLIP's linear probe: L2-regularised multinomial logistic regression (L-BFGS, at most 1000 iterations)
// on frozen image features; C is chosen on the val split (the reference's grid, then 8 log-space
// bisection steps). The classifier belongs to its classes: other classes are refused.
class LinearProbeStrategy : public ClipStrategy
{
public:
    std::string name() const override { return "linear-probe"; }
    bool needsTraining() const override { return false; }
    bool prepareWithAugmentation() const override { return false; }
    void prepare(BatchSource& train) override;
    void tuneOnValidation(BatchSource& val) override;
    DeployableModel deployable() override;
    std::vector<at::Tensor> trainableParameters() override { return {}; }
    StateDict trainableState() override;
    void loadTrainableState(const StateDict& state) override;
    at::Tensor classTextFeatures() override;
    nlohmann::json exportManifest() override;

    // Fits W, b on features [N, E] and labels [N] with sklearn's objective 0.5 |W|^2 + C sum CE.
    void fit(const at::Tensor& features, const at::Tensor& labels, double c);
    at::Tensor logitsFromFeatures(const at::Tensor& features) const;
    double chosenC() const { return m_c; }

protected:
    void onAttach() override {}
    void onClassesChanged() override;
    at::Tensor classLogits(const at::Tensor& images) override;

private:
    at::Tensor m_weight, m_bias;  // [C, E], [C]
    at::Tensor m_trainFeatures, m_trainLabels;
    std::vector<std::string> m_fittedClasses;
    double m_c = 1.0;
};

StrategyInfo linearProbeStrategyInfo();

} // namespace tunebench
