#pragma once

#include "core/train/BatchSource.h"

namespace tunebench {

// Domain adaptation's training batches: each labelled batch joined with a batch of unlabelled images,
// whose labels become -1. The epoch is the labelled source's (Dassl's COUNT_ITER = train_x); the
// unlabelled source starts over whenever it runs out, in an order that depends only on the epoch and the
// restart count, so that a resumed run sees the same batches.
class PairedBatchSource : public BatchSource
{
public:
    PairedBatchSource(BatchSource& labelled, BatchSource& unlabelled);
    void startEpoch(std::int64_t epoch) override;
    std::optional<Batch> next() override;
    std::int64_t batchesPerEpoch() const override { return m_labelled.batchesPerEpoch(); }
    std::int64_t sampleCount() const override { return m_labelled.sampleCount(); }

private:
    std::optional<Batch> nextUnlabelled();

    BatchSource& m_labelled;
    BatchSource& m_unlabelled;
    std::int64_t m_epoch = 0;
    std::int64_t m_restarts = 0;
};

} // namespace tunebench
