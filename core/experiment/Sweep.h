#pragma once
// Sweeps: every dataset x method x shot count x seed of a study as one plan in a folder, one run folder per
// run. Where the runs execute (worker processes here, a Slurm job array) is the CLI's business; this file
// plans, reads the state of each run from its folder, writes the sbatch script and collects the table.
// No Qt, no LibTorch.

#include "core/experiment/RunSettings.h"

#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace tunebench {

class CellBackbones;
class RunControl;
struct StepReport;

struct SweepRun
{
    int index = 0;          // the Slurm array index
    std::string dataset, method;
    nlohmann::json options = nlohmann::json::object();  // this run's point of the option grid
    int shots = 16;
    int seed = 1;
    std::string folder;     // absolute: DIR/runs/NNNN-method-dataset-[name-value-...]Kshot-seedS
};

// An option grid: each name with the values a sweep tries (`--opt lr=0.002,0.0005`). A name is one of the
// run settings gridSettingNames() lists, or an option of at least one method of the sweep; a method runs
// the product of the names it has (the others do not multiply its runs).
using OptionGrid = std::map<std::string, std::vector<nlohmann::json>>;
const std::vector<std::string>& gridSettingNames();  // lr, epochs, batch_size, max_steps, accumulate, checkpointing, crop_scale_min, precision

// `--opt name=VALUES` of a sweep: a JSON list (`n_ctx=[4,16]`, or `ctx_init=["a photo, of a"]` for a value with
// a comma) or comma-separated values (`lr=0.002,0.0005`) are the grid's; each value is JSON where it parses
// (numbers, true/false), else text. One value: nullopt (an ordinary option).
std::optional<std::vector<nlohmann::json>> gridValues(const std::string& text);

struct SweepPlan
{
    std::string folder;     // DIR, absolute
    RunSettings base;       // everything but dataset, method, shots, seed and the grid's values
    std::vector<std::string> datasets, methods;
    std::vector<int> shots, seeds;
    OptionGrid grid;        // empty: none
    std::vector<SweepRun> runs;
    nlohmann::json toJson() const;
};

// Every combination, datasets outermost, then methods, grid points, shots, seeds innermost. Errors: an empty
// list, an unknown method, a grid name no method has, a value the method's schema or the settings refuse.
SweepPlan makeSweepPlan(const std::string& folder, const RunSettings& base, const std::vector<std::string>& datasets,
                        const std::vector<std::string>& methods, const std::vector<int>& shots, const std::vector<int>& seeds,
                        const OptionGrid& grid = {});
// Paths that exist here become absolute, so that array tasks started in another folder find them; names
// (fashion-mnist, clip-vit-b16) and NAME:DOMAIN suffixes stay as they are.
std::string absoluteIfPath(const std::string& text);
// A run's settings: the plan's with its dataset, method, shots, seed and grid point.
RunSettings runSettingsOf(const SweepPlan& plan, const SweepRun& run);
// "lr=0.002 n_ctx=4" (empty without a grid point).
std::string gridPointLabel(const nlohmann::json& options);
// Writes plan.json, runs.txt (one run folder per line, in index order) and each run's folder with its
// config.json (what `train --config` reads). A folder that already holds a plan must hold this same plan
// (same runs and settings): Error naming what differs otherwise; nothing is rewritten then, so finished
// runs stay.
void writeSweepPlan(const SweepPlan& plan);
// The plan in DIR; Error naming plan.json when it is missing or damaged.
SweepPlan readSweepPlan(const std::string& folder);

enum class RunState { Pending, Running, Finished, Failed };
const char* runStateName(RunState state);
// What a run folder says by itself: results.json finished -> Finished; failed or diverged -> Failed;
// stopped, or no results yet -> Pending (a rerun resumes it from its last epoch).
RunState runFolderState(const std::string& folder);

