#pragma once

#include "core/io/StateDict.h"

namespace tunebench {

// The key naming a state dict uses. Each naming is a key map onto the canonical one (see ClipModel):
// OpenAI/open_clip names with the text tower moved under `text.`.
enum class Naming { OpenAi, HuggingFace, Timm, Unknown };

// Throws Error for namings recognised but not supported (timm's ByobNet ResNet CLIP).
Naming detectNaming(const StateDict& tensors);
std::string namingName(Naming naming);

// Every map throws Error naming the first key it does not know.
StateDict canonicalFromOpenAi(StateDict tensors);
StateDict openAiFromCanonical(const StateDict& canonical);
StateDict canonicalFromHuggingFace(const StateDict& tensors);
StateDict huggingFaceFromCanonical(const StateDict& canonical);
StateDict canonicalFromTimm(const StateDict& tensors);
StateDict timmFromCanonical(const StateDict& canonical);

} // namespace tunebench
