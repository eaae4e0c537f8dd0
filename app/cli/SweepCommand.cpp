// tunebench-cli sweep: a plan of runs (datasets x methods x shots x seeds) in a folder, run here by worker
// processes or on a Slurm cluster as one job array; `sweep status` counts the runs' states, `sweep
// collect` tables their results. Every run is `tunebench-cli train --config RUN/config.json --run-folder RUN`,
// so a sweep run again (here or on the cluster) runs only what is not finished, resuming from checkpoints.
#include "app/cli/Commands.h"
#include "app/cli/RunSetup.h"
#include "app/cli/StudyExecutors.h"

#include "app/cli/CliArgs.h"
#include "core/Device.h"
#include "core/Error.h"
#include "core/io/CsvField.h"
#include "core/experiment/Protocol.h"
#include "core/experiment/Sweep.h"
#include "core/io/AtomicFile.h"
#include "core/train/RunControl.h"
#include "core/train/RunStore.h"
#include "core/tuning/StrategyInfo.h"
#include "report/Figures.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <thread>

namespace fs = std::filesystem;

namespace tunebench::cli {

namespace {

int sweepStatus(const CliArgs& args)
{
    if (args.positional().size() != 1)
        throw Error("usage: tunebench-cli sweep status DIR");
    const SweepPlan plan = readSweepPlan(args.positional()[0]);
    const std::vector<RunState> states = sweepStates(plan);
    nlohmann::json out = countStates(states).toJson();
    out["failed_runs"] = nlohmann::json::array();
    for (std::size_t i = 0; i < states.size(); ++i)
        if (states[i] == RunState::Failed)
            out["failed_runs"].push_back(plan.runs[i].folder);
    std::cout << out.dump() << std::endl;
    return 0;
}

int sweepCollect(const CliArgs& args)
{
    if (args.positional().size() != 1)
        throw Error("usage: tunebench-cli sweep collect DIR");
    const SweepPlan plan = readSweepPlan(args.positional()[0]);
    const std::vector<SweepCell> cells = collectSweep(plan);
    nlohmann::json rows = nlohmann::json::array();
    // A sweep with an option grid has one more column: the grid point ("lr=0.002 n_ctx=4").
    std::string csv = plan.grid.empty() ? "dataset,method,shots,seeds,metric,mean,std\n" : "dataset,method,options,shots,seeds,metric,mean,std\n";
    std::cerr << "dataset                    method           shots seeds  mean ± std (%)\n";
    for (const SweepCell& cell : cells) {
        nlohmann::json row = {{"dataset", cell.dataset}, {"method", cell.method}, {"shots", cell.shots}, {"seeds", cell.seeds}};
        const std::string point = gridPointLabel(cell.options);
        if (!plan.grid.empty())
            row["options"] = cell.options;
        std::string text;
        for (const auto& [metric, mean] : cell.mean) {
            row[metric] = {{"mean", mean}, {"std", cell.stdev.at(metric)}};
            csv += cell.dataset + "," + cell.method + "," + (plan.grid.empty() ? "" : csvField(point) + ",") + std::to_string(cell.shots) +
                   "," + std::to_string(cell.seeds) + "," + metric + "," + nlohmann::json(mean).dump() + "," +
                   nlohmann::json(cell.stdev.at(metric)).dump() + "\n";
            char part[64];
            std::snprintf(part, sizeof part, "  %s %.2f ± %.2f", metric.c_str(), 100 * mean, 100 * cell.stdev.at(metric));
            text += part;
        }
        rows.push_back(row);
        char line[160];
        std::snprintf(line, sizeof line, "%-26s %-16s %5d %5d", cell.dataset.c_str(), cell.method.c_str(), cell.shots, cell.seeds);
        std::cerr << line << text << (point.empty() ? "" : "  (" + point + ")") << "\n";
    }
    const nlohmann::json table = {{"rows", rows}, {"counts", countStates(sweepStates(plan)).toJson()}};
    writeFileAtomically((fs::path(plan.folder) / "collect.json").string(), table.dump(2) + "\n");
    writeFileAtomically((fs::path(plan.folder) / "collect.csv").string(), csv);

    // The few-shot figure per dataset: H under base-to-new, else accuracy; zero-shot as the star at 0.
    const std::string noFigures = !plan.base.protocol.empty() ? "curves are drawn for few-shot sweeps (protocol " + plan.base.protocol + ")"
                                                               : figuresUnavailable();
    if (!noFigures.empty())
        std::cerr << "sweep collect: " << noFigures << "; collect.json and collect.csv are written\n";
    else
        for (const std::string& dataset : plan.datasets) {
            std::string metric;
            const std::vector<ShotCurve> curves = sweepCurves(plan, cells, dataset, &metric);
            std::string name;
            for (char c : dataset)
                name += std::isalnum(static_cast<unsigned char>(c)) || c == '-' ? c : '_';
            const fs::path png = fs::path(plan.folder) / ("curve-" + name + ".png");
            const std::string problem = writeShotCurveFigure(curves, dataset, metric == "h" ? "H (%)" : "Accuracy (%)", png.string(),
                                                             fs::path(png).replace_extension(".pdf").string());
            if (!problem.empty())
                std::cerr << "sweep collect: " << problem << "\n";
        }
    std::cout << table.dump() << std::endl;
    return 0;
}

int planAndRun(const CliArgs& args)
{
    RunSettings base = settingsFromArgs(args, {}, /*shotList=*/true);
    base.maxTestImages = intAtLeast(args, "max-test-images", 0, 0);
    if (base.model.empty())
        throw Error("--model PATH is required");
    base.model = absoluteIfPath(base.model);
    if (!base.vocab.empty())
        base.vocab = absoluteIfPath(base.vocab);
    // --opt name=a,b (or a JSON list) is an axis of the grid. A single value of a run setting (lr, epochs,
    // ...) sets it for every run, as its flag would; any other single value stays an option of every run.
    OptionGrid grid;
    for (const std::string& pair : args.values("opt")) {
        const auto eq = pair.find('=');
        if (eq == std::string::npos || eq == 0)
            continue;  // settingsFromArgs already refused it
        const std::string name = pair.substr(0, eq);
        const auto& settings = gridSettingNames();
        if (const auto values = gridValues(pair.substr(eq + 1))) {
            grid[name] = *values;
            base.options.erase(name);
        } else if (std::find(settings.begin(), settings.end(), name) != settings.end()) {
            nlohmann::json json = base.toJson();
            json[name] = base.options[name];
            base.options.erase(name);
            json["options"] = base.options;
            base = RunSettings::fromJson(json);
        }
    }
    std::vector<std::string> datasets;
    for (const std::string& dataset : splitCommaList(args.value("datasets", "")))
        datasets.push_back(absoluteIfPath(dataset));
    // The kind of study: few-shot (the default), or another protocol with its options.
    base.protocol = args.value("protocol", "");
    const StudyProtocol& protocol = findProtocol(base.protocol);
    base.protocol = protocol.name == "few-shot" ? "" : protocol.name;  // few-shot configs keep their shape
    base.protocolOptions = parseOptions(args.values("protocol-opt"));
    if (base.protocolOptions.contains("target") && base.protocolOptions["target"].is_string())  // array tasks start elsewhere
        base.protocolOptions["target"] = absoluteIfPath(base.protocolOptions["target"].get<std::string>());
    if (base.protocol.empty() && !base.protocolOptions.empty())
        throw Error("--protocol-opt: the few-shot protocol has no options (its settings are flags: --base-new, --eval-datasets, ...)");
    const std::vector<int> seeds = parseSeeds(args.value("seeds", "1"));  // at least one, or an Error
    if (base.protocol == "continual") {
        if (base.protocolOptions.value("stream", "class") != "class")
            throw Error("--protocol continual: a sweep runs class-incremental streams (--protocol-opt tasks=T on each of --datasets); a "
                        "domain-incremental stream is one command: tunebench-cli continual --datasets D1,D2,...");
        if (!base.protocolOptions.contains("order_seed"))  // every seed sees the stream in the same class order
            base.protocolOptions["order_seed"] = seeds.front();
    }
    const auto out = args.value("out");
    if (!out)
        throw Error("--out DIR is required: the sweep's plan, run folders and logs go there");
    // The runs share one image-tower pass through a cache in the sweep folder, which every array task
    // reaches wherever the sweep folder is reachable.
    base.featureCache = featureCacheFolder(args, (fs::absolute(*out) / "feature-cache").lexically_normal().string());
    const bool slurm = args.flag("slurm"), inProcess = args.flag("in-process");
    const auto local = args.value("local");
    if (int(slurm) + int(inProcess) + int(static_cast<bool>(local)) != 1)
        throw Error("say where the runs go: --in-process (one after another in this process), --local N (worker processes here) or "
                    "--slurm (one job array)");
    const SweepPlan plan = makeSweepPlan(*out, base, datasets, splitCommaList(args.value("methods", "")),
                                         parseShotCounts(args.value("shots", "16")), seeds, grid);
    writeSweepPlan(plan);
    if (slurm) {
        std::cout << submitPlanToSlurm(plan, slurmOptionsFromArgs(args, "tunebench-sweep"), args.flag("dry-run"), "sweep").dump() << std::endl;
        return 0;
    }
    if (inProcess && !args.flag("dry-run")) {
        configureThreads(base.threads);
        RunControl control;
        const StopOnInterrupt stopOnInterrupt(control);
        const std::size_t todo = unfinishedIndices(plan).size();
        std::cerr << "sweep: " << todo << " of " << plan.runs.size() << " runs to run in this process\n";
        SweepHereCallbacks callbacks;
        callbacks.onLog = [](const SweepRun& run, const std::string& line) { std::cerr << "[" << run.index << "] " << line << "\n"; };
        const int finished = runSweepHere(plan, callbacks, &control);
        const SweepCounts counts = countStates(sweepStates(plan));
        std::cout << nlohmann::json{{"finished", finished}, {"counts", counts.toJson()}}.dump() << std::endl;
        return counts.finished == counts.total ? 0 : 1;
    }
    const int workers = inProcess ? 1 : parseInteger("--local", *local);
    if (workers < 1)
        throw Error("--local N: N worker processes, at least 1");
    if (args.flag("dry-run")) {
        const std::size_t todo = unfinishedIndices(plan).size();
        std::cerr << "sweep: planned " << plan.runs.size() << " runs in " << plan.folder << " (" << todo
                  << " unfinished); not run (--dry-run)\n";
        std::cout << nlohmann::json{{"plan", (fs::path(plan.folder) / "plan.json").string()}, {"total", plan.runs.size()}, {"runs", todo}}.dump()
                  << std::endl;
        return 0;
    }
    const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    const SweepCounts counts = runPlanLocally(plan, workers, base.threads > 0 ? base.threads : std::max(1, cores / workers), "sweep");
    std::cout << counts.toJson().dump() << std::endl;
    return counts.finished == counts.total ? 0 : 1;
}

} // namespace

std::vector<Command> sweepCommands()
{
    Options training;
    for (const Option& option : trainingOptions())
        if (option.name != "opt")
            training.push_back(option);
    return {
        {"sweep",
         "--model PATH --datasets D1,D2 --methods a,b --shots 1,2,4,8,16 --seeds 1,2,3 [--opt name=v1,v2 ...] --out DIR "
         "(--in-process | --local N | --slurm [--partition P --gpus-per-task G --cpus-per-task C --time HH:MM:SS --max-concurrent K]) [--dry-run]",
         "a plan of runs in DIR, run by N worker processes or as one Slurm job array; run again, it runs only what is unfinished",
         Options{
             {"model", "PATH", "the checkpoint (made absolute: array tasks start elsewhere)"},
             {"datasets", "D1,D2", "datasets (folders or built-in names)"},
             {"methods", "a,b", "the strategies"},
             {"shots", "1,2,4,8,16", "shot counts (default 16)"},
             {"seeds", "1,2,3", "seeds (default 1)"},
             {"opt", "name=VALUES",
              "a method option or a run setting (lr, epochs, batch_size, ...); several values (v1,v2 or a JSON list, "
              "[\"a, b\"] for one with a comma) are a grid: the sweep plans their product (repeatable)"},
             {"base-new", "", "base-to-new runs (Base, New, H)"},
             {"protocol", "NAME", "the kind of study: few-shot (default), adaptation (to --protocol-opt target=D) or continual "
                                  "(class-incremental: A_T, F_T per run)"},
             {"protocol-opt", "name=value", "an option of the protocol (repeatable): adaptation's target=D; continual's tasks=T, "
                                            "joint=true, test_per_class=K"},
             {"max-test-images", "N", "score a fixed seeded subset of each test split"},
             {"out", "DIR", "the sweep folder: plan.json, runs/, logs/, the shared feature cache"},
             {"in-process", "", "run here, one run after another in this process (one model load for all)"},
         } + executorOptions() + Options{
             {"dry-run", "", "plan (and write the sbatch script) without running or submitting"},
         } + training,
         planAndRun},
        {"sweep status", "DIR", "{\"total\", \"finished\", \"failed\", \"running\", \"pending\"} of a sweep's runs", {}, sweepStatus, 1},
        {"sweep collect", "DIR", "mean ± std per dataset x method x grid point x shots (collect.csv/.json, curve-DATASET.png/.pdf)", {},
         sweepCollect, 1},
    };
}

} // namespace tunebench::cli
