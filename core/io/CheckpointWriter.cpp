#include "core/io/CheckpointWriter.h"

#include "core/Error.h"
#include "core/io/AtomicFile.h"
#include "core/io/KeyMaps.h"

#include <nlohmann/json.hpp>
#include <torch/script.h>
#include <torch/torch.h>

#include <filesystem>
#include <sstream>

namespace fs = std::filesystem;

namespace tunebench {

namespace {

// A TorchScript module needs a class type per object; names only have to be unique within the archive.
torch::jit::Module makeModule(const std::string& path)
{
    std::string name = "__torch__.tunebench.";
    for (char c : path.empty() ? std::string("CLIP") : path)
        name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
    return torch::jit::Module(c10::QualifiedName(name));
}

} // namespace

void writeOpenAiTorchScript(const StateDict& canonical, const ModelSpec& spec, const std::string& path)
{
    const StateDict named = openAiFromCanonical(canonical);
    torch::jit::Module root = makeModule("");
    std::map<std::string, torch::jit::Module> modules;  // dotted path -> module
    auto moduleFor = [&](const std::string& dotted) -> torch::jit::Module {
        torch::jit::Module current = root;
        std::string prefix;
        size_t start = 0;
        while (start < dotted.size()) {
            const size_t dot = dotted.find('.', start);
            const std::string part = dotted.substr(start, dot - start);
            prefix += (prefix.empty() ? "" : ".") + part;
            auto it = modules.find(prefix);
            if (it == modules.end()) {
                torch::jit::Module child = makeModule(prefix);
                current.register_module(part, child);
                it = modules.emplace(prefix, child).first;
            }
            current = it->second;
            if (dot == std::string::npos)
                break;
            start = dot + 1;
        }
        return current;
    };
    for (const auto& [key, tensor] : named) {
        const size_t dot = key.rfind('.');
        torch::jit::Module owner = dot == std::string::npos ? root : moduleFor(key.substr(0, dot));
        const std::string leaf = dot == std::string::npos ? key : key.substr(dot + 1);
        owner.register_parameter(leaf, tensor.detach().contiguous(), false);
    }
    root.register_buffer("input_resolution", torch::tensor(static_cast<int64_t>(spec.vision.imageSize)));
    if (spec.text) {
        root.register_buffer("context_length", torch::tensor(static_cast<int64_t>(spec.text->contextLength)));
        root.register_buffer("vocab_size", torch::tensor(static_cast<int64_t>(spec.text->vocabSize)));
    }
    // Serialised in memory, then written by the checked writer: LibTorch's file writer does not notice a
    // full disk before its destructor aborts the process.
    std::ostringstream serialised;
    try {
        root.save(serialised);
    } catch (const c10::Error& e) {
        throw Error(path + ": cannot serialise the model (" + e.what_without_backtrace() + ")");
    }
    writeFileAtomically(path, serialised.str());
}

void writeOpenAiSafetensors(const StateDict& canonical, const std::string& path)
{
    writeSafetensors(openAiFromCanonical(canonical), path, {{"format", "pt"}});
}

void writeTimmSafetensors(const StateDict& canonical, const std::string& path)
{
    writeSafetensors(timmFromCanonical(canonical), path, {{"format", "pt"}});
}

void writeHuggingFaceFolder(const StateDict& canonical, const ModelSpec& spec, const std::string& folder)
{
    if (!spec.text)
        throw Error(folder + ": a Hugging Face CLIP folder needs a text tower");
    if (spec.vision.isResNet())
        throw Error(folder + ": Hugging Face CLIP has no ResNet image tower; write the OpenAI or open_clip format");
    std::error_code error;
    fs::create_directories(folder, error);
    if (error)
        throw Error(folder + ": cannot create folder (" + error.message() + ")");
    auto tower = [](const TowerSpec& t) {
        return nlohmann::json{{"hidden_size", t.width},
                              {"intermediate_size", t.mlpWidth},
                              {"num_hidden_layers", t.layers},
                              {"num_attention_heads", t.heads},
                              {"hidden_act", activationName(t.activation)},
                              {"layer_norm_eps", t.layerNormEps},
                              {"projection_dim", t.outputDim}};
    };
    nlohmann::json text = tower(*spec.text);
    text["max_position_embeddings"] = spec.text->contextLength;
    text["vocab_size"] = spec.text->vocabSize;
    text["eos_token_id"] = spec.text->endOfTextId;
    text["bos_token_id"] = spec.text->endOfTextId - 1;
    text["pad_token_id"] = 1;
    nlohmann::json vision = tower(spec.vision);
    vision["image_size"] = spec.vision.imageSize;
    vision["patch_size"] = spec.vision.patchSize;
    vision["num_channels"] = 3;
    const nlohmann::json config = {{"architectures", {"CLIPModel"}},
                                   {"model_type", "clip"},
                                   {"projection_dim", spec.embedDim()},
                                   {"logit_scale_init_value", 2.6592},
                                   {"text_config", text},
                                   {"vision_config", vision},
                                   {"torch_dtype", "float32"}};
    writeSafetensors(huggingFaceFromCanonical(canonical), (fs::path(folder) / "model.safetensors").string(), {{"format", "pt"}});
    writeFileAtomically((fs::path(folder) / "config.json").string(), config.dump(2) + "\n");
}

StateDict canonicalWeights(const torch::nn::Module& model)
{
    StateDict out;
    for (const auto& item : model.named_parameters(true))
        out[item.key()] = item.value().detach().to(torch::kCPU);
    for (const auto& item : model.named_buffers(true))
        out[item.key()] = item.value().detach().to(torch::kCPU);
    return out;
}

} // namespace tunebench
