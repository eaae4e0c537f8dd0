#include "core/train/RunStore.h"

#include "core/Error.h"
#include "core/io/AtomicFile.h"
#include "core/io/RegularFile.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;

namespace tunebench {

namespace {

std::string utcStamp(const char* format)
{
    const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm utc{};
    gmtime_r(&now, &utc);
    char buffer[64];
    std::strftime(buffer, sizeof buffer, format, &utc);
    return buffer;
}

// Folder names stay portable: letters, digits, '-', '_' and '.'; anything else becomes '_'.
std::string safeName(const std::string& text)
{
    std::string out;
    for (char ch : fs::path(text).filename().string())
        out += (std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.') ? ch : '_';
    return out.empty() ? "run" : out;
}

// "config.json.tmp-PID-N": what writeFileAtomically leaves of `name` when killed before its rename.
bool isTemporaryOf(const std::string& entry, const std::string& name)
{
    return entry.rfind(name + ".tmp-", 0) == 0;
}

} // namespace

std::string RunStore::defaultRoot()
{
    const char* env = std::getenv("TUNEBENCH_RUNS_DIR");
    return env && *env ? env : "runs";
}

std::string RunStore::utcNow()
{
    return utcStamp("%Y-%m-%dT%H:%M:%SZ");
}

std::string RunStore::newFolderName(const std::string& method, const std::string& dataset)
{
    return utcStamp("%Y%m%d-%H%M%S") + "-" + safeName(method) + "-" + safeName(dataset);
}

RunStore RunStore::create(const std::string& root, const std::string& method, const std::string& dataset)
{
    std::error_code ec;
    fs::create_directories(root, ec);
    if (ec)
        throw Error(root + ": cannot create the runs folder (" + ec.message() + ")");
    const std::string base = newFolderName(method, dataset);
    for (int attempt = 1; attempt < 1000; ++attempt) {
        const fs::path folder = fs::path(root) / (attempt == 1 ? base : base + "-" + std::to_string(attempt));
        // create_directory is atomic: two runs started in the same second get different folders.
        if (fs::create_directory(folder, ec)) {
            fs::create_directories(folder / "checkpoint");
            fs::create_directories(folder / "export");
            return RunStore(fs::absolute(folder).string());
        }
        if (ec)
            throw Error(folder.string() + ": cannot create the run folder (" + ec.message() + ")");
    }
    throw Error(root + ": too many runs named " + base);
}

RunStore RunStore::open(const std::string& folder)
{
    const fs::path config = fs::path(folder) / "config.json";
    if (!fs::is_regular_file(config)) {
        std::vector<fs::path> interrupted;
        std::error_code ec;
        if (fs::is_directory(folder, ec))
            for (const auto& entry : fs::directory_iterator(folder, ec))
                if (isTemporaryOf(entry.path().filename().string(), "config.json"))
                    interrupted.push_back(entry.path());
        if (interrupted.empty())
            throw Error(folder + ": not a run folder (no config.json)");
        for (const fs::path& candidate : interrupted) {
            try {
                if (RunStore::readJsonFile(candidate.string()).is_object()) {
                    fs::rename(candidate, config, ec);  // a second process may have renamed it first
                    break;
                }
            } catch (const Error&) {
            }
        }
        if (!fs::is_regular_file(config))
            throw Error(folder + ": a run stopped while its config.json was written (only " + interrupted.front().filename().string() +
                        " is left): nothing ran; start the run again (this folder can go)");
    }
    return RunStore(fs::absolute(folder).string());
}

FolderLock RunStore::lock() const
{
    FolderLock lock = FolderLock::acquire(m_folder);
    removeTemporaries();
    return lock;
}

std::optional<FolderLock> RunStore::tryLock() const
{
    std::optional<FolderLock> lock = FolderLock::tryAcquire(m_folder);
    if (lock)
        removeTemporaries();
    return lock;
}

void RunStore::removeTemporaries() const
{
    std::error_code ec;
    for (const fs::path& dir : {fs::path(m_folder), fs::path(exportDir())})
        for (const auto& entry : fs::directory_iterator(dir, ec))
            if (entry.path().filename().string().find(".tmp-") != std::string::npos)
                fs::remove(entry.path(), ec);
}

void RunStore::keepMetricsUpTo(int epochsDone, std::int64_t steps) const
{
    const fs::path path = fs::path(m_folder) / "metrics.jsonl";
    if (!fs::exists(path))
        return;
    requireRegularFile(path.string(), "metrics");
    std::ifstream in(path);
    std::string line, kept;
    // The training lines come first; the first line past the checkpoint (or after training) ends what stays.
    while (std::getline(in, line)) {
        nlohmann::json record;
        try {
            record = nlohmann::json::parse(line);
        } catch (const nlohmann::json::exception&) {
            break;
        }
        const std::string type = record.is_object() ? record.value("type", "") : "";
        const bool keep = (type == "step" && record.value("step", std::int64_t(0)) <= steps) ||
                          (type == "epoch" && record.value("epoch", 0) < epochsDone);  // epochs count from 0
        if (!keep)
            break;
        kept += line + "\n";
    }
    writeFileAtomically(path.string(), kept);
}

RunStore RunStore::at(const std::string& folder)
{
    std::error_code ec;
    fs::create_directories(folder, ec);
    if (ec)
        throw Error(folder + ": cannot create the run folder (" + ec.message() + ")");
    return RunStore(fs::absolute(folder).string());
}

std::string RunStore::checkpointDir() const
{
    return (fs::path(m_folder) / "checkpoint").string();
}

std::string RunStore::exportDir() const
{
    return (fs::path(m_folder) / "export").string();
}

nlohmann::json RunStore::readJsonFile(const std::string& path)
{
    requireRegularFile(path);
    std::ifstream in(path);
    if (!in)
        throw Error(path + ": cannot read");
    try {
        return nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
        throw Error(path + ": invalid JSON (" + e.what() + ")");
    }
}

void RunStore::writeConfig(const nlohmann::json& config) const
{
    writeFileAtomically((fs::path(m_folder) / "config.json").string(), config.dump(2) + "\n");
}

nlohmann::json RunStore::readConfig() const
{
    return readJsonFile((fs::path(m_folder) / "config.json").string());
}

void RunStore::appendMetric(const nlohmann::json& record) const
{
    const std::string path = (fs::path(m_folder) / "metrics.jsonl").string();
    std::ofstream out(path, std::ios::app);
    out << record.dump() << "\n";
    out.flush();
    if (!out)
        throw Error(path + ": cannot append");
}

std::vector<nlohmann::json> RunStore::readMetrics() const
{
    std::vector<nlohmann::json> records;
    requireRegularFile((fs::path(m_folder) / "metrics.jsonl").string(), "metrics");
    std::ifstream in(fs::path(m_folder) / "metrics.jsonl");
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty())
            continue;
        try {
            records.push_back(nlohmann::json::parse(line));
        } catch (const nlohmann::json::exception&) {
            break;  // a line cut short by a crash ends the readable part
        }
    }
    return records;
}

