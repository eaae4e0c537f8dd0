#include "core/tuning/adaptation/DaplStrategy.h"

#include "core/Error.h"
#include "core/io/StateDict.h"

#include <torch/torch.h>

namespace tunebench {

namespace {

// The reference's fixed prompts, whose zero-shot probabilities give the target's pseudo-labels.
const char* const kZeroShotTemplate = "a photo of a {}.";

void copyChecked(at::Tensor& into, const StateDict& state, const std::string& key)
{
    auto it = state.find(key);
    if (it == state.end())
        throw Error("DAPL state has no '" + key + "' tensor");
    if (it->second.sizes() != into.sizes())
        throw Error("DAPL tensor '" + key + "': expected shape " + shapeString(into.sizes()) + ", found " + shapeString(it->second.sizes()));
    torch::NoGradGuard noGrad;
    into.copy_(it->second.to(into.device(), into.scalar_type()));
}

} // namespace

StrategyInfo daplStrategyInfo()
{
    StrategyInfo info;
    info.name = "dapl";
    info.title = "DAPL";
    info.family = StrategyFamily::PromptLearning;
    info.description = "Domain adaptation via prompt learning: shared and per-domain contexts, trained on labelled source and "
                       "pseudo-labelled target images (Ge et al. 2022).";
    info.schema = {
        {"n_ctx", ParamField::Type::Int, 16, 1, 64, {}, "domain-agnostic context vectors M1, shared by both domains"},
        {"n_dmx", ParamField::Type::Int, 16, 1, 64, {}, "domain-specific context vectors M2, one set per domain"},
        {"csc", ParamField::Type::Bool, false, 0, 0, {}, "class-specific agnostic contexts (the VisDA recipe); domain contexts stay shared"},
        {"temperature", ParamField::Type::Double, 1.0, 0.01, 100.0, {}, "T: the zero-shot logits are divided by it before the softmax"},
        {"threshold", ParamField::Type::Double, 0.5, 0.0, 1.0, {}, "tau: a target image gets a pseudo-label when its top zero-shot probability reaches it"},
        {"target_weight", ParamField::Type::Double, 1.0, 0.0, 100.0, {}, "U: weight of the pseudo-labelled target loss"},
    };
    info.capabilities.needsTextTower = true;
    info.capabilities.frozenImageTower = true;
    info.capabilities.learnsPromptContext = true;
    info.capabilities.adaptsToTarget = true;
    info.create = [] { return std::make_unique<DaplStrategy>(); };
    return info;
}

PromptLearnerOptions DaplStrategy::learnerOptions(int d) const
{
    PromptLearnerOptions options;
    options.contextLength = m_agnosticLength + m_domainLength;
    options.classSpecific = m_params.at("csc").get<bool>();
    // The reference joins the class name and ", a {domain} image." with a space and ends with another ".".
    options.classSuffix = " , a " + m_setup.domainNames[size_t(d)] + " image..";
    return options;
}

void DaplStrategy::onAttach()
{
    if (m_setup.domainNames.size() != 2 || m_setup.domainNames[0].empty() || m_setup.domainNames[1].empty())
        throw Error("dapl adapts a labelled source domain to an unlabelled target domain and needs both: run it with "
                    "tunebench-cli adapt, or give train --adapt-to TARGET");
    m_agnosticLength = m_params.at("n_ctx").get<int>();
    m_domainLength = m_params.at("n_dmx").get<int>();
    const auto classes = static_cast<int64_t>(m_setup.classNames.size());
    const int64_t width = m_model->text->spec().width;
    const auto options = torch::TensorOptions(device());
    // The reference draws the agnostic context first, then the domain contexts, both N(0, 0.02).
    m_context = m_params.at("csc").get<bool>() ? torch::empty({classes, m_agnosticLength, width}, options)
                                               : torch::empty({m_agnosticLength, width}, options);
    torch::nn::init::normal_(m_context, 0.0, 0.02);
    m_context.set_requires_grad(true);
    m_domainContext = torch::empty({2, m_domainLength, width}, options);
    torch::nn::init::normal_(m_domainContext, 0.0, 0.02);
    m_domainContext.set_requires_grad(true);
    for (int d = 0; d < 2; ++d)
        m_learners[size_t(d)].emplace(m_model, m_setup.tokenizer, learnerOptions(d), m_setup.classNames);
    m_zeroShot = handcraftedTextFeatures({kZeroShotTemplate});
}

void DaplStrategy::onClassesChanged()
{
    for (auto& learner : m_learners)
        learner->setClasses(m_setup.classNames);
    m_zeroShot = handcraftedTextFeatures({kZeroShotTemplate});
}

std::vector<at::Tensor> DaplStrategy::trainableParameters()
{
    return {m_context, m_domainContext};
}

StateDict DaplStrategy::trainableState()
{
    return {{"ctx", m_context.detach().to(torch::kCPU).clone()}, {"domain_vectors", m_domainContext.detach().to(torch::kCPU).clone()}};
}

void DaplStrategy::loadTrainableState(const StateDict& state)
{
    copyChecked(m_context, state, "ctx");
    copyChecked(m_domainContext, state, "domain_vectors");
}

at::Tensor DaplStrategy::domainFeatures(int d)
{
    auto domain = m_domainContext.select(0, d);  // [M2, D]
    at::Tensor context = m_context.dim() == 3
                             ? torch::cat({m_context, domain.unsqueeze(0).expand({m_context.size(0), -1, -1})}, 1)
                             : torch::cat({m_context, domain}, 0);
    return m_learners[size_t(d)]->encodeContext(context);
}

at::Tensor DaplStrategy::allLogits(const at::Tensor& images)
{
    auto source = l2Normalize(domainFeatures(0));
    auto target = l2Normalize(domainFeatures(1));
    auto text = torch::cat({source, target, m_zeroShot.to(source.scalar_type())}, 0);
    auto image = l2Normalize(imageFeatures(images));
    return logitScale() * torch::matmul(image.to(text.scalar_type()), text.t());
}

DaplStrategy::PseudoLabels DaplStrategy::pseudoLabels(const at::Tensor& zeroShotLogits, double temperature, double threshold)
{
    torch::NoGradGuard noGrad;
    auto probabilities = torch::softmax(zeroShotLogits.to(torch::kFloat) / temperature, -1);
    auto [top, labels] = probabilities.max(-1);
    return {labels, top.ge(threshold).to(torch::kFloat)};
}

StepOutput DaplStrategy::trainStep(const Batch& batch)
{
    const auto classes = static_cast<int64_t>(m_setup.classNames.size());
    auto labels = batch.labels.to(device());
    auto isTarget = labels.lt(0);
    auto sourceRows = isTarget.logical_not().nonzero().squeeze(1);
    auto targetRows = isTarget.nonzero().squeeze(1);
    // One pass: the text features do not depend on the images, so the source and target batches share them.
    auto logits = allLogits(batch.inputs);
    auto sourceLogits = logits.narrow(1, 0, classes);
    auto targetLogits = logits.narrow(1, classes, classes);
    auto loss = torch::zeros({}, logits.options().dtype(torch::kFloat));
    StepOutput out;
    if (sourceRows.numel() > 0) {
        auto lossX = torch::nn::functional::cross_entropy(sourceLogits.index_select(0, sourceRows), labels.index_select(0, sourceRows));
        loss = loss + lossX;
        out.metrics["loss_source"] = lossX.item<double>();
    }
    if (targetRows.numel() > 0) {
        const auto pseudo = pseudoLabels(logits.narrow(1, 2 * classes, classes).index_select(0, targetRows),
                                         m_params.at("temperature").get<double>(), m_params.at("threshold").get<double>());
        const double kept = pseudo.mask.sum().item<double>();
        out.metrics["pseudo_label_coverage"] = kept / static_cast<double>(targetRows.numel());
        // The reference divides by the kept count even when it is zero (NaN, a step its AMP scaler skips);
        // here such a batch simply has no target term.
        if (kept > 0) {
            namespace F = torch::nn::functional;
            auto perImage = F::cross_entropy(targetLogits.index_select(0, targetRows), pseudo.labels,
                                             F::CrossEntropyFuncOptions().reduction(torch::kNone));
            auto lossU = (perImage.to(torch::kFloat) * pseudo.mask).sum() / kept;
            loss = loss + m_params.at("target_weight").get<double>() * lossU;
            out.metrics["loss_target"] = lossU.item<double>();
        }
    }
    out.loss = loss;
    // Each image scored by its own domain's prompts; the trainer's running accuracy counts the labelled rows.
    out.logits = torch::where(isTarget.unsqueeze(1), targetLogits, sourceLogits).detach();
    return out;
}

at::Tensor DaplStrategy::classLogits(const at::Tensor& images)
{
    auto text = l2Normalize(domainFeatures(m_side == AdaptationSide::Source ? 0 : 1));
    return logitScale() * torch::matmul(l2Normalize(imageFeatures(images)).to(text.scalar_type()), text.t());
}

at::Tensor DaplStrategy::classTextFeatures()
{
    torch::NoGradGuard noGrad;
    return l2Normalize(domainFeatures(m_side == AdaptationSide::Source ? 0 : 1));
}

TrainerConfig DaplStrategy::defaultTrainerConfig(int) const
{
    // DAPrompt's configs: SGD 3e-3, momentum 0.9, wd 5e-4, cosine over 25 epochs. Its linear warm-up from
    // 1e-5 lasts a single iteration (the scheduler steps per iteration), so none here.
    TrainerConfig config;
    config.optimizer = "sgd";
    config.lr = 0.003;
    config.epochs = 25;
    config.warmupEpochs = 0;
    return config;
}

StateDict DaplStrategy::exportTensors()
{
    torch::NoGradGuard noGrad;
    StateDict tensors = trainableState();
    tensors["class_text_features"] = l2Normalize(domainFeatures(1)).to(torch::kCPU, torch::kFloat).contiguous();
    tensors["source_class_text_features"] = l2Normalize(domainFeatures(0)).to(torch::kCPU, torch::kFloat).contiguous();
    return tensors;
}

nlohmann::json DaplStrategy::exportManifest()
{
    auto manifest = ClipStrategy::exportManifest();
    manifest["domains"] = m_setup.domainNames;
    manifest["n_ctx"] = m_agnosticLength;
    manifest["n_dmx"] = m_domainLength;
    manifest["class_text_features_domain"] = m_setup.domainNames[1];  // source_class_text_features: domains[0]
    return manifest;
}

std::vector<std::string> DaplStrategy::promptTexts() const
{
    std::string placeholders;
    for (int i = 0; i < m_agnosticLength + m_domainLength; ++i)
        placeholders += i ? " X" : "X";
    std::vector<std::string> texts;
    for (int d = 0; d < 2; ++d)
        for (const auto& name : m_setup.classNames)
            texts.push_back(placeholders + " " + name + learnerOptions(d).classSuffix);
    return texts;
}

} // namespace tunebench
