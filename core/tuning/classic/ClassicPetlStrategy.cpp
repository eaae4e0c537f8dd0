#include "core/tuning/classic/ClassicPetlStrategy.h"

#include "core/Error.h"
#include "core/io/StateDict.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

namespace tunebench {

namespace {

bool startsWith(const std::string& text, const std::string& prefix)
{
    return text.compare(0, prefix.size(), prefix) == 0;
}

} // namespace

ClipModel copyModel(const ClipModel& model)
{
    ClipModel copy(model->spec());
    torch::NoGradGuard noGrad;
    auto source = model->named_parameters(true);
    for (auto& item : copy->named_parameters(true))
        item.value().copy_(source[item.key()]);
    auto sourceBuffers = model->named_buffers(true);
    for (auto& item : copy->named_buffers(true))
        item.value().copy_(sourceBuffers[item.key()]);
    copy->to(model->device());
    return copy;
}

ClassicPetlStrategy::ClassicPetlStrategy() = default;

void ClassicPetlStrategy::attach(ClipModel model, const TaskSetup& setup, const nlohmann::json& params)
{
    if (!model)
        throw Error(name() + ": no model to attach to");
    const std::string refusal = strategyRefusal(findStrategy(name()), model->spec());
    if (!refusal.empty())
        throw Error(refusal);
    if (setup.classNames.size() < 2)
        throw Error(name() + ": a classifier needs at least 2 classes, got " + std::to_string(setup.classNames.size()));
    nlohmann::json given = m_paramDefaults;
    if (params.is_object())
        given.update(params);
    m_params = resolveParams(paramSchema(), given);
    m_classNames = setup.classNames;
    m_model = model;
    // The backbone is frozen first, so that a subclass's predicate only has to name what trains.
    for (auto& p : m_model->parameters())
        p.set_requires_grad(false);
    bool trainsBackbone = false;
    for (const auto& [name, tensor] : backboneTensors())
        trainsBackbone = trainsBackbone || trainsBackboneTensor(name);
    // compare (and the GUI) attach several strategies to one loaded model: weights that train live in a
    // private copy, so the caller's backbone stays the pre-trained one.
    if (trainsBackbone) {
        m_model = copyModel(model);
        for (auto& p : m_model->parameters())
            p.set_requires_grad(false);
        for (auto& [name, tensor] : backboneTensors())
            if (trainsBackboneTensor(name))
                tensor.set_requires_grad(true);
    }
    const VisionSpec& vision = m_model->spec().vision;
    const auto device = m_model->device();
    m_methodModule = createMethodModule(vision);
    if (m_methodModule)
        m_methodModule->to(device);
    m_head = VptHead(featureWidth(m_model->spec()), headHiddenLayers(), static_cast<int>(m_classNames.size()));
    m_head->to(device);
    setTraining(false);
}

NamedTensors ClassicPetlStrategy::backboneTensors() const
{
    NamedTensors out;
    for (const auto& item : m_model->named_parameters(true)) {
        if (startsWith(item.key(), "visual.") && item.key() != "visual.proj")  // a ResNet's c_proj stays: its pool is the feature
            out.emplace_back(item.key(), item.value());
    }
    return out;
}

NamedTensors ClassicPetlStrategy::trainableBackboneTensors() const
{
    NamedTensors out;
    for (const auto& item : backboneTensors())
        if (trainsBackboneTensor(item.first))
            out.push_back(item);
    return out;
}

NamedTensors ClassicPetlStrategy::ownTensors(bool withBuffers) const
{
    NamedTensors out;
    auto add = [&](const std::string& prefix, const torch::nn::Module& module) {
        for (const auto& item : module.named_parameters(true))
            out.emplace_back(prefix + item.key(), item.value());
        if (withBuffers)
            for (const auto& item : module.named_buffers(true))
                out.emplace_back(prefix + item.key(), item.value());
    };
    if (m_methodModule)
        add(methodModuleName() + ".", *m_methodModule);
    add("head.", *m_head);
    return out;
}

std::int64_t ClassicPetlStrategy::backboneParameterCount() const
{
    std::int64_t count = 0;
    for (const auto& item : backboneTensors())
        count += item.second.numel();
    return count;
}

std::vector<at::Tensor> ClassicPetlStrategy::trainableParameters()
{
    if (!m_head)
        throw Error(name() + ": attach() must come before training");
    std::vector<at::Tensor> out;
    for (const auto& item : trainableBackboneTensors())
        out.push_back(item.second);
    for (const auto& item : ownTensors(false))
        out.push_back(item.second);
    return out;
}

void ClassicPetlStrategy::setTraining(bool training)
{
    m_training = training;
    if (m_model->hasVitImageTower())
        m_model->visual->train(training && encoderFollowsTrainingMode());  // dropout; a ResNet's BatchNorm is frozen
    m_head->train(training);
    if (m_methodModule)
        m_methodModule->train(training);
}

int ClassicPetlStrategy::featureWidth(const ModelSpec& spec)
{
    return spec.vision.isResNet() ? spec.embedDim() : spec.vision.width;
}

at::Tensor ClassicPetlStrategy::features(const at::Tensor& images)
{
    if (!m_model->hasVitImageTower())
        return combineFeatures(images, m_model->resnet(images));
    auto& visual = m_model->visual;
    auto tokens = visual->transformer(visual->embed(images), false, hooks());
    auto pooled = visual->ln_post(tokens.select(1, 0));
    return combineFeatures(images, pooled);
}

StepOutput ClassicPetlStrategy::trainStep(const Batch& batch)
{
    StepOutput out;
    out.logits = m_head(features(batch.inputs));
    out.loss = torch::nn::functional::cross_entropy(out.logits, batch.labels);
    return out;
}

at::Tensor ClassicPetlStrategy::logits(const at::Tensor& images)
{
    const bool wasTraining = m_training;
    if (wasTraining)
        setTraining(false);  // BatchNorm statistics and dropout must not move during evaluation
    at::Tensor out;
    {
        torch::NoGradGuard noGrad;
        out = m_head(features(images));
    }
    if (wasTraining)
        setTraining(true);
    return out;
}

void ClassicPetlStrategy::setClasses(const std::vector<std::string>&)
{
    throw Error(name() + ": a classifier head is trained for its own classes and cannot take new ones "
                         "(base-to-new evaluation needs a CLIP prompt method)");
}

int ClassicPetlStrategy::defaultBatchSize(int shots) const
{
    // The reference batches (128-1024) are for 1,000-image VTAB tasks; a few-shot set of a few hundred
    // images would give one step per epoch.
    return 32;
}

TrainerConfig ClassicPetlStrategy::sgdRecipe(double lr, int warmupEpochs) const
{
    TrainerConfig config;
    config.optimizer = "sgd";
    config.lr = lr;
    config.momentum = 0.9;
    config.weightDecay = 1e-4;
    config.epochs = 100;
    config.warmupEpochs = warmupEpochs;
    // The reference warms up linearly from 0; our trainer's warm-up is constant, so it runs at the
    // ramp's mean.
    config.warmupLr = lr * 0.5;
    return config;
}

TrainerConfig ClassicPetlStrategy::adamwRecipe(double lr, double weightDecay, int warmupEpochs) const
{
    TrainerConfig config;
    config.optimizer = "adamw";
    config.lr = lr;
    config.weightDecay = weightDecay;
    config.epochs = 100;
    config.warmupEpochs = warmupEpochs;
    config.warmupLr = lr * 0.5;
    return config;
}

StateDict ClassicPetlStrategy::trainableState()
{
    StateDict state;
    for (const auto& [name, tensor] : trainableBackboneTensors())
        state[name] = tensor.detach().to(torch::kCPU).clone();
    for (const auto& [name, tensor] : ownTensors(true))
        state[name] = tensor.detach().to(torch::kCPU).clone();
    return state;
}

void ClassicPetlStrategy::loadTrainableState(const StateDict& state)
{
    NamedTensors targets = trainableBackboneTensors();
    for (const auto& item : ownTensors(true))
        targets.push_back(item);
    loadStateInto(targets, state, name());
}

StateDict ClassicPetlStrategy::exportTensors()
{
    return trainableState();
}

DeployableModel ClassicPetlStrategy::deployable()
{
    if (!m_head)
        throw Error(name() + ": attach() must come before export");
    DeployableModel d;
    // MLP-k's hidden layers: Linear, ReLU, BatchNorm (its running statistics at inference), dropout (off).
    for (int i = 0; i < m_head->hiddenLayers(); ++i) {
        const auto* linear = m_head->projection[size_t(4 * i)]->as<torch::nn::Linear>();
        const auto* norm = m_head->projection[size_t(4 * i + 2)]->as<torch::nn::BatchNorm1d>();
        const auto scale = norm->weight / torch::sqrt(norm->running_var + norm->options.eps());
        d.hiddenLayers.push_back({linear->weight.detach(), linear->bias.detach(), scale.detach(), (norm->bias - norm->running_mean * scale).detach()});
    }
    d.model = m_model;
    // Not owned: the description lives no longer than the strategy.
    if (TransformerHooks* own = hooks())
        d.hooks = std::shared_ptr<TransformerHooks>(std::shared_ptr<TransformerHooks>(), own);
    d.project = false;
    d.normalize = false;
    d.weight = m_head->last_layer->weight.detach();
    d.bias = m_head->last_layer->bias.detach();
    return d;
}

nlohmann::json ClassicPetlStrategy::exportManifest()
{
    const ModelSpec& spec = m_model->spec();
    return {{"method", name()},
            {"family", "classic-petl"},
            {"params", m_params},
            // The names PromptExport reads for every family.
            {"class_names", m_classNames},
            {"checkpoint", {{"name", spec.name}, {"format", spec.format}, {"sha256", spec.sha256}, {"path", spec.path}, {"family", spec.familyName()}}},
            {"feature", "ln_post of the final [CLS] token, without projection"},
            {"head_hidden_layers", m_head->hiddenLayers()},
            {"trainable_parameters", trainableParameterCount()},
            {"backbone_parameters", backboneParameterCount()}};
}

} // namespace tunebench
