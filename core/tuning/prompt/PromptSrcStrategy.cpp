#include "core/tuning/prompt/PromptSrcStrategy.h"

#include "core/tuning/prompt/PromptTemplates.h"

#include <torch/torch.h>

#include <cmath>

namespace tunebench {

StrategyInfo promptSrcStrategyInfo()
{
    StrategyInfo info;
    info.name = "promptsrc";
    info.title = "PromptSRC";
    info.family = StrategyFamily::PromptLearning;
    info.description = "IVLP prompts regulated by the frozen model (feature and logit consistency) with Gaussian prompt "
                       "aggregation over epochs (Khattak et al. 2023).";
    info.schema = ivlpSchema(4, 4, 9);
    info.schema.push_back({"text_loss_weight", ParamField::Type::Double, 25.0, 0.0, 1000.0, {}, "weight of L1(text features, frozen)"});
    info.schema.push_back({"image_loss_weight", ParamField::Type::Double, 10.0, 0.0, 1000.0, {}, "weight of L1(image feature, frozen)"});
    info.schema.push_back({"kl_weight", ParamField::Type::Double, 1.0, 0.0, 1000.0, {}, "weight of KL(zero-shot logits || prompted logits)"});
    info.schema.push_back({"gpa_mean", ParamField::Type::Double, 15.0, 0.0, 1000.0, {}, "mean epoch of the Gaussian aggregation (base-to-new: 15)"});
    info.schema.push_back({"gpa_std", ParamField::Type::Double, 1.0, 0.01, 1000.0, {}, "its standard deviation in epochs (base-to-new: 1)"});
    info.capabilities.needsTextTower = true;
    info.capabilities.learnsPromptContext = true;
    info.capabilities.needsVitImageTower = true;  // prompts among the patch tokens
    info.create = [] { return std::make_unique<PromptSrcStrategy>(); };
    return info;
}

std::vector<double> PromptSrcStrategy::aggregationWeights(int epochs, double mean, double std)
{
    std::vector<double> weights;
    double sum = 0;
    for (int e = 1; e <= epochs; ++e) {
        weights.push_back(std::exp(-0.5 * ((e - mean) / std) * ((e - mean) / std)) / (std * std::sqrt(2 * M_PI)));
        sum += weights.back();
    }
    for (double& w : weights)
        w = sum > 0 ? w / sum : 1.0 / epochs;
    return weights;
}

void PromptSrcStrategy::onAttach()
{
    IvlpStrategy::onAttach();
    m_aggregate.clear();
    m_teacher = handcraftedTextFeatures(PromptTemplates::imagenet80());
}

void PromptSrcStrategy::onClassesChanged()
{
    IvlpStrategy::onClassesChanged();
    m_teacher = handcraftedTextFeatures(PromptTemplates::imagenet80());
}

StepOutput PromptSrcStrategy::trainStep(const Batch& batch)
{
    const auto images = batch.inputs.to(device());
    const auto labels = batch.labels.to(device());
    auto text = l2Normalize(textFeatures());
    auto image = l2Normalize(promptedImageFeatures(images));
    const auto scale = logitScale();
    auto logits = scale * torch::matmul(image, text.t());
    at::Tensor frozenImage, zeroShotLogits;
    {
        torch::NoGradGuard noGrad;
        frozenImage = l2Normalize(imageFeatures(images));
        zeroShotLogits = scale * torch::matmul(frozenImage, m_teacher.t());
    }
    auto loss = torch::nn::functional::cross_entropy(logits, labels);
    loss = loss + m_params.at("text_loss_weight").get<double>() * (text - m_teacher).abs().mean();
    loss = loss + m_params.at("image_loss_weight").get<double>() * (image - frozenImage).abs().mean();
    auto zeroShotLog = torch::log_softmax(zeroShotLogits, 1);
    auto kl = (zeroShotLog.exp() * (zeroShotLog - torch::log_softmax(logits, 1))).sum() / static_cast<double>(logits.numel());
    loss = loss + m_params.at("kl_weight").get<double>() * kl;
    return {loss, logits.detach()};
}

void PromptSrcStrategy::afterEpoch(int epoch, int epochs)
{
    const auto weights = aggregationWeights(epochs, m_params.at("gpa_mean").get<double>(), m_params.at("gpa_std").get<double>());
    torch::NoGradGuard noGrad;
    for (auto& [key, tensor] : namedParameters()) {
        auto weighted = tensor.detach() * weights[size_t(epoch)];
        auto it = m_aggregate.find(key);
        if (it == m_aggregate.end())
            m_aggregate[key] = weighted.clone();
        else
            it->second.add_(weighted);
    }
    if (epoch + 1 == epochs) {
        for (auto& [key, tensor] : namedParameters())
            tensor.copy_(m_aggregate.at(key));
        m_aggregate.clear();
    }
}

StateDict PromptSrcStrategy::trainableState()
{
    StateDict out = IvlpStrategy::trainableState();
    for (const auto& [key, tensor] : m_aggregate)
        out["aggregate." + key] = tensor.detach().to(torch::kCPU).contiguous().clone();
    return out;
}

void PromptSrcStrategy::loadTrainableState(const StateDict& state)
{
    IvlpStrategy::loadTrainableState(state);
    m_aggregate.clear();
    for (const auto& [key, tensor] : state)
        if (key.rfind("aggregate.", 0) == 0)
            m_aggregate[key.substr(10)] = tensor.to(device()).clone();
}

StateDict PromptSrcStrategy::exportTensors()
{
    StateDict tensors = IvlpStrategy::exportTensors();
    for (auto it = tensors.begin(); it != tensors.end();)
        it = it->first.rfind("aggregate.", 0) == 0 ? tensors.erase(it) : std::next(it);
    return tensors;
}

TrainerConfig PromptSrcStrategy::defaultTrainerConfig(int shots) const
{
    // PromptSRC's base-to-new recipe: SGD lr 0.0025, 20 epochs, batch 4.
    TrainerConfig config = IvlpStrategy::defaultTrainerConfig(shots);
    config.lr = 0.0025;
    config.epochs = 20;
    return config;
}

} // namespace tunebench
