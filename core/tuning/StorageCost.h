#pragma once
// The VPT paper's "total params" column, as plain arithmetic: `params` and `train` give it for N tasks of
// one class count (parameterBudget), the petl-table study for its own tasks, whose heads differ. No
// tensors here, so that the study layer can count from results.json alone.

#include <cstdint>
#include <vector>

namespace tunebench {

// (shared + the sum of every task's trainable parameters) / backbone. `shared` is one pre-trained backbone
// (= backbone), or 0 for a strategy that stores a whole backbone per task (Full). Error unless backbone > 0.
double storageMultiplier(std::int64_t shared, std::int64_t backbone, const std::vector<std::int64_t>& trainablePerTask);

} // namespace tunebench
