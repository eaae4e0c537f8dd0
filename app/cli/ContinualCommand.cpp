// tunebench-cli continual: a continual-learning stream (class- or domain-incremental) for each method and
// seed; the accuracy matrix fills on stderr, the summary is JSON on stdout.
#include "app/cli/Commands.h"
#include "app/cli/RunSetup.h"

#include "core/Device.h"
#include "core/Error.h"
#include "core/experiment/ContinualLearning.h"
#include "core/experiment/Protocol.h"
#include "core/experiment/Sweep.h"
#include "core/train/RunControl.h"
#include "core/train/RunStore.h"
#include "report/Figures.h"

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>

namespace fs = std::filesystem;

namespace tunebench::cli {

namespace {

int runContinual(const CliArgs& args)
{
    const auto model = args.value("model");
    if (!model)
        throw Error("--model PATH is required (a ViT image tower: CLIP ViT or timm ViT)");
    const std::string protocol = args.value("protocol", args.value("datasets") ? "domain" : "class");
    if (protocol != "class" && protocol != "domain")
        throw Error("--protocol must be class or domain, got '" + protocol + "'");
    const auto methods = splitCommaList(args.value("methods", "l2p,seq-ft,joint"));
    const std::vector<int> seeds = parseSeeds(args.value("seeds", "1"));
    if (methods.empty() || seeds.empty())
        throw Error("--methods and --seeds need at least one value each");

    // The study: one cell of the continual protocol per method and seed.
    RunSettings base;
    base.protocol = "continual";
    base.model = *model;
    base.device = args.value("device", "auto");
    base.threads = args.intValue("threads", 0);
    base.epochs = args.intValue("epochs-per-task", 5);
    base.batchSize = args.intValue("batch-size", 0);
    base.shots = args.intValue("train-per-class", 0);
    base.loaderThreads = intAtLeast(args, "loader-threads", 0, 0);
    const nlohmann::json options = parseOptions(args.values("opt"));
    if (base.epochs < 1)
        throw Error("--epochs-per-task must be at least 1, got " + std::to_string(base.epochs));
    if (base.batchSize < 0 || base.shots < 0 || args.intValue("test-per-class", 0) < 0)
        throw Error("--batch-size, --train-per-class and --test-per-class must not be negative");
    base.protocolOptions = {{"stream", protocol}, {"test_per_class", args.intValue("test-per-class", 0)},
                            {"order_seed", seeds.front()}};  // every seed sees the same stream
    if (protocol == "class") {
        const auto dataset = args.value("dataset");
        if (!dataset)
            throw Error("--dataset D is required for the class-incremental protocol");
        if (!args.value("tasks"))
            throw Error("--tasks T is required for the class-incremental protocol");
        base.dataset = *dataset;
        const int taskCount = args.intValue("tasks", 0);
        if (taskCount < 2)
            throw Error("--tasks " + std::to_string(taskCount) + ": a stream needs at least 2 tasks (one task is plain training: use train)");
        base.protocolOptions["tasks"] = taskCount;
    } else {
        base.protocolOptions["datasets"] = splitCommaList(args.value("datasets", ""));
    }
    std::vector<RunSettings> cells;
    for (const auto& method : methods)
        for (int seed : seeds) {
            // "joint" in --methods is the protocol's joint training of L2P.
            const RunSettings cell = continualCell(base, method == "joint" ? "l2p" : method, method == "joint", seed, options);
            if (!findStrategy(cell.method).capabilities.continual)
                throw Error("--methods: '" + method + "' is not a continual-learning method (" + continualMethodList() + ")");
            findProtocol("continual").validate(cell);
            cells.push_back(cell);
        }

    std::string stream;
    const std::vector<ContinualTask> tasks = continualStream(base, &stream, [](const std::string& line) { std::cerr << line << "\n"; });
    if (protocol == "domain" && args.value("tasks") && args.intValue("tasks", 0) != static_cast<int>(tasks.size()))
        throw Error("--tasks " + *args.value("tasks") + " does not match the " + std::to_string(tasks.size()) + " datasets of --datasets");
    configureThreads(base.threads);
    // The image tower only: no vocabulary is needed, even for a CLIP model.
    CellBackbones backbones;  // the cells run on this one
    const Backbone& backbone = backbones.of(base);
    std::cerr << "continual: " << tasks.size() << " tasks on " << describeDevice(backbone.device) << "\n";
    const bool drawFigures = figuresUnavailable().empty();
    if (!drawFigures)
        std::cerr << "continual: " << figuresUnavailable() << "; the heat maps are skipped\n";
    for (size_t t = 0; t < tasks.size(); ++t)
        std::cerr << "  task " << t + 1 << ": " << tasks[t].name << " (" << tasks[t].data.train.size() << " train, "
                  << tasks[t].data.test.size() << " test images)\n";
    const fs::path runs = args.value("runs", RunStore::defaultRoot());

    // In this process, cell after cell (the in-process executor); each run folder resumes after its last
    // finished task, and a finished one is read back.
    std::vector<StudyCell> study;
    std::vector<std::string> labels, prefixes;
    for (const RunSettings& cell : cells) {
        labels.push_back(continualLabel(continualSettingsOf(cell)));
        prefixes.push_back("[" + labels.back() + " seed " + std::to_string(cell.seed) + "] ");
        study.push_back({cell, fs::absolute(runs / continualRunFolderName(stream, labels.back(), cell.seed)).lexically_normal().string()});
    }
    CellsHereCallbacks callbacks;
    callbacks.onStart = [&](std::size_t i) {
        std::cerr << prefixes[i] << "run folder " << study[i].folder << "\n"
                  << prefixes[i] << "accuracy % after each task (rows) on each task so far:\n";
    };
    callbacks.onLog = [&](std::size_t i, const std::string& line) { std::cerr << prefixes[i] << line << "\n"; };
    RunControl control;
    StopOnInterrupt stopOnInterrupt(control);
    runCellsHere(study, callbacks, &control, &backbones);

    nlohmann::json out = {{"protocol", protocol}, {"tasks", nlohmann::json::array()}, {"methods", nlohmann::json::object()}};
    for (const auto& task : tasks)
        out["tasks"].push_back({{"name", task.name}, {"classes", task.classes}});
    std::map<std::string, std::vector<ContinualResult>> resultsOf;
    std::map<std::string, nlohmann::json> perSeedOf;
    for (std::size_t i = 0; i < study.size(); ++i) {
        if (runFolderState(study[i].folder) != RunState::Finished)
            throw Error(prefixes[i] + "stopped before the last task (or run by another process); run the same command again to continue from " +
                        study[i].folder);
        const std::string resultsPath = study[i].folder + "/results.json";
        resultsOf[labels[i]].push_back(ContinualResult::fromJson(RunStore::readJsonFile(resultsPath), resultsPath));
        nlohmann::json perSeed = resultsOf[labels[i]].back().toJson();
        perSeed["run"] = study[i].folder;
        perSeedOf[labels[i]].push_back(perSeed);
    }
    for (const auto& method : methods) {
        const ContinualSummary summary = summariseContinualSeeds(resultsOf[method]);
        out["methods"][method] = {{"average_accuracy", summary.averageAccuracy},
                                  {"forgetting", summary.forgetting ? nlohmann::json(*summary.forgetting) : nlohmann::json()},
                                  {"matrix", summary.matrix},
                                  {"per_seed", perSeedOf[method]}};
        // The mean matrix as a heat map beside the run folders.
        if (drawFigures) {
            const fs::path heatMap = runs / ("continual-" + stream + "-" + method + "-matrix.png");
            const std::string title = method + ": accuracy % (mean of " + std::to_string(seeds.size()) + (seeds.size() == 1 ? " seed)" : " seeds)");
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
        std::snprintf(line, sizeof line, "%-8s A_T %6.2f  F_T %s  (mean of %zu seed%s)\n", method.c_str(), 100.0 * summary.averageAccuracy,
                      summary.forgetting ? formatAccuracyRow({*summary.forgetting}).c_str() : "      -", seeds.size(), seeds.size() == 1 ? "" : "s");
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
