#include "core/data/ImageBatchSource.h"

#include "core/Error.h"
#include "core/data/SampleImage.h"

#include <opencv2/imgproc.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <numeric>

namespace tunebench {

// One batch of the epoch while its samples are being decoded. Workers write their sample's row of
// `inputs` without the lock (rows are disjoint); everything else is guarded by m_mutex.
struct ImageBatchSource::PendingBatch
{
    std::int64_t firstPosition = 0;
    std::int64_t count = 0;
    std::int64_t remaining = 0; // samples not yet finished; the batch is ready at 0
    at::Tensor inputs;          // allocated by the first worker that reaches the batch
    std::vector<char> loaded;   // per row: decoded (1) or skipped (0)
};

namespace {

using Clock = std::chrono::steady_clock;

// Why an image was skipped, without the path that decodeImage's messages quote (its problem line names it).
std::string skipReason(const std::string& name, const std::string& message)
{
    const std::string quotedName = "'" + name + "': ";
    const auto at = message.find(quotedName);
    return at != std::string::npos ? message.substr(at + quotedName.size()) : message;
}

} // namespace

ImageBatchSource::ImageBatchSource(std::shared_ptr<const DatasetIndex> dataset, std::vector<Sample> samples,
                                   ImagePipeline pipeline, LoaderOptions options)
    : m_dataset(std::move(dataset))
    , m_samples(std::move(samples))
    , m_pipeline(std::move(pipeline))
    , m_options(options)
{
    if (m_options.batchSize <= 0)
        throw Error("loader: the batch size must be positive, got " + std::to_string(m_options.batchSize));
    if (m_options.threads < 0)
        throw Error("loader: the thread count must be 0 (all cores) or positive, got "
                    + std::to_string(m_options.threads));
    if (m_options.prefetchBatches <= 0)
        throw Error("loader: the prefetch depth must be at least one batch, got "
                    + std::to_string(m_options.prefetchBatches));
    if (resolution() <= 0)
        throw Error("loader: the image resolution must be positive, got " + std::to_string(resolution()));
    m_threadCount = m_options.threads > 0 ? m_options.threads
                                          : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
    // Page-locked host memory lets the trainer copy batches to the GPU asynchronously.
    m_pinMemory = torch::cuda::is_available();
}

ImageBatchSource::~ImageBatchSource()
{
    stopWorkers();
}

int ImageBatchSource::resolution() const
{
    return m_pipeline.train ? m_pipeline.train->resolution : m_pipeline.eval.resolution;
}

std::int64_t ImageBatchSource::sampleCount() const
{
    return static_cast<std::int64_t>(m_samples.size());
}

std::int64_t ImageBatchSource::samplesInEpoch() const
{
    const std::int64_t n = sampleCount();
    return m_options.dropLast ? n / m_options.batchSize * m_options.batchSize : n;
}

std::int64_t ImageBatchSource::batchesPerEpoch() const
{
    const std::int64_t n = sampleCount();
    const std::int64_t size = m_options.batchSize;
    return m_options.dropLast ? n / size : (n + size - 1) / size;
}

void ImageBatchSource::stopWorkers()
{
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_stopping = true;
    }
    m_workAvailable.notify_all();
    for (std::thread& worker : m_workers)
        worker.join();
    m_workers.clear();
    std::lock_guard<std::mutex> lock(m_mutex);
    m_stopping = false;
}

int ImageBatchSource::activeWorkers() const
{
    return static_cast<int>(std::min<std::int64_t>(m_threadCount, samplesInEpoch()));
}

void ImageBatchSource::startWorkers()
{
    for (int i = 0; i < activeWorkers(); ++i)
        m_workers.emplace_back([this] { workerLoop(); });
}

void ImageBatchSource::startEpoch(std::int64_t epoch)
{
    stopWorkers();

    const std::int64_t n = sampleCount();
    std::vector<std::int64_t> order;
    if (m_options.shuffle) {
        // The same formula as TensorBatchSource, so cached features and images shuffle alike.
        order = seededPermutation(n, m_options.seed * 1000003ull + static_cast<std::uint64_t>(epoch));
    } else {
        order.resize(static_cast<size_t>(n));
        std::iota(order.begin(), order.end(), 0);
    }

    std::vector<std::unique_ptr<PendingBatch>> batches;
    const std::int64_t total = samplesInEpoch();
    for (std::int64_t first = 0; first < total; first += m_options.batchSize) {
        auto batch = std::make_unique<PendingBatch>();
        batch->firstPosition = first;
        batch->count = std::min<std::int64_t>(m_options.batchSize, total - first);
        batch->remaining = batch->count;
        batch->loaded.assign(static_cast<size_t>(batch->count), 0);
        batches.push_back(std::move(batch));
    }

    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_epoch = epoch;
        m_order = std::move(order);
        m_batches = std::move(batches);
        m_nextPosition = 0;
        m_consumedBatches = 0;
        if (m_imagesDone > 0 && m_workerSeconds > 0)
            m_previousImagesPerSecond = m_imagesDone / m_workerSeconds * activeWorkers();
        m_imagesDone = 0;
        m_workerSeconds = 0;
        m_epochStarted = true;
    }
    startWorkers();
}

