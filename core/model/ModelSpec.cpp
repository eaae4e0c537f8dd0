#include "core/model/ModelSpec.h"

#include "core/Error.h"
#include "core/io/JsonFields.h"

#include <nlohmann/json.hpp>

namespace tunebench {

std::string activationName(Activation activation)
{
    return activation == Activation::QuickGelu ? "quick_gelu" : "gelu";
}

std::string ModelSpec::familyName() const
{
    if (family == Family::Vit)
        return "ViT";
    return vision.isResNet() ? "CLIP ResNet" : "CLIP ViT";
}

static nlohmann::json towerJson(const TowerSpec& tower)
{
    return {{"width", tower.width},
            {"layers", tower.layers},
            {"heads", tower.heads},
            {"mlp_width", tower.mlpWidth},
            {"layer_norm_eps", tower.layerNormEps},
            {"activation", activationName(tower.activation)},
            {"output_dim", tower.outputDim}};
}

nlohmann::json ModelSpec::summary() const
{
    nlohmann::json vis;
    if (vision.isResNet()) {
        vis = {{"layers", vision.stageBlocks},
               {"width", vision.width},
               {"feature_width", vision.featureWidth()},
               {"heads", vision.heads},
               {"output_dim", vision.outputDim}};
    } else {
        vis = towerJson(vision);
        vis["patch_size"] = vision.patchSize;
        vis["pre_norm"] = vision.preNorm;
    }
    vis["image_size"] = vision.imageSize;
    nlohmann::json out = {{"name", name},
                          {"family", familyName()},
                          {"format", format},
                          {"path", path},
                          {"sha256", sha256},
                          {"parameters", parameterCount},
                          {"resolution", vision.imageSize},
                          {"embed_dim", embedDim()},
                          {"vision", vis}};
    if (text) {
        nlohmann::json txt = towerJson(*text);
        txt["context_length"] = text->contextLength;
        txt["vocab_size"] = text->vocabSize;
        out["text"] = txt;
    }
    if (headClasses > 0)
        out["head_classes"] = headClasses;
    return out;
}

void applyHuggingFaceConfig(const nlohmann::json& config, ModelSpec& spec, const std::string& configPath)
{
    if (!config.is_object())
        throw Error(configPath + ": not a JSON object");
    auto section = [&](const char* name) {
        for (const std::string key : {std::string(name), std::string(name) + "_dict"})  // older exports: *_dict
            if (config.contains(key) && config[key].is_object())
                return config[key];
        return nlohmann::json::object();
    };
    auto apply = [&](const nlohmann::json& cfg, TowerSpec& tower, const char* which) {
        tower.heads = integerField(cfg, "num_attention_heads", tower.heads, configPath + ": " + which);
        tower.layerNormEps = cfg.value("layer_norm_eps", 1e-5);
        const std::string act = cfg.value("hidden_act", std::string("quick_gelu"));
        if (act == "quick_gelu")
            tower.activation = Activation::QuickGelu;
        else if (act == "gelu")
            tower.activation = Activation::Gelu;
        else
            throw Error(configPath + ": " + which + ".hidden_act '" + act + "' is not supported (quick_gelu or gelu)");
        if (tower.heads <= 0 || tower.width % tower.heads != 0)
            throw Error(configPath + ": " + which + ".num_attention_heads " + std::to_string(tower.heads) +
                        " does not divide the width " + std::to_string(tower.width));
        if (!(tower.layerNormEps > 0 && tower.layerNormEps < 1))
            throw Error(configPath + ": " + which + ".layer_norm_eps must lie between 0 and 1");
    };
    try {
        apply(section("vision_config"), spec.vision, "vision_config");
        if (spec.text) {
            const nlohmann::json textConfig = section("text_config");
            apply(textConfig, *spec.text, "text_config");
            // Old exports carry the legacy ids 0/2 (tokenizer.md); keep the CLIP default then.
            const std::int64_t eos = integerField<std::int64_t>(textConfig, "eos_token_id", spec.text->endOfTextId, configPath + ": text_config");
            if (eos != 2) {
                if (eos < 0 || eos >= spec.text->vocabSize)
                    throw Error(configPath + ": text_config.eos_token_id " + std::to_string(eos) + " is outside the vocabulary of " +
                                std::to_string(spec.text->vocabSize));
                spec.text->endOfTextId = static_cast<int>(eos);
            }
        }
    } catch (const nlohmann::json::exception& e) {
        throw Error(configPath + ": a field has the wrong type (" + e.what() + ")");
    }
}

} // namespace tunebench
