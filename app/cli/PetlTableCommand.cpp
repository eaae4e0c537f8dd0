// tunebench-cli petl-table: the VPT paper's Table 1 as a study. Every task x method x seed is one cell,
// trained with the method's recipe on the task's whole training split under the benchmark's final protocol
// (VTAB-1k: train800val200, FGVC: train + val) and tested on test; the cells are planned as a sweep in the
// table's folder (plan.json, runs/NNNN-METHOD-TASK-0shot-seedS/) and run in this process, by --local N
// worker processes or as a Slurm array. The table (core/experiment/PetlTable) is read back from the cells'
// results.json: mean accuracy per group, wins against Full, total params over the tasks. The study itself
// (tasks, plan, table files) is core/experiment/PetlStudy, which the window's PETL table tab shares.
#include "app/cli/Commands.h"

#include "app/cli/CliArgs.h"
#include "app/cli/RunSetup.h"
#include "app/cli/StudyExecutors.h"
#include "core/Device.h"
#include "core/Error.h"
#include "core/experiment/PetlStudy.h"
#include "core/io/FolderLock.h"
#include "core/train/RunControl.h"
#include "core/train/RunStore.h"
#include "core/tuning/StrategyInfo.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <map>
#include <thread>

namespace fs = std::filesystem;

namespace tunebench::cli {

namespace {

int runPetlTable(const CliArgs& args)
{
    const std::vector<std::string> items = splitCommaList(args.value("benchmark", ""));
    if (items.empty())
        throw Error("--benchmark vtab-1k|fgvc|DIR|DATASET,... is required");
    std::string defaultMethods;
    for (const std::string& method : vptTableMethods())
        defaultMethods += (defaultMethods.empty() ? "" : ",") + method;
    const std::vector<std::string> methods = splitCommaList(args.value("methods", defaultMethods));
    const std::vector<int> seeds = parseSeeds(args.value("seeds", "1"));
    if (methods.empty())
        throw Error("--methods needs at least one method");
    for (const std::string& method : methods)
        findStrategy(method);  // unknown names fail before anything is read
    const bool slurm = args.flag("slurm");
    const auto local = args.value("local");
    if (slurm && local)
        throw Error("--local N and --slurm are two places to run the cells: give one (neither: one after another in this process)");
    if (args.flag("dry-run") && !slurm)
        throw Error("--dry-run writes the sbatch script of --slurm without submitting it: it needs --slurm");
    const int workers = local ? parseInteger("--local", *local) : 0;
    if (local && workers < 1)
        throw Error("--local N: N worker processes, at least 1");

    RunSettings settings = settingsFromArgs(args, {}, /*shotList=*/true);
    if (settings.model.empty())
        throw Error("--model PATH is required");
    settings.maxTestImages = intAtLeast(args, "max-test-images", 0, 0);

    const std::vector<PetlStudyTask> tasks =
        resolvePetlTasks(items, args.value("group", "Other"), [](const std::string& message) { std::cerr << message << "\n"; });

    // The table's folder: --out DIR (run again, it runs only what is unfinished), else a new run folder.
    const auto out = args.value("out");
    const RunStore store = out ? RunStore::at(fs::absolute(*out).lexically_normal().string())
                               : RunStore::create(args.value("runs", RunStore::defaultRoot()), "petl-table", petlStudyLabel(items, tasks.size()));
    // The methods with a frozen tower (linear, mlp-3, ...) share one image-tower pass per task.
    settings.featureCache = featureCacheFolder(args, (fs::path(store.folder()) / "feature-cache").string());

    const PetlStudy study = planPetlStudy(store.folder(), settings, items, tasks, methods, seeds);
    const SweepPlan& plan = study.plan;
    writePetlStudy(store, study);
    std::cerr << "petl-table folder: " << store.folder() << " (" << tasks.size() << " tasks x " << methods.size() << " methods, "
              << plan.runs.size() << " runs in runs/)\n";

    if (slurm) {
        const nlohmann::json submitted =
            submitPlanToSlurm(plan, slurmOptionsFromArgs(args, "tunebench-petl-table"), args.flag("dry-run"), "petl-table");
        if (submitted.value("runs", 0) > 0) {
            if (!args.flag("dry-run"))
                std::cerr << "petl-table: once the array has finished, run this command again with --out " << store.folder()
                          << " to print the table\n";
            std::cout << submitted.dump() << std::endl;
            return 0;
        }
    } else if (local) {
        const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
        runPlanLocally(plan, workers, settings.threads > 0 ? settings.threads : std::max(1, cores / workers), "petl-table");
    } else {
        configureThreads(settings.threads);
        RunControl control;
        const StopOnInterrupt stopOnInterrupt(control);
        const FolderLock lock = store.lock();  // held while this process writes the folder
        SweepHereCallbacks callbacks;
        std::map<std::string, std::string> taskOfDataset = study.taskOfDataset();
        callbacks.onLog = [&](const SweepRun& run, const std::string& line) {
            std::cerr << "[" << taskOfDataset[run.dataset] << " " << run.method << " seed " << run.seed << "] " << line << "\n";
        };
        runSweepHere(plan, callbacks, &control);
    }

    const SweepCounts counts = countStates(sweepStates(plan));
    const PetlTable table = petlStudyTable(study);
    std::cerr << "\n" << petlTableLegend(study, table) << "\n" << table.text();
    if (counts.finished < counts.total)
        std::cerr << "\npetl-table: " << counts.finished << " of " << counts.total << " runs finished; a group missing a task shows '-'. "
                  << "Run again with --out " << store.folder() << " to run the rest\n";
    const nlohmann::json json = writePetlTableFiles(study, table, counts);
    std::cout << json.dump() << std::endl;
    return counts.finished == counts.total ? 0 : 1;
}

} // namespace

Command petlTableCommand()
{
    return {"petl-table",
            "--model PATH --benchmark vtab-1k|fgvc|DIR|DATASET,... [--methods a,b] [--seeds 1,2,3] [--out DIR] "
            "[--local N | --slurm [SLURM OPTIONS] [--dry-run]] [OPTIONS]",
            "the VPT paper's Table 1: each method on every task (final protocol, all training images, tested on test); mean "
            "accuracy per group, wins against Full, total params (table.csv, table.json, tasks.csv)",
            Options{
                {"model", "PATH", "the checkpoint (a ViT or a CLIP image tower)"},
                {"benchmark", "vtab-1k|fgvc|DIR|DATASET,...",
                 "the tasks: vtab-1k or fgvc (every task folder under $TUNEBENCH_DATA), task folders, a folder holding them, or "
                 "datasets standing in for tasks (fashion-mnist:sketch)"},
                {"group", "NAME", "the group of the datasets that are not VTAB-1k or FGVC tasks (default Other)"},
                {"methods", "a,b,c", "the strategies, one row each (default: the paper's nine)"},
                {"seeds", "1,2,3", "seeds averaged (default 1)"},
                {"max-test-images", "N", "score a fixed seeded subset of each test split (quick looks)"},
                {"out", "DIR", "the table's folder; run again with the same DIR, it runs only what is unfinished"},
                {"runs", "DIR", "without --out: where the table's run folder goes"},
            } + executorOptions() +
                Options{{"dry-run", "", "with --slurm: write the sbatch script without submitting it"}} + trainingOptions(),
            runPetlTable};
}

} // namespace tunebench::cli
