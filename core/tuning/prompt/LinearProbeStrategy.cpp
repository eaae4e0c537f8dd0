#include "core/tuning/prompt/LinearProbeStrategy.h"

#include "core/Error.h"

#include <torch/torch.h>

#include <cmath>

namespace tunebench {

namespace {

std::pair<torch::Tensor, torch::Tensor> collectFeatures(BatchSource& source, const std::function<torch::Tensor(const torch::Tensor&)>& encode)
{
    std::vector<torch::Tensor> features, labels;
    source.startEpoch(0);
    while (auto batch = source.next()) {
        features.push_back(encode(batch->inputs).to(torch::kCPU, torch::kFloat));
        labels.push_back(batch->labels.to(torch::kCPU, torch::kLong));
    }
    if (features.empty())
        return {};
    return {torch::cat(features), torch::cat(labels)};
}

} // namespace

StrategyInfo linearProbeStrategyInfo()
{
    StrategyInfo info;
    info.name = "linear-probe";
    info.title = "Linear probe";
    info.family = StrategyFamily::PromptLearning;
    info.description = "Logistic regression on frozen CLIP image features, C chosen on the val split (Radford et al. 2021).";
    info.schema = {
        {"c", ParamField::Type::Double, 0.0, 0.0, 1e12, {}, "inverse regularisation strength; 0 = search on the val split (1.0 without one)"},
        {"max_iter", ParamField::Type::Int, 1000, 1, 100000, {}, "L-BFGS iterations"},
    };
    info.capabilities.needsTextTower = true;  // CLIP's projected image features
    info.capabilities.frozenImageTower = true;
    info.capabilities.usesPrompts = false;
    info.capabilities.validationTuned = true;
    info.create = [] { return std::make_unique<LinearProbeStrategy>(); };
    return info;
}

void LinearProbeStrategy::fit(const at::Tensor& features, const at::Tensor& labels, double c)
{
    torch::AutoGradMode gradients(true);  // callers may evaluate under no-grad
    const int64_t classes = static_cast<int64_t>(m_setup.classNames.size());
    auto x = features.to(torch::kCPU, torch::kDouble);
    auto y = labels.to(torch::kCPU, torch::kLong);
    auto weight = torch::zeros({classes, x.size(1)}, torch::kDouble).set_requires_grad(true);
    auto bias = torch::zeros({classes}, torch::kDouble).set_requires_grad(true);
    const double n = static_cast<double>(x.size(0));
    torch::optim::LBFGS optimizer({weight, bias}, torch::optim::LBFGSOptions(1.0)
                                                       .max_iter(m_params.at("max_iter").get<int>())
                                                       .tolerance_grad(1e-6)
                                                       .tolerance_change(1e-10)
                                                       .history_size(20)
                                                       .line_search_fn("strong_wolfe"));
    // sklearn's objective divided by C N: mean CE + |W|^2 / (2 C N); the bias is not penalised.
    auto closure = [&] {
        optimizer.zero_grad();
        auto loss = torch::nn::functional::cross_entropy(torch::matmul(x, weight.t()) + bias, y) +
                    weight.pow(2).sum() / (2.0 * c * n);
        loss.backward();
        return loss;
    };
    optimizer.step(closure);
    m_weight = weight.detach().to(torch::kFloat).to(device());
    m_bias = bias.detach().to(torch::kFloat).to(device());
    m_c = c;
    m_fittedClasses = m_setup.classNames;
}

at::Tensor LinearProbeStrategy::logitsFromFeatures(const at::Tensor& features) const
{
    return torch::matmul(features.to(m_weight.device(), torch::kFloat), m_weight.t()) + m_bias;
}

void LinearProbeStrategy::prepare(BatchSource& train)
{
    torch::NoGradGuard noGrad;
    std::tie(m_trainFeatures, m_trainLabels) = collectFeatures(train, [this](const torch::Tensor& images) { return imageFeatures(images); });
    if (!m_trainFeatures.defined())
        throw Error("linear-probe: the training split is empty");
    const double c = m_params.at("c").get<double>();
    fit(m_trainFeatures, m_trainLabels, c > 0 ? c : 1.0);
}

void LinearProbeStrategy::tuneOnValidation(BatchSource& val)
{
    if (m_params.at("c").get<double>() > 0 || !m_trainFeatures.defined())
        return;
    torch::Tensor valFeatures, valLabels;
    {
        torch::NoGradGuard noGrad;
        std::tie(valFeatures, valLabels) = collectFeatures(val, [this](const torch::Tensor& images) { return imageFeatures(images); });
    }
    if (!valFeatures.defined())
        return;
    auto accuracyFor = [&](double c) {
        fit(m_trainFeatures, m_trainLabels, c);
        torch::NoGradGuard noGrad;
        return (logitsFromFeatures(valFeatures).argmax(1).to(torch::kCPU) == valLabels).to(torch::kDouble).mean().item<double>();
    };
    double bestC = 1.0, best = -1;
    for (double c : {1e6, 1e4, 1e2, 1.0, 1e-2, 1e-4, 1e-6}) {
        const double accuracy = accuracyFor(c);
        if (accuracy > best) {
            best = accuracy;
            bestC = c;
        }
    }
    // 8 bisection steps in log10 space around the peak, keeping the better end each time.
    double left = std::log10(bestC) - 1, right = std::log10(bestC) + 1;
    for (int step = 0; step < 8; ++step) {
        const double accLeft = accuracyFor(std::pow(10.0, left));
        const double accRight = accuracyFor(std::pow(10.0, right));
        if (accLeft > best) {
            best = accLeft;
            bestC = std::pow(10.0, left);
        }
        if (accRight > best) {
            best = accRight;
            bestC = std::pow(10.0, right);
        }
        if (accLeft < accRight)
            left = 0.5 * (left + right);
        else
            right = 0.5 * (left + right);
    }
    fit(m_trainFeatures, m_trainLabels, bestC);
}

at::Tensor LinearProbeStrategy::classLogits(const at::Tensor& images)
{
    if (!m_weight.defined())
        throw Error("linear-probe: the classifier is not fitted yet (prepare() was not called)");
    return logitsFromFeatures(imageFeatures(images));
}

DeployableModel LinearProbeStrategy::deployable()
{
    if (!m_weight.defined())
        throw Error("linear-probe: the classifier is not fitted yet: nothing to export");
    DeployableModel d;
    d.model = m_model;
    d.normalize = false;  // the probe sees the unnormalised feature
    d.weight = m_weight;
    d.bias = m_bias;
    return d;
}

void LinearProbeStrategy::onClassesChanged()
{
    if (!m_fittedClasses.empty() && m_setup.classNames != m_fittedClasses) {
        m_setup.classNames = m_fittedClasses;
        throw Error("linear-probe: the classifier was fitted on " + std::to_string(m_fittedClasses.size()) +
                    " classes and cannot classify other or unseen classes");
    }
}

at::Tensor LinearProbeStrategy::classTextFeatures()
{
    // No text: the exported per-class vectors are the classifier's normalised weights.
    return m_weight.defined() ? l2Normalize(m_weight) : at::Tensor();
}

StateDict LinearProbeStrategy::trainableState()
{
    if (!m_weight.defined())
        return {};
    return {{"classifier.weight", m_weight.to(torch::kCPU).clone()}, {"classifier.bias", m_bias.to(torch::kCPU).clone()}};
}

void LinearProbeStrategy::loadTrainableState(const StateDict& state)
{
    auto w = state.find("classifier.weight"), b = state.find("classifier.bias");
    if (w == state.end() || b == state.end())
        throw Error("linear-probe state needs 'classifier.weight' and 'classifier.bias'");
    if (w->second.size(0) != static_cast<int64_t>(m_setup.classNames.size()))
        throw Error("linear-probe tensor 'classifier.weight': " + shapeString(w->second.sizes()) + " does not match " +
                    std::to_string(m_setup.classNames.size()) + " classes");
    m_weight = w->second.to(device(), torch::kFloat);
    m_bias = b->second.to(device(), torch::kFloat);
    m_fittedClasses = m_setup.classNames;
}

nlohmann::json LinearProbeStrategy::exportManifest()
{
    auto manifest = ClipStrategy::exportManifest();
    manifest["c"] = m_c;
    manifest["trainable_parameters"] = m_weight.defined() ? m_weight.numel() + m_bias.numel() : 0;
    return manifest;
}

} // namespace tunebench
