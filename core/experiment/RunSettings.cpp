#include "core/experiment/RunSettings.h"

#include "core/Error.h"
#include "core/io/JsonFields.h"
#include "core/model/Checkpointing.h"
#include "core/tuning/StrategyInfo.h"

#include <cmath>

namespace tunebench {

nlohmann::json RunSettings::toJson() const
{
    nlohmann::json json = {{"model", model},         {"dataset", dataset},     {"method", method},       {"shots", shots},
                           {"seed", seed},           {"base_new", baseNew},    {"device", device},       {"threads", threads},
                           {"precision", precision}, {"epochs", epochs},       {"lr", lr},               {"batch_size", batchSize},
                           {"max_steps", maxSteps},  {"loader_threads", loaderThreads}, {"log_every", logEvery},
                           {"crop_scale_min", cropScaleMin}, {"tasks", tasks}, {"vocab", vocab}, {"options", options}};
    // Only where set, so that CLI configs keep their shape.
    if (accumulate != 1)
        json["accumulate"] = accumulate;
    if (checkpointing != "none")
        json["checkpointing"] = checkpointing;
    if (maxTestImages > 0)
        json["max_test_images"] = maxTestImages;
    if (compareHandcrafted)
        json["compare_handcrafted"] = true;
    if (!importPrompt.empty())
        json["import_prompt"] = importPrompt;
    if (!evalDatasets.empty())
        json["eval_datasets"] = evalDatasets;
    if (!adaptTarget.empty())
        json["adapt_target"] = adaptTarget;
    if (!featureCache.empty())
        json["feature_cache"] = featureCache;
    if (!protocol.empty())
        json["protocol"] = protocol;
    if (!protocolOptions.empty())
        json["protocol_options"] = protocolOptions;
    if (!classMap.empty())
        json["class_map"] = classMap;
    if (maxImagePixels > 0)
        json["max_image_pixels"] = maxImagePixels;
    return json;
}

void RunSettings::checkRanges(const std::function<std::string(const std::string& field)>& describe) const
{
    auto atLeast = [&](const char* field, std::int64_t value, std::int64_t minimum) {
        if (value < minimum)
            throw Error(describe(field) + " must be at least " + std::to_string(minimum) + ", got " + std::to_string(value));
    };
    atLeast("shots", shots, 0);
    atLeast("seed", seed, 0);
    atLeast("threads", threads, 0);
    atLeast("epochs", epochs, 0);
    atLeast("batch_size", batchSize, 0);
    atLeast("max_steps", maxSteps, 0);
    atLeast("accumulate", accumulate, 1);
    atLeast("loader_threads", loaderThreads, 0);
    atLeast("log_every", logEvery, 0);
    atLeast("tasks", tasks, 1);
    atLeast("max_test_images", maxTestImages, 0);
    if (!std::isfinite(lr) || lr < 0)
        throw Error(describe("lr") + " must be a finite number, at least 0 (0: the method's own), got " + nlohmann::json(lr).dump());
    if (!std::isfinite(cropScaleMin) || cropScaleMin < 0 || cropScaleMin > 1)
        throw Error(describe("crop_scale_min") + " must be in [0, 1] (0: the dataset's own), got " + nlohmann::json(cropScaleMin).dump());
}

RunSettings RunSettings::fromJson(const nlohmann::json& j, const std::string& where)
{
    const std::string& kWhere = where;
    RunSettings s;
    try {
        s.model = j.value("model", s.model);
        s.dataset = j.value("dataset", s.dataset);
        s.method = j.value("method", s.method);
        s.shots = integerField(j, "shots", s.shots, kWhere);
        s.seed = integerField(j, "seed", s.seed, kWhere);
        s.baseNew = j.value("base_new", s.baseNew);
        s.device = j.value("device", s.device);
        s.threads = integerField(j, "threads", s.threads, kWhere);
        s.precision = j.value("precision", s.precision);
        s.epochs = integerField(j, "epochs", s.epochs, kWhere);
        s.lr = numberField(j, "lr", s.lr, kWhere);
        s.batchSize = integerField(j, "batch_size", s.batchSize, kWhere);
        s.maxSteps = integerField(j, "max_steps", s.maxSteps, kWhere);
        s.accumulate = integerField(j, "accumulate", s.accumulate, kWhere);
        s.checkpointing = j.value("checkpointing", s.checkpointing);
        s.loaderThreads = integerField(j, "loader_threads", s.loaderThreads, kWhere);
        s.logEvery = integerField(j, "log_every", s.logEvery, kWhere);
        s.cropScaleMin = numberField(j, "crop_scale_min", s.cropScaleMin, kWhere);
        s.tasks = integerField(j, "tasks", s.tasks, kWhere);
        s.vocab = j.value("vocab", s.vocab);
        s.options = j.value("options", nlohmann::json::object());
        s.maxTestImages = integerField(j, "max_test_images", s.maxTestImages, kWhere);
        s.compareHandcrafted = j.value("compare_handcrafted", s.compareHandcrafted);
        s.importPrompt = j.value("import_prompt", s.importPrompt);
        s.evalDatasets = j.value("eval_datasets", s.evalDatasets);
        s.adaptTarget = j.value("adapt_target", s.adaptTarget);
        s.featureCache = j.value("feature_cache", s.featureCache);
        s.protocol = j.value("protocol", s.protocol);
        s.protocolOptions = j.value("protocol_options", nlohmann::json::object());
        if (!s.protocolOptions.is_object())
            throw Error(where + ": protocol_options must be an object");
        s.classMap = j.value("class_map", s.classMap);
        s.maxImagePixels = j.value("max_image_pixels", s.maxImagePixels);
    } catch (const nlohmann::json::exception& e) {
        throw Error(where + ": a field has the wrong type (" + e.what() + ")");
    }
    s.checkRanges([&](const std::string& field) { return where + ": \"" + field + "\""; });
    parseCheckpointing(s.checkpointing, where + ": \"checkpointing\"");
    return s;
}

nlohmann::json definingSettings(const RunSettings& settings)
{
    nlohmann::json json = settings.toJson();
    for (const char* placement : {"device", "threads", "loader_threads", "log_every"})
        json.erase(placement);
    return json;
}

bool seedMatters(const StrategyInfo& info, const RunSettings& settings)
{
    return info.capabilities.usesTrainingImages || settings.maxTestImages > 0;
}

std::string whyNotContinuedInWindow(const RunSettings& settings, const std::string& status, const std::string& folder)
{
    const std::string resume = "tunebench-cli train --resume " + folder;
    if (status == "finished")
        return "the run is finished; nothing is left to train";
    if (!settings.protocol.empty() || !settings.adaptTarget.empty() || !settings.importPrompt.empty())
        return "only a training run of the Start button continues here; continue this one with " + resume;
    if (status == "out_of_memory")
        return "the run ran out of memory; continue it with options that fit (a smaller batch, --accumulate, "
               "--checkpointing, bf16): " + resume;
    if (status != "stopped")
        return "only a stopped run continues here (this one is " + (status.empty() ? std::string("unknown") : status) + ")";
    return {};
}

} // namespace tunebench
