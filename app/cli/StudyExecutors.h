#pragma once
// The executors a study's plan runs under outside this process, shared by `sweep` and `petl-table`:
// worker processes here (--local N) and one Slurm job array (--slurm). Each runs every unfinished cell as
// `tunebench-cli train --config RUN/config.json --run-folder RUN`, so running a study again runs only what
// is unfinished, resuming from checkpoints. The in-process executor is core's (runSweepHere).

#include "app/cli/Command.h"
#include "core/experiment/Sweep.h"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace tunebench::cli {

class CliArgs;

// The plan indices of the runs whose folders do not say finished.
std::vector<int> unfinishedIndices(const SweepPlan& plan);

// Runs the unfinished runs here, `workers` at a time, each `train` with `threads` threads, progress lines on
// stderr prefixed by `label` ("sweep"). Ctrl-C or SIGTERM starts no further run and asks the running ones to
// stop after their current step (each keeps its checkpoint). Returns the runs' states once all have ended.
SweepCounts runPlanLocally(const SweepPlan& plan, int workers, int threads, const std::string& label);

// Writes DIR/submit.sbatch for the unfinished runs and submits it with sbatch (not with `dryRun`), recording
// the submission in DIR/slurm.json. Returns what the command prints: {"script", "array", "runs", "job_id"},
// or {"runs": 0, "counts"} when every run is finished (nothing is written then).
nlohmann::json submitPlanToSlurm(const SweepPlan& plan, const SlurmOptions& options, bool dryRun, const std::string& label);

// --partition, --gpus-per-task, --cpus-per-task, --time, --max-concurrent (executorOptions() declares them).
SlurmOptions slurmOptionsFromArgs(const CliArgs& args, const std::string& jobName);
// --local N, --slurm and the Slurm options, declared once for the commands that take them.
const Options& executorOptions();

} // namespace tunebench::cli
