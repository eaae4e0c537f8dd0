#include "core/experiment/Experiment.h"

#include "core/Device.h"
#include "core/Error.h"
#include "core/data/DatasetLayouts.h"
#include "core/data/DomainAdaptationData.h"
#include "core/data/FewShot.h"
#include "core/data/ImageBatchSource.h"
#include "core/data/ImagePreprocess.h"
#include "core/experiment/CachedFeatureSource.h"
#include "core/export/PromptExport.h"
#include "core/io/ClipTokenizer.h"
#include "core/io/VocabularyLocator.h"
#include "core/train/GeneratorLock.h"
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

// `scoreAt(batch)` from kEvalBatch down: a batch that runs out of memory is scored again at half the size (logged),
// down to one image at a time, since an image's scores do not depend on its batch, unless `strategy` scores a batch
// as a whole (L2P's batch-wise vote). Past that, OutOfMemory naming `what` ("D's test images") and ending in `note`.
Evaluation scoreInFittingBatches(const Strategy& strategy, const std::string& what, const std::function<Evaluation(int batch)>& scoreAt,
                                 const std::function<void(const std::string&)>& log, const std::string& note)
{
    for (int batch = kEvalBatch;; batch /= 2) {
        try {
            return scoreAt(batch);
        } catch (const std::exception& e) {
            if (!isOutOfMemory(e))
                throw;
            if (batch == 1)
                throw OutOfMemory("out of memory scoring " + what + " even one at a time" + note, {});
            if (strategy.scoresDependOnBatch())
                throw OutOfMemory("out of memory scoring " + what + " " + std::to_string(batch) + " at a time, and " +
                                      findStrategy(strategy.name()).title + " scores a batch as a whole" + note,
                                  {});
            if (log)
                log("out of memory scoring " + what + " " + std::to_string(batch) + " at a time; scoring them " + std::to_string(batch / 2) +
                    " at a time");
        }
    }
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

Backbone loadImageBackbone(const std::string& modelPath, const std::string& device)
{
    return Backbone{modelPath, readCheckpoint(modelPath), nullptr, chooseDevice(device)};
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

DatasetIndex matchTargetClasses(const DatasetIndex& source, const DatasetIndex& target, const std::map<std::string, std::string>& classMap,
                                const std::function<void(const std::string&)>& log)
{
    DatasetIndex matched = matchClasses(source, target, classMap);
    if (log)
        for (const nlohmann::json& pair : matched.classPairs)
            log("classes: " + target.name + "'s \"" + pair["target"].get<std::string>() + "\" is " + source.name + "'s \"" +
                pair["source"].get<std::string>() + "\" (by " + pair["by"].get<std::string>() + ")");
    return matched;
}

std::vector<DatasetIndex> openTargetDatasets(const RunSettings& settings, const DatasetIndex& source,
                                             const std::function<void(const std::string&)>& progress)
{
    std::vector<DatasetIndex> targets;
    if (!settings.adaptTarget.empty())
        targets.push_back(matchTargetClasses(source, openAdaptationDomain(settings.adaptTarget, progress), settings.classMap, progress));
    for (const std::string& name : settings.evalDatasets)
        targets.push_back(matchTargetClasses(source, openDataset(name, {}, progress), settings.classMap, progress));
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
                      int loaderThreads, SkippedImages* skipped, const RunControl* control, const std::function<void(const std::string&)>& log)
{
    auto shared = std::make_shared<const DatasetIndex>(dataset);
    std::function<bool()> abandon;
    if (control)
        abandon = [control] { return control->abortRequested(); };
    return scoreInFittingBatches(
        strategy, dataset.name + "'s images",
        [&](int batch) {
            auto source = makeSource(shared, samples, resolution, std::nullopt, batch, false, 1, loaderThreads);
            Evaluation evaluation = evaluate([&](const at::Tensor& images) { return strategy.logits(images); }, *source,
                                             static_cast<int>(dataset.classNames.size()), abandon);
            if (skipped)
                skipped->add(source->problems());
            return evaluation;
        },
        log, "");
}

nlohmann::json accuracyJson(const Evaluation& evaluation, const std::vector<std::string>& classNames)
{
    auto json = evaluation.toJson(classNames);
    json.erase("confusion");
    return json;
}

nlohmann::json ExperimentResult::details() const
{
    // Arrays, so that the targets keep settings.evalDatasets' order (older files hold an object by name).
    const auto targetsJson = [](const std::vector<std::pair<std::string, ClassEvaluation>>& evaluations) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& [name, evaluation] : evaluations) {
            nlohmann::json target = classEvaluationJson(evaluation);
            target["dataset"] = name;
            out.push_back(target);
        }
        return out;
    };
    return {{"first", classEvaluationJson(trainingClasses)},  // the format's name, which existing run folders use
            {"novel", classEvaluationJson(novel)},
            {"handcrafted_first", classEvaluationJson(handcraftedTrainingClasses)},
            {"handcrafted_novel", classEvaluationJson(handcraftedNovel)},
            {"nearest_words", nearestWords},
            {"targets", targetsJson(targets)},
            {"handcrafted_targets", targetsJson(handcraftedTargets)},
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

// What a method that adapts (a DomainAdaptiveLearner, DAPL) gets from the stages besides the source: the
// two domains' words when it is attached, the target's training images without their labels beside every
// source batch, and the side that scores each split (the source's prompts on the source, the target's on
// every target).
class TargetDomain
{
public:
    TargetDomain(std::string method, DomainAdaptiveLearner& learner, const DatasetIndex& source, const DatasetIndex& target)
        : m_method(std::move(method)), m_learner(learner), m_source(source), m_target(target)
    {
    }

    static std::vector<std::string> domainWords(const DatasetIndex& source, const DatasetIndex& target)
    {
        return {adaptationDomainName(source), adaptationDomainName(target)};
    }

    // The source's batches paired with the target's unlabelled training images, batch for batch; what it
    // adapts with goes into results["adaptation"].
    BatchSource& pairWith(BatchSource& source, const RunSettings& settings, int resolution, int batchSize, nlohmann::json& results,
                          const std::function<void(const std::string&)>& log)
    {
        DatasetIndex unlabelled = m_target;
        unlabelled.train = withoutLabels(m_target.train);
        unlabelled.val.clear();
        unlabelled.test.clear();
        const auto unlabelledShared = std::make_shared<const DatasetIndex>(std::move(unlabelled));
        m_images = makeSource(unlabelledShared, unlabelledShared->train, resolution,
                              trainTransform(resolution, effectiveRecipe(settings, m_target).cropScaleMin), batchSize, true,
                              static_cast<std::uint64_t>(settings.seed), settings.loaderThreads);
        m_paired.emplace(source, *m_images);
        results["adaptation"] = {{"source_domain", adaptationDomainName(m_source)},
                                 {"target_domain", adaptationDomainName(m_target)},
                                 {"target", m_target.name},
                                 {"unlabelled_target_images", unlabelledShared->train.size()}};
        log(m_method + ": adapting " + adaptationDomainName(m_source) + " -> " + adaptationDomainName(m_target) + " with " +
            std::to_string(unlabelledShared->train.size()) + " unlabelled target images");
        return *m_paired;
    }

    std::vector<std::string> problems() const { return m_images ? m_images->problems() : std::vector<std::string>{}; }
    void scoreWith(AdaptationSide side) { m_learner.setInferenceSide(side); }

private:
    std::string m_method;
    DomainAdaptiveLearner& m_learner;
    const DatasetIndex& m_source;
    const DatasetIndex& m_target;
    std::unique_ptr<ImageBatchSource> m_images;
    std::optional<PairedBatchSource> m_paired;
};

// One experiment, stage by stage: its inputs (loaders, the image-tower cache), preparation, training,
// validation tuning, evaluation, and writing the result.
class ExperimentRun
{
public:
    ExperimentRun(const RunSettings& settings, const Backbone& backbone, const DatasetIndex& dataset, RunStore* store, bool resume,
                  const ExperimentCallbacks& callbacks, RunControl* control, const std::vector<DatasetIndex>& targets)
        : m_settings(settings), m_backbone(backbone), m_dataset(dataset), m_store(store), m_resume(resume), m_callbacks(callbacks),
          m_control(control), m_targets(targets), m_started(std::chrono::steady_clock::now()),
          m_resolution(backbone.checkpoint.spec.vision.imageSize)
    {
    }

    ExperimentResult run()
    {
        setUp();
        if (!m_imported)
            prepare();
        if (!m_imported && m_strategy->needsTraining() && !(m_control && m_control->stopRequested()))
            train();
        if (m_info->capabilities.validationTuned && !m_imported && !m_trainSet.val.empty())
            tuneOnValidation();
        countParameters();
        // A stopped run is still evaluated: what was learned so far is worth seeing (and keeping).
        evaluate();
        write();
        return std::move(m_result);
    }

private:
    void log(const std::string& line) const
    {
        if (m_callbacks.onLog)
            m_callbacks.onLog(line);
    }
    void stage(ExperimentStage s) const
    {
        if (m_callbacks.onStage)
            m_callbacks.onStage(s);
    }

    // ---- setting up: the split, the strategy, the trainer's configuration ----
    void setUp()
    {
        // An imported prompt is evaluated on every class of this dataset, without training.
        m_imported = !m_settings.importPrompt.empty();
        m_info = &findStrategy(experimentMethod(m_settings));
        // Domain adaptation: the first target is the domain adapted to; its training images go in unlabelled.
        const bool adapts = !m_imported && m_info->capabilities.adaptsToTarget;
        if (adapts && m_settings.adaptTarget.empty())
            throw Error(m_info->name + " adapts to an unlabelled target domain: give one (train --adapt-to TARGET, or tunebench-cli adapt)");
        if (adapts && m_targets.empty())
            throw Error(m_info->name + ": the target domain " + m_settings.adaptTarget + " was not opened (openTargetDatasets)");
        if (!adapts && !m_settings.adaptTarget.empty())
            throw Error(m_info->name + " does not adapt to a target domain (adapt-to applies to dapl); score a target with eval datasets instead");
        m_baseNew = !m_imported && !adapts && m_settings.baseNew && baseNewApplies(m_backbone, *m_info);
        if (m_settings.baseNew && !m_baseNew && !m_imported)
            log("base-to-new does not apply to " + m_info->name + (adapts ? " (domain adaptation)" : " on this model") + ": plain accuracy");
        torch::manual_seed(static_cast<uint64_t>(m_settings.seed));

        // CoOp's protocol: few-shot sampling first, then the class split (methods.md 3).
        m_fewShot = applyFewShot(m_dataset, {m_settings.shots, static_cast<std::uint64_t>(m_settings.seed)});
        m_trainSet = m_baseNew ? subsampleClasses(m_fewShot, ClassSubset::Base) : m_fewShot;
        m_trainShared = std::make_shared<const DatasetIndex>(m_trainSet);

        m_model = m_backbone.build();
        if (m_imported) {
            ImportedPrompt prompt =
                PromptExport::read(m_settings.importPrompt, m_model, taskSetup(m_backbone, m_dataset, m_trainSet.classNames, m_settings.shots));
            for (const auto& warning : prompt.warnings)
                log("warning: " + warning);
            m_strategy = std::move(prompt.strategy);
        } else {
            TaskSetup setup = taskSetup(m_backbone, m_dataset, m_trainSet.classNames, m_settings.shots);
            if (adapts)
                setup.domainNames = TargetDomain::domainWords(m_dataset, m_targets.front());
            m_strategy = m_info->create();
            m_strategy->attach(m_model, setup, m_settings.options);
        }
        if (adapts)
            m_targetDomain.emplace(m_info->name, dynamic_cast<DomainAdaptiveLearner&>(*m_strategy), m_dataset, m_targets.front());
        // Every method that needs the text tower is a ClipStrategy (prompt export, augmentation choice).
        m_clipStrategy = m_info->capabilities.needsTextTower ? &dynamic_cast<ClipStrategy&>(*m_strategy) : nullptr;

        m_config = withEpochs(m_strategy->defaultTrainerConfig(m_settings.shots), m_settings.epochs);
        if (m_settings.lr > 0)
            m_config.lr = m_settings.lr;
        m_config.precision = m_settings.precision;
        m_config.maxSteps = m_settings.maxSteps;
        m_config.accumulate = m_settings.accumulate;
        m_config.checkpointing = m_settings.checkpointing;
        if (m_store) {
            m_config.checkpointDir = m_store->checkpointDir();
            m_config.resume = m_resume;
            if (m_resume) {
                const std::optional<CheckpointInfo> checkpoint = findCheckpoint(m_config.checkpointDir);
                m_store->keepMetricsUpTo(checkpoint ? checkpoint->epochsDone : 0, checkpoint ? checkpoint->steps : 0);
            }
        }
        m_batchSize = m_settings.batchSize > 0 ? m_settings.batchSize : m_strategy->defaultBatchSize(m_settings.shots);
        m_recipe = effectiveRecipe(m_settings, m_dataset);

        m_result.method = m_info->name;
        m_result.baseNew = m_baseNew;
        m_result.trainableParameters = m_strategy->trainableParameterCount();
        m_result.json = {{"method", m_info->name},       {"dataset", m_dataset.name}, {"model", m_backbone.checkpoint.spec.name},
                         {"shots", m_settings.shots},    {"seed", m_settings.seed},   {"base_new", m_baseNew},
                         {"trainer", toJson(m_config)},  {"batch_size", m_batchSize}, {"recipe", recipeJson(m_recipe)},
                         {"status", "finished"}};
        if (m_store)
            m_result.json["run"] = m_store->folder();
        if (m_imported)
            m_result.json["imported_from"] = m_settings.importPrompt;
        if (m_callbacks.onStart)
            m_callbacks.onStart({m_info->name, m_result.trainableParameters, static_cast<int>(m_trainSet.train.size()), m_baseNew});

        // The image-tower cache: a method whose image tower stays frozen gets each view's features, computed
        // once and shared with every run of the same model, images, transform, seed and epoch. Mixed
        // precision (CUDA autocast) would encode differently inside the step, so it keeps the images.
        if (!m_settings.featureCache.empty() && m_clipStrategy && m_info->capabilities.frozenImageTower &&
            !m_backbone.checkpoint.spec.sha256.empty() && (m_settings.precision == "fp32" || !m_backbone.device.is_cuda()))
            m_featureCache = std::make_shared<FeatureCache>(m_settings.featureCache);
    }

    // ---- inputs: loaders of images, or of cached image-tower features ----
    InputSource inputSource(const std::shared_ptr<const DatasetIndex>& data, const std::vector<Sample>& samples, const std::string& role,
                            std::optional<TrainTransform> train, int batch, bool shuffle, std::uint64_t seed)
    {
        InputSource input;
        if (!m_featureCache) {
            input.images = makeSource(data, samples, m_resolution, train, batch, shuffle, seed, m_settings.loaderThreads);
            return input;
        }
        auto [pipeline, options] = loaderSetup(m_resolution, train, batch, shuffle, seed, m_settings.loaderThreads);
        const CachedFeatureSource::Identity identity{m_backbone.checkpoint.spec.sha256, describeDevice(m_backbone.device), data->name, role};
        ClipStrategy* clip = m_clipStrategy;
        input.features = std::make_unique<CachedFeatureSource>(
            data, samples, pipeline, options, [clip](const at::Tensor& images) { return clip->imageFeatures(images); }, m_featureCache,
            identity, abandon());
        return input;
    }
    // What a source met, once it is done: unreadable images, and the cache's reuse.
    void finish(const InputSource& input)
    {
        m_skipped.add(input.problems());
        if (input.features) {
            m_viewsComputed += input.features->viewsComputed();
            m_viewsReused += input.features->viewsReused();
            if (!input.features->lastWriteProblem().empty())
                m_cacheWriteProblem = input.features->lastWriteProblem();
        }
    }
    std::function<bool()> abandon() const
    {
        RunControl* control = m_control;
        return [control] { return control && control->abortRequested(); };
    }
    std::vector<Sample> testSamples(const DatasetIndex& set) const
    {
        return limitSamples(set.test, m_settings.maxTestImages, static_cast<std::uint64_t>(m_settings.seed));
    }
    // `evaluated` (the strategy, or the hand-crafted prompt beside it) on `set`'s test samples, in batches that fit.
    Evaluation evaluateSplit(Strategy& evaluated, const DatasetIndex& set)
    {
        const auto shared = std::make_shared<const DatasetIndex>(set);
        // Nothing in the run's settings sizes the evaluation: an out-of-memory line says that training is kept.
        return scoreInFittingBatches(
            evaluated, set.name + "'s test images",
            [&](int batch) {
                InputSource input = inputSource(shared, testSamples(set), "test", std::nullopt, batch, false, 1);
                Evaluation evaluation = tunebench::evaluate([&](const at::Tensor& images) { return evaluated.logits(images); }, input.get(),
                                                            static_cast<int>(set.classNames.size()), abandon());
                finish(input);
                return evaluation;
            },
            [this](const std::string& line) { log(line); }, " (training finished; its checkpoint is kept)");
    }

    // ---- preparation: cache-style methods read the training images once (Tip-Adapter: augmented passes, scale 0.5-1) ----
    void prepare()
    {
        stage(ExperimentStage::Preparing);
        const bool augment = !m_clipStrategy || m_clipStrategy->prepareWithAugmentation();
        InputSource source = inputSource(m_trainShared, m_trainSet.train, "train",
                                         augment ? std::optional<TrainTransform>(trainTransform(m_resolution, 0.5)) : std::nullopt,
                                         kEvalBatch, false, static_cast<std::uint64_t>(m_settings.seed));
        m_strategy->prepare(source.get());
        finish(source);
    }

    // ---- training ----
    void train()
    {
        stage(ExperimentStage::Training);
        // Domain adaptation pairs the source's images with the target's, whose epochs end early (a cached
        // view holds every sample): both stay images.
        InputSource trainSource;
        const TrainTransform augmentation = trainTransform(m_resolution, m_recipe.cropScaleMin);
        const auto seed = static_cast<std::uint64_t>(m_settings.seed);
        if (m_targetDomain)
            trainSource.images = makeSource(m_trainShared, m_trainSet.train, m_resolution, augmentation, m_batchSize, true, seed,
                                            m_settings.loaderThreads);
        else
            trainSource = inputSource(m_trainShared, m_trainSet.train, "train", augmentation, m_batchSize, true, seed);
        BatchSource& trainData = m_targetDomain ? m_targetDomain->pairWith(trainSource.get(), m_settings, m_resolution, m_batchSize,
                                                                           m_result.json, [this](const std::string& line) { log(line); })
                                                : trainSource.get();
        // Optimiser steps: each takes --accumulate batches (the last of an epoch may take fewer).
        const std::int64_t perEpoch = (trainSource.get().batchesPerEpoch() + m_config.accumulate - 1) / m_config.accumulate;
        const std::int64_t logEvery =
            m_settings.logEvery > 0 ? m_settings.logEvery : std::max<std::int64_t>(1, perEpoch * m_config.epochs / 50);
        {
            std::ostringstream intro;
            intro << m_info->name << ": " << m_strategy->trainableParameterCount() << " trainable parameters, " << m_trainSet.train.size()
                  << " training images, " << m_config.epochs << " epochs x " << perEpoch << " steps, batch " << m_batchSize;
            if (m_config.accumulate > 1)
                intro << " x " << m_config.accumulate << " accumulated (effective batch " << m_batchSize * m_config.accumulate << ")";
            intro << ", lr " << m_config.lr;
            log(intro.str());
        }
        TrainerCallbacks trainerCallbacks;
        trainerCallbacks.onStep = [&](const StepReport& r) {
            if (m_callbacks.onStep)
                m_callbacks.onStep(r);
            if (r.step % logEvery != 0 && r.step != r.totalSteps)
                return;
            log(stepLine(r));
            if (m_store) {
                nlohmann::json metric = {{"type", "step"}, {"epoch", r.epoch}, {"step", r.step}, {"loss", r.loss}, {"accuracy", r.accuracy},
                                         {"lr", r.lr}, {"images_per_second", r.imagesPerSecond}};
                for (const auto& [name, value] : r.metrics)
                    metric[name] = value;
                m_store->appendMetric(metric);
            }
        };
        trainerCallbacks.onEpoch = [&](const EpochReport& r) {
            if (m_callbacks.onEpoch)
                m_callbacks.onEpoch(r);
            if (m_store)
                m_store->appendMetric({{"type", "epoch"}, {"epoch", r.epoch}, {"loss", r.loss}, {"accuracy", r.accuracy}, {"seconds", r.seconds}});
        };
        const TrainResult trained = Trainer(m_config).fit(*m_strategy, trainData, trainerCallbacks, m_control);
        // The images trained on are those the loader could read.
        const std::int64_t unreadable = trainSource.skippedCount();
        const std::int64_t trainImages = trainSource.get().sampleCount();
        m_result.json["train"] = {{"epochs_done", trained.epochsDone}, {"steps", trained.steps},          {"seconds", trained.seconds},
                                  {"final_loss", trained.finalLoss},   {"images", trainImages - unreadable},
                                  {"skipped_images", unreadable}};
        finish(trainSource);
        if (m_targetDomain)
            m_skipped.add(m_targetDomain->problems());
        if (unreadable > 0)
            log("trained on " + std::to_string(trainImages - unreadable) + " of " + std::to_string(trainImages) +
                " training images: " + std::to_string(unreadable) + " could not be read (see problems)");
        if (trained.status != TrainResult::Status::Finished) {
            m_result.status = trained.status == TrainResult::Status::Stopped ? "stopped" : "diverged";
            m_result.message = trained.message;
            m_result.json["status"] = m_result.status;
            m_result.json["message"] = trained.message;
            log(trained.message);
        }
    }

    static std::string stepLine(const StepReport& r)
    {
        char line[256];
        std::snprintf(line, sizeof line, "epoch %d/%d step %lld/%lld loss %.4f acc %.1f%% lr %.2e %.1f img/s ETA %s", r.epoch + 1, r.epochs,
                      static_cast<long long>(r.step), static_cast<long long>(r.totalSteps), r.loss, r.accuracy * 100, r.lr,
                      r.imagesPerSecond, formatDuration(r.etaSeconds).c_str());
        std::string text = line;
        for (const auto& [name, value] : r.metrics) {
            std::snprintf(line, sizeof line, " %s %.4g", name.c_str(), value);
            text += line;
        }
        return text;
    }

    // ---- validation tuning (Tip-Adapter-F's alpha and beta, the linear probe's C) ----
    void tuneOnValidation()
    {
        stage(ExperimentStage::Tuning);
        InputSource source = inputSource(m_trainShared, m_trainSet.val, "val", std::nullopt, kEvalBatch, false, 1);
        m_strategy->tuneOnValidation(source.get());
        finish(source);
    }

    void countParameters()
    {
        m_result.json["trainable_parameters"] = m_strategy->trainableParameterCount();
        const ParameterBudget budget = parameterBudget(*m_strategy, m_model, m_settings.tasks);
        m_result.json["parameters"] = {{"trainable", budget.trainable}, {"backbone", budget.backbone}, {"shared", budget.shared}, {"tasks", budget.tasks},
                                       {"multiplier", budget.multiplier}};
    }

    // ---- evaluation: the training classes, the new classes, the targets, the hand-crafted prompt ----
    void evaluate()
    {
        stage(ExperimentStage::Evaluating);
        nlohmann::json& results = m_result.json;
        // An adapted method scores the source with the source's prompts and every target with the target's.
        if (m_targetDomain)
            m_targetDomain->scoreWith(AdaptationSide::Source);
        const Evaluation trainingClasses = evaluateSplit(*m_strategy, m_trainSet);
        if (m_targetDomain)
            m_targetDomain->scoreWith(AdaptationSide::Target);
        m_result.trainingClasses = ClassEvaluation{m_trainSet.classNames, trainingClasses};
        const auto trainingClassesJson = accuracyJson(trainingClasses, m_trainSet.classNames);
        for (const auto& key : {"accuracy", "per_class", "n"})
            results[key] = trainingClassesJson[key];
        if (m_store) {
            m_store->appendMetric(
                {{"type", "eval"}, {"split", m_baseNew ? "base" : "test"}, {"accuracy", trainingClasses.accuracy}, {"n", trainingClasses.n}});
            // Every family exports (predict --run, export --run and eval --tuned read it): the CLIP methods
            // as export/prompt.*, the classic ViT methods and L2P as export/tuned.*.
            if (!m_imported) {
                const std::string name = PromptExport::exportName(*m_strategy);
                const auto manifest = PromptExport::write(*m_strategy, (fs::path(m_store->exportDir()) / name).string(),
                                                          {{"accuracy", trainingClasses.accuracy}}, 5,
                                                          fs::path(m_store->folder()).filename().string());
                m_result.exportPath = (fs::path(m_store->exportDir()) / (name + ".json")).string();
                m_result.nearestWords = manifest.value("nearest_words", nlohmann::json::array());
                results["export"] = m_result.exportPath;
            }
        }
        const DatasetIndex newSet = m_baseNew ? subsampleClasses(m_fewShot, ClassSubset::New) : DatasetIndex();
        if (m_baseNew) {
            results["base"] = trainingClasses.accuracy;
            results["base_eval"] = trainingClassesJson;
            try {
                m_strategy->setClasses(newSet.classNames);
                const Evaluation novel = evaluateSplit(*m_strategy, newSet);
                m_result.novel = ClassEvaluation{newSet.classNames, novel};
                m_result.harmonic = harmonicMean(trainingClasses.accuracy, novel.accuracy);
                results["new"] = novel.accuracy;
                results["new_eval"] = accuracyJson(novel, newSet.classNames);
                results["h"] = *m_result.harmonic;
                if (m_store)
                    m_store->appendMetric({{"type", "eval"}, {"split", "new"}, {"accuracy", novel.accuracy}, {"n", novel.n}});
            } catch (const Error& e) {
                m_result.novelMessage = e.what();
                results["new"] = nullptr;
                results["h"] = nullptr;
                results["new_message"] = e.what();
                log("new classes: " + std::string(e.what()));
            }
        }
        // Domain generalisation: the classes trained on, on each target's test images.
        if (!m_targets.empty()) {
            if (m_result.novel)
                m_strategy->setClasses(m_trainSet.classNames);
            nlohmann::json targetsJson = nlohmann::json::object();
            for (const DatasetIndex& target : m_targets) {
                const DatasetIndex targetSet = m_baseNew ? subsampleClasses(target, ClassSubset::Base) : target;
                const Evaluation evaluation = evaluateSplit(*m_strategy, targetSet);
                m_result.targets.emplace_back(target.name, ClassEvaluation{targetSet.classNames, evaluation});
                targetsJson[target.name] = accuracyJson(evaluation, targetSet.classNames);
                log(target.name + ": accuracy " + std::to_string(evaluation.accuracy));
                if (m_store)
                    m_store->appendMetric({{"type", "eval"}, {"split", "target"}, {"dataset", target.name}, {"accuracy", evaluation.accuracy},
                                           {"n", evaluation.n}});
            }
            results["targets"] = targetsJson;
        }
        // The prompt comparison: the dataset's hand-crafted prompt, zero-shot, on exactly the same images.
        if (m_settings.compareHandcrafted && m_info->capabilities.comparesWithHandcrafted() && m_backbone.tokenizer) {
            stage(ExperimentStage::ScoringHandcrafted);
            auto handcrafted = findStrategy("zeroshot").create();
            // A fresh model: the learned method's hooks must not leak in.
            handcrafted->attach(m_backbone.build(), taskSetup(m_backbone, m_dataset, m_trainSet.classNames, m_settings.shots),
                                nlohmann::json::object());
            m_result.handcraftedTrainingClasses = ClassEvaluation{m_trainSet.classNames, evaluateSplit(*handcrafted, m_trainSet)};
            if (m_baseNew) {
                handcrafted->setClasses(newSet.classNames);
                m_result.handcraftedNovel = ClassEvaluation{newSet.classNames, evaluateSplit(*handcrafted, newSet)};
                handcrafted->setClasses(m_trainSet.classNames);
            }
            for (const DatasetIndex& target : m_targets) {
                const DatasetIndex targetSet = m_baseNew ? subsampleClasses(target, ClassSubset::Base) : target;
                m_result.handcraftedTargets.emplace_back(target.name,
                                                         ClassEvaluation{targetSet.classNames, evaluateSplit(*handcrafted, targetSet)});
            }
        }
    }

    std::vector<const DatasetIndex*> datasetsRead() const
    {
        std::vector<const DatasetIndex*> datasets = {&m_dataset};
        for (const DatasetIndex& target : m_targets)
            datasets.push_back(&target);
        return datasets;
    }

    // ---- the result: problems, the cache's reuse, results.json ----
    void write()
    {
        nlohmann::json& results = m_result.json;
        // The files the dataset scans left out (empty, not regular, not images) first, then those the
        // loaders could not decode, each line naming the file and why. A file the scan listed with a
        // warning and a loader then skipped is named once, with the loader's reason.
        std::vector<std::string> loaderFiles;
        for (const std::string& line : m_skipped.lines())
            loaderFiles.push_back(line.substr(0, line.find(": ") + 2));
        SkippedImages scanned;
        for (const DatasetIndex* dataset : datasetsRead())
            for (const std::string& line : dataset->problems)
                if (std::none_of(loaderFiles.begin(), loaderFiles.end(), [&](const std::string& file) { return line.rfind(file, 0) == 0; }))
                    scanned.add({line});
        SkippedImages everything = scanned;
        everything.add(m_skipped.lines());
        m_result.problems = everything.lines();
        results["problems"] = m_result.problems;
        // How each target's classes were paired with the source's, where not by the same name.
        for (const DatasetIndex& target : m_targets)
            if (target.classPairs.is_array() && !target.classPairs.empty())
                results["class_matching"].push_back({{"dataset", target.name}, {"pairs", target.classPairs}});
        if (m_featureCache || m_viewsComputed + m_viewsReused > 0) {
            results["feature_cache"] = {{"folder", m_settings.featureCache}, {"views_computed", m_viewsComputed}, {"views_reused", m_viewsReused}};
            log("image-tower cache " + m_settings.featureCache + ": " + std::to_string(m_viewsReused) + " views reused, " +
                std::to_string(m_viewsComputed) + " computed");
            if (!m_cacheWriteProblem.empty())
                log("warning: the image-tower cache could not store a view (the run is not affected): " + m_cacheWriteProblem);
        }
        if (!scanned.lines().empty()) {
            log(std::to_string(scanned.lines().size()) + " file" + (scanned.lines().size() == 1 ? " was" : "s were") +
                " left out by the dataset scan:");
            for (const std::string& problem : scanned.lines())
                log("  " + problem);
        }
        if (!m_skipped.lines().empty()) {
            log(std::to_string(m_skipped.lines().size()) + " image" + (m_skipped.lines().size() == 1 ? "" : "s") +
                (m_skipped.lines().size() == 1 ? " could not be read and was skipped:" : " could not be read and were skipped:"));
            for (const std::string& problem : m_skipped.lines())
                log("  " + problem);
        }
        m_result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - m_started).count();
        if (m_store) {
            nlohmann::json stored = results;
            stored["details"] = m_result.details();
            m_store->writeResults(stored);
        }
    }

    // What the run was given.
    const RunSettings& m_settings;
    const Backbone& m_backbone;
    const DatasetIndex& m_dataset;
    RunStore* m_store;
    const bool m_resume;
    const ExperimentCallbacks& m_callbacks;
    RunControl* m_control;
    const std::vector<DatasetIndex>& m_targets;
    const std::chrono::steady_clock::time_point m_started;
    const int m_resolution;

    // Set up once.
    bool m_imported = false;
    bool m_baseNew = false;
    const StrategyInfo* m_info = nullptr;
    DatasetIndex m_fewShot, m_trainSet;
    std::shared_ptr<const DatasetIndex> m_trainShared;
    ClipModel m_model{nullptr};
    std::unique_ptr<Strategy> m_strategy;
    ClipStrategy* m_clipStrategy = nullptr;
    std::optional<TargetDomain> m_targetDomain;  // methods that adapt (DAPL) only
    TrainerConfig m_config;
    int m_batchSize = 0;
    DatasetRecipe m_recipe;
    std::shared_ptr<FeatureCache> m_featureCache;

    // Gathered as the stages run.
    ExperimentResult m_result;
    SkippedImages m_skipped;
    int m_viewsComputed = 0, m_viewsReused = 0;
    std::string m_cacheWriteProblem;
};

// results.json of a run that ended without results: its status ("failed", "out_of_memory") and why.
void recordFailure(RunStore& store, const RunSettings& settings, const DatasetIndex& dataset, const std::string& status,
                   const std::string& message)
{
    try {
        store.writeResults({{"method", settings.method}, {"dataset", dataset.name}, {"status", status}, {"message", message}, {"run", store.folder()}});
    } catch (const std::exception&) {
        // The original failure matters more than a second one while recording it.
    }
}

} // namespace

