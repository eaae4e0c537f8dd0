#include "core/export/PromptExport.h"

#include "core/Error.h"
#include "core/io/AtomicFile.h"
#include "core/io/ClipTokenizer.h"
#include "core/io/StateDict.h"
#include "core/train/RunStore.h"
#include "core/tuning/prompt/ClipStrategy.h"

#include <torch/torch.h>

#include <algorithm>
#include <cctype>
#include <filesystem>

namespace fs = std::filesystem;

namespace tunebench {

namespace {

// The manifest format this build writes and reads.
const std::string kPromptFormat = "tunebench-prompt-1";

std::string withoutExtension(const std::string& path)
{
    for (const char* extension : {".json", ".safetensors"}) {
        const std::string ext = extension;
        if (path.size() > ext.size() && path.compare(path.size() - ext.size(), ext.size(), ext) == 0)
            return path.substr(0, path.size() - ext.size());
    }
    return path;
}

} // namespace

std::vector<NearestWords> PromptExport::nearestWords(const at::Tensor& contexts, const at::Tensor& tokenEmbedding,
                                                     const ClipTokenizer& tokenizer, int count)
{
    torch::NoGradGuard noGrad;
    auto vectors = contexts.detach().to(torch::kCPU, torch::kFloat).reshape({-1, contexts.size(-1)});
    // Only ids the vocabulary uses (a model's embedding may have spare rows).
    const int64_t rows = std::min<int64_t>(tokenEmbedding.size(0), tokenizer.vocabSize());
    auto table = tokenEmbedding.detach().to(torch::kCPU, torch::kFloat).narrow(0, 0, rows);
    // compute_mode 2: direct differences, not the matmul expansion, so an exact match reads 0.
    auto distances = torch::cdist(vectors.unsqueeze(0), table.unsqueeze(0), 2.0, 2).squeeze(0);  // [M, V]
    // Words only: the start/end markers and tokens without a letter or digit (single bytes, "?", control
    // characters) say nothing about what a context means. A few candidates more than asked for leave room
    // to skip them.
    const auto isWord = [&](int id) {
        if (id == tokenizer.startId() || id == tokenizer.endId())
            return false;
        const std::string word = tokenizer.displayWord(id);
        if (word.find("\xEF\xBF\xBD") != std::string::npos)  // U+FFFD: bytes of a character cut in two
            return false;
        const bool letters = std::any_of(word.begin(), word.end(), [](unsigned char c) { return std::isalnum(c); });
        // A letter beyond ASCII is two or more bytes; one stray byte of a longer sequence is not a word.
        const bool wide = word.size() >= 2 && std::all_of(word.begin(), word.end(), [](unsigned char c) { return c >= 0x80; });
        return letters || wide;
    };
    const int64_t candidates = std::min<int64_t>(static_cast<int64_t>(count) + 64, rows);
    auto [values, indices] = distances.topk(candidates, 1, /*largest=*/false, /*sorted=*/true);
    std::vector<NearestWords> out;
    for (int64_t m = 0; m < vectors.size(0); ++m) {
        NearestWords nearest;
        for (int64_t j = 0; j < candidates && static_cast<int>(nearest.ids.size()) < count; ++j) {
            const int id = static_cast<int>(indices[m][j].item<int64_t>());
            if (!isWord(id))
                continue;
            nearest.ids.push_back(id);
            nearest.words.push_back(tokenizer.displayWord(id));
            nearest.distances.push_back(values[m][j].item<double>());
        }
        out.push_back(std::move(nearest));
    }
    return out;
}

nlohmann::json PromptExport::write(Strategy& strategy, const std::string& basePath, const nlohmann::json& metrics,
                                   int nearestCount, const std::string& runId)
{
    const std::string base = withoutExtension(basePath);
    const fs::path parent = fs::path(base).parent_path();
    if (!parent.empty())
        fs::create_directories(parent);
    StateDict tensors = strategy.exportTensors();
    nlohmann::json manifest = strategy.exportManifest();
    manifest["format"] = kPromptFormat;
    manifest["tensors"] = fs::path(base + ".safetensors").filename().string();
    manifest["metrics"] = metrics.is_null() ? nlohmann::json::object() : metrics;
    if (!runId.empty())
        manifest["run"] = runId;
    nlohmann::json shapes = nlohmann::json::object();
    for (const auto& [key, tensor] : tensors)
        shapes[key] = tensor.sizes().vec();
    manifest["tensor_shapes"] = shapes;
    auto* clip = dynamic_cast<ClipStrategy*>(&strategy);
    const at::Tensor contexts = clip ? clip->contextVectors() : at::Tensor();
    nlohmann::json nearestJson = nlohmann::json::array();
    if (contexts.defined() && clip->setup().tokenizer) {
        const auto nearest = nearestWords(contexts, clip->model()->text->token_embedding->weight, *clip->setup().tokenizer,
                                          nearestCount);
        for (size_t i = 0; i < nearest.size(); ++i) {
            nlohmann::json words = nlohmann::json::array();
            for (size_t j = 0; j < nearest[i].words.size(); ++j)
                words.push_back({{"word", nearest[i].words[j]}, {"id", nearest[i].ids[j]}, {"distance", nearest[i].distances[j]}});
            nearestJson.push_back({{"index", i}, {"nearest", words}});
        }
    }
    manifest["nearest_words"] = nearestJson;
    writeSafetensors(tensors, base + ".safetensors", {{"format", kPromptFormat}, {"method", strategy.name()}});
    writeFileAtomically(base + ".json", manifest.dump(2) + "\n");
    return manifest;
}

std::string PromptExport::manifestFile(const std::string& path)
{
    return withoutExtension(path) + ".json";
}

std::string PromptExport::exportName(const Strategy& strategy)
{
    return dynamic_cast<const ClipStrategy*>(&strategy) ? "prompt" : "tuned";
}

std::string PromptExport::findInRun(const std::string& runFolder)
{
    const fs::path run(runFolder);
    for (const fs::path& candidate : {run / "export" / "prompt.json", run / "export" / "tuned.json", run / "export.json"}) {
        std::error_code error;
        if (fs::is_regular_file(candidate, error))
            return candidate.string();
    }
    return {};
}

std::string PromptExport::tensorsPath(const std::string& manifestPath, const nlohmann::json& manifest)
{
    const std::string base = withoutExtension(manifestPath);
    const std::string manifestName = base + ".json";
    if (!manifest.contains("tensors"))
        return base + ".safetensors";
    if (!manifest["tensors"].is_string())
        throw Error(manifestName + ": \"tensors\" is not a file name");
    const std::string name = manifest["tensors"].get<std::string>();
    // Only a file beside the manifest: an export read from elsewhere must not reach any other file.
    const fs::path file(name);
    if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos || name.find('\\') != std::string::npos ||
        file.is_absolute() || file.has_root_path() || file.filename() != file)
        throw Error(manifestName + ": \"tensors\" must be a file name beside the manifest, got \"" + name + "\"");
    const fs::path folder = fs::path(manifestName).parent_path();
    const fs::path path = folder / file;
    // A link beside the manifest that leads out of its folder is refused too.
    std::error_code error;
    if (fs::is_symlink(fs::symlink_status(path, error))) {
        const fs::path target = fs::weakly_canonical(path, error);
        const fs::path inside = fs::weakly_canonical(folder.empty() ? fs::path(".") : folder, error);
        if (error || target.parent_path() != inside)
            throw Error(manifestName + ": \"tensors\" (" + name + ") is a link that leaves the manifest's folder");
    }
    // A manifest copied under another name (the window's File > Export copies both files) keeps the tensors
    // file name it was written with: the file beside it with its own base name is the pair then.
    if (!fs::exists(path, error) && fs::exists(base + ".safetensors", error))
        return base + ".safetensors";
    return path.string();
}

