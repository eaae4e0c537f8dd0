#include "core/tuning/prompt/PromptTuningStrategy.h"

namespace tunebench {

StrategyInfo promptTuningStrategyInfo()
{
    StrategyInfo info;
    info.name = "prompt-tuning";
    info.title = "Prompt Tuning";
    info.family = StrategyFamily::PromptLearning;
    info.description = "A shallow soft prompt at the text tower's input, drawn from the vocabulary's embeddings "
                       "(Lester et al. 2021).";
    // The reference's 100 vectors do not fit CLIP's 77-token context with a class name; 16 as in CoOp.
    info.schema = {
        {"n_ctx", ParamField::Type::Int, 16, 1, 64, {}, "soft prompt length p"},
        {"init", ParamField::Type::Choice, "vocabulary", 0, 0, {"vocabulary", "random"},
         "vocabulary: vectors drawn from the first 5,000 token embeddings; random: N(0, 0.02)"},
    };
    info.capabilities.needsTextTower = true;
    info.capabilities.frozenImageTower = true;
    info.capabilities.learnsPromptContext = true;
    info.create = [] { return std::make_unique<PromptTuningStrategy>(); };
    return info;
}

PromptLearnerOptions PromptTuningStrategy::learnerOptions() const
{
    PromptLearnerOptions options;
    options.contextLength = m_params.at("n_ctx").get<int>();
    options.initFromVocabulary = m_params.at("init").get<std::string>() == "vocabulary";
    return options;
}

} // namespace tunebench
