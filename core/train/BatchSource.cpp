#include "core/train/BatchSource.h"

#include <torch/torch.h>

#include <numeric>

namespace tunebench {

namespace {

std::uint64_t splitmix64(std::uint64_t& state)
{
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

} // namespace

std::vector<std::int64_t> seededPermutation(std::int64_t n, std::uint64_t seed)
{
    std::vector<std::int64_t> order(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), 0);
    std::uint64_t state = seed;
    // Fisher-Yates with an unbiased bounded draw (rejection), not std::shuffle, whose use of the
    // generator differs between standard libraries.
    for (std::int64_t i = n - 1; i > 0; --i) {
        const std::uint64_t bound = static_cast<std::uint64_t>(i) + 1;
        const std::uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
        std::uint64_t r;
        do
            r = splitmix64(state);
        while (r >= limit);
        std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(r % bound)]);
    }
    return order;
}

TensorBatchSource::TensorBatchSource(at::Tensor inputs, at::Tensor labels, std::int64_t batchSize, bool shuffle,
                                     std::uint64_t seed, bool dropLast)
    : m_inputs(std::move(inputs))
    , m_labels(std::move(labels))
    , m_batchSize(std::max<std::int64_t>(1, batchSize))
    , m_shuffle(shuffle)
    , m_dropLast(dropLast)
    , m_seed(seed)
{
    TORCH_CHECK(m_inputs.size(0) == m_labels.size(0), "inputs and labels differ in length");
    startEpoch(0);
}

void TensorBatchSource::startEpoch(std::int64_t epoch)
{
    const std::int64_t n = m_inputs.size(0);
    if (m_shuffle) {
        m_order = seededPermutation(n, m_seed * 1000003ull + static_cast<std::uint64_t>(epoch));
    } else {
        m_order.resize(static_cast<size_t>(n));
        std::iota(m_order.begin(), m_order.end(), 0);
    }
    m_position = 0;
}

std::optional<Batch> TensorBatchSource::next()
{
    const std::int64_t n = static_cast<std::int64_t>(m_order.size());
    const std::int64_t remaining = n - m_position;
    if (remaining <= 0 || (m_dropLast && remaining < m_batchSize))
        return std::nullopt;
    const std::int64_t count = std::min(m_batchSize, remaining);
    Batch batch;
    batch.indices.assign(m_order.begin() + m_position, m_order.begin() + m_position + count);
    m_position += count;
    auto index = torch::tensor(batch.indices, torch::kLong);
    batch.inputs = m_inputs.index_select(0, index);
    batch.labels = m_labels.index_select(0, index);
    return batch;
}

std::int64_t TensorBatchSource::batchesPerEpoch() const
{
    const std::int64_t n = m_inputs.size(0);
    return m_dropLast ? n / m_batchSize : (n + m_batchSize - 1) / m_batchSize;
}

std::int64_t TensorBatchSource::sampleCount() const
{
    return m_inputs.size(0);
}

} // namespace tunebench
