#pragma once

#include "core/io/StateDict.h"
#include "core/model/ClipModel.h"
#include "core/model/ModelSpec.h"

#include <optional>
#include <string>

namespace tunebench {

enum class CheckpointFormat { OpenAiTorchScript, Safetensors, TorchSave, HuggingFaceFolder };

struct LoadOptions
{
    std::optional<Activation> activation;  // override what the format implies (open_clip non-OpenAI models use GELU)
    bool computeHash = true;
};

// A checkpoint read from disk: the inferred spec and the weights in canonical naming, stored dtypes.
struct Checkpoint
{
    ModelSpec spec;
    StateDict weights;
};

// Detects the format from the file's first bytes or the folder's contents (an open_clip or timm hub
// folder: the format of the weights file in it); Error naming the path when it is none of the supported ones.
CheckpointFormat detectCheckpointFormat(const std::string& path);

// Reads any supported checkpoint: an OpenAI TorchScript `.pt`, a `.safetensors` or torch.save file
// (`.bin`, `.pth`) with OpenAI, open_clip, Hugging Face or timm names, a Hugging Face CLIP folder, or the
// hub folder of open_clip (open_clip_config.json) or timm (config.json naming an "architecture").
// OpenAI-named weights get their activation from an open_clip_config.json beside them, else QuickGELU.
// Errors name the file, the key, and the expected and found shapes.
Checkpoint readCheckpoint(const std::string& path, const LoadOptions& options = {});

// Hyper-parameters from the tensors alone, as the reference's build_model infers them.
ModelSpec inferSpec(const StateDict& canonical);

// A model with exactly the checkpoint's weights (strict: every parameter present with its shape, no key
// left over), computing in fp32.
ClipModel buildModel(const Checkpoint& checkpoint);

// The two above in one step.
ClipModel loadModel(const std::string& path, const LoadOptions& options = {}, ModelSpec* spec = nullptr);

// Copies `weights` into `model` strictly; `source` names the checkpoint in error messages.
void loadWeightsStrict(torch::nn::Module& model, const StateDict& weights, const std::string& source);

} // namespace tunebench
