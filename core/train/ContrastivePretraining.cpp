#include "core/train/ContrastivePretraining.h"

#include "core/Error.h"
#include "core/io/CheckpointLoader.h"
#include "core/io/CheckpointWriter.h"

#include <torch/torch.h>

#include <cmath>

namespace tunebench {

namespace {

std::uint64_t mix(std::uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

const double kMaxLogitScale = std::log(100.0);  // CLIP clamps the learned temperature at 100

} // namespace

std::vector<std::string> pretrainingCaptionTemplates()
{
    return {"a photo of a {}.",          "a photo of the {}.",           "a picture of a {}.",
            "an image of a {}.",         "a grayscale photo of a {}.",   "a black and white photo of a {}.",
            "a low resolution photo of a {}.", "a small photo of a {}.", "a close-up photo of a {}.",
            "a product photo of a {}.",  "a photo of my {}.",            "a photo of one {}.",
            "a blurry photo of a {}.",   "a cropped photo of the {}.",   "a good photo of a {}.",
            "a bad photo of the {}.",    "a centered photo of a {}.",    "a catalog photo of a {}.",
            "a {}.",                     "{}",                           "this is a {}.",
            "a photo showing a {}.",     "a tiny image of a {}.",        "itap of a {}."};
}

std::string fillTemplate(const std::string& promptTemplate, const std::string& name)
{
    const size_t slot = promptTemplate.find("{}");
    if (slot == std::string::npos)
        throw Error("template '" + promptTemplate + "' has no {} for the class name");
    return promptTemplate.substr(0, slot) + name + promptTemplate.substr(slot + 2);
}

ContrastivePretraining::ContrastivePretraining(ClipModel model, at::Tensor captionTokens, int numTemplates, int numClasses,
                                               std::uint64_t seed)
    : m_model(std::move(model))
    , m_captionTokens(std::move(captionTokens))
    , m_numTemplates(numTemplates)
    , m_numClasses(numClasses)
    , m_seed(seed)
{
    TORCH_CHECK(m_captionTokens.size(0) == numTemplates * numClasses, "caption rows do not match templates x classes");
}

std::vector<at::Tensor> ContrastivePretraining::trainableParameters()
{
    return m_model->parameters();
}

void ContrastivePretraining::setTraining(bool training)
{
    m_model->train(training);
}

StepOutput ContrastivePretraining::trainStep(const Batch& batch)
{
    {
        torch::NoGradGuard noGrad;
        m_model->logit_scale.clamp_(0.0, kMaxLogitScale);
    }
    const int64_t size = batch.labels.size(0);
    // A template per sample, drawn from (seed, step, position): reproducible and resumable.
    auto labels = batch.labels.to(torch::kCPU).to(torch::kLong);
    std::vector<int64_t> rows(static_cast<size_t>(size));
    for (int64_t i = 0; i < size; ++i) {
        const auto draw = mix(m_seed ^ mix(m_step * 1000003ull + static_cast<std::uint64_t>(i)));
        rows[static_cast<size_t>(i)] = static_cast<int64_t>(draw % static_cast<std::uint64_t>(m_numTemplates)) * m_numClasses +
                                       labels[i].item<int64_t>();
    }
    ++m_step;
    // Each distinct caption goes through the text tower once.
    auto rowTensor = torch::tensor(rows, torch::kLong);
    auto [unique, inverse] = at::_unique(rowTensor, /*sorted=*/true, /*return_inverse=*/true);
    const auto device = batch.inputs.device();
    auto textFeatures = l2Normalize(m_model->encodeText(m_captionTokens.index_select(0, unique).to(device)));
    textFeatures = textFeatures.index_select(0, inverse.to(device));
    auto imageFeatures = l2Normalize(m_model->encodeImage(batch.inputs));

    auto logits = m_model->logit_scale.exp() * torch::matmul(imageFeatures, textFeatures.t());
    auto labelsOnDevice = batch.labels.to(device);
    auto same = (labelsOnDevice.unsqueeze(1) == labelsOnDevice.unsqueeze(0)).to(logits.scalar_type());
    auto targets = same / same.sum(1, true);
    auto imageToText = -(targets * torch::log_softmax(logits, 1)).sum(1).mean();
    auto textToImage = -(targets * torch::log_softmax(logits.t(), 1)).sum(1).mean();
    return {(imageToText + textToImage) / 2, {}};
}

StateDict ContrastivePretraining::trainableState()
{
    return canonicalWeights(*m_model);
}

void ContrastivePretraining::loadTrainableState(const StateDict& state)
{
    loadWeightsStrict(*m_model, state, "checkpoint");
}

} // namespace tunebench
