#pragma once
// Continual learning: a strategy trained on a stream of tasks, evaluated after each on every task seen so
// far (the L2P paper's protocol). The CLI's `continual` and the workbench run the same code.

#include "core/data/DatasetIndex.h"
#include "core/experiment/Protocol.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace tunebench {

struct Backbone;
class RunControl;
class RunStore;
struct StepReport;

// One task of a stream. Labels stay the dataset's: the head has one row per class of the whole dataset.
struct ContinualTask
{
    std::string name;                    // "T-shirt/top, Trouser" or the domain dataset's name
    std::vector<std::int64_t> classes;   // the labels this task trains
    DatasetIndex data;                   // this task's train and test samples (val is not used)
};

// Row t: accuracies (fractions) on tasks 0..t after training task t.
using AccuracyMatrix = std::vector<std::vector<double>>;

// Class-incremental: the classes in a seeded order, split into `tasks` equal groups. One-line Error when
// tasks < 2 or when it does not divide the classes (saying how they would split and which counts do).
std::vector<ContinualTask> classIncrementalTasks(const DatasetIndex& dataset, int tasks, std::uint64_t seed);
// Domain-incremental: one task per dataset, every class in each; at least two, all with the same classes.
std::vector<ContinualTask> domainIncrementalTasks(const std::vector<DatasetIndex>& domains);

// "  55.00  40.00": a row of the accuracy matrix in percent, as the logs print it.
std::string formatAccuracyRow(const std::vector<double>& row);

// A_T = (1/T) sum_i a_{T,i}: the mean of the last row.
double averageAccuracy(const AccuracyMatrix& matrix);
// F_T = 1/(T-1) sum_{i<T} max_{t in [i, T]} (a_{t,i} - a_{T,i}), over the tasks before the last (the max
// includes the last row, as the reference's code does); nullopt with fewer than two rows.
std::optional<double> forgetting(const AccuracyMatrix& matrix);

struct ContinualSettings
{
    std::string method = "l2p";   // a strategy with the `continual` capability
    bool joint = false;           // the protocol's upper bound: one stage on every task's images at once (no forgetting)
    nlohmann::json options = nlohmann::json::object();
    int seed = 1;                 // prompt initialisation, data order and augmentation
    int epochsPerTask = 5;
    int batchSize = 0;            // 0: the strategy's (16); the learning rate scales with it (batch / 16)
    int trainPerClass = 0;        // 0: every training image of a task
    int testPerClass = 0;         // 0: every test image
    int loaderThreads = 0;
    std::string runFolder;        // empty: nothing stored; else one checkpoint per task, resumed from
};

// What a stream's rows are called: the method, or "joint" for its joint training (the reports' row label).
std::string continualLabel(const ContinualSettings& settings);
// "use l2p, seq-ft, or the protocol's joint training": the registry's continual methods, for errors.
std::string continualMethodList();

struct ContinualCallbacks
{
    std::function<void(const std::string&)> onLog;
    std::function<void(int stage, const StepReport&)> onStep;
    std::function<void(int stage, const std::vector<double>& row)> onTaskDone;
};

struct ContinualResult
{
    std::string method;               // continualLabel of the settings
    int seed = 1;
    std::string status = "finished";  // or "stopped"
    AccuracyMatrix matrix;
    // After the last task: for each task's test images, how often each pool prompt was chosen (empty
    // without a pool).
    std::vector<std::vector<std::int64_t>> selection;
    std::vector<std::vector<double>> losses;  // per training stage, the loss of every step
    std::int64_t trainableParameters = 0;
    int resumedTasks = 0;  // stages read back from the run folder instead of trained
    double seconds = 0;
    // results.json of a continual cell holds this, with "protocol", "dataset" (the stream), "accuracy" (A_T) and
    // "run" added.
    nlohmann::json toJson() const;
    // Error naming `where` when a field is missing or of the wrong type.
    static ContinualResult fromJson(const nlohmann::json& json, const std::string& where);
};

// What the seeds of one method add up to: the element-wise mean matrix, mean A_T, mean F_T (nullopt when a
// run has no forgetting: joint training), and the prompt-selection counts summed over the seeds.
struct ContinualSummary
{
    AccuracyMatrix matrix;
    double averageAccuracy = 0;
    std::optional<double> forgetting;
    std::vector<std::vector<std::int64_t>> selection;  // per task, per pool prompt; rows empty without a pool
    int seeds = 0;
    bool hasSelection() const { return !selection.empty() && !selection.front().empty(); }
};
ContinualSummary summariseContinualSeeds(const std::vector<ContinualResult>& runs);

// Names for folders and files: the stream ("fashion-mnist-class5", "domain3") and one run of it under a runs
// root ("continual-fashion-mnist-class5-l2p-seed1"); the CLI and the workbench use the same, so either
// resumes the other's runs.
std::string continualStreamName(const std::vector<ContinualTask>& tasks, bool classIncremental, const std::string& datasetName);
std::string continualRunFolderName(const std::string& stream, const std::string& method, int seed);

// Trains `settings.method` on the tasks in turn and fills the accuracy matrix. With a run folder, each
// finished stage leaves task-N/ (trainable.safetensors and result.json); a second call with the same
// settings continues after the last finished stage and gives the same result as an uninterrupted run.
ContinualResult runContinual(const Backbone& backbone, const std::vector<ContinualTask>& tasks, const ContinualSettings& settings,
                             const ContinualCallbacks& callbacks = {}, RunControl* control = nullptr);

// The continual protocol (Protocol.h): a cell is one method and seed on one stream, read from
// RunSettings::protocolOptions: {"stream": "class", "tasks": T} splits settings.dataset, {"stream": "domain",
// "datasets": [D1, D2, ...]} takes one task per dataset; "joint" (false), "test_per_class" (0: all) and
// "order_seed" (the class order's seed, 1; a study gives its first seed so that every seed sees the same
// stream). settings.shots is the training images per class of each task (0: all), settings.epochs the
// epochs per task (0: 5). Its run folder holds config.json, results.json and continual.json (the stream's
// identity), task-N/ per finished task, and resumes after the last finished task.
StudyProtocol continualProtocol();
// The stream a continual cell trains on, and its name (continualStreamName).
std::vector<ContinualTask> continualStream(const RunSettings& settings, std::string* streamName,
                                           const std::function<void(const std::string&)>& progress = {});
ContinualSettings continualSettingsOf(const RunSettings& settings);
// One cell of a continual study: `stream` (the settings its cells share: model, schedule and the protocol
// options that name the stream) for one method, or that method's joint training, and one seed; of
// `options`, those the method has.
RunSettings continualCell(const RunSettings& stream, const std::string& method, bool joint, int seed,
                          const nlohmann::json& options = nlohmann::json::object());
// One cell of the continual protocol on `tasks` (continualStream's, or the caller's own copy of them) into
// `store`: config.json, the stream's stages, results.json (status "failed" with the message when an
// exception escapes, which is rethrown). The protocol's run and the workbench's tab both call it.
ContinualResult runContinualCell(const RunSettings& settings, const Backbone& backbone, const std::vector<ContinualTask>& tasks,
                                 const std::string& stream, RunStore& store, const ContinualCallbacks& callbacks = {},
                                 RunControl* control = nullptr);

} // namespace tunebench
