// The --checkpointing option's values, apart from the checkpointing itself: they need no LibTorch (the
// run-configuration reader and its fuzz target use them).
#include "core/model/Checkpointing.h"

#include "core/Error.h"

namespace tunebench {

CheckpointTowers parseCheckpointing(const std::string& value, const std::string& what)
{
    const auto& names = checkpointingNames();
    for (size_t i = 0; i < names.size(); ++i)
        if (value == names[i])
            return static_cast<CheckpointTowers>(i);
    throw Error(what + " must be none, image, text or both, got '" + value + "'");
}

std::string checkpointingName(CheckpointTowers towers)
{
    return checkpointingNames().at(static_cast<size_t>(towers));
}

const std::vector<std::string>& checkpointingNames()
{
    static const std::vector<std::string> names = {"none", "image", "text", "both"};  // CheckpointTowers' order
    return names;
}

} // namespace tunebench
