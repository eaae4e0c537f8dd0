// tunebench-cli continual: a continual-learning stream (class- or domain-incremental) for each method and
// seed; the accuracy matrix fills on stderr, the summary is JSON on stdout.
#include "app/cli/Commands.h"
#include "app/cli/RunSetup.h"

#include "core/Device.h"
#include "core/Error.h"
#include "core/experiment/ContinualLearning.h"
#include "core/train/RunControl.h"
#include "core/train/RunStore.h"
#include "report/Figures.h"

#include <cstdio>
#include <filesystem>
#include <iostream>

namespace fs = std::filesystem;

namespace tunebench::cli {

namespace {

std::string formatRow(const std::vector<double>& row)
{
    std::string out;
    for (double a : row) {
        char cell[16];
        std::snprintf(cell, sizeof cell, "%7.2f", 100.0 * a);
        out += cell;
    }
    return out;
}

int runContinual(const CliArgs& args)
{
    const auto model = args.value("model");
    if (!model)
        throw Error("--model PATH is required (a ViT image tower: CLIP ViT or timm ViT)");
    const std::string protocol = args.value("protocol", args.value("datasets") ? "domain" : "class");
    if (protocol != "class" && protocol != "domain")
        throw Error("--protocol must be class or domain, got '" + protocol + "'");
    const auto methods = splitComma(args.value("methods", "l2p,seq-ft,joint"));
    std::vector<int> seeds;
    for (const auto& seed : splitComma(args.value("seeds", "1")))
        seeds.push_back(parseInteger("--seeds", seed));
    if (methods.empty() || seeds.empty())
        throw Error("--methods and --seeds need at least one value each");
    ContinualSettings base;
    base.epochsPerTask = args.intValue("epochs-per-task", 5);
    base.batchSize = args.intValue("batch-size", 0);
    base.trainPerClass = args.intValue("train-per-class", 0);
    base.testPerClass = args.intValue("test-per-class", 0);
    base.loaderThreads = args.intValue("loader-threads", 0);
    base.options = parseOptions(args.values("opt"));
    if (base.epochsPerTask < 1)
        throw Error("--epochs-per-task must be at least 1, got " + std::to_string(base.epochsPerTask));
    if (base.batchSize < 0 || base.trainPerClass < 0 || base.testPerClass < 0)
        throw Error("--batch-size, --train-per-class and --test-per-class must not be negative");
    for (const auto& method : methods)
        if (method != "joint" && !findStrategy(method).capabilities.continual)
            throw Error("--methods: '" + method + "' is not a continual-learning method (" + continualMethodList() + ": joint)");

    // The tasks (the class order is seeded by the first seed, so that every seed sees the same stream).
    std::vector<ContinualTask> tasks;
    std::string stream;
    if (protocol == "class") {
        const auto dataset = args.value("dataset");
        if (!dataset)
            throw Error("--dataset D is required for the class-incremental protocol");
        const int count = args.intValue("tasks", 0);
        if (!args.value("tasks"))
            throw Error("--tasks T is required for the class-incremental protocol");
        tasks = classIncrementalTasks(openDatasetLogged(*dataset), count, static_cast<std::uint64_t>(seeds.front()));
        stream = continualStreamName(tasks, true, *dataset);
    } else {
        const auto names = splitComma(args.value("datasets", ""));
        std::vector<DatasetIndex> domains;
        for (const auto& name : names)
            domains.push_back(openDatasetLogged(name));
        tasks = domainIncrementalTasks(domains);
        if (args.value("tasks") && args.intValue("tasks", 0) != static_cast<int>(tasks.size()))
            throw Error("--tasks " + *args.value("tasks") + " does not match the " + std::to_string(tasks.size()) + " datasets of --datasets");
        stream = continualStreamName(tasks, false, "");
    }

    configureThreads(args.intValue("threads", 0));
    // The image tower only: no vocabulary is needed, even for a CLIP model.
    Backbone backbone{*model, readCheckpoint(*model), nullptr, chooseDevice(args.value("device", "auto"))};
    std::cerr << "continual: " << tasks.size() << " tasks on " << describeDevice(backbone.device) << "\n";
    const bool drawFigures = figuresUnavailable().empty();
    if (!drawFigures)
        std::cerr << "continual: " << figuresUnavailable() << "; the heat maps are skipped\n";
    for (size_t t = 0; t < tasks.size(); ++t)
        std::cerr << "  task " << t + 1 << ": " << tasks[t].name << " (" << tasks[t].data.train.size() << " train, "
                  << tasks[t].data.test.size() << " test images)\n";
    const fs::path runs = args.value("runs", RunStore::defaultRoot());

    RunControl control;
    StopOnInterrupt stopOnInterrupt(control);
    nlohmann::json out = {{"protocol", protocol}, {"tasks", nlohmann::json::array()}, {"methods", nlohmann::json::object()}};
    for (const auto& task : tasks)
        out["tasks"].push_back({{"name", task.name}, {"classes", task.classes}});
    for (const auto& method : methods) {
        nlohmann::json perSeed = nlohmann::json::array();
        std::vector<ContinualResult> results;
        for (int seed : seeds) {
            ContinualSettings settings = base;
            // "joint" in --methods is the protocol's joint training of L2P.
            settings.joint = method == "joint";
            settings.method = settings.joint ? "l2p" : method;
            settings.seed = seed;
            // --opt values go to the methods that have them.
            settings.options = optionsFor(findStrategy(settings.method).schema, base.options);
            settings.runFolder = (runs / continualRunFolderName(stream, method, seed)).string();
            const std::string label = "[" + method + " seed " + std::to_string(seed) + "] ";
            std::cerr << label << "run folder " << settings.runFolder << "\n" << label << "accuracy % after each task (rows) on each task so far:\n";
            ContinualCallbacks callbacks;
            callbacks.onLog = [&](const std::string& line) { std::cerr << label << line << "\n"; };
            callbacks.onTaskDone = [&](int stage, const std::vector<double>& row) {
                std::cerr << label << "after " << (method == "joint" ? std::string("joint") : "task " + std::to_string(stage + 1)) << ":"
                          << formatRow(row) << "\n";
            };
            const ContinualResult result = runContinual(backbone, tasks, settings, callbacks, &control);
            nlohmann::json json = result.toJson();
            json["run"] = settings.runFolder;
            perSeed.push_back(json);
            if (result.status != "finished")
                throw Error(label + "stopped before the last task; run the same command again to continue from " + settings.runFolder);
            results.push_back(result);
        }
        const ContinualSummary summary = summariseContinualSeeds(results);
        out["methods"][method] = {{"average_accuracy", summary.averageAccuracy},
                                  {"forgetting", summary.forgetting ? nlohmann::json(*summary.forgetting) : nlohmann::json()},
                                  {"matrix", summary.matrix},
                                  {"per_seed", perSeed}};
        // The mean matrix as a heat map beside the run folders.
        if (drawFigures) {
            const fs::path heatMap = runs / ("continual-" + stream + "-" + method + "-matrix.png");
            const std::string title = method + ": accuracy % (mean of " + std::to_string(seeds.size()) + " seeds)";
            const std::string problem = writeHeatMapFigure(
                accuracyMatrixHeatMap(summary.matrix, static_cast<int>(tasks.size()), method == "joint" ? std::vector<std::string>{"joint"}
                                                                                                         : std::vector<std::string>{},
                                      title),
                heatMap.string());
            if (problem.empty())
                out["methods"][method]["heat_map"] = heatMap.string();
            else
                std::cerr << "warning: " << problem << "\n";
        }
        // L2P's figure: which pool prompts each task's test images chose, summed over the seeds.
        if (summary.hasSelection() && drawFigures) {
            const fs::path selection = runs / ("continual-" + stream + "-" + method + "-selection.png");
            const std::string selectionProblem = writeHeatMapFigure(
                selectionHeatMap(summary.selection, method + ": prompts chosen for each task's test images (%)"), selection.string());
            if (selectionProblem.empty())
                out["methods"][method]["selection_map"] = selection.string();
            else
                std::cerr << "warning: " << selectionProblem << "\n";
        }
        char line[160];
        std::snprintf(line, sizeof line, "%-8s A_T %6.2f  F_T %s  (mean of %zu seeds)\n", method.c_str(), 100.0 * summary.averageAccuracy,
                      summary.forgetting ? formatRow({*summary.forgetting}).c_str() : "      -", seeds.size());
        std::cerr << line;
    }
    std::cout << out.dump(2) << "\n";
    return 0;
}

} // namespace

Command continualCommand()
{
    return {"continual", "--model PATH (--dataset D --tasks T | --datasets D1,D2,... [--protocol domain]) [OPTIONS]",
            "continual learning on a ViT image tower: accuracy matrix, average accuracy A_T and forgetting F_T per "
            "method; a stopped stream resumes after its last finished task",
            {
                {"model", "PATH", "a ViT image tower (CLIP ViT or timm ViT)"},
                {"dataset", "D", "class-incremental: the dataset split into --tasks groups of classes"},
                {"tasks", "T", "class-incremental: the number of tasks"},
                {"datasets", "D1,D2,...", "domain-incremental: one task per dataset, the same classes in each"},
                {"protocol", "class|domain", "default: domain with --datasets, else class"},
                {"methods", "l2p,seq-ft,joint", "the methods (default all three; joint trains on every task at once)"},
                {"seeds", "1,2,3", "seeds averaged (default 1)"},
                {"epochs-per-task", "N", "default 5"},
                {"batch-size", "B", "default: the method's (16)"},
                {"train-per-class", "K", "training images per class of each task (default: all)"},
                {"test-per-class", "K", "test images per class (default: all)"},
                {"opt", "name=value", "a method option (repeatable)"},
                {"runs", "DIR", "where the run folders go (resumed from)"},
                {"loader-threads", "N", "image decoding threads"},
            },
            runContinual};
}

} // namespace tunebench::cli
