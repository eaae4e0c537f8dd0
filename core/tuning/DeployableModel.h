#pragma once

#include "core/model/ClipModel.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

namespace tunebench {

// A tuned model written out as one feed-forward computation from images to class scores, for exporters that
// rebuild it outside the engine (ONNX). Every method that can be expressed this way describes itself with
// one; runDeployable() computes it with LibTorch, and tests check it against the method's own logits().
//
//   f = tower(images)                               the image tower with the method's tokens and hooks, pooled
//                                                   as the mean of ln_post over `pooledRows` ([CLS] unless the
//                                                   method pools its prompt tokens: Seq-FT, L2P), in which
//                                                   L2P's images first choose their prompts (promptPool)
//   f = blend * f + (1 - blend) * side(images)                              (sideNetwork, Side-tune)
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
    // The feature is the mean of ln_post over the tower's output rows [first, first + count), counted after
    // every inserted token; [CLS] by default.
    struct TokenRows
    {
        std::int64_t first = 0, count = 1;
    };
    TokenRows pooledRows;

    // L2P's prompt pool: each image's query, the frozen tower's ln_post([CLS]) without hooks or projection,
    // picks the topK prompts whose keys are most cosine-similar (choosePoolPrompts); their topK x L rows go
    // after [CLS] before block 0, in the order chosen.
    struct PromptPool
    {
        at::Tensor prompts;  // [M, L, width]
        at::Tensor keys;     // [M, width]
        std::int64_t topK = 1;
        bool batchwise = false;  // one choice for the whole batch, by majority vote
    };
    std::optional<PromptPool> promptPool;

    // Side-tune's network on the images: convolutions, each followed by a ReLU, an adaptive average pool to
    // pooledSize x pooledSize, flattened (channel-major), a projection without bias.
    struct SideNetwork
    {
        struct Convolution
        {
            at::Tensor weight, bias;  // [out, in, k, k], [out]
            std::int64_t stride = 1, padding = 0;
        };
        std::vector<Convolution> convolutions;
        std::int64_t pooledSize = 1;
        at::Tensor projection;  // [E, channels * pooledSize^2]
        double blend = 1;       // the tower feature's share
    };
    std::optional<SideNetwork> sideNetwork;

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
// L2P's choice: prompt ids [B, topK] for queries [B, width] and keys [M, width], by cosine similarity,
// highest first. `batchwise`: every image gets the topK ids chosen most often in the batch (ties to the
// lower id).
at::Tensor choosePoolPrompts(const at::Tensor& queries, const at::Tensor& keys, std::int64_t topK, bool batchwise);

} // namespace tunebench
