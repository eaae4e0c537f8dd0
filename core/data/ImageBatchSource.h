#pragma once

#include "core/data/DatasetIndex.h"
#include "core/data/ImagePreprocess.h"
#include "core/data/ImageTransforms.h"
#include "core/train/BatchSource.h"

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace tunebench {

struct LoaderOptions
{
    int batchSize = 32;
    bool shuffle = false;      // seeded order per epoch (seededPermutation)
    bool dropLast = false;
    int threads = 0;           // decoding threads; 0 = all cores
    int prefetchBatches = 4;   // batches decoded ahead of the consumer (bounded queue)
    std::uint64_t seed = 1;    // shuffle order and augmentation (sampleSeed(seed, epoch, index) per sample)
};

// The eval transform, unless `train` is set.
struct ImagePipeline
{
    EvalTransform eval;
    std::optional<TrainTransform> train;
};

// Decodes and transforms a dataset's images on worker threads into float32 [B, 3, H, W] batches (pinned
// memory when CUDA is present), a bounded number of batches ahead of the consumer.
//
// Batches depend only on (seed, epoch): the sample order is fixed when the epoch starts and every sample
// is augmented with its own seed, so thread count and timing never change a batch.
// An image that cannot be read or decoded is skipped: its batch is just smaller (the following batches
// keep their samples), and a batch whose images all failed is left out, so an epoch may yield fewer than
// batchesPerEpoch() batches, possibly none. Each such image is counted once and reported in problems().
//
// next() blocks only its caller; call it from the training thread, never a GUI thread. Not thread-safe
// itself: one consumer at a time.
class ImageBatchSource : public BatchSource
{
public:
    ImageBatchSource(std::shared_ptr<const DatasetIndex> dataset, std::vector<Sample> samples, ImagePipeline pipeline,
                     LoaderOptions options);
    ~ImageBatchSource() override; // stops and joins the workers, even mid-epoch

    ImageBatchSource(const ImageBatchSource&) = delete;
    ImageBatchSource& operator=(const ImageBatchSource&) = delete;

    // Abandons any epoch in progress. next() without startEpoch() starts epoch 0.
    void startEpoch(std::int64_t epoch) override;
    // Blocks until the next batch is ready; Batch.labels holds Sample.label, Batch.indices the positions in
    // the sample list.
    std::optional<Batch> next() override;
    std::int64_t batchesPerEpoch() const override;
    std::int64_t sampleCount() const override;

    // Images decoded and transformed per second of worker time, scaled by the thread count: what the
    // workers sustain while they work (waiting on a slow consumer is not counted). 0 before any image.
    double imagesPerSecond() const;
    // Samples skipped so far, each counted once however many epochs skip it again.
    std::int64_t skippedCount() const;
    // "PATH: why" per skipped image, deduplicated, in the order first seen.
    std::vector<std::string> problems() const;
    // Why each skipped sample (by its index in the sample list) could not be read, without its path.
    std::map<std::int64_t, std::string> skipReasons() const;

    int threadCount() const { return m_threadCount; }
    int resolution() const;

private:
    struct PendingBatch;

    void stopWorkers();
    void startWorkers();
    void workerLoop();
    // Decodes and transforms sample `sampleIndex` into `out`; throws on unreadable images.
    void loadSample(std::int64_t sampleIndex, std::uint64_t epoch, float* out) const;
    std::int64_t samplesInEpoch() const;
    int activeWorkers() const;

    std::shared_ptr<const DatasetIndex> m_dataset;
    std::vector<Sample> m_samples;
    ImagePipeline m_pipeline;
    LoaderOptions m_options;
    int m_threadCount = 1;
    bool m_pinMemory = false;

    mutable std::mutex m_mutex;
    std::condition_variable m_workAvailable; // workers: a sample entered the prefetch window, or stop
    std::condition_variable m_batchDone;     // consumer: a batch has all its samples
    std::vector<std::thread> m_workers;
    bool m_stopping = false;
    bool m_epochStarted = false;
    std::int64_t m_epoch = 0;
    std::vector<std::int64_t> m_order;                  // sample indices in epoch order
    std::vector<std::unique_ptr<PendingBatch>> m_batches;
    std::int64_t m_nextPosition = 0;    // next position in m_order a worker claims
    std::int64_t m_consumedBatches = 0; // batches handed out (or skipped) by next()

    std::int64_t m_imagesDone = 0;   // this epoch, successes
    double m_workerSeconds = 0;      // this epoch
    double m_previousImagesPerSecond = 0;
    std::map<std::int64_t, std::string> m_skippedSamples;  // sample index -> why
    std::vector<std::string> m_problems;
    std::set<std::string> m_problemSet;
};

} // namespace tunebench
