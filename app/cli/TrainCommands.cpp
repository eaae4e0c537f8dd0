#include "app/cli/Commands.h"

#include "core/Error.h"

namespace tunebench::cli {

int runTrain(const std::vector<std::string>&)
{
    throw Error("this command is not available yet");
}

int runEval(const std::vector<std::string>&)
{
    throw Error("this command is not available yet");
}

int runExport(const std::vector<std::string>&)
{
    throw Error("this command is not available yet");
}

int runCompare(const std::vector<std::string>&)
{
    throw Error("this command is not available yet");
}

} // namespace tunebench::cli
