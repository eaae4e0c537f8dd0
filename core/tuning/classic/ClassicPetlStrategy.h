#pragma once

#include "core/tuning/Strategy.h"
#include "core/tuning/classic/VptHead.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace tunebench {

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

// What the nine classic PETL variants of the VPT paper share: the image tower of a ClipModel as the
// backbone, the pooled feature ln_post([CLS]) *without* CLIP's projection (so a timm ViT and a CLIP
// image tower give a feature of the tower's width, and parameter counts match the paper's ViT-B/16;
// a ResNet CLIP's feature is its attention pool's output, whose c_proj is part of the pooling),
// the VPT head on top, softmax cross-entropy, and the recipes of methods.md 1.10/1.12. A subclass says
// which backbone tensors train, which extra modules it adds (prompts, adapters, a side network) and how
// they enter the forward pass.
class ClassicPetlStrategy : public Strategy
{
public:
    ClassicPetlStrategy();

    void attach(ClipModel model, const TaskSetup& setup, const nlohmann::json& params) override;
    at::Tensor logits(const at::Tensor& images) override;
    // A trained classifier head is tied to its classes: always an Error.
    void setClasses(const std::vector<std::string>& classNames) override;
    int defaultBatchSize(int shots) const override;
    StateDict exportTensors() override;
    nlohmann::json exportManifest() override;
    DeployableModel deployable() override;

    std::vector<at::Tensor> trainableParameters() override;
    void setTraining(bool training) override;
    StepOutput trainStep(const Batch& batch) override;
    StateDict trainableState() override;
    void loadTrainableState(const StateDict& state) override;

    // The feature the head sees, [B, featureWidth] (after the method's hooks and blending).
    virtual at::Tensor features(const at::Tensor& images);
    static int featureWidth(const ModelSpec& spec);
    // The model the strategy runs: the caller's, or a private copy when backbone weights train.
    ClipModel model() const { return m_model; }
    VptHead head() const { return m_head; }
    const nlohmann::json& params() const { return m_params; }
    // Parameters of the backbone the feature passes through (visual.*, without CLIP's projection).
    std::int64_t backboneParameterCount() const;
    // True when every task stores a whole backbone (Full): the pre-trained one need not be kept.
    virtual bool storesWholeBackbone() const { return false; }
    // The hooks the method runs the tower with (null: none). Public so that tests can observe tokens.
    virtual TransformerHooks* hooks() { return nullptr; }
    // Option values used where attach()'s params leave them out (the registry's "partial-2" sets k = 2,
    // so that callers passing unresolved options still get the variant they named).
    void setParamDefaults(const nlohmann::json& defaults) { m_paramDefaults = defaults; }

protected:
    virtual ParamSchema paramSchema() const = 0;
    // Whether this backbone tensor (canonical name, e.g. "visual.transformer.resblocks.11.ln_1.bias") trains.
    virtual bool trainsBackboneTensor(const std::string& name) const { return false; }
    // The reference keeps the encoder in train mode only for Full and the prompt variants.
    virtual bool encoderFollowsTrainingMode() const { return false; }
    virtual int headHiddenLayers() const { return 0; }
    // The method's own modules (prompts, adapters, side network), created on the CPU; the base moves
    // them to the model's device and registers them under `methodModuleName()` in the state.
    virtual std::shared_ptr<torch::nn::Module> createMethodModule(const VisionSpec& vision) { return nullptr; }
    virtual std::string methodModuleName() const { return "method"; }
    // Blends the pooled tower feature with something computed from the images (Side-tune).
    virtual at::Tensor combineFeatures(const at::Tensor& images, const at::Tensor& pooled) { return pooled; }
    // Reference training recipe; the base fills the few-shot defaults shared by all.
    TrainerConfig sgdRecipe(double lr, int warmupEpochs) const;
    // AdamW for 100 epochs (the later PETL methods' VTAB-1k setting), warm-up at the ramp's mean.
    TrainerConfig adamwRecipe(double lr, double weightDecay, int warmupEpochs) const;

    std::shared_ptr<torch::nn::Module> methodModule() const { return m_methodModule; }
    nlohmann::json m_params;

private:
    NamedTensors backboneTensors() const;       // visual.* parameters used by the feature
    NamedTensors trainableBackboneTensors() const;
    NamedTensors ownTensors(bool withBuffers) const;  // head.* and the method module's

    ClipModel m_model{nullptr};
    VptHead m_head{nullptr};
    std::shared_ptr<torch::nn::Module> m_methodModule;
    std::vector<std::string> m_classNames;
    nlohmann::json m_paramDefaults = nlohmann::json::object();
    bool m_training = false;
};

// "ClipModel with the same spec and weights", for strategies that must not modify the caller's model.
ClipModel copyModel(const ClipModel& model);

} // namespace tunebench
