#include "app/cli/RunSetup.h"

#include "app/cli/CliArgs.h"
#include "core/Device.h"
#include "core/Error.h"
#include "core/data/DatasetLayouts.h"
#include "core/data/FewShot.h"
#include "core/data/ImageBatchSource.h"
#include "core/export/PromptExport.h"
#include "core/io/ClipTokenizer.h"
#include "core/tuning/ParameterBudget.h"
#include "core/io/VocabularyLocator.h"
#include "core/train/RunStore.h"
#include "core/train/Trainer.h"
#include "core/tuning/ClipStrategy.h"
#include "core/tuning/ValidationTuned.h"

#include <torch/torch.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>

namespace fs = std::filesystem;

namespace tunebench::cli {

namespace {

constexpr int kEvalBatch = 64;

std::string formatDuration(double seconds)
{
    const auto total = static_cast<long long>(seconds + 0.5);
    char buffer[32];
    if (total >= 3600)
        std::snprintf(buffer, sizeof buffer, "%lldh%02lldm", total / 3600, (total / 60) % 60);
    else
        std::snprintf(buffer, sizeof buffer, "%lldm%02llds", total / 60, total % 60);
    return buffer;
}

std::unique_ptr<ImageBatchSource> makeSource(const std::shared_ptr<const DatasetIndex>& dataset, const std::vector<Sample>& samples,
                                             int resolution, std::optional<TrainTransform> train, int batchSize, bool shuffle,
                                             std::uint64_t seed, int threads)
{
    ImagePipeline pipeline;
    pipeline.eval.resolution = resolution;
    pipeline.train = train;
    LoaderOptions options;
    options.batchSize = std::max(1, batchSize);
    options.shuffle = shuffle;
    options.seed = seed;
    options.threads = threads;
    return std::make_unique<ImageBatchSource>(dataset, samples, pipeline, options);
}

TrainTransform trainTransform(int resolution, double scaleMin)
{
    TrainTransform transform;
    transform.resolution = resolution;
    transform.scaleMin = scaleMin;
    return transform;
}

} // namespace

ClipModel Backbone::build() const
{
    ClipModel model = buildModel(checkpoint);
    model->to(device);
    return model;
}

Backbone loadBackbone(const std::string& modelPath, const std::string& vocabulary, const std::string& device)
{
    Backbone backbone;
    backbone.path = modelPath;
    backbone.checkpoint = readCheckpoint(modelPath);
    if (backbone.checkpoint.spec.text) {
        const std::string vocabPath = locateVocabulary(vocabulary, modelPath);
        auto tokenizer = std::make_shared<ClipTokenizer>(ClipTokenizer::load(vocabPath));
        if (tokenizer->vocabSize() > backbone.checkpoint.spec.text->vocabSize)
            throw Error(vocabPath + ": vocabulary has " + std::to_string(tokenizer->vocabSize()) + " tokens but the model's embedding has " +
                        std::to_string(backbone.checkpoint.spec.text->vocabSize) + " rows");
        backbone.checkpoint.spec.text->endOfTextId = tokenizer->endId();
        backbone.tokenizer = tokenizer;
    }
    backbone.device = chooseDevice(device);
    return backbone;
}

nlohmann::json RunSettings::toJson() const
{
    return {{"model", model},         {"dataset", dataset},     {"method", method},       {"shots", shots},
            {"seed", seed},           {"base_new", baseNew},    {"device", device},       {"threads", threads},
            {"precision", precision}, {"epochs", epochs},       {"lr", lr},               {"batch_size", batchSize},
            {"max_steps", maxSteps},  {"loader_threads", loaderThreads}, {"log_every", logEvery}, {"crop_scale_min", cropScaleMin}, {"tasks", tasks}, {"vocab", vocab},
            {"options", options}};
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
    } catch (const nlohmann::json::exception& e) {
        throw Error(std::string("run config: a field has the wrong type (") + e.what() + ")");
    }
    return s;
}

RunSettings RunSettings::fromArgs(const CliArgs& args)
{
    return fromArgs(args, RunSettings());
}

RunSettings RunSettings::fromArgs(const CliArgs& args, RunSettings s)
{
    s.model = args.value("model", s.model);
    s.dataset = args.value("dataset", s.dataset);
    s.method = args.value("method", s.method);
    s.shots = args.intValue("shots", s.shots);
    s.seed = args.intValue("seed", s.seed);
    s.baseNew = s.baseNew || args.flag("base-new");
    s.device = args.value("device", s.device);
    s.threads = args.intValue("threads", s.threads);
    s.precision = args.value("precision", s.precision);
    s.epochs = args.intValue("epochs", s.epochs);
    s.lr = args.doubleValue("lr", s.lr);
    s.batchSize = args.intValue("batch-size", s.batchSize);
    s.maxSteps = args.intValue("max-steps", static_cast<int>(s.maxSteps));
    s.loaderThreads = args.intValue("loader-threads", s.loaderThreads);
    s.logEvery = args.intValue("log-every", s.logEvery);
    s.cropScaleMin = args.doubleValue("crop-scale-min", s.cropScaleMin);
    if (!(s.cropScaleMin > 0 && s.cropScaleMin <= 1))
        throw Error("--crop-scale-min must be in (0, 1], got " + std::to_string(s.cropScaleMin));
    s.tasks = args.intValue("tasks", s.tasks);
    if (s.tasks < 1)
        throw Error("--tasks must be at least 1, got " + std::to_string(s.tasks));
    s.vocab = args.value("vocab", s.vocab);
    const nlohmann::json given = parseOptions(args.values("opt"));  // items() must not outlive it
    for (const auto& [name, value] : given.items())
        s.options[name] = value;
    if (s.precision != "fp32" && s.precision != "bf16" && s.precision != "fp16")
        throw Error("--precision must be fp32, bf16 or fp16, got '" + s.precision + "'");
    return s;
}

