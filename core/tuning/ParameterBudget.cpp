#include "core/tuning/ParameterBudget.h"

#include "core/Error.h"
#include "core/tuning/StorageCost.h"
#include "core/tuning/classic/ClassicPetlStrategy.h"

#include <torch/torch.h>

#include <algorithm>

namespace tunebench {

ParameterBudget parameterBudget(Strategy& strategy, const ClipModel& model, int tasks)
{
    if (tasks < 1)
        throw Error("the number of tasks must be at least 1, got " + std::to_string(tasks));
    ParameterBudget budget;
    budget.tasks = tasks;
    budget.trainable = strategy.trainableParameterCount();
    bool wholeBackbonePerTask = false;
    if (auto* classic = dynamic_cast<ClassicPetlStrategy*>(&strategy)) {
        budget.backbone = classic->backboneParameterCount();
        wholeBackbonePerTask = classic->storesWholeBackbone();
    } else {
        for (const auto& p : model->parameters())
            budget.backbone += p.numel();
    }
    budget.shared = wholeBackbonePerTask ? 0 : budget.backbone;
    budget.multiplier = storageMultiplier(budget.shared, budget.backbone, std::vector<std::int64_t>(std::size_t(tasks), budget.trainable));
    return budget;
}

namespace {

struct Geometry
{
    const char* name;
    int width, layers, heads, patch;
    // CLIP geometries: the text tower's width and heads (12 layers) and the shared embedding size; 0 = a timm ViT.
    int textWidth = 0, textHeads = 0, embedding = 0;
    // ResNet CLIP geometries: bottlenecks per stage (`width` is the stem's, `patch` unused) and the resolution.
    std::vector<int> stages = {};
    int imageSize = 224;
};

const Geometry kGeometries[] = {
    {"vit-s16", 384, 12, 6, 16},
    {"vit-b16", 768, 12, 12, 16},
    {"vit-b32", 768, 12, 12, 32},
    {"vit-l16", 1024, 24, 16, 16},
    // OpenAI's CLIP releases (checkpoint-formats.md), for parameter counts of prompt learners.
    {"clip-vit-b16", 768, 12, 12, 16, 512, 8, 512},
    {"clip-vit-b32", 768, 12, 12, 32, 512, 8, 512},
    {"clip-vit-l14", 1024, 24, 16, 14, 768, 12, 768},
    {"clip-vit-l14-336", 1024, 24, 16, 14, 768, 12, 768, {}, 336},
    // methods-next.md 3.3: heads = 32 x width / 64.
    {"clip-rn50", 64, 16, 32, 0, 512, 8, 1024, {3, 4, 6, 3}},
    {"clip-rn101", 64, 33, 32, 0, 512, 8, 512, {3, 4, 23, 3}},
    {"clip-rn50x4", 80, 26, 40, 0, 640, 10, 640, {4, 6, 10, 6}, 288},
    {"clip-rn50x16", 96, 40, 48, 0, 768, 12, 768, {6, 8, 18, 8}, 384},
    {"clip-rn50x64", 128, 64, 64, 0, 1024, 16, 1024, {3, 15, 36, 10}, 448},
};

} // namespace

std::vector<std::string> geometryNames()
{
    std::vector<std::string> names;
    for (const auto& g : kGeometries)
        names.emplace_back(g.name);
    return names;
}

bool isGeometryName(const std::string& name)
{
    const auto names = geometryNames();
    return std::find(names.begin(), names.end(), name) != names.end();
}

ModelSpec modelGeometry(const std::string& name)
{
    for (const auto& g : kGeometries) {
        if (name != g.name)
            continue;
        ModelSpec spec;
        spec.vision.width = g.width;
        spec.vision.layers = g.layers;
        spec.vision.heads = g.heads;
        spec.vision.mlpWidth = g.stages.empty() ? 4 * g.width : 0;
        spec.vision.patchSize = g.patch;
        spec.vision.imageSize = g.imageSize;
        spec.vision.stageBlocks = g.stages;
        spec.vision.preNorm = g.stages.empty();
        if (g.textWidth > 0) {
            spec.family = ModelSpec::Family::Clip;
            spec.vision.outputDim = g.embedding;
            TextSpec text;
            text.width = g.textWidth;
            text.layers = 12;
            text.heads = g.textHeads;
            text.mlpWidth = 4 * g.textWidth;
            text.outputDim = g.embedding;
            spec.text = text;
        } else {
            spec.family = ModelSpec::Family::Vit;
            spec.vision.layerNormEps = 1e-6;
            spec.vision.activation = Activation::Gelu;
            spec.vision.preNorm = false;
            spec.vision.patchBias = true;
        }
        spec.name = name + " (random weights)";
        spec.format = "geometry";
        return spec;
    }
    std::string known;
    for (const auto& n : geometryNames())
        known += (known.empty() ? "" : ", ") + n;
    throw Error("unknown model geometry '" + name + "' (known: " + known + ")");
}

} // namespace tunebench
