#pragma once

#include "core/tuning/adaptation/DomainAdaptiveLearner.h"
#include "core/tuning/prompt/ClipStrategy.h"
#include "core/tuning/prompt/PromptLearner.h"

#include <array>
#include <optional>

namespace tunebench {

// DAPL (domain adaptation via prompt learning): every prompt is [SOT] [agnostic context] [domain
// context] class ", a {domain} image.." with the agnostic context shared by both domains and one domain
// context per domain. Source images train the source prompts with their labels; target images train the
// target prompts with pseudo-labels from the fixed zero-shot prompts "a photo of a {}.", kept where the
// zero-shot probability reaches the threshold. Target images are scored with the target prompts.
class DaplStrategy : public ClipStrategy, public DomainAdaptiveLearner
{
public:
    std::string name() const override { return "dapl"; }
    std::vector<at::Tensor> trainableParameters() override;
    StateDict trainableState() override;
    void loadTrainableState(const StateDict& state) override;
    StepOutput trainStep(const Batch& batch) override;
    TrainerConfig defaultTrainerConfig(int shots) const override;
    int defaultBatchSize(int shots) const override { return 32; }
    at::Tensor classTextFeatures() override;
    at::Tensor contextVectors() override { return m_context.detach(); }
    StateDict exportTensors() override;
    nlohmann::json exportManifest() override;
    void setInferenceSide(AdaptationSide side) override { m_side = side; }

    // Logits [B, 3K] against the source prompts, the target prompts and the zero-shot prompts, in that
    // order (the reference's layout: prompt index = domain * K + class, zero-shot last).
    at::Tensor allLogits(const at::Tensor& images);
    // The target loss's pseudo-labels from zero-shot logits [B, K]: softmax(logits / T), argmax, and the
    // mask of rows whose top probability is at least tau.
    struct PseudoLabels
    {
        at::Tensor labels;  // [B] int64
        at::Tensor mask;    // [B] float, 1 = kept
    };
    static PseudoLabels pseudoLabels(const at::Tensor& zeroShotLogits, double temperature, double threshold);
    // The token sequence of each learned prompt (index = domain * K + class), as the tokenizer sees it.
    std::vector<std::string> promptTexts() const;

protected:
    void onAttach() override;
    void onClassesChanged() override;
    at::Tensor classLogits(const at::Tensor& images) override;

private:
    // Text features [K, E] (unnormalised) of domain d's learned prompts.
    at::Tensor domainFeatures(int d);
    PromptLearnerOptions learnerOptions(int d) const;

    int m_agnosticLength = 16, m_domainLength = 16;
    at::Tensor m_context;        // [M1, D] or [K, M1, D] (csc)
    at::Tensor m_domainContext;  // [2, M2, D]
    std::array<std::optional<PromptLearner>, 2> m_learners;  // source, target
    at::Tensor m_zeroShot;       // [K, E], normalised "a photo of a {}." features
    AdaptationSide m_side = AdaptationSide::Target;
};

StrategyInfo daplStrategyInfo();

} // namespace tunebench
