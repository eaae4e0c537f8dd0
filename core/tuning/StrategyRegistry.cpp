#include "core/tuning/Strategy.h"

#include "core/Error.h"

#include <torch/torch.h>

namespace tunebench {

// Each strategy's file pair defines its StrategyInfo; the registry lists them in display order.
// (Declarations of the per-strategy info functions go here, one line each.)

const std::vector<StrategyInfo>& strategyRegistry()
{
    static const std::vector<StrategyInfo> registry = {
        // one line per strategy, e.g. coopStrategyInfo(),
    };
    return registry;
}

const StrategyInfo& findStrategy(const std::string& name)
{
    std::string known;
    for (const StrategyInfo& info : strategyRegistry()) {
        if (info.name == name)
            return info;
        known += (known.empty() ? "" : ", ") + info.name;
    }
    throw Error("unknown strategy '" + name + "' (known: " + known + ")");
}

std::int64_t Strategy::trainableParameterCount()
{
    std::int64_t count = 0;
    for (const auto& p : trainableParameters())
        count += p.numel();
    return count;
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
            if (!value.is_number())
                throw Error("option '" + name + "' expects a number, got " + value.dump());
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
