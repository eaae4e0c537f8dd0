#include "core/experiment/TunedModel.h"

#include "core/Error.h"
#include "core/data/ImagePreprocess.h"
#include "core/io/StateDict.h"
#include "core/train/GeneratorLock.h"
#include "core/train/RunStore.h"
#include "core/train/Trainer.h"

#include <torch/torch.h>

#include <algorithm>

namespace tunebench {

namespace {

std::string text(const nlohmann::json& manifest, const char* key, const std::string& fallback, const std::string& manifestPath)
{
    const nlohmann::json value = manifest.value(key, nlohmann::json());
    if (value.is_null())
        return fallback;
    if (!value.is_string())
        throw Error(manifestPath + ": \"" + key + "\" is not text");
    return value.get<std::string>();
}

} // namespace

RunExport runExportOf(const std::string& runDir)
{
    const RunStore store = RunStore::open(runDir);
    const RunSettings settings = RunSettings::fromJson(store.readConfig().value("settings", nlohmann::json::object()), store.folder() + "/config.json");
    RunExport found;
    found.manifest = PromptExport::findInRun(store.folder());
    if (found.manifest.empty())
        throw Error(runDir + ": the run has no export (export/prompt.json or export/tuned.json; it did not finish its evaluation)");
    found.model = settings.model;
    found.vocab = settings.vocab;
    found.method = settings.method;
    return found;
}

Backbone loadBackboneFor(const std::string& method, const std::string& modelPath, const std::string& vocabulary, const std::string& device)
{
    if (findStrategy(method).capabilities.needsTextTower)
        return loadBackbone(modelPath, vocabulary, device);
    return loadImageBackbone(modelPath, device);
}

TunedModel openTunedExport(const std::string& manifestPath, const std::string& modelPath, const std::string& vocabulary,
                           const std::string& device, ModelMismatch mismatch)
{
    TunedModel tuned;
    tuned.manifestPath = PromptExport::manifestFile(manifestPath);
    tuned.manifest = RunStore::readJsonFile(tuned.manifestPath);
    const nlohmann::json& manifest = tuned.manifest;
    const std::string& path = tuned.manifestPath;
    if (!manifest.is_object() || !manifest.contains("method") || !manifest.contains("class_names"))
        throw Error(path + ": not a Tunebench export (no method or class_names)");
    std::string model = modelPath;
    if (model.empty()) {
        const nlohmann::json checkpoint = manifest.value("checkpoint", nlohmann::json::object());
        model = checkpoint.is_object() ? text(checkpoint, "path", "", path) : std::string();
    }
    if (model.empty())
        throw Error(path + ": the export names no model path (checkpoint.path); give the model");
    const std::string method = text(manifest, "method", "", path);
    findStrategy(method);  // an unknown method fails before the model loads
    tuned.backbone = loadBackboneFor(method, model, vocabulary, device);
    try {
        tuned.setup.classNames = manifest.at("class_names").get<std::vector<std::string>>();
        tuned.setup.shots = manifest.value("shots", 16);
    } catch (const nlohmann::json::exception& e) {
        throw Error(path + ": class_names or shots has the wrong type (" + e.what() + ")");
    }
    tuned.setup.promptTemplate = text(manifest, "template", tuned.setup.promptTemplate, path);
    tuned.setup.datasetName = text(manifest, "dataset", "", path);
    tuned.setup.tokenizer = tuned.backbone.tokenizer;
    ImportedPrompt imported = PromptExport::read(path, tuned.backbone.build(), tuned.setup, mismatch);
    tuned.strategy = std::move(imported.strategy);
    tuned.warnings = std::move(imported.warnings);
    return tuned;
}

TunedModel openTunedRun(const std::string& runDir, const std::string& modelPath, const std::string& vocabulary, const std::string& device,
                        ModelMismatch mismatch)
{
    const RunExport found = runExportOf(runDir);
    TunedModel tuned = openTunedExport(found.manifest, modelPath.empty() ? found.model : modelPath, vocabulary.empty() ? found.vocab : vocabulary,
                                       device, mismatch);
    const RunStore store = RunStore::open(runDir);
    const nlohmann::json results = store.readResults();
    const bool finished = results.is_object() && results.value("status", "") == "finished";
    if (const auto checkpoint = finished ? std::nullopt : findCheckpoint(store.checkpointDir()))
        tuned.strategy->loadTrainableState(readSafetensors(checkpoint->trainablePath));
    return tuned;
}

std::unique_ptr<Strategy> handcraftedPromptFor(const TunedModel& tuned)
{
    if (!findStrategy(tuned.strategy->name()).capabilities.comparesWithHandcrafted() || !tuned.backbone.tokenizer)
        return nullptr;
    std::unique_ptr<Strategy> handcrafted = findStrategy("zeroshot").create();
    handcrafted->attach(tuned.backbone.build(), tuned.setup, nlohmann::json::object());
    return handcrafted;
}

at::Tensor classProbabilities(Strategy& strategy, const at::Tensor& inputs)
{
    return strategy.logits(inputs).to(torch::kCPU, torch::kDouble).softmax(-1);
}

std::vector<ClassScore> topClasses(const at::Tensor& probabilities, const std::vector<std::string>& classNames, int k)
{
    const auto [values, indices] = probabilities.topk(std::min<int64_t>(k, probabilities.size(0)));
    std::vector<ClassScore> out;
    for (int64_t i = 0; i < values.size(0); ++i)
        out.push_back({classNames.at(static_cast<size_t>(indices[i].item<int64_t>())), values[i].item<double>()});
    return out;
}

nlohmann::json writeTunedOnnx(TunedModel& tuned, const std::string& path, const OnnxOptions& options)
{
#ifdef TUNEBENCH_WITH_ONNX
    const EvalTransform transform{tuned.backbone.checkpoint.spec.vision.imageSize};
    OnnxPreprocessing preprocessing;
    preprocessing.resolution = transform.resolution;
    preprocessing.resizeSize = transform.resizeSize();
    preprocessing.filter = transform.filter == ResizeFilter::Bicubic ? "bicubic" : "bilinear";
    preprocessing.mean = transform.norm.mean;
    preprocessing.std = transform.norm.std;
    return writeOnnx(*tuned.strategy, preprocessing, path, options);
#else
    (void)tuned, (void)options;
    throw Error(path + ": this build has no ONNX export (configure it with Debian's libonnx-dev and libprotobuf-dev)");
#endif
}

nlohmann::json writeRunOnnx(const std::string& runDir, const std::string& path, const OnnxOptions& options, const std::string& device)
{
    // Rebuilding the model and checking the graph on random inputs draw from LibTorch's generator: not while
    // a run in this process does (GeneratorLock).
    const GeneratorLock generator;
    TunedModel tuned = openTunedRun(runDir, "", "", device, ModelMismatch::Warn);
    return writeTunedOnnx(tuned, path, options);
}

bool onnxExportAvailable()
{
#ifdef TUNEBENCH_WITH_ONNX
    return true;
#else
    return false;
#endif
}

} // namespace tunebench
