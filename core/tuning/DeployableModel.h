#pragma once

#include "core/model/ClipModel.h"

#include <memory>
#include <optional>
#include <vector>

namespace tunebench {

// A tuned model written out as one feed-forward computation from images to class scores, for exporters that
// rebuild it outside the engine (ONNX). Every method that can be expressed this way describes itself with
// one; runDeployable() computes it with LibTorch, and tests check it against the method's own logits().
//
//   f = tower(images)                               the image tower with the method's tokens and hooks
//   f = ratio * relu(up(relu(down f))) + (1 - ratio) f                      (featureAdapter, CLIP-Adapter)
//   f = relu(f W^T + b) * scale + shift, per hidden layer                  (MLP-k: BatchNorm at inference)
//   f = f / |f|                                                             (normalize)
//   logits = scale * f weight^T + bias
//          + alpha * exp(-beta (1 - f keys^T)) values                      (cache, Tip-Adapter)
struct DeployableModel
{
    // The image tower as the method runs it.
    ClipModel model{nullptr};             // whose image-tower weights (the method's copy when they train)
    at::Tensor appendedTokens;            // [P, width] put after [CLS, patches] past ln_pre (MaPLe, IVLP, PromptSRC)
    // Inserted tokens, adapted layers, adapter branches. A method's own hooks are shared without ownership
    // (std::shared_ptr's aliasing constructor): the description lives no longer than the method.
    std::shared_ptr<TransformerHooks> hooks;
    bool project = true;                  // CLIP's projection after ln_post (the classic methods' feature has none)

    struct FeatureAdapter
    {
        at::Tensor down, up;  // Linear weights without bias, [hidden, E] and [E, hidden]
        double ratio = 0;
    };
    std::optional<FeatureAdapter> featureAdapter;
    struct HiddenLayer
    {
        at::Tensor weight, bias, scale, shift;  // [H, E], [H], and the BatchNorm after the ReLU as [H], [H]
    };
    std::vector<HiddenLayer> hiddenLayers;
    bool normalize = true;
    double scale = 1;
    at::Tensor weight;  // [C, E]
    at::Tensor bias;    // [C] or undefined

    struct Cache
    {
        at::Tensor keys, values;  // [K, E] normalised training features, [K, C] their one-hot labels
        double alpha = 0, beta = 0;
    };
    std::optional<Cache> cache;
};

// The computation above with LibTorch, no gradient, images [B, 3, H, W] on the model's device.
at::Tensor runDeployable(const DeployableModel& deployable, const at::Tensor& images);
// The image tower part alone: [B, E] before the head.
at::Tensor deployableFeatures(const DeployableModel& deployable, const at::Tensor& images);

} // namespace tunebench
