#include "core/experiment/CachedFeatureSource.h"

#include "core/Device.h"
#include "core/Utf8Path.h"
#include "core/io/Sha256.h"

#include <torch/torch.h>

#include <cstdio>
#include <filesystem>
#include <algorithm>
#include <map>
#include <numeric>

namespace fs = std::filesystem;

namespace tunebench {

namespace {

constexpr int kEncodeBatch = 64;

// The frozen tower's features of `inputs` on the CPU. A batch that does not fit the device is encoded in
// halves, down to single images: each image's features do not depend on the rest of its batch.
at::Tensor encodeInPieces(const CachedFeatureSource::Encoder& encode, const at::Tensor& inputs)
{
    try {
        return encode(inputs).to(torch::kCPU);
    } catch (const std::exception& e) {
        if (!isOutOfMemory(e) || inputs.size(0) == 1)
            throw;
    }  // the failed attempt's tensors are freed here, before the halves run
    const std::int64_t half = inputs.size(0) / 2;
    return torch::cat({encodeInPieces(encode, inputs.slice(0, 0, half)), encodeInPieces(encode, inputs.slice(0, half))});
}

std::string numberText(double value)
{
    char text[40];
    std::snprintf(text, sizeof text, "%.17g", value);
    return text;
}

std::string normalizationText(const Normalization& norm)
{
    std::string text = "mean";
    for (float m : norm.mean)
        text += " " + numberText(m);
    text += " std";
    for (float s : norm.std)
        text += " " + numberText(s);
    return text;
}

} // namespace

std::string transformDescription(const ImagePipeline& pipeline)
{
    if (const auto& train = pipeline.train)
        return "train res " + std::to_string(train->resolution) + " scale " + numberText(train->scaleMin) + "-" +
               numberText(train->scaleMax) + " ratio " + numberText(train->ratioMin) + "-" + numberText(train->ratioMax) + " flip " +
               (train->flip ? "1" : "0") + " filter " + std::to_string(static_cast<int>(train->filter)) + " " + normalizationText(train->norm);
    const EvalTransform& eval = pipeline.eval;
    return "eval res " + std::to_string(eval.resolution) + " crop " + numberText(eval.cropFraction) + " filter " +
           std::to_string(static_cast<int>(eval.filter)) + " " + normalizationText(eval.norm);
}

std::string samplesDigest(const std::vector<Sample>& samples)
{
    Sha256 hasher;
    std::map<std::string, std::string> fileSignatures;  // IDX samples share one file
    for (const Sample& sample : samples) {
        auto [it, inserted] = fileSignatures.try_emplace(sample.path);
        if (inserted) {
            std::error_code error;
            const fs::path path = pathFromUtf8(sample.path);
            const auto size = fs::file_size(path, error);
            const auto time = fs::last_write_time(path, error);
            it->second = error ? "unreadable" : std::to_string(size) + " " + std::to_string(time.time_since_epoch().count());
        }
        const std::string line = sample.path + '\t' + std::to_string(sample.idxIndex) + '\t' + std::to_string(sample.label) + '\t' +
                                 std::to_string(sample.domain) + '\t' + it->second + '\n';
        hasher.update(line.data(), line.size());
    }
    return hasher.hexDigest();
}

CachedFeatureSource::CachedFeatureSource(std::shared_ptr<const DatasetIndex> dataset, std::vector<Sample> samples, ImagePipeline pipeline,
                                         LoaderOptions options, Encoder encode, std::shared_ptr<FeatureCache> cache, Identity identity,
                                         std::function<bool()> abandon)
    : m_dataset(std::move(dataset))
    , m_samples(std::move(samples))
    , m_pipeline(std::move(pipeline))
    , m_options(options)
    , m_encode(std::move(encode))
    , m_cache(std::move(cache))
    , m_identity(std::move(identity))
    , m_abandon(std::move(abandon))
{
    m_options.batchSize = std::max(1, m_options.batchSize);
    m_samplesDigest = samplesDigest(m_samples);
    m_transform = transformDescription(m_pipeline);
}

FeatureCacheKey CachedFeatureSource::viewKey(std::int64_t epoch) const
{
    FeatureCacheKey key;
    key.modelHash = m_identity.modelHash;
    key.device = m_identity.device;
    key.dataset = m_identity.dataset;
    key.split = m_identity.split;
    key.samples = m_samplesDigest;
    key.transform = m_transform;
    // Evaluation views depend on neither the seed nor the epoch: one view serves every run.
    key.view = m_pipeline.train ? "seed " + std::to_string(m_options.seed) + " epoch " + std::to_string(epoch) : "eval";
    return key;
}

void CachedFeatureSource::loadView(std::int64_t epoch)
{
    const FeatureCacheKey key = viewKey(epoch);
    const std::string digest = key.digest();
    if (digest == m_viewDigest)
        return;  // the evaluation view again
    m_viewDigest.clear();
    const auto n = static_cast<std::size_t>(m_samples.size());
    if (auto hit = m_cache->find(key); hit && hit->first.size(0) == static_cast<std::int64_t>(n)) {
        m_features = hit->first;
        m_labels = hit->second;
        m_present.assign(n, 1);
        m_viewDigest = digest;
        ++m_reused;
        return;
    }

    // Every sample in sample order; augmentation is per sample, so this order gives the same views.
    LoaderOptions options = m_options;
    options.batchSize = kEncodeBatch;
    options.shuffle = false;
    options.dropLast = false;
    ImageBatchSource images(m_dataset, m_samples, m_pipeline, options);
    images.startEpoch(epoch);
    m_present.assign(n, 0);
    at::Tensor features;
    bool abandoned = false;
    while (auto batch = images.next()) {
        if (m_abandon && m_abandon()) {
            abandoned = true;
            break;
        }
        const at::Tensor encoded = encodeInPieces(m_encode, batch->inputs);
        if (!features.defined())
            features = torch::zeros({static_cast<std::int64_t>(n), encoded.size(1)}, encoded.options());
        const auto rows = torch::tensor(batch->indices, torch::kLong);
        features.index_copy_(0, rows, encoded);
        for (std::int64_t index : batch->indices)
            m_present[static_cast<std::size_t>(index)] = 1;
    }
    std::vector<std::int64_t> labels(n);
    for (std::size_t i = 0; i < n; ++i)
        labels[i] = m_samples[i].label;
    m_labels = torch::tensor(labels, torch::kLong);
    m_features = features.defined() ? features : torch::zeros({static_cast<std::int64_t>(n), 0});
    for (const std::string& problem : images.problems())
        if (std::find(m_problems.begin(), m_problems.end(), problem) == m_problems.end())
            m_problems.push_back(problem);
    const auto reasons = images.skipReasons();
    for (std::size_t i = 0; i < n && !abandoned; ++i)
        if (!m_present[i]) {
            const auto reason = reasons.find(static_cast<std::int64_t>(i));
            m_skipped.emplace(static_cast<std::int64_t>(i), reason != reasons.end() ? reason->second : "could not be read");
        }
    if (abandoned) {
        m_present.assign(n, 0);
        return;
    }
    ++m_computed;
    if (images.skippedCount() == 0 && features.defined()) {
        m_cache->store(key, m_features, m_labels);
        m_writeProblem = m_cache->lastWriteProblem();
        m_viewDigest = digest;
    }
}

void CachedFeatureSource::startEpoch(std::int64_t epoch)
{
    loadView(epoch);
    const std::int64_t n = sampleCount();
    if (m_options.shuffle) {
        // ImageBatchSource's order for this seed and epoch.
        m_order = seededPermutation(n, m_options.seed * 1000003ull + static_cast<std::uint64_t>(epoch));
    } else {
        m_order.resize(static_cast<std::size_t>(n));
        std::iota(m_order.begin(), m_order.end(), 0);
    }
    if (m_options.dropLast)
        m_order.resize(static_cast<std::size_t>(n / m_options.batchSize * m_options.batchSize));
    m_position = 0;
    m_epochStarted = true;
}

std::optional<Batch> CachedFeatureSource::next()
{
    if (!m_epochStarted)
        startEpoch(0);
    const auto total = static_cast<std::int64_t>(m_order.size());
    while (m_position < total) {
        const std::int64_t count = std::min<std::int64_t>(m_options.batchSize, total - m_position);
        Batch batch;
        for (std::int64_t p = m_position; p < m_position + count; ++p) {
            const std::int64_t index = m_order[static_cast<std::size_t>(p)];
            if (m_present[static_cast<std::size_t>(index)])
                batch.indices.push_back(index);
        }
        m_position += count;
        if (batch.indices.empty())
            continue;  // every image of this batch was unreadable: left out, as ImageBatchSource does
        const auto rows = torch::tensor(batch.indices, torch::kLong);
        batch.inputs = m_features.index_select(0, rows);
        batch.labels = m_labels.index_select(0, rows);
        return batch;
    }
    return std::nullopt;
}

std::int64_t CachedFeatureSource::batchesPerEpoch() const
{
    const std::int64_t n = sampleCount();
    const std::int64_t size = m_options.batchSize;
    return m_options.dropLast ? n / size : (n + size - 1) / size;
}

std::int64_t CachedFeatureSource::sampleCount() const
{
    return static_cast<std::int64_t>(m_samples.size());
}

} // namespace tunebench
