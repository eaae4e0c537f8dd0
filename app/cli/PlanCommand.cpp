// plan: the memory a training run will need, before it starts (core/tuning/MemoryPlan.h), and the largest
// batch that fits on each device this machine has (or on --memory).
#include "app/cli/Commands.h"

#include "app/cli/RunSetup.h"
#include "core/Device.h"
#include "core/Error.h"
#include "core/io/CheckpointLoader.h"
#include "core/io/ClipTokenizer.h"
#include "core/io/VocabularyLocator.h"
#include "core/model/Checkpointing.h"
#include "core/tuning/MemoryPlan.h"
#include "core/tuning/ParameterBudget.h"
#include "core/tuning/StrategyInfo.h"

#include <nlohmann/json.hpp>

#include <cctype>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>

namespace tunebench::cli {

namespace {

// "24G", "512M", "1.5T", "8000000000": bytes (binary units, as nvidia-smi's GiB).
std::int64_t parseMemory(const std::string& text)
{
    size_t used = 0;
    double value = 0;
    try {
        value = std::stod(text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    std::string unit = text.substr(used);
    for (char& c : unit)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (unit.size() > 1 && (unit.back() == 'B'))
        unit.pop_back();
    if (unit.size() > 1 && unit.back() == 'I')  // GiB -> G
        unit.pop_back();
    const std::map<std::string, double> scale = {{"", 1.0}, {"K", 1024.0}, {"M", 1024.0 * 1024}, {"G", 1024.0 * 1024 * 1024},
                                                 {"T", 1024.0 * 1024 * 1024 * 1024}};
    const auto found = scale.find(unit);
    if (used == 0 || found == scale.end() || !(value > 0) || !std::isfinite(value))
        throw Error("--memory '" + text + "': expected a size such as 24G, 512M or 80GiB");
    return static_cast<std::int64_t>(value * found->second);
}

struct Target
{
    std::string id, name;
    std::int64_t bytes = 0;
    bool cuda = false;
};

std::vector<Target> targets(const CliArgs& args)
{
    if (const auto memory = args.value("memory"))
        return {{"memory", "--memory " + *memory, parseMemory(*memory), args.value("precision", "fp32") != "fp32"}};
    std::vector<Target> found;
    for (const DeviceInfo& device : availableDevices()) {
        if (device.isGpu())
            found.push_back({device.id, describeDevice(device), device.memoryBytes, true});
        else
            found.push_back({device.id, "CPU", device.memoryBytes, false});
    }
    return found;
}

std::string row(const std::string& label, std::int64_t bytes, const std::string& note = "")
{
    std::ostringstream line;
    line << "  " << std::left << std::setw(17) << label << std::right << std::setw(10) << formatBytes(static_cast<double>(bytes));
    if (!note.empty())
        line << "  " << note;
    return line.str() + "\n";
}

int runPlan(const CliArgs& args)
{
    configureThreads(args.intValue("threads", 0));
    const std::string modelName = modelOrGeometry(args);
    const auto method = args.value("method");
    if (!method)
        throw Error("--method NAME is required");
    const StrategyInfo& info = findStrategy(*method);

    MemoryPlanRequest request;
    request.spec = isGeometryName(modelName) ? modelGeometry(modelName)
                                              : readCheckpoint(modelName, LoadOptions{std::nullopt, /*computeHash=*/false}).spec;
    request.method = *method;
    request.options = parseOptions(args.values("opt"));
    request.batchSize = intAtLeast(args, "batch-size", 0, 1);
    request.classes = intAtLeast(args, "classes", 100, 2);
    request.shots = intAtLeast(args, "shots", 16, 1);
    request.precision = args.value("precision", "fp32");
    request.checkpointing = args.value("checkpointing", "none");
    parseCheckpointing(request.checkpointing);
    if (info.capabilities.needsTextTower && request.spec.text)
        request.tokenizer = std::make_shared<ClipTokenizer>(ClipTokenizer::load(locateVocabulary(args.value("vocab", ""), modelName)));

    const std::vector<Target> devices = targets(args);
    const MemoryPlan plan = planMemory(request, [](int done, int total) {
        std::cerr << "\rplanning: narrow copy " << done << " of " << total << (done == total ? "\n" : "") << std::flush;
    });

    nlohmann::json result = plan.toJson();
    result["model"] = request.spec.name;
    std::ostringstream text;
    text << info.title << " on " << request.spec.name << ": batch " << plan.batchSize << ", " << plan.classes << " classes, "
         << plan.precision << ", checkpointing " << plan.checkpointing << "\n";
    text << row("weights", plan.weights);
    if (plan.trains) {
        text << row("gradients", plan.gradients, std::to_string(plan.trainable) + " trainable parameters");
        text << row("optimiser state", plan.optimiserState, plan.optimiser);
        text << row("activations", plan.activations);
        text << row("text side", plan.textSide, "grows with the classes");
    } else {
        text << "  (training-free: the weights and one evaluation batch)\n";
    }
    text << row("total", plan.total(), plan.trains ? "+" + formatBytes(plan.perImage) + " per image" : "");

    result["devices"] = nlohmann::json::array();
    for (const Target& device : devices) {
        nlohmann::json entry = {{"id", device.id}, {"name", device.name}, {"memory_bytes", device.bytes}};
        text << "  " << device.name << ": ";
        if (device.bytes <= 0) {
            text << "memory unknown\n";
        } else {
            const bool fits = plan.total() <= device.bytes;
            const int largest = plan.trains ? plan.largestBatch(device.bytes) : 0;
            entry["fits"] = fits;
            text << "needs ~" << formatBytes(static_cast<double>(plan.total())) << " of " << formatBytes(static_cast<double>(device.bytes))
                 << (fits ? ", fits" : ", does not fit");
            if (plan.trains) {
                entry["largest_batch"] = largest;
                text << "; largest batch " << largest;
            }
            text << "\n";
            if (!fits) {
                const auto advice = memoryAdvice(request, plan, device.bytes, device.cuda);
                entry["advice"] = advice;
                for (const std::string& line : advice)
                    text << "    try " << line << "\n";
            }
        }
        result["devices"].push_back(entry);
    }

    if (args.flag("measure")) {
        std::cerr << "measuring one training step of the real size on the CPU...\n";
        const MeasuredStep measured = measureTrainingStep(request);
        const std::int64_t predicted = plan.activations + plan.textSide;
        result["measured"] = {{"resident_growth_bytes", measured.residentGrowth},
                              {"allocated_peak_bytes", measured.allocatedPeak},
                              {"predicted_step_bytes", predicted},
                              {"peak_reset", measured.peakReset},
                              {"seconds", measured.seconds}};
        text << "  measured here: the step allocated " << formatBytes(static_cast<double>(measured.allocatedPeak))
             << " at its peak and raised the resident memory by " << formatBytes(static_cast<double>(measured.residentGrowth)) << " (planned "
             << formatBytes(static_cast<double>(predicted)) << ")"
             << (measured.peakReset ? "" : "; VmHWM could not be reset, so earlier peaks may be included") << "\n";
    }
    std::cerr << text.str();
    std::cout << result.dump() << std::endl;
    return 0;
}

} // namespace

Command planCommand()
{
    return {"plan", "--model PATH|GEOMETRY --method X [--batch-size B --precision P --checkpointing C --classes K --memory 24G]",
            "the memory a training run will need (weights, gradients, optimiser state, activations, text side) and the largest batch "
            "that fits on each device",
            {
                {"model", "PATH|GEOMETRY", "a checkpoint, or a geometry by name (clip-vit-b16, clip-vit-l14-336, ...)"},
                {"method", "X", "the tuning method"},
                {"opt", "name=value", "a method option (repeatable)"},
                {"batch-size", "B", "images per step (default: the recipe's)"},
                {"classes", "K", "classes (default 100)"},
                {"shots", "N", "shots per class, for the recipe and Tip-Adapter's cache (default 16)"},
                {"precision", "P", "fp32 (default), bf16 or fp16"},
                {"checkpointing", "C", "none (default), image, text or both"},
                {"memory", "SIZE", "plan for this much memory (24G, 80GiB) instead of the devices found"},
                {"vocab", "FILE", "the CLIP vocabulary (methods that use the text tower)"},
                {"measure", "", "also run one training step of this size on the CPU and report how much resident memory it took"},
            },
            runPlan};
}

} // namespace tunebench::cli
