#pragma once

#include "core/data/DatasetIndex.h"
#include "core/data/ImageBatchSource.h"
#include "core/experiment/RunSettings.h"
#include "core/io/CheckpointLoader.h"
#include "core/train/Evaluator.h"
#include "core/train/Trainer.h"
#include "core/tuning/Strategy.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace tunebench {

class ClipTokenizer;
class RunControl;
class RunStore;

// A checkpoint kept in memory, so that every experiment gets a fresh model (strategies that tune the
// backbone itself must not leak into the next one), plus its vocabulary and the device to run on.
struct Backbone
{
    std::string path;
    Checkpoint checkpoint;
    std::shared_ptr<const ClipTokenizer> tokenizer;  // null for vision-only models
    c10::Device device = c10::kCPU;
    ClipModel build() const;
};
// Reads the checkpoint and, for CLIP models, locates and checks the vocabulary. `device`: see chooseDevice.
Backbone loadBackbone(const std::string& modelPath, const std::string& vocabulary, const std::string& device);
// The checkpoint alone, no vocabulary: what a method that never uses the text tower runs on (the classic ViT
// methods and L2P, also on a CLIP model's image tower).
Backbone loadImageBackbone(const std::string& modelPath, const std::string& device);

// The method a run uses: settings.method, or the method written in the imported prompt's manifest.
std::string experimentMethod(const RunSettings& settings);
// The recipe a run of `settings` on `dataset` uses: the dataset's defaults under the run's own values.
DatasetRecipe effectiveRecipe(const RunSettings& settings, const DatasetIndex& dataset);
nlohmann::json recipeJson(const DatasetRecipe& recipe);
// What config.json holds for a run of `settings` (the CLI and the workbench write the same).
nlohmann::json runConfig(const RunSettings& settings, const DatasetIndex& dataset, const Backbone& backbone);

// A loader over `samples` of `dataset`: the evaluation transform, or `train`'s augmentation; seeded order
// and augmentation when `shuffle`.
std::unique_ptr<ImageBatchSource> makeSource(const std::shared_ptr<const DatasetIndex>& dataset, const std::vector<Sample>& samples,
                                             int resolution, std::optional<TrainTransform> train, int batchSize, bool shuffle,
                                             std::uint64_t seed, int threads);
// The training augmentation: random resized crop (area from scaleMin) and flip.
TrainTransform trainTransform(int resolution, double scaleMin);

// `target` with its classes paired to `source`'s (matchClasses: by name, normalised name or `classMap`);
// each pair not made by the same name is logged.
DatasetIndex matchTargetClasses(const DatasetIndex& source, const DatasetIndex& target, const std::map<std::string, std::string>& classMap,
                                const std::function<void(const std::string&)>& log);
// Opens settings.adaptTarget (an adaptation domain, openAdaptationDomain), then settings.evalDatasets, each
// with its classes paired to `source`'s (matchTargetClasses, settings.classMap); Error when one cannot be
// opened or its classes cannot be paired.
std::vector<DatasetIndex> openTargetDatasets(const RunSettings& settings, const DatasetIndex& source,
                                             const std::function<void(const std::string&)>& progress = {});

// Whether base-to-new applies (a CLIP model with text and a strategy that uses text).
bool baseNewApplies(const Backbone& backbone, const StrategyInfo& info);
// A fixed seeded subset of `samples` in their original order; all of them when limit <= 0.
std::vector<Sample> limitSamples(const std::vector<Sample>& samples, int limit, std::uint64_t seed);
// Images the loaders could not read ("PATH: why"), each named once, in the order first seen.
class SkippedImages
{
public:
    void add(const std::vector<std::string>& problems);
    const std::vector<std::string>& lines() const { return m_lines; }

private:
    std::vector<std::string> m_lines;
    std::set<std::string> m_seen;
};

// Evaluates a strategy's logits on samples of `dataset` with the evaluation transform; images that cannot
// be read are left out of the counts and added to `skipped`. An abort requested on `control` ends it
// (Error "evaluation stopped by request"). Batches that run out of memory are scored in halves, each halving
// a line to `log`, as a run's evaluation does (OutOfMemory when one image does not fit).
Evaluation evaluateOn(Strategy& strategy, const DatasetIndex& dataset, const std::vector<Sample>& samples, int resolution,
                      int loaderThreads, SkippedImages* skipped = nullptr, const RunControl* control = nullptr,
                      const std::function<void(const std::string&)>& log = {});
