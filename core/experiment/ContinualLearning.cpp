#include "core/experiment/ContinualLearning.h"

#include "core/Device.h"
#include "core/Error.h"
#include "core/data/DatasetLayouts.h"
#include "core/data/FewShot.h"
#include "core/data/PyRandom.h"
#include "core/experiment/Experiment.h"
#include "core/experiment/RunOutcome.h"
#include "core/experiment/SeedStatistics.h"
#include "core/export/PromptExport.h"
#include "core/io/AtomicFile.h"
#include "core/io/StateDict.h"
#include "core/train/GeneratorLock.h"
#include "core/train/RunControl.h"
#include "core/train/RunStore.h"
#include "core/tuning/continual/ContinualLearner.h"

#include <torch/torch.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <set>

namespace fs = std::filesystem;

namespace tunebench {

namespace {

// `dataset` restricted to the samples whose label is in `labels` (labels unchanged; val dropped).
DatasetIndex withLabels(const DatasetIndex& dataset, const std::set<std::int64_t>& labels)
{
    DatasetIndex out = dataset;
    auto keep = [&](const std::vector<Sample>& samples) {
        std::vector<Sample> kept;
        for (const Sample& sample : samples)
            if (labels.count(sample.label))
                kept.push_back(sample);
        return kept;
    };
    out.train = keep(dataset.train);
    out.test = keep(dataset.test);
    out.val.clear();
    return out;
}

std::string divisors(int n)
{
    std::string out;
    for (int d = 2; d <= n; ++d)
        if (n % d == 0)
            out += (out.empty() ? "" : ", ") + std::to_string(d);
    return out;
}

// At most `perClass` samples of each class, drawn as the few-shot split draws them; all when perClass <= 0.
std::vector<Sample> limitPerClass(const std::vector<Sample>& samples, int perClass, std::uint64_t seed)
{
    if (perClass <= 0)
        return samples;
    PyRandom rng(seed);
    return sampleFewShot(samples, perClass, rng);
}

// What the run folder's continual.json holds: a second run resumes only with the same values.
nlohmann::json runIdentity(const ContinualSettings& settings, const std::vector<ContinualTask>& tasks, const Backbone& backbone, int batch)
{
    nlohmann::json taskList = nlohmann::json::array();
    for (const auto& task : tasks)
        taskList.push_back({{"name", task.name}, {"classes", task.classes}, {"train", task.data.train.size()}, {"test", task.data.test.size()}});
    return {{"method", settings.method},
            {"joint", settings.joint},
            {"options", settings.options},
            {"seed", settings.seed},
            {"epochs_per_task", settings.epochsPerTask},
            {"batch_size", batch},
            {"train_per_class", settings.trainPerClass},
            {"test_per_class", settings.testPerClass},
            {"model", backbone.checkpoint.spec.name},
            {"model_sha256", backbone.checkpoint.spec.sha256},
            {"tasks", taskList}};
}

} // namespace

std::vector<ContinualTask> classIncrementalTasks(const DatasetIndex& dataset, int tasks, std::uint64_t seed)
{
    const int classes = static_cast<int>(dataset.classNames.size());
    if (tasks < 2)
        throw Error("--tasks " + std::to_string(tasks) + ": a stream needs at least 2 tasks (one task is plain training: use train)");
    if (classes % tasks != 0)
        throw Error("--tasks " + std::to_string(tasks) + " does not divide the " + std::to_string(classes) + " classes of " + dataset.name +
                    " (" + std::to_string(classes) + " = " + std::to_string(tasks) + " x " + std::to_string(classes / tasks) + " + " +
                    std::to_string(classes % tasks) + "); tasks get equal class counts, so use one of: " + divisors(classes));
    const auto order = seededPermutation(classes, seed);
    const int perTask = classes / tasks;
    std::vector<ContinualTask> out;
    for (int t = 0; t < tasks; ++t) {
        ContinualTask task;
        task.classes.assign(order.begin() + t * perTask, order.begin() + (t + 1) * perTask);
        std::sort(task.classes.begin(), task.classes.end());
        for (auto label : task.classes)
            task.name += (task.name.empty() ? "" : ", ") + dataset.classNames[static_cast<size_t>(label)];
        task.data = withLabels(dataset, std::set<std::int64_t>(task.classes.begin(), task.classes.end()));
        out.push_back(std::move(task));
    }
    return out;
}

std::vector<ContinualTask> domainIncrementalTasks(const std::vector<DatasetIndex>& domains)
{
    if (domains.size() < 2)
        throw Error("a domain-incremental stream needs at least 2 datasets (--datasets a,b), got " + std::to_string(domains.size()));
    std::vector<ContinualTask> out;
    for (const DatasetIndex& domain : domains) {
        requireSameClasses(domains.front(), domain);
        ContinualTask task;
        task.name = domain.name;
        for (std::int64_t label = 0; label < static_cast<std::int64_t>(domain.classNames.size()); ++label)
            task.classes.push_back(label);
        task.data = domain;
        task.data.val.clear();
        out.push_back(std::move(task));
    }
    return out;
}

double averageAccuracy(const AccuracyMatrix& matrix)
{
    if (matrix.empty() || matrix.back().empty())
        return 0.0;
    double sum = 0;
    for (double a : matrix.back())
        sum += a;
    return sum / static_cast<double>(matrix.back().size());
}

std::optional<double> forgetting(const AccuracyMatrix& matrix)
{
    const size_t rows = matrix.size();
    if (rows < 2)
        return std::nullopt;
    const auto& last = matrix.back();
    double sum = 0;
    for (size_t task = 0; task + 1 < rows; ++task) {
        double best = last.at(task);
        for (size_t after = task; after < rows; ++after)
            best = std::max(best, matrix[after].at(task));
        sum += best - last.at(task);
    }
    return sum / static_cast<double>(rows - 1);
}

ContinualSummary summariseContinualSeeds(const std::vector<ContinualResult>& runs)
{
    ContinualSummary summary;
    summary.seeds = static_cast<int>(runs.size());
    if (runs.empty())
        return summary;
    SeedStatistics seeds;
    for (const auto& run : runs) {
        seeds.startSeed();
        seeds.addElementwise("matrix", run.matrix);
        seeds.add("average_accuracy", averageAccuracy(run.matrix));
        if (const auto f = forgetting(run.matrix))
            seeds.add("forgetting", *f);
        // Prompt choices are counts: summed over the seeds, not averaged.
        for (size_t t = 0; t < run.selection.size(); ++t) {
            summary.selection.resize(std::max(summary.selection.size(), run.selection.size()));
            summary.selection[t].resize(std::max(summary.selection[t].size(), run.selection[t].size()));
            for (size_t p = 0; p < run.selection[t].size(); ++p)
                summary.selection[t][p] += run.selection[t][p];
        }
    }
    summary.matrix = seeds.elementwiseMeanRows("matrix");
    summary.averageAccuracy = *seeds.mean("average_accuracy");
    summary.forgetting = seeds.mean("forgetting");  // none when a run has no forgetting (joint training)
    return summary;
}

std::string formatAccuracyRow(const std::vector<double>& row)
{
    std::string out;
    for (double a : row) {
        char cell[16];
        std::snprintf(cell, sizeof cell, "%7.2f", 100.0 * a);
        out += cell;
    }
    return out;
}

std::string continualLabel(const ContinualSettings& settings)
{
    return settings.joint ? "joint" : settings.method;
}

std::string continualMethodList()
{
    std::string out;
    for (const StrategyInfo& info : strategyRegistry())
        if (info.capabilities.continual)
            out += (out.empty() ? "use " : ", ") + info.name;
    return out + ", or the protocol's joint training";
}

std::string continualStreamName(const std::vector<ContinualTask>& tasks, bool classIncremental, const std::string& datasetName)
{
    const std::string raw = classIncremental ? fs::path(datasetName).filename().string() + "-class" + std::to_string(tasks.size())
                                             : "domain" + std::to_string(tasks.size());
    std::string out;
    for (char c : raw)
        out += std::isalnum(static_cast<unsigned char>(c)) || c == '-' ? c : '_';
    return out;
}

std::string continualRunFolderName(const std::string& stream, const std::string& method, int seed)
{
    return "continual-" + stream + "-" + method + "-seed" + std::to_string(seed);
}

nlohmann::json ContinualResult::toJson() const
{
    const auto f = forgetting(matrix);
    return {{"method", method},
            {"seed", seed},
            {"status", status},
            {"average_accuracy", averageAccuracy(matrix)},
            {"forgetting", f ? nlohmann::json(*f) : nlohmann::json()},
            {"matrix", matrix},
            {"selection", selection},
            {"trainable_parameters", trainableParameters},
            {"resumed_tasks", resumedTasks},
            {"seconds", seconds}};
}

ContinualResult runContinual(const Backbone& backbone, const std::vector<ContinualTask>& tasks, const ContinualSettings& settings,
                             const ContinualCallbacks& callbacks, RunControl* control)
{
    const auto started = std::chrono::steady_clock::now();
    auto log = [&](const std::string& line) {
        if (callbacks.onLog)
            callbacks.onLog(line);
    };
    if (tasks.empty())
        throw Error("continual learning needs at least one task");
    const bool joint = settings.joint;
    const StrategyInfo& info = findStrategy(settings.method);
    if (!info.capabilities.continual)
        throw Error("'" + settings.method + "' is not a continual-learning method (" + continualMethodList() + ")");

    // The prompts start from the seed; every stage below reseeds, so that a resumed stage runs as it would have.
    // Nothing else in the process draws meanwhile (GeneratorLock).
    const GeneratorLock generator("the continual run", [control] { return control && control->stopRequested(); });
    torch::manual_seed(static_cast<std::uint64_t>(settings.seed));
    TaskSetup setup;
    setup.classNames = tasks.front().data.classNames;
    auto strategy = info.create();
    strategy->attach(backbone.build(), setup, settings.options);
    auto* learner = dynamic_cast<ContinualLearner*>(strategy.get());
    if (!learner)
        throw Error(info.name + " has the continual capability but is not a ContinualLearner");

    const int batch = settings.batchSize > 0 ? settings.batchSize : strategy->defaultBatchSize(0);
    TrainerConfig config = withEpochs(strategy->defaultTrainerConfig(0), settings.epochsPerTask);
    config.lr *= static_cast<double>(batch) / strategy->defaultBatchSize(0);  // the reference scales lr with the batch
    const int resolution = backbone.checkpoint.spec.vision.imageSize;
    const int classes = static_cast<int>(setup.classNames.size());

    // Joint training is one stage with every task's images and classes.
    struct Stage
    {
        std::vector<std::int64_t> classes;
        std::shared_ptr<const DatasetIndex> data;
        std::vector<Sample> train;
    };
    std::vector<Stage> stages;
    std::vector<std::shared_ptr<const DatasetIndex>> testData;
    std::vector<std::vector<Sample>> testSamples;
    for (size_t t = 0; t < tasks.size(); ++t) {
        auto data = std::make_shared<const DatasetIndex>(tasks[t].data);
        testData.push_back(data);
        testSamples.push_back(limitPerClass(data->test, settings.testPerClass, static_cast<std::uint64_t>(settings.seed)));
        std::vector<Sample> train = limitPerClass(data->train, settings.trainPerClass, static_cast<std::uint64_t>(settings.seed) * 1000 + t);
        if (train.empty())
            throw Error("task " + std::to_string(t + 1) + " (" + tasks[t].name + ") has no training images");
        if (!joint) {
            stages.push_back({tasks[t].classes, data, std::move(train)});
        } else {
            if (stages.empty())
                stages.push_back({{}, nullptr, {}});
            stages[0].classes.insert(stages[0].classes.end(), tasks[t].classes.begin(), tasks[t].classes.end());
            stages[0].train.insert(stages[0].train.end(), train.begin(), train.end());
        }
    }
    if (joint) {
        // One index for every task's images: the tasks must share the dataset's files (a class-incremental
        // stream, or fashion-mnist:DOMAIN variants, whose samples carry their own rendering).
        for (size_t t = 1; t < tasks.size(); ++t)
            if (tasks[t].data.root != tasks.front().data.root || tasks[t].data.layout != tasks.front().data.layout)
                throw Error("joint training merges the tasks' images into one dataset, but '" + tasks[t].name + "' is stored in " +
                            tasks[t].data.root + ", not " + tasks.front().data.root);
        auto merged = std::make_shared<DatasetIndex>(tasks.front().data);
        merged->train = stages[0].train;
        std::sort(stages[0].classes.begin(), stages[0].classes.end());
        stages[0].classes.erase(std::unique(stages[0].classes.begin(), stages[0].classes.end()), stages[0].classes.end());
        stages[0].data = merged;
    }

    ContinualResult result;
    result.method = continualLabel(settings);
    result.seed = settings.seed;
    result.trainableParameters = strategy->trainableParameterCount();

    const fs::path run(settings.runFolder);
    if (!settings.runFolder.empty()) {
        const nlohmann::json identity = runIdentity(settings, tasks, backbone, batch);
        // Not config.json: the run history lists single runs, and a stream is not one.
        const fs::path configPath = run / "continual.json";
        if (fs::exists(configPath)) {
            const nlohmann::json stored = RunStore::readJsonFile(configPath.string());
            if (stored != identity)
                throw Error(run.string() + " holds a continual run with other settings; use another --runs folder or delete it");
        } else {
            fs::create_directories(run);
            writeFileAtomically(configPath.string(), identity.dump(2) + "\n");
        }
    }

    for (size_t s = 0; s < stages.size(); ++s) {
        const Stage& stage = stages[s];
        const size_t seen = joint ? tasks.size() : s + 1;  // tasks evaluated after this stage
        const fs::path stageDir = run / ("task-" + std::to_string(s + 1));
        const fs::path done = stageDir / "result.json";
        if (!settings.runFolder.empty() && fs::exists(done)) {
            const nlohmann::json stored = RunStore::readJsonFile(done.string());
            strategy->loadTrainableState(readSafetensors((stageDir / "trainable.safetensors").string()));
            try {
                result.matrix.push_back(stored.at("row").get<std::vector<double>>());
                result.selection = stored.at("selection").get<std::vector<std::vector<std::int64_t>>>();
                result.losses.push_back(stored.at("losses").get<std::vector<double>>());
            } catch (const nlohmann::json::exception& e) {
                throw Error(done.string() + ": row, selection or losses is missing or of the wrong type (" + e.what() + ")");
            }
            ++result.resumedTasks;
            log("task " + std::to_string(s + 1) + ": read back from " + stageDir.string());
            if (callbacks.onTaskDone)
                callbacks.onTaskDone(static_cast<int>(s), result.matrix.back());
            continue;
        }
        torch::manual_seed(static_cast<std::uint64_t>(settings.seed) * 1000 + s);
        learner->setTaskClasses(stage.classes);
        const std::uint64_t dataSeed = static_cast<std::uint64_t>(settings.seed) * 1000 + s;
        auto source = makeSource(stage.data, stage.train, resolution, trainTransform(resolution, stage.data->recipe.cropScaleMin), batch, true,
                                 dataSeed, settings.loaderThreads);
        TrainerConfig stageConfig = config;
        if (!settings.runFolder.empty()) {
            stageConfig.checkpointDir = (stageDir / "checkpoint").string();
            stageConfig.resume = true;  // a stage interrupted mid-way continues from its last epoch
        }
        log("task " + std::to_string(s + 1) + "/" + std::to_string(stages.size()) + ": " + std::to_string(stage.train.size()) +
            " training images, " + std::to_string(stage.classes.size()) + " classes, " + std::to_string(stageConfig.epochs) + " epochs");
        std::vector<double> losses;
        TrainerCallbacks trainerCallbacks;
        trainerCallbacks.onStep = [&](const StepReport& report) {
            losses.push_back(report.loss);
            if (callbacks.onStep)
                callbacks.onStep(static_cast<int>(s), report);
        };
        const TrainResult trained = Trainer(stageConfig).fit(*strategy, *source, trainerCallbacks, control);
        result.losses.push_back(losses);
        if (trained.status != TrainResult::Status::Finished) {
            result.status = trained.status == TrainResult::Status::Stopped ? "stopped" : "diverged";
            log("task " + std::to_string(s + 1) + ": " + trained.message);
            break;
        }

        std::vector<double> row;
        std::vector<std::vector<std::int64_t>> selection;
        for (size_t t = 0; t < seen; ++t) {
            learner->resetSelectionCounts();
            auto test = makeSource(testData[t], testSamples[t], resolution, std::nullopt, batch, false, 1, settings.loaderThreads);
            std::function<bool()> abandon;
            if (control)
                abandon = [control] { return control->abortRequested(); };
            const Evaluation evaluation =
                evaluate([&](const at::Tensor& images) { return strategy->logits(images); }, *test, classes, abandon);
            row.push_back(evaluation.accuracy);
            selection.push_back(learner->selectionCounts());
        }
        result.matrix.push_back(row);
        result.selection = selection;
        if (!settings.runFolder.empty()) {
            fs::create_directories(stageDir);
            writeSafetensors(strategy->trainableState(), (stageDir / "trainable.safetensors").string());
            writeFileAtomically(done.string(), nlohmann::json{{"row", row}, {"selection", selection}, {"losses", losses}}.dump() + "\n");
        }
        if (callbacks.onTaskDone)
            callbacks.onTaskDone(static_cast<int>(s), row);
    }
    if (!settings.runFolder.empty() && result.status == "finished") {
        // The same pair as every run's export (predict --export reads it), under the names the window copies.
        PromptExport::write(*strategy, (run / "export").string(), nlohmann::json::object(), 5, run.filename().string());
    }
    result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return result;
}

} // namespace tunebench

