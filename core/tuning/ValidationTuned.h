#pragma once

#include "core/train/BatchSource.h"

namespace tunebench {

// Strategies that choose hyper-parameters on the few-shot validation split after prepare()/training
// (Tip-Adapter's alpha/beta grid, the linear probe's C search). Front-ends call it when a val split exists.
class ValidationTuned
{
public:
    virtual ~ValidationTuned() = default;
    virtual void tuneOnValidation(BatchSource& val) = 0;
};

} // namespace tunebench