void ImageBatchSource::workerLoop()
{
    const std::int64_t total = samplesInEpoch();
    const std::int64_t batchSize = m_options.batchSize;
    const int side = resolution();
    const std::int64_t floatsPerImage = 3 * static_cast<std::int64_t>(side) * side;

    std::unique_lock<std::mutex> lock(m_mutex);
    for (;;) {
        // Bounded prefetch: a worker only starts samples of the next `prefetchBatches` unconsumed batches.
        m_workAvailable.wait(lock, [&] {
            return m_stopping || m_nextPosition >= total
                   || m_nextPosition / batchSize < m_consumedBatches + m_options.prefetchBatches;
        });
        if (m_stopping || m_nextPosition >= total)
            return;

        const std::int64_t position = m_nextPosition++;
        PendingBatch& batch = *m_batches[static_cast<size_t>(position / batchSize)];
        const std::int64_t row = position - batch.firstPosition;
        const std::int64_t sampleIndex = m_order[static_cast<size_t>(position)];
        const std::uint64_t epoch = static_cast<std::uint64_t>(m_epoch);

        std::string failure;
        float* out = nullptr;
        try {
            if (!batch.inputs.defined())
                batch.inputs = torch::empty({batch.count, 3, side, side},
                                            torch::TensorOptions().dtype(torch::kFloat).pinned_memory(m_pinMemory));
            out = batch.inputs.data_ptr<float>() + row * floatsPerImage;
        } catch (const std::exception& e) {
            failure = std::string("cannot allocate the batch (") + e.what() + ")";
        }

        lock.unlock();
        const auto started = Clock::now();
        if (out) {
            try {
                loadSample(sampleIndex, epoch, out);
            } catch (const std::exception& e) {
                failure = e.what();
            } catch (...) {
                failure = "unknown error";
            }
        }
        const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
        lock.lock();

        m_workerSeconds += seconds;
        if (failure.empty()) {
            ++m_imagesDone;
            batch.loaded[static_cast<size_t>(row)] = 1;
        } else if (!m_skippedSamples.count(sampleIndex)) {
            const Sample& sample = m_samples[static_cast<size_t>(sampleIndex)];
            const std::string name =
                sample.idxIndex >= 0 ? sample.path + "[" + std::to_string(sample.idxIndex) + "]" : sample.path;
            const std::string why = skipReason(name, failure);
            m_skippedSamples.emplace(sampleIndex, why);
            std::string problem = name + ": " + why;
            if (m_problemSet.insert(problem).second)
                m_problems.push_back(std::move(problem));
        }
        if (--batch.remaining == 0)
            m_batchDone.notify_all();
    }
}

void ImageBatchSource::loadSample(std::int64_t sampleIndex, std::uint64_t epoch, float* out) const
{
    const Sample& sample = m_samples[static_cast<size_t>(sampleIndex)];
    cv::Mat rgb = readSampleImage(m_dataset.get(), sample);

    if (m_pipeline.train) {
        AugmentRng rng(sampleSeed(m_options.seed, epoch, static_cast<std::uint64_t>(sampleIndex)));
        m_pipeline.train->apply(rgb, rng, out);
    } else {
        m_pipeline.eval.apply(rgb, out);
    }
}

std::optional<Batch> ImageBatchSource::next()
{
    if (!m_epochStarted)
        startEpoch(0);

    std::unique_lock<std::mutex> lock(m_mutex);
    while (m_consumedBatches < static_cast<std::int64_t>(m_batches.size())) {
        const size_t slot = static_cast<size_t>(m_consumedBatches);
        m_batchDone.wait(lock, [&] { return m_batches[slot]->remaining == 0; });
        // Finished batches are no longer touched by workers, so it can leave the shared state.
        std::unique_ptr<PendingBatch> done = std::move(m_batches[slot]);
        ++m_consumedBatches;
        lock.unlock();
        m_workAvailable.notify_all();

        // Close the gaps left by skipped images; the storage (pinned or not) is kept.
        std::int64_t kept = 0;
        Batch batch;
        if (done->inputs.defined()) {
            const int side = resolution();
            const std::int64_t rowBytes = 3 * static_cast<std::int64_t>(side) * side * std::int64_t(sizeof(float));
            auto* base = static_cast<char*>(done->inputs.data_ptr());
            for (std::int64_t row = 0; row < done->count; ++row) {
                if (!done->loaded[static_cast<size_t>(row)])
                    continue;
                if (kept != row)
                    std::memmove(base + kept * rowBytes, base + row * rowBytes, static_cast<size_t>(rowBytes));
                batch.indices.push_back(m_order[static_cast<size_t>(done->firstPosition + row)]);
                ++kept;
            }
        }
        if (kept > 0) {
            batch.inputs = kept == done->count ? done->inputs : done->inputs.narrow(0, 0, kept);
            batch.labels = torch::empty({kept}, torch::kLong);
            auto* labels = batch.labels.data_ptr<std::int64_t>();
            for (std::int64_t i = 0; i < kept; ++i)
                labels[i] = m_samples[static_cast<size_t>(batch.indices[static_cast<size_t>(i)])].label;
            return batch;
        }
        lock.lock(); // every image of this batch failed: go on with the next one
    }
    return std::nullopt;
}

double ImageBatchSource::imagesPerSecond() const
{
    std::lock_guard<std::mutex> lock(m_mutex);
    if (m_imagesDone > 0 && m_workerSeconds > 0)
        return m_imagesDone / m_workerSeconds * activeWorkers();
    return m_previousImagesPerSecond;
}

std::int64_t ImageBatchSource::skippedCount() const
{
    std::lock_guard<std::mutex> lock(m_mutex);
    return static_cast<std::int64_t>(m_skippedSamples.size());
}

std::vector<std::string> ImageBatchSource::problems() const
{
    std::lock_guard<std::mutex> lock(m_mutex);
    return m_problems;
}

std::map<std::int64_t, std::string> ImageBatchSource::skipReasons() const
{
    std::lock_guard<std::mutex> lock(m_mutex);
    return m_skippedSamples;
}

} // namespace tunebench