// ---- the continual protocol ----

namespace tunebench {

namespace {

int protocolInteger(const RunSettings& settings, const char* name, int fallback)
{
    const nlohmann::json& value = settings.protocolOptions.contains(name) ? settings.protocolOptions[name] : nlohmann::json(fallback);
    if (!value.is_number_integer())
        throw Error(std::string("protocol option ") + name + " must be an integer, got " + value.dump());
    return value.get<int>();
}

std::string streamKind(const RunSettings& settings)
{
    const std::string stream = settings.protocolOptions.value("stream", settings.protocolOptions.contains("datasets") ? "domain" : "class");
    if (stream != "class" && stream != "domain")
        throw Error("protocol option stream must be class or domain, got '" + stream + "'");
    return stream;
}

void writeFailure(RunStore& store, const RunSettings& settings, const std::string& stream, const std::exception& e)
{
    // Out of memory is its own status, as for a few-shot run: the same settings would end the same way.
    const bool outOfMemory = dynamic_cast<const OutOfMemory*>(&e) || isOutOfMemory(e);
    try {
        store.writeResults({{"method", continualLabel(continualSettingsOf(settings))}, {"dataset", stream}, {"protocol", "continual"},
                            {"status", outOfMemory ? "out_of_memory" : "failed"}, {"message", firstLine(e.what())}, {"run", store.folder()}});
    } catch (const std::exception&) {
        // The original failure matters more than a second one while recording it.
    }
}

void validateContinual(const RunSettings& settings)
{
    const StrategyInfo& info = findStrategy(settings.method);
    if (!info.capabilities.continual)
        throw Error("'" + settings.method + "' is not a continual-learning method (" + continualMethodList() + ")");
    if (streamKind(settings) == "class") {
        if (settings.dataset.empty())
            throw Error("a class-incremental stream needs a dataset");
        if (const int tasks = protocolInteger(settings, "tasks", 0); tasks < 2)
            throw Error("tasks " + std::to_string(tasks) + ": a class-incremental stream needs at least 2 tasks (one task is plain training: use train)");
    } else if (!settings.protocolOptions.contains("datasets") || !settings.protocolOptions["datasets"].is_array() ||
               settings.protocolOptions["datasets"].size() < 2) {
        throw Error("a domain-incremental stream needs protocol option datasets: a list of at least 2 datasets");
    }
    if (settings.shots < 0 || settings.epochs < 0 || settings.batchSize < 0 || protocolInteger(settings, "test_per_class", 0) < 0)
        throw Error("continual: shots (training images per class), epochs, batch size and test_per_class must not be negative");
}

nlohmann::json runContinualProtocolCell(const RunSettings& settings, const Backbone& backbone, RunStore& store, bool /*resume: always, by identity*/,
                                        const CellCallbacks& callbacks, RunControl* control)
{
    std::string stream;
    std::vector<ContinualTask> tasks;
    try {
        tasks = continualStream(settings, &stream, callbacks.onLog);
    } catch (const std::exception& e) {
        // As a failed few-shot run: the folder stays, and the history says why it ended.
        writeFailure(store, settings, stream, e);
        throw;
    }
    const bool joint = continualSettingsOf(settings).joint;
    ContinualCallbacks continualCallbacks;
    continualCallbacks.onLog = callbacks.onLog;
    if (callbacks.onStep)
        continualCallbacks.onStep = [&](int, const StepReport& report) { callbacks.onStep(report); };
    continualCallbacks.onTaskDone = [&](int stage, const std::vector<double>& row) {
        if (callbacks.onLog)
            callbacks.onLog("after " + (joint ? std::string("joint") : "task " + std::to_string(stage + 1)) + ":" + formatAccuracyRow(row));
    };
    runContinualCell(settings, backbone, tasks, stream, store, continualCallbacks, control);
    return store.readResults();
}

std::map<std::string, double> continualMetrics(const nlohmann::json& results)
{
    return RunOutcome::fromJson(results, "results.json").metrics();
}

} // namespace

ContinualResult runContinualCell(const RunSettings& settings, const Backbone& backbone, const std::vector<ContinualTask>& tasks,
                                 const std::string& stream, RunStore& store, const ContinualCallbacks& callbacks, RunControl* control)
{
    ContinualSettings continual = continualSettingsOf(settings);
    continual.runFolder = store.folder();
    ContinualResult result;
    try {
        store.writeConfig({{"method", continualLabel(continual)},
                           {"dataset", stream},
                           {"model", settings.model},
                           {"created", RunStore::utcNow()},
                           {"device", describeDevice(backbone.device)},
                           {"protocol", "continual"},
                           {"settings", settings.toJson()}});
        result = runContinual(backbone, tasks, continual, callbacks, control);
    } catch (const std::exception& e) {
        writeFailure(store, settings, stream, e);
        throw;
    }
    nlohmann::json results = result.toJson();
    results["protocol"] = "continual";
    results["dataset"] = stream;
    results["accuracy"] = results["average_accuracy"];  // what the run history and a study's table show first
    results["run"] = store.folder();
    store.writeResults(results);
    return result;
}

ContinualSettings continualSettingsOf(const RunSettings& settings)
{
    ContinualSettings out;
    out.method = settings.method;
    out.joint = settings.protocolOptions.value("joint", false);
    out.options = settings.options;
    out.seed = settings.seed;
    out.epochsPerTask = settings.epochs > 0 ? settings.epochs : 5;
    out.batchSize = settings.batchSize;
    out.trainPerClass = settings.shots;
    out.testPerClass = protocolInteger(settings, "test_per_class", 0);
    out.loaderThreads = settings.loaderThreads;
    return out;
}

RunSettings continualCell(const RunSettings& stream, const std::string& method, bool joint, int seed, const nlohmann::json& options)
{
    RunSettings cell = stream;
    cell.protocol = "continual";
    cell.method = method;
    cell.seed = seed;
    cell.options = paramsOf(findStrategy(method).schema, options);
    cell.protocolOptions["joint"] = joint;
    return cell;
}

std::vector<ContinualTask> continualStream(const RunSettings& settings, std::string* streamName,
                                           const std::function<void(const std::string&)>& progress)
{
    std::vector<ContinualTask> tasks;
    if (streamKind(settings) == "class") {
        tasks = classIncrementalTasks(openDataset(settings.dataset, {}, progress), protocolInteger(settings, "tasks", 0),
                                      static_cast<std::uint64_t>(protocolInteger(settings, "order_seed", 1)));
        if (streamName)
            *streamName = continualStreamName(tasks, true, settings.dataset);
    } else {
        std::vector<DatasetIndex> domains;
        for (const auto& name : settings.protocolOptions.at("datasets"))
            domains.push_back(openDataset(name.get<std::string>(), {}, progress));
        tasks = domainIncrementalTasks(domains);
        if (streamName)
            *streamName = continualStreamName(tasks, false, "");
    }
    return tasks;
}

StudyProtocol continualProtocol()
{
    return {"continual", "a stream of tasks, class- or domain-incremental (L2P's protocol): A_T and F_T", false, validateContinual,
            runContinualProtocolCell, continualMetrics};
}

ContinualResult ContinualResult::fromJson(const nlohmann::json& json, const std::string& where)
{
    ContinualResult result;
    try {
        result.method = json.at("method").get<std::string>();
        result.seed = json.at("seed").get<int>();
        result.status = json.at("status").get<std::string>();
        result.matrix = json.at("matrix").get<AccuracyMatrix>();
        result.selection = json.at("selection").get<std::vector<std::vector<std::int64_t>>>();
        result.trainableParameters = json.at("trainable_parameters").get<std::int64_t>();
        result.resumedTasks = json.value("resumed_tasks", 0);
        result.seconds = json.value("seconds", 0.0);
    } catch (const nlohmann::json::exception& e) {
        throw Error(where + ": not a continual result (" + e.what() + ")");
    }
    return result;
}

} // namespace tunebench