void RunStore::writeResults(const nlohmann::json& results) const
{
    writeFileAtomically((fs::path(m_folder) / "results.json").string(), results.dump(2) + "\n");
}

nlohmann::json RunStore::readResults() const
{
    const fs::path path = fs::path(m_folder) / "results.json";
    return fs::exists(path) ? readJsonFile(path.string()) : nlohmann::json();
}

std::vector<RunSummary> listRuns(const std::string& root)
{
    std::vector<RunSummary> runs;
    std::error_code ec;
    if (!fs::is_directory(root, ec))
        return runs;
    for (const auto& entry : fs::directory_iterator(root, ec)) {
        if (!entry.is_directory() || !fs::is_regular_file(entry.path() / "config.json"))
            continue;
        RunSummary summary;
        summary.folder = fs::absolute(entry.path()).string();
        summary.id = entry.path().filename().string();
        try {
            const auto config = RunStore::readJsonFile((entry.path() / "config.json").string());
            summary.method = config.value("method", "");
            summary.dataset = config.value("dataset", "");
            summary.model = config.value("model", "");
            summary.created = config.value("created", "");
            summary.settings = config.value("settings", nlohmann::json());
            const fs::path resultsPath = entry.path() / "results.json";
            if (fs::exists(resultsPath)) {
                summary.results = RunStore::readJsonFile(resultsPath.string());
                summary.status = summary.results.value("status", "finished");
            } else {
                summary.status = "running";
            }
        } catch (const Error&) {
            summary.status = "unreadable";
        }
        runs.push_back(std::move(summary));
    }
    // Folder names start with the UTC timestamp: newest first is reverse name order.
    std::sort(runs.begin(), runs.end(), [](const RunSummary& a, const RunSummary& b) { return a.id > b.id; });
    return runs;
}

} // namespace tunebench
