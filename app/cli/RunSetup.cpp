#include "app/cli/RunSetup.h"

#include "app/cli/CliArgs.h"
#include "core/Error.h"
#include "core/data/DatasetLayouts.h"
#include "core/train/RunControl.h"

#include <atomic>
#include <csignal>
#include <iostream>

namespace tunebench::cli {

RunSettings settingsFromArgs(const CliArgs& args, RunSettings s)
{
    s.model = args.value("model", s.model);
    s.dataset = args.value("dataset", s.dataset);
    s.method = args.value("method", s.method);
    s.shots = args.intValue("shots", s.shots);
    s.seed = args.intValue("seed", s.seed);
    s.baseNew = s.baseNew || args.flag("base-new");
    s.device = args.value("device", s.device);
    s.threads = args.intValue("threads", s.threads);
    s.precision = args.value("precision", s.precision);
    s.epochs = args.intValue("epochs", s.epochs);
    s.lr = args.doubleValue("lr", s.lr);
    s.batchSize = args.intValue("batch-size", s.batchSize);
    s.maxSteps = args.intValue("max-steps", static_cast<int>(s.maxSteps));
    s.loaderThreads = args.intValue("loader-threads", s.loaderThreads);
    s.logEvery = args.intValue("log-every", s.logEvery);
    s.cropScaleMin = args.doubleValue("crop-scale-min", s.cropScaleMin);
    if (!(s.cropScaleMin > 0 && s.cropScaleMin <= 1))
        throw Error("--crop-scale-min must be in (0, 1], got " + std::to_string(s.cropScaleMin));
    s.tasks = args.intValue("tasks", s.tasks);
    if (s.tasks < 1)
        throw Error("--tasks must be at least 1, got " + std::to_string(s.tasks));
    s.vocab = args.value("vocab", s.vocab);
    const nlohmann::json given = parseOptions(args.values("opt"));  // items() must not outlive it
    for (const auto& [name, value] : given.items())
        s.options[name] = value;
    if (s.precision != "fp32" && s.precision != "bf16" && s.precision != "fp16")
        throw Error("--precision must be fp32, bf16 or fp16, got '" + s.precision + "'");
    return s;
}

nlohmann::json parseOptions(const std::vector<std::string>& pairs)
{
    nlohmann::json out = nlohmann::json::object();
    for (const auto& pair : pairs) {
        const auto eq = pair.find('=');
        if (eq == std::string::npos || eq == 0)
            throw Error("--opt '" + pair + "': expected name=value");
        const std::string name = pair.substr(0, eq), text = pair.substr(eq + 1);
        auto parsed = nlohmann::json::parse(text, nullptr, false);
        out[name] = (parsed.is_discarded() || parsed.is_object() || parsed.is_array()) ? nlohmann::json(text) : parsed;
    }
    return out;
}

DatasetIndex openDatasetLogged(const std::string& pathOrName)
{
    return openDataset(pathOrName, {}, [](const std::string& message) { std::cerr << message << "\n"; });
}

nlohmann::json runExperimentLogged(const RunSettings& settings, const Backbone& backbone, const DatasetIndex& dataset, RunStore* store,
                                   bool resume, const std::string& label, RunControl* control)
{
    ExperimentCallbacks callbacks;
    callbacks.onLog = [&label](const std::string& line) { std::cerr << label << line << "\n"; };
    return runExperiment(settings, backbone, dataset, store, resume, callbacks, control).json;
}

namespace {

std::atomic<RunControl*> g_interruptedControl{nullptr};

extern "C" void stopOnSignal(int signal)
{
    if (RunControl* control = g_interruptedControl.load())
        control->requestStopFromSignal();
    std::signal(signal, SIG_DFL);  // the next one is not caught
}

} // namespace

StopOnInterrupt::StopOnInterrupt(RunControl& control)
{
    g_interruptedControl.store(&control);
    m_previousInterrupt = std::signal(SIGINT, stopOnSignal);
    m_previousTerminate = std::signal(SIGTERM, stopOnSignal);
}

StopOnInterrupt::~StopOnInterrupt()
{
    std::signal(SIGINT, m_previousInterrupt);
    std::signal(SIGTERM, m_previousTerminate);
    g_interruptedControl.store(nullptr);
}

} // namespace tunebench::cli
