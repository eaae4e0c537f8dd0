#include "core/experiment/Sweep.h"

#include "core/Error.h"
#include "core/experiment/Experiment.h"
#include "core/experiment/Protocol.h"
#include "core/experiment/SeedStatistics.h"
#include "core/io/AtomicFile.h"
#include "core/train/RunControl.h"
#include "core/train/RunStore.h"
#include "core/tuning/StrategyInfo.h"

#include <signal.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

namespace fs = std::filesystem;

namespace tunebench {

namespace {

// A file-name-safe form of a dataset or method name ("fashion-mnist:sketch" -> "fashion-mnist_sketch").
std::string safePart(const std::string& text)
{
    std::string out;
    for (char c : text)
        out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.') ? c : '_';
    return out.empty() ? "_" : out;
}

std::string shellQuoted(const std::string& text)
{
    std::string out = "'";
    for (char c : text)
        out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

nlohmann::json runConfigOf(const SweepPlan& plan, const SweepRun& run)
{
    const RunSettings settings = runSettingsOf(plan, run);
    nlohmann::json config = {{"method", run.method}, {"dataset", run.dataset}, {"model", settings.model}, {"created", RunStore::utcNow()},
                             {"sweep", plan.folder}, {"sweep_index", run.index}, {"settings", settings.toJson()}};
    if (!run.options.empty())
        config["grid_point"] = run.options;
    return config;
}

bool isGridSetting(const std::string& name)
{
    const auto& names = gridSettingNames();
    return std::find(names.begin(), names.end(), name) != names.end();
}

// The grid points of one method: the product of the axes it has (a run setting, or one of its options),
// the first name (alphabetically) varying slowest. One empty point when it has none.
std::vector<nlohmann::json> gridPoints(const OptionGrid& grid, const StrategyInfo& info)
{
    std::vector<nlohmann::json> points = {nlohmann::json::object()};
    for (const auto& [name, values] : grid) {
        // Training settings do not multiply the runs of a method that trains nothing (zero-shot).
        const bool setting = isGridSetting(name) && (info.capabilities.usesTrainingImages || name == "precision");
        const bool applies = setting || hasParam(info.schema, name);
        if (!applies)
            continue;
        std::vector<nlohmann::json> product;
        for (const nlohmann::json& point : points)
            for (const nlohmann::json& value : values) {
                nlohmann::json next = point;
                next[name] = value;
                product.push_back(next);
            }
        points = product;
    }
    return points;
}

// A value as a folder-name part: 0.002 -> "0.002", "a photo" -> "a_photo".
std::string valuePart(const nlohmann::json& value)
{
    return safePart(value.is_string() ? value.get<std::string>() : value.dump());
}

} // namespace

const std::vector<std::string>& gridSettingNames()
{
    static const std::vector<std::string> names = {"lr", "epochs", "batch_size", "max_steps", "accumulate", "checkpointing", "crop_scale_min",
                                                   "precision"};
    return names;
}

std::optional<std::vector<nlohmann::json>> gridValues(const std::string& text)
{
    const auto scalar = [](const std::string& piece) {
        const nlohmann::json parsed = nlohmann::json::parse(piece, nullptr, false);
        return parsed.is_discarded() || parsed.is_structured() ? nlohmann::json(piece) : parsed;
    };
    std::vector<nlohmann::json> values;
    const nlohmann::json list = nlohmann::json::parse(text, nullptr, false);
    if (!list.is_discarded() && list.is_array()) {
        for (const nlohmann::json& value : list)
            values.push_back(value);
    } else if (text.find(',') != std::string::npos) {
        std::size_t start = 0;
        while (start <= text.size()) {
            const std::size_t comma = std::min(text.find(',', start), text.size());
            values.push_back(scalar(text.substr(start, comma - start)));
            start = comma + 1;
        }
    } else {
        return std::nullopt;
    }
    if (values.size() == 1)
        return std::nullopt;
    return values;
}

std::string absoluteIfPath(const std::string& text)
{
    const auto colon = text.rfind(':');
    const std::string path = fs::exists(text) || colon == std::string::npos ? text : text.substr(0, colon);
    if (path.empty() || !fs::exists(path))
        return text;
    return fs::absolute(path).lexically_normal().string() + text.substr(path.size());
}

RunSettings runSettingsOf(const SweepPlan& plan, const SweepRun& run)
{
    nlohmann::json json = plan.base.toJson();
    json["dataset"] = run.dataset;
    json["method"] = run.method;
    json["shots"] = run.shots;
    json["seed"] = run.seed;
    json["options"] = paramsOf(findStrategy(run.method).schema, plan.base.options);
    for (const auto& [name, value] : run.options.items()) {
        if (isGridSetting(name))
            json[name] = value;
        else
            json["options"][name] = value;
    }
    return RunSettings::fromJson(json);
}

std::string gridPointLabel(const nlohmann::json& options)
{
    std::string label;
    for (const auto& [name, value] : options.items())
        label += (label.empty() ? "" : " ") + name + "=" + (value.is_string() ? value.get<std::string>() : value.dump());
    return label;
}

nlohmann::json SweepPlan::toJson() const
{
    nlohmann::json runsJson = nlohmann::json::array();
    for (const SweepRun& run : runs) {
        nlohmann::json item = {{"index", run.index}, {"dataset", run.dataset}, {"method", run.method}, {"shots", run.shots},
                               {"seed", run.seed}, {"folder", run.folder}};
        if (!run.options.empty())
            item["options"] = run.options;
        runsJson.push_back(item);
    }
    nlohmann::json json = {{"format", "tunebench-sweep-1"}, {"folder", folder}, {"settings", base.toJson()}, {"datasets", datasets},
                           {"methods", methods}, {"shots", shots}, {"seeds", seeds}, {"runs", runsJson}};
    if (!grid.empty())
        json["grid"] = grid;
    return json;
}

SweepPlan makeSweepPlan(const std::string& folder, const RunSettings& base, const std::vector<std::string>& datasets,
                        const std::vector<std::string>& methods, const std::vector<int>& shots, const std::vector<int>& seeds,
                        const OptionGrid& grid)
{
    if (datasets.empty() || methods.empty() || shots.empty() || seeds.empty())
        throw Error("a sweep needs at least one dataset, method, shot count and seed");
    SweepPlan plan;
    plan.folder = fs::absolute(folder).lexically_normal().string();
    plan.base = base;
    plan.base.dataset.clear();
    plan.base.method.clear();
    plan.datasets = datasets;
    plan.methods = methods;
    plan.shots = shots;
    plan.seeds = seeds;
    plan.grid = grid;
    for (const auto& [name, value] : base.options.items())
        if (std::none_of(methods.begin(), methods.end(), [&](const std::string& method) { return hasParam(findStrategy(method).schema, name); })) {
            std::string names;
            for (const std::string& method : methods)
                names += (names.empty() ? "" : ", ") + method;
            throw Error("--opt " + name + ": none of the methods (" + names + ") has this option");
        }
    for (const auto& [name, values] : grid) {
        const bool known = isGridSetting(name) || std::any_of(methods.begin(), methods.end(), [&](const std::string& method) {
                               return hasParam(findStrategy(method).schema, name);
                           });
        if (!known) {
            std::string settings;
            for (const std::string& setting : gridSettingNames())
                settings += (settings.empty() ? "" : ", ") + setting;
            throw Error("--opt " + name + ": neither a run setting of a sweep grid (" + settings + ") nor an option of its methods");
        }
        if (values.empty())
            throw Error("--opt " + name + ": the grid needs at least one value");
    }
    for (const std::string& dataset : datasets)
        for (const std::string& method : methods) {
            const StrategyInfo& info = findStrategy(method);
            // A method that ignores the training images (zero-shot) runs at the last shot count only, and at
            // the first seed unless the seed samples the test images.
            const bool usesImages = info.capabilities.usesTrainingImages;
            const bool everySeed = seedMatters(info, base);
            for (const nlohmann::json& point : gridPoints(grid, info)) {
                std::string pointName;
                for (const auto& [name, value] : point.items())
                    pointName += safePart(name) + valuePart(value) + "-";
                for (int shot : usesImages ? shots : std::vector<int>{shots.back()})
                    for (int seed : everySeed ? seeds : std::vector<int>{seeds.front()}) {
                        SweepRun run;
                        run.index = static_cast<int>(plan.runs.size());
                        run.dataset = dataset;
                        run.method = method;
                        run.options = point;
                        run.shots = shot;
                        run.seed = seed;
                        char name[64];
                        std::snprintf(name, sizeof name, "%04d-", run.index);
                        run.folder = (fs::path(plan.folder) / "runs" /
                                      (name + safePart(method) + "-" + safePart(dataset) + "-" + pointName + std::to_string(shot) +
                                       "shot-seed" + std::to_string(seed)))
                                         .string();
                        // A value the settings, the method or the protocol refuse fails here, naming it, not in a run.
                        try {
                            const RunSettings settings = runSettingsOf(plan, run);
                            if (const StudyProtocol& protocol = findProtocol(settings.protocol); protocol.validate)
                                protocol.validate(settings);
                            nlohmann::json ownOptions = nlohmann::json::object();
                            for (const auto& [option, value] : point.items())
                                if (!isGridSetting(option))
                                    ownOptions[option] = value;
                            resolveParams(info.schema, ownOptions);
                        } catch (const Error& e) {
                            throw Error(method + " at " + gridPointLabel(point) + ": " + e.what());
                        }
                        plan.runs.push_back(run);
                    }
            }
        }
    return plan;
}

void writeSweepPlan(const SweepPlan& plan)
{
    std::error_code error;
    fs::create_directories(fs::path(plan.folder) / "logs", error);
    if (error)
        throw Error(plan.folder + ": cannot create the sweep folder (" + error.message() + ")");
    // Two processes may start one sweep at once: one writes the plan, the other then finds it written.
    const FolderLock lock = FolderLock::wait(plan.folder);
    const fs::path planFile = fs::path(plan.folder) / "plan.json";
    const nlohmann::json planJson = plan.toJson();
    if (fs::exists(planFile)) {
        nlohmann::json existing = RunStore::readJsonFile(planFile.string());
        // The image-tower cache changes no result: a sweep planned with another cache folder (or none)
        // is the same sweep, and its runs keep the folder their configs name.
        nlohmann::json compared = planJson;
        for (nlohmann::json* json : {&existing, &compared})
            if (json->contains("settings") && (*json)["settings"].is_object())
                (*json)["settings"].erase("feature_cache");
        for (const auto& [key, value] : compared.items())
            if (!existing.contains(key) || existing[key] != value)
                throw Error(planFile.string() + " holds another sweep (its \"" + key +
                            "\" differs from this command's); give a new --out folder, or the same settings to resume it");
    }
    std::string runsText;
    for (const SweepRun& run : plan.runs) {
        runsText += run.folder + "\n";
        const fs::path config = fs::path(run.folder) / "config.json";
        if (fs::exists(config))
            continue;  // written before: the run may have started
        fs::create_directories(fs::path(run.folder) / "checkpoint");
        fs::create_directories(fs::path(run.folder) / "export");
        writeFileAtomically(config.string(), runConfigOf(plan, run).dump(2) + "\n");
    }
    writeFileAtomically((fs::path(plan.folder) / "runs.txt").string(), runsText);
    if (!fs::exists(planFile))
        writeFileAtomically(planFile.string(), planJson.dump(2) + "\n");
}

SweepPlan readSweepPlan(const std::string& folder)
{
    const std::string planFile = (fs::path(folder) / "plan.json").string();
    if (!fs::exists(planFile))
        throw Error(folder + ": not a sweep folder (no plan.json)");
    const nlohmann::json json = RunStore::readJsonFile(planFile);
    SweepPlan plan;
    try {
        plan.folder = json.at("folder").get<std::string>();
        plan.base = RunSettings::fromJson(json.at("settings"), planFile);
        plan.datasets = json.at("datasets").get<std::vector<std::string>>();
        plan.methods = json.at("methods").get<std::vector<std::string>>();
        plan.shots = json.at("shots").get<std::vector<int>>();
        plan.seeds = json.at("seeds").get<std::vector<int>>();
        if (json.contains("grid"))
            plan.grid = json.at("grid").get<OptionGrid>();
        for (const auto& item : json.at("runs")) {
            SweepRun run;
            run.index = item.at("index").get<int>();
            run.dataset = item.at("dataset").get<std::string>();
            run.method = item.at("method").get<std::string>();
            run.shots = item.at("shots").get<int>();
            run.seed = item.at("seed").get<int>();
            run.options = item.value("options", nlohmann::json::object());
            run.folder = item.at("folder").get<std::string>();
            plan.runs.push_back(run);
        }
    } catch (const nlohmann::json::exception& e) {
        throw Error(planFile + ": a field is missing or has the wrong type (" + e.what() + ")");
    }
    return plan;
}

const char* runStateName(RunState state)
{
    switch (state) {
    case RunState::Pending: return "pending";
    case RunState::Running: return "running";
    case RunState::Finished: return "finished";
    case RunState::Failed: return "failed";
    }
    return "pending";
}

RunState runFolderState(const std::string& folder)
{
    const fs::path results = fs::path(folder) / "results.json";
    if (!fs::exists(results))
        return RunState::Pending;
    const std::string status = RunStore::readJsonFile(results.string()).value("status", "");
    if (status == "finished")
        return RunState::Finished;
    if (status == "failed" || status == "diverged" || status == "out_of_memory")  // the same settings would end the same way
        return RunState::Failed;
    return RunState::Pending;  // stopped: resumable
}

nlohmann::json SweepCounts::toJson() const
{
    return {{"total", total}, {"finished", finished}, {"failed", failed}, {"running", running}, {"pending", pending}};
}

SweepCounts countStates(const std::vector<RunState>& states)
{
    SweepCounts counts;
    counts.total = static_cast<int>(states.size());
    for (RunState state : states) {
        counts.finished += state == RunState::Finished;
        counts.failed += state == RunState::Failed;
        counts.running += state == RunState::Running;
        counts.pending += state == RunState::Pending;
    }
    return counts;
}

std::string arrayRanges(const std::vector<int>& indices)
{
    std::string out;
    for (std::size_t i = 0; i < indices.size();) {
        std::size_t j = i;
        while (j + 1 < indices.size() && indices[j + 1] == indices[j] + 1)
            ++j;
        out += (out.empty() ? "" : ",") + std::to_string(indices[i]) + (j > i ? "-" + std::to_string(indices[j]) : "");
        i = j + 1;
    }
    return out;
}

std::string sbatchScript(const SweepPlan& plan, const std::vector<int>& indices, const SlurmOptions& options, const std::string& cli)
{
    const fs::path dir = plan.folder;
    std::string script = "#!/bin/bash\n";
    script += "# A Tunebench sweep: one array task per run of " + (dir / "plan.json").string() + ".\n";
    script += "#SBATCH --job-name=" + options.jobName + "\n";
    script += "#SBATCH --array=" + arrayRanges(indices) + (options.maxConcurrent > 0 ? "%" + std::to_string(options.maxConcurrent) : "") + "\n";
    script += "#SBATCH --output=" + (dir / "logs" / "%x_%A_%a.out").string() + "\n";
    script += "#SBATCH --open-mode=append\n";
    script += "#SBATCH --ntasks=1\n";
    script += "#SBATCH --cpus-per-task=" + std::to_string(options.cpusPerTask) + "\n";
    if (!options.partition.empty())
        script += "#SBATCH --partition=" + options.partition + "\n";
    if (options.gpusPerTask > 0)
        script += "#SBATCH --gpus-per-task=" + std::to_string(options.gpusPerTask) + "\n";
    if (!options.time.empty())
        script += "#SBATCH --time=" + options.time + "\n";
    script += "set -euo pipefail\n";
    script += "run=$(sed -n \"$((SLURM_ARRAY_TASK_ID + 1))p\" " + shellQuoted((dir / "runs.txt").string()) + ")\n";
    script += "echo \"tunebench sweep: array task $SLURM_ARRAY_TASK_ID on $(hostname): $run\"\n";
    script += "exec " + shellQuoted(cli) + " train --config \"$run/config.json\" --run-folder \"$run\" --threads \"${SLURM_CPUS_PER_TASK:-1}\"\n";
    return script;
}

std::optional<std::string> commandOutput(const std::string& command)
{
    std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen((command + " 2>/dev/null").c_str(), "r"), pclose);
    if (!pipe)
        return std::nullopt;
    std::string out;
    char buffer[4096];
    while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe.get()))
        out.append(buffer, n);
    const int status = pclose(pipe.release());
    if (status != 0)
        return std::nullopt;
    return out;
}

