#include "core/experiment/RunOutcome.h"

#include "core/Error.h"

namespace tunebench {

namespace {

std::optional<double> number(const nlohmann::json& json, const char* key, const std::string& where)
{
    if (!json.contains(key) || json[key].is_null())
        return std::nullopt;
    if (!json[key].is_number())
        throw Error(where + ": \"" + key + "\" must be a number, got " + json[key].dump());
    return json[key].get<double>();
}

std::string text(const nlohmann::json& json, const char* key, const std::string& where)
{
    if (!json.contains(key) || json[key].is_null())
        return {};
    if (!json[key].is_string())
        throw Error(where + ": \"" + key + "\" must be text, got " + json[key].dump());
    return json[key].get<std::string>();
}

} // namespace

RunOutcome RunOutcome::fromJson(const nlohmann::json& results, const std::string& where)
{
    if (!results.is_object())
        throw Error(where + ": not a results object");
    RunOutcome out;
    if (const std::string protocol = text(results, "protocol", where); !protocol.empty())
        out.protocol = protocol;
    out.method = text(results, "method", where);
    out.dataset = text(results, "dataset", where);
    out.status = text(results, "status", where);
    out.message = text(results, "message", where);
    out.novelMessage = text(results, "new_message", where);
    out.shots = static_cast<int>(number(results, "shots", where).value_or(0));
    out.seed = static_cast<int>(number(results, "seed", where).value_or(0));
    out.baseNew = results.contains("base_new") && results["base_new"].is_boolean() && results["base_new"].get<bool>();
    out.accuracy = number(results, "accuracy", where);
    if (out.baseNew) {
        out.base = number(results, "base", where);
        out.novel = number(results, "new", where);
        out.harmonic = number(results, "h", where);
    }
    if (results.contains("targets") && results["targets"].is_object())
        for (const auto& [name, scores] : results["targets"].items())
            if (const auto accuracy = scores.is_object() ? number(scores, "accuracy", where + " targets." + name) : std::nullopt)
                out.targets.emplace_back(name, *accuracy);
    if (results.contains("adaptation") && results["adaptation"].is_object())
        out.adaptedTo = text(results["adaptation"], "target", where);
    out.averageAccuracy = number(results, "average_accuracy", where);
    out.forgetting = number(results, "forgetting", where);
    out.trainableParameters = static_cast<std::int64_t>(number(results, "trainable_parameters", where).value_or(0));
    if (results.contains("parameters") && results["parameters"].is_object()) {
        if (const auto trainable = number(results["parameters"], "trainable", where + " parameters"))
            out.trainableParameters = static_cast<std::int64_t>(*trainable);
        out.multiplier = number(results["parameters"], "multiplier", where + " parameters");
    }
    return out;
}

std::optional<double> RunOutcome::targetAccuracy(const std::string& name) const
{
    for (const auto& [dataset, accuracy] : targets)
        if (dataset == name)
            return accuracy;
    return std::nullopt;
}

std::optional<RunOutcome::Headline> RunOutcome::headline() const
{
    // As the first column, but H where base-to-new has one.
    if (protocol != "continual" && adaptedTo.empty() && baseNew && harmonic)
        return Headline{"H", *harmonic};
    const auto first = firstAccuracy();
    if (first && first->name == "base")  // the new classes could not be scored: the accuracy is Base's
        return Headline{"accuracy", first->value};
    return first;
}

std::optional<RunOutcome::Headline> RunOutcome::firstAccuracy() const
{
    const auto named = [](const char* name, const std::optional<double>& value) {
        return value ? std::optional<Headline>(Headline{name, *value}) : std::nullopt;
    };
    if (protocol == "continual")
        return named("A_T", averageAccuracy);
    if (!adaptedTo.empty())
        if (const auto target = targetAccuracy(adaptedTo))
            return named("target", target);
    if (baseNew && base)
        return named("base", base);
    return named("accuracy", accuracy);
}

std::map<std::string, double> RunOutcome::metrics() const
{
    std::map<std::string, double> out;
    if (protocol == "continual") {
        if (averageAccuracy)
            out["average_accuracy"] = *averageAccuracy;
        if (forgetting)
            out["forgetting"] = *forgetting;
        return out;
    }
    if (accuracy)
        out["accuracy"] = *accuracy;
    if (base)
        out["base"] = *base;
    if (novel)
        out["new"] = *novel;
    if (harmonic)
        out["h"] = *harmonic;
    if (!adaptedTo.empty())
        if (const auto target = targetAccuracy(adaptedTo))
            out["target"] = *target;
    return out;
}

} // namespace tunebench
