#pragma once
// Unsupervised domain adaptation: labelled source training images, unlabelled target training images,
// labelled target test images. Methods that adapt (DAPL) train on both; the source-only baselines (any
// other method, zero-shot and CoOp above all) train on the source alone. Every method is scored on the
// target's test images and on the source's. The CLI's `adapt` and the workbench run the same code.

#include "core/data/DatasetIndex.h"
#include "core/experiment/Protocol.h"
#include "core/experiment/RunSettings.h"

#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <vector>

namespace tunebench {

struct Backbone;
struct ExperimentCallbacks;
struct ExperimentResult;
class RunControl;
class RunStore;
struct StepReport;

struct AdaptationSettings
{
    RunSettings base;               // model, shots, epochs, options, ...; base.dataset is the source
    std::string target;             // the target domain (a dataset path or name)
    std::vector<std::string> methods = {"zeroshot", "coop", "dapl"};
    std::vector<int> seeds = {1};
    std::string runsRoot;           // one run folder per method and seed under it (required)
};

// One method and seed.
struct AdaptationRun
{
    std::string method;
    int seed = 1;
    std::string status;             // finished | stopped | diverged
    double targetAccuracy = 0, sourceAccuracy = 0;
    std::vector<double> targetPerClass;  // label order; -1 for a class without test images
    std::string runFolder;
};

// One method over its seeds: means of the runs' own figures.
struct AdaptationSummary
{
    std::string method;
    double targetAccuracy = 0, sourceAccuracy = 0;
    std::vector<double> targetPerClass;
    std::vector<AdaptationRun> runs;
};
// The means of the runs' own figures (SeedStatistics); the workbench calls it as the runs finish.
AdaptationSummary summariseAdaptationSeeds(const std::string& method, const std::vector<AdaptationRun>& runs);

struct AdaptationReport
{
    std::string source, target;               // dataset names
    std::string sourceDomain, targetDomain;   // the words in DAPL's prompts
    std::vector<std::string> classNames;
    std::vector<AdaptationSummary> methods;   // in AdaptationSettings::methods' order
    // A stop was requested: the series ended early, or its last run finished while the stop came (during
    // its evaluation). Either way it did not finish as asked.
    bool stopped = false;
    // {"source", "target", "source_domain", "target_domain", "classes", "methods": {NAME: {"target_accuracy",
    // "source_accuracy", "per_class": {class: accuracy}, "per_seed": [...]}}}, fractions throughout.
    nlohmann::json toJson() const;
};

struct AdaptationCallbacks
{
    std::function<void(const std::string& method, int seed)> onRunStart;
    std::function<void(const std::string& method, int seed, const StepReport&)> onStep;
    std::function<void(const std::string& line)> onLog;
    std::function<void(const AdaptationRun&)> onRunDone;
};

// The adaptation protocol (Protocol.h): a cell is one method and seed from settings.dataset (the labelled
// source) to protocol option "target"; the method that adapts (DAPL) sees the target's training images
// without labels, every other trains on the source alone; each is scored on the target's test images
// ("target_accuracy") and the source's ("source_accuracy"). Domains open as openAdaptationDomain does.
StudyProtocol adaptationProtocol();
// One cell with both domains open: config.json (the cell's settings) when `store`, and the run.
ExperimentResult runAdaptationCell(const RunSettings& cell, const Backbone& backbone, const DatasetIndex& source, const DatasetIndex& target,
                                   RunStore* store, bool resume, const ExperimentCallbacks& callbacks, RunControl* control);

// The methods over the seeds: a study of adaptation cells, one run folder each under settings.runsRoot
// (named as RunStore::create names them, with the seed), run by the in-process executor (runCellsHere)
// on `backbone`; each cell opens its domains from its settings, so `source` and `target` must be what
// settings.base.dataset and settings.target name. A method whose seed does not matter (seedMatters) runs
// once, with the first seed. Errors: an unknown method, a source and target whose classes differ (one
// line naming the differences), no runs folder. A stop ends the series after the current run (the
// report holds what finished).
AdaptationReport runAdaptation(const Backbone& backbone, const DatasetIndex& source, const DatasetIndex& target,
                               const AdaptationSettings& settings, const AdaptationCallbacks& callbacks = {},
                               RunControl* control = nullptr);

} // namespace tunebench
