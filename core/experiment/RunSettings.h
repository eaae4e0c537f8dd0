#pragma once
// The settings of one run, and their JSON (config.json's "settings"). No tensors and no images here, so that
// every front end (CLI, workbench, stored settings) and the config fuzzer share them cheaply.

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace tunebench {

// Everything that defines one training run; config.json holds it, so a run can be repeated. The CLI
// fills it from flags, the workbench from its panels.
struct RunSettings
{
    std::string model, dataset, method;
    int shots = 16;
    int seed = 1;
    bool baseNew = false;
    std::string device = "auto";
    int threads = 0;
    std::string precision = "fp32";
    int epochs = 0;          // 0 = the recipe's
    double lr = 0;           // 0 = the recipe's
    int batchSize = 0;       // 0 = the recipe's
    std::int64_t maxSteps = 0;
    int accumulate = 1;      // micro-batches (of batchSize) per optimiser step: gradient accumulation
    std::string checkpointing = "none";  // gradient checkpointing: none | image | text | both (towers)
    int loaderThreads = 0;
    int logEvery = 0;        // 0 = about 50 lines per run
    double cropScaleMin = 0;     // random resized crop's smallest area fraction; 0 = the dataset's recipe (DatasetRecipe)
    int tasks = 24;              // tasks counted by the storage multiplier (the VPT paper's table: 24 VTAB tasks)
    std::string vocab;
    nlohmann::json options = nlohmann::json::object();  // strategy options (--opt name=value)
    int maxTestImages = 0;           // > 0: evaluate on a fixed seeded subset of each test split (quick looks)
    bool compareHandcrafted = false; // prompt learning: also score the dataset's hand-crafted prompt on the same images
    std::string importPrompt;        // a prompt export's .json: evaluate it on every class of the dataset, no training
    std::vector<std::string> evalDatasets;  // domain generalisation: also evaluate on these datasets (same classes)
    // Domain adaptation (methods that adapt, DAPL): the target domain, whose training images are used
    // without labels; it is also evaluated, like an eval dataset.
    std::string adaptTarget;
    // The image-tower cache's folder (FeatureCache): methods with a frozen image tower read each view's
    // features from there, or compute and store them. Empty: no cache.
    std::string featureCache;
    // The kind of study the run is a cell of (Protocol.h): "" is few-shot (everything above); "continual"
    // reads its stream from protocolOptions ({"stream": "class", "tasks": T} or {"stream": "domain",
    // "datasets": [...]}, "joint", "test_per_class", "order_seed").
    std::string protocol;
    nlohmann::json protocolOptions = nlohmann::json::object();
    // Pairs an adaptation target's or eval dataset's classes with the source's where their names differ
    // even when normalised (matchClasses): target class name -> source class name (--class-map FILE).
    std::map<std::string, std::string> classMap;
    // Images with more pixels are skipped (and reported) from their header; 0 = the default (kDefaultMaxImagePixels).
    std::int64_t maxImagePixels = 0;

    nlohmann::json toJson() const;
    // `where` names the file in errors: a field of the wrong type or out of range is an Error naming both.
    static RunSettings fromJson(const nlohmann::json& json, const std::string& where = "run config");

    // Error unless every number is in its range (finite, no negative counts); `describe` turns a field's
    // config name ("batch_size") into how the user gave it ("CONFIG: \"batch_size\"" or "--batch-size").
    void checkRanges(const std::function<std::string(const std::string& field)>& describe) const;
};

// The settings that define a run's results, as JSON: all but where and how fast it runs (device, threads,
// loader threads, log interval). A finished run is the run asked for when these agree.
nlohmann::json definingSettings(const RunSettings& settings);

struct StrategyInfo;
// Whether two seeds of a method can give different results: one that ignores the training images
// (zero-shot) gives one result, unless the seed samples the scored test images (max_test_images). A study
// runs such a method once.
bool seedMatters(const StrategyInfo& info, const RunSettings& settings);

// Why the window's Continue run does not take the run in `folder`, whose config.json holds `settings` and whose
// results.json says `status`; "" when it does. Only a stopped training run of the Start button goes on there:
// a protocol, a domain adaptation or an imported prompt goes on with tunebench-cli train --resume (as does a
// run that ran out of memory, which needs other options to fit).
std::string whyNotContinuedInWindow(const RunSettings& settings, const std::string& status, const std::string& folder);

} // namespace tunebench
