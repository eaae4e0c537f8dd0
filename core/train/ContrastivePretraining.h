#pragma once

#include "core/model/ClipModel.h"
#include "core/train/Trainer.h"

#include <string>
#include <vector>

namespace tunebench {

// CLIP's symmetric contrastive objective on image/caption pairs, where each image's caption is its
// class name in a template drawn per sample. Captions repeat within a batch, so every pair of the same
// class counts as a positive (soft targets spread over them) instead of a false negative.
class ContrastivePretraining : public Trainable
{
public:
    // `captionTokens`: [templates x classes, context] token rows, row = template * classes + class.
    ContrastivePretraining(ClipModel model, at::Tensor captionTokens, int numTemplates, int numClasses, std::uint64_t seed);

    std::vector<at::Tensor> trainableParameters() override;
    void setTraining(bool training) override;
    StepOutput trainStep(const Batch& batch) override;
    StateDict trainableState() override;
    void loadTrainableState(const StateDict& state) override;

private:
    ClipModel m_model;
    at::Tensor m_captionTokens;
    int m_numTemplates;
    int m_numClasses;
    std::uint64_t m_seed;
    std::uint64_t m_step = 0;
};

// Templates the demo model's captions are drawn from (CLIP-style photo descriptions).
std::vector<std::string> pretrainingCaptionTemplates();

// "a photo of a {}." with `name` in the slot; Error when the template has no {}.
std::string fillTemplate(const std::string& promptTemplate, const std::string& name);

} // namespace tunebench