nlohmann::json slurmSubmissions(const SweepPlan& plan)
{
    const fs::path file = fs::path(plan.folder) / "slurm.json";
    return fs::exists(file) ? RunStore::readJsonFile(file.string()).value("submissions", nlohmann::json::array()) : nlohmann::json::array();
}

std::vector<RunState> sweepStates(const SweepPlan& plan)
{
    std::vector<RunState> states;
    for (const SweepRun& run : plan.runs) {
        RunState state = runFolderState(run.folder);
        if (state != RunState::Finished) {
            const fs::path pidPath = fs::path(run.folder) / "worker.pid";
            std::error_code error;
            long pid = 0;
            // A FIFO put there would block the read: only a regular file is read.
            if (fs::is_regular_file(pidPath, error) && std::ifstream(pidPath) >> pid && pid > 0 && kill(static_cast<pid_t>(pid), 0) == 0)
                state = RunState::Running;
        }
        states.push_back(state);
    }
    for (const auto& submission : slurmSubmissions(plan)) {
        const std::string job = submission.value("job_id", "");
        if (job.empty() || job.find_first_not_of("0123456789") != std::string::npos)
            continue;  // not a job id sbatch printed: nothing to ask squeue about
        std::map<int, char> queued;  // index -> 'R' running, 'P' pending
        if (const auto out = commandOutput("squeue -h -r -j " + job + " -o '%K %t'")) {
            std::istringstream lines(*out);
            int index = 0;
            std::string code;
            while (lines >> index >> code)
                queued[index] = (code == "PD" || code == "CF" || code == "RQ" || code == "RH") ? 'P' : 'R';
        }
        for (const auto& item : submission.value("indices", nlohmann::json::array())) {
            const int index = item.get<int>();
            if (index < 0 || index >= static_cast<int>(states.size()) || states[size_t(index)] == RunState::Finished)
                continue;
            if (queued.count(index))
                states[size_t(index)] = queued[index] == 'P' ? RunState::Pending : RunState::Running;
            else if (states[size_t(index)] == RunState::Pending &&
                     fs::exists(fs::path(plan.folder) / "logs" / ("tunebench-sweep_" + job + "_" + std::to_string(index) + ".out")))
                states[size_t(index)] = RunState::Failed;  // it ran and ended without a finished result
        }
    }
    return states;
}

