#include "core/tuning/classic/LoraTuning.h"

#include "core/tuning/LowRank.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

namespace tunebench {

LoraTuning::LoraTuning() = default;
LoraTuning::LoraTuning(bool magnitude) : m_magnitude(magnitude) {}
LoraTuning::~LoraTuning() = default;

ParamSchema LoraTuning::schema()
{
    return {{"rank", ParamField::Type::Int, 8, 1, 1024, {}, "rank r of each update B A"},
            {"alpha", ParamField::Type::Double, 8.0, 0, 1e6, {}, "the update is scaled by alpha / r"},
            {"dropout", ParamField::Type::Double, 0.1, 0, 0.95, {}, "dropout on the update's input while training"},
            {"targets", ParamField::Type::Text, "q,v", 0, 0, {},
             "comma list of q, k, v, qkv (the packed projection as one matrix, as PEFT on timm's qkv), o, fc1, fc2"}};
}

std::shared_ptr<torch::nn::Module> LoraTuning::createMethodModule(const VisionSpec& vision)
{
    LowRankOptions options;
    options.targets = parseLowRankTargets(m_params.at("targets").get<std::string>(), "targets");
    options.rank = m_params.at("rank").get<int>();
    options.alpha = m_params.at("alpha").get<double>();
    options.dropout = m_params.at("dropout").get<double>();
    options.magnitude = m_magnitude;
    LowRankAdapters adapters(vision, options, *model()->visual->transformer);
    m_hooks = std::make_unique<LowRankHooks>(adapters);
    return adapters.ptr();
}

TransformerHooks* LoraTuning::hooks()
{
    return m_hooks.get();
}

StateDict LoraTuning::mergedBackbone() const
{
    auto adapters = std::dynamic_pointer_cast<LowRankAdaptersImpl>(methodModule());
    return adapters->mergedWeights(*model()->visual->transformer, "visual.transformer.");
}

TrainerConfig LoraTuning::defaultTrainerConfig(int shots) const
{
    // The VTAB-1k setting the PETL repositories share for LoRA and its kin: AdamW 1e-3, weight decay
    // 1e-4, 100 epochs with 10 of warm-up.
    return adamwRecipe(1e-3, 1e-4, 10);
}

StrategyInfo loraStrategyInfo()
{
    return {"lora", "LoRA", StrategyFamily::ClassicPetl,
            "Low-rank updates (B A, rank r) of chosen projections in every block, merged into the weights after training, and the head.",
            LoraTuning::schema(), [] { return std::make_unique<LoraTuning>(); }, vitOnlyCapabilities()};
}

} // namespace tunebench
