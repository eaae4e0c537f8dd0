#include "core/experiment/Experiment.h"

#include "core/Device.h"
#include "core/Error.h"
#include "core/data/DatasetLayouts.h"
#include "core/data/DomainAdaptationData.h"
#include "core/data/FewShot.h"
#include "core/data/ImageBatchSource.h"
#include "core/experiment/CachedFeatureSource.h"
#include "core/export/PromptExport.h"
#include "core/io/ClipTokenizer.h"
#include "core/io/VocabularyLocator.h"
#include "core/train/PairedBatchSource.h"
#include "core/train/RunControl.h"
#include "core/train/RunStore.h"
#include "core/tuning/ParameterBudget.h"
#include "core/tuning/adaptation/DomainAdaptiveLearner.h"
#include "core/tuning/prompt/ClipStrategy.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <sstream>

namespace fs = std::filesystem;

namespace tunebench {

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

TaskSetup taskSetup(const Backbone& backbone, const DatasetIndex& dataset, const std::vector<std::string>& classNames, int shots)
{
    TaskSetup setup;
    setup.classNames = classNames;
    setup.promptTemplate = dataset.promptTemplate;
    setup.datasetName = dataset.name;
    setup.shots = shots;
    setup.tokenizer = backbone.tokenizer;
    return setup;
}

nlohmann::json classEvaluationJson(const std::optional<ClassEvaluation>& e)
{
    if (!e)
        return nullptr;
    return {{"classes", e->classNames},          {"accuracy", e->evaluation.accuracy},   {"n", e->evaluation.n},
            {"per_class", e->evaluation.perClass}, {"support", e->evaluation.support}, {"confusion", e->evaluation.confusion}};
}

// A loader of images, or of their image-tower features when the cache serves the method.
struct InputSource
{
    std::unique_ptr<ImageBatchSource> images;
    std::unique_ptr<CachedFeatureSource> features;

    BatchSource& get() { return images ? static_cast<BatchSource&>(*images) : *features; }
    std::vector<std::string> problems() const { return images ? images->problems() : features->problems(); }
    std::int64_t skippedCount() const { return images ? images->skippedCount() : features->skippedCount(); }
};

} // namespace

namespace {

// What makeSource (and the cached source beside it) load with.
std::pair<ImagePipeline, LoaderOptions> loaderSetup(int resolution, std::optional<TrainTransform> train, int batchSize, bool shuffle,
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
    return {pipeline, options};
}

} // namespace

std::unique_ptr<ImageBatchSource> makeSource(const std::shared_ptr<const DatasetIndex>& dataset, const std::vector<Sample>& samples,
                                             int resolution, std::optional<TrainTransform> train, int batchSize, bool shuffle,
                                             std::uint64_t seed, int threads)
{
    auto [pipeline, options] = loaderSetup(resolution, train, batchSize, shuffle, seed, threads);
    return std::make_unique<ImageBatchSource>(dataset, samples, pipeline, options);
}

TrainTransform trainTransform(int resolution, double scaleMin)
{
    TrainTransform transform;
    transform.resolution = resolution;
    transform.scaleMin = scaleMin;
    return transform;
}

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

std::string experimentMethod(const RunSettings& settings)
{
    if (settings.importPrompt.empty())
        return settings.method;
    const auto manifest = RunStore::readJsonFile(settings.importPrompt);
    if (!manifest.is_object() || !manifest.contains("method") || !manifest["method"].is_string())
        throw Error(settings.importPrompt + ": not a prompt export (no \"method\")");
    return manifest["method"].get<std::string>();
}

DatasetRecipe effectiveRecipe(const RunSettings& settings, const DatasetIndex& dataset)
{
    DatasetRecipe recipe = dataset.recipe;
    if (settings.cropScaleMin > 0)
        recipe.cropScaleMin = settings.cropScaleMin;
    return recipe;
}

nlohmann::json recipeJson(const DatasetRecipe& recipe)
{
    return {{"crop_scale_min", recipe.cropScaleMin}};
}

