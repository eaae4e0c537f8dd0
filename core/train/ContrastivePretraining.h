#pragma once

#include "core/model/ClipModel.h"
#include "core/train/Trainer.h"

#include <string>
#include <vector>

namespace tunebench {

// CLIP's symmetric contrastive objective on image/caption pairs. Each training sample belongs to a caption
// group (in the demo world: its class in its image domain) and gets one caption drawn from the group's
// candidate rows per step. Groups repeat within a batch, so pairs of the same group count as positives
// (soft targets spread over them) instead of false negatives.
class ContrastivePretraining : public Trainable
{
public:
    // `captionTokens`: [captions, context] token rows. `groupCaptions[g]`: the rows group g draws from
    // (repeat a row to weight it). `sampleGroups[i]`: the group of sample i of the batch source.
    ContrastivePretraining(ClipModel model, at::Tensor captionTokens, std::vector<std::vector<std::int64_t>> groupCaptions,
                           std::vector<int> sampleGroups, std::uint64_t seed);

    std::vector<at::Tensor> trainableParameters() override;
    void setTraining(bool training) override;
    StepOutput trainStep(const Batch& batch) override;
    StateDict trainableState() override;
    void loadTrainableState(const StateDict& state) override;

private:
    ClipModel m_model;
    at::Tensor m_captionTokens;
    std::vector<std::vector<std::int64_t>> m_groupCaptions;
    std::vector<int> m_sampleGroups;
    std::uint64_t m_seed;
    std::uint64_t m_step = 0;
};

// "a photo of a {}." with `name` in the slot; Error when the template has no {}.
std::string fillTemplate(const std::string& promptTemplate, const std::string& name);

} // namespace tunebench
