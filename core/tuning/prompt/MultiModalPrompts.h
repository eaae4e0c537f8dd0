#pragma once

#include "core/tuning/prompt/ClipStrategy.h"
#include "core/tuning/prompt/PromptLearner.h"

#include <optional>
#include <utility>

namespace tunebench {

// Deep prompts in both towers of a CLIP ViT, shared by MaPLe, IVLP and PromptSRC (methods.md 1.5, 1.6):
//  - text: the first layer's context through CoOp's prompt learner (positions 1..n after the start
//    token, "a photo of a" initialisation), and at layers 1..depth-1 those rows replaced by that layer's
//    prompts (the class tokens and the end-of-text index stay where they are, so the shared-prefix and
//    end-of-text shortcuts still apply);
//  - image: prompts appended after the patch tokens before ln_pre, and at layers 1..depth-1 the last
//    rows replaced by that layer's prompts; the class token is pooled as usual.
// How the vision prompts come about (coupled to the text ones, or independent) is the subclass's.
// `depth` counts layers of each tower and is capped by the tower's own depth.
class MultiModalPromptStrategy : public ClipStrategy
{
public:
    std::vector<at::Tensor> trainableParameters() override;
    StateDict trainableState() override;
    void loadTrainableState(const StateDict& state) override;
    nlohmann::json exportManifest() override;
    at::Tensor classTextFeatures() override;
    at::Tensor contextVectors() override;  // the first text layer's context
    TrainerConfig defaultTrainerConfig(int shots) const override;
    int defaultBatchSize(int shots) const override { return 4; }

    int textDepth() const { return m_textDepth; }
    int visionDepth() const { return m_visionDepth; }
    // Text features [C, E] and prompted image features [B, E], unnormalised.
    at::Tensor textFeatures();
    at::Tensor promptedImageFeatures(const at::Tensor& images);
    DeployableModel deployable() override;

protected:
    // The recipe's numbers, from the strategy's params.
    virtual int textTokens() const = 0;
    virtual int visionTokens() const = 0;
    virtual int depth() const = 0;
    // Vision prompts of layers 0..visionDepth-1, [visionTokens, vision width] each.
    virtual std::vector<at::Tensor> visionPrompts() = 0;
    // The subclass's own trainable tensors, by export name (after the text ones).
    virtual std::vector<std::pair<std::string, at::Tensor>> visionParameters() = 0;
    // Called once the text side exists (vision width, depths and text prompts known).
    virtual void createVisionParameters() = 0;
    // True when each layer's vision prompts come from that layer's text prompts: both towers then get the
    // same depth (the smaller tower's when capped).
    virtual bool coupledDepths() const { return false; }

    void onAttach() override;
    void onClassesChanged() override;
    at::Tensor classLogits(const at::Tensor& images) override;

    // Every trainable tensor by its export name: "ctx", "text_prompts.<layer>", then the subclass's.
    std::vector<std::pair<std::string, at::Tensor>> namedParameters();
    // A fresh trainable tensor N(0, std) on the model's device.
    at::Tensor normalParameter(std::vector<int64_t> shape, double std) const;

    std::optional<PromptLearner> m_learner;
    std::vector<at::Tensor> m_textPrompts;  // layers 1..textDepth-1: [textTokens, text width]
    int m_textDepth = 0, m_visionDepth = 0;
};

} // namespace tunebench
