#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <optional>
#include <vector>

namespace tunebench {

// One batch: preprocessed images (or cached features) and their labels.
struct Batch
{
    at::Tensor inputs;                  // images [B, 3, H, W] float, or features [B, D]
    at::Tensor labels;                  // [B] int64; -1 marks an unlabelled image (domain adaptation's target)
    std::vector<std::int64_t> indices;  // positions in the source's sample list
};

// How the engine consumes data: core/data implements it with decoded images and a threaded loader,
// benchmarks and tests with tensors in memory. The engine never sees a file or an image decoder.
class BatchSource
{
public:
    virtual ~BatchSource() = default;
    // Starts an epoch; the sample order depends only on the source's seed and `epoch`.
    virtual void startEpoch(std::int64_t epoch) = 0;
    // The next batch of the epoch, or nothing at its end.
    virtual std::optional<Batch> next() = 0;
    virtual std::int64_t batchesPerEpoch() const = 0;
    virtual std::int64_t sampleCount() const = 0;
};

// Tensors already in memory, batched in a seeded order (shuffle) or in order.
class TensorBatchSource : public BatchSource
{
public:
    TensorBatchSource(at::Tensor inputs, at::Tensor labels, std::int64_t batchSize, bool shuffle, std::uint64_t seed = 1,
                      bool dropLast = false);
    void startEpoch(std::int64_t epoch) override;
    std::optional<Batch> next() override;
    std::int64_t batchesPerEpoch() const override;
    std::int64_t sampleCount() const override;

private:
    at::Tensor m_inputs, m_labels;
    std::int64_t m_batchSize;
    bool m_shuffle, m_dropLast;
    std::uint64_t m_seed;
    std::vector<std::int64_t> m_order;
    std::int64_t m_position = 0;
};

// A seeded permutation of 0..n-1 that is the same on every machine and compiler.
std::vector<std::int64_t> seededPermutation(std::int64_t n, std::uint64_t seed);

} // namespace tunebench
