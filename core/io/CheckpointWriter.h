#pragma once

#include "core/io/StateDict.h"
#include "core/model/ModelSpec.h"

#include <string>

namespace torch::nn {
class Module;
}

namespace tunebench {

// Writers for every format the loader reads, from canonical weights. Tests build their fixtures with
// them and Tunebench ships its own models through them. Each writes atomically where the format is one
// file (temporary name, then rename).

// A TorchScript archive holding the weights under OpenAI names, with the three scalars the released
// archives carry (input_resolution, context_length, vocab_size). Python's torch.jit.load reads it.
void writeOpenAiTorchScript(const StateDict& canonical, const ModelSpec& spec, const std::string& path);
void writeOpenAiSafetensors(const StateDict& canonical, const std::string& path);
// config.json + model.safetensors; tokenizer files are the caller's (see ClipTokenizer).
void writeHuggingFaceFolder(const StateDict& canonical, const ModelSpec& spec, const std::string& folder);
void writeTimmSafetensors(const StateDict& canonical, const std::string& path);

// The canonical weights of a model (parameters and buffers, detached CPU tensors).
StateDict canonicalWeights(const torch::nn::Module& model);

} // namespace tunebench