ExperimentResult runExperiment(const RunSettings& settings, const Backbone& backbone, const DatasetIndex& dataset, RunStore* store,
                               bool resume, const ExperimentCallbacks& callbacks, RunControl* control,
                               const std::vector<DatasetIndex>& targets)
{
    try {
        // The run seeds LibTorch's generator and draws from it to the end; nothing else in the process draws
        // meanwhile (the window's background work waits), so that it draws what the same run draws alone.
        const GeneratorLock generator("the run", [control] { return control && control->stopRequested(); });
        setMaxImagePixels(settings.maxImagePixels);  // every image this run decodes
        if (targets.empty() && (!settings.evalDatasets.empty() || !settings.adaptTarget.empty()))
            return ExperimentRun(settings, backbone, dataset, store, resume, callbacks, control,
                                 openTargetDatasets(settings, dataset, callbacks.onLog))
                .run();
        return ExperimentRun(settings, backbone, dataset, store, resume, callbacks, control, targets).run();
    } catch (const OutOfMemory& e) {
        // Stopped at the last checkpoint: the line says how to go on from it with less memory.
        if (!store)
            throw;
        const std::string resume = "tunebench-cli train --resume " + store->folder() + (e.options.empty() ? "" : " " + e.options.front());
        const OutOfMemory stopped(firstLine(e.what()) + "; continue with " + resume, e.options);
        recordFailure(*store, settings, dataset, "out_of_memory", stopped.what());
        throw stopped;
    } catch (const std::exception& e) {
        // The run folder stays (config, metrics, the last epoch's checkpoint); the history shows why it ended.
        if (store)
            recordFailure(*store, settings, dataset, "failed", firstLine(e.what()));
        throw;
    }
}

} // namespace tunebench