ImportedPrompt PromptExport::read(const std::string& manifestPath, ClipModel model, const TaskSetup& target, ModelMismatch mismatch)
{
    const std::string base = withoutExtension(manifestPath);
    ImportedPrompt imported;
    imported.manifest = RunStore::readJsonFile(base + ".json");
    const auto& manifest = imported.manifest;
    if (!manifest.contains("method") || !manifest["method"].is_string() || !manifest.contains("class_names"))
        throw Error(base + ".json: not a Tunebench prompt export (no method or class_names)");
    // A later format may mean tensors or fields this reader would misread: refused, not guessed at.
    const nlohmann::json format = manifest.value("format", nlohmann::json());
    if (!format.is_null() && format != kPromptFormat)
        throw Error(base + ".json: unknown prompt export format " + format.dump() + " (this build reads " + kPromptFormat + ")");
    const std::string method = manifest["method"].get<std::string>();
    const std::string loadedHash = model->spec().sha256;
    std::string exportedHash, exportedName;
    try {
        exportedHash = manifest.value("/checkpoint/sha256"_json_pointer, std::string());
        exportedName = manifest.value("/checkpoint/name"_json_pointer, std::string("?"));
    } catch (const nlohmann::json::exception& e) {
        throw Error(base + ".json: checkpoint.sha256 or checkpoint.name is not text (" + e.what() + ")");
    }
    if (!exportedHash.empty() && !loadedHash.empty() && exportedHash != loadedHash) {
        const std::string message = base + ".json: exported for model " + exportedName + " (sha256 " + exportedHash.substr(0, 12) +
                                    "...), loaded model has sha256 " + loadedHash.substr(0, 12) + "...";
        if (mismatch == ModelMismatch::Refuse)
            throw Error(message + "; give the model it was exported for");
        imported.warnings.push_back(message + "; results may be meaningless");
    }
    const std::string tensorsFile = tensorsPath(base + ".json", manifest);
    StateDict tensors = readSafetensors(tensorsFile);
    tensors.erase("class_text_features");
    tensors.erase("source_class_text_features");  // DAPL's, derived like class_text_features

    TaskSetup exported = target;
    nlohmann::json params;
    try {
        exported.classNames = manifest["class_names"].get<std::vector<std::string>>();
        exported.promptTemplate = manifest.value("template", target.promptTemplate);
        params = manifest.value("params", nlohmann::json::object());
        exported.domainNames = manifest.value("domains", target.domainNames);  // DAPL: source and target words
    } catch (const nlohmann::json::exception& e) {
        throw Error(base + ".json: class_names, template or params has the wrong type (" + e.what() + ")");
    }
    imported.strategy = findStrategy(method).create();
    imported.strategy->attach(model, exported, params);
    try {
        imported.strategy->loadTrainableState(tensors);
    } catch (const Error& e) {
        // The strategy's message names the tensor; the file is named here.
        throw Error(tensorsFile + ": " + e.what());
    }
    if (target.classNames != exported.classNames)
        imported.strategy->setClasses(target.classNames);
    return imported;
}

} // namespace tunebench
