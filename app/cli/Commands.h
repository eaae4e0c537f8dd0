#pragma once

#include "app/cli/CliArgs.h"

#include <string>
#include <vector>

// One function per sub-command of tunebench-cli. Each takes the words after the sub-command name,
// prints its JSON result on stdout and progress/logs on stderr, returns the exit code, and throws
// tunebench::Error for bad input (main prints it as one line and exits non-zero).
namespace tunebench::cli {

int runTokenize(const std::vector<std::string>& words);
int runInfo(const std::vector<std::string>& words);
int runEncode(const std::vector<std::string>& words);
int runClassify(const std::vector<std::string>& words);
int runDataset(const std::vector<std::string>& words);
int runTrain(const std::vector<std::string>& words);
int runEval(const std::vector<std::string>& words);
int runExport(const std::vector<std::string>& words);
int runCompare(const std::vector<std::string>& words);
int runParams(const std::vector<std::string>& words);
int runPretrain(const std::vector<std::string>& words);
int runContinual(const std::vector<std::string>& words);
int runAdapt(const std::vector<std::string>& words);
int runSweep(const std::vector<std::string>& words);
int runCache(const std::vector<std::string>& words);

} // namespace tunebench::cli
