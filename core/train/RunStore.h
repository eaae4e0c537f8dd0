#pragma once

#include "core/io/FolderLock.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tunebench {

// What the run history shows of one run folder.
struct RunSummary
{
    std::string folder;   // absolute path
    std::string id;       // folder name: <timestamp>-<method>-<dataset>
    std::string method;
    std::string dataset;
    std::string model;
    std::string created;  // ISO 8601 UTC
    std::string status;   // "running" until results.json exists, then its "status" (finished, stopped, diverged)
    nlohmann::json settings;  // config.json's "settings" (RunSettings' JSON), or null
    nlohmann::json results;   // results.json, or null
};

// One run = one folder: config.json (enough to rerun), metrics.jsonl (one JSON object per logged
// step/epoch/eval, appended and flushed), results.json, checkpoint/, export/. JSON files are written
// atomically (temporary file, then rename), so a reader never sees half a file.
class RunStore
{
public:
    // $TUNEBENCH_RUNS_DIR, else ./runs.
    static std::string defaultRoot();
    // Now, ISO 8601 UTC ("2026-11-26T16:45:00Z"), for config.json's "created".
    static std::string utcNow();
    // Creates <root>/<UTC timestamp>-<method>-<dataset>/ (with a -2, -3 ... suffix when taken).
    static RunStore create(const std::string& root, const std::string& method, const std::string& dataset);
    // The name create would give now, "<UTC timestamp>-<method>-<dataset>", without creating anything: a
    // study names its cells' folders before they run.
    static std::string newFolderName(const std::string& method, const std::string& dataset);
    // An existing run folder; Error naming the folder when it has no config.json. A folder killed while
    // its config.json was written holds only config.json.tmp-*: a complete one becomes config.json (it
    // was written and synced, only the rename was lost), else the error says that nothing ran.
    static RunStore open(const std::string& folder);
    // A run folder at a name chosen beforehand (a study's cell), created when missing; its config.json is
    // the caller's to write.
    static RunStore at(const std::string& folder);

    const std::string& folder() const { return m_folder; }
    std::string checkpointDir() const;
    std::string exportDir() const;

    // Takes the folder's lock for as long as the returned object lives (Error naming the folder and the
    // holder's pid when another process writes it), then removes what interrupted writes left
    // (*.tmp-* here and in export/): under the lock no other writer can own them.
    FolderLock lock() const;
    // The same, or nullopt when another process holds the lock.
    std::optional<FolderLock> tryLock() const;
    // Resuming from a checkpoint of `epochsDone` epochs and `steps` steps: metrics.jsonl keeps its lines up
    // to that checkpoint (the steps and epochs it holds), so the steps run again are not logged twice.
    void keepMetricsUpTo(int epochsDone, std::int64_t steps) const;

    void writeConfig(const nlohmann::json& config) const;
    nlohmann::json readConfig() const;
    void appendMetric(const nlohmann::json& record) const;
    std::vector<nlohmann::json> readMetrics() const;
    void writeResults(const nlohmann::json& results) const;
    nlohmann::json readResults() const;  // null when absent

    // A JSON file read whole; errors name the file.
    static nlohmann::json readJsonFile(const std::string& path);

private:
    void removeTemporaries() const;
    explicit RunStore(std::string folder) : m_folder(std::move(folder)) {}
    std::string m_folder;
};

// The run folders under `root` (those with a config.json), newest first. A missing root gives none.
std::vector<RunSummary> listRuns(const std::string& root);

} // namespace tunebench
