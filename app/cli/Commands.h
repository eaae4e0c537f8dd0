#pragma once

#include "app/cli/Command.h"

#include <vector>

// The commands of tunebench-cli, each declared in its own file beside the code that runs it. A command
// prints its JSON result on stdout and progress/logs on stderr, returns the exit code, and throws
// tunebench::Error for bad input (main prints it as one line and exits non-zero).
namespace tunebench::cli {

Command tokenizeCommand();
Command infoCommand();
Command encodeCommand();
Command classifyCommand();
std::vector<Command> datasetCommands();  // dataset inspect, dataset list
Command trainCommand();
Command evalCommand();
Command exportCommand();
Command predictCommand();
Command compareCommand();
Command petlTableCommand();
Command paramsCommand();
Command planCommand();
Command continualCommand();
Command adaptCommand();
std::vector<Command> sweepCommands();    // sweep, sweep status, sweep collect
Command cacheCommand();
Command pretrainCommand();

// Every command, in the order the usage lists them (version included).
std::vector<Command> allCommands();

} // namespace tunebench::cli
