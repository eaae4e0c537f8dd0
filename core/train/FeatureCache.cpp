#include "core/train/FeatureCache.h"

#include "core/Error.h"
#include "core/Utf8Path.h"
#include "core/io/Safetensors.h"
#include "core/io/Sha256.h"
#include "core/io/StateDict.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

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
                          {"transform", transform},    {"view", view},       {"version", 1}};
}

std::string FeatureCacheKey::digest() const
{
    const std::string text = storedKeyText(*this);
    return sha256Hex(text.data(), text.size());
}

FeatureCache::FeatureCache(std::string folder)
    : m_folder(std::move(folder))
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

std::pair<at::Tensor, at::Tensor> FeatureCache::getOrCompute(
    const FeatureCacheKey& key, const std::function<std::pair<at::Tensor, at::Tensor>()>& compute)
{
    const std::string path = pathFor(key);
    const std::string keyText = storedKeyText(key);

    std::error_code ec;
    if (fs::is_regular_file(pathFromUtf8(path), ec)) {
        try {
            std::map<std::string, std::string> metadata;
            StateDict stored = readSafetensors(path, &metadata);
            const auto storedKey = metadata.find(kKeyMetadata);
            const auto features = stored.find(kFeaturesName);
            const auto labels = stored.find(kLabelsName);
            if (storedKey != metadata.end() && storedKey->second == keyText && features != stored.end()
                && labels != stored.end()
                && shapesAreConsistent(features->second.sizes().vec(), labels->second.sizes().vec()))
                return {features->second, labels->second};
        } catch (const Error&) {
            // A truncated or foreign file: recompute and replace it below.
        }
    }

    auto [features, labels] = compute();
    if (!features.defined() || !labels.defined())
        throw Error("feature cache: the feature computation for " + path + " returned no tensors");
    if (!shapesAreConsistent(features.sizes().vec(), labels.sizes().vec()))
        throw Error("feature cache: features " + shapeString(features.sizes()) + " and labels "
                    + shapeString(labels.sizes()) + " for " + path + " do not have one label per row");

    m_lastWriteProblem.clear();
    try {
        fs::create_directories(pathFromUtf8(m_folder));
        writeSafetensors({{kFeaturesName, features}, {kLabelsName, labels}}, path, {{kKeyMetadata, keyText}});
    } catch (const Error& error) {
        m_lastWriteProblem = error.what();
    } catch (const fs::filesystem_error& error) {
        m_lastWriteProblem = m_folder + ": cannot create the cache folder (" + error.code().message() + ")";
    }
    return {features, labels};
}

} // namespace tunebench
