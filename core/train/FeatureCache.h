#pragma once

#include <ATen/core/Tensor.h>
#include <nlohmann/json_fwd.hpp>

#include <functional>
#include <string>
#include <utility>

namespace tunebench {

// Everything that determines a frozen encoder's features: change any part and the cached file no longer
// applies. `transform` and `view` are free-form descriptions chosen by the caller (e.g. "eval224-crop1.0",
// "aug-pass-3").
struct FeatureCacheKey
{
    std::string modelHash; // SHA-256 of the weights
    std::string dataset;
    std::string split;
    std::string transform;
    std::string view;

    nlohmann::json toJson() const;
    // 64 hex digits: SHA-256 of toJson().dump(); names the cache file.
    std::string digest() const;
};

// Features of frozen encoders stored on disk as safetensors ("features", "labels"), one file per key,
// with the key's JSON in the file's metadata. Writers never lock: each writes a temporary file and
// renames it over the final name, so two runs that compute the same key at once both succeed and a
// reader only ever sees a complete file.
class FeatureCache
{
public:
    explicit FeatureCache(std::string folder = defaultFolder());

    // $TUNEBENCH_CACHE_DIR, else $XDG_CACHE_HOME/tunebench/features, else ~/.cache/tunebench/features.
    static std::string defaultFolder();

    // The cached {features, labels} for `key`; when absent, unreadable, corrupt, or stored for another
    // key, computes them with `compute` and stores them. A failure to store (read-only disk, full disk)
    // is not an error: the computed tensors are returned and lastWriteProblem() says why.
    std::pair<at::Tensor, at::Tensor> getOrCompute(const FeatureCacheKey& key,
                                                   const std::function<std::pair<at::Tensor, at::Tensor>()>& compute);
    // True when a valid file for exactly this key exists.
    bool contains(const FeatureCacheKey& key) const;
    std::string pathFor(const FeatureCacheKey& key) const;
    const std::string& folder() const { return m_folder; }
    // Empty, or "PATH: why" for the last store that failed.
    const std::string& lastWriteProblem() const { return m_lastWriteProblem; }

private:
    std::string m_folder;
    std::string m_lastWriteProblem;
};

} // namespace tunebench
