#include "core/train/PairedBatchSource.h"

#include "core/Error.h"

#include <torch/torch.h>

namespace tunebench {

namespace {
// Restarts of the unlabelled source within one labelled epoch get epoch numbers of their own.
constexpr std::int64_t kRestartStride = 1000;
} // namespace

PairedBatchSource::PairedBatchSource(BatchSource& labelled, BatchSource& unlabelled) : m_labelled(labelled), m_unlabelled(unlabelled)
{
}

void PairedBatchSource::startEpoch(std::int64_t epoch)
{
    m_epoch = epoch;
    m_restarts = 0;
    m_labelled.startEpoch(epoch);
    m_unlabelled.startEpoch(epoch * kRestartStride);
}

std::optional<Batch> PairedBatchSource::nextUnlabelled()
{
    if (auto batch = m_unlabelled.next())
        return batch;
    // Out of unlabelled images: start over, unless a fresh pass yields nothing either (none readable).
    ++m_restarts;
    m_unlabelled.startEpoch(m_epoch * kRestartStride + m_restarts);
    return m_unlabelled.next();
}

std::optional<Batch> PairedBatchSource::next()
{
    auto labelled = m_labelled.next();
    if (!labelled)
        return std::nullopt;
    auto unlabelled = nextUnlabelled();
    if (!unlabelled)
        throw Error("domain adaptation: the target domain has no readable training images");
    Batch joined;
    joined.inputs = torch::cat({labelled->inputs, unlabelled->inputs.to(labelled->inputs.device())}, 0);
    joined.labels = torch::cat({labelled->labels, torch::full({unlabelled->labels.size(0)}, -1, labelled->labels.options())}, 0);
    joined.indices = labelled->indices;
    return joined;
}

} // namespace tunebench