nlohmann::json parseOptions(const std::vector<std::string>& pairs)
{
    nlohmann::json out = nlohmann::json::object();
    for (const auto& pair : pairs) {
        const auto eq = pair.find('=');
        if (eq == std::string::npos || eq == 0)
            throw Error("--opt '" + pair + "': expected name=value");
        const std::string name = pair.substr(0, eq), text = pair.substr(eq + 1);
        auto parsed = nlohmann::json::parse(text, nullptr, false);
        out[name] = (parsed.is_discarded() || parsed.is_object() || parsed.is_array()) ? nlohmann::json(text) : parsed;
    }
    return out;
}

DatasetIndex openDatasetLogged(const std::string& pathOrName)
{
    return openDataset(pathOrName, {}, [](const std::string& message) { std::cerr << message << "\n"; });
}

bool baseNewApplies(const Backbone& backbone, const StrategyInfo& info)
{
    return backbone.tokenizer && backbone.checkpoint.spec.text && info.family == StrategyFamily::PromptLearning;
}

Evaluation evaluateOn(Strategy& strategy, const DatasetIndex& dataset, const std::vector<Sample>& samples, int resolution,
                      int loaderThreads)
{
    auto shared = std::make_shared<const DatasetIndex>(dataset);
    auto source = makeSource(shared, samples, resolution, std::nullopt, kEvalBatch, false, 1, loaderThreads);
    return evaluate([&](const at::Tensor& images) { return strategy.logits(images); }, *source,
                    static_cast<int>(dataset.classNames.size()));
}

nlohmann::json accuracyJson(const Evaluation& evaluation, const std::vector<std::string>& classNames)
{
    auto json = evaluation.toJson(classNames);
    json.erase("confusion");
    return json;
}

