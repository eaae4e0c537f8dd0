#pragma once

#include <cstdint>
#include <vector>

namespace tunebench {

// What the continual-learning protocol needs from a strategy besides Strategy itself (capability
// `continual`): which classes the current task trains, and which prompts evaluation chose.
class ContinualLearner
{
public:
    virtual ~ContinualLearner() = default;
    // Labels of the task being trained; empty = every class. Strategies that mask other tasks' logits
    // while training (L2P) use it.
    virtual void setTaskClasses(const std::vector<std::int64_t>& labels) = 0;
    // How often each pool prompt was chosen for the images evaluated since the last reset (one count per
    // image and chosen prompt); empty when the method has no pool.
    virtual std::vector<std::int64_t> selectionCounts() const = 0;
    virtual void resetSelectionCounts() = 0;
};

} // namespace tunebench