namespace {

// Error unless the finished run in `folder` was run with `settings` (up to where and how fast).
void requireSameSettings(const std::string& folder, const RunSettings& settings)
{
    const std::string configPath = (fs::path(folder) / "config.json").string();
    const nlohmann::json stored =
        definingSettings(RunSettings::fromJson(RunStore::readJsonFile(configPath).value("settings", nlohmann::json::object()), configPath));
    const nlohmann::json wanted = definingSettings(settings);
    if (stored == wanted)
        return;
    std::string field = "?";
    for (const auto& [name, value] : wanted.items())
        if (!stored.contains(name) || stored[name] != value) {
            field = name;
            break;
        }
    if (field == "?")
        for (const auto& [name, value] : stored.items())
            if (!wanted.contains(name)) {
                field = name;
                break;
            }
    throw Error(folder + ": holds a finished run with other settings (\"" + field + "\" differs in " + configPath +
                "); give the study another folder, or remove this one");
}

} // namespace

int runCellsHere(const std::vector<StudyCell>& cells, const CellsHereCallbacks& callbacks, RunControl* control, CellBackbones* backbones)
{
    CellBackbones ownBackbones;
    CellBackbones& loaded = backbones ? *backbones : ownBackbones;
    int finished = 0;
    for (std::size_t i = 0; i < cells.size(); ++i) {
        const StudyCell& cell = cells[i];
        if (control && control->stopRequested())
            break;
        if (runFolderState(cell.folder) == RunState::Finished) {
            requireSameSettings(cell.folder, cell.settings);
            continue;
        }
        const Backbone& backbone = loaded.of(cell.settings);
        RunStore store = RunStore::at(cell.folder);
        // Another process (a second sweep of this folder, a Slurm task) may run it: this one moves on.
        const std::optional<FolderLock> lock = store.tryLock();
        if (!lock) {
            if (callbacks.onLog)
                callbacks.onLog(i, "run by process " + std::to_string(FolderLock::holderPid(cell.folder)) + "; skipped here");
            continue;
        }
        if (runFolderState(cell.folder) == RunState::Finished) {
            requireSameSettings(cell.folder, cell.settings);
            continue;  // it finished while this process looked at others
        }
        if (callbacks.onStart)
            callbacks.onStart(i);
        CellCallbacks cellCallbacks;
        if (callbacks.onLog)
            cellCallbacks.onLog = [&](const std::string& line) { callbacks.onLog(i, line); };
        if (callbacks.onStep)
            cellCallbacks.onStep = [&](const StepReport& step) { callbacks.onStep(i, step); };
        const nlohmann::json results = runStudyCell(cell.settings, backbone, store, true, cellCallbacks, control);
        if (results.value("status", "") == "finished")
            ++finished;
        if (callbacks.onDone)
            callbacks.onDone(i, results);
    }
    return finished;
}

