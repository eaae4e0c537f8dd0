#pragma once

#include "core/data/ImageBatchSource.h"
#include "core/train/FeatureCache.h"

#include <functional>
#include <memory>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace tunebench {

// Batches of a frozen image tower's outputs [B, E] in place of images: what an ImageBatchSource with the
// same samples, pipeline and options yields, passed through `encode`, in the same order.
//
// Each view of the samples (the evaluation transform, or one epoch of augmentation under the loader's
// seed) is encoded once for every sample, in sample order, and stored in `cache` under a key naming the
// model, the device, the dataset, the samples, the transform, the seed and the epoch. A later source
// with the same key, in this process or another, reads it instead. Each sample's augmentation depends
// only on (seed, epoch, its index), so methods with other batch sizes and epoch counts share the views
// they have in common.
//
// Unreadable images are skipped as ImageBatchSource skips them (smaller batches, problems()); a view
// with such an image is not stored, so that every run that uses it reports them.
class CachedFeatureSource : public BatchSource
{
public:
    using Encoder = std::function<at::Tensor(const at::Tensor& images)>;
    // What names the views besides the pipeline, the seed and the samples.
    struct Identity
    {
        std::string modelHash;  // the checkpoint's SHA-256
        std::string device;     // "cpu", "cuda"
        std::string dataset;
        std::string split;      // a readable role ("train", "test"); the samples' digest is the exact identity
    };

    // `abandon`: polled between batches while a view is encoded; when it returns true the view is dropped
    // (the epoch yields nothing).
    CachedFeatureSource(std::shared_ptr<const DatasetIndex> dataset, std::vector<Sample> samples, ImagePipeline pipeline,
                        LoaderOptions options, Encoder encode, std::shared_ptr<FeatureCache> cache, Identity identity,
                        std::function<bool()> abandon = {});

    void startEpoch(std::int64_t epoch) override;
    std::optional<Batch> next() override;
    std::int64_t batchesPerEpoch() const override;
    std::int64_t sampleCount() const override;

    // As ImageBatchSource's: samples skipped so far (each once), and "PATH: why" per skipped image.
    std::int64_t skippedCount() const { return static_cast<std::int64_t>(m_skipped.size()); }
    std::vector<std::string> problems() const { return m_problems; }
    const std::map<std::int64_t, std::string>& skipReasons() const { return m_skipped; }
    // Views read from the cache, and views encoded here, so far.
    int viewsReused() const { return m_reused; }
    int viewsComputed() const { return m_computed; }
    // Empty, or why the last view could not be stored (the run goes on without storing it).
    const std::string& lastWriteProblem() const { return m_writeProblem; }

    // The cache key of epoch `epoch`'s view (exposed for tests and messages).
    FeatureCacheKey viewKey(std::int64_t epoch) const;

private:
    void loadView(std::int64_t epoch);

    std::shared_ptr<const DatasetIndex> m_dataset;
    std::vector<Sample> m_samples;
    ImagePipeline m_pipeline;
    LoaderOptions m_options;
    Encoder m_encode;
    std::shared_ptr<FeatureCache> m_cache;
    Identity m_identity;
    std::function<bool()> m_abandon;
    std::string m_samplesDigest;
    std::string m_transform;

    std::string m_viewDigest;          // the key of the view in memory ("" = none)
    at::Tensor m_features, m_labels;   // [N, E], [N] in sample order (rows of unread samples are zero)
    std::vector<char> m_present;       // per sample: its image was read
    std::vector<std::int64_t> m_order;
    std::int64_t m_position = 0;
    bool m_epochStarted = false;

    std::map<std::int64_t, std::string> m_skipped;  // sample index -> why it could not be read
    std::vector<std::string> m_problems;
    int m_reused = 0, m_computed = 0;
    std::string m_writeProblem;
};

// A stable text for the pipeline's transform: every parameter that changes a pixel.
std::string transformDescription(const ImagePipeline& pipeline);
// SHA-256 over each sample's file, IDX index, label and rendering, and each file's size and modification
// time (an image replaced on disk changes it).
std::string samplesDigest(const std::vector<Sample>& samples);

} // namespace tunebench
