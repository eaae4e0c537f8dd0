#include "core/experiment/DomainAdaptation.h"

#include "core/Error.h"
#include "core/data/DomainAdaptationData.h"
#include "core/experiment/Experiment.h"
#include "core/experiment/SeedStatistics.h"
#include "core/train/RunControl.h"
#include "core/train/RunStore.h"
#include "core/tuning/StrategyInfo.h"

#include <optional>

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
    // The target plays both parts: the adapting methods' unlabelled domain, and every method's evaluation.
    const std::vector<DatasetIndex> targets = {target};
    for (const std::string& method : settings.methods) {
        const StrategyInfo& info = findStrategy(method);
        std::vector<AdaptationRun> runs;
        for (int seed : settings.seeds) {
            RunSettings one = settings.base;
            one.method = method;
            one.seed = seed;
            one.baseNew = false;
            one.evalDatasets.clear();
            one.adaptTarget.clear();
            if (info.capabilities.adaptsToTarget)
                one.adaptTarget = settings.target;
            else
                one.evalDatasets = {settings.target};
            if (callbacks.onRunStart)
                callbacks.onRunStart(method, seed);
            std::optional<RunStore> store;
            if (!settings.runsRoot.empty()) {
                store = RunStore::create(settings.runsRoot, method, source.name + "-to-" + report.targetDomain);
                store->writeConfig(runConfig(one, source, backbone));
            }
            ExperimentCallbacks experimentCallbacks;
            experimentCallbacks.onLog = callbacks.onLog;
            if (callbacks.onStep)
                experimentCallbacks.onStep = [&](const StepReport& step) { callbacks.onStep(method, seed, step); };
            const ExperimentResult result =
                runExperiment(one, backbone, source, store ? &*store : nullptr, false, experimentCallbacks, control, targets);
            AdaptationRun run;
            run.method = method;
            run.seed = seed;
            run.status = result.status;
            run.sourceAccuracy = result.trainingClasses ? result.trainingClasses->evaluation.accuracy : 0;
            if (!result.targets.empty()) {
                run.targetAccuracy = result.targets.front().second.evaluation.accuracy;
                run.targetPerClass = result.targets.front().second.evaluation.perClass;
            }
            if (store)
                run.runFolder = store->folder();
            if (callbacks.onRunDone)
                callbacks.onRunDone(run);
            if (result.status != "finished") {
                if (!runs.empty())
                    report.methods.push_back(summariseAdaptationSeeds(method, runs));
                return report;
            }
            runs.push_back(run);
            // A method that ignores the training images gives the same result for every seed.
            if (!info.capabilities.usesTrainingImages)
                break;
        }
        report.methods.push_back(summariseAdaptationSeeds(method, runs));
    }
    return report;
}

} // namespace tunebench
