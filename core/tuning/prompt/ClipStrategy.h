#pragma once

#include "core/tuning/Strategy.h"

#include <nlohmann/json.hpp>

namespace tunebench {

// Shared plumbing of the CLIP strategies: the frozen backbone, the task, image features of the frozen
// image tower, hand-crafted text features, cross-entropy training and the common export fields.
class ClipStrategy : public Strategy
{
public:
    void attach(ClipModel model, const TaskSetup& setup, const nlohmann::json& params) override;
    at::Tensor logits(const at::Tensor& images) override;
    void setClasses(const std::vector<std::string>& classNames) override;
    void setTraining(bool training) override { m_training = training; }
    StepOutput trainStep(const Batch& batch) override;
    TrainerConfig defaultTrainerConfig(int shots) const override;
    StateDict exportTensors() override;
    nlohmann::json exportManifest() override;
    DeployableModel deployable() override;

    // The classes and options the strategy was attached with.
    const TaskSetup& setup() const { return m_setup; }
    const nlohmann::json& params() const { return m_params; }
    ClipModel model() const { return m_model; }
    // Whether prepare() wants augmented training views (Tip-Adapter's cache) or plain evaluation views.
    virtual bool prepareWithAugmentation() const { return true; }
    // Learned context vectors ([M, D] or [C, M, D]) for the nearest-word report; undefined when none.
    virtual at::Tensor contextVectors() { return {}; }
    // Final per-class text features [C, E], L2-normalised (what the classifier compares images with).
    virtual at::Tensor classTextFeatures() = 0;
    // The frozen image tower, no gradient: images [B, 3, H, W] -> [B, E] unnormalised, on the strategy's
    // device. Features [B, E] (the image-tower cache's) pass through unchanged, moved to that device.
    at::Tensor imageFeatures(const at::Tensor& images);

protected:
    virtual void onAttach() = 0;
    virtual void onClassesChanged() = 0;
    // Class scores [B, C]; builds a graph when the strategy's own parameters require gradients.
    virtual at::Tensor classLogits(const at::Tensor& images) = 0;

    // exp(logit_scale) of the frozen model.
    at::Tensor logitScale() const;
    // Per-class text features of hand-crafted prompts, each template encoded and L2-normalised, averaged
    // over the templates and normalised again (CLIP's ensembling; one template is the plain case).
    at::Tensor handcraftedTextFeatures(const std::vector<std::string>& templates);
    // The token ids of `templ` filled with each class name, [C, context], on the strategy's device.
    at::Tensor classPromptTokens(const std::string& templ) const;
    const ClipTokenizer& tokenizer() const;
    c10::Device device() const;

    ClipModel m_model{nullptr};
    TaskSetup m_setup;
    nlohmann::json m_params;
    bool m_training = false;
};

} // namespace tunebench
