#include "core/io/KeyMaps.h"

#include "core/Error.h"

#include <torch/torch.h>

#include <optional>
#include <utility>
#include <vector>

namespace tunebench {

namespace {

using Renames = std::vector<std::pair<std::string, std::string>>;

bool startsWith(const std::string& text, const std::string& prefix)
{
    return text.compare(0, prefix.size(), prefix) == 0;
}

bool endsWith(const std::string& text, const std::string& suffix)
{
    return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// "prefix.N.rest" -> (N, rest)
std::optional<std::pair<int, std::string>> splitLayerKey(const std::string& key, const std::string& prefix)
{
    if (!startsWith(key, prefix))
        return std::nullopt;
    const size_t dot = key.find('.', prefix.size());
    if (dot == std::string::npos || dot == prefix.size())
        return std::nullopt;
    const std::string number = key.substr(prefix.size(), dot - prefix.size());
    if (number.find_first_not_of("0123456789") != std::string::npos)
        return std::nullopt;
    return std::make_pair(std::stoi(number), key.substr(dot + 1));
}

// Applies the first rename whose source is a prefix of `key` (exact for names without a trailing dot).
std::optional<std::string> rename(const std::string& key, const Renames& renames)
{
    for (const auto& [from, to] : renames) {
        if (from.back() == '.' ? startsWith(key, from) : key == from)
            return to + key.substr(from.size());
    }
    return std::nullopt;
}

Renames swapped(const Renames& renames)
{
    Renames out;
    for (const auto& [a, b] : renames)
        out.emplace_back(b, a);
    return out;
}

Error unknownKey(const std::string& key, Naming naming)
{
    return Error("unexpected key '" + key + "' for " + namingName(naming) + " naming");
}

// ---- OpenAI <-> canonical: the text tower moves under `text.` --------------------------------------

const Renames kOpenAiText = {
    {"token_embedding.", "text.token_embedding."},
    {"positional_embedding", "text.positional_embedding"},
    {"transformer.", "text.transformer."},
    {"ln_final.", "text.ln_final."},
    {"text_projection", "text.text_projection"},
};

// ---- Hugging Face <-> canonical --------------------------------------------------------------------

const Renames kHfBlock = {
    {"self_attn.out_proj.", "attn.out_proj."},
    {"layer_norm1.", "ln_1."},
    {"layer_norm2.", "ln_2."},
    {"mlp.fc1.", "mlp.c_fc."},
    {"mlp.fc2.", "mlp.c_proj."},
};

const Renames kHfTop = {
    {"text_model.embeddings.token_embedding.", "text.token_embedding."},
    {"text_model.embeddings.position_embedding.weight", "text.positional_embedding"},
    {"text_model.final_layer_norm.", "text.ln_final."},
    {"vision_model.embeddings.class_embedding", "visual.class_embedding"},
    {"vision_model.embeddings.patch_embedding.", "visual.conv1."},
    {"vision_model.embeddings.position_embedding.weight", "visual.positional_embedding"},
    {"vision_model.pre_layrnorm.", "visual.ln_pre."},
    {"vision_model.post_layernorm.", "visual.ln_post."},
    {"logit_scale", "logit_scale"},
};

const std::vector<std::pair<std::string, std::string>> kHfTowers = {
    {"text_model.encoder.layers.", "text.transformer.resblocks."},
    {"vision_model.encoder.layers.", "visual.transformer.resblocks."},
};

// ---- timm <-> canonical ----------------------------------------------------------------------------

const Renames kTimmBlock = {
    {"norm1.", "ln_1."},
    {"norm2.", "ln_2."},
    {"attn.qkv.weight", "attn.in_proj_weight"},
    {"attn.qkv.bias", "attn.in_proj_bias"},
    {"attn.proj.", "attn.out_proj."},
    {"mlp.fc1.", "mlp.c_fc."},
    {"mlp.fc2.", "mlp.c_proj."},
};

const Renames kTimmTop = {
    {"patch_embed.proj.", "visual.conv1."},
    {"norm_pre.", "visual.ln_pre."},
    {"norm.", "visual.ln_post."},
    {"head.", "head."},
};

} // namespace

std::string namingName(Naming naming)
{
    switch (naming) {
    case Naming::OpenAi: return "OpenAI/open_clip";
    case Naming::HuggingFace: return "Hugging Face CLIP";
    case Naming::Timm: return "timm ViT";
    case Naming::Unknown: break;
    }
    return "unknown";
}

Naming detectNaming(const StateDict& tensors)
{
    auto has = [&](const std::string& key) { return tensors.count(key) > 0; };
    auto anyPrefix = [&](const std::string& prefix) {
        auto it = tensors.lower_bound(prefix);
        return it != tensors.end() && startsWith(it->first, prefix);
    };
    for (const std::string& wrapper : {std::string("module."), std::string("state_dict.")})
        if (anyPrefix(wrapper + "visual."))
            return Naming::OpenAi;
    if (anyPrefix("stem.conv1.conv.") && anyPrefix("stages."))
        throw Error("timm's ByobNet naming of a ResNet CLIP image tower (resnet50_clip, ...) is not supported; "
                    "load the OpenAI .pt or the open_clip file, which also hold the text tower");
    if (has("visual.proj") || has("visual.conv1.weight") || anyPrefix("visual.attnpool.") || anyPrefix("visual.layer1."))
        return Naming::OpenAi;
    if (anyPrefix("text_model.") || anyPrefix("vision_model."))
        return Naming::HuggingFace;
    if (has("cls_token") || has("pos_embed") || anyPrefix("blocks.0.attn.qkv."))
        return Naming::Timm;
    return Naming::Unknown;
}

StateDict canonicalFromOpenAi(StateDict tensors)
{
    StateDict out;
    for (auto& [rawKey, tensor] : tensors) {
        std::string key = rawKey;
        for (const std::string& wrapper : {std::string("module."), std::string("state_dict.")})
            if (startsWith(key, wrapper))
                key = key.substr(wrapper.size());
        // Scalars the OpenAI archives carry besides the weights, the causal mask some writers keep, and
        // BatchNorm's step counter (statistics are frozen, so it is never read).
        if (key == "input_resolution" || key == "context_length" || key == "vocab_size" || endsWith(key, "attn_mask") ||
            endsWith(key, "num_batches_tracked"))
            continue;
        if (key == "logit_scale") {
            out[key] = tensor.reshape({});
        } else if (startsWith(key, "visual.") || startsWith(key, "text.")) {
            out[key] = tensor;
        } else if (auto renamed = rename(key, kOpenAiText)) {
            out[*renamed] = tensor;
        } else {
            throw unknownKey(rawKey, Naming::OpenAi);
        }
    }
    return out;
}

StateDict openAiFromCanonical(const StateDict& canonical)
{
    StateDict out;
    const Renames back = swapped(kOpenAiText);
    for (const auto& [key, tensor] : canonical) {
        if (startsWith(key, "visual.") || key == "logit_scale")
            out[key] = tensor;
        else if (auto renamed = rename(key, back))
            out[*renamed] = tensor;
        else
            throw unknownKey(key, Naming::OpenAi);
    }
    return out;
}

StateDict canonicalFromHuggingFace(const StateDict& tensors)
{
    StateDict out;
    std::map<std::string, std::array<torch::Tensor, 3>> qkv;  // canonical in_proj key -> q, k, v
    for (const auto& [key, tensor] : tensors) {
        if (endsWith(key, "position_ids"))
            continue;  // older exports store the position index buffer
        if (key == "text_projection.weight" || key == "visual_projection.weight") {
            out[key[0] == 't' ? "text.text_projection" : "visual.proj"] = tensor.t().contiguous();
            continue;
        }
        if (auto renamed = rename(key, kHfTop)) {
            out[*renamed] = tensor;
            continue;
        }
        bool mapped = false;
        for (const auto& [hfPrefix, canonicalPrefix] : kHfTowers) {
            auto layer = splitLayerKey(key, hfPrefix);
            if (!layer)
                continue;
            const std::string blockPrefix = canonicalPrefix + std::to_string(layer->first) + ".";
            const std::string& rest = layer->second;
            static const char* kParts[] = {"self_attn.q_proj.", "self_attn.k_proj.", "self_attn.v_proj."};
            for (int part = 0; part < 3 && !mapped; ++part) {
                if (startsWith(rest, kParts[part])) {
                    const std::string kind = rest.substr(std::strlen(kParts[part]));  // weight | bias
                    if (kind != "weight" && kind != "bias")
                        break;
                    qkv[blockPrefix + "attn.in_proj_" + kind][part] = tensor;
                    mapped = true;
                }
            }
            if (!mapped) {
                if (auto renamed = rename(rest, kHfBlock)) {
                    out[blockPrefix + *renamed] = tensor;
                    mapped = true;
                }
            }
            break;
        }
        if (!mapped)
            throw unknownKey(key, Naming::HuggingFace);
    }
    for (auto& [key, parts] : qkv) {
        for (int part = 0; part < 3; ++part)
            if (!parts[part].defined())
                throw Error("missing the " + std::string("qkv").substr(part, 1) + "_proj part of '" + key + "'");
        out[key] = torch::cat({parts[0], parts[1], parts[2]}, 0);
    }
    return out;
}

StateDict huggingFaceFromCanonical(const StateDict& canonical)
{
    StateDict out;
    const Renames top = swapped(kHfTop);
    const Renames block = swapped(kHfBlock);
    for (const auto& [key, tensor] : canonical) {
        if (key == "text.text_projection" || key == "visual.proj") {
            out[key[0] == 't' ? "text_projection.weight" : "visual_projection.weight"] = tensor.t().contiguous();
            continue;
        }
        if (auto renamed = rename(key, top)) {
            out[*renamed] = tensor;
            continue;
        }
        bool mapped = false;
        for (const auto& [hfPrefix, canonicalPrefix] : kHfTowers) {
            auto layer = splitLayerKey(key, canonicalPrefix);
            if (!layer)
                continue;
            const std::string blockPrefix = hfPrefix + std::to_string(layer->first) + ".";
            const std::string& rest = layer->second;
            if (rest == "attn.in_proj_weight" || rest == "attn.in_proj_bias") {
                const std::string kind = rest == "attn.in_proj_weight" ? "weight" : "bias";
                auto parts = tensor.chunk(3, 0);
                out[blockPrefix + "self_attn.q_proj." + kind] = parts[0].contiguous();
                out[blockPrefix + "self_attn.k_proj." + kind] = parts[1].contiguous();
                out[blockPrefix + "self_attn.v_proj." + kind] = parts[2].contiguous();
                mapped = true;
            } else if (auto renamed = rename(rest, block)) {
                out[blockPrefix + *renamed] = tensor;
                mapped = true;
            }
            break;
        }
        if (!mapped)
            throw unknownKey(key, Naming::HuggingFace);
    }
    return out;
}

StateDict canonicalFromTimm(const StateDict& tensors)
{
    StateDict out;
    for (const auto& [key, tensor] : tensors) {
        if (key == "cls_token") {
            out["visual.class_embedding"] = tensor.reshape({-1});
        } else if (key == "pos_embed") {
            out["visual.positional_embedding"] = tensor.reshape({tensor.size(-2), tensor.size(-1)});
        } else if (auto layer = splitLayerKey(key, "blocks.")) {
            auto renamed = rename(layer->second, kTimmBlock);
            if (!renamed)
                throw unknownKey(key, Naming::Timm);
            out["visual.transformer.resblocks." + std::to_string(layer->first) + "." + *renamed] = tensor;
        } else if (auto renamed = rename(key, kTimmTop)) {
            out[*renamed] = tensor;
        } else {
            throw unknownKey(key, Naming::Timm);
        }
    }
    return out;
}

StateDict timmFromCanonical(const StateDict& canonical)
{
    StateDict out;
    const Renames top = swapped(kTimmTop);
    const Renames block = swapped(kTimmBlock);
    for (const auto& [key, tensor] : canonical) {
        if (key == "visual.class_embedding") {
            out["cls_token"] = tensor.reshape({1, 1, -1});
        } else if (key == "visual.positional_embedding") {
            out["pos_embed"] = tensor.unsqueeze(0);
        } else if (auto layer = splitLayerKey(key, "visual.transformer.resblocks.")) {
            auto renamed = rename(layer->second, block);
            if (!renamed)
                throw unknownKey(key, Naming::Timm);
            out["blocks." + std::to_string(layer->first) + "." + *renamed] = tensor;
        } else if (auto renamed = rename(key, top)) {
            out[*renamed] = tensor;
        } else {
            throw unknownKey(key, Naming::Timm);
        }
    }
    return out;
}

} // namespace tunebench