nlohmann::json runConfig(const RunSettings& settings, const DatasetIndex& dataset, const Backbone& backbone)
{
    return {{"method", settings.method},         {"dataset", dataset.name},
            {"model", settings.model},           {"created", RunStore::utcNow()},
            {"device", describeDevice(backbone.device)}, {"settings", settings.toJson()},
            {"recipe", recipeJson(effectiveRecipe(settings, dataset))}};
}

std::vector<DatasetIndex> openTargetDatasets(const RunSettings& settings, const DatasetIndex& source,
                                             const std::function<void(const std::string&)>& progress)
{
    std::vector<DatasetIndex> targets;
    if (!settings.adaptTarget.empty()) {
        DatasetIndex target = openAdaptationDomain(settings.adaptTarget, progress);
        requireSameClasses(source, target);
        targets.push_back(std::move(target));
    }
    for (const std::string& name : settings.evalDatasets) {
        DatasetIndex target = openDataset(name, {}, progress);
        requireSameClasses(source, target);
        targets.push_back(std::move(target));
    }
    return targets;
}

bool baseNewApplies(const Backbone& backbone, const StrategyInfo& info)
{
    return backbone.tokenizer && backbone.checkpoint.spec.text && info.capabilities.needsTextTower;
}

std::vector<Sample> limitSamples(const std::vector<Sample>& samples, int limit, std::uint64_t seed)
{
    if (limit <= 0 || static_cast<std::size_t>(limit) >= samples.size())
        return samples;
    auto order = seededPermutation(static_cast<std::int64_t>(samples.size()), seed);
    order.resize(static_cast<std::size_t>(limit));
    std::sort(order.begin(), order.end());
    std::vector<Sample> out;
    out.reserve(order.size());
    for (auto index : order)
        out.push_back(samples[static_cast<std::size_t>(index)]);
    return out;
}

void SkippedImages::add(const std::vector<std::string>& problems)
{
    for (const std::string& problem : problems)
        if (m_seen.insert(problem).second)
            m_lines.push_back(problem);
}

Evaluation evaluateOn(Strategy& strategy, const DatasetIndex& dataset, const std::vector<Sample>& samples, int resolution,
                      int loaderThreads, SkippedImages* skipped, const RunControl* control)
{
    auto shared = std::make_shared<const DatasetIndex>(dataset);
    auto source = makeSource(shared, samples, resolution, std::nullopt, kEvalBatch, false, 1, loaderThreads);
    std::function<bool()> abandon;
    if (control)
        abandon = [control] { return control->abortRequested(); };
    Evaluation evaluation = evaluate([&](const at::Tensor& images) { return strategy.logits(images); }, *source,
                                     static_cast<int>(dataset.classNames.size()), abandon);
    if (skipped)
        skipped->add(source->problems());
    return evaluation;
}

nlohmann::json accuracyJson(const Evaluation& evaluation, const std::vector<std::string>& classNames)
{
    auto json = evaluation.toJson(classNames);
    json.erase("confusion");
    return json;
}

nlohmann::json ExperimentResult::details() const
{
    // An array, so that the targets keep settings.evalDatasets' order (older files hold an object by name).
    nlohmann::json targetsJson = nlohmann::json::array();
    for (const auto& [name, evaluation] : targets) {
        nlohmann::json target = classEvaluationJson(evaluation);
        target["dataset"] = name;
        targetsJson.push_back(target);
    }
    return {{"first", classEvaluationJson(trainingClasses)},  // the format's name, which existing run folders use
            {"novel", classEvaluationJson(novel)},
            {"handcrafted_first", classEvaluationJson(handcraftedTrainingClasses)},
            {"handcrafted_novel", classEvaluationJson(handcraftedNovel)},
            {"nearest_words", nearestWords},
            {"targets", targetsJson},
            {"seconds", seconds}};
}

std::int64_t countTrainableParameters(const Backbone& backbone, const RunSettings& settings, const std::vector<std::string>& classNames)
{
    const StrategyInfo& info = findStrategy(settings.method);
    if (info.capabilities.needsTextTower && !backbone.tokenizer)
        throw Error(info.title + " needs a CLIP model with a text tower");
    TaskSetup setup;
    setup.classNames = classNames;
    setup.tokenizer = backbone.tokenizer;
    setup.shots = settings.shots;
    if (info.capabilities.adaptsToTarget)
        setup.domainNames = {"source", "target"};  // the words do not change the count
    auto strategy = info.create();
    strategy->attach(backbone.build(), setup, settings.options);
    return strategy->trainableParameterCount();
}

