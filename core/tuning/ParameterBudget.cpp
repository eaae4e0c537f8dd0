#include "core/tuning/ParameterBudget.h"

#include "core/Error.h"
#include "core/tuning/ClassicPetlStrategy.h"

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
    budget.multiplier = (static_cast<double>(budget.shared) + static_cast<double>(tasks) * static_cast<double>(budget.trainable)) /
                        static_cast<double>(budget.backbone);
    return budget;
}

namespace {

struct Geometry
{
    const char* name;
    int width, layers, heads, patch;
};

const Geometry kGeometries[] = {
    {"vit-s16", 384, 12, 6, 16},
    {"vit-b16", 768, 12, 12, 16},
    {"vit-b32", 768, 12, 12, 32},
    {"vit-l16", 1024, 24, 16, 16},
};

} // namespace

std::vector<std::string> vitGeometryNames()
{
    std::vector<std::string> names;
    for (const auto& g : kGeometries)
        names.emplace_back(g.name);
    return names;
}

bool isVitGeometryName(const std::string& name)
{
    const auto names = vitGeometryNames();
    return std::find(names.begin(), names.end(), name) != names.end();
}

ModelSpec vitGeometry(const std::string& name)
{
    for (const auto& g : kGeometries) {
        if (name != g.name)
            continue;
        ModelSpec spec;
        spec.family = ModelSpec::Family::Vit;
        spec.vision.width = g.width;
        spec.vision.layers = g.layers;
        spec.vision.heads = g.heads;
        spec.vision.mlpWidth = 4 * g.width;
        spec.vision.patchSize = g.patch;
        spec.vision.imageSize = 224;
        spec.vision.layerNormEps = 1e-6;
        spec.vision.activation = Activation::Gelu;
        spec.vision.preNorm = false;
        spec.vision.patchBias = true;
        spec.name = name + " (random weights)";
        spec.format = "geometry";
        return spec;
    }
    std::string known;
    for (const auto& n : vitGeometryNames())
        known += (known.empty() ? "" : ", ") + n;
    throw Error("unknown model geometry '" + name + "' (known: " + known + ")");
}

} // namespace tunebench
