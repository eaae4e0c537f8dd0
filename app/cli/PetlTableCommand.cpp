// tunebench-cli petl-table: the VPT paper's Table 1 as a study. Every task x method x seed is one cell,
// trained with the method's recipe on the task's whole training split under the benchmark's final protocol
// (VTAB-1k: train800val200, FGVC: train + val) and tested on test; the cells are planned as a sweep in the
// table's folder (plan.json, runs/NNNN-METHOD-TASK-0shot-seedS/) and run in this process, by --local N
// worker processes or as a Slurm array. The table (core/experiment/PetlTable) is read back from the cells'
// results.json: mean accuracy per group, wins against Full, total params over the tasks.
#include "app/cli/Commands.h"

#include "app/cli/CliArgs.h"
#include "app/cli/RunSetup.h"
#include "app/cli/StudyExecutors.h"
#include "core/Device.h"
#include "core/Error.h"
#include "core/data/PetlBenchmarks.h"
#include "core/experiment/PetlTable.h"
#include "core/experiment/Protocol.h"
#include "core/experiment/Sweep.h"
#include "core/io/AtomicFile.h"
#include "core/io/CsvField.h"
#include "core/io/FolderLock.h"
#include "core/train/RunControl.h"
#include "core/train/RunStore.h"
#include "core/tuning/StrategyInfo.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <thread>

namespace fs = std::filesystem;

namespace tunebench::cli {

namespace {

// The nine strategies of the VPT paper's table, in its row order.
const char* const kDefaultMethods = "full,linear,partial-1,mlp-3,sidetune,bias,adapter,vpt-shallow,vpt-deep";

// A task of the table: the dataset its cells open (absolute when it is a path) and its name and group.
struct TableTask
{
    std::string dataset;
    PetlTableTask task;
};

std::string lowercase(std::string text)
{
    for (char& c : text)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return text;
}

TableTask petlTask(const std::string& folder)
{
    const bool fgvc = isFgvcFolder(folder);
    const std::string name = fs::path(folder).filename().string();
    const PetlBenchmarkInfo* info = findPetlBenchmark(name, fgvc ? PetlFamily::Fgvc : PetlFamily::Vtab1k);
    // A VTAB-1k folder of another name than the 19 still reads; its group is the benchmark's.
    return {absoluteIfPath(folder), {name, info ? info->group : fgvc ? "FGVC" : "VTAB-1k"}};
}

// --benchmark's items: vtab-1k and fgvc are every task folder of that benchmark under $TUNEBENCH_DATA (its
// root, root/vtab-1k, root/fgvc); a task folder is that task; a folder holding task folders is all of them;
// anything else is a dataset (a built-in name, NAME:DOMAIN, a folder of another layout) in group `group`.
std::vector<TableTask> resolveTasks(const std::vector<std::string>& items, const std::string& group)
{
    std::vector<TableTask> tasks;
    for (const std::string& item : items) {
        const std::string benchmark = lowercase(item);
        if (benchmark == "vtab-1k" || benchmark == "fgvc") {
            const char* root = std::getenv("TUNEBENCH_DATA");
            if (!root || !*root)
                throw Error("--benchmark " + item + " looks for its task folders under $TUNEBENCH_DATA, which is not set (or give the folders)");
            const bool fgvc = benchmark == "fgvc";
            std::size_t found = 0;
            for (const std::string& folder : petlBenchmarkFolders(root))
                if (fgvc ? isFgvcFolder(folder) : isVtabTaskFolder(folder)) {
                    tasks.push_back(petlTask(folder));
                    ++found;
                }
            if (found == 0)
                throw Error("--benchmark " + item + ": no " + (fgvc ? "FGVC dataset" : "VTAB-1k task") + " folder in $TUNEBENCH_DATA (" + root +
                            ", " + root + (fgvc ? "/fgvc" : "/vtab-1k") + "; tunebench-cli dataset list shows what is found)");
            continue;
        }
        std::error_code error;
        if (fs::is_directory(item, error)) {
            if (isVtabTaskFolder(item) || isFgvcFolder(item)) {
                tasks.push_back(petlTask(item));
                continue;
            }
            if (const std::vector<std::string> folders = petlBenchmarkFolders(item); !folders.empty()) {
                for (const std::string& folder : folders)
                    tasks.push_back(petlTask(folder));
                continue;
            }
        }
        // A dataset standing in for a task (the demo's domain variants): opened now, so that a wrong name
        // fails before anything trains.
        openDatasetLogged(item);
        const auto colon = item.rfind(':');
        const bool isPath = fs::exists(item, error) || (colon != std::string::npos && fs::exists(item.substr(0, colon), error));
        std::string name = item;
        if (isPath) {  // a folder is named by its last part, its domain kept: shades:sketch
            const bool whole = fs::exists(item, error);
            const std::string path = whole ? item : item.substr(0, colon);
            name = fs::path(path).lexically_normal().filename().string();
            if (name.empty())
                name = fs::path(path).lexically_normal().parent_path().filename().string();
            if (!whole)
                name += item.substr(colon);
        }
        tasks.push_back({absoluteIfPath(item), {name, group}});
    }
    for (std::size_t i = 0; i < tasks.size(); ++i)
        for (std::size_t j = 0; j < i; ++j)
            if (tasks[i].task.name == tasks[j].task.name)
                throw Error("--benchmark: two tasks are called '" + tasks[i].task.name + "' (" + tasks[j].dataset + " and " + tasks[i].dataset +
                            "); a task is named by its folder, so give folders of different names");
    return tasks;
}

int runPetlTable(const CliArgs& args)
{
    const std::vector<std::string> items = splitComma(args.value("benchmark", ""));
    if (items.empty())
        throw Error("--benchmark vtab-1k|fgvc|DIR|DATASET,... is required");
    const std::vector<std::string> methods = splitComma(args.value("methods", kDefaultMethods));
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
    settings.model = absoluteIfPath(settings.model);  // the cells may start in another folder (array tasks)
    if (!settings.vocab.empty())
        settings.vocab = absoluteIfPath(settings.vocab);
    settings.shots = 0;  // the table's protocol trains on every training image of the final split
    settings.baseNew = false;
    settings.maxTestImages = intAtLeast(args, "max-test-images", 0, 0);

    const std::vector<TableTask> tasks = resolveTasks(items, args.value("group", "Other"));
    settings.tasks = static_cast<int>(tasks.size());  // each cell's own multiplier counts the table's tasks

    // The table's folder: --out DIR (run again, it runs only what is unfinished), else a new run folder.
    const std::string label = items.size() == 1 && (lowercase(items[0]) == "vtab-1k" || lowercase(items[0]) == "fgvc")
                                  ? lowercase(items[0])
                                  : std::to_string(tasks.size()) + "-tasks";
    const auto out = args.value("out");
    const RunStore store = out ? RunStore::at(fs::absolute(*out).lexically_normal().string())
                               : RunStore::create(args.value("runs", RunStore::defaultRoot()), "petl-table", label);
    // The methods with a frozen tower (linear, mlp-3, ...) share one image-tower pass per task.
    settings.featureCache = featureCacheFolder(args, (fs::path(store.folder()) / "feature-cache").string());

    std::vector<std::string> datasets;
    std::map<std::string, std::string> taskOfDataset;
    std::vector<PetlTableTask> tableTasks;
    nlohmann::json tasksJson = nlohmann::json::array();
    for (const TableTask& task : tasks) {
        datasets.push_back(task.dataset);
        taskOfDataset[task.dataset] = task.task.name;
        tableTasks.push_back(task.task);
        tasksJson.push_back({{"name", task.task.name}, {"group", task.task.group}, {"dataset", task.dataset}});
    }
    const SweepPlan plan = makeSweepPlan(store.folder(), settings, datasets, methods, {0}, seeds);
    nlohmann::json settingsJson = settings.toJson();
    settingsJson["methods"] = methods;
    settingsJson["seeds"] = seeds;
    settingsJson["benchmark"] = items;
    store.writeConfig({{"method", "petl-table"}, {"dataset", label}, {"model", settings.model}, {"created", RunStore::utcNow()},
                       {"settings", settingsJson}, {"tasks", tasksJson}});
    writeSweepPlan(plan);
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
        callbacks.onLog = [&](const SweepRun& run, const std::string& line) {
            std::cerr << "[" << taskOfDataset[run.dataset] << " " << run.method << " seed " << run.seed << "] " << line << "\n";
        };
        runSweepHere(plan, callbacks, &control);
    }

