// The executors of a study outside this process: --local N worker processes and a Slurm job array.
#include "app/cli/StudyExecutors.h"

#include "app/cli/CliArgs.h"
#include "core/Error.h"
#include "core/io/AtomicFile.h"
#include "core/io/FolderLock.h"
#include "core/train/RunStore.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
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
} // namespace

namespace {

std::string formatSeconds(double seconds)
{
    const auto total = static_cast<long long>(seconds + 0.5);
    char text[32];
    std::snprintf(text, sizeof text, "%lld:%02lld", total / 60, total % 60);
    return text;
}

} // namespace

std::vector<int> unfinishedIndices(const SweepPlan& plan)
{
    std::vector<int> indices;
    for (const SweepRun& run : plan.runs)
        if (runFolderState(run.folder) != RunState::Finished)
            indices.push_back(run.index);
    return indices;
}

namespace {

volatile std::sig_atomic_t g_stopLocal = 0;

extern "C" void stopLocalSweep(int)
{
    g_stopLocal = 1;
}

} // namespace

// Runs the unfinished runs here, `workers` at a time, each `train` with its share of the cores. Ctrl-C or
// SIGTERM starts no further run and asks the running ones to stop after their current step (each keeps
// its checkpoint; running the sweep again resumes them).
SweepCounts runPlanLocally(const SweepPlan& plan, int workers, int threads, const std::string& label)
{
    struct sigaction action = {};
    action.sa_handler = stopLocalSweep;  // no SA_RESTART: waitpid returns EINTR
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);
    bool stopping = false;
    const std::vector<int> todo = unfinishedIndices(plan);
    const std::string cli = selfPath();
    std::cerr << label << ": " << plan.runs.size() << " runs, " << plan.runs.size() - todo.size() << " finished, " << todo.size()
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
            std::cerr << label << ": stopping; the running runs stop after their current step and resume when it runs again\n";
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
            throw Error(std::string("waiting for the worker processes failed: ") + std::strerror(errno));
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
        std::cerr << label << ": " << done << "/" << todo.size() - static_cast<std::size_t>(skipped) << " done (" << failed << " failed), "
                  << running.size() << " running, ETA " << formatSeconds(eta)
                  << (finished ? "" : "; not finished: " + run.folder + " (see its train.log)") << "\n";
    }
    // What another process runs counts when it ends: wait for it, so the counts below are final.
    if (!elsewhere.empty() && !g_stopLocal) {
        std::cerr << label << ": " << elsewhere.size() << " run" << (elsewhere.size() == 1 ? " is" : "s are")
                  << " run by another process; waiting for them\n";
        for (int index : elsewhere)
            while (!g_stopLocal && !FolderLock::tryAcquire(plan.runs[size_t(index)].folder))
                std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return countStates(sweepStates(plan));
}

nlohmann::json submitPlanToSlurm(const SweepPlan& plan, const SlurmOptions& options, bool dryRun, const std::string& label)
{
    const std::vector<int> todo = unfinishedIndices(plan);
    if (todo.empty()) {
        std::cerr << label << ": every run of " << plan.folder << " is finished; nothing to submit\n";
        return nlohmann::json{{"runs", 0}, {"counts", countStates(sweepStates(plan)).toJson()}};
    }
    const std::string script = (fs::path(plan.folder) / "submit.sbatch").string();
    writeFileAtomically(script, sbatchScript(plan, todo, options, selfPath()));
    nlohmann::json out = {{"script", script}, {"array", arrayRanges(todo)}, {"runs", todo.size()}};
    if (dryRun) {
        std::cerr << label << ": wrote " << script << " (" << todo.size() << " array tasks); not submitted (--dry-run)\n";
        return out;
    }
    const auto submitted = commandOutput("sbatch --parsable " + script);
    if (!submitted)
        throw Error("sbatch " + script + " failed (is Slurm's sbatch on PATH and the cluster up? try it by hand to see why)");
    const std::string jobId = submitted->substr(0, submitted->find_first_of(";\n"));
    nlohmann::json record = {{"submissions", slurmSubmissions(plan)}};
    record["submissions"].push_back({{"job_id", jobId}, {"indices", todo}, {"script", script}, {"submitted", RunStore::utcNow()}});
    writeFileAtomically((fs::path(plan.folder) / "slurm.json").string(), record.dump(2) + "\n");
    std::cerr << label << ": submitted job array " << jobId << " (" << todo.size() << " tasks); follow it with tunebench-cli sweep status "
              << plan.folder << "\n";
    out["job_id"] = jobId;
    return out;
}

SlurmOptions slurmOptionsFromArgs(const CliArgs& args, const std::string& jobName)
{
    SlurmOptions options;
    options.partition = args.value("partition", "");
    options.gpusPerTask = args.intValue("gpus-per-task", 0);
    options.cpusPerTask = args.intValue("cpus-per-task", 1);
    options.time = args.value("time", "");
    options.maxConcurrent = args.intValue("max-concurrent", 0);
    options.jobName = jobName;
    if (options.cpusPerTask < 1 || options.gpusPerTask < 0 || options.maxConcurrent < 0)
        throw Error("--cpus-per-task must be at least 1, --gpus-per-task and --max-concurrent at least 0");
    return options;
}

const Options& executorOptions()
{
    static const Options options = {
        {"local", "N", "run here with N worker processes"},
        {"slurm", "", "submit one Slurm job array"},
        {"partition", "P", "Slurm partition"},
        {"gpus-per-task", "G", "GPUs per array task (default 0)"},
        {"cpus-per-task", "C", "CPUs per array task (default 1)"},
        {"time", "HH:MM:SS", "each task's time limit (default: the partition's)"},
        {"max-concurrent", "K", "at most K array tasks at once (default: no limit)"},
    };
    return options;
}

} // namespace tunebench::cli
