#include "core/train/FeatureCache.h"

#include "core/Error.h"
#include "core/Utf8Path.h"
#include "core/io/Safetensors.h"
#include "core/io/Sha256.h"
#include "core/io/StateDict.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

namespace tunebench {

namespace {

namespace fs = std::filesystem;

constexpr const char* kKeyMetadata = "tunebench.feature_cache_key";
constexpr const char* kFeaturesName = "features";
constexpr const char* kLabelsName = "labels";

std::string environment(const char* name)
{
    const char* value = std::getenv(name);
    return value ? std::string(value) : std::string();
}

// The key as stored in the metadata; a file whose metadata differs belongs to another key (or to an older
// layout of this cache) and is recomputed.
std::string storedKeyText(const FeatureCacheKey& key)
{
    return key.toJson().dump();
}

// Checks the tensors of a file that claims to hold `key`; the shapes must describe one label per row.
bool shapesAreConsistent(const std::vector<std::int64_t>& featureShape, const std::vector<std::int64_t>& labelShape)
{
    return !featureShape.empty() && labelShape.size() == 1 && featureShape[0] == labelShape[0];
}

} // namespace

nlohmann::json FeatureCacheKey::toJson() const
{
    // Ordered keys (nlohmann::json's default object type is a std::map), so the dump and the digest
    // are stable across runs and machines.
    return nlohmann::json{{"model_sha256", modelHash}, {"dataset", dataset}, {"split", split},
                          {"transform", transform},    {"view", view},       {"samples", samples},
                          {"device", device},          {"version", 2}};
}

std::string FeatureCacheKey::digest() const
{
    const std::string text = storedKeyText(*this);
    return sha256Hex(text.data(), text.size());
}

FeatureCache::FeatureCache(std::string folder, std::uint64_t limitBytes)
    : m_folder(std::move(folder))
    , m_limit(limitBytes)
{
    if (m_folder.empty())
        throw Error("feature cache: the cache folder name is empty");
}

std::string FeatureCache::defaultFolder()
{
    if (std::string explicitFolder = environment("TUNEBENCH_CACHE_DIR"); !explicitFolder.empty())
        return explicitFolder;
    if (std::string xdg = environment("XDG_CACHE_HOME"); !xdg.empty())
        return utf8(pathFromUtf8(xdg) / "tunebench" / "features");
    std::string home = environment("HOME");
    if (home.empty()) // a service account without a home: still a usable, per-machine place
        return utf8(fs::temp_directory_path() / "tunebench-cache" / "features");
    return utf8(pathFromUtf8(home) / ".cache" / "tunebench" / "features");
}

std::string FeatureCache::pathFor(const FeatureCacheKey& key) const
{
    return utf8(pathFromUtf8(m_folder) / (key.digest() + ".safetensors"));
}

bool FeatureCache::contains(const FeatureCacheKey& key) const
{
    const std::string path = pathFor(key);
    std::error_code ec;
    if (!fs::is_regular_file(pathFromUtf8(path), ec))
        return false;
    try {
        const SafetensorsFile file(path);
        const auto stored = file.metadata().find(kKeyMetadata);
        const SafetensorInfo* features = file.find(kFeaturesName);
        const SafetensorInfo* labels = file.find(kLabelsName);
        return stored != file.metadata().end() && stored->second == storedKeyText(key) && features && labels
               && shapesAreConsistent(features->shape, labels->shape);
    } catch (const Error&) {
        return false;
    }
}

std::optional<std::pair<at::Tensor, at::Tensor>> FeatureCache::find(const FeatureCacheKey& key) const
{
    const std::string path = pathFor(key);
    std::error_code ec;
    if (!fs::is_regular_file(pathFromUtf8(path), ec))
        return std::nullopt;
    try {
        std::map<std::string, std::string> metadata;
        StateDict stored = readSafetensors(path, &metadata);
        const auto storedKey = metadata.find(kKeyMetadata);
        const auto features = stored.find(kFeaturesName);
        const auto labels = stored.find(kLabelsName);
        if (storedKey == metadata.end() || storedKey->second != storedKeyText(key) || features == stored.end() || labels == stored.end()
            || !shapesAreConsistent(features->second.sizes().vec(), labels->second.sizes().vec()))
            return std::nullopt;
        // Recently used: the size limit removes the least recently used files first.
        fs::last_write_time(pathFromUtf8(path), fs::file_time_type::clock::now(), ec);
        return std::make_pair(features->second, labels->second);
    } catch (const Error&) {
        return std::nullopt;  // a truncated or foreign file: the caller recomputes and replaces it
    }
}

void FeatureCache::store(const FeatureCacheKey& key, const at::Tensor& features, const at::Tensor& labels)
{
    const std::string path = pathFor(key);
    if (!features.defined() || !labels.defined())
        throw Error("feature cache: no tensors to store for " + path);
    if (!shapesAreConsistent(features.sizes().vec(), labels.sizes().vec()))
        throw Error("feature cache: features " + shapeString(features.sizes()) + " and labels " + shapeString(labels.sizes()) + " for " +
                    path + " do not have one label per row");
    m_lastWriteProblem.clear();
    try {
        fs::create_directories(pathFromUtf8(m_folder));
        writeSafetensors({{kFeaturesName, features.contiguous()}, {kLabelsName, labels.contiguous()}}, path,
                         {{kKeyMetadata, storedKeyText(key)}});
        trimToLimit(path);
    } catch (const Error& error) {
        m_lastWriteProblem = error.what();
    } catch (const fs::filesystem_error& error) {
        m_lastWriteProblem = m_folder + ": cannot create or trim the cache folder (" + error.code().message() + ")";
    }
}

std::pair<at::Tensor, at::Tensor> FeatureCache::getOrCompute(
    const FeatureCacheKey& key, const std::function<std::pair<at::Tensor, at::Tensor>()>& compute)
{
    if (auto hit = find(key))
        return *hit;
    auto [features, labels] = compute();
    if (!features.defined() || !labels.defined())
        throw Error("feature cache: the feature computation for " + pathFor(key) + " returned no tensors");
    store(key, features, labels);
    return {features, labels};
}

namespace {

struct CacheFile
{
    fs::path path;
    std::uint64_t bytes = 0;
    fs::file_time_type used;
};

// The files this cache wrote: a SHA-256 digest and ".safetensors" (plus, with `temporaries`, leftovers of
// interrupted stores, "<digest>.safetensors.tmp-..."). Anything else in the folder is not the cache's.
std::vector<CacheFile> cacheFiles(const std::string& folder, bool temporaries)
{
    std::vector<CacheFile> files;
    std::error_code ec;
    for (fs::directory_iterator it(pathFromUtf8(folder), ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = utf8(it->path().filename());
        const bool digestName = name.size() >= 76 && name.find_first_not_of("0123456789abcdef") == 64 &&
                                name.compare(64, 12, ".safetensors") == 0;
        const bool complete = digestName && name.size() == 76;
        const bool temporary = digestName && name.compare(64, 16, ".safetensors.tmp") == 0;
        std::error_code statError;
        if (!(complete || (temporaries && temporary)) || !it->is_regular_file(statError))
            continue;
        CacheFile file{it->path(), static_cast<std::uint64_t>(it->file_size(statError)), it->last_write_time(statError)};
        if (!statError)
            files.push_back(file);
    }
    return files;
}

} // namespace

std::uint64_t FeatureCache::defaultLimit()
{
    const std::string text = environment("TUNEBENCH_CACHE_LIMIT");
    if (text.empty())
        return 10ull << 30;
    std::size_t used = 0;
    double number = -1;
    try {
        number = std::stod(text, &used);
    } catch (const std::exception&) {
    }
    std::string unit = text.substr(used);
    if (!unit.empty() && (unit.back() == 'B' || unit.back() == 'b') && unit.size() > 1)
        unit.pop_back();  // "10GB", "10GiB" read as 10G
    if (unit.size() == 2 && (unit[1] == 'i' || unit[1] == 'I'))
        unit.pop_back();
    const std::string units = "KMGT";
    const std::size_t power = unit.empty() ? 0 : units.find(static_cast<char>(std::toupper(static_cast<unsigned char>(unit[0])))) + 1;
    if (number < 0 || used == 0 || unit.size() > 1 || (power == 0 && !unit.empty()) || power > units.size())
        throw Error("TUNEBENCH_CACHE_LIMIT: '" + text + "' is not a size (bytes, or a number with K, M, G or T, e.g. 20G)");
    return static_cast<std::uint64_t>(number * static_cast<double>(1ull << (10 * power)));
}

std::string FeatureCache::sizeText(std::uint64_t bytes)
{
    const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
    double value = static_cast<double>(bytes);
    int unit = 0;
    while (value >= 1024 && unit < 4) {
        value /= 1024;
        ++unit;
    }
    char text[32];
    if (unit == 0)
        std::snprintf(text, sizeof text, "%llu bytes", static_cast<unsigned long long>(bytes));
    else
        std::snprintf(text, sizeof text, "%.1f %s", value, units[unit]);
    return text;
}

FeatureCache::Usage FeatureCache::usage() const
{
    Usage usage;
    for (const CacheFile& file : cacheFiles(m_folder, false)) {
        ++usage.files;
        usage.bytes += file.bytes;
    }
    return usage;
}

FeatureCache::Usage FeatureCache::clear()
{
    Usage removed;
    for (const CacheFile& file : cacheFiles(m_folder, true)) {
        std::error_code ec;
        fs::remove(file.path, ec);
        if (ec && fs::exists(file.path))
            throw Error(utf8(file.path) + ": cannot remove (" + ec.message() + ")");
        ++removed.files;
        removed.bytes += file.bytes;
    }
    return removed;
}

void FeatureCache::trimToLimit(const std::string& keep)
{
    std::vector<CacheFile> files = cacheFiles(m_folder, false);
    std::uint64_t total = 0;
    for (const CacheFile& file : files)
        total += file.bytes;
    if (total <= m_limit)
        return;
    std::sort(files.begin(), files.end(), [](const CacheFile& a, const CacheFile& b) { return a.used < b.used; });
    for (const CacheFile& file : files) {
        if (total <= m_limit)
            break;
        if (utf8(file.path) == keep)
            continue;  // the file just stored is the one its caller wants next
        std::error_code ec;
        if (fs::remove(file.path, ec))
            total -= file.bytes;
    }
}

} // namespace tunebench
