#pragma once

#include "core/data/DatasetIndex.h"
#include "core/io/CheckpointLoader.h"
#include "core/train/Evaluator.h"
#include "core/tuning/Strategy.h"

#include <nlohmann/json.hpp>

#include <memory>
#include <optional>
#include <string>

namespace tunebench {
class ClipTokenizer;
class RunStore;
}

namespace tunebench::cli {

class CliArgs;

// A checkpoint kept in memory, so that every experiment gets a fresh model (strategies that tune the
// backbone itself must not leak into the next one), plus its vocabulary.
struct Backbone
{
    std::string path;
    Checkpoint checkpoint;
    std::shared_ptr<const ClipTokenizer> tokenizer;  // null for vision-only models
    c10::Device device = c10::kCPU;
    ClipModel build() const;
};
Backbone loadBackbone(const std::string& modelPath, const std::string& vocabulary, const std::string& device);

// Everything that defines one training run; config.json holds it, so a run can be repeated.
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
    int loaderThreads = 0;
    int logEvery = 0;        // 0 = about 50 lines per run
    double cropScaleMin = 0.08;  // random resized crop's smallest area fraction (recipe: 0.08; small images may want more)
    int tasks = 24;              // tasks counted by the storage multiplier (the VPT paper's table: 24 VTAB tasks)
    std::string vocab;
    nlohmann::json options = nlohmann::json::object();  // strategy options (--opt name=value)

    nlohmann::json toJson() const;
    static RunSettings fromJson(const nlohmann::json& json);
    // Flags over `base` (train and compare share them).
    static RunSettings fromArgs(const CliArgs& args, RunSettings base);
    static RunSettings fromArgs(const CliArgs& args);
};

// --opt name=value: the value as JSON when it parses (numbers, true/false), else as a string.
nlohmann::json parseOptions(const std::vector<std::string>& pairs);
// Opens a dataset by path or name, logging progress on stderr.
DatasetIndex openDatasetLogged(const std::string& pathOrName);
// Whether base-to-new applies (a CLIP model with text and a strategy that uses text).
bool baseNewApplies(const Backbone& backbone, const StrategyInfo& info);

// Evaluates a strategy's logits on samples of `dataset` with the evaluation transform.
Evaluation evaluateOn(Strategy& strategy, const DatasetIndex& dataset, const std::vector<Sample>& samples, int resolution,
                      int loaderThreads);
// {"accuracy", "per_class", "n"} of an evaluation.
nlohmann::json accuracyJson(const Evaluation& evaluation, const std::vector<std::string>& classNames);

// Few-shot sampling, (base) training, validation tuning, evaluation (base and new), export into the
// run folder when `store` is given. `label` prefixes the progress lines on stderr. Returns the results.
nlohmann::json runExperiment(const RunSettings& settings, const Backbone& backbone, const DatasetIndex& dataset, RunStore* store,
                             bool resume, const std::string& label);

} // namespace tunebench::cli
