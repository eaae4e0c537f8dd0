#pragma once
// The VPT paper's Table 1 as a study in one folder, shared by `tunebench-cli petl-table` and the window's
// PETL table tab: the tasks (resolved from what the user named: vtab-1k, fgvc, task folders, datasets
// standing in for tasks), the cells (task x method x seed) planned as a sweep, config.json saying
// "petl-table" with the tasks and their groups, and the table read back from the cells' results.json. Where
// the cells run (here, --local N, Slurm) is the caller's business. No Qt, no LibTorch.

#include "core/data/DatasetLayouts.h"
#include "core/experiment/PetlTable.h"
#include "core/experiment/Sweep.h"

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

namespace tunebench {

class RunStore;

// The nine strategies of the VPT paper's table, in its row order: petl-table's default methods.
const std::vector<std::string>& vptTableMethods();

// A task of the table: the dataset its cells open (absolute when it is a path), its name and group.
struct PetlStudyTask
{
    std::string dataset;
    PetlTableTask task;
};

// The tasks `items` name: vtab-1k and fgvc are every task folder of that benchmark under $TUNEBENCH_DATA (its
// root, root/vtab-1k, root/fgvc); a task folder is that task; a folder holding task folders is all of them;
// anything else is a dataset (a built-in name, NAME:DOMAIN, a folder of another layout) in group `group`,
// opened now (its progress lines to `progress`) so that a wrong name fails before anything trains. Errors
// name the item; two tasks of one name are an Error.
std::vector<PetlStudyTask> resolvePetlTasks(const std::vector<std::string>& items, const std::string& group,
                                            const DatasetProgress& progress = {});
// The table folder's label: "vtab-1k" or "fgvc" for a whole benchmark, else "N-tasks".
std::string petlStudyLabel(const std::vector<std::string>& items, std::size_t tasks);

struct PetlStudy
{
    std::vector<std::string> benchmark;  // what the user named (--benchmark)
    std::vector<PetlStudyTask> tasks;
    std::vector<std::string> methods;
    std::vector<int> seeds;
    SweepPlan plan;  // its folder is the study's

    std::vector<PetlTableTask> tableTasks() const;
    std::map<std::string, std::string> taskOfDataset() const;
};

// The study's cells in `folder`: every task x method x seed, trained on all of each task's training images
// (shots 0) and tested on test; `settings` gives the rest (model, schedule, device, feature cache). The model
// and vocabulary paths become absolute, and `settings.tasks` the table's task count (each cell's multiplier).
PetlStudy planPetlStudy(const std::string& folder, RunSettings settings, const std::vector<std::string>& benchmark,
                        const std::vector<PetlStudyTask>& tasks, const std::vector<std::string>& methods, const std::vector<int>& seeds);
// Writes the study's config.json ("method": "petl-table", its settings and tasks) and its plan (writeSweepPlan:
// a folder holding another plan is an Error, and nothing is rewritten).
void writePetlStudy(const RunStore& store, const PetlStudy& study);
// Whether `folder` holds a petl-table study (its config.json says so).
bool isPetlStudyFolder(const std::string& folder);
// The study in `folder`; Error naming config.json or plan.json when either is missing, damaged or not a table's.
PetlStudy readPetlStudy(const std::string& folder);

// The table of the study's finished cells (their seeds averaged).
PetlTable petlStudyTable(const PetlStudy& study);
// The lines the table is printed under: each group's tasks, then what the figures are.
std::string petlTableLegend(const PetlStudy& study, const PetlTable& table);
// Writes table.csv, tasks.csv (one line per task x method), table.json and the study's results.json, and
// returns what table.json holds: the table, the methods, seeds, model, folder and the cells' counts.
nlohmann::json writePetlTableFiles(const PetlStudy& study, const PetlTable& table, const SweepCounts& counts);

} // namespace tunebench
