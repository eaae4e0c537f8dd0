#pragma once

#include "app/cli/Command.h"
#include "core/experiment/Experiment.h"
#include "core/experiment/TunedModel.h"
#include "core/io/CommaList.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tunebench {
class RunControl;
class RunStore;
}

namespace tunebench::cli {

class CliArgs;

// The training options that train, compare, adapt and sweep share (settingsFromArgs reads them).
const Options& trainingOptions();

// The run flags over `base` (train and compare share them); Error naming the flag on a bad value.
// `shotList`: --shots is a list that the caller reads (parseShotCounts), not one count.
RunSettings settingsFromArgs(const CliArgs& args, RunSettings base = {}, bool shotList = false);

// The image-tower cache's folder: --feature-cache DIR (made absolute), "" with --no-feature-cache (a flag
// the command must declare), else `fallback`.
std::string featureCacheFolder(const CliArgs& args, const std::string& fallback);
// --max-image-pixels N (positive), else `fallback`.
std::int64_t maxImagePixelsFromArgs(const CliArgs& args, std::int64_t fallback);
// --class-map FILE: a JSON object of target class name -> source class name; Error naming the file.
std::map<std::string, std::string> readClassMap(const std::string& file);

// runExportOf and loadBackboneFor: core/experiment/TunedModel.h.

// A whole number, or an Error naming `option` and the text.
int parseInteger(const std::string& option, const std::string& text);
// --seeds "1,2,3": whole numbers >= 0; an empty item ("1,,2") or none at all is an Error.
std::vector<int> parseSeeds(const std::string& text);
// --NAME N as an integer of at least `minimum` (`fallback` when absent), else an Error naming the flag.
int intAtLeast(const CliArgs& args, const std::string& name, int fallback, int minimum);
// --shots "1,2,4,8,16": positive whole numbers, increasing; a single 0 means every training image.
std::vector<int> parseShotCounts(const std::string& text);

// --model's value (a checkpoint or a geometry's name: params, plan), or an Error listing the geometries.
std::string modelOrGeometry(const CliArgs& args);

// --opt name=value: the value as JSON when it parses (numbers, true/false), else as a string.
nlohmann::json parseOptions(const std::vector<std::string>& pairs);
// Opens a dataset by path or name, logging progress on stderr.
DatasetIndex openDatasetLogged(const std::string& pathOrName);

// runExperiment with its progress lines on stderr, each prefixed by `label`; returns the results JSON.
nlohmann::json runExperimentLogged(const RunSettings& settings, const Backbone& backbone, const DatasetIndex& dataset, RunStore* store,
                                   bool resume, const std::string& label, RunControl* control = nullptr,
                                   const std::vector<DatasetIndex>& targets = {});

// While alive, the first Ctrl-C (SIGINT) or SIGTERM asks `control` to stop after the current step: the run
// keeps its folder and its last epoch's checkpoint, and `train --resume` continues it. A second one ends
// the process at once.
class StopOnInterrupt
{
public:
    explicit StopOnInterrupt(RunControl& control);
    ~StopOnInterrupt();
    StopOnInterrupt(const StopOnInterrupt&) = delete;
    StopOnInterrupt& operator=(const StopOnInterrupt&) = delete;

private:
    using Handler = void (*)(int);
    Handler m_previousInterrupt;
    Handler m_previousTerminate;
};

} // namespace tunebench::cli
