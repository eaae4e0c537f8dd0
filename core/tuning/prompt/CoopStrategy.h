#pragma once

#include "core/tuning/prompt/ClipStrategy.h"
#include "core/tuning/prompt/PromptLearner.h"

#include <optional>

namespace tunebench {

// CoOp: M learned context vectors in place of the prompt's words; only the context trains.
class CoopStrategy : public ClipStrategy
{
public:
    std::string name() const override { return "coop"; }
    std::vector<at::Tensor> trainableParameters() override;
    StateDict trainableState() override;
    void loadTrainableState(const StateDict& state) override;
    at::Tensor classTextFeatures() override;
    at::Tensor contextVectors() override;
    nlohmann::json exportManifest() override;
    int defaultBatchSize(int shots) const override { return 32; }

    PromptLearner& learner() { return *m_learner; }

protected:
    void onAttach() override;
    void onClassesChanged() override;
    at::Tensor classLogits(const at::Tensor& images) override;
    // The learner's options from the strategy's params (subclasses force their recipe's values).
    virtual PromptLearnerOptions learnerOptions() const;

    std::optional<PromptLearner> m_learner;
};

StrategyInfo coopStrategyInfo();

} // namespace tunebench
