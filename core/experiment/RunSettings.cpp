#include "core/experiment/RunSettings.h"

#include "core/Error.h"

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
    return json;
}

RunSettings RunSettings::fromJson(const nlohmann::json& j)
{
    RunSettings s;
    try {
        s.model = j.value("model", s.model);
        s.dataset = j.value("dataset", s.dataset);
        s.method = j.value("method", s.method);
        s.shots = j.value("shots", s.shots);
        s.seed = j.value("seed", s.seed);
        s.baseNew = j.value("base_new", s.baseNew);
        s.device = j.value("device", s.device);
        s.threads = j.value("threads", s.threads);
        s.precision = j.value("precision", s.precision);
        s.epochs = j.value("epochs", s.epochs);
        s.lr = j.value("lr", s.lr);
        s.batchSize = j.value("batch_size", s.batchSize);
        s.maxSteps = j.value("max_steps", s.maxSteps);
        s.loaderThreads = j.value("loader_threads", s.loaderThreads);
        s.logEvery = j.value("log_every", s.logEvery);
        s.cropScaleMin = j.value("crop_scale_min", s.cropScaleMin);
        s.tasks = j.value("tasks", s.tasks);
        s.vocab = j.value("vocab", s.vocab);
        s.options = j.value("options", nlohmann::json::object());
        s.maxTestImages = j.value("max_test_images", s.maxTestImages);
        s.compareHandcrafted = j.value("compare_handcrafted", s.compareHandcrafted);
        s.importPrompt = j.value("import_prompt", s.importPrompt);
        s.evalDatasets = j.value("eval_datasets", s.evalDatasets);
    } catch (const nlohmann::json::exception& e) {
        throw Error(std::string("run config: a field has the wrong type (") + e.what() + ")");
    }
    return s;
}

} // namespace tunebench
