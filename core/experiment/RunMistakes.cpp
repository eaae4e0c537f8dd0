#include "core/experiment/RunMistakes.h"

#include "core/Device.h"
#include "core/Error.h"
#include "core/data/FewShot.h"
#include "core/data/ImagePreprocess.h"
#include "core/data/SampleImage.h"
#include "core/experiment/CachedFeatureSource.h"
#include "core/experiment/Caches.h"
#include "core/experiment/Experiment.h"
#include "core/experiment/TunedImageSource.h"
#include "core/experiment/TunedModel.h"
#include "core/train/FeatureCache.h"
#include "core/train/RunStore.h"
#include "core/tuning/prompt/ClipStrategy.h"

#include <opencv2/imgproc.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <cstring>

namespace tunebench {

// The run's test images and what reads them again.
struct RunTestSet
{
    std::shared_ptr<const DatasetIndex> set;
    std::vector<Sample> samples;
};

namespace {

// The evaluation's batch (Experiment.cpp's kEvalBatch): the batch size changes no feature, but keeping the
// run's makes the scores the run's to the last bit where the image tower runs here.
constexpr int kScoringBatch = 64;

RgbImage toRgbImage(const cv::Mat& rgb)
{
    RgbImage image{rgb.cols, rgb.rows, {}};
    image.pixels.resize(static_cast<size_t>(3 * rgb.cols * rgb.rows));
    for (int y = 0; y < rgb.rows; ++y)
        std::memcpy(image.pixels.data() + static_cast<size_t>(3 * y * rgb.cols), rgb.ptr<std::uint8_t>(y), static_cast<size_t>(3 * rgb.cols));
    return image;
}

std::string sampleName(const Sample& sample)
{
    return sample.idxIndex >= 0 ? sample.path + "[" + std::to_string(sample.idxIndex) + "]" : sample.path;
}

std::vector<std::vector<std::int64_t>> confusionOf(const nlohmann::json& evaluation, size_t classes, const std::string& where)
{
    try {
        auto confusion = evaluation.at("confusion").get<std::vector<std::vector<std::int64_t>>>();
        if (confusion.size() != classes)
            throw Error(where + ": the confusion matrix has " + std::to_string(confusion.size()) + " rows for " + std::to_string(classes) + " classes");
        return confusion;
    } catch (const nlohmann::json::exception& e) {
        throw Error(where + ": no confusion matrix (" + e.what() + ")");
    }
}

// What findRunMistakes and runMistakeTestSets read of a run.
struct StoredRun
{
    std::string configPath, resultsPath;
    RunSettings settings;
    nlohmann::json results;
    bool adapts = false;  // the method adapts to a target: its export holds the target's prompts

