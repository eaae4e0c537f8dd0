#pragma once

#include "core/experiment/ClassScore.h"
#include "core/experiment/Experiment.h"
#include "core/experiment/RunOnnx.h"
#include "core/export/PromptExport.h"

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

namespace tunebench {

// A run folder's export (PromptExport::findInRun) and the model and vocabulary the run used (config.json's
// settings); Error naming the folder when it has no export.
struct RunExport
{
    std::string manifest;
    std::string model;
    std::string vocab;
    std::string method;
};
RunExport runExportOf(const std::string& runDir);

// The backbone an export of `method` runs on: with its vocabulary only when the method uses the text tower
// (a classic method or L2P on a CLIP model needs none).
Backbone loadBackboneFor(const std::string& method, const std::string& modelPath, const std::string& vocabulary, const std::string& device);

// A tuned model rebuilt from an export, ready to classify: what predict, export --onnx and the window's
// "Try it" and ONNX export share.
struct TunedModel
{
    Backbone backbone;
    TaskSetup setup;  // the export's classes, template, dataset and shots
    nlohmann::json manifest;
    std::string manifestPath;
    std::unique_ptr<Strategy> strategy;
    std::vector<std::string> warnings;  // e.g. another model's hash, under ModelMismatch::Warn
};

// `modelPath` empty: the model the manifest names (checkpoint.path). Errors name the manifest.
TunedModel openTunedExport(const std::string& manifestPath, const std::string& modelPath, const std::string& vocabulary,
                           const std::string& device, ModelMismatch mismatch);
// A run folder's tuned model: its export on the model and vocabulary of its config.json (unless given). A
// stopped run's last checkpoint is newer than its export and replaces its tensors; a finished run's export is
// its final state (after validation tuning, which no checkpoint holds).
TunedModel openTunedRun(const std::string& runDir, const std::string& modelPath, const std::string& vocabulary, const std::string& device,
                        ModelMismatch mismatch);

// The hand-crafted prompt a CLIP method that learns from images is compared with: zero-shot with the dataset's
// template on the same classes, on a fresh model (the tuned method's hooks must not leak in), as the run's
// evaluation compares them. Null when the method compares with none (or the model has no text tower).
std::unique_ptr<Strategy> handcraftedPromptFor(const TunedModel& tuned);

// A strategy's class probabilities for a batch of images (or of image-tower features): the softmax of its
// logits in double, on the CPU, [B, C]. predict, "Try it" and the Mistakes view all score with this.
at::Tensor classProbabilities(Strategy& strategy, const at::Tensor& inputs);

// The K best classes of one row of probabilities [C], best first.
std::vector<ClassScore> topClasses(const at::Tensor& probabilities, const std::vector<std::string>& classNames, int k);

// Writes `tuned` as one ONNX graph (writeOnnx), with the evaluation preprocessing its runs use at the model's
// resolution in the metadata. Error when this build has no ONNX export (no libonnx-dev at configure time).
nlohmann::json writeTunedOnnx(TunedModel& tuned, const std::string& path, const OnnxOptions& options);

} // namespace tunebench
