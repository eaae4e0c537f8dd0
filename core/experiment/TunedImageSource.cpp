#include "core/experiment/TunedImageSource.h"

#include "core/Device.h"
#include "core/experiment/CachedFeatureSource.h"
#include "core/experiment/TunedModel.h"
#include "core/train/FeatureCache.h"
#include "core/train/RunStore.h"
#include "core/tuning/prompt/ClipStrategy.h"

#include <torch/torch.h>

namespace tunebench {

namespace {

// What names the cached features besides the model, the device, the transform and the files: images scored
// outside any dataset (predict's and Try it's share them).
constexpr const char* kDatasetName = "images";
constexpr const char* kRole = "predict";

} // namespace

struct TunedImageSource::Sources
{
    std::unique_ptr<CachedFeatureSource> features;
    std::unique_ptr<ImageBatchSource> images;
    BatchSource& source() { return features ? static_cast<BatchSource&>(*features) : *images; }
};

std::string whyNoImageTowerCache(const TunedModel& tuned)
{
    const StrategyInfo& info = findStrategy(tuned.strategy->name());
    if (!info.capabilities.frozenImageTower)
        return info.title + " changes the image tower's features";  // tunes it, or adds prompts or modules inside it
    if (!dynamic_cast<const ClipStrategy*>(tuned.strategy.get()))
        return info.title + " does not score image-tower features";
    if (tuned.backbone.checkpoint.spec.sha256.empty())
        return tuned.backbone.path + " has no SHA-256 to key the features with";
    return {};
}

std::string runFeatureCacheFolder(const std::string& runDir)
{
    const RunStore store = RunStore::open(runDir);
    return runFeatureCacheFolder(RunSettings::fromJson(store.readConfig().value("settings", nlohmann::json::object()), store.folder() + "/config.json"));
}

std::string runFeatureCacheFolder(const RunSettings& settings)
{
    return settings.featureCache.empty() ? FeatureCache::defaultFolder() : settings.featureCache;
}

TunedImageSource::TunedImageSource(TunedModel& tuned, const std::vector<std::string>& paths, const std::string& cacheFolder, int batchSize,
                                   int loaderThreads, Watch watch)
    : m_cacheFolder(cacheFolder), m_whyNoCache(whyNoImageTowerCache(tuned)), m_sources(std::make_unique<Sources>())
{
    auto dataset = std::make_shared<DatasetIndex>();
    dataset->name = kDatasetName;
    dataset->classNames = tuned.setup.classNames;
    for (const std::string& path : paths)
        dataset->test.push_back(Sample{path});
    const Backbone& backbone = tuned.backbone;
    const int resolution = backbone.checkpoint.spec.vision.imageSize;
    if (!usesCache()) {
        m_sources->images = makeSource(dataset, dataset->test, resolution, std::nullopt, batchSize, false, 1, loaderThreads);
        return;
    }
    ImagePipeline pipeline;
    pipeline.eval.resolution = resolution;
    LoaderOptions options;
    options.batchSize = batchSize;
    options.threads = loaderThreads;
    // The features are always computed in fp32 (predict has no autocast); the device names where.
    const CachedFeatureSource::Identity identity{backbone.checkpoint.spec.sha256, describeDevice(backbone.device), kDatasetName, kRole};
    auto* clip = dynamic_cast<ClipStrategy*>(tuned.strategy.get());
    auto encode = [clip, encoded = watch.encoded, count = std::int64_t(0)](const at::Tensor& images) mutable {
        at::Tensor features = clip->imageFeatures(images);
        count += images.size(0);
        if (encoded)
            encoded(count);
        return features;
    };
    m_sources->features = std::make_unique<CachedFeatureSource>(dataset, dataset->test, pipeline, options, std::move(encode),
                                                                std::make_shared<FeatureCache>(m_cacheFolder), identity, watch.cancelled);
}

TunedImageSource::~TunedImageSource() = default;

void TunedImageSource::startEpoch(std::int64_t epoch)
{
    m_sources->source().startEpoch(epoch);
}

std::optional<Batch> TunedImageSource::next()
{
    return m_sources->source().next();
}

std::int64_t TunedImageSource::batchesPerEpoch() const
{
    return m_sources->source().batchesPerEpoch();
}

std::int64_t TunedImageSource::sampleCount() const
{
    return m_sources->source().sampleCount();
}

bool TunedImageSource::usesCache() const
{
    return !m_cacheFolder.empty() && m_whyNoCache.empty();
}

std::int64_t TunedImageSource::imagesFromCache() const
{
    // A stored list holds every image (one with an unreadable image is never stored).
    return m_sources->features && m_sources->features->viewsReused() > 0 ? sampleCount() : 0;
}

std::int64_t TunedImageSource::imagesEncoded() const
{
    if (const auto& features = m_sources->features)
        return features->viewsComputed() > 0 ? sampleCount() - features->skippedCount() : 0;
    return sampleCount() - m_sources->images->skippedCount();
}

std::vector<std::string> TunedImageSource::problems() const
{
    return m_sources->features ? m_sources->features->problems() : m_sources->images->problems();
}

std::map<std::int64_t, std::string> TunedImageSource::skipReasons() const
{
    return m_sources->features ? m_sources->features->skipReasons() : m_sources->images->skipReasons();
}

std::string TunedImageSource::cacheReport() const
{
    const std::string encoded = std::to_string(imagesEncoded()) + " encoded";
    if (usesCache())
        return "image-tower cache " + m_cacheFolder + ": " + std::to_string(imagesFromCache()) + " images from the cache, " + encoded;
    if (!m_whyNoCache.empty())
        return "image-tower cache: not used (" + m_whyNoCache + "); " + encoded;
    return "image-tower cache: off; " + encoded;
}

std::string TunedImageSource::cacheWriteProblem() const
{
    return m_sources->features ? m_sources->features->lastWriteProblem() : std::string();
}

} // namespace tunebench
