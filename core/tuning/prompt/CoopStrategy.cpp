#include "core/tuning/prompt/CoopStrategy.h"

#include "core/Error.h"
#include "core/io/StateDict.h"

#include <torch/torch.h>

namespace tunebench {

StrategyInfo coopStrategyInfo()
{
    StrategyInfo info;
    info.name = "coop";
    info.title = "CoOp";
    info.family = StrategyFamily::PromptLearning;
    info.description = "Context optimisation: learned context vectors replace the prompt's words (Zhou et al. 2022).";
    info.schema = {
        {"n_ctx", ParamField::Type::Int, 16, 1, 64, {}, "number of context vectors M (ignored when ctx_init is set)"},
        {"ctx_init", ParamField::Type::Text, "", 0, 0, {}, "initial words, e.g. 'a photo of a' (sets M); empty = random N(0, 0.02)"},
        {"class_token_position", ParamField::Type::Choice, "end", 0, 0, {"end", "middle", "front"}, "where the class name goes"},
        {"csc", ParamField::Type::Bool, false, 0, 0, {}, "class-specific contexts (one set per class; cannot move to new classes)"},
    };
    info.capabilities.needsTextTower = true;
    info.capabilities.frozenImageTower = true;
    info.capabilities.learnsPromptContext = true;
    info.create = [] { return std::make_unique<CoopStrategy>(); };
    return info;
}

PromptLearnerOptions CoopStrategy::learnerOptions() const
{
    PromptLearnerOptions options;
    options.contextLength = m_params.at("n_ctx").get<int>();
    options.initPhrase = m_params.at("ctx_init").get<std::string>();
    options.classTokenPosition = m_params.at("class_token_position").get<std::string>();
    options.classSpecific = m_params.at("csc").get<bool>();
    return options;
}

void CoopStrategy::onAttach()
{
    m_learner.emplace(m_model, m_setup.tokenizer, learnerOptions(), m_setup.classNames);
}

void CoopStrategy::onClassesChanged()
{
    m_learner->setClasses(m_setup.classNames);
}

std::vector<at::Tensor> CoopStrategy::trainableParameters()
{
    return {m_learner->context()};
}

StateDict CoopStrategy::trainableState()
{
    return {{"ctx", m_learner->context().detach().to(torch::kCPU).clone()}};
}

void CoopStrategy::loadTrainableState(const StateDict& state)
{
    auto it = state.find("ctx");
    if (it == state.end())
        throw Error("prompt state has no 'ctx' tensor");
    auto& ctx = m_learner->context();
    if (it->second.sizes() != ctx.sizes())
        throw Error("prompt tensor 'ctx': expected shape " + shapeString(ctx.sizes()) + ", found " + shapeString(it->second.sizes()));
    torch::NoGradGuard noGrad;
    ctx.copy_(it->second.to(ctx.device(), ctx.scalar_type()));
}

at::Tensor CoopStrategy::classLogits(const at::Tensor& images)
{
    auto text = l2Normalize(m_learner->encode());
    return logitScale() * torch::matmul(l2Normalize(imageFeatures(images)), text.t());
}

at::Tensor CoopStrategy::classTextFeatures()
{
    torch::NoGradGuard noGrad;
    return l2Normalize(m_learner->encode());
}

at::Tensor CoopStrategy::contextVectors()
{
    return m_learner->context().detach();
}

nlohmann::json CoopStrategy::exportManifest()
{
    auto manifest = ClipStrategy::exportManifest();
    manifest["n_ctx"] = m_learner->contextLength();
    manifest["prompt_prefix"] = m_learner->promptPrefix();
    return manifest;
}

} // namespace tunebench
