#include "core/experiment/PetlStudy.h"

#include "core/Error.h"
#include "core/data/PetlBenchmarks.h"
#include "core/io/AtomicFile.h"
#include "core/io/CsvField.h"
#include "core/train/RunStore.h"
#include "core/tuning/StrategyInfo.h"

#include <cctype>
#include <cstdlib>
#include <filesystem>

namespace fs = std::filesystem;

namespace tunebench {

namespace {

const char* const kStudyMethod = "petl-table";

std::string lowercase(std::string text)
{
    for (char& c : text)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return text;
}

bool isWholeBenchmark(const std::string& item)
{
    const std::string name = lowercase(item);
    return name == "vtab-1k" || name == "fgvc";
}

PetlStudyTask benchmarkTask(const std::string& folder)
{
    const bool fgvc = isFgvcFolder(folder);
    const std::string name = fs::path(folder).filename().string();
    const PetlBenchmarkInfo* info = findPetlBenchmark(name, fgvc ? PetlFamily::Fgvc : PetlFamily::Vtab1k);
    // A VTAB-1k folder of another name than the 19 still reads; its group is the benchmark's.
    return {absoluteIfPath(folder), {name, info ? info->group : fgvc ? "FGVC" : "VTAB-1k"}};
}

// A dataset standing in for a task is named by itself, or a folder by its last part with its domain kept
// (shades:sketch).
std::string datasetTaskName(const std::string& item)
{
    std::error_code error;
    const auto colon = item.rfind(':');
    const bool whole = fs::exists(item, error);
    if (!whole && (colon == std::string::npos || !fs::exists(item.substr(0, colon), error)))
        return item;  // a built-in name
    const fs::path path = fs::path(whole ? item : item.substr(0, colon)).lexically_normal();
    std::string name = path.filename().string();
    if (name.empty())
        name = path.parent_path().filename().string();
    return whole ? name : name + item.substr(colon);
}

} // namespace

const std::vector<std::string>& vptTableMethods()
{
    static const std::vector<std::string> methods = {"full", "linear", "partial-1", "mlp-3", "sidetune", "bias", "adapter", "vpt-shallow", "vpt-deep"};
    return methods;
}

std::vector<PetlStudyTask> resolvePetlTasks(const std::vector<std::string>& items, const std::string& group, const DatasetProgress& progress)
{
    std::vector<PetlStudyTask> tasks;
    for (const std::string& item : items) {
        if (isWholeBenchmark(item)) {
            const char* root = std::getenv("TUNEBENCH_DATA");
            if (!root || !*root)
                throw Error("--benchmark " + item + " looks for its task folders under $TUNEBENCH_DATA, which is not set (or give the folders)");
            const bool fgvc = lowercase(item) == "fgvc";
            std::size_t found = 0;
            for (const std::string& folder : petlBenchmarkFolders(root))
                if (fgvc ? isFgvcFolder(folder) : isVtabTaskFolder(folder)) {
                    tasks.push_back(benchmarkTask(folder));
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
                tasks.push_back(benchmarkTask(item));
                continue;
            }
            if (const std::vector<std::string> folders = petlBenchmarkFolders(item); !folders.empty()) {
                for (const std::string& folder : folders)
                    tasks.push_back(benchmarkTask(folder));
                continue;
            }
        }
        openDataset(item, {}, progress);
        tasks.push_back({absoluteIfPath(item), {datasetTaskName(item), group}});
    }
    for (std::size_t i = 0; i < tasks.size(); ++i)
        for (std::size_t j = 0; j < i; ++j)
            if (tasks[i].task.name == tasks[j].task.name)
                throw Error("--benchmark: two tasks are called '" + tasks[i].task.name + "' (" + tasks[j].dataset + " and " + tasks[i].dataset +
                            "); a task is named by its folder, so give folders of different names");
    return tasks;
}

std::string petlStudyLabel(const std::vector<std::string>& items, std::size_t tasks)
{
    return items.size() == 1 && isWholeBenchmark(items[0]) ? lowercase(items[0]) : std::to_string(tasks) + "-tasks";
}

std::vector<PetlTableTask> PetlStudy::tableTasks() const
{
    std::vector<PetlTableTask> table;
    for (const PetlStudyTask& task : tasks)
        table.push_back(task.task);
    return table;
}

std::map<std::string, std::string> PetlStudy::taskOfDataset() const
{
    std::map<std::string, std::string> names;
    for (const PetlStudyTask& task : tasks)
        names[task.dataset] = task.task.name;
    return names;
}

PetlStudy planPetlStudy(const std::string& folder, RunSettings settings, const std::vector<std::string>& benchmark,
                        const std::vector<PetlStudyTask>& tasks, const std::vector<std::string>& methods, const std::vector<int>& seeds)
{
    if (tasks.empty())
        throw Error("a PETL table needs at least one task");
    settings.model = absoluteIfPath(settings.model);  // the cells may start in another folder (array tasks)
    if (!settings.vocab.empty())
        settings.vocab = absoluteIfPath(settings.vocab);
    settings.shots = 0;  // the table's protocol trains on every training image of the final split
    settings.baseNew = false;
    settings.tasks = static_cast<int>(tasks.size());  // each cell's own multiplier counts the table's tasks
    std::vector<std::string> datasets;
    for (const PetlStudyTask& task : tasks)
        datasets.push_back(task.dataset);
    PetlStudy study{benchmark, tasks, methods, seeds, {}};
    study.plan = makeSweepPlan(folder, settings, datasets, methods, {0}, seeds);
    return study;
}

void writePetlStudy(const RunStore& store, const PetlStudy& study)
{
    nlohmann::json tasks = nlohmann::json::array();
    for (const PetlStudyTask& task : study.tasks)
        tasks.push_back({{"name", task.task.name}, {"group", task.task.group}, {"dataset", task.dataset}});
    nlohmann::json settings = study.plan.base.toJson();
    settings["methods"] = study.methods;
    settings["seeds"] = study.seeds;
    settings["benchmark"] = study.benchmark;
    store.writeConfig({{"method", kStudyMethod}, {"dataset", petlStudyLabel(study.benchmark, study.tasks.size())},
                       {"model", study.plan.base.model}, {"created", RunStore::utcNow()}, {"settings", settings}, {"tasks", tasks}});
    writeSweepPlan(study.plan);
}

bool isPetlStudyFolder(const std::string& folder)
{
    const fs::path config = fs::path(folder) / "config.json";
    std::error_code error;
    if (!fs::is_regular_file(config, error))
        return false;
    try {
        return RunStore::readJsonFile(config.string()).value("method", "") == kStudyMethod;
    } catch (const std::exception&) {
        return false;
    }
}

PetlStudy readPetlStudy(const std::string& folder)
{
    const std::string configFile = (fs::path(folder) / "config.json").string();
    std::error_code error;
    if (!fs::is_regular_file(configFile, error))
        throw Error(folder + ": not a PETL table folder (no config.json)");
    const nlohmann::json config = RunStore::readJsonFile(configFile);
    if (config.value("method", "") != kStudyMethod)
        throw Error(configFile + ": not a PETL table (its \"method\" is '" + config.value("method", "") + "', not petl-table)");
    PetlStudy study;
    try {
        const nlohmann::json& settings = config.at("settings");
        study.methods = settings.at("methods").get<std::vector<std::string>>();
        study.seeds = settings.at("seeds").get<std::vector<int>>();
        study.benchmark = settings.value("benchmark", std::vector<std::string>{});
        for (const nlohmann::json& task : config.at("tasks"))
            study.tasks.push_back({task.at("dataset").get<std::string>(), {task.at("name").get<std::string>(), task.at("group").get<std::string>()}});
    } catch (const nlohmann::json::exception& e) {
        throw Error(configFile + ": not a PETL table's config (" + e.what() + ")");
    }
    study.plan = readSweepPlan(folder);
    return study;
}

PetlTable petlStudyTable(const PetlStudy& study)
{
    return makePetlTable(study.tableTasks(), study.methods, petlTaskScores(study.plan, study.taskOfDataset()));
}

std::string petlTableLegend(const PetlStudy& study, const PetlTable& table)
{
    std::string legend;
    for (const std::string& group : table.groups) {
        std::string names;
        for (const PetlStudyTask& task : study.tasks)
            if (task.task.group == group)
                names += (names.empty() ? "" : ", ") + task.task.name;
        legend += group + ": " + names + "\n";
    }
    const std::size_t seeds = study.seeds.size();
    legend += "accuracy % on test, the mean over each group's tasks and over " + std::to_string(seeds) + " seed" + (seeds == 1 ? "" : "s") +
              (table.hasFull ? "; (n): tasks where the method beats Full" : "") + "; Total params: storage for the " +
              std::to_string(study.tasks.size()) + " tasks relative to one backbone\n";
    return legend;
}

nlohmann::json writePetlTableFiles(const PetlStudy& study, const PetlTable& table, const SweepCounts& counts)
{
    nlohmann::json json = table.toJson();
    json["methods"] = study.methods;
    json["seeds"] = study.seeds;
    json["model"] = study.plan.base.model;
    json["run"] = study.plan.folder;
    json["counts"] = counts.toJson();
    std::string tasksCsv = "task,group,method,seeds,accuracy,trainable\n";
    for (const PetlTableRow& row : table.rows)
        for (const PetlStudyTask& task : study.tasks)
            if (const auto it = row.accuracies.find(task.task.name); it != row.accuracies.end())
                tasksCsv += csvField(task.task.name) + "," + csvField(task.task.group) + "," + csvField(row.method) + "," +
                            std::to_string(study.seeds.size()) + "," + nlohmann::json(it->second).dump() + "," +
                            std::to_string(row.trainable.at(task.task.name)) + "\n";
    const fs::path folder = study.plan.folder;
    writeFileAtomically((folder / "table.csv").string(), table.csv());
    writeFileAtomically((folder / "tasks.csv").string(), tasksCsv);
    writeFileAtomically((folder / "table.json").string(), json.dump(2) + "\n");
    RunStore::at(study.plan.folder).writeResults(json);
    return json;
}

} // namespace tunebench
