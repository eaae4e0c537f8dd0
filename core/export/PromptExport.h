#pragma once

#include "core/model/ClipModel.h"
#include "core/tuning/Strategy.h"

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

namespace tunebench {

class ClipTokenizer;
class ClipStrategy;

// The nearest vocabulary words of one learned context vector (Euclidean distance to the rows of the
// token embedding), as CoOp's interpret_prompt.py reports them.
struct NearestWords
{
    std::vector<std::string> words;
    std::vector<int> ids;
    std::vector<double> distances;
};

// A strategy rebuilt from an export, ready to evaluate.
struct ImportedPrompt
{
    std::unique_ptr<Strategy> strategy;
    nlohmann::json manifest;
    std::vector<std::string> warnings;  // e.g. the manifest's model hash differs from the loaded model's
};

// Export = <name>.safetensors (the strategy's trainable state: context vectors, Meta-Net weights, ...,
// plus "class_text_features", the final per-class text features) + <name>.json (method, options,
// checkpoint identity and SHA-256, class names, template, tokenizer, metrics, nearest words of each
// learned context vector).
//
// Import rebuilds the strategy on the given model with the exported classes, loads the tensors, then
// switches to the requested classes; class-specific contexts refuse unseen classes with an Error. A
// manifest whose model SHA-256 differs from the loaded model's is accepted with a warning (the shapes
// are still checked strictly), since re-saved or converted copies of one model differ in hash.
class PromptExport
{
public:
    // Writes both files; returns the manifest written. `basePath` is the path without extension; `runId`
    // (the run folder's name) goes into the manifest as "run" when given, so an export says where it came from.
    static nlohmann::json write(ClipStrategy& strategy, const std::string& basePath, const nlohmann::json& metrics = {},
                                int nearestCount = 5, const std::string& runId = {});
    // `manifestPath`: the .json (the .safetensors beside it) or the path without extension.
    static ImportedPrompt read(const std::string& manifestPath, ClipModel model, const TaskSetup& target);
    // Nearest words per context vector: contexts [M, D] or [C, M, D] (flattened row by row).
    static std::vector<NearestWords> nearestWords(const at::Tensor& contexts, const at::Tensor& tokenEmbedding,
                                                  const ClipTokenizer& tokenizer, int count);
};

} // namespace tunebench
