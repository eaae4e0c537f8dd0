#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tunebench {

enum class Activation { QuickGelu, Gelu };

std::string activationName(Activation activation);

// Geometry of one transformer tower (the same block serves the image and the text tower).
struct TowerSpec
{
    int width = 0;
    int layers = 0;
    int heads = 0;
    int mlpWidth = 0;
    double layerNormEps = 1e-5;
    Activation activation = Activation::QuickGelu;
    int outputDim = 0;  // columns of the projection after pooling; 0 = no projection
};

// A ViT image tower, or OpenAI's modified ResNet when `stageBlocks` is set: then `width` is the stem width
// (64 for RN50), `heads` those of the attention pool and `outputDim` the embedding size.
struct VisionSpec : TowerSpec
{
    std::vector<int> stageBlocks;  // bottlenecks per stage (RN50: 3, 4, 6, 3); empty for a ViT
    int patchSize = 0;
    int imageSize = 0;
    bool preNorm = true;     // CLIP's ln_pre; timm ViTs without pre-norm have none
    bool patchBias = false;  // timm ViTs without pre-norm have a patch-embedding bias
    bool isResNet() const { return !stageBlocks.empty(); }
    int gridSize() const { return patchSize > 0 ? imageSize / patchSize : 0; }  // ViT patches per side
    int featureWidth() const { return isResNet() ? 32 * width : width; }         // channels before pooling
};

struct TextSpec : TowerSpec
{
    int contextLength = 77;
    int vocabSize = 49408;
    int endOfTextId = 49407;  // pooling position = first occurrence of this id
};

// What a checkpoint holds: the hyper-parameters inferred from its tensors (as the reference loaders do)
// plus where it came from. A CLIP model has both towers; a timm ViT only the image tower and a head.
struct ModelSpec
{
    enum class Family { Clip, Vit };

    Family family = Family::Clip;
    VisionSpec vision;
    std::optional<TextSpec> text;
    int headClasses = 0;  // classifier head of a timm ViT (0 = none)

    std::string name;     // a known release ("OpenAI ViT-B/16") or the file name
    std::string format;   // "openai-torchscript", "openai-safetensors", "huggingface", "timm-safetensors"
    std::string path;
    std::string sha256;
    std::int64_t parameterCount = 0;

    int embedDim() const { return vision.outputDim > 0 ? vision.outputDim : vision.width; }
    std::string familyName() const;
    nlohmann::json summary() const;  // family, towers, resolution, parameters, file hash
};

// Fills in what the tensors cannot tell from a Hugging Face config.json (heads, activation, layer-norm eps,
// end-of-text id). Errors name `configPath` and the field.
void applyHuggingFaceConfig(const nlohmann::json& config, ModelSpec& spec, const std::string& configPath);

} // namespace tunebench
