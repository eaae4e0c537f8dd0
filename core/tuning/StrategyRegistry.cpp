#include "core/tuning/Strategy.h"
#include "core/tuning/classic/ClassicPetlStrategy.h"

#include "core/Error.h"

#include <torch/torch.h>

#include <cmath>
#include <map>
#include <mutex>

namespace tunebench {

// Each strategy's file pair defines its StrategyInfo; Strategies.def lists them, one line each, in display
// order: declared here, then called in that order.
#define TUNEBENCH_STRATEGY(info) StrategyInfo info();
#include "core/tuning/Strategies.def"
#undef TUNEBENCH_STRATEGY

const std::vector<StrategyInfo>& strategyRegistry()
{
    static const std::vector<StrategyInfo> registry = {
#define TUNEBENCH_STRATEGY(info) info(),
#include "core/tuning/Strategies.def"
#undef TUNEBENCH_STRATEGY
    };
    return registry;
}

// "partial-2", "mlp-3": the paper's names for a strategy with an integer option "k". The variant is
// the base entry with k's default set (and its name), so callers that only know names (compare) work.
static const StrategyInfo* findStrategyVariant(const std::string& name)
{
    const size_t dash = name.rfind('-');
    if (dash == std::string::npos || dash + 1 >= name.size() ||
        name.find_first_not_of("0123456789", dash + 1) != std::string::npos || name.size() - dash > 4)
        return nullptr;
    const std::string baseName = name.substr(0, dash);
    const int k = std::stoi(name.substr(dash + 1));
    for (const StrategyInfo& info : strategyRegistry()) {
        if (info.name != baseName)
            continue;
        for (const ParamField& field : info.schema) {
            if (field.name != "k" || field.type != ParamField::Type::Int || (field.max > field.min && (k < field.min || k > field.max)))
                continue;
            static std::mutex mutex;
            static std::map<std::string, std::unique_ptr<StrategyInfo>> variants;
            std::lock_guard<std::mutex> lock(mutex);
            auto& variant = variants[name];
            if (!variant) {
                variant = std::make_unique<StrategyInfo>(info);
                variant->name = name;
                const size_t slot = variant->title.rfind("-k");
                if (slot != std::string::npos)
                    variant->title = variant->title.substr(0, slot) + "-" + std::to_string(k);
                for (ParamField& f : variant->schema)
                    if (f.name == "k")
                        f.defaultValue = k;
                variant->create = [create = info.create, k]() {
                    auto strategy = create();
                    if (auto* classic = dynamic_cast<ClassicPetlStrategy*>(strategy.get()))
                        classic->setParamDefaults({{"k", k}});
                    return strategy;
                };
            }
            return variant.get();
        }
    }
    return nullptr;
}

std::string strategyRefusal(const StrategyInfo& info, const ModelSpec& spec)
{
    const std::string model = "'" + spec.name + "'";
    if (info.capabilities.needsTextTower && !spec.text)
        return info.title + " needs a CLIP model with a text tower; " + model + " is vision-only";
    if (info.capabilities.needsVitImageTower && spec.vision.isResNet())
        return info.title + " needs a ViT image tower: it works on the transformer's patch tokens or blocks, which the ResNet CLIP " +
               model + " does not have";
    return {};
}

const StrategyInfo& findStrategy(const std::string& name)
{
    std::string known;
    for (const StrategyInfo& info : strategyRegistry()) {
        if (info.name == name)
            return info;
        known += (known.empty() ? "" : ", ") + info.name;
    }
    if (const StrategyInfo* variant = findStrategyVariant(name))
        return *variant;
    throw Error("unknown strategy '" + name + "' (known: " + known + ")");
}

DeployableModel Strategy::deployable()
{
    throw Error(name() + ": this method cannot be written as one feed-forward graph from images to class scores");
}

std::int64_t Strategy::trainableParameterCount()
{
    std::int64_t count = 0;
    for (const auto& p : trainableParameters())
        count += p.numel();
    return count;
}

bool hasParam(const ParamSchema& schema, const std::string& name)
{
    return std::any_of(schema.begin(), schema.end(), [&](const ParamField& field) { return field.name == name; });
}

nlohmann::json paramsOf(const ParamSchema& schema, const nlohmann::json& options)
{
    nlohmann::json own = nlohmann::json::object();
    for (const auto& [name, value] : options.items())
        if (hasParam(schema, name))
            own[name] = value;
    return own;
}

nlohmann::json resolveParams(const ParamSchema& schema, const nlohmann::json& given)
{
    if (!given.is_null() && !given.is_object())
        throw Error("strategy options must be a JSON object");
    nlohmann::json out = nlohmann::json::object();
    for (const ParamField& field : schema)
        out[field.name] = field.defaultValue;
    if (given.is_null())
        return out;
    for (const auto& [name, value] : given.items()) {
        auto it = std::find_if(schema.begin(), schema.end(), [&](const ParamField& f) { return f.name == name; });
        if (it == schema.end()) {
            std::string known;
            for (const auto& f : schema)
                known += (known.empty() ? "" : ", ") + f.name;
            throw Error("unknown option '" + name + "'" + (known.empty() ? "" : " (options: " + known + ")"));
        }
        const ParamField& field = *it;
        const bool bounded = field.max > field.min;
        switch (field.type) {
        case ParamField::Type::Int:
            if (!value.is_number_integer())
                throw Error("option '" + name + "' expects an integer, got " + value.dump());
            if (bounded && (value.get<double>() < field.min || value.get<double>() > field.max))
                throw Error("option '" + name + "' must be in [" + std::to_string(int64_t(field.min)) + ", " +
                            std::to_string(int64_t(field.max)) + "], got " + value.dump());
            break;
        case ParamField::Type::Double:
            if (!value.is_number() || !std::isfinite(value.get<double>()))
                throw Error("option '" + name + "' expects a finite number, got " + value.dump());
            if (bounded && (value.get<double>() < field.min || value.get<double>() > field.max))
                throw Error("option '" + name + "' must be in [" + std::to_string(field.min) + ", " + std::to_string(field.max) +
                            "], got " + value.dump());
            break;
        case ParamField::Type::Bool:
            if (!value.is_boolean())
                throw Error("option '" + name + "' expects true or false, got " + value.dump());
            break;
        case ParamField::Type::Choice:
            if (!value.is_string() ||
                std::find(field.choices.begin(), field.choices.end(), value.get<std::string>()) == field.choices.end()) {
                std::string choices;
                for (const auto& c : field.choices)
                    choices += (choices.empty() ? "" : ", ") + c;
                throw Error("option '" + name + "' must be one of " + choices + ", got " + value.dump());
            }
            break;
        case ParamField::Type::Text:
            if (!value.is_string())
                throw Error("option '" + name + "' expects a string, got " + value.dump());
            break;
        }
        out[name] = value;
    }
    return out;
}

} // namespace tunebench