nlohmann::json runExperiment(const RunSettings& settings, const Backbone& backbone, const DatasetIndex& dataset, RunStore* store,
                             bool resume, const std::string& label)
{
    const StrategyInfo& info = findStrategy(settings.method);
    const bool baseNew = settings.baseNew && baseNewApplies(backbone, info);
    if (settings.baseNew && !baseNew)
        std::cerr << label << "base-to-new does not apply to " << info.name << " on this model: plain accuracy\n";
    torch::manual_seed(static_cast<uint64_t>(settings.seed));

    // CoOp's protocol: few-shot sampling first, then the class split (methods.md 3).
    const DatasetIndex fewShot = applyFewShot(dataset, {settings.shots, static_cast<std::uint64_t>(settings.seed)});
    const DatasetIndex trainSet = baseNew ? subsampleClasses(fewShot, ClassSubset::Base) : fewShot;
    const auto trainShared = std::make_shared<const DatasetIndex>(trainSet);
    const int resolution = backbone.checkpoint.spec.vision.imageSize;

    TaskSetup setup;
    setup.classNames = trainSet.classNames;
    setup.promptTemplate = dataset.promptTemplate;
    setup.datasetName = dataset.name;
    setup.shots = settings.shots;
    setup.tokenizer = backbone.tokenizer;
    auto strategy = info.create();
    const ClipModel model = backbone.build();
    strategy->attach(model, setup, settings.options);
    auto* clipStrategy = dynamic_cast<ClipStrategy*>(strategy.get());

    TrainerConfig config = withEpochs(strategy->defaultTrainerConfig(settings.shots), settings.epochs);
    if (settings.lr > 0)
        config.lr = settings.lr;
    config.precision = settings.precision;
    config.maxSteps = settings.maxSteps;
    if (store) {
        config.checkpointDir = store->checkpointDir();
        config.resume = resume;
    }
    const int batchSize = settings.batchSize > 0 ? settings.batchSize : strategy->defaultBatchSize(settings.shots);

    nlohmann::json results = {{"method", info.name},       {"dataset", dataset.name}, {"model", backbone.checkpoint.spec.name},
                              {"shots", settings.shots},   {"seed", settings.seed},   {"base_new", baseNew},
                              {"trainer", toJson(config)}, {"batch_size", batchSize}, {"status", "finished"}};

    // Cache-style methods read the training images once (Tip-Adapter: augmented passes, scale 0.5-1).
    {
        const bool augment = !clipStrategy || clipStrategy->prepareWithAugmentation();
        auto prepareSource = makeSource(trainShared, trainSet.train, resolution,
                                        augment ? std::optional<TrainTransform>(trainTransform(resolution, 0.5)) : std::nullopt,
                                        kEvalBatch, false, static_cast<std::uint64_t>(settings.seed), settings.loaderThreads);
        strategy->prepare(*prepareSource);
    }

    if (strategy->needsTraining()) {
        auto trainSource = makeSource(trainShared, trainSet.train, resolution, trainTransform(resolution, settings.cropScaleMin), batchSize, true,
                                      static_cast<std::uint64_t>(settings.seed), settings.loaderThreads);
        const std::int64_t perEpoch = trainSource->batchesPerEpoch();
        const std::int64_t logEvery = settings.logEvery > 0 ? settings.logEvery : std::max<std::int64_t>(1, perEpoch * config.epochs / 50);
        std::cerr << label << info.name << ": " << strategy->trainableParameterCount() << " trainable parameters, "
                  << trainSet.train.size() << " training images, " << config.epochs << " epochs x " << perEpoch << " steps, batch "
                  << batchSize << ", lr " << config.lr << "\n";
        TrainerCallbacks callbacks;
        callbacks.onStep = [&](const StepReport& r) {
            if (r.step % logEvery != 0 && r.step != r.totalSteps)
                return;
            char line[256];
            std::snprintf(line, sizeof line, "epoch %d/%d step %lld/%lld loss %.4f acc %.1f%% lr %.2e %.1f img/s ETA %s", r.epoch + 1,
                          r.epochs, static_cast<long long>(r.step), static_cast<long long>(r.totalSteps), r.loss, r.accuracy * 100,
                          r.lr, r.imagesPerSecond, formatDuration(r.etaSeconds).c_str());
            std::cerr << label << line << "\n";
            if (store)
                store->appendMetric({{"type", "step"}, {"epoch", r.epoch}, {"step", r.step}, {"loss", r.loss}, {"accuracy", r.accuracy},
                                     {"lr", r.lr}, {"images_per_second", r.imagesPerSecond}});
        };
        callbacks.onEpoch = [&](const EpochReport& r) {
            if (store)
                store->appendMetric({{"type", "epoch"}, {"epoch", r.epoch}, {"loss", r.loss}, {"accuracy", r.accuracy}, {"seconds", r.seconds}});
        };
        const TrainResult trained = Trainer(config).fit(*strategy, *trainSource, callbacks);
        results["train"] = {{"epochs_done", trained.epochsDone}, {"steps", trained.steps}, {"seconds", trained.seconds},
                            {"final_loss", trained.finalLoss}};
        if (trained.status != TrainResult::Status::Finished) {
            results["status"] = trained.status == TrainResult::Status::Stopped ? "stopped" : "diverged";
            results["message"] = trained.message;
            std::cerr << label << trained.message << "\n";
        }
    }
    if (auto* tuned = dynamic_cast<ValidationTuned*>(strategy.get()); tuned && !trainSet.val.empty()) {
        auto valSource = makeSource(trainShared, trainSet.val, resolution, std::nullopt, kEvalBatch, false, 1, settings.loaderThreads);
        tuned->tuneOnValidation(*valSource);
    }
    results["trainable_parameters"] = strategy->trainableParameterCount();
    const ParameterBudget budget = parameterBudget(*strategy, model, settings.tasks);
    results["parameters"] = {{"trainable", budget.trainable}, {"backbone", budget.backbone}, {"tasks", budget.tasks},
                             {"multiplier", budget.multiplier}};

    const Evaluation first = evaluateOn(*strategy, trainSet, trainSet.test, resolution, settings.loaderThreads);
    const auto firstJson = accuracyJson(first, trainSet.classNames);
    for (const auto& key : {"accuracy", "per_class", "n"})
        results[key] = firstJson[key];
    if (store) {
        store->appendMetric({{"type", "eval"}, {"split", baseNew ? "base" : "test"}, {"accuracy", first.accuracy}, {"n", first.n}});
        if (clipStrategy) {
            const auto manifest = PromptExport::write(*clipStrategy, (fs::path(store->exportDir()) / "prompt").string(),
                                                      {{"accuracy", first.accuracy}});
            results["export"] = (fs::path(store->exportDir()) / "prompt.json").string();
        }
    }
    if (baseNew) {
        const DatasetIndex newSet = subsampleClasses(fewShot, ClassSubset::New);
        results["base"] = first.accuracy;
        results["base_eval"] = firstJson;
        try {
            strategy->setClasses(newSet.classNames);
            const Evaluation novel = evaluateOn(*strategy, newSet, newSet.test, resolution, settings.loaderThreads);
            results["new"] = novel.accuracy;
            results["new_eval"] = accuracyJson(novel, newSet.classNames);
            results["h"] = harmonicMean(first.accuracy, novel.accuracy);
            if (store)
                store->appendMetric({{"type", "eval"}, {"split", "new"}, {"accuracy", novel.accuracy}, {"n", novel.n}});
        } catch (const Error& e) {
            results["new"] = nullptr;
            results["h"] = nullptr;
            results["new_message"] = e.what();
            std::cerr << label << "new classes: " << e.what() << "\n";
        }
    }
    return results;
}

} // namespace tunebench::cli
