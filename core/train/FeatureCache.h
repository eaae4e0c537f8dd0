#pragma once

#include <ATen/core/Tensor.h>
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>

namespace tunebench {

// Everything that determines a frozen encoder's features: change any part and the cached file no longer
// applies. `transform` and `view` are free-form descriptions chosen by the caller (e.g. "eval224-crop1.0",
// "seed 1 epoch 3").
struct FeatureCacheKey
{
    std::string modelHash; // SHA-256 of the weights
    std::string dataset;
    std::string split;
    std::string transform;
    std::string view;
    std::string samples;   // digest of the samples' identities (files, labels, renderings); may be empty
    std::string device;    // where the features were computed ("cpu", "cuda"): the last bits differ

    nlohmann::json toJson() const;
    // 64 hex digits: SHA-256 of toJson().dump(); names the cache file.
    std::string digest() const;
};

// Features of frozen encoders stored on disk as safetensors ("features", "labels"), one file per key,
// with the key's JSON in the file's metadata. Writers never lock: each writes a temporary file and
// renames it over the final name, so two runs that compute the same key at once both succeed and a
// reader only ever sees a complete file.
//
// The folder is kept under a size limit: after each store the least recently used files (a read counts
// as a use) are removed until the rest fits. Only files this cache names (64 hex digits, .safetensors)
// are ever counted or removed.
class FeatureCache
{
public:
    explicit FeatureCache(std::string folder = defaultFolder(), std::uint64_t limitBytes = defaultLimit());

    // $TUNEBENCH_CACHE_DIR, else $XDG_CACHE_HOME/tunebench/features, else ~/.cache/tunebench/features.
    static std::string defaultFolder();
    // $TUNEBENCH_CACHE_LIMIT (bytes, or a number with K, M, G or T: binary units), else 10 GiB. Error
    // naming the variable when it is not such a size.
    static std::uint64_t defaultLimit();
    // "12.3 MiB" and the like, for messages.
    static std::string sizeText(std::uint64_t bytes);

    struct Usage
    {
        std::int64_t files = 0;
        std::uint64_t bytes = 0;
    };
    // The cache's files and their total size (nothing when the folder does not exist).
    Usage usage() const;
    // Removes every cache file (and leftover temporaries of interrupted stores); returns what it removed.
    // Error naming a file that cannot be removed.
    Usage clear();
    std::uint64_t limit() const { return m_limit; }

    // The stored {features, labels} for `key`, or nothing when absent, unreadable, corrupt or stored for
    // another key. A hit marks the file as recently used.
    std::optional<std::pair<at::Tensor, at::Tensor>> find(const FeatureCacheKey& key) const;
    // Stores them for `key`, then trims the folder to the limit. A failure to store (read-only disk, full
    // disk) is not an error: lastWriteProblem() says why. Error when the shapes do not match (one label
    // per row).
    void store(const FeatureCacheKey& key, const at::Tensor& features, const at::Tensor& labels);

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
    void trimToLimit(const std::string& keep);

    std::string m_folder;
    std::uint64_t m_limit;
    std::string m_lastWriteProblem;
};

} // namespace tunebench
