#include "core/tuning/prompt/ClipStrategy.h"

#include "core/Error.h"
#include "core/io/ClipTokenizer.h"
#include "core/tuning/prompt/PromptTemplates.h"

#include <torch/torch.h>

namespace tunebench {

void ClipStrategy::attach(ClipModel model, const TaskSetup& setup, const nlohmann::json& params)
{
    const std::string refusal = strategyRefusal(findStrategy(name()), model->spec());
    if (!refusal.empty())
        throw Error(refusal);
    if (!setup.tokenizer)
        throw Error("strategy '" + name() + "' needs the CLIP vocabulary (none was loaded)");
    if (setup.classNames.empty())
        throw Error("strategy '" + name() + "': the task has no classes");
    m_model = model;
    m_setup = setup;
    m_params = resolveParams(findStrategy(name()).schema, params);
    // The backbone is frozen: only the method's own tensors ever reach the optimiser.
    for (auto& p : m_model->parameters())
        p.set_requires_grad(false);
    m_model->eval();
    onAttach();
}

c10::Device ClipStrategy::device() const
{
    return m_model->logit_scale.device();
}

const ClipTokenizer& ClipStrategy::tokenizer() const
{
    return *m_setup.tokenizer;
}

at::Tensor ClipStrategy::imageFeatures(const at::Tensor& images)
{
    if (images.dim() == 2)  // features of the frozen tower, computed before (CachedFeatureSource)
        return images.to(device());
    torch::NoGradGuard noGrad;
    return m_model->encodeImage(images.to(device()));
}

DeployableModel ClipStrategy::deployable()
{
    // The frozen image tower, then the cosine against the final class text features.
    torch::NoGradGuard noGrad;
    DeployableModel d;
    d.model = m_model;
    d.scale = logitScale().item<double>();
    d.weight = classTextFeatures();
    return d;
}

at::Tensor ClipStrategy::logitScale() const
{
    return m_model->logit_scale.exp().detach();
}

at::Tensor ClipStrategy::handcraftedTextFeatures(const std::vector<std::string>& templates)
{
    if (templates.empty())
        throw Error("strategy '" + name() + "': no prompt template given");
    torch::NoGradGuard noGrad;
    torch::Tensor sum;
    for (const auto& templ : templates) {
        auto features = l2Normalize(m_model->encodeText(classPromptTokens(templ)));
        sum = sum.defined() ? sum + features : features;
    }
    return l2Normalize(sum / static_cast<double>(templates.size()));
}

at::Tensor ClipStrategy::classPromptTokens(const std::string& templ) const
{
    const int context = m_model->spec().text->contextLength;
    const auto count = static_cast<int64_t>(m_setup.classNames.size());
    auto tokens = torch::empty({count, context}, torch::kLong);
    for (int64_t c = 0; c < count; ++c) {
        const auto ids = tokenizer().tokenizeToContext(PromptTemplates::fill(templ, m_setup.classNames[size_t(c)]), context);
        std::copy(ids.begin(), ids.end(), tokens[c].data_ptr<int64_t>());
    }
    return tokens.to(device());
}

at::Tensor ClipStrategy::logits(const at::Tensor& images)
{
    torch::NoGradGuard noGrad;
    return classLogits(images.to(device()));
}

void ClipStrategy::setClasses(const std::vector<std::string>& classNames)
{
    if (classNames.empty())
        throw Error("strategy '" + name() + "': no classes given");
    m_setup.classNames = classNames;
    onClassesChanged();
}

StepOutput ClipStrategy::trainStep(const Batch& batch)
{
    auto scores = classLogits(batch.inputs);
    return {torch::nn::functional::cross_entropy(scores, batch.labels.to(scores.device())), scores.detach()};
}

TrainerConfig ClipStrategy::defaultTrainerConfig(int shots) const
{
    // CoOp's few-shot schedule (methods.md 0 and 4): SGD 0.002, momentum 0.9, wd 5e-4, 1 warm-up epoch at 1e-5.
    TrainerConfig config;
    config.optimizer = "sgd";
    config.lr = 0.002;
    config.epochs = shots <= 1 ? 50 : shots <= 4 ? 100 : 200;
    return config;
}

StateDict ClipStrategy::exportTensors()
{
    StateDict tensors = trainableState();
    tensors["class_text_features"] = classTextFeatures().detach().to(torch::kCPU, torch::kFloat).contiguous();
    return tensors;
}

nlohmann::json ClipStrategy::exportManifest()
{
    const ModelSpec& spec = m_model->spec();
    return {{"method", name()},
            {"params", m_params},
            {"checkpoint", {{"name", spec.name}, {"format", spec.format}, {"sha256", spec.sha256}, {"path", spec.path}}},
            {"class_names", m_setup.classNames},
            {"template", m_setup.promptTemplate},
            {"dataset", m_setup.datasetName},
            {"shots", m_setup.shots},
            {"tokenizer", m_setup.tokenizer ? m_setup.tokenizer->description() : std::string()},
            {"trainable_parameters", trainableParameterCount()}};
}

} // namespace tunebench