// {"accuracy", "per_class", "n"} of an evaluation.
nlohmann::json accuracyJson(const Evaluation& evaluation, const std::vector<std::string>& classNames);

enum class ExperimentStage { Preparing, Training, Tuning, Evaluating, ScoringHandcrafted };

// What is known once the strategy is attached, before preparation and training.
struct ExperimentStart
{
    std::string method;
    std::int64_t trainableParameters = 0;
    int trainImages = 0;
    bool baseNew = false;
};

// Reports of a running experiment; all are called on the experiment's thread, any may be empty.
struct ExperimentCallbacks
{
    std::function<void(ExperimentStage)> onStage;
    std::function<void(const ExperimentStart&)> onStart;
    std::function<void(const StepReport&)> onStep;    // every step
    std::function<void(const EpochReport&)> onEpoch;
    std::function<void(const std::string&)> onLog;   // progress lines (every settings.logEvery steps) and notes
};

// One evaluation with the class names of its label order.
struct ClassEvaluation
{
    std::vector<std::string> classNames;
    Evaluation evaluation;
};

struct ExperimentResult
{
    // The results as the CLI prints them (and results.json holds, with "details" added).
    nlohmann::json json;
    std::string method;
    std::string status = "finished";  // finished | stopped | diverged
    std::string message;
    bool baseNew = false;
    std::int64_t trainableParameters = 0;
    double seconds = 0;
    // The test images of the training classes: the base classes when baseNew, else all classes.
    std::optional<ClassEvaluation> trainingClasses;
    std::optional<ClassEvaluation> novel;   // new classes (baseNew only, unless the method refuses them)
    std::string novelMessage;
    std::optional<double> harmonic;
    std::optional<ClassEvaluation> handcraftedTrainingClasses, handcraftedNovel;  // the dataset's hand-crafted prompt (compareHandcrafted)
    // The hand-crafted prompt on each target's test images (compareHandcrafted), in `targets`' order: the
    // zero-shot baseline of domain generalisation and adaptation.
    std::vector<std::pair<std::string, ClassEvaluation>> handcraftedTargets;
    // Domain generalisation and adaptation: each target dataset's test images of the training classes
    // (base classes under base-to-new), in the order of openTargetDatasets (the adaptation target first).
    std::vector<std::pair<std::string, ClassEvaluation>> targets;
    // Images skipped by the loaders (training, validation or evaluation), as results.json's "problems".
    std::vector<std::string> problems;
    std::string exportPath;                 // the prompt export's .json, when written
    nlohmann::json nearestWords = nlohmann::json::array();  // the export manifest's "nearest_words"
    // What results.json holds besides `json`: per-class accuracy in label order, confusion matrices, the
    // hand-crafted comparison and nearest words, so that a reopened run shows everything.
    nlohmann::json details() const;
};

// One experiment: few-shot sampling, (base) training, validation tuning, evaluation (base and new), the
// hand-crafted comparison, export into the run folder, results.json. With `store`, metrics go to its
// metrics.jsonl; results.json is written there (also with status "failed" when an exception escapes,
// which is rethrown; "out_of_memory" when a step ran out of memory, rethrown as OutOfMemory with the
// command that goes on from the last checkpoint with less memory). `resume` continues from the store's
// checkpoint. `targets`: what openTargetDatasets opens (settings.adaptTarget, then settings.evalDatasets),
// so that a series of experiments opens them once; opened here when empty. A method that adapts (DAPL) also
// trains on the adaptation target's training images, without their labels.
ExperimentResult runExperiment(const RunSettings& settings, const Backbone& backbone, const DatasetIndex& dataset, RunStore* store,
                               bool resume, const ExperimentCallbacks& callbacks = {}, RunControl* control = nullptr,
                               const std::vector<DatasetIndex>& targets = {});

// The parameters settings.method (with settings.options) trains when attached to `backbone` for these
// classes; Error when the method does not apply to the model or an option is invalid.
std::int64_t countTrainableParameters(const Backbone& backbone, const RunSettings& settings, const std::vector<std::string>& classNames);

} // namespace tunebench
