#include "app/cli/Commands.h"

#include "core/Error.h"

namespace tunebench::cli {

int runParams(const std::vector<std::string>&)
{
    throw Error("this command is not available yet");
}

} // namespace tunebench::cli