    const SweepCounts counts = countStates(sweepStates(plan));
    const PetlTable table = makePetlTable(tableTasks, methods, petlTaskScores(plan, taskOfDataset));
    std::cerr << "\n";
    for (const std::string& group : table.groups) {
        std::string names;
        for (const PetlTableTask& task : tableTasks)
            if (task.group == group)
                names += (names.empty() ? "" : ", ") + task.name;
        std::cerr << group << ": " << names << "\n";
    }
    std::cerr << "accuracy % on test, the mean over each group's tasks and over " << seeds.size() << " seed" << (seeds.size() == 1 ? "" : "s")
              << (table.hasFull ? "; (n): tasks where the method beats Full" : "") << "; Total params: storage for the " << tasks.size()
              << " tasks relative to one backbone\n\n"
              << table.text();
    if (counts.finished < counts.total)
        std::cerr << "\npetl-table: " << counts.finished << " of " << counts.total << " runs finished; a group missing a task shows '-'. "
                  << "Run again with --out " << store.folder() << " to run the rest\n";

    nlohmann::json json = table.toJson();
    json["methods"] = methods;
    json["seeds"] = seeds;
    json["model"] = settings.model;
    json["run"] = store.folder();
    json["counts"] = counts.toJson();
    std::string tasksCsv = "task,group,method,seeds,accuracy,trainable\n";
    for (const PetlTableRow& row : table.rows)
        for (const PetlTableTask& task : tableTasks)
            if (const auto it = row.accuracies.find(task.name); it != row.accuracies.end())
                tasksCsv += csvField(task.name) + "," + csvField(task.group) + "," + csvField(row.method) + "," + std::to_string(seeds.size()) + "," +
                            nlohmann::json(it->second).dump() + "," + std::to_string(row.trainable.at(task.name)) + "\n";
    writeFileAtomically((fs::path(store.folder()) / "table.csv").string(), table.csv());
    writeFileAtomically((fs::path(store.folder()) / "tasks.csv").string(), tasksCsv);
    writeFileAtomically((fs::path(store.folder()) / "table.json").string(), json.dump(2) + "\n");
    store.writeResults(json);
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
