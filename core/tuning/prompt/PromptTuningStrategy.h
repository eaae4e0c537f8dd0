#pragma once

#include "core/tuning/prompt/CoopStrategy.h"

namespace tunebench {

// Prompt Tuning (Lester et al. 2021) on CLIP's text tower: a shallow soft prompt of p vectors at the
// tower's input, after the start token and before the class name, initialised from the vocabulary
// (vectors drawn from the first 5,000 token embeddings). Only the prompt trains.
class PromptTuningStrategy : public CoopStrategy
{
public:
    std::string name() const override { return "prompt-tuning"; }

protected:
    PromptLearnerOptions learnerOptions() const override;
};

StrategyInfo promptTuningStrategyInfo();

} // namespace tunebench
