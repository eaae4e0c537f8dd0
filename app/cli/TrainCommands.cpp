// train, eval, export and compare: the commands that tune and score strategies.
#include "app/cli/Commands.h"

#include "app/cli/RunSetup.h"
#include "core/Device.h"
#include "core/Error.h"
#include "core/data/DomainAdaptationData.h"
#include "core/data/FewShot.h"
#include "core/data/ImagePreprocess.h"
#include "core/experiment/Protocol.h"
#include "core/experiment/RunOutcome.h"
#include "core/experiment/SeedStatistics.h"
#include "core/experiment/Sweep.h"
#include "core/export/PromptExport.h"
#include "core/io/AtomicFile.h"
#include "core/io/FolderLock.h"
#include "core/train/FeatureCache.h"
#include "core/train/RunControl.h"
#include "core/train/RunStore.h"
#include "core/train/Trainer.h"
#include "core/tuning/prompt/ClipStrategy.h"
#include "report/Figures.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <sstream>

namespace fs = std::filesystem;

namespace tunebench::cli {

namespace {

// What train and compare share besides trainingOptions().
const Options kDatasetOptions = {
    {"model", "PATH", "the checkpoint (an OpenAI .pt, a .safetensors file or a Hugging Face CLIP folder)"},
    {"dataset", "D", "a dataset folder, or a built-in name (fashion-mnist, fashion-mnist:DOMAIN; tunebench-cli dataset list)"},
    {"base-new", "", "base-to-new: train on the first half of the classes, score base and new classes and H"},
    {"eval-datasets", "D1,D2", "domain generalisation: also score on these datasets (same classes)"},
    {"tasks", "N", "tasks the storage multiplier counts (default 24, the VPT paper's VTAB-1k)"},
};

void requireSettings(const RunSettings& s, bool needMethod)
{
    if (s.model.empty())
        throw Error("--model PATH is required");
    if (s.dataset.empty())
        throw Error("--dataset PATH|NAME is required");
    if (needMethod && s.method.empty())
        throw Error("--method NAME is required");
    if (s.shots < 0)
        throw Error("--shots must be 0 (all) or positive, got " + std::to_string(s.shots));
}

std::string percent(const nlohmann::json& value)
{
    if (!value.is_number())
        return "   -  ";
    char buffer[16];
    std::snprintf(buffer, sizeof buffer, "%6.2f", value.get<double>() * 100);
    return buffer;
}

// A cell of another protocol than few-shot (a continual stream), as a sweep's executors hand it over:
// train --run-folder RUN, or train --config with "protocol" in its settings.
int runOtherProtocol(const CliArgs& args, const RunSettings& settings, RunStore* planned)
{
    const StudyProtocol& protocol = findProtocol(settings.protocol);
    if (settings.model.empty() || settings.method.empty())
        throw Error("--model PATH and --method NAME are required");
    findStrategy(settings.method);
    if (protocol.validate)
        protocol.validate(settings);
    configureThreads(settings.threads);
    const Backbone backbone = loadCellBackbone(settings);
    RunStore store = planned ? *planned : RunStore::create(args.value("runs", RunStore::defaultRoot()), settings.method, protocol.name);
    std::optional<FolderLock> lock;  // a planned folder is locked by the caller
    if (!planned)
        lock.emplace(store.lock());
    std::cerr << "run folder: " << store.folder() << " (protocol " << protocol.name << ")\n";
    RunControl control;
    const StopOnInterrupt stopOnInterrupt(control);
    CellCallbacks callbacks;
    callbacks.onLog = [](const std::string& line) { std::cerr << line << "\n"; };
    const nlohmann::json results = runStudyCell(settings, backbone, store, true, callbacks, &control);
    if (results.value("status", "") == "stopped")
        std::cerr << "stopped; what finished is kept: continue with tunebench-cli train --run-folder " << store.folder() << "\n";
    std::cout << results.dump() << std::endl;
    return results.value("status", "") == "finished" ? 0 : 1;
}

// Whether `store` holds a finished run and `resumed` (its settings after the flags) would train it no
// further: the same settings as `stored` up to those that only say where and how fast it runs.
bool isFinishedWith(const RunStore& store, const RunSettings& stored, const RunSettings& resumed)
{
    const nlohmann::json results = store.readResults();
    if (!results.is_object() || results.value("status", "") != "finished")
        return false;
    return definingSettings(stored) == definingSettings(resumed);
}

int runTrain(const CliArgs& args)
{
    RunSettings settings;
    std::optional<RunStore> store;
    std::optional<FolderLock> lock;  // held while this process writes the run folder
    bool resume = false;
    if (auto runFolder = args.value("run-folder")) {
        // A run folder planned beforehand (a sweep's): its settings from --config (else its own
        // config.json), its checkpoint resumed when it has one.
        if (args.value("resume"))
            throw Error("--run-folder and --resume are two ways to name the folder: give one");
        store = RunStore::open(*runFolder);
        lock.emplace(store->lock());
        settings = RunSettings::fromJson(store->readConfig().value("settings", nlohmann::json::object()), store->folder() + "/config.json");
        resume = true;
    }
    if (auto resumeDir = args.value("resume")) {
        store = RunStore::open(*resumeDir);
        lock.emplace(store->lock());
        settings = RunSettings::fromJson(store->readConfig().value("settings", nlohmann::json::object()), store->folder() + "/config.json");
        resume = true;
    }
    const RunSettings folderSettings = settings;  // what the folder ran with, before --config and the flags
    if (auto configPath = args.value("config"); configPath && !args.value("resume")) {
        const auto config = RunStore::readJsonFile(*configPath);
        settings = RunSettings::fromJson(config.contains("settings") ? config["settings"] : config, *configPath);
    }
    const RunSettings stored = store ? folderSettings : settings;
    settings = settingsFromArgs(args, settings);
    // --resume and --run-folder alike: a finished run is not trained again (a sweep's folder that
    // finished would otherwise be rerun and its results.json rewritten).
    if (store && isFinishedWith(*store, stored, settings)) {
        // Nothing is left to train: its results stand as written (re-running would only re-time them).
        std::cerr << store->folder() << ": the run is finished; its results.json is kept as it is\n";
        std::cout << store->readResults().dump() << std::endl;
        return 0;
    }
    if (!settings.protocol.empty() && findProtocol(settings.protocol).name != "few-shot")
        return runOtherProtocol(args, settings, store ? &*store : nullptr);
    requireSettings(settings, true);
    configureThreads(settings.threads);
    findStrategy(settings.method);  // unknown names fail before any loading

    const Backbone backbone = loadBackbone(settings.model, settings.vocab, settings.device);
    // An adapted run reads its source as a domain-adaptation domain (an Office-Home domain is used whole).
    const DatasetIndex dataset = settings.adaptTarget.empty()
                                     ? openDatasetLogged(settings.dataset)
                                     : openAdaptationDomain(settings.dataset, [](const std::string& line) { std::cerr << line << "\n"; });
    if (!store) {
        store = RunStore::create(args.value("runs", RunStore::defaultRoot()), settings.method, dataset.name);
        lock.emplace(store->lock());
    }
    store->writeConfig(runConfig(settings, dataset, backbone));
    std::cerr << "run folder: " << store->folder() << "\n";
    // The experiment writes results.json (with the details a reopened run shows) into the run folder.
    RunControl control;
    const StopOnInterrupt stopOnInterrupt(control);
    const nlohmann::json results = runExperimentLogged(settings, backbone, dataset, &*store, resume, "", &control);
    if (results["status"] == "stopped")
        std::cerr << "stopped; the last finished epoch is kept: continue with tunebench-cli train --resume " << store->folder() << "\n";
    std::cout << results.dump() << std::endl;
    return results["status"] == "finished" ? 0 : 1;
}

int runEval(const CliArgs& args)
{
    const auto modelPath = args.value("model");
    const auto datasetName = args.value("dataset");
    if (!modelPath)
        throw Error("--model PATH is required");
    if (!datasetName)
        throw Error("--dataset PATH|NAME is required");
    configureThreads(args.intValue("threads", 0));
    const std::string split = args.value("split", "test");
    if (split != "test" && split != "val" && split != "train")
        throw Error("--split must be test, val or train, got '" + split + "'");
    const int loaderThreads = intAtLeast(args, "loader-threads", 0, 0);
    const auto seed = static_cast<std::uint64_t>(intAtLeast(args, "seed", 1, 0));
    const int shots = intAtLeast(args, "shots", 0, 0);
    setMaxImagePixels(maxImagePixelsFromArgs(args, 0));
    // --tuned EXPORT.json (--prompt is its older name): any method's export; its method says whether the text
    // tower (and so the vocabulary) is needed.
    if (args.value("tuned") && args.value("prompt"))
        throw Error("--tuned and --prompt name the same thing: give one");
    const std::optional<std::string> tuned = args.value("tuned") ? args.value("tuned") : args.value("prompt");
    std::string method = args.value("method", "zeroshot");
    if (tuned) {
        const nlohmann::json manifest = RunStore::readJsonFile(PromptExport::manifestFile(*tuned));
        if (!manifest.is_object() || !manifest.contains("method") || !manifest["method"].is_string())
            throw Error(*tuned + ": not a Tunebench export (no method)");
        method = manifest["method"].get<std::string>();
    }
    const Backbone backbone = loadBackboneFor(method, *modelPath, args.value("vocab", ""), args.value("device", "auto"));
    if (!backbone.tokenizer && findStrategy(method).capabilities.needsTextTower)
        throw Error(*modelPath + ": eval scores CLIP prompts; a vision-only model has no text tower");
    DatasetIndex dataset = openDatasetLogged(*datasetName);
    if (shots > 0)
        dataset = applyFewShot(dataset, {shots, seed});
    const bool baseNew = args.flag("base-new");
    const DatasetIndex first = baseNew ? subsampleClasses(dataset, ClassSubset::Base) : dataset;
    const int resolution = backbone.checkpoint.spec.vision.imageSize;
    auto samplesOf = [&](const DatasetIndex& d) -> const std::vector<Sample>& {
        return split == "train" ? d.train : split == "val" ? d.val : d.test;
    };

    TaskSetup setup;
    setup.classNames = first.classNames;
    setup.promptTemplate = dataset.promptTemplate;
    setup.datasetName = dataset.name;
    setup.tokenizer = backbone.tokenizer;
    std::unique_ptr<Strategy> strategy;
    if (tuned) {
        if (args.value("template"))
            throw Error("--template applies to zero-shot evaluation, not to --tuned");
        ImportedPrompt imported = PromptExport::read(*tuned, backbone.build(), setup);
        for (const auto& warning : imported.warnings)
            std::cerr << "warning: " << warning << "\n";
        strategy = std::move(imported.strategy);
    } else {
        nlohmann::json options = parseOptions(args.values("opt"));
        if (auto templ = args.value("template"))
            options["template"] = *templ;
        torch::manual_seed(seed);
        strategy = findStrategy(method).create();
        strategy->attach(backbone.build(), setup, options);
        if (strategy->needsTraining())
            std::cerr << "warning: " << method << " is evaluated untrained (use --tuned EXPORT.json for a trained one)\n";
    }
    SkippedImages skipped;
    const auto logLine = [](const std::string& line) { std::cerr << line << "\n"; };
    const Evaluation evaluation = evaluateOn(*strategy, first, samplesOf(first), resolution, loaderThreads, &skipped, nullptr, logLine);
    nlohmann::json out = accuracyJson(evaluation, first.classNames);
    if (baseNew) {
        const DatasetIndex novel = subsampleClasses(dataset, ClassSubset::New);
        strategy->setClasses(novel.classNames);
        const Evaluation newEval = evaluateOn(*strategy, novel, samplesOf(novel), resolution, loaderThreads, &skipped, nullptr, logLine);
        out["base"] = evaluation.accuracy;
        out["new"] = newEval.accuracy;
        out["h"] = harmonicMean(evaluation.accuracy, newEval.accuracy);
        out["new_eval"] = accuracyJson(newEval, novel.classNames);
    }
    out["problems"] = skipped.lines();
    std::cerr << "evaluated " << out["n"].get<std::int64_t>() << " images of " << dataset.name << " (" << split << ") on "
              << describeDevice(backbone.device) << "\n";
    for (const std::string& problem : skipped.lines())
        std::cerr << "skipped: " << problem << "\n";
    std::cout << out.dump() << std::endl;
    return 0;
}

int runExport(const CliArgs& args)
{
    const auto runDir = args.value("run");
    if (!runDir)
        throw Error("--run RUN_DIR is required");
    if (args.value("onnx") && args.value("out"))
        throw Error("--out and --onnx name two different exports: give one");
    if (!args.value("onnx") && (args.flag("fp16") || args.value("opset")))
        throw Error("--fp16 and --opset are options of --onnx OUT.onnx");
    configureThreads(args.intValue("threads", 0));
    const RunStore store = RunStore::open(*runDir);
    TunedModel tuned = openTunedRun(*runDir, "", args.value("vocab", ""), args.value("device", "cpu"), ModelMismatch::Warn);
    for (const auto& warning : tuned.warnings)
        std::cerr << "warning: " << warning << "\n";
    const std::string& manifestPath = tuned.manifestPath;
    if (const auto onnx = args.value("onnx")) {
        OnnxOptions options;
        options.opset = args.intValue("opset", options.opset);
        options.fp16 = args.flag("fp16");
        const nlohmann::json written = writeTunedOnnx(tuned, *onnx, options);
        std::cerr << "wrote " << written["method"].get<std::string>() << " as ONNX (opset " << options.opset << ", "
                  << written["precision"].get<std::string>() << ", " << written["classes"] << " classes) to " << *onnx << "\n";
        std::cout << written.dump() << std::endl;
        return 0;
    }
    // Every family exports: the CLIP methods as prompt.*, the others as tuned.*.
    const std::string out = args.value("out", (fs::path(manifestPath).parent_path() / fs::path(manifestPath).stem()).string());
    const nlohmann::json written = PromptExport::write(*tuned.strategy, out, tuned.manifest.value("metrics", nlohmann::json::object()), 5,
                                                       fs::path(store.folder()).filename().string());
    std::string base = out;
    if (fs::path(base).extension() == ".json" || fs::path(base).extension() == ".safetensors")
        base = (fs::path(base).parent_path() / fs::path(base).stem()).string();
    std::cerr << "exported " << written["method"].get<std::string>() << " to " << base << ".json + .safetensors\n";
    std::cout << nlohmann::json{{"manifest", base + ".json"}, {"tensors", base + ".safetensors"}, {"method", written["method"]},
                                {"nearest_words", written["nearest_words"]}}
                     .dump()
              << std::endl;
    return 0;
}

// A point of the few-shot figure from a table entry: the scores only.
nlohmann::json curvePoint(int shots, const nlohmann::json& entry)
{
    nlohmann::json point = {{"shots", shots}};
    for (const char* key : {"accuracy", "base", "new", "h"})
        if (entry.contains(key))
            point[key] = entry[key];
    return point;
}

std::string csvNumber(const nlohmann::json& value)
{
    return value.is_number() ? value.dump() : "";
}

// curve.csv and curve.png/.pdf of compare's "curves"; H under base-to-new, else accuracy.
void writeCurveFiles(const RunStore& store, const nlohmann::json& curves, const std::vector<std::string>& methods,
                     const std::string& datasetName, bool baseNew)
{
    std::string csv = "method,shots,accuracy,base,new,h\n";
    std::vector<ShotCurve> figure;
    const char* metric = baseNew ? "h" : "accuracy";
    for (const std::string& method : methods) {
        ShotCurve curve;
        curve.method = method;
        curve.dashed = !findStrategy(method).capabilities.usesPrompts;
        for (const nlohmann::json& point : curves[method]) {
            csv += method + "," + point["shots"].dump() + "," + csvNumber(point.value("accuracy", nlohmann::json())) + "," +
                   csvNumber(point.value("base", nlohmann::json())) + "," + csvNumber(point.value("new", nlohmann::json())) + "," +
                   csvNumber(point.value("h", nlohmann::json())) + "\n";
            if (point.contains(metric) && point[metric].is_number()) {
                curve.shots.push_back(point["shots"].get<double>());
                curve.values.push_back(point[metric].get<double>());
            }
        }
        figure.push_back(curve);
    }
    const fs::path folder = store.folder();
    writeFileAtomically((folder / "curve.csv").string(), csv);
    const std::string problem = writeShotCurveFigure(figure, datasetName, baseNew ? "H (%)" : "Accuracy (%)",
                                                     (folder / "curve.png").string(), (folder / "curve.pdf").string());
    if (!problem.empty())
        std::cerr << "compare: the curve figure was not written: " << problem << "\n";
}

// One seed's row of compare's table, from its cell's results.json: the JSON of "per_seed", the run's
// parameter counts and the line printed on stderr.
struct SeedRow
{
    nlohmann::json json;
    nlohmann::json parameters;
    std::string line;
    RunOutcome outcome;
};

SeedRow seedRow(const SweepRun& run, const nlohmann::json& results, bool baseNew)
{
    SeedRow row;
    row.outcome = RunOutcome::fromJson(results, run.folder + "/results.json");
    const auto jsonOf = [](const std::optional<double>& value) { return value ? nlohmann::json(*value) : nlohmann::json(); };
    row.json = {{"seed", run.seed}, {"accuracy", jsonOf(row.outcome.accuracy)}, {"status", row.outcome.status}};
    if (baseNew) {
        row.json["base"] = jsonOf(row.outcome.base);
        row.json["new"] = jsonOf(row.outcome.novel);
        row.json["h"] = jsonOf(row.outcome.harmonic);
    }
    if (results.contains("targets")) {
        row.json["targets"] = nlohmann::json::object();
        for (const auto& [name, accuracy] : row.outcome.targets)
            row.json["targets"][name] = accuracy;
    }
    row.parameters = results["parameters"];
    char line[200];
    std::snprintf(line, sizeof line, "%-16s %5d %4d  %s  %s  %s  %10lld  %8.2fx", run.method.c_str(), run.shots, run.seed,
                  percent(baseNew ? row.json["base"] : row.json["accuracy"]).c_str(), percent(row.json.value("new", nlohmann::json())).c_str(),
                  percent(row.json.value("h", nlohmann::json())).c_str(), row.parameters["trainable"].get<long long>(),
                  row.parameters["multiplier"].get<double>());
    row.line = line;
    return row;
}

// compare is a study of its own: one few-shot cell per method, shot count and seed, planned as a sweep in
// compare's run folder (runs/NNNN-METHOD-.../, each an ordinary run folder; `sweep status` and `sweep
// collect` read it) and run in this process. Its table is read back from the cells' results.json.
int runCompare(const CliArgs& args)
{
    // --shots is a list here: every count is a point of the few-shot curves; the table is the last count's.
    const std::vector<int> shotCounts = parseShotCounts(args.value("shots", "16"));
    RunSettings defaults;
    defaults.featureCache = FeatureCache::defaultFolder();  // the methods share one image-tower pass
    RunSettings settings = settingsFromArgs(args, defaults, /*shotList=*/true);
    settings.shots = shotCounts.back();
    settings.baseNew = !args.flag("no-base-new");
    settings.maxTestImages = intAtLeast(args, "max-test-images", 0, 0);  // a fixed seeded subset of each test split
    const auto methods = splitCommaList(args.value("methods", "zeroshot,coop,cocoop"));
    const std::vector<int> seeds = parseSeeds(args.value("seeds", "1"));
    if (methods.empty() || seeds.empty())
        throw Error("--methods and --seeds need at least one value each");
    settings.method = methods.front();
    requireSettings(settings, false);
    for (const auto& method : methods)
        findStrategy(method);
    configureThreads(settings.threads);
    CellBackbones backbones;  // the cells run on this one
    const Backbone& backbone = backbones.of(settings);
    const DatasetIndex dataset = openDatasetLogged(settings.dataset);
    // Opened here too so that a target whose classes do not pair fails before anything trains.
    const std::vector<DatasetIndex> targets =
        openTargetDatasets(settings, dataset, [](const std::string& message) { std::cerr << message << "\n"; });
    RunStore store = RunStore::create(args.value("runs", RunStore::defaultRoot()), "compare", dataset.name);
    nlohmann::json settingsJson = settings.toJson();
    settingsJson["methods"] = methods;
    settingsJson["seeds"] = seeds;
    settingsJson["shot_counts"] = shotCounts;
    store.writeConfig({{"method", "compare"}, {"dataset", dataset.name}, {"model", settings.model}, {"created", RunStore::utcNow()},
                       {"device", describeDevice(backbone.device)}, {"settings", settingsJson},
                       {"recipe", recipeJson(effectiveRecipe(settings, dataset))}});
    const SweepPlan plan = makeSweepPlan(store.folder(), settings, {settings.dataset}, methods, shotCounts, seeds);
    writeSweepPlan(plan);  // under the folder's lock, which it releases
    const FolderLock lock = store.lock();  // then held while this process writes the folder
    std::cerr << "compare run folder: " << store.folder() << " (" << plan.runs.size() << " runs in runs/)\n";

    const auto baseNewOf = [&](const std::string& method) { return settings.baseNew && baseNewApplies(backbone, findStrategy(method)); };
    // The last columns are the VPT paper's cost: trainable parameters per task, and the parameters stored
    // for --tasks tasks relative to one backbone.
    std::vector<std::string> linesSoFar;
    SweepHereCallbacks callbacks;
    callbacks.onLog = [](const SweepRun& run, const std::string& line) {
        std::cerr << "[" << run.method << " " << run.shots << "-shot seed " << run.seed << "] " << line << "\n";
    };
    callbacks.onRunDone = [&](const SweepRun& run, const nlohmann::json& results) {
        if (results.value("status", "") != "finished")
            return;
        linesSoFar.push_back(seedRow(run, results, baseNewOf(run.method)).line);
        std::cerr << "\nmethod           shots seed    base     new       H   trainable  params x" << settings.tasks << "  (accuracy %)\n";
        for (const std::string& line : linesSoFar)
            std::cerr << line << "\n";
    };
    RunControl control;
    const StopOnInterrupt stopOnInterrupt(control);
    runSweepHere(plan, callbacks, &control, &backbones);
    if (const SweepCounts counts = countStates(sweepStates(plan)); counts.finished < counts.total) {
        std::cerr << "compare: " << counts.finished << " of " << counts.total << " runs finished (stopped); each finished run is kept in "
                  << store.folder() << "/runs\n";
        return 1;
    }

    nlohmann::json table = nlohmann::json::object();
    nlohmann::json curves = nlohmann::json::object();
    std::map<std::string, std::map<std::string, double>> targetTable;  // dataset -> method -> accuracy
    std::string csv = "method,shots,seed,base,new,h,accuracy,trainable,multiplier\n";
    for (std::size_t k = 0; k < shotCounts.size(); ++k) {
        for (const auto& method : methods) {
            const bool baseNew = baseNewOf(method);
            nlohmann::json perSeed = nlohmann::json::array();
            nlohmann::json parameters;  // the same for every seed
            SeedStatistics seedStats, targetSeedStats;  // targets: one metric per target dataset
            for (const SweepRun& run : plan.runs) {
                if (run.method != method || run.shots != shotCounts[k])
                    continue;  // a method that ignores the shots runs at the last count only (zero-shot's star)
                const SeedRow row = seedRow(run, RunStore::readJsonFile(run.folder + "/results.json"), baseNew);
                parameters = row.parameters;
                seedStats.startSeed();
                targetSeedStats.startSeed();
                seedStats.add("accuracy", row.outcome.accuracy.value());
                if (baseNew) {
                    seedStats.add("base", row.outcome.base.value());
                    if (row.outcome.novel)
                        seedStats.add("new", *row.outcome.novel);
                }
                for (const auto& [name, accuracy] : row.outcome.targets)
                    targetSeedStats.add(name, accuracy);
                perSeed.push_back(row.json);
                csv += method + "," + std::to_string(run.shots) + "," + std::to_string(run.seed) + "," + (baseNew ? row.json["base"].dump() : "") +
                       "," + (baseNew ? row.json["new"].dump() : "") + "," + (baseNew ? row.json["h"].dump() : "") + "," +
                       row.json["accuracy"].dump() + "," + parameters["trainable"].dump() + "," + parameters["multiplier"].dump() + "\n";
            }
            if (perSeed.empty())
                continue;
            const int shots = shotCounts[k];
            const auto jsonOrNull = [](const std::optional<double>& value) { return value ? nlohmann::json(*value) : nlohmann::json(); };
            nlohmann::json entry = {{"per_seed", perSeed}, {"accuracy", *seedStats.mean("accuracy")}, {"trainable", parameters["trainable"]},
                                    {"multiplier", parameters["multiplier"]}, {"shots", shots}};
            if (baseNew) {
                entry["base"] = *seedStats.mean("base");
                entry["new"] = jsonOrNull(seedStats.mean("new"));  // null unless every seed scored its new classes
                entry["h"] = jsonOrNull(seedStats.harmonicMeanOfMeans("base", "new"));
            }
            // runExperiment scores every target, even in a stopped run: every seed has each target's accuracy.
            std::map<std::string, double> targetMeans;
            for (const std::string& name : targetSeedStats.metrics())
                targetMeans[name] = targetSeedStats.mean(name).value();
            if (!targetMeans.empty()) {
                entry["targets"] = nlohmann::json::object();
                for (const auto& [name, mean] : targetMeans)
                    entry["targets"][name] = mean;
            }
            curves[method].push_back(curvePoint(findStrategy(method).capabilities.usesTrainingImages ? shots : 0, entry));
            if (k + 1 == shotCounts.size()) {
                table[method] = entry;
                for (const auto& [name, mean] : targetMeans)
                    targetTable[name][method] = mean;
            }
            csv += method + "," + std::to_string(shots) + ",mean," + (baseNew ? entry["base"].dump() : "") + "," +
                   (baseNew ? entry["new"].dump() : "") + "," + (baseNew ? entry["h"].dump() : "") + "," + entry["accuracy"].dump() + "," +
                   entry["trainable"].dump() + "," + entry["multiplier"].dump() + "\n";
        }
    }
    std::cerr << "\nseed-averaged, " << settings.shots << " shots:\n";
    for (const auto& method : methods) {  // in the order asked for (the JSON object sorts its keys)
        const nlohmann::json& entry = table[method];
        char line[200];
        std::snprintf(line, sizeof line, "%-16s mean  %s  %s  %s  %10lld  %8.2fx", method.c_str(),
                      percent(entry.contains("base") ? entry["base"] : entry["accuracy"]).c_str(),
                      percent(entry.value("new", nlohmann::json())).c_str(), percent(entry.value("h", nlohmann::json())).c_str(),
                      entry["trainable"].get<long long>(), entry["multiplier"].get<double>());
        std::cerr << line << "\n";
    }
    nlohmann::json targetsJson = nlohmann::json::object();
    if (!targets.empty()) {
        // Domain generalisation, as CoOp's ImageNet -> -V2/-Sketch/-A/-R table: trained on the source, scored on each target.
        std::cerr << "\ndomain generalisation (accuracy %, " << (settings.baseNew ? "base classes" : "all classes")
                  << ", trained on " << dataset.name << "):\n";
        std::string header = "method          ";
        for (const DatasetIndex& target : targets)
            header += "  " + target.name;
        std::cerr << header << "\n";
        for (const auto& method : methods) {
            std::string line = method;
            line.resize(std::max<std::size_t>(16, line.size()), ' ');
            for (const DatasetIndex& target : targets) {
                std::string cell = percent(targetTable[target.name][method]);
                cell.resize(std::max(cell.size(), target.name.size()), ' ');
                line += "  " + cell;
            }
            std::cerr << line << "\n";
        }
        for (const auto& [name, scores] : targetTable)
            for (const auto& [method, accuracy] : scores)
                targetsJson[name][method] = accuracy;
    }
    nlohmann::json out = {{"methods", table},
                          {"curves", curves},
                          {"dataset", dataset.name},
                          {"model", backbone.checkpoint.spec.name},
                          {"shots", settings.shots},
                          {"seeds", seeds},
                          {"base_new", settings.baseNew},
                          {"run", store.folder()}};
    if (!targets.empty())
        out["targets"] = targetsJson;
    writeFileAtomically((fs::path(store.folder()) / "table.csv").string(), csv);
    writeFileAtomically((fs::path(store.folder()) / "table.json").string(), out.dump(2) + "\n");
    writeCurveFiles(store, curves, methods, dataset.name, settings.baseNew);
    store.writeResults(out);
    std::cout << out.dump() << std::endl;
    return 0;
}

} // namespace

Command trainCommand()
{
    return {"train", "--model PATH --dataset D --method NAME [OPTIONS]",
            "tune a strategy; writes a run folder (config.json, metrics, checkpoints, results.json, the export)",
            kDatasetOptions + Options{
                {"method", "NAME", "the strategy (zeroshot, coop, cocoop, kgcoop, maple, ..., vpt-deep, lora; the window lists them)"},
                {"shots", "K", "labelled training images per class (default 16; 0: every image)"},
                {"seed", "S", "the few-shot sample and the initialisation (default 1)"},
                {"adapt-to", "TARGET", "dapl: the unlabelled target domain"},
                {"config", "run.json", "settings from a run's config.json (flags given too override them)"},
                {"runs", "DIR", "where the run folder goes (default $TUNEBENCH_RUNS_DIR, else ./runs)"},
                {"resume", "RUN_DIR", "continue a stopped run from its last finished epoch"},
                {"run-folder", "RUN_DIR", "a run folder planned beforehand (a sweep's): its config.json, resumed when it has a checkpoint"},
            } + trainingOptions(),
            runTrain};
}

Command evalCommand()
{
    return {"eval", "--model PATH --dataset D [OPTIONS]", "accuracy, per class (zero-shot without --tuned)",
            {
                {"model", "PATH", "the checkpoint"},
                {"dataset", "D", "a dataset folder or a built-in name"},
                {"split", "test|val|train", "the split scored (default test)"},
                {"tuned", "EXPORT.json", "any method's export (tunebench-cli export) instead of the hand-crafted prompt"},
                {"prompt", "EXPORT.json", "the older name of --tuned"},
                {"template", "T", "the hand-crafted prompt, {} for the class name (default: the dataset's)"},
                {"base-new", "", "score base and new classes separately, and H"},
                {"shots", "K", "score K images per class of the split, a seeded sample (default: all)"},
                {"seed", "S", "the sample's seed and an untrained method's initialisation (default 1)"},
                {"method", "NAME", "without --tuned: a method evaluated untrained (default zeroshot)"},
                {"opt", "name=value", "a method option (repeatable)"},
                {"vocab", "FILE", "the CLIP vocabulary"},
                {"loader-threads", "N", "image decoding threads"},
                {"max-image-pixels", "N", "images with more pixels are skipped and reported, from their header (default 50000000)"},
            },
            runEval};
}

Command exportCommand()
{
    return {"export", "--run RUN_DIR [--out PATH | --onnx OUT.onnx [--fp16] [--opset 17]]",
            "export a run's tuned state (.safetensors + .json manifest) for every method: the CLIP methods' prompts, the classic ViT "
            "methods, L2P; or, with --onnx, the tuned model as one ONNX graph (images -> logits, probabilities)",
            {
                {"run", "RUN_DIR", "a finished run's folder"},
                {"out", "PATH", "where the export goes (default: the run's export/ folder)"},
                {"onnx", "OUT.onnx", "write an ONNX graph instead: the image tower with the method's changes and its head"},
                {"fp16", "", "with --onnx: the image tower in fp16 (LayerNorm and the head stay fp32)"},
                {"opset", "N", "with --onnx: the ONNX opset, 13 to 17 (default 17)"},
                {"vocab", "FILE", "the CLIP vocabulary"},
            },
            runExport};
}

Command compareCommand()
{
    return {"compare", "--model PATH --dataset D --methods a,b,c [OPTIONS]",
            "Base/New/H (or accuracy) table across methods and seeds, few-shot curves (curve.csv/.png/.pdf), "
            "domain generalisation",
            kDatasetOptions + Options{
                {"methods", "a,b,c", "the strategies compared (default zeroshot,coop,cocoop)"},
                {"shots", "K|1,2,4,8,16", "shot counts: each is a point of the few-shot curves, the table is the last's (default 16)"},
                {"seeds", "1,2,3", "seeds averaged (default 1)"},
                {"no-base-new", "", "every class at once instead of base-to-new (the default here)"},
                {"max-test-images", "N", "score a fixed seeded subset of each test split (quick looks)"},
                {"runs", "DIR", "where the compare folder goes"},
            } + trainingOptions(),
            runCompare};
}

} // namespace tunebench::cli
