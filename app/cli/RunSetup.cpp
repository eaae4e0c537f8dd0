#include "app/cli/RunSetup.h"

#include "app/cli/CliArgs.h"
#include "core/Error.h"
#include "core/data/DatasetLayouts.h"
#include "core/export/PromptExport.h"
#include "core/model/Checkpointing.h"
#include "core/train/RunControl.h"
#include "core/train/RunStore.h"
#include "core/tuning/ParameterBudget.h"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <csignal>
#include <iostream>
#include <sstream>

namespace tunebench::cli {

const Options& trainingOptions()
{
    static const Options options = {
        {"epochs", "N", "training epochs (default: the method's recipe)"},
        {"lr", "X", "learning rate (default: the recipe's)"},
        {"batch-size", "B", "images per step (default: the recipe's)"},
        {"max-steps", "N", "stop after N optimiser steps (quick looks)"},
        {"accumulate", "K", "micro-batches per optimiser step (effective batch = K x batch size; default 1)"},
        {"checkpointing", "none|image|text|both",
         "recompute the towers' blocks in the backward pass instead of keeping their activations: less memory, about one more "
         "forward (default none)"},
        {"precision", "fp32|bf16|fp16", "compute precision (default fp32; bf16 and fp16 are for GPUs)"},
        {"loader-threads", "N", "image decoding threads (default 0: chosen from the cores)"},
        {"log-every", "N", "a progress line every N steps (default: about 50 lines per run)"},
        {"crop-scale-min", "X", "random resized crop's smallest area fraction, in (0, 1] (default: the dataset's recipe)"},
        {"vocab", "FILE", "the CLIP vocabulary (default: next to the checkpoint, else $TUNEBENCH_CLIP_VOCAB, else found)"},
        {"opt", "name=value", "a method option, repeatable: --opt n_ctx=4 --opt ctx_init=\"a photo of a\""},
        {"feature-cache", "DIR", "the image-tower cache's folder"},
        {"no-feature-cache", "", "no image-tower cache: every pass recomputes the frozen tower's features"},
        {"max-image-pixels", "N", "images with more pixels are skipped and reported, from their header (default 50000000)"},
        {"class-map", "FILE",
         "pairs an adaptation target's or eval dataset's classes with the source's where their names differ: a JSON object, "
         "target class name -> source class name (same names, ignoring case, spaces, '_', '-' and '/', pair by themselves)"},
    };
    return options;
}

RunSettings settingsFromArgs(const CliArgs& args, RunSettings s, bool shotList)
{
    s.model = args.value("model", s.model);
    s.dataset = args.value("dataset", s.dataset);
    s.method = args.value("method", s.method);
    if (!shotList)
        s.shots = args.intValue("shots", s.shots);
    if (auto names = args.value("eval-datasets"))
        s.evalDatasets = splitCommaList(*names);
    s.adaptTarget = args.value("adapt-to", s.adaptTarget);
    s.seed = args.intValue("seed", s.seed);
    s.baseNew = s.baseNew || args.flag("base-new");
    s.device = args.value("device", s.device);
    s.threads = args.intValue("threads", s.threads);
    s.precision = args.value("precision", s.precision);
    // 0 in a config means the method's own value; a flag names a value, so it must be one.
    s.epochs = intAtLeast(args, "epochs", s.epochs, 1);
    s.lr = args.doubleValue("lr", s.lr);
    if (args.value("lr") && !(s.lr > 0))
        throw Error("--lr must be a positive number, got " + *args.value("lr"));
    s.batchSize = intAtLeast(args, "batch-size", s.batchSize, 1);
    s.maxSteps = args.intValue("max-steps", static_cast<int>(s.maxSteps));
    s.accumulate = args.intValue("accumulate", s.accumulate);
    s.checkpointing = args.value("checkpointing", s.checkpointing);
    parseCheckpointing(s.checkpointing);
    s.loaderThreads = args.intValue("loader-threads", s.loaderThreads);
    s.logEvery = args.intValue("log-every", s.logEvery);
    if (args.value("crop-scale-min")) {
        s.cropScaleMin = args.doubleValue("crop-scale-min", s.cropScaleMin);
        if (!(s.cropScaleMin > 0 && s.cropScaleMin <= 1))
            throw Error("--crop-scale-min must be in (0, 1], got " + std::to_string(s.cropScaleMin));
    }
    s.tasks = args.intValue("tasks", s.tasks);
    if (s.tasks < 1)
        throw Error("--tasks must be at least 1, got " + std::to_string(s.tasks));
    s.vocab = args.value("vocab", s.vocab);
    s.featureCache = featureCacheFolder(args, s.featureCache);
    s.maxImagePixels = maxImagePixelsFromArgs(args, s.maxImagePixels);
    if (auto file = args.value("class-map"))
        s.classMap = readClassMap(*file);
    const nlohmann::json given = parseOptions(args.values("opt"));  // items() must not outlive it
    for (const auto& [name, value] : given.items())
        s.options[name] = value;
    if (s.precision != "fp32" && s.precision != "bf16" && s.precision != "fp16")
        throw Error("--precision must be fp32, bf16 or fp16, got '" + s.precision + "'");
    s.maxTestImages = args.intValue("max-test-images", s.maxTestImages);
    // The config's own numbers were checked when it was read: what is out of range now came from a flag.
    s.checkRanges([](const std::string& field) {
        std::string flag = "--" + field;
        std::replace(flag.begin(), flag.end(), '_', '-');
        return flag;
    });
    return s;
}

std::int64_t maxImagePixelsFromArgs(const CliArgs& args, std::int64_t fallback)
{
    const auto text = args.value("max-image-pixels");
    if (!text)
        return fallback;
    try {
        std::size_t used = 0;
        const long long pixels = std::stoll(*text, &used);
        if (used == text->size() && pixels > 0)
            return pixels;
    } catch (const std::exception&) {
    }
    throw Error("--max-image-pixels: '" + *text + "' is not a positive whole number");
}

// The pairs of --class-map FILE, kept in the run's settings so that a rerun needs no file.
std::map<std::string, std::string> readClassMap(const std::string& file)
{
    const nlohmann::json json = RunStore::readJsonFile(file);
    if (!json.is_object())
        throw Error(file + ": a class map is a JSON object of target class name -> source class name");
    std::map<std::string, std::string> pairs;
    for (const auto& [target, source] : json.items()) {
        if (!source.is_string())
            throw Error(file + ": \"" + target + "\" must map to a source class name (a string)");
        pairs[target] = source.get<std::string>();
    }
    return pairs;
}

std::string featureCacheFolder(const CliArgs& args, const std::string& fallback)
{
    const auto folder = args.value("feature-cache");
    if (folder && args.flag("no-feature-cache"))
        throw Error("--feature-cache DIR and --no-feature-cache contradict each other: give one");
    if (args.flag("no-feature-cache"))
        return {};
    if (!folder)
        return fallback;
    if (folder->empty())
        throw Error("--feature-cache needs a folder (or --no-feature-cache for none)");
    return std::filesystem::absolute(*folder).lexically_normal().string();
}

int parseInteger(const std::string& option, const std::string& text)
{
    try {
        std::size_t used = 0;
        const int value = std::stoi(text, &used);
        if (used == text.size())
            return value;
    } catch (const std::exception&) {
    }
    throw Error(option + ": '" + text + "' is not a whole number");
}

std::vector<int> parseSeeds(const std::string& text)
{
    std::vector<int> seeds;
    std::stringstream stream(text);
    std::string piece;
    while (std::getline(stream, piece, ',')) {
        if (piece.empty())
            throw Error("--seeds " + text + ": an empty item (give whole numbers separated by single commas)");
        seeds.push_back(parseInteger("--seeds", piece));
        if (seeds.back() < 0)
            throw Error("--seeds " + text + ": " + piece + " is negative (seeds are whole numbers >= 0)");
    }
    if (seeds.empty() || text.back() == ',')
        throw Error("--seeds '" + text + "': give at least one seed, without a trailing comma");
    return seeds;
}

std::string modelOrGeometry(const CliArgs& args)
{
    if (const auto model = args.value("model"))
        return *model;
    std::string names;
    for (const std::string& name : geometryNames())
        names += (names.empty() ? "" : ", ") + name;
    throw Error("--model PATH|GEOMETRY is required (geometries: " + names + ")");
}

int intAtLeast(const CliArgs& args, const std::string& name, int fallback, int minimum)
{
    const int value = args.intValue(name, fallback);
    if (args.value(name) && value < minimum)
        throw Error("--" + name + " must be at least " + std::to_string(minimum) + ", got " + std::to_string(value));
    return value;
}

std::vector<int> parseShotCounts(const std::string& text)
{
    std::vector<int> counts;
    for (const std::string& piece : splitCommaList(text))
        counts.push_back(parseInteger("--shots", piece));
    if (counts.empty())
        throw Error("--shots needs at least one count, e.g. --shots 16 or --shots 1,2,4,8,16");
    if (counts.size() == 1 && counts.front() == 0)
        return counts;  // every training image
    for (std::size_t i = 0; i < counts.size(); ++i) {
        if (counts[i] <= 0)
            throw Error("--shots " + text + ": " + std::to_string(counts[i]) +
                        " is not a shot count (each must be a positive number of images per class)");
        if (i > 0 && counts[i] <= counts[i - 1])
            throw Error("--shots " + text + ": the counts must increase");
    }
    return counts;
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
                                   bool resume, const std::string& label, RunControl* control,
                                   const std::vector<DatasetIndex>& targets)
{
    ExperimentCallbacks callbacks;
    callbacks.onLog = [&label](const std::string& line) { std::cerr << label << line << "\n"; };
    return runExperiment(settings, backbone, dataset, store, resume, callbacks, control, targets).json;
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
