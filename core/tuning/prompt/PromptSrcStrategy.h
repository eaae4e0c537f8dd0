#pragma once

#include "core/tuning/prompt/IvlpStrategy.h"

#include <map>

namespace tunebench {

// PromptSRC (Khattak et al. 2023): IVLP prompts (4 + 4 tokens, depth 9) regulated by the frozen model:
// loss = CE + 25 L1(text features, frozen text features averaged over a template set)
//           + 10 L1(prompted image feature, frozen image feature) + 1 KL(zero-shot logits || prompted logits)
// (features L2-normalised; the KL summed and divided by the number of logits), and Gaussian prompt
// aggregation: after epoch e (1-based) the prompts are added to a running aggregate with weight
// N(e; mean, std) normalised over the run's epochs; after the last epoch the aggregate replaces them, and
// it is what is evaluated and exported.
class PromptSrcStrategy : public IvlpStrategy
{
public:
    std::string name() const override { return "promptsrc"; }
    StepOutput trainStep(const Batch& batch) override;
    void afterEpoch(int epoch, int epochs) override;
    StateDict trainableState() override;  // the prompts, plus "aggregate.<name>" while aggregating
    void loadTrainableState(const StateDict& state) override;
    StateDict exportTensors() override;   // the prompts only
    TrainerConfig defaultTrainerConfig(int shots) const override;

    // The Gaussian weights of epochs 1..epochs, normalised to sum 1.
    static std::vector<double> aggregationWeights(int epochs, double mean, double std);

protected:
    void onAttach() override;
    void onClassesChanged() override;

private:
    at::Tensor m_teacher;  // [C, E] frozen text features averaged over the templates, normalised
    std::map<std::string, at::Tensor> m_aggregate;
};

StrategyInfo promptSrcStrategyInfo();

} // namespace tunebench
