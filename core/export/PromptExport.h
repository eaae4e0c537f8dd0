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

// What import does when the manifest names another model (by SHA-256) than the one loaded.
enum class ModelMismatch
{
    Warn,    // eval --prompt: re-saved or converted copies of one model differ in hash
    Refuse,  // predict: an Error naming the manifest
};

// A strategy rebuilt from an export, ready to evaluate.
struct ImportedPrompt
{
    std::unique_ptr<Strategy> strategy;
    nlohmann::json manifest;
    std::vector<std::string> warnings;  // e.g. the manifest's model hash differs from the loaded model's
};

// Export = <name>.safetensors (the strategy's exportTensors(): its whole trainable state -- context
// vectors, Meta-Net weights, adapters, Tip-Adapter's cache, a probe's or a classic method's head, L2P's
// pool -- plus, for CLIP methods, "class_text_features", the final per-class text features) + <name>.json
// (method, options, checkpoint identity and SHA-256, class names, template, tokenizer, metrics, nearest
// words of each learned context vector). Every family exports: the CLIP methods, the classic ViT
// methods and L2P.
//
// Import rebuilds the strategy on the given model with the exported classes, loads the tensors, then
// switches to the requested classes; class-specific contexts refuse unseen classes with an Error. The
// tensors are read only from a plain file name beside the manifest (no folder, "..", or absolute path);
// shapes that do not fit are an Error naming the file and the tensor. A manifest whose model SHA-256
// differs from the loaded model's is accepted with a warning, or refused (`mismatch`).
class PromptExport
{
public:
    // Writes both files; returns the manifest written. `basePath` is the path without extension; `runId`
    // (the run folder's name) goes into the manifest as "run" when given, so an export says where it came from.
    // Nearest words only for a CLIP strategy with learned contexts.
    static nlohmann::json write(Strategy& strategy, const std::string& basePath, const nlohmann::json& metrics = {},
                                int nearestCount = 5, const std::string& runId = {});
    // `manifestPath`: the .json (the .safetensors beside it) or the path without extension.
    static ImportedPrompt read(const std::string& manifestPath, ClipModel model, const TaskSetup& target,
                               ModelMismatch mismatch = ModelMismatch::Warn);
    // The tensors file a manifest names ("tensors"; else <base>.safetensors, as older exports did), checked to be
    // a plain file name inside the manifest's folder; Error naming the manifest otherwise.
    static std::string tensorsPath(const std::string& manifestPath, const nlohmann::json& manifest);
    // The manifest of an export named by its .json, its .safetensors or its path without extension.
    static std::string manifestFile(const std::string& path);
    // The export's file name in a run's export/ folder, without extension: "prompt" for the CLIP methods (a
    // ClipStrategy), "tuned" for the others.
    static std::string exportName(const Strategy& strategy);
    // A run folder's export manifest: export/prompt.json, export/tuned.json, or a continual run's export.json;
    // "" when it has none.
    static std::string findInRun(const std::string& runFolder);
    // Nearest words per context vector: contexts [M, D] or [C, M, D] (flattened row by row).
    static std::vector<NearestWords> nearestWords(const at::Tensor& contexts, const at::Tensor& tokenEmbedding,
                                                  const ClipTokenizer& tokenizer, int count);
};

} // namespace tunebench
