#include "core/tuning/prompt/ZeroShotStrategy.h"

#include "core/Error.h"
#include "core/tuning/prompt/PromptTemplates.h"

#include <torch/torch.h>

namespace tunebench {

StrategyInfo zeroShotStrategyInfo()
{
    StrategyInfo info;
    info.name = "zeroshot";
    info.title = "Zero-shot CLIP";
    info.family = StrategyFamily::PromptLearning;
    info.description = "Hand-crafted prompts, no training: one template or an ensemble (feature averaging).";
    info.schema = {
        {"mode", ParamField::Type::Choice, "single", 0, 0, {"single", "ensemble80", "ensemble7", "custom"},
         "single: the dataset's template (or 'template'); ensemble80/ensemble7: CLIP's ImageNet ensembles; custom: 'templates'"},
        {"template", ParamField::Type::Text, "", 0, 0, {}, "single mode: this template instead of the dataset's ({} = class)"},
        {"templates", ParamField::Type::Text, "", 0, 0, {}, "custom mode: templates separated by |, e.g. 'a photo of a {}.|a {} photo.'"},
    };
    info.capabilities.needsTextTower = true;
    info.capabilities.frozenImageTower = true;
    info.capabilities.usesTrainingImages = false;
    info.create = [] { return std::make_unique<ZeroShotStrategy>(); };
    return info;
}

std::vector<std::string> ZeroShotStrategy::templates() const
{
    const std::string mode = m_params.at("mode").get<std::string>();
    if (mode == "ensemble80")
        return PromptTemplates::imagenet80();
    if (mode == "ensemble7")
        return PromptTemplates::imagenet7();
    if (mode == "custom") {
        auto list = PromptTemplates::splitList(m_params.at("templates").get<std::string>());
        if (list.empty())
            throw Error("option 'templates' is empty; custom mode needs templates separated by |");
        return list;
    }
    const std::string single = m_params.at("template").get<std::string>();
    return {single.empty() ? m_setup.promptTemplate : single};
}

void ZeroShotStrategy::onAttach()
{
    for (const auto& templ : templates())
        PromptTemplates::fill(templ, "x");  // a template without {} is an error before any work
    onClassesChanged();
}

void ZeroShotStrategy::onClassesChanged()
{
    m_textFeatures = handcraftedTextFeatures(templates());
}

at::Tensor ZeroShotStrategy::classLogits(const at::Tensor& images)
{
    return logitScale() * torch::matmul(l2Normalize(imageFeatures(images)), m_textFeatures.t());
}

nlohmann::json ZeroShotStrategy::exportManifest()
{
    auto manifest = ClipStrategy::exportManifest();
    manifest["templates"] = templates();
    return manifest;
}

} // namespace tunebench
