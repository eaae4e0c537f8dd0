#include "core/experiment/RunSettings.h"

#include "core/Error.h"
#include "core/io/JsonFields.h"

namespace tunebench {

nlohmann::json RunSettings::toJson() const
{
    nlohmann::json json = {{"model", model},         {"dataset", dataset},     {"method", method},       {"shots", shots},
                           {"seed", seed},           {"base_new", baseNew},    {"device", device},       {"threads", threads},
                           {"precision", precision}, {"epochs", epochs},       {"lr", lr},               {"batch_size", batchSize},
                           {"max_steps", maxSteps},  {"loader_threads", loaderThreads}, {"log_every", logEvery},
                           {"crop_scale_min", cropScaleMin}, {"tasks", tasks}, {"vocab", vocab}, {"options", options}};
    // Only where set, so that CLI configs keep their shape.
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

RunSettings RunSettings::fromJson(const nlohmann::json& j)
{
    static const std::string kWhere = "run config";
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
        s.lr = j.value("lr", s.lr);
        s.batchSize = integerField(j, "batch_size", s.batchSize, kWhere);
        s.maxSteps = integerField(j, "max_steps", s.maxSteps, kWhere);
        s.loaderThreads = integerField(j, "loader_threads", s.loaderThreads, kWhere);
        s.logEvery = integerField(j, "log_every", s.logEvery, kWhere);
        s.cropScaleMin = j.value("crop_scale_min", s.cropScaleMin);
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
            throw Error("run config: protocol_options must be an object");
        s.classMap = j.value("class_map", s.classMap);
        s.maxImagePixels = j.value("max_image_pixels", s.maxImagePixels);
    } catch (const nlohmann::json::exception& e) {
        throw Error(std::string("run config: a field has the wrong type (") + e.what() + ")");
    }
    return s;
}

} // namespace tunebench
