#include "core/experiment/PetlTable.h"

#include "core/Error.h"
#include "core/io/CsvField.h"
#include "core/experiment/RunOutcome.h"
#include "core/experiment/SeedStatistics.h"
#include "core/experiment/Sweep.h"
#include "core/tuning/StorageCost.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <set>

namespace tunebench {

namespace {

const char* const kFullMethod = "full";

// The paper's column order; a study's own groups (the demo's "Demo") follow in the order their tasks come.
std::vector<std::string> orderedGroups(const std::vector<PetlTableTask>& tasks)
{
    std::vector<std::string> groups;
    for (const char* known : {"FGVC", "Natural", "Specialized", "Structured"})
        if (std::any_of(tasks.begin(), tasks.end(), [&](const PetlTableTask& task) { return task.group == known; }))
            groups.push_back(known);
    for (const PetlTableTask& task : tasks)
        if (std::find(groups.begin(), groups.end(), task.group) == groups.end())
            groups.push_back(task.group);
    return groups;
}

nlohmann::json jsonOr(const std::optional<double>& value)
{
    return value ? nlohmann::json(*value) : nlohmann::json();
}

std::string padded(std::string text, std::size_t width)
{
    if (text.size() < width)
        text.resize(width, ' ');
    return text;
}

} // namespace

PetlTable makePetlTable(const std::vector<PetlTableTask>& tasks, const std::vector<std::string>& methods,
                        const std::vector<PetlTaskScore>& scores)
{
    PetlTable table;
    table.tasks = tasks;
    std::set<std::string> taskNames;
    for (const PetlTableTask& task : tasks)
        if (!taskNames.insert(task.name).second)
            throw Error("the table names task '" + task.name + "' twice");
    std::set<std::string> methodNames;
    for (const std::string& method : methods)
        if (!methodNames.insert(method).second)
            throw Error("the table names method '" + method + "' twice");
    table.groups = orderedGroups(tasks);
    table.hasFull = methodNames.count(kFullMethod) > 0;

    std::map<std::string, std::map<std::string, const PetlTaskScore*>> byMethod;  // method -> task -> score
    for (const PetlTaskScore& score : scores) {
        if (!taskNames.count(score.task))
            throw Error("a score of " + score.method + " names task '" + score.task + "', which is not in the table");
        if (!methodNames.count(score.method))
            continue;  // a method not asked for
        if (!byMethod[score.method].emplace(score.task, &score).second)
            throw Error("two scores of " + score.method + " on task '" + score.task + "'");
    }
    const auto& full = byMethod[kFullMethod];
    for (const std::string& method : methods) {
        const auto& own = byMethod[method];
        PetlTableRow row;
        row.method = method;
        for (const auto& [task, score] : own) {
            row.accuracies[task] = score->accuracy;
            row.trainable[task] = score->trainable;
        }
        for (const std::string& group : table.groups) {
            PetlGroupCell cell;
            cell.group = group;
            double sum = 0;
            bool complete = true;
            int wins = 0;
            for (const PetlTableTask& task : tasks) {
                if (task.group != group)
                    continue;
                ++cell.tasks;
                const auto it = own.find(task.name);
                if (it == own.end()) {
                    complete = false;
                    continue;
                }
                sum += it->second->accuracy;
                // A win is a task where both ran and the method scored strictly more than Full.
                if (const auto fullIt = full.find(task.name); fullIt != full.end() && it->second->accuracy > fullIt->second->accuracy)
                    ++wins;
            }
            if (complete && cell.tasks > 0)
                cell.mean = sum / cell.tasks;
            if (table.hasFull && method != kFullMethod)
                cell.wins = wins;
            row.groups.push_back(cell);
        }
        // Total params over every task of the table: the tasks' heads differ, so each task adds its own count.
        if (!tasks.empty() && own.size() == tasks.size()) {
            std::vector<std::int64_t> perTask;
            for (const PetlTableTask& task : tasks)
                perTask.push_back(own.at(task.name)->trainable);
            const PetlTaskScore& any = *own.at(tasks.front().name);
            if (any.backbone > 0)
                row.multiplier = storageMultiplier(any.shared, any.backbone, perTask);
        }
        table.rows.push_back(row);
    }
    return table;
}

nlohmann::json PetlTable::toJson() const
{
    nlohmann::json json;
    json["tasks"] = nlohmann::json::array();
    for (const PetlTableTask& task : tasks)
        json["tasks"].push_back({{"name", task.name}, {"group", task.group}});
    json["groups"] = nlohmann::json::array();
    for (const std::string& group : groups) {
        nlohmann::json names = nlohmann::json::array();
        for (const PetlTableTask& task : tasks)
            if (task.group == group)
                names.push_back(task.name);
        json["groups"].push_back({{"name", group}, {"tasks", names}});
    }
    json["rows"] = nlohmann::json::array();
    for (const PetlTableRow& row : rows) {
        nlohmann::json item = {{"method", row.method}, {"multiplier", jsonOr(row.multiplier)}};
        item["groups"] = nlohmann::json::object();
        for (const PetlGroupCell& cell : row.groups)
            item["groups"][cell.group] = {{"mean", jsonOr(cell.mean)},
                                          {"wins", cell.wins ? nlohmann::json(*cell.wins) : nlohmann::json()},
                                          {"tasks", cell.tasks}};
        item["accuracy"] = row.accuracies;
        item["trainable"] = row.trainable;
        json["rows"].push_back(item);
    }
    json["wins_against"] = hasFull ? nlohmann::json(kFullMethod) : nlohmann::json();
    return json;
}

std::string PetlTable::csv() const
{
    std::string out = "method";
    for (const std::string& group : groups)
        out += "," + csvField(group) + "," + csvField(group + " wins");
    out += ",total_params\n";
    for (const PetlTableRow& row : rows) {
        out += csvField(row.method);
        for (const PetlGroupCell& cell : row.groups)
            out += "," + (cell.mean ? nlohmann::json(*cell.mean).dump() : std::string()) + "," +
                   (cell.wins ? std::to_string(*cell.wins) : std::string());
        out += "," + (row.multiplier ? nlohmann::json(*row.multiplier).dump() : std::string()) + "\n";
    }
    return out;
}

std::string PetlTable::text() const
{
    std::size_t methodWidth = 8;
    for (const PetlTableRow& row : rows)
        methodWidth = std::max(methodWidth, row.method.size() + 2);
    std::vector<std::size_t> widths;
    std::string header = padded("method", methodWidth);
    for (const std::string& group : groups) {
        widths.push_back(std::max<std::size_t>(group.size() + 2, 14));
        header += padded(group, widths.back());
    }
    header += "Total params";
    std::string out = header + "\n";
    for (const PetlTableRow& row : rows) {
        std::string line = padded(row.method, methodWidth);
        for (std::size_t g = 0; g < row.groups.size(); ++g) {
            const PetlGroupCell& cell = row.groups[g];
            char text[48] = "-";
            if (cell.mean && cell.wins)
                std::snprintf(text, sizeof text, "%.2f (%d)", 100 * *cell.mean, *cell.wins);
            else if (cell.mean)
                std::snprintf(text, sizeof text, "%.2f", 100 * *cell.mean);
            line += padded(text, widths[g]);
        }
        char multiplier[32] = "-";
        if (row.multiplier)
            std::snprintf(multiplier, sizeof multiplier, "%.2fx", *row.multiplier);
        out += line + multiplier + "\n";
    }
    return out;
}

std::vector<PetlTaskScore> petlTaskScores(const SweepPlan& plan, const std::map<std::string, std::string>& taskOfDataset)
{
    struct Cell
    {
        SeedStatistics seeds;  // compare's order: the sum of the seeds, then one division
        nlohmann::json parameters;
    };
    std::map<std::pair<std::string, std::string>, Cell> cells;  // (task, method)
    std::vector<std::pair<std::string, std::string>> order;
    for (const SweepRun& run : plan.runs) {
        const std::string where = run.folder + "/results.json";
        std::ifstream file(where);
        if (!file)
            continue;  // not run yet
        const nlohmann::json results = nlohmann::json::parse(file, nullptr, /*allow_exceptions=*/false);
        if (!results.is_object() || results.value("status", "") != "finished")
            continue;
        const RunOutcome outcome = RunOutcome::fromJson(results, where);
        if (!outcome.accuracy)
            continue;
        const auto task = taskOfDataset.find(run.dataset);
        const std::pair<std::string, std::string> key{task == taskOfDataset.end() ? run.dataset : task->second, run.method};
        auto [it, added] = cells.try_emplace(key);
        if (added)
            order.push_back(key);
        it->second.seeds.startSeed();
        it->second.seeds.add("accuracy", *outcome.accuracy);
        if (results.contains("parameters") && results["parameters"].is_object())
            it->second.parameters = results["parameters"];
    }
    std::vector<PetlTaskScore> scores;
    for (const auto& key : order) {
        const Cell& cell = cells.at(key);
        PetlTaskScore score;
        score.task = key.first;
        score.method = key.second;
        score.seeds = cell.seeds.seeds();
        score.accuracy = cell.seeds.mean("accuracy").value();
        const nlohmann::json& parameters = cell.parameters;
        if (parameters.is_object()) {
            score.trainable = parameters.value("trainable", std::int64_t(0));
            score.backbone = parameters.value("backbone", std::int64_t(0));
            if (parameters.contains("shared")) {
                score.shared = parameters["shared"].get<std::int64_t>();
            } else if (score.backbone > 0) {
                // Results written before "shared" was recorded: it is what the multiplier leaves of the backbone.
                const double tasks = parameters.value("tasks", 1);
                const double multiplier = parameters.value("multiplier", 1.0);
                score.shared = std::llround(multiplier * double(score.backbone) - tasks * double(score.trainable));
            }
        }
        scores.push_back(score);
    }
    return scores;
}

} // namespace tunebench
