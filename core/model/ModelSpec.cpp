#include "core/model/ModelSpec.h"

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
    return "CLIP ViT";
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
    nlohmann::json vis = towerJson(vision);
    vis["patch_size"] = vision.patchSize;
    vis["image_size"] = vision.imageSize;
    vis["pre_norm"] = vision.preNorm;
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

} // namespace tunebench
