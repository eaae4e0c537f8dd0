#include "core/experiment/DomainAdaptation.h"

#include "core/Error.h"
#include "core/data/DomainAdaptationData.h"
#include "core/experiment/Experiment.h"
#include "core/experiment/RunOutcome.h"
#include "core/experiment/SeedStatistics.h"
#include "core/experiment/Sweep.h"
#include "core/train/RunControl.h"
#include "core/train/RunStore.h"
#include "core/tuning/StrategyInfo.h"

#include <filesystem>
#include <map>

namespace fs = std::filesystem;

namespace tunebench {

AdaptationSummary summariseAdaptationSeeds(const std::string& method, const std::vector<AdaptationRun>& runs)
{
    AdaptationSummary summary;
    summary.method = method;
    summary.runs = runs;
    if (runs.empty())
        return summary;
    SeedStatistics seeds(MeanOrder::DivideEachThenSum);  // the order adapt's reports have always used
    for (const AdaptationRun& run : runs) {
        seeds.startSeed();
        seeds.add("target", run.targetAccuracy);
        seeds.add("source", run.sourceAccuracy);
        seeds.addElementwise("target_per_class", run.targetPerClass);
    }
    summary.targetAccuracy = *seeds.mean("target");
    summary.sourceAccuracy = *seeds.mean("source");
    summary.targetPerClass = seeds.elementwiseMean("target_per_class");
    return summary;
}

nlohmann::json AdaptationReport::toJson() const
{
    nlohmann::json methodsJson = nlohmann::json::object();
    for (const AdaptationSummary& summary : methods) {
        nlohmann::json perClass = nlohmann::json::object();
        for (std::size_t c = 0; c < summary.targetPerClass.size() && c < classNames.size(); ++c)
            perClass[classNames[c]] = summary.targetPerClass[c];
        nlohmann::json perSeed = nlohmann::json::array();
        for (const AdaptationRun& run : summary.runs) {
            nlohmann::json row = {{"seed", run.seed}, {"target_accuracy", run.targetAccuracy}, {"source_accuracy", run.sourceAccuracy},
                                  {"status", run.status}};
            if (!run.runFolder.empty())
                row["run"] = run.runFolder;
            perSeed.push_back(row);
        }
        methodsJson[summary.method] = {{"target_accuracy", summary.targetAccuracy},
                                       {"source_accuracy", summary.sourceAccuracy},
                                       {"per_class", perClass},
                                       {"per_seed", perSeed}};
    }
    return {{"source", source},
            {"target", target},
            {"source_domain", sourceDomain},
            {"target_domain", targetDomain},
            {"classes", classNames},
            {"methods", methodsJson}};
}

ExperimentResult runAdaptationCell(const RunSettings& cell, const Backbone& backbone, const DatasetIndex& source, const DatasetIndex& target,
                                   RunStore* store, bool resume, const ExperimentCallbacks& callbacks, RunControl* control)
{
    const StrategyInfo& info = findStrategy(cell.method);
    // The target plays both parts: the adapting methods' unlabelled domain, and every method's evaluation.
    RunSettings one = cell;
    one.protocol.clear();
    one.protocolOptions = nlohmann::json::object();
    one.baseNew = false;
    one.evalDatasets.clear();
    one.adaptTarget.clear();
    const std::string targetName = cell.protocolOptions.value("target", "");
    if (info.capabilities.adaptsToTarget)
        one.adaptTarget = targetName;
    else
        one.evalDatasets = {targetName};
    if (store)
        store->writeConfig(runConfig(cell, source, backbone));
    ExperimentResult result = runExperiment(one, backbone, source, store, resume, callbacks, control, {target});
    if (!info.capabilities.adaptsToTarget) {
        // A source-only baseline of this study: its results name the target too, so that every view shows
        // it by the target's accuracy, as it shows the method that adapts.
        result.json["adaptation"] = {{"target", target.name}, {"source_only", true}};
        if (store) {
            nlohmann::json stored = store->readResults();
            if (stored.is_object()) {
                stored["adaptation"] = result.json["adaptation"];
                store->writeResults(stored);
            }
        }
    }
    return result;
}

namespace {

void validateAdaptation(const RunSettings& settings)
{
    findStrategy(settings.method);
    const nlohmann::json target = settings.protocolOptions.value("target", nlohmann::json());
    if (!target.is_string() || target.get<std::string>().empty())
        throw Error("the adaptation protocol needs protocol option target: the domain to adapt to (--protocol-opt target=D)");
    if (settings.dataset.empty())
        throw Error("the adaptation protocol needs the labelled source as the dataset");
    if (settings.baseNew || !settings.evalDatasets.empty() || !settings.adaptTarget.empty())
        throw Error("the adaptation protocol scores every class on its target: base-to-new, eval datasets and adapt-to do not apply");
}

nlohmann::json runAdaptationProtocolCell(const RunSettings& cell, const Backbone& backbone, RunStore& store, bool resume,
                                         const CellCallbacks& callbacks, RunControl* control)
{
    const DatasetIndex source = openAdaptationDomain(cell.dataset, callbacks.onLog);
    const DatasetIndex target = matchTargetClasses(source, openAdaptationDomain(cell.protocolOptions.at("target").get<std::string>(), callbacks.onLog),
                                                   cell.classMap, callbacks.onLog);
    ExperimentCallbacks experimentCallbacks;
    experimentCallbacks.onLog = callbacks.onLog;
    experimentCallbacks.onStep = callbacks.onStep;
    return runAdaptationCell(cell, backbone, source, target, &store, resume, experimentCallbacks, control).json;
}

// Every method is scored on the target (its only evaluation target) and on the source's test images.
std::map<std::string, double> adaptationMetrics(const nlohmann::json& results)
{
    const RunOutcome outcome = RunOutcome::fromJson(results, "results.json");
    std::map<std::string, double> out;
    if (outcome.targets.size() == 1)
        out["target_accuracy"] = outcome.targets.front().second;
    if (outcome.accuracy)
        out["source_accuracy"] = *outcome.accuracy;
    return out;
}

} // namespace

StudyProtocol adaptationProtocol()
{
    return {"adaptation", "from a labelled source to an unlabelled target (DAPL adapts, the others train on the source)", true,
            validateAdaptation, runAdaptationProtocolCell, adaptationMetrics};
}

namespace {

// One cell's figures, from its results.json: the target is its only evaluation target.
AdaptationRun adaptationRunOf(const StudyCell& cell, const nlohmann::json& results)
{
    AdaptationRun run;
    run.method = cell.settings.method;
    run.seed = cell.settings.seed;
    run.status = results.value("status", "");
    run.runFolder = cell.folder;
    const RunOutcome outcome = RunOutcome::fromJson(results, cell.folder + "/results.json");
    run.sourceAccuracy = outcome.accuracy.value_or(0);
    if (!outcome.targets.empty())
        run.targetAccuracy = outcome.targets.front().second;
    const nlohmann::json targets = results.value("details", nlohmann::json::object()).value("targets", nlohmann::json::array());
    if (targets.is_array() && !targets.empty())
        run.targetPerClass = targets.front().value("per_class", std::vector<double>{});
    return run;
}

} // namespace

AdaptationReport runAdaptation(const Backbone& backbone, const DatasetIndex& source, const DatasetIndex& targetAsRead,
                               const AdaptationSettings& settings, const AdaptationCallbacks& callbacks, RunControl* control)
{
    const DatasetIndex target = matchTargetClasses(source, targetAsRead, settings.base.classMap, callbacks.onLog);
    if (settings.methods.empty() || settings.seeds.empty())
        throw Error("domain adaptation needs at least one method and one seed");
    for (const std::string& method : settings.methods)
        findStrategy(method);
    AdaptationReport report;
    report.source = source.name;
    report.target = target.name;
    report.sourceDomain = adaptationDomainName(source);
    report.targetDomain = adaptationDomainName(target);
    report.classNames = source.classNames;
    if (settings.runsRoot.empty())
        throw Error("domain adaptation needs a runs folder: each method and seed is a run folder under it");

    // The study: a cell of the adaptation protocol per method and seed (one seed where the seed does not
    // matter), each in a run folder of its own, run by the in-process executor.
    std::vector<StudyCell> cells;
    for (const std::string& method : settings.methods)
        for (int seed : settings.seeds) {
            RunSettings cell = settings.base;
            cell.method = method;
            cell.seed = seed;
            cell.protocol = "adaptation";
            cell.protocolOptions = {{"target", settings.target}};
            const std::string name =
                RunStore::newFolderName(method, source.name + "-to-" + report.targetDomain + "-seed" + std::to_string(seed));
            cells.push_back({cell, fs::absolute(fs::path(settings.runsRoot) / name).string()});
            if (!seedMatters(findStrategy(method), settings.base))
                break;  // every seed would give this result
        }
    CellsHereCallbacks cellCallbacks;
    cellCallbacks.onStart = [&](std::size_t i) {
        if (callbacks.onRunStart)
            callbacks.onRunStart(cells[i].settings.method, cells[i].settings.seed);
    };
    if (callbacks.onLog)
        cellCallbacks.onLog = [&](std::size_t, const std::string& line) { callbacks.onLog(line); };
    if (callbacks.onStep)
        cellCallbacks.onStep = [&](std::size_t i, const StepReport& step) { callbacks.onStep(cells[i].settings.method, cells[i].settings.seed, step); };
    if (callbacks.onRunDone)
        cellCallbacks.onDone = [&](std::size_t i, const nlohmann::json& results) { callbacks.onRunDone(adaptationRunOf(cells[i], results)); };
    CellBackbones backbones;
    backbones.add(cells.front().settings, backbone);
    runCellsHere(cells, cellCallbacks, control, &backbones);

    // The report, from the cells' results.json: what finished (here, or before in the same folder).
    std::map<std::string, std::vector<AdaptationRun>> runsOf;
    for (const StudyCell& cell : cells) {
        if (runFolderState(cell.folder) != RunState::Finished) {
            report.stopped = true;
            continue;
        }
        const std::string path = cell.folder + "/results.json";
        runsOf[cell.settings.method].push_back(adaptationRunOf(cell, RunStore::readJsonFile(path)));
    }
    // A stop that came while the last run was evaluated ends the series as stopped too.
    report.stopped = report.stopped || (control && control->stopRequested());
    for (const std::string& method : settings.methods)
        if (!runsOf[method].empty())
            report.methods.push_back(summariseAdaptationSeeds(method, runsOf[method]));
    return report;
}

} // namespace tunebench