int runSweepHere(const SweepPlan& plan, const SweepHereCallbacks& callbacks, RunControl* control, CellBackbones* backbones)
{
    std::vector<StudyCell> cells;
    for (const SweepRun& run : plan.runs)
        cells.push_back({runSettingsOf(plan, run), run.folder});
    CellsHereCallbacks cellCallbacks;
    if (callbacks.onLog)
        cellCallbacks.onLog = [&](std::size_t i, const std::string& line) { callbacks.onLog(plan.runs[i], line); };
    if (callbacks.onRunDone)
        cellCallbacks.onDone = [&](std::size_t i, const nlohmann::json& results) { callbacks.onRunDone(plan.runs[i], results); };
    return runCellsHere(cells, cellCallbacks, control, backbones);
}

std::vector<SweepCell> collectSweep(const SweepPlan& plan)
{
    std::vector<SweepCell> cells;
    std::map<std::string, std::size_t> cellOf;
    std::vector<SeedStatistics> seedsOf;  // per cell
    const StudyProtocol& protocol = findProtocol(plan.base.protocol);
    for (const SweepRun& run : plan.runs) {
        const std::string key = run.dataset + "\n" + run.method + "\n" + run.options.dump() + "\n" + std::to_string(run.shots);
        if (!cellOf.count(key)) {
            cellOf[key] = cells.size();
            cells.push_back({run.dataset, run.method, run.options, run.shots, 0, {}, {}});
            seedsOf.emplace_back(MeanOrder::DivideEachThenSum);  // the order collect has always used
        }
        if (runFolderState(run.folder) != RunState::Finished)
            continue;
        const std::size_t c = cellOf[key];
        const nlohmann::json results = RunStore::readJsonFile((fs::path(run.folder) / "results.json").string());
        ++cells[c].seeds;
        seedsOf[c].startSeed();
        for (const auto& [metric, value] : protocol.metrics(results))
            seedsOf[c].add(metric, value);
    }
    for (std::size_t c = 0; c < cells.size(); ++c) {
        for (const std::string& metric : seedsOf[c].metrics()) {
            const MetricOverSeeds overSeeds = *seedsOf[c].overSeedsWithValue(metric);
            cells[c].mean[metric] = overSeeds.mean;
            cells[c].stdev[metric] = overSeeds.stdev;
        }
        // H as compare and the papers' tables give it: of the mean Base and New, not the mean of the seeds'
        // H (its std stays the seeds' spread).
        if (const auto h = seedsOf[c].harmonicMeanOfMeans("base", "new"))
            cells[c].mean["h"] = *h;
    }
    return cells;
}

} // namespace tunebench
