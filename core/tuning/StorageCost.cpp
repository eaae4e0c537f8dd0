#include "core/tuning/StorageCost.h"

#include "core/Error.h"

#include <string>

namespace tunebench {

double storageMultiplier(std::int64_t shared, std::int64_t backbone, const std::vector<std::int64_t>& trainablePerTask)
{
    if (backbone <= 0)
        throw Error("the storage multiplier needs the backbone's parameter count, got " + std::to_string(backbone));
    std::int64_t stored = 0;  // exact in integers; one rounding at the division
    for (const std::int64_t trainable : trainablePerTask)
        stored += trainable;
    return (static_cast<double>(shared) + static_cast<double>(stored)) / static_cast<double>(backbone);
}

} // namespace tunebench
