#include "core/tuning/prompt/KgCoopStrategy.h"

#include <torch/torch.h>

namespace tunebench {

StrategyInfo kgcoopStrategyInfo()
{
    StrategyInfo info;
    info.name = "kgcoop";
    info.title = "KgCoOp";
    info.family = StrategyFamily::PromptLearning;
    info.description = "Knowledge-guided CoOp: keeps learned prompts close to the hand-crafted ones (Yao et al. 2023).";
    info.schema = {
        {"n_ctx", ParamField::Type::Int, 4, 1, 64, {}, "number of context vectors M (ignored when ctx_init is set)"},
        {"ctx_init", ParamField::Type::Text, "a photo of a", 0, 0, {}, "initial words (sets M)"},
        {"lambda", ParamField::Type::Double, 8.0, 0.0, 1000.0, {}, "weight of the knowledge-guided term (published scripts: 8.0)"},
    };
    info.capabilities.needsTextTower = true;
    info.capabilities.frozenImageTower = true;
    info.capabilities.learnsPromptContext = true;
    info.create = [] { return std::make_unique<KgCoopStrategy>(); };
    return info;
}

PromptLearnerOptions KgCoopStrategy::learnerOptions() const
{
    PromptLearnerOptions options;
    options.contextLength = m_params.at("n_ctx").get<int>();
    options.initPhrase = m_params.at("ctx_init").get<std::string>();
    return options;
}

void KgCoopStrategy::onAttach()
{
    CoopStrategy::onAttach();
    m_teacher = handcraftedTextFeatures({m_setup.promptTemplate});
}

void KgCoopStrategy::onClassesChanged()
{
    CoopStrategy::onClassesChanged();
    m_teacher = handcraftedTextFeatures({m_setup.promptTemplate});
}

StepOutput KgCoopStrategy::trainStep(const Batch& batch)
{
    auto text = l2Normalize(m_learner->encode());
    auto scores = logitScale() * torch::matmul(l2Normalize(imageFeatures(batch.inputs)), text.t());
    // The knowledge-guided term: 1 - mean over classes of cos(learned, hand-crafted).
    auto distance = 1.0 - torch::cosine_similarity(text, m_teacher, 1).mean();
    auto loss = torch::nn::functional::cross_entropy(scores, batch.labels.to(scores.device())) +
                m_params.at("lambda").get<double>() * distance;
    return {loss, scores.detach()};
}

TrainerConfig KgCoopStrategy::defaultTrainerConfig(int shots) const
{
    TrainerConfig config = ClipStrategy::defaultTrainerConfig(shots);
    config.epochs = 100;  // base-to-new recipe (vit_b16_ep100_ctxv1)
    return config;
}

} // namespace tunebench
