#include "core/io/CheckpointLoader.h"

#include "core/Error.h"
#include "core/io/KeyMaps.h"
#include "core/io/RegularFile.h"
#include "core/io/Sha256.h"
#include "core/io/TorchSave.h"

#include <caffe2/serialize/inline_container.h>
#include <nlohmann/json.hpp>
#include <torch/script.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#ifdef __GLIBC__
#include <malloc.h>
#endif

namespace fs = std::filesystem;

namespace tunebench {

namespace {

bool startsWith(const std::string& text, const std::string& prefix)
{
    return text.compare(0, prefix.size(), prefix) == 0;
}

std::string readPrefix(const std::string& path, size_t count)
{
    requireRegularFile(path);
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw Error(path + ": cannot open file");
    std::string bytes(count, '\0');
    in.read(bytes.data(), static_cast<std::streamsize>(count));
    bytes.resize(static_cast<size_t>(in.gcount()));
    return bytes;
}

nlohmann::json readJson(const fs::path& path)
{
    requireRegularFile(path.string());
    std::ifstream in(path);
    if (!in)
        throw Error(path.string() + ": cannot open file");
    try {
        return nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
        throw Error(path.string() + ": invalid JSON (" + std::string(e.what()) + ")");
    }
}

const std::map<std::string, std::string>& knownOpenAiHashes()
{
    static const std::map<std::string, std::string> hashes = {
        {"40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af", "OpenAI ViT-B/32"},
        {"5806e77cd80f8b59890b7e101eabd078d9fb84e6937f9e85e4ecb61988df416f", "OpenAI ViT-B/16"},
        {"b8cca3fd41ae0c99ba7e8951adf17d267cdb84cd88be6f7c2e0eca1737a03836", "OpenAI ViT-L/14"},
        {"3035c92b350959924f9f00213499208652fc7ea050643e8b385c2dac08641f02", "OpenAI ViT-L/14@336px"},
        {"afeb0e10f9e5a86da6080e35cf09123aca3b358a0c3e3b6c78a7b63bc04b6762", "OpenAI RN50"},
        {"8fa8567bab74a42d41c5915025a8e4538c3bdbe8804a470a72f30b0d94fab599", "OpenAI RN101"},
        {"7e526bd135e493cef0776de27d5f42653e6b4c8bf9e0f653bb11773263205fdd", "OpenAI RN50x4"},
        {"52378b407f34354e150460fe41077663dd5b39c54cd0bfd2b27167a4a06ec9aa", "OpenAI RN50x16"},
        {"be1cfb55d75a9666199fb2206c106743da0f6468c9d327f3e0d0a543a9919d9c", "OpenAI RN50x64"},
    };
    return hashes;
}

int countLayers(const StateDict& weights, const std::string& prefix)
{
    std::set<std::string> layers;
    for (auto it = weights.lower_bound(prefix); it != weights.end() && startsWith(it->first, prefix); ++it)
        layers.insert(it->first.substr(prefix.size(), it->first.find('.', prefix.size()) - prefix.size()));
    return static_cast<int>(layers.size());
}

const torch::Tensor& require(const StateDict& weights, const std::string& key, int dims)
{
    auto it = weights.find(key);
    if (it == weights.end())
        throw Error("missing key '" + key + "'");
    if (it->second.dim() != dims)
        throw Error("key '" + key + "' expected " + std::to_string(dims) + " dimensions, found shape " +
                    shapeString(it->second.sizes()));
    return it->second;
}

StateDict readTorchScriptWeights(const std::string& path)
{
    {
        caffe2::serialize::PyTorchStreamReader reader(path);
        bool hasCode = false;
        for (const auto& record : reader.getAllRecords())
            hasCode = hasCode || startsWith(record, "code/") || record.find("/code/") != std::string::npos;
        if (!hasCode)
            throw Error(path + ": a zip archive that is neither TorchScript nor torch.save");
    }
    torch::jit::Module module = torch::jit::load(path, torch::kCPU);
    StateDict weights;
    for (const auto& item : module.named_parameters(true))
        weights[item.name] = item.value.detach();
    for (const auto& item : module.named_buffers(true))
        weights[item.name] = item.value.detach();
    return weights;
}

// The weights of a Hugging Face folder: model.safetensors, else pytorch_model.bin, each possibly sharded
// with an index. `files` receives the files read (for the hash).
StateDict readHuggingFaceWeights(const fs::path& folder, std::vector<std::string>& files)
{
    using Reader = StateDict (*)(const std::string&);
    const Reader safetensors = [](const std::string& file) { return readSafetensors(file); };
    for (const auto& [single, read] : {std::pair<std::string, Reader>{"model.safetensors", safetensors}, {"pytorch_model.bin", &readTorchSave}}) {
        if (fs::exists(folder / single)) {
            files = {(folder / single).string()};
            return read(files.front());
        }
        const fs::path index = folder / (single + ".index.json");
        if (!fs::exists(index))
            continue;
        const nlohmann::json map = readJson(index);
        if (!map.contains("weight_map") || !map["weight_map"].is_object())
            throw Error(index.string() + ": no \"weight_map\" object");
        std::set<std::string> shards;
        for (const auto& [tensor, shard] : map["weight_map"].items())
            shards.insert(shard.get<std::string>());
        StateDict all;
        files.clear();
        for (const auto& shard : shards) {
            files.push_back((folder / shard).string());
            for (auto& [key, value] : read(files.back()))
                all[key] = value;
        }
        return all;
    }
    throw Error(folder.string() + ": no model.safetensors or pytorch_model.bin (or their .index.json) in this Hugging Face folder");
}

// The one weights file inside a library's own hub folder: open_clip's (open_clip_config.json beside
// open_clip_model.safetensors or open_clip_pytorch_model.bin) and timm's (a config.json that names an
// "architecture" and has no transformers "model_type", beside model.safetensors or pytorch_model.bin).
// nullopt for any other folder; a Hugging Face CLIP folder wins over open_clip files kept beside it.
std::optional<fs::path> libraryFolderWeights(const fs::path& folder)
{
    std::vector<std::string> names;
    if (fs::exists(folder / "config.json")) {
        const nlohmann::json config = readJson(folder / "config.json");
        if (!config.is_object() || config.contains("model_type") || !config.contains("architecture"))
            return std::nullopt;
        names = {"model.safetensors", "pytorch_model.bin"};
    } else if (fs::exists(folder / "open_clip_config.json")) {
        names = {"open_clip_model.safetensors", "open_clip_pytorch_model.bin"};
    } else {
        return std::nullopt;
    }
    for (const auto& name : names)
        if (fs::exists(folder / name))
            return folder / name;
    throw Error(folder.string() + ": neither " + names[0] + " nor " + names[1] + " in this " +
                (names[0] == "model.safetensors" ? "timm" : "open_clip") + " folder");
}

// open_clip builds its towers with QuickGELU only where the model config says "quick_gelu": true (OpenAI's
// weights); its other models (LAION, DataComp, ...) use exact GELU. The tensors cannot tell, but open_clip's
// hub folders keep that config in open_clip_config.json beside the weights.
std::optional<Activation> openClipActivation(const fs::path& weightsFile)
{
    const fs::path configPath = weightsFile.parent_path() / "open_clip_config.json";
    if (!fs::exists(configPath))
        return std::nullopt;
    const nlohmann::json config = readJson(configPath);
    if (!config.is_object() || !config.contains("model_cfg") || !config["model_cfg"].is_object())
        throw Error(configPath.string() + ": no \"model_cfg\" object");
    const nlohmann::json& model = config["model_cfg"];
    if (!model.contains("quick_gelu"))
        return Activation::Gelu;  // open_clip's default
    if (!model["quick_gelu"].is_boolean())
        throw Error(configPath.string() + ": model_cfg.quick_gelu must be true or false, got " + model["quick_gelu"].dump());
    return model["quick_gelu"].get<bool>() ? Activation::QuickGelu : Activation::Gelu;
}

std::string hashFiles(const std::vector<std::string>& paths)
{
    if (paths.size() == 1)
        return sha256File(paths.front());
    Sha256 hasher;
    for (const auto& path : paths) {
        const std::string digest = sha256File(path);
        hasher.update(digest.data(), digest.size());
    }
    return hasher.hexDigest();
}

} // namespace

CheckpointFormat detectCheckpointFormat(const std::string& path)
{
    if (fs::is_directory(path)) {
        if (auto weights = libraryFolderWeights(path))
            return detectCheckpointFormat(weights->string());
        if (fs::exists(fs::path(path) / "config.json"))
            return CheckpointFormat::HuggingFaceFolder;
        throw Error(path + ": a folder without config.json or open_clip_config.json; expected a Hugging Face CLIP, "
                           "open_clip or timm folder");
    }
    if (!fs::exists(path))
        throw Error(path + ": no such file or folder");
    requireRegularFile(path, "model");
    if (torchSaveKind(path) != TorchSaveKind::NotTorchSave)
        return CheckpointFormat::TorchSave;
    const std::string head = readPrefix(path, 9);
    if (head.size() >= 4 && head.compare(0, 4, "PK\x03\x04") == 0)
        return CheckpointFormat::OpenAiTorchScript;
    if (head.size() == 9 && head[8] == '{')
        return CheckpointFormat::Safetensors;
    throw Error(path + ": not a recognised checkpoint (expected a TorchScript .pt archive, a .safetensors file or "
                       "a Hugging Face folder)");
}

static void inferTextSpec(const StateDict& w, ModelSpec& spec)
{
    TextSpec t;
    t.width = static_cast<int>(require(w, "text.ln_final.weight", 1).size(0));
    t.layers = countLayers(w, "text.transformer.resblocks.");
    t.heads = std::max(1, t.width / 64);
    t.mlpWidth = static_cast<int>(require(w, "text.transformer.resblocks.0.mlp.c_fc.weight", 2).size(0));
    t.contextLength = static_cast<int>(require(w, "text.positional_embedding", 2).size(0));
    t.vocabSize = static_cast<int>(require(w, "text.token_embedding.weight", 2).size(0));
    t.outputDim = static_cast<int>(require(w, "text.text_projection", 2).size(1));
    spec.text = t;
    spec.family = ModelSpec::Family::Clip;
}

// OpenAI's build_model for a ResNet tower: stage depths from the block indices, the stem width from
// layer1's first convolution, the grid from the attention pool's positions, heads of 64 channels.
static VisionSpec inferResNetSpec(const StateDict& w)
{
    VisionSpec v;
    for (int stage = 1; stage <= 4; ++stage) {
        const std::string prefix = "visual.layer" + std::to_string(stage) + ".";
        const int blocks = countLayers(w, prefix);
        if (blocks == 0)
            throw Error("missing key '" + prefix + "0.conv1.weight'");
        v.stageBlocks.push_back(blocks);
    }
    v.width = static_cast<int>(require(w, "visual.layer1.0.conv1.weight", 4).size(0));
    const std::string posKey = "visual.attnpool.positional_embedding";
    const auto& pos = require(w, posKey, 2);
    const int grid = static_cast<int>(std::lround(std::sqrt(static_cast<double>(pos.size(0) - 1))));
    if (grid < 1 || grid * grid + 1 != pos.size(0))
        throw Error("key '" + posKey + "' has " + std::to_string(pos.size(0)) + " rows; expected a square grid plus one");
    if (pos.size(1) != v.featureWidth())
        throw Error("key '" + posKey + "' expected width " + std::to_string(v.featureWidth()) + " (32 x the stem width), found shape " +
                    shapeString(pos.sizes()));
    v.imageSize = 32 * grid;
    v.heads = std::max(1, v.featureWidth() / 64);
    v.outputDim = static_cast<int>(require(w, "visual.attnpool.c_proj.weight", 2).size(0));
    v.layers = 0;
    for (int blocks : v.stageBlocks)
        v.layers += blocks;
    v.preNorm = false;
    return v;
}

ModelSpec inferSpec(const StateDict& w)
{
    ModelSpec spec;
    if (w.count("visual.attnpool.positional_embedding") || w.count("visual.layer1.0.conv1.weight")) {
        spec.vision = inferResNetSpec(w);
        if (!w.count("text.ln_final.weight"))
            throw Error("missing key 'ln_final.weight': a ResNet CLIP image tower without its text tower");
        inferTextSpec(w, spec);
        return spec;
    }
    const auto& conv = require(w, "visual.conv1.weight", 4);
    VisionSpec& v = spec.vision;
    v.width = static_cast<int>(conv.size(0));
    v.patchSize = static_cast<int>(conv.size(-1));
    v.layers = countLayers(w, "visual.transformer.resblocks.");
    const auto& pos = require(w, "visual.positional_embedding", 2);
    const int grid = static_cast<int>(std::lround(std::sqrt(static_cast<double>(pos.size(0) - 1))));
    v.imageSize = v.patchSize * grid;
    v.heads = std::max(1, v.width / 64);
    v.mlpWidth = static_cast<int>(require(w, "visual.transformer.resblocks.0.mlp.c_fc.weight", 2).size(0));
    v.preNorm = w.count("visual.ln_pre.weight") > 0;
    v.patchBias = w.count("visual.conv1.bias") > 0;
    if (w.count("visual.proj"))
        v.outputDim = static_cast<int>(require(w, "visual.proj", 2).size(1));
    if (w.count("text.ln_final.weight")) {
        inferTextSpec(w, spec);
    } else {
        spec.family = ModelSpec::Family::Vit;
    }
    if (w.count("head.weight"))
        spec.headClasses = static_cast<int>(require(w, "head.weight", 2).size(0));
    return spec;
}

Checkpoint readCheckpoint(const std::string& path, const LoadOptions& options)
{
    Checkpoint checkpoint;
    std::vector<std::string> hashed;
    std::optional<nlohmann::json> hfConfig;
    std::string configPath;
    Naming naming = Naming::Unknown;
    std::string file = path;  // the weights: `path`, or the file inside an open_clip or timm folder
    try {
        if (fs::is_directory(path))
            if (auto weights = libraryFolderWeights(path))
                file = weights->string();
        const CheckpointFormat format = detectCheckpointFormat(file);
        StateDict raw;
        switch (format) {
        case CheckpointFormat::OpenAiTorchScript:
            raw = readTorchScriptWeights(file);
            checkpoint.spec.format = "openai-torchscript";
            hashed = {file};
            break;
        case CheckpointFormat::Safetensors:
            raw = readSafetensors(file);
            hashed = {file};
            break;
        case CheckpointFormat::TorchSave:
            raw = readTorchSave(file);
            hashed = {file};
            break;
        case CheckpointFormat::HuggingFaceFolder: {
            configPath = (fs::path(path) / "config.json").string();
            hfConfig = readJson(configPath);
            const std::string modelType = hfConfig->value("model_type", std::string());
            if (modelType != "clip")
                throw Error(configPath + ": model_type '" + modelType + "' is not a CLIP model (expected \"clip\")");
            raw = readHuggingFaceWeights(path, hashed);
            checkpoint.spec.format = "huggingface";
            break;
        }
        }
        naming = detectNaming(raw);
        switch (naming) {
        case Naming::OpenAi: checkpoint.weights = canonicalFromOpenAi(std::move(raw)); break;
        case Naming::HuggingFace: checkpoint.weights = canonicalFromHuggingFace(raw); break;
        case Naming::Timm: checkpoint.weights = canonicalFromTimm(raw); break;
        case Naming::Unknown:
            throw Error("the tensor names match no supported naming (OpenAI/open_clip, Hugging Face CLIP, timm ViT)");
        }
        if (format == CheckpointFormat::Safetensors || format == CheckpointFormat::TorchSave) {
            const std::string container = format == CheckpointFormat::Safetensors ? "-safetensors" : "-torch-save";
            checkpoint.spec.format = (naming == Naming::Timm ? "timm" : naming == Naming::HuggingFace ? "huggingface" : "openai") + container;
        }
    } catch (const Error& e) {
        const std::string message = e.what();
        throw Error(startsWith(message, path) ? message : path + ": " + message);
    } catch (const c10::Error& e) {
        throw Error(path + ": cannot read the archive (" + firstLine(e.what_without_backtrace()) + ")");
    }

    ModelSpec inferred;
    try {
        inferred = inferSpec(checkpoint.weights);
        if (naming == Naming::Timm) {
            // timm ViTs use exact GELU; its CLIP towers (pre-norm) use eps 1e-5, the others 1e-6.
            inferred.vision.activation = Activation::Gelu;
            inferred.vision.layerNormEps = inferred.vision.preNorm ? 1e-5 : 1e-6;
        }
        if (hfConfig)
            applyHuggingFaceConfig(*hfConfig, inferred, configPath);
        if (naming == Naming::OpenAi) {
            if (auto activation = openClipActivation(file)) {
                inferred.vision.activation = *activation;
                if (inferred.text)
                    inferred.text->activation = *activation;
            }
        }
    } catch (const Error& e) {
        throw Error(path + ": " + e.what());
    }
    if (options.activation) {
        inferred.vision.activation = *options.activation;
        if (inferred.text)
            inferred.text->activation = *options.activation;
    }
    inferred.format = checkpoint.spec.format;
    inferred.path = path;
    inferred.name = fs::path(path).filename().string();
    if (options.computeHash) {
        inferred.sha256 = hashFiles(hashed);
        auto known = knownOpenAiHashes().find(inferred.sha256);
        if (known != knownOpenAiHashes().end())
            inferred.name = known->second;
    }
    for (const auto& [key, tensor] : checkpoint.weights)
        inferred.parameterCount += tensor.numel();
    checkpoint.spec = inferred;
    return checkpoint;
}

void loadWeightsStrict(torch::nn::Module& model, const StateDict& weights, const std::string& source)
{
    std::set<std::string> used;
    torch::NoGradGuard noGrad;
    auto copyInto = [&](const std::string& name, torch::Tensor& target) {
        auto it = weights.find(name);
        if (it == weights.end())
            throw Error(source + ": missing key '" + name + "' (expected shape " + shapeString(target.sizes()) + ")");
        if (it->second.sizes() != target.sizes())
            throw Error(source + ": key '" + name + "' expected shape " + shapeString(target.sizes()) + ", found " +
                        shapeString(it->second.sizes()));
        target.copy_(it->second);  // also casts stored fp16/bf16 to the compute type
        used.insert(name);
    };
    for (auto& item : model.named_parameters(true))
        copyInto(item.key(), item.value());
    for (auto& item : model.named_buffers(true))
        copyInto(item.key(), item.value());
    for (const auto& [name, tensor] : weights)
        if (!used.count(name))
            throw Error(source + ": unexpected key '" + name + "' with shape " + shapeString(tensor.sizes()));
}

ClipModel buildModel(const Checkpoint& checkpoint)
{
    ClipModel model(checkpoint.spec);
    loadWeightsStrict(*model, checkpoint.weights, checkpoint.spec.path);
    model->eval();
    return model;
}

ClipModel loadModel(const std::string& path, const LoadOptions& options, ModelSpec* spec)
{
    // Peak memory: a model built next to the read weights holds two copies at once (its random
    // initialisation and the checkpoint). Instead the spec comes from a first read, the model's
    // initialisation is dropped before the second read (from the page cache), and the model adopts the
    // read tensors without copying: about one copy of the weights at any time.
    // configureThreads() keeps freed blocks in the heap for speed; here they are handed back so that each
    // phase reuses or returns the previous one's memory instead of fragmenting around it.
    auto releaseFreedMemory = [] {
#ifdef __GLIBC__
        malloc_trim(0);
#endif
    };
    ModelSpec inferred = readCheckpoint(path, options).spec;
    releaseFreedMemory();
    ClipModel model(inferred);
    std::map<std::string, std::vector<int64_t>> shapes;
    {
        torch::NoGradGuard noGrad;
        for (auto& item : model->named_parameters(true)) {
            shapes[item.key()] = item.value().sizes().vec();
            item.value().set_data(torch::empty({0}, item.value().options()));
        }
        for (auto& item : model->named_buffers(true)) {
            shapes[item.key()] = item.value().sizes().vec();
            item.value().set_data(torch::empty({0}, item.value().options()));
        }
    }
    releaseFreedMemory();
    LoadOptions again = options;
    again.computeHash = false;
    Checkpoint checkpoint = readCheckpoint(path, again);
    for (const auto& [name, shape] : shapes) {
        auto it = checkpoint.weights.find(name);
        if (it == checkpoint.weights.end())
            throw Error(path + ": missing key '" + name + "' (expected shape " + shapeString(shape) + ")");
        if (it->second.sizes() != at::IntArrayRef(shape))
            throw Error(path + ": key '" + name + "' expected shape " + shapeString(shape) + ", found " + shapeString(it->second.sizes()));
    }
    for (const auto& [name, tensor] : checkpoint.weights)
        if (!shapes.count(name))
            throw Error(path + ": unexpected key '" + name + "' with shape " + shapeString(tensor.sizes()));
    {
        torch::NoGradGuard noGrad;
        auto adopt = [&](const std::string& name, torch::Tensor& target) {
            auto it = checkpoint.weights.find(name);
            torch::Tensor weight = std::move(it->second);
            checkpoint.weights.erase(it);  // frees stored-dtype tensors as soon as they are converted
            if (weight.scalar_type() != target.scalar_type() || !weight.is_contiguous())
                weight = weight.to(target.scalar_type()).contiguous();  // e.g. fp16 archives, computing in fp32
            target.set_data(weight);
        };
        for (auto& item : model->named_parameters(true))
            adopt(item.key(), item.value());
        for (auto& item : model->named_buffers(true))
            adopt(item.key(), item.value());
    }
    model->eval();
    if (spec)
        *spec = inferred;
    return model;
}

} // namespace tunebench
