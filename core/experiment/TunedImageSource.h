#pragma once
// The user's images as predict and the window's "Try it" give them to a tuned model: decoded with the run's
// evaluation transform at the model's resolution or, where the method keeps the image tower frozen, as that
// tower's features, read from the image-tower cache (and encoded and stored there when missing), so that the
// same images are never encoded twice.

#include "core/train/BatchSource.h"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace tunebench {

struct RunSettings;
struct TunedModel;

// Why `tuned`'s image-tower features cannot be cached ("VPT-Deep changes the image tower's features", ...), or empty when
// they can: a CLIP method whose image tower stays frozen (capabilities.frozenImageTower), on a checkpoint
// with a SHA-256.
std::string whyNoImageTowerCache(const TunedModel& tuned);

// The image-tower cache a run's images go to: its config.json's feature_cache, else
// FeatureCache::defaultFolder() (where the Mistakes view reads the run's test images too).
std::string runFeatureCacheFolder(const std::string& runDir);
std::string runFeatureCacheFolder(const RunSettings& settings);  // the same, from settings already read

class TunedImageSource : public BatchSource
{
public:
    // `paths` in order (Batch::indices are positions in it); `cacheFolder` empty: no cache. The features are
    // kept under one key for the whole list (CachedFeatureSource's: the model's SHA-256, the device, the
    // evaluation transform and each file's path, size and modification time), so a changed file encodes the
    // list again. A list with an unreadable image is not stored.
    // `watch`: for a long list, where the frozen tower encodes into the cache, `encoded` hears the images
    // encoded so far after each batch, and `cancelled` is polled between batches (true drops the view: the
    // epoch then yields nothing).
    struct Watch
    {
        std::function<void(std::int64_t encoded)> encoded;
        std::function<bool()> cancelled;
    };
    TunedImageSource(TunedModel& tuned, const std::vector<std::string>& paths, const std::string& cacheFolder, int batchSize,
                     int loaderThreads, Watch watch = {});
    ~TunedImageSource() override;
    TunedImageSource(const TunedImageSource&) = delete;
    TunedImageSource& operator=(const TunedImageSource&) = delete;

    // With the cache, the first epoch reads the features or encodes every image.
    void startEpoch(std::int64_t epoch) override;
    // Images [B, 3, H, W], or image-tower features [B, E] (usesCache()); every strategy's logits take both.
    std::optional<Batch> next() override;
    std::int64_t batchesPerEpoch() const override;
    std::int64_t sampleCount() const override;

    // Whether the batches are cached features: a cache folder was given and whyNoImageTowerCache() is empty.
    bool usesCache() const;
    const std::string& cacheFolder() const { return m_cacheFolder; }
    // After an epoch: images whose features came from the cache, and images read and encoded (by this source,
    // or by the strategy that scores the pixels).
    std::int64_t imagesFromCache() const;
    std::int64_t imagesEncoded() const;
    // "PATH: why" per unreadable image (left out of the batches), as ImageBatchSource reports them.
    std::vector<std::string> problems() const;
    // Why each unreadable image (by its index in the paths) could not be read, without its path.
    std::map<std::int64_t, std::string> skipReasons() const;
    // One line for messages: "image-tower cache DIR: 3 images from the cache, 0 encoded", or why none was used.
    std::string cacheReport() const;
    // Empty, or why the features could not be stored (the images are scored all the same).
    std::string cacheWriteProblem() const;

private:
    struct Sources;
    std::string m_cacheFolder;
    std::string m_whyNoCache;
    std::unique_ptr<Sources> m_sources;
};

} // namespace tunebench
