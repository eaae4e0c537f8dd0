#pragma once

#include "core/tuning/prompt/CoopStrategy.h"

namespace tunebench {

// KgCoOp: CoOp (M = 4 from "a photo of a") whose loss adds lambda x (1 - mean cosine) between the learned
// class text features and the frozen hand-crafted ones, keeping the context near CLIP's knowledge.
class KgCoopStrategy : public CoopStrategy
{
public:
    std::string name() const override { return "kgcoop"; }
    StepOutput trainStep(const Batch& batch) override;
    TrainerConfig defaultTrainerConfig(int shots) const override;
    int defaultBatchSize(int shots) const override { return 128; }

protected:
    void onAttach() override;
    void onClassesChanged() override;
    PromptLearnerOptions learnerOptions() const override;

private:
    at::Tensor m_teacher;  // [C, E], normalised hand-crafted text features
};

StrategyInfo kgcoopStrategyInfo();

} // namespace tunebench
