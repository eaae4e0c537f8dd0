#pragma once
// The Mistakes view's engine: a run's test images as the run evaluated them (its dataset, few-shot split,
// base classes and test-image limit, from config.json and results.json), scored again with the run's tuned
// model, keeping the misclassified ones. The counts per (true, predicted) pair are the run's own confusion
// matrix. No LibTorch here, so the window's sources stay quick to build.

#include "core/experiment/TunedClassifier.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace tunebench {

struct TunedModel;
struct RunTestSet;

// One misclassified test image.
struct Mistake
{
    std::int64_t testIndex = 0;  // its place among the run's test images
    std::string source;          // the image file, or "IDXFILE[index]" for an image of an IDX file
    int trueLabel = 0;
    int predictedLabel = 0;
    double confidence = 0;       // the predicted class's probability (as predict computes it)
    RgbImage thumbnail;          // as the model saw it (resized, centre-cropped), at most kMistakeThumbnailSize square
};

// Small enough that a large test set's thousands of mistakes stay in memory (12 KiB each).
constexpr int kMistakeThumbnailSize = 64;

struct RunMistakes
{
    std::string runDir;
    std::string method;
    std::string dataset;                            // the test images' dataset (the run's, or a target's)
    std::string testSetName;                        // which of testSets (MistakeSearch::testSetName, resolved)
    std::vector<std::string> testSets;              // runMistakeTestSets: every test set that could be shown
    std::vector<std::string> classNames;            // the labels' order, as results.json's confusion matrix has it
    std::int64_t scoredImages = 0;                  // test images scored (unreadable ones are left out, as the run left them)
    std::vector<Mistake> mistakes;                  // in test-image order
    std::vector<std::vector<std::int64_t>> confusion;        // [true][predicted] of this scoring
    std::vector<std::vector<std::int64_t>> storedConfusion;  // results.json's
    // The image-tower cache: whether it applies (a frozen image tower), its folder, and whether the features
    // were read from it rather than computed here.
    bool cacheApplies = false;
    bool featuresFromCache = false;
    std::string cacheFolder;
    std::vector<std::string> problems;              // images that could not be read ("PATH: why")
    std::shared_ptr<const RunTestSet> testSet;      // what mistakeImage reads the images from

    // Whether every cell (t, p), t != p, holds as many mistakes as results.json's confusion[t][p].
    bool agreesWithRun() const;
};

struct MistakeSearch
{
    // step: "encoding" (the image tower over the test images; total unknown, 0), "scoring" or "thumbnails".
    std::function<void(const std::string& step, std::int64_t done, std::int64_t total)> progress;
    // Polled between batches: when it returns true the search ends with Error "cancelled".
    std::function<bool()> cancelled;
    int loaderThreads = 0;
    // Which test images: "" for the run's own, or a target the run scored (runMistakeTestSets). A method that
    // adapts to a target (DAPL) holds only the target's prompts in its export: "" then means its target.
    std::string testSetName;
};

// The test sets whose mistakes can be found for a run, in results.json's order: "" (the run's own test images)
// unless the method adapts to a target, then each target domain or evaluation dataset it scored, by name.
// Error (one line) when the run has no config.json or results.json.
std::vector<std::string> runMistakeTestSets(const std::string& runDir);

// Scores the run's test images with `tuned` (the run's own model: openTunedRun, or TunedClassifier::withModel).
// Where the method's image tower is frozen, its features come from (or go to) the image-tower cache the run
// used (config.json's feature_cache, else FeatureCache::defaultFolder()), under the key the run's evaluation
// used, so a run's mistakes are found without encoding its images again. A target's test images are
// rebuilt as the run opened them (openTargetDatasets) and scored as its evaluation scored them. Errors (one
// line, naming the run): no config.json or results.json, no confusion matrix, a continual run, a test set
// the run did not score (or, for DAPL, its source, scored with prompts the export does not hold), classes
// that differ from the export's.
RunMistakes findRunMistakes(const std::string& runDir, TunedModel& tuned, const MistakeSearch& search = {});

// The full image of a mistake, as stored (before the evaluation transform): what the view shows larger and
// TunedClassifier::classify scores. Error naming the image when it cannot be read.
RgbImage mistakeImage(const RunMistakes& mistakes, const Mistake& mistake);

} // namespace tunebench
