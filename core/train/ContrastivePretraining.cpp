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

std::string fillTemplate(const std::string& promptTemplate, const std::string& name)
{
    const size_t slot = promptTemplate.find("{}");
    if (slot == std::string::npos)
        throw Error("template '" + promptTemplate + "' has no {} for the class name");
    return promptTemplate.substr(0, slot) + name + promptTemplate.substr(slot + 2);
}

ContrastivePretraining::ContrastivePretraining(ClipModel model, at::Tensor captionTokens,
                                               std::vector<std::vector<std::int64_t>> groupCaptions, std::vector<int> sampleGroups,
                                               std::uint64_t seed)
    : m_model(std::move(model))
    , m_captionTokens(std::move(captionTokens))
    , m_groupCaptions(std::move(groupCaptions))
    , m_sampleGroups(std::move(sampleGroups))
    , m_seed(seed)
{
    for (std::size_t g = 0; g < m_groupCaptions.size(); ++g) {
        TORCH_CHECK(!m_groupCaptions[g].empty(), "caption group ", g, " has no caption");
        for (std::int64_t row : m_groupCaptions[g])
            TORCH_CHECK(row >= 0 && row < m_captionTokens.size(0), "caption group ", g, " names row ", row, " of ",
                        m_captionTokens.size(0));
    }
    for (int group : m_sampleGroups)
        TORCH_CHECK(group >= 0 && static_cast<std::size_t>(group) < m_groupCaptions.size(), "sample group ", group, " is out of range");
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
    TORCH_CHECK(batch.indices.size() == static_cast<std::size_t>(size), "pretraining batches carry their sample indices");
    // A caption per sample, drawn from (seed, step, position): reproducible and resumable.
    std::vector<int64_t> rows(static_cast<size_t>(size));
    std::vector<int64_t> groups(static_cast<size_t>(size));
    for (int64_t i = 0; i < size; ++i) {
        const auto sample = static_cast<std::size_t>(batch.indices[static_cast<size_t>(i)]);
        TORCH_CHECK(sample < m_sampleGroups.size(), "sample ", sample, " has no caption group");
        const auto& candidates = m_groupCaptions[static_cast<std::size_t>(m_sampleGroups[sample])];
        const auto draw = mix(m_seed ^ mix(m_step * 1000003ull + static_cast<std::uint64_t>(i)));
        rows[static_cast<size_t>(i)] = candidates[draw % candidates.size()];
        groups[static_cast<size_t>(i)] = m_sampleGroups[sample];
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
    auto groupsOnDevice = torch::tensor(groups, torch::kLong).to(device);
    auto same = (groupsOnDevice.unsqueeze(1) == groupsOnDevice.unsqueeze(0)).to(logits.scalar_type());
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