namespace {

ExperimentResult runExperimentSteps(const RunSettings& settings, const Backbone& backbone, const DatasetIndex& dataset, RunStore* store,
                                    bool resume, const ExperimentCallbacks& callbacks, RunControl* control,
                                    const std::vector<DatasetIndex>& targets)
{
    const auto started = std::chrono::steady_clock::now();
    auto log = [&](const std::string& line) {
        if (callbacks.onLog)
            callbacks.onLog(line);
    };
    auto stage = [&](ExperimentStage s) {
        if (callbacks.onStage)
            callbacks.onStage(s);
    };
    // An imported prompt is evaluated on every class of this dataset, without training.
    const bool imported = !settings.importPrompt.empty();
    const StrategyInfo& info = findStrategy(experimentMethod(settings));
    // Domain adaptation: the first target is the domain adapted to; its training images go in unlabelled.
    const bool adapts = !imported && info.capabilities.adaptsToTarget;
    if (adapts && settings.adaptTarget.empty())
        throw Error(info.name + " adapts to an unlabelled target domain: give one (train --adapt-to TARGET, or tunebench-cli adapt)");
    if (adapts && targets.empty())
        throw Error(info.name + ": the target domain " + settings.adaptTarget + " was not opened (openTargetDatasets)");
    if (!adapts && !settings.adaptTarget.empty())
        throw Error(info.name + " does not adapt to a target domain (adapt-to applies to dapl); score a target with eval datasets instead");
    const bool baseNew = !imported && !adapts && settings.baseNew && baseNewApplies(backbone, info);
    if (settings.baseNew && !baseNew && !imported)
        log("base-to-new does not apply to " + info.name + (adapts ? " (domain adaptation)" : " on this model") + ": plain accuracy");
    torch::manual_seed(static_cast<uint64_t>(settings.seed));

    // CoOp's protocol: few-shot sampling first, then the class split (methods.md 3).
    const DatasetIndex fewShot = applyFewShot(dataset, {settings.shots, static_cast<std::uint64_t>(settings.seed)});
    const DatasetIndex trainSet = baseNew ? subsampleClasses(fewShot, ClassSubset::Base) : fewShot;
    const auto trainShared = std::make_shared<const DatasetIndex>(trainSet);
    const int resolution = backbone.checkpoint.spec.vision.imageSize;

    std::unique_ptr<Strategy> strategy;
    const ClipModel model = backbone.build();
    if (imported) {
        ImportedPrompt prompt = PromptExport::read(settings.importPrompt, model, taskSetup(backbone, dataset, trainSet.classNames, settings.shots));
        for (const auto& warning : prompt.warnings)
            log("warning: " + warning);
        strategy = std::move(prompt.strategy);
    } else {
        TaskSetup setup = taskSetup(backbone, dataset, trainSet.classNames, settings.shots);
        if (adapts)
            setup.domainNames = {adaptationDomainName(dataset), adaptationDomainName(targets.front())};
        strategy = info.create();
        strategy->attach(model, setup, settings.options);
    }
    auto* adaptive = adapts ? &dynamic_cast<DomainAdaptiveLearner&>(*strategy) : nullptr;
    // Every method that needs the text tower is a ClipStrategy (prompt export, augmentation choice).
    auto* clipStrategy = info.capabilities.needsTextTower ? &dynamic_cast<ClipStrategy&>(*strategy) : nullptr;

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
    const DatasetRecipe recipe = effectiveRecipe(settings, dataset);

    ExperimentResult result;
    SkippedImages skipped;
    result.method = info.name;
    result.baseNew = baseNew;
    result.trainableParameters = strategy->trainableParameterCount();
    nlohmann::json& results = result.json;
    results = {{"method", info.name},       {"dataset", dataset.name}, {"model", backbone.checkpoint.spec.name},
               {"shots", settings.shots},   {"seed", settings.seed},   {"base_new", baseNew},
               {"trainer", toJson(config)}, {"batch_size", batchSize}, {"recipe", recipeJson(recipe)},
               {"status", "finished"}};
    if (store)
        results["run"] = store->folder();
    if (imported)
        results["imported_from"] = settings.importPrompt;
    if (callbacks.onStart)
        callbacks.onStart({info.name, result.trainableParameters, static_cast<int>(trainSet.train.size()), baseNew});

    // The image-tower cache: a method whose image tower stays frozen gets each view's features, computed
    // once and shared with every run of the same model, images, transform, seed and epoch. Mixed
    // precision (CUDA autocast) would encode differently inside the step, so it keeps the images.
    std::shared_ptr<FeatureCache> featureCache;
    if (!settings.featureCache.empty() && clipStrategy && info.capabilities.frozenImageTower &&
        !backbone.checkpoint.spec.sha256.empty() && (settings.precision == "fp32" || !backbone.device.is_cuda()))
        featureCache = std::make_shared<FeatureCache>(settings.featureCache);
    int viewsComputed = 0, viewsReused = 0;
    std::string cacheWriteProblem;
    const std::function<bool()> abandon = [control] { return control && control->abortRequested(); };
    auto inputSource = [&](const std::shared_ptr<const DatasetIndex>& data, const std::vector<Sample>& samples, const std::string& role,
                           std::optional<TrainTransform> train, int batch, bool shuffle, std::uint64_t seed) {
        InputSource input;
        if (!featureCache) {
            input.images = makeSource(data, samples, resolution, train, batch, shuffle, seed, settings.loaderThreads);
            return input;
        }
        auto [pipeline, options] = loaderSetup(resolution, train, batch, shuffle, seed, settings.loaderThreads);
        const CachedFeatureSource::Identity identity{backbone.checkpoint.spec.sha256, describeDevice(backbone.device), data->name, role};
        input.features = std::make_unique<CachedFeatureSource>(
            data, samples, pipeline, options, [clipStrategy](const at::Tensor& images) { return clipStrategy->imageFeatures(images); },
            featureCache, identity, abandon);
        return input;
    };
    // What a source met, once it is done: unreadable images, and the cache's reuse.
    auto finish = [&](const InputSource& input) {
        skipped.add(input.problems());
        if (input.features) {
            viewsComputed += input.features->viewsComputed();
            viewsReused += input.features->viewsReused();
            if (!input.features->lastWriteProblem().empty())
                cacheWriteProblem = input.features->lastWriteProblem();
        }
    };
    // Evaluates `evaluated` (the strategy, or the hand-crafted prompt beside it) on test samples.
    auto evaluateSplit = [&](Strategy& evaluated, const DatasetIndex& set, const std::vector<Sample>& samples) {
        InputSource input = inputSource(std::make_shared<const DatasetIndex>(set), samples, "test", std::nullopt, kEvalBatch, false, 1);
        Evaluation evaluation = evaluate([&](const at::Tensor& images) { return evaluated.logits(images); }, input.get(),
                                         static_cast<int>(set.classNames.size()), abandon);
        finish(input);
        return evaluation;
    };

    // Cache-style methods read the training images once (Tip-Adapter: augmented passes, scale 0.5-1).
    if (!imported) {
        stage(ExperimentStage::Preparing);
        const bool augment = !clipStrategy || clipStrategy->prepareWithAugmentation();
        InputSource prepareSource = inputSource(trainShared, trainSet.train, "train",
                                                augment ? std::optional<TrainTransform>(trainTransform(resolution, 0.5)) : std::nullopt,
                                                kEvalBatch, false, static_cast<std::uint64_t>(settings.seed));
        strategy->prepare(prepareSource.get());
        finish(prepareSource);
    }

    if (!imported && strategy->needsTraining() && !(control && control->stopRequested())) {
        stage(ExperimentStage::Training);
        // Domain adaptation pairs the source's images with the target's, whose epochs end early (a cached
        // view holds every sample): both stay images.
        InputSource trainSource;
        if (adapts)
            trainSource.images = makeSource(trainShared, trainSet.train, resolution, trainTransform(resolution, recipe.cropScaleMin), batchSize,
                                            true, static_cast<std::uint64_t>(settings.seed), settings.loaderThreads);
        else
            trainSource = inputSource(trainShared, trainSet.train, "train", trainTransform(resolution, recipe.cropScaleMin), batchSize, true,
                                      static_cast<std::uint64_t>(settings.seed));
        // The target's training images without labels, batch for batch beside the source's.
        std::unique_ptr<ImageBatchSource> targetSource;
        std::optional<PairedBatchSource> paired;
        if (adapts) {
            const DatasetIndex& target = targets.front();
            DatasetIndex unlabelled = target;
            unlabelled.train = withoutLabels(target.train);
            unlabelled.val.clear();
            unlabelled.test.clear();
            const auto unlabelledShared = std::make_shared<const DatasetIndex>(std::move(unlabelled));
            targetSource = makeSource(unlabelledShared, unlabelledShared->train, resolution,
                                      trainTransform(resolution, effectiveRecipe(settings, target).cropScaleMin), batchSize, true,
                                      static_cast<std::uint64_t>(settings.seed), settings.loaderThreads);
            paired.emplace(trainSource.get(), *targetSource);
            results["adaptation"] = {{"source_domain", adaptationDomainName(dataset)},
                                     {"target_domain", adaptationDomainName(target)},
                                     {"target", target.name},
                                     {"unlabelled_target_images", unlabelledShared->train.size()}};
            log(info.name + ": adapting " + adaptationDomainName(dataset) + " -> " + adaptationDomainName(target) + " with " +
                std::to_string(unlabelledShared->train.size()) + " unlabelled target images");
        }
        BatchSource& trainData = paired ? static_cast<BatchSource&>(*paired) : trainSource.get();
        const std::int64_t perEpoch = trainSource.get().batchesPerEpoch();
        const std::int64_t logEvery = settings.logEvery > 0 ? settings.logEvery : std::max<std::int64_t>(1, perEpoch * config.epochs / 50);
        {
            std::ostringstream intro;
            intro << info.name << ": " << strategy->trainableParameterCount() << " trainable parameters, " << trainSet.train.size()
                  << " training images, " << config.epochs << " epochs x " << perEpoch << " steps, batch " << batchSize << ", lr "
                  << config.lr;
            log(intro.str());
        }
        TrainerCallbacks trainerCallbacks;
        trainerCallbacks.onStep = [&](const StepReport& r) {
            if (callbacks.onStep)
                callbacks.onStep(r);
            if (r.step % logEvery != 0 && r.step != r.totalSteps)
                return;
            char line[256];
            std::snprintf(line, sizeof line, "epoch %d/%d step %lld/%lld loss %.4f acc %.1f%% lr %.2e %.1f img/s ETA %s", r.epoch + 1,
                          r.epochs, static_cast<long long>(r.step), static_cast<long long>(r.totalSteps), r.loss, r.accuracy * 100,
                          r.lr, r.imagesPerSecond, formatDuration(r.etaSeconds).c_str());
            std::string text = line;
            for (const auto& [name, value] : r.metrics) {
                std::snprintf(line, sizeof line, " %s %.4g", name.c_str(), value);
                text += line;
            }
            log(text);
            if (store) {
                nlohmann::json metric = {{"type", "step"}, {"epoch", r.epoch}, {"step", r.step}, {"loss", r.loss}, {"accuracy", r.accuracy},
                                         {"lr", r.lr}, {"images_per_second", r.imagesPerSecond}};
                for (const auto& [name, value] : r.metrics)
                    metric[name] = value;
                store->appendMetric(metric);
            }
        };
        trainerCallbacks.onEpoch = [&](const EpochReport& r) {
            if (callbacks.onEpoch)
                callbacks.onEpoch(r);
            if (store)
                store->appendMetric({{"type", "epoch"}, {"epoch", r.epoch}, {"loss", r.loss}, {"accuracy", r.accuracy}, {"seconds", r.seconds}});
        };
        const TrainResult trained = Trainer(config).fit(*strategy, trainData, trainerCallbacks, control);
        // The images trained on are those the loader could read.
        const std::int64_t unreadable = trainSource.skippedCount();
        const std::int64_t trainImages = trainSource.get().sampleCount();
        results["train"] = {{"epochs_done", trained.epochsDone}, {"steps", trained.steps},          {"seconds", trained.seconds},
                            {"final_loss", trained.finalLoss},   {"images", trainImages - unreadable},
                            {"skipped_images", unreadable}};
        finish(trainSource);
        if (targetSource)
            skipped.add(targetSource->problems());
        if (unreadable > 0)
            log("trained on " + std::to_string(trainImages - unreadable) + " of " + std::to_string(trainImages) + " training images: " + std::to_string(unreadable) +
                " could not be read (see problems)");
        if (trained.status != TrainResult::Status::Finished) {
            result.status = trained.status == TrainResult::Status::Stopped ? "stopped" : "diverged";
            result.message = trained.message;
            results["status"] = result.status;
            results["message"] = trained.message;
            log(trained.message);
        }
    }
    if (info.capabilities.validationTuned && !imported && !trainSet.val.empty()) {
        stage(ExperimentStage::Tuning);
        InputSource valSource = inputSource(trainShared, trainSet.val, "val", std::nullopt, kEvalBatch, false, 1);
        strategy->tuneOnValidation(valSource.get());
        finish(valSource);
    }
    results["trainable_parameters"] = strategy->trainableParameterCount();
    const ParameterBudget budget = parameterBudget(*strategy, model, settings.tasks);
    results["parameters"] = {{"trainable", budget.trainable}, {"backbone", budget.backbone}, {"tasks", budget.tasks},
                             {"multiplier", budget.multiplier}};

    // A stopped run is still evaluated: what was learned so far is worth seeing (and keeping).
    stage(ExperimentStage::Evaluating);
    const auto testSamples = [&](const DatasetIndex& set) {
        return limitSamples(set.test, settings.maxTestImages, static_cast<std::uint64_t>(settings.seed));
    };
    // An adapted method scores the source with the source's prompts and every target with the target's.
    if (adaptive)
        adaptive->setInferenceSide(AdaptationSide::Source);
    const Evaluation trainingClasses = evaluateSplit(*strategy, trainSet, testSamples(trainSet));
    if (adaptive)
        adaptive->setInferenceSide(AdaptationSide::Target);
    result.trainingClasses = ClassEvaluation{trainSet.classNames, trainingClasses};
    const auto trainingClassesJson = accuracyJson(trainingClasses, trainSet.classNames);
    for (const auto& key : {"accuracy", "per_class", "n"})
        results[key] = trainingClassesJson[key];
    if (store) {
        store->appendMetric({{"type", "eval"}, {"split", baseNew ? "base" : "test"}, {"accuracy", trainingClasses.accuracy}, {"n", trainingClasses.n}});
        if (clipStrategy && !imported) {
            const auto manifest = PromptExport::write(*clipStrategy, (fs::path(store->exportDir()) / "prompt").string(),
                                                      {{"accuracy", trainingClasses.accuracy}});
            result.exportPath = (fs::path(store->exportDir()) / "prompt.json").string();
            result.nearestWords = manifest.value("nearest_words", nlohmann::json::array());
            results["export"] = result.exportPath;
        }
    }
    const DatasetIndex newSet = baseNew ? subsampleClasses(fewShot, ClassSubset::New) : DatasetIndex();
    if (baseNew) {
        results["base"] = trainingClasses.accuracy;
        results["base_eval"] = trainingClassesJson;
        try {
            strategy->setClasses(newSet.classNames);
            const Evaluation novel = evaluateSplit(*strategy, newSet, testSamples(newSet));
            result.novel = ClassEvaluation{newSet.classNames, novel};
            result.harmonic = harmonicMean(trainingClasses.accuracy, novel.accuracy);
            results["new"] = novel.accuracy;
            results["new_eval"] = accuracyJson(novel, newSet.classNames);
            results["h"] = *result.harmonic;
            if (store)
                store->appendMetric({{"type", "eval"}, {"split", "new"}, {"accuracy", novel.accuracy}, {"n", novel.n}});
        } catch (const Error& e) {
            result.novelMessage = e.what();
            results["new"] = nullptr;
            results["h"] = nullptr;
            results["new_message"] = e.what();
            log("new classes: " + std::string(e.what()));
        }
    }
    // Domain generalisation: the classes trained on, on each target's test images.
    if (!targets.empty()) {
        if (result.novel)
            strategy->setClasses(trainSet.classNames);
        nlohmann::json targetsJson = nlohmann::json::object();
        for (const DatasetIndex& target : targets) {
            const DatasetIndex targetSet = baseNew ? subsampleClasses(target, ClassSubset::Base) : target;
            const Evaluation evaluation = evaluateSplit(*strategy, targetSet, testSamples(targetSet));
            result.targets.emplace_back(target.name, ClassEvaluation{targetSet.classNames, evaluation});
            targetsJson[target.name] = accuracyJson(evaluation, targetSet.classNames);
            log(target.name + ": accuracy " + std::to_string(evaluation.accuracy));
            if (store)
                store->appendMetric({{"type", "eval"}, {"split", "target"}, {"dataset", target.name}, {"accuracy", evaluation.accuracy},
                                     {"n", evaluation.n}});
        }
        results["targets"] = targetsJson;
    }
    // The prompt comparison: the dataset's hand-crafted prompt, zero-shot, on exactly the same images.
    if (settings.compareHandcrafted && info.capabilities.comparesWithHandcrafted() && backbone.tokenizer) {
        stage(ExperimentStage::ScoringHandcrafted);
        auto handcrafted = findStrategy("zeroshot").create();
        // A fresh model: the learned method's hooks must not leak in.
        handcrafted->attach(backbone.build(), taskSetup(backbone, dataset, trainSet.classNames, settings.shots), nlohmann::json::object());
        result.handcraftedTrainingClasses =
            ClassEvaluation{trainSet.classNames, evaluateSplit(*handcrafted, trainSet, testSamples(trainSet))};
        if (baseNew) {
            handcrafted->setClasses(newSet.classNames);
            result.handcraftedNovel =
                ClassEvaluation{newSet.classNames, evaluateSplit(*handcrafted, newSet, testSamples(newSet))};
        }
    }
    result.problems = skipped.lines();
    results["problems"] = result.problems;
    if (featureCache || viewsComputed + viewsReused > 0) {
        results["feature_cache"] = {{"folder", settings.featureCache}, {"views_computed", viewsComputed}, {"views_reused", viewsReused}};
        log("image-tower cache " + settings.featureCache + ": " + std::to_string(viewsReused) + " views reused, " +
            std::to_string(viewsComputed) + " computed");
        if (!cacheWriteProblem.empty())
            log("warning: the image-tower cache could not store a view (the run is not affected): " + cacheWriteProblem);
    }
    if (!result.problems.empty()) {
        log(std::to_string(result.problems.size()) + " image" + (result.problems.size() == 1 ? "" : "s") +
            " could not be read and were skipped:");
        for (const std::string& problem : result.problems)
            log("  " + problem);
    }
    result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (store) {
        nlohmann::json stored = results;
        stored["details"] = result.details();
        store->writeResults(stored);
    }
    return result;
}

} // namespace

ExperimentResult runExperiment(const RunSettings& settings, const Backbone& backbone, const DatasetIndex& dataset, RunStore* store,
                               bool resume, const ExperimentCallbacks& callbacks, RunControl* control,
                               const std::vector<DatasetIndex>& targets)
{
    try {
        if (targets.empty() && (!settings.evalDatasets.empty() || !settings.adaptTarget.empty()))
            return runExperimentSteps(settings, backbone, dataset, store, resume, callbacks, control,
                                      openTargetDatasets(settings, dataset, callbacks.onLog));
        return runExperimentSteps(settings, backbone, dataset, store, resume, callbacks, control, targets);
    } catch (const std::exception& e) {
        // The run folder stays (config, metrics, the last epoch's checkpoint); the history shows why it ended.
        if (store) {
            try {
                store->writeResults({{"method", settings.method}, {"dataset", dataset.name}, {"status", "failed"},
                                     {"message", firstLine(e.what())}, {"run", store->folder()}});
            } catch (const std::exception&) {
                // The original failure matters more than a second one while recording it.
            }
        }
        throw;
    }
}

} // namespace tunebench