struct SweepCounts
{
    int total = 0, finished = 0, failed = 0, running = 0, pending = 0;
    nlohmann::json toJson() const;
};
SweepCounts countStates(const std::vector<RunState>& states);
// The state of every run: its folder, a live local worker (worker.pid), and under Slurm squeue for each
// submission in DIR/slurm.json (queued array tasks are running or pending; a task that left its log but no
// finished result failed). Needs no accounting (sacct).
std::vector<RunState> sweepStates(const SweepPlan& plan);
// The Slurm submissions recorded in DIR/slurm.json ({"job_id", "indices", "script", "submitted"}), oldest first.
nlohmann::json slurmSubmissions(const SweepPlan& plan);
// A command's standard output (its stderr dropped), or nullopt when it could not run or exited non-zero.
std::optional<std::string> commandOutput(const std::string& command);

// "0-3,5,7-8" for sorted indices.
std::string arrayRanges(const std::vector<int>& indices);

struct SlurmOptions
{
    std::string partition;
    int gpusPerTask = 0;
    int cpusPerTask = 1;
    std::string time;        // HH:MM:SS, empty = the partition's limit
    int maxConcurrent = 0;   // 0 = no throttle
    std::string jobName = "tunebench-sweep";
};
// The sbatch script of one job array over `indices` (plan indices = array indices): each task runs
// `cli train --config RUN/config.json --run-folder RUN --threads $SLURM_CPUS_PER_TASK`, its log in
// DIR/logs/%x_%A_%a.out (appended, so a requeued task keeps its first attempt's lines).
std::string sbatchScript(const SweepPlan& plan, const std::vector<int>& indices, const SlurmOptions& options, const std::string& cli);

// A cell as the in-process executor gets it: its settings and its run folder (created when missing).
struct StudyCell
{
    RunSettings settings;
    std::string folder;
};
// What the in-process executor reports, on its thread, by index into its cells; any may be empty.
struct CellsHereCallbacks
{
    std::function<void(std::size_t cell)> onStart;                               // before a cell runs
    std::function<void(std::size_t cell, const std::string& line)> onLog;       // its lines
    std::function<void(std::size_t cell, const StepReport& step)> onStep;       // its training steps
    std::function<void(std::size_t cell, const nlohmann::json& results)> onDone;  // as a cell it ran ends
};
// The in-process executor: the cells one after another in this process, each through its protocol
// (runStudyCell, resuming what its folder holds), one backbone per model (from `backbones` when given: a
// caller that loaded one already). A finished cell is not run again: its folder's config.json must hold
// the same settings (definingSettings), else Error naming the folder and the first setting that differs.
// A cell another process holds is skipped, with a line. Returns how many cells finished here; a stop
// requested on `control` ends it after the current cell.
int runCellsHere(const std::vector<StudyCell>& cells, const CellsHereCallbacks& callbacks = {}, RunControl* control = nullptr,
                 CellBackbones* backbones = nullptr);

// A sweep's cells through runCellsHere, reported by run.
struct SweepHereCallbacks
{
    std::function<void(const SweepRun&, const std::string& line)> onLog;  // each run's lines
    std::function<void(const SweepRun&, const nlohmann::json& results)> onRunDone;  // each run it ran, as it ends
};
int runSweepHere(const SweepPlan& plan, const SweepHereCallbacks& callbacks = {}, RunControl* control = nullptr,
                 CellBackbones* backbones = nullptr);

// One cell of the collected table: a dataset, method, grid point and shot count over its finished seeds.
struct SweepCell
{
    std::string dataset, method;
    nlohmann::json options = nlohmann::json::object();  // the grid point
    int shots = 0;
    int seeds = 0;                       // finished runs in the cell
    std::map<std::string, double> mean;  // "accuracy", and "base", "new", "h" under base-to-new
    std::map<std::string, double> stdev; // sample standard deviation (0 for one seed)
};
// The table from the finished runs' results.json (their own numbers), in plan order.
std::vector<SweepCell> collectSweep(const SweepPlan& plan);

} // namespace tunebench
