#pragma once
// The VPT paper's Table 1 from a study's cells: one row per method; per group of tasks (FGVC; VTAB-1k's
// Natural, Specialized, Structured; any other group a study names) the mean accuracy over the group's
// tasks and, when Full is among the methods, the number of those tasks where the method beats Full; and
// "Total params", the storage multiplier over all the tasks. `tunebench-cli petl-table` plans the cells
// and reads their results.json; this file only tabulates. No Qt, no LibTorch.

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace tunebench {

struct SweepPlan;

// A task of the table and its group, in the order the table lists them.
struct PetlTableTask
{
    std::string name;
    std::string group;
};

// One method on one task: its test accuracy averaged over the seeds (SeedStatistics), and the parameter
// counts of its cells (results.json's "parameters"; the same for every seed).
struct PetlTaskScore
{
    std::string task, method;
    double accuracy = 0;        // in [0, 1]
    int seeds = 0;
    std::int64_t trainable = 0; // per task, its head included
    std::int64_t backbone = 0;
    std::int64_t shared = 0;    // one backbone, or 0 for Full (it stores a whole backbone per task)
};

struct PetlGroupCell
{
    std::string group;
    int tasks = 0;                 // the group's tasks
    std::optional<double> mean;    // over the group's tasks; none when the method lacks one of them
    std::optional<int> wins;       // tasks where accuracy > Full's (strictly); none for Full or without Full
};

struct PetlTableRow
{
    std::string method;
    std::vector<PetlGroupCell> groups;         // in PetlTable::groups order
    std::optional<double> multiplier;          // (shared + sum of trainable over the tasks) / backbone; none when a task lacks
    std::map<std::string, double> accuracies;  // by task, the tasks it has
    std::map<std::string, std::int64_t> trainable;  // by task
};

struct PetlTable
{
    std::vector<PetlTableTask> tasks;
    std::vector<std::string> groups;  // FGVC, Natural, Specialized, Structured first (the paper's order), then others as met
    std::vector<PetlTableRow> rows;   // in the order the methods were given
    bool hasFull = false;             // "full" is a method: the rows other than Full's count wins

    // {"tasks": [{"name", "group"}], "groups": [{"name", "tasks"}], "rows": [{"method", "groups": {NAME: {"mean", "wins"}},
    //  "multiplier", "accuracy": {TASK: a}, "trainable": {TASK: n}}]}; a missing figure is null.
    nlohmann::json toJson() const;
    // One line per method: method, then "GROUP" and "GROUP wins" per group, then total_params (empty when missing).
    std::string csv() const;
    // The layout the paper prints: accuracies in %, wins in parentheses, the multiplier with an "x".
    std::string text() const;
};

// Error when a score names a task that is not among `tasks`, or a task or method is named twice.
PetlTable makePetlTable(const std::vector<PetlTableTask>& tasks, const std::vector<std::string>& methods,
                        const std::vector<PetlTaskScore>& scores);

// The scores of a study's finished cells (results.json with status "finished"), one per task and method,
// their seeds averaged with SeedStatistics (the seeds that finished). A cell's task is
// `taskOfDataset[its dataset]`, else its dataset as planned. Parameter counts from the cells' "parameters"
// ("shared" derived from the multiplier in results written before it was recorded).
std::vector<PetlTaskScore> petlTaskScores(const SweepPlan& plan, const std::map<std::string, std::string>& taskOfDataset);

} // namespace tunebench
