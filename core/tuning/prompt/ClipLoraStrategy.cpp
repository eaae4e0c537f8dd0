#include "core/tuning/prompt/ClipLoraStrategy.h"

#include "core/Error.h"
#include "core/tuning/prompt/PromptTemplates.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

namespace tunebench {

StrategyInfo clipLoraStrategyInfo()
{
    StrategyInfo info;
    info.name = "clip-lora";
    info.title = "CLIP-LoRA";
    info.family = StrategyFamily::PromptLearning;
    info.description = "Low-rank updates of q, k and v in every block of both towers, with the hand-crafted prompt as text (Zanella & Ben Ayed 2024).";
    info.schema = {
        {"rank", ParamField::Type::Int, 2, 1, 1024, {}, "rank r of each update B A"},
        {"alpha", ParamField::Type::Double, 1.0, 0, 1e6, {}, "the update is scaled by alpha / r"},
        {"dropout", ParamField::Type::Double, 0.25, 0, 0.95, {}, "dropout on the update's input while training"},
        {"targets", ParamField::Type::Text, "q,k,v", 0, 0, {}, "comma list of q, k, v, qkv, o, fc1, fc2"},
        {"encoder", ParamField::Type::Choice, "both", 0, 0, {"both", "vision", "text"}, "which towers get the updates"},
    };
    info.capabilities.needsTextTower = true;
    info.capabilities.needsVitImageTower = true;
    info.create = [] { return std::make_unique<ClipLoraStrategy>(); };
    return info;
}

ClipLoraStrategy::ClipLoraStrategy() = default;
ClipLoraStrategy::~ClipLoraStrategy() = default;

void ClipLoraStrategy::onAttach()
{
    LowRankOptions options;
    options.targets = parseLowRankTargets(m_params.at("targets").get<std::string>(), "targets");
    options.rank = m_params.at("rank").get<int>();
    options.alpha = m_params.at("alpha").get<double>();
    options.dropout = m_params.at("dropout").get<double>();
    const std::string encoder = m_params.at("encoder").get<std::string>();
    const ModelSpec& spec = m_model->spec();
    if (encoder != "text") {
        m_vision = LowRankAdapters(spec.vision, options, *m_model->visual->transformer);
        m_vision->to(device());
        m_visionHooks = std::make_unique<LowRankHooks>(m_vision);
    }
    if (encoder != "vision") {
        m_text = LowRankAdapters(*spec.text, options, *m_model->text->transformer);
        m_text->to(device());
        m_textHooks = std::make_unique<LowRankHooks>(m_text);
    }
    setTraining(false);
    PromptTemplates::fill(m_setup.promptTemplate, "x");  // a template without {} is an error before any work
    onClassesChanged();
}

void ClipLoraStrategy::onClassesChanged()
{
    m_tokens = classPromptTokens(m_setup.promptTemplate);
}

void ClipLoraStrategy::setTraining(bool training)
{
    ClipStrategy::setTraining(training);
    for (auto* adapters : {m_vision.get(), m_text.get()})
        if (adapters)
            adapters->train(training);  // the updates' dropout
}

at::Tensor ClipLoraStrategy::textFeatures()
{
    return l2Normalize(m_model->encodeText(m_tokens, m_textHooks.get()));
}

at::Tensor ClipLoraStrategy::classTextFeatures()
{
    torch::NoGradGuard noGrad;
    return textFeatures();
}

DeployableModel ClipLoraStrategy::deployable()
{
    DeployableModel d = ClipStrategy::deployable();
    if (m_visionHooks)  // not owned: the description lives no longer than the strategy
        d.hooks = std::shared_ptr<TransformerHooks>(std::shared_ptr<TransformerHooks>(), m_visionHooks.get());
    return d;
}

at::Tensor ClipLoraStrategy::classLogits(const at::Tensor& images)
{
    if (images.dim() == 2)
        throw Error("clip-lora trains the image tower: it needs images, not cached features");
    const auto image = l2Normalize(m_model->encodeImage(images.to(device()), m_visionHooks.get()));
    return logitScale() * torch::matmul(image, textFeatures().t());
}

std::vector<std::pair<std::string, at::Tensor>> ClipLoraStrategy::ownTensors() const
{
    std::vector<std::pair<std::string, at::Tensor>> out;
    const std::pair<const char*, const LowRankAdapters*> towers[] = {{"visual_lora.", &m_vision}, {"text_lora.", &m_text}};
    for (const auto& [prefix, adapters] : towers)
        if (*adapters)
            for (const auto& item : (*adapters)->named_parameters(true))
                out.emplace_back(prefix + item.key(), item.value());
    return out;
}

std::vector<at::Tensor> ClipLoraStrategy::trainableParameters()
{
    std::vector<at::Tensor> out;
    for (const auto& item : ownTensors())
        out.push_back(item.second);
    return out;
}

StateDict ClipLoraStrategy::trainableState()
{
    StateDict state;
    for (const auto& [name, tensor] : ownTensors())
        state[name] = tensor.detach().to(torch::kCPU).clone();
    return state;
}

void ClipLoraStrategy::loadTrainableState(const StateDict& state)
{
    loadStateInto(ownTensors(), state, name(), {"class_text_features"});  // an export's tensors load too
}

StateDict ClipLoraStrategy::mergedWeights() const
{
    StateDict merged;
    if (m_vision)
        merged = m_vision->mergedWeights(*m_model->visual->transformer, "visual.transformer.");
    if (m_text)
        for (auto& item : m_text->mergedWeights(*m_model->text->transformer, "text.transformer."))
            merged.insert(item);
    return merged;
}

TrainerConfig ClipLoraStrategy::defaultTrainerConfig(int shots) const
{
    TrainerConfig config;
    config.optimizer = "adamw";
    config.lr = 2e-4;
    config.weightDecay = 1e-2;
    config.warmupEpochs = 0;
    config.cosinePerStep = true;
    // 500 x shots iterations of batch 32 (the reference), as epochs over this task's K x shots images.
    const double images = static_cast<double>(std::max<std::size_t>(1, m_setup.classNames.size())) * std::max(1, shots);
    const double stepsPerEpoch = std::max(1.0, std::ceil(images / defaultBatchSize(shots)));
    config.epochs = static_cast<int>(std::ceil(500.0 * std::max(1, shots) / stepsPerEpoch));
    return config;
}

nlohmann::json ClipLoraStrategy::exportManifest()
{
    auto manifest = ClipStrategy::exportManifest();
    manifest["family"] = "clip-lora";
    return manifest;
}

} // namespace tunebench
