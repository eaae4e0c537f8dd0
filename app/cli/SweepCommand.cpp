// tunebench-cli sweep: a plan of runs (datasets x methods x shots x seeds) in a folder, run here by worker
// processes or on a Slurm cluster as one job array; `sweep status` counts the runs' states, `sweep
// collect` tables their results. Every run is `tunebench-cli train --config RUN/config.json --run-folder RUN`,
// so a sweep run again (here or on the cluster) runs only what is not finished, resuming from checkpoints.
#include "app/cli/Commands.h"
#include "app/cli/RunSetup.h"

#include "app/cli/CliArgs.h"
#include "core/Device.h"
#include "core/Error.h"
#include "core/experiment/Protocol.h"
#include "core/experiment/Sweep.h"
#include "core/io/AtomicFile.h"
#include "core/train/RunControl.h"
#include "core/train/RunStore.h"
#include "core/tuning/StrategyInfo.h"
#include "report/Figures.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <thread>

extern char** environ;

namespace fs = std::filesystem;

namespace tunebench::cli {

namespace {

std::string selfPath()
{
    std::error_code error;
    const fs::path self = fs::read_symlink("/proc/self/exe", error);
    if (error)
        throw Error("cannot find this program's own path (/proc/self/exe): " + error.message());
    return self.string();
}

// Paths that exist here become absolute, so that array tasks started in another folder find them; names
// (fashion-mnist, clip-vit-b16) and NAME:DOMAIN suffixes stay as they are.
std::string absoluteIfPath(const std::string& text)
{
    const auto colon = text.rfind(':');
    const std::string path = fs::exists(text) || colon == std::string::npos ? text : text.substr(0, colon);
    if (path.empty() || !fs::exists(path))
        return text;
    return fs::absolute(path).lexically_normal().string() + text.substr(path.size());
}

std::string formatSeconds(double seconds)
{
    const auto total = static_cast<long long>(seconds + 0.5);
    char text[32];
    std::snprintf(text, sizeof text, "%lld:%02lld", total / 60, total % 60);
    return text;
}

// A CSV field, quoted when it holds a comma or a quote.
std::string csvField(const std::string& text)
{
    if (text.find_first_of(",\"\n") == std::string::npos)
        return text;
    std::string out = "\"";
    for (char c : text)
        out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
}

std::vector<int> unfinishedIndices(const SweepPlan& plan)
{
    std::vector<int> indices;
    for (const SweepRun& run : plan.runs)
        if (runFolderState(run.folder) != RunState::Finished)
            indices.push_back(run.index);
    return indices;
}

volatile std::sig_atomic_t g_stopLocal = 0;

extern "C" void stopLocalSweep(int)
{
    g_stopLocal = 1;
}

// Runs the unfinished runs here, `workers` at a time, each `train` with its share of the cores. Ctrl-C or
// SIGTERM starts no further run and asks the running ones to stop after their current step (each keeps
// its checkpoint; running the sweep again resumes them).
int runLocal(const SweepPlan& plan, int workers, int threads)
{
    struct sigaction action = {};
    action.sa_handler = stopLocalSweep;  // no SA_RESTART: waitpid returns EINTR
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);
    bool stopping = false;
    const std::vector<int> todo = unfinishedIndices(plan);
    const std::string cli = selfPath();
    std::cerr << "sweep: " << plan.runs.size() << " runs, " << plan.runs.size() - todo.size() << " finished, " << todo.size()
              << " to run with " << workers << " workers of " << threads << " thread" << (threads == 1 ? "" : "s") << "\n";
    std::map<pid_t, int> running;  // pid -> plan index
    std::map<pid_t, FolderLock> claims;  // the run folders' locks, held with the children until they are reaped
    std::vector<int> elsewhere;  // runs another process (a second sweep of this folder) runs
    std::size_t next = 0;
    int done = 0, failed = 0, skipped = 0;
    const auto started = std::chrono::steady_clock::now();
    auto launch = [&](const SweepRun& run) {
        // Runs are claimed one by one, so two sweeps of one folder split the work.
        std::optional<FolderLock> claim = RunStore::open(run.folder).tryLock();
        if (!claim) {
            elsewhere.push_back(run.index);
            ++skipped;
            return;
        }
        if (runFolderState(run.folder) == RunState::Finished) {  // finished elsewhere since the count
            ++skipped;
            return;
        }
        // The child adopts the locked descriptor (FolderLock::kInheritedFdVariable): the run is never free
        // between this claim and the child's own lock.
        const int childFd = claim->descriptor() == 3 ? 4 : 3;
        const std::string log = (fs::path(run.folder) / "train.log").string();
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
        posix_spawn_file_actions_adddup2(&actions, claim->descriptor(), childFd);  // dup2 clears close-on-exec
        std::vector<std::string> environment = {std::string(FolderLock::kInheritedFdVariable) + "=" + std::to_string(childFd)};
        for (char** variable = environ; *variable; ++variable)
            if (std::strncmp(*variable, FolderLock::kInheritedFdVariable, std::strlen(FolderLock::kInheritedFdVariable)) != 0)
                environment.push_back(*variable);
        std::vector<char*> envp;
        for (std::string& variable : environment)
            envp.push_back(variable.data());
        envp.push_back(nullptr);
        const std::string config = (fs::path(run.folder) / "config.json").string();
        const std::string threadText = std::to_string(threads);
        std::vector<std::string> words = {cli, "train", "--config", config, "--run-folder", run.folder, "--threads", threadText};
        std::vector<char*> argv;
        for (std::string& word : words)
            argv.push_back(word.data());
        argv.push_back(nullptr);
        pid_t pid = 0;
        const int error = posix_spawn(&pid, cli.c_str(), &actions, nullptr, argv.data(), envp.data());
        posix_spawn_file_actions_destroy(&actions);
        if (error != 0)
            throw Error("cannot start " + cli + " for " + run.folder + ": " + std::strerror(error));
        std::ofstream(fs::path(run.folder) / "worker.pid") << pid << "\n";
        running[pid] = run.index;
        claims.emplace(pid, std::move(*claim));
    };
    while ((next < todo.size() && !g_stopLocal) || !running.empty()) {
        while (next < todo.size() && !g_stopLocal && static_cast<int>(running.size()) < workers)
            launch(plan.runs[size_t(todo[next++])]);
        if (g_stopLocal && !stopping) {
            stopping = true;
            std::cerr << "sweep: stopping; the running runs stop after their current step and resume when the sweep runs again\n";
            for (const auto& [child, index] : running)
                kill(child, SIGTERM);
        }
        if (running.empty())
            continue;  // every run left was claimed elsewhere or finished
        int status = 0;
        const pid_t pid = waitpid(-1, &status, 0);
        if (pid < 0) {
            if (errno == EINTR)
                continue;
            throw Error(std::string("waiting for the sweep's workers failed: ") + std::strerror(errno));
        }
        const auto it = running.find(pid);
        if (it == running.end())
            continue;
        const SweepRun& run = plan.runs[size_t(it->second)];
        running.erase(it);
        fs::remove(fs::path(run.folder) / "worker.pid");
        claims.erase(pid);
        ++done;
        const bool finished = runFolderState(run.folder) == RunState::Finished;
        failed += finished ? 0 : 1;
        const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        const double eta = elapsed / done * static_cast<double>(todo.size() - static_cast<std::size_t>(done + skipped));
        std::cerr << "sweep: " << done << "/" << todo.size() - static_cast<std::size_t>(skipped) << " done (" << failed << " failed), "
                  << running.size() << " running, ETA " << formatSeconds(eta)
                  << (finished ? "" : "; not finished: " + run.folder + " (see its train.log)") << "\n";
    }
    // What another process runs counts when it ends: wait for it, so the counts below are final.
    if (!elsewhere.empty() && !g_stopLocal) {
        std::cerr << "sweep: " << elsewhere.size() << " run" << (elsewhere.size() == 1 ? " is" : "s are")
                  << " run by another process; waiting for them\n";
        for (int index : elsewhere)
            while (!g_stopLocal && !FolderLock::tryAcquire(plan.runs[size_t(index)].folder))
                std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    const SweepCounts counts = countStates(sweepStates(plan));
    std::cout << counts.toJson().dump() << std::endl;
    return counts.finished == counts.total ? 0 : 1;
}

int submitSlurm(const SweepPlan& plan, const SlurmOptions& options, bool dryRun)
{
    const std::vector<int> todo = unfinishedIndices(plan);
    if (todo.empty()) {
        std::cerr << "sweep: every run of " << plan.folder << " is finished; nothing to submit\n";
        std::cout << nlohmann::json{{"runs", 0}, {"counts", countStates(sweepStates(plan)).toJson()}}.dump() << std::endl;
        return 0;
    }
    const std::string script = (fs::path(plan.folder) / "submit.sbatch").string();
    writeFileAtomically(script, sbatchScript(plan, todo, options, selfPath()));
    nlohmann::json out = {{"script", script}, {"array", arrayRanges(todo)}, {"runs", todo.size()}};
    if (dryRun) {
        std::cerr << "sweep: wrote " << script << " (" << todo.size() << " array tasks); not submitted (--dry-run)\n";
        std::cout << out.dump() << std::endl;
        return 0;
    }
    const auto submitted = commandOutput("sbatch --parsable " + script);
    if (!submitted)
        throw Error("sbatch " + script + " failed (is Slurm's sbatch on PATH and the cluster up? try it by hand to see why)");
    const std::string jobId = submitted->substr(0, submitted->find_first_of(";\n"));
    nlohmann::json record = {{"submissions", slurmSubmissions(plan)}};
    record["submissions"].push_back({{"job_id", jobId}, {"indices", todo}, {"script", script}, {"submitted", RunStore::utcNow()}});
    writeFileAtomically((fs::path(plan.folder) / "slurm.json").string(), record.dump(2) + "\n");
    std::cerr << "sweep: submitted job array " << jobId << " (" << todo.size() << " tasks); follow it with tunebench-cli sweep status "
              << plan.folder << "\n";
    out["job_id"] = jobId;
    std::cout << out.dump() << std::endl;
    return 0;
}

int sweepStatus(const CliArgs& args)
{
    if (args.positional().size() != 1)
        throw Error("usage: tunebench-cli sweep status DIR");
    const SweepPlan plan = readSweepPlan(args.positional()[0]);
    const std::vector<RunState> states = sweepStates(plan);
    nlohmann::json out = countStates(states).toJson();
    out["failed_runs"] = nlohmann::json::array();
    for (std::size_t i = 0; i < states.size(); ++i)
        if (states[i] == RunState::Failed)
            out["failed_runs"].push_back(plan.runs[i].folder);
    std::cout << out.dump() << std::endl;
    return 0;
}

int sweepCollect(const CliArgs& args)
{
    if (args.positional().size() != 1)
        throw Error("usage: tunebench-cli sweep collect DIR");
    const SweepPlan plan = readSweepPlan(args.positional()[0]);
    const std::vector<SweepCell> cells = collectSweep(plan);
    nlohmann::json rows = nlohmann::json::array();
    // A sweep with an option grid has one more column: the grid point ("lr=0.002 n_ctx=4").
    std::string csv = plan.grid.empty() ? "dataset,method,shots,seeds,metric,mean,std\n" : "dataset,method,options,shots,seeds,metric,mean,std\n";
    std::cerr << "dataset                    method           shots seeds  mean ± std (%)\n";
    for (const SweepCell& cell : cells) {
        nlohmann::json row = {{"dataset", cell.dataset}, {"method", cell.method}, {"shots", cell.shots}, {"seeds", cell.seeds}};
        const std::string point = gridPointLabel(cell.options);
        if (!plan.grid.empty())
            row["options"] = cell.options;
        std::string text;
        for (const auto& [metric, mean] : cell.mean) {
            row[metric] = {{"mean", mean}, {"std", cell.stdev.at(metric)}};
            csv += cell.dataset + "," + cell.method + "," + (plan.grid.empty() ? "" : csvField(point) + ",") + std::to_string(cell.shots) +
                   "," + std::to_string(cell.seeds) + "," + metric + "," + nlohmann::json(mean).dump() + "," +
                   nlohmann::json(cell.stdev.at(metric)).dump() + "\n";
            char part[64];
            std::snprintf(part, sizeof part, "  %s %.2f ± %.2f", metric.c_str(), 100 * mean, 100 * cell.stdev.at(metric));
            text += part;
        }
        rows.push_back(row);
        char line[160];
        std::snprintf(line, sizeof line, "%-26s %-16s %5d %5d", cell.dataset.c_str(), cell.method.c_str(), cell.shots, cell.seeds);
        std::cerr << line << text << (point.empty() ? "" : "  (" + point + ")") << "\n";
    }
    const nlohmann::json table = {{"rows", rows}, {"counts", countStates(sweepStates(plan)).toJson()}};
    writeFileAtomically((fs::path(plan.folder) / "collect.json").string(), table.dump(2) + "\n");
    writeFileAtomically((fs::path(plan.folder) / "collect.csv").string(), csv);

    // The few-shot figure per dataset: H under base-to-new, else accuracy; zero-shot as the star at 0.
    const std::string noFigures = !plan.base.protocol.empty() ? "curves are drawn for few-shot sweeps (protocol " + plan.base.protocol + ")"
                                                               : figuresUnavailable();
    if (!noFigures.empty())
        std::cerr << "sweep collect: " << noFigures << "; collect.json and collect.csv are written\n";
    else
        for (const std::string& dataset : plan.datasets) {
            std::string metric;
            const std::vector<ShotCurve> curves = sweepCurves(plan, cells, dataset, &metric);
            std::string name;
            for (char c : dataset)
                name += std::isalnum(static_cast<unsigned char>(c)) || c == '-' ? c : '_';
            const fs::path png = fs::path(plan.folder) / ("curve-" + name + ".png");
            const std::string problem = writeShotCurveFigure(curves, dataset, metric == "h" ? "H (%)" : "Accuracy (%)", png.string(),
                                                             fs::path(png).replace_extension(".pdf").string());
            if (!problem.empty())
                std::cerr << "sweep collect: " << problem << "\n";
        }
    std::cout << table.dump() << std::endl;
    return 0;
}

int planAndRun(const CliArgs& args)
{
    RunSettings base = settingsFromArgs(args, {}, /*shotList=*/true);
    base.maxTestImages = intAtLeast(args, "max-test-images", 0, 0);
    if (base.model.empty())
        throw Error("--model PATH is required");
    base.model = absoluteIfPath(base.model);
    if (!base.vocab.empty())
        base.vocab = absoluteIfPath(base.vocab);
    // --opt name=a,b (or a JSON list) is an axis of the grid. A single value of a run setting (lr, epochs,
    // ...) sets it for every run, as its flag would; any other single value stays an option of every run.
    OptionGrid grid;
    for (const std::string& pair : args.values("opt")) {
        const auto eq = pair.find('=');
        if (eq == std::string::npos || eq == 0)
            continue;  // settingsFromArgs already refused it
        const std::string name = pair.substr(0, eq);
        const auto& settings = gridSettingNames();
        if (const auto values = gridValues(pair.substr(eq + 1))) {
            grid[name] = *values;
            base.options.erase(name);
        } else if (std::find(settings.begin(), settings.end(), name) != settings.end()) {
            nlohmann::json json = base.toJson();
            json[name] = base.options[name];
            base.options.erase(name);
            json["options"] = base.options;
            base = RunSettings::fromJson(json);
        }
    }
    std::vector<std::string> datasets;
    for (const std::string& dataset : splitComma(args.value("datasets", "")))
        datasets.push_back(absoluteIfPath(dataset));
    // The kind of study: few-shot (the default), or another protocol with its options.
    base.protocol = args.value("protocol", "");
    const StudyProtocol& protocol = findProtocol(base.protocol);
    base.protocol = protocol.name == "few-shot" ? "" : protocol.name;  // few-shot configs keep their shape
    base.protocolOptions = parseOptions(args.values("protocol-opt"));
    if (base.protocolOptions.contains("target") && base.protocolOptions["target"].is_string())  // array tasks start elsewhere
        base.protocolOptions["target"] = absoluteIfPath(base.protocolOptions["target"].get<std::string>());
    if (base.protocol.empty() && !base.protocolOptions.empty())
        throw Error("--protocol-opt: the few-shot protocol has no options (its settings are flags: --base-new, --eval-datasets, ...)");
    if (base.protocol == "continual") {
        if (base.protocolOptions.value("stream", "class") != "class")
            throw Error("--protocol continual: a sweep runs class-incremental streams (--protocol-opt tasks=T on each of --datasets); a "
                        "domain-incremental stream is one command: tunebench-cli continual --datasets D1,D2,...");
        if (!base.protocolOptions.contains("order_seed"))  // every seed sees the stream in the same class order
            base.protocolOptions["order_seed"] = parseInteger("--seeds", splitComma(args.value("seeds", "1")).front());
    }
    const auto out = args.value("out");
    if (!out)
        throw Error("--out DIR is required: the sweep's plan, run folders and logs go there");
    // The runs share one image-tower pass through a cache in the sweep folder, which every array task
    // reaches wherever the sweep folder is reachable.
    base.featureCache = featureCacheFolder(args, (fs::absolute(*out) / "feature-cache").lexically_normal().string());
    const bool slurm = args.flag("slurm"), inProcess = args.flag("in-process");
    const auto local = args.value("local");
    if (int(slurm) + int(inProcess) + int(static_cast<bool>(local)) != 1)
        throw Error("say where the runs go: --in-process (one after another in this process), --local N (worker processes here) or "
                    "--slurm (one job array)");
    const std::vector<int> seeds = parseSeeds(args.value("seeds", "1"));
    const SweepPlan plan = makeSweepPlan(*out, base, datasets, splitComma(args.value("methods", "")),
                                         parseShotCounts(args.value("shots", "16")), seeds, grid);
    writeSweepPlan(plan);
    if (slurm) {
        SlurmOptions options;
        options.partition = args.value("partition", "");
        options.gpusPerTask = args.intValue("gpus-per-task", 0);
        options.cpusPerTask = args.intValue("cpus-per-task", 1);
        options.time = args.value("time", "");
        options.maxConcurrent = args.intValue("max-concurrent", 0);
        if (options.cpusPerTask < 1 || options.gpusPerTask < 0 || options.maxConcurrent < 0)
            throw Error("--cpus-per-task must be at least 1, --gpus-per-task and --max-concurrent at least 0");
        return submitSlurm(plan, options, args.flag("dry-run"));
    }
    if (inProcess && !args.flag("dry-run")) {
        configureThreads(base.threads);
        RunControl control;
        const StopOnInterrupt stopOnInterrupt(control);
        const std::size_t todo = unfinishedIndices(plan).size();
        std::cerr << "sweep: " << todo << " of " << plan.runs.size() << " runs to run in this process\n";
        SweepHereCallbacks callbacks;
        callbacks.onLog = [](const SweepRun& run, const std::string& line) { std::cerr << "[" << run.index << "] " << line << "\n"; };
        const int finished = runSweepHere(plan, callbacks, &control);
        const SweepCounts counts = countStates(sweepStates(plan));
        std::cout << nlohmann::json{{"finished", finished}, {"counts", counts.toJson()}}.dump() << std::endl;
        return counts.finished == counts.total ? 0 : 1;
    }
    const int workers = inProcess ? 1 : parseInteger("--local", *local);
    if (workers < 1)
        throw Error("--local N: N worker processes, at least 1");
    if (args.flag("dry-run")) {
        const std::size_t todo = unfinishedIndices(plan).size();
        std::cerr << "sweep: planned " << plan.runs.size() << " runs in " << plan.folder << " (" << todo
                  << " unfinished); not run (--dry-run)\n";
        std::cout << nlohmann::json{{"plan", (fs::path(plan.folder) / "plan.json").string()}, {"total", plan.runs.size()}, {"runs", todo}}.dump()
                  << std::endl;
        return 0;
    }
    const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    return runLocal(plan, workers, base.threads > 0 ? base.threads : std::max(1, cores / workers));
}

} // namespace

std::vector<Command> sweepCommands()
{
    Options training;
    for (const Option& option : trainingOptions())
        if (option.name != "opt")
            training.push_back(option);
    return {
        {"sweep",
         "--model PATH --datasets D1,D2 --methods a,b --shots 1,2,4,8,16 --seeds 1,2,3 [--opt name=v1,v2 ...] --out DIR "
         "(--in-process | --local N | --slurm [--partition P --gpus-per-task G --cpus-per-task C --time HH:MM:SS --max-concurrent K]) [--dry-run]",
         "a plan of runs in DIR, run by N worker processes or as one Slurm job array; run again, it runs only what is unfinished",
         Options{
             {"model", "PATH", "the checkpoint (made absolute: array tasks start elsewhere)"},
             {"datasets", "D1,D2", "datasets (folders or built-in names)"},
             {"methods", "a,b", "the strategies"},
             {"shots", "1,2,4,8,16", "shot counts (default 16)"},
             {"seeds", "1,2,3", "seeds (default 1)"},
             {"opt", "name=VALUES",
              "a method option or a run setting (lr, epochs, batch_size, ...); several values (v1,v2 or a JSON list, "
              "[\"a, b\"] for one with a comma) are a grid: the sweep plans their product (repeatable)"},
             {"base-new", "", "base-to-new runs (Base, New, H)"},
             {"protocol", "NAME", "the kind of study: few-shot (default), adaptation (to --protocol-opt target=D) or continual "
                                  "(class-incremental: A_T, F_T per run)"},
             {"protocol-opt", "name=value", "an option of the protocol (repeatable): adaptation's target=D; continual's tasks=T, "
                                            "joint=true, test_per_class=K"},
             {"max-test-images", "N", "score a fixed seeded subset of each test split"},
             {"out", "DIR", "the sweep folder: plan.json, runs/, logs/, the shared feature cache"},
             {"in-process", "", "run here, one run after another in this process (one model load for all)"},
             {"local", "N", "run here with N worker processes"},
             {"slurm", "", "submit one Slurm job array"},
             {"partition", "P", "Slurm partition"},
             {"gpus-per-task", "G", "GPUs per array task (default 0)"},
             {"cpus-per-task", "C", "CPUs per array task (default 1)"},
             {"time", "HH:MM:SS", "each task's time limit (default: the partition's)"},
             {"max-concurrent", "K", "at most K array tasks at once (default: no limit)"},
             {"dry-run", "", "plan (and write the sbatch script) without running or submitting"},
         } + training,
         planAndRun},
        {"sweep status", "DIR", "{\"total\", \"finished\", \"failed\", \"running\", \"pending\"} of a sweep's runs", {}, sweepStatus, 1},
        {"sweep collect", "DIR", "mean ± std per dataset x method x grid point x shots (collect.csv/.json, curve-DATASET.png/.pdf)", {},
         sweepCollect, 1},
    };
}

} // namespace tunebench::cli