    explicit StoredRun(const std::string& runDir)
    {
        const RunStore store = RunStore::open(runDir);
        configPath = store.folder() + "/config.json";
        resultsPath = store.folder() + "/results.json";
        settings = RunSettings::fromJson(store.readConfig().value("settings", nlohmann::json::object()), configPath);
        results = store.readResults();
        if (!results.is_object())
            throw Error(runDir + ": the run has no results.json (it has not been evaluated)");
        if (!settings.protocol.empty())
            throw Error(runDir + ": a " + settings.protocol + " run has no single test set; the mistakes are shown for few-shot runs");
        adapts = findStrategy(settings.method).capabilities.adaptsToTarget;
    }
    nlohmann::json details() const { return results.value("details", nlohmann::json::object()); }
    // details.targets: one evaluation per target, in the order the run opened them (older files: none).
    nlohmann::json targets() const
    {
        const nlohmann::json list = details().value("targets", nlohmann::json::array());
        return list.is_array() ? list : nlohmann::json::array();
    }
};

std::vector<std::string> testSetsOf(const StoredRun& run)
{
    std::vector<std::string> sets;
    if (!run.adapts)
        sets.push_back("");
    for (const nlohmann::json& target : run.targets())
        if (target.is_object() && target.contains("confusion"))
            sets.push_back(target.value("dataset", ""));
    return sets;
}

} // namespace

std::vector<std::string> runMistakeTestSets(const std::string& runDir)
{
    return testSetsOf(StoredRun(runDir));
}

bool RunMistakes::agreesWithRun() const
{
    std::vector<std::vector<std::int64_t>> listed(classNames.size(), std::vector<std::int64_t>(classNames.size(), 0));
    for (const Mistake& mistake : mistakes)
        ++listed.at(static_cast<size_t>(mistake.trueLabel)).at(static_cast<size_t>(mistake.predictedLabel));
    for (size_t t = 0; t < listed.size(); ++t)
        for (size_t p = 0; p < listed.size(); ++p)
            if (t != p && (t >= storedConfusion.size() || p >= storedConfusion[t].size() || listed[t][p] != storedConfusion[t][p]))
                return false;
    return true;
}

RunMistakes findRunMistakes(const std::string& runDir, TunedModel& tuned, const MistakeSearch& search)
{
    const auto checkCancelled = [&search] {
        if (search.cancelled && search.cancelled())
            throw Error("cancelled");
    };
    const auto report = [&search](const std::string& step, std::int64_t done, std::int64_t total) {
        if (search.progress)
            search.progress(step, done, total);
    };

    const StoredRun run(runDir);
    const RunSettings& settings = run.settings;
    const std::string& resultsPath = run.resultsPath;
    const StrategyInfo& info = findStrategy(tuned.strategy->name());

    // The evaluation whose mistakes are asked for: the run's own test set ("first"), or a target's.
    std::string wanted = search.testSetName;
    const nlohmann::json targets = run.targets();
    if (run.adapts && wanted.empty()) {
        if (targets.empty())
            throw Error(resultsPath + ": no target domain's confusion matrix (details.targets); the run was written by an older Tunebench");
        wanted = targets.front().value("dataset", "");
    }
    nlohmann::json evaluation;
    if (wanted.empty()) {
        evaluation = run.details().value("first", nlohmann::json());
        if (!evaluation.is_object())
            throw Error(resultsPath + ": no confusion matrix (details.first); the run was written by an older Tunebench");
    } else {
        std::string scored;
        for (const nlohmann::json& target : targets) {
            const std::string name = target.value("dataset", "");
            if (name == wanted)
                evaluation = target;
            scored += (scored.empty() ? "" : ", ") + name;
        }
        if (!evaluation.is_object())
            throw Error(runDir + ": the run scored no target named " + wanted + (scored.empty() ? std::string(" (it scored none)") : " (it scored " + scored + ")"));
    }

    RunMistakes found;
    found.runDir = runDir;
    found.method = info.name;
    found.testSetName = wanted;
    found.testSets = testSetsOf(run);
    const std::string where = resultsPath + (wanted.empty() ? ": details.first" : ": the target " + wanted);
    try {
        found.classNames = evaluation.at("classes").get<std::vector<std::string>>();
    } catch (const nlohmann::json::exception& e) {
        throw Error(where + " has no list of class names (" + e.what() + ")");
    }
    found.storedConfusion = confusionOf(evaluation, found.classNames.size(), where);
    if (tuned.setup.classNames != found.classNames)
        throw Error(runDir + ": the export's classes are not the classes of the run's confusion matrix");

    // The test set as the run's evaluation built it: few-shot split, then the base classes under base-to-new
    // (relabelled in sorted order), then the seeded test-image limit. A target is opened as the run opened it,
    // its classes paired with the source's, and limited alike.
    const auto dataset = cachedDataset(settings.dataset);
    const bool baseNew = run.results.value("base_new", false);
    auto testSet = std::make_shared<RunTestSet>();
    if (wanted.empty()) {
        const DatasetIndex fewShot = applyFewShot(*dataset, {settings.shots, static_cast<std::uint64_t>(settings.seed)});
        testSet->set = std::make_shared<const DatasetIndex>(baseNew ? subsampleClasses(fewShot, ClassSubset::Base) : fewShot);
    } else {
        for (DatasetIndex& target : openTargetDatasets(settings, *dataset))
            if (target.name == wanted)
                testSet->set = std::make_shared<const DatasetIndex>(baseNew ? subsampleClasses(target, ClassSubset::Base) : std::move(target));
        if (!testSet->set)
            throw Error(runDir + ": the target " + wanted + " is not among the datasets its config.json names");
    }
    if (testSet->set->classNames != found.classNames)
        throw Error(runDir + ": the test set rebuilt from " + (wanted.empty() ? settings.dataset : wanted) +
                    " does not have the classes of the run's confusion matrix");
    testSet->samples = limitSamples(testSet->set->test, settings.maxTestImages, static_cast<std::uint64_t>(settings.seed));
    found.dataset = testSet->set->name;
    found.testSet = testSet;
    checkCancelled();

    // The image-tower cache under the run's own key (CachedFeatureSource::viewKey): the run stored its test
    // images' features there when it evaluated them, so they are read back rather than encoded.
    Strategy& strategy = *tuned.strategy;
    const Backbone& backbone = tuned.backbone;
    const int resolution = backbone.checkpoint.spec.vision.imageSize;
    ImagePipeline pipeline;
    pipeline.eval.resolution = resolution;
    LoaderOptions options;
    options.batchSize = kScoringBatch;
    options.threads = search.loaderThreads;
    auto* clip = dynamic_cast<ClipStrategy*>(&strategy);
    found.cacheApplies = clip && info.capabilities.frozenImageTower && !backbone.checkpoint.spec.sha256.empty();
    std::unique_ptr<BatchSource> source;
    std::unique_ptr<CachedFeatureSource> cached;
    std::unique_ptr<ImageBatchSource> images;
    if (found.cacheApplies) {
        found.cacheFolder = runFeatureCacheFolder(settings);
        const CachedFeatureSource::Identity identity{backbone.checkpoint.spec.sha256, describeDevice(backbone.device), testSet->set->name, "test"};
        cached = std::make_unique<CachedFeatureSource>(
            testSet->set, testSet->samples, pipeline, options, [clip](const at::Tensor& batch) { return clip->imageFeatures(batch); },
            std::make_shared<FeatureCache>(found.cacheFolder), identity, search.cancelled);
        report("encoding", 0, 0);
        cached->startEpoch(0);  // reads the view, or encodes every image (polling `cancelled`)
        checkCancelled();
        found.featuresFromCache = cached->viewsReused() > 0;
    } else {
        images = std::make_unique<ImageBatchSource>(testSet->set, testSet->samples, pipeline, options);
        images->startEpoch(0);
    }
    BatchSource& batches = cached ? static_cast<BatchSource&>(*cached) : *images;

    const auto total = static_cast<std::int64_t>(testSet->samples.size());
    const size_t classes = found.classNames.size();
    found.confusion.assign(classes, std::vector<std::int64_t>(classes, 0));
    report("scoring", 0, total);
    {
        torch::NoGradGuard noGrad;
        std::int64_t done = 0;
        while (auto batch = batches.next()) {
            checkCancelled();
            // predict's probabilities; their argmax is the evaluation's (the softmax keeps the logits' order).
            const at::Tensor probabilities = classProbabilities(strategy, batch->inputs.to(backbone.device));
            const at::Tensor predicted = probabilities.argmax(-1).to(torch::kLong).contiguous();
            const at::Tensor labels = batch->labels.to(torch::kCPU, torch::kLong).contiguous();
            for (size_t row = 0; row < batch->indices.size(); ++row) {
                const auto r = static_cast<int64_t>(row);
                const int64_t truth = labels[r].item<int64_t>(), guess = predicted[r].item<int64_t>();
                if (truth < 0 || truth >= static_cast<int64_t>(classes))
                    continue;
                ++found.confusion[static_cast<size_t>(truth)][static_cast<size_t>(guess)];
                ++found.scoredImages;
                if (truth == guess)
                    continue;
                Mistake mistake;
                mistake.testIndex = batch->indices[row];
                mistake.source = sampleName(testSet->samples[static_cast<size_t>(mistake.testIndex)]);
                mistake.trueLabel = static_cast<int>(truth);
                mistake.predictedLabel = static_cast<int>(guess);
                mistake.confidence = probabilities[r][guess].item<double>();
                found.mistakes.push_back(std::move(mistake));
            }
            done += static_cast<std::int64_t>(batch->indices.size());
            report("scoring", done, total);
        }
    }
    found.problems = cached ? cached->problems() : images->problems();
    std::sort(found.mistakes.begin(), found.mistakes.end(), [](const Mistake& a, const Mistake& b) { return a.testIndex < b.testIndex; });

    // Thumbnails of the mistakes alone: the image as the evaluation transform crops it, made small.
    const EvalTransform transform{resolution};
    for (size_t i = 0; i < found.mistakes.size(); ++i) {
        checkCancelled();
        Mistake& mistake = found.mistakes[i];
        const cv::Mat rgb = readSampleImage(testSet->set.get(), testSet->samples[static_cast<size_t>(mistake.testIndex)]);
        cv::Mat crop = centerCrop(resizeShorterSide(rgb, transform.resizeSize(), transform.filter), transform.resolution);
        if (crop.cols > kMistakeThumbnailSize)
            cv::resize(crop, crop, cv::Size(kMistakeThumbnailSize, kMistakeThumbnailSize), 0, 0, cv::INTER_AREA);
        mistake.thumbnail = toRgbImage(crop);
        report("thumbnails", static_cast<std::int64_t>(i + 1), static_cast<std::int64_t>(found.mistakes.size()));
    }
    return found;
}

RgbImage mistakeImage(const RunMistakes& mistakes, const Mistake& mistake)
{
    if (!mistakes.testSet || mistake.testIndex < 0 || mistake.testIndex >= static_cast<std::int64_t>(mistakes.testSet->samples.size()))
        throw Error(mistake.source + ": not one of the run's test images");
    return toRgbImage(readSampleImage(mistakes.testSet->set.get(), mistakes.testSet->samples[static_cast<size_t>(mistake.testIndex)]));
}

} // namespace tunebench
