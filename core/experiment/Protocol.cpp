#include "core/experiment/Protocol.h"

#include "core/Error.h"
#include "core/data/DatasetLayouts.h"
#include "core/data/DomainAdaptationData.h"
#include "core/experiment/ContinualLearning.h"
#include "core/experiment/DomainAdaptation.h"
#include "core/experiment/Experiment.h"
#include "core/experiment/RunOutcome.h"
#include "core/train/RunStore.h"

#include <mutex>

namespace tunebench {

namespace {

// few-shot: one run of runExperiment. All classes or base-to-new, with domain-generalisation targets
// (eval datasets) and an adaptation target as the settings say.
nlohmann::json runFewShotCell(const RunSettings& settings, const Backbone& backbone, RunStore& store, bool resume,
                              const CellCallbacks& callbacks, RunControl* control)
{
    // An adapted run reads its source as a domain-adaptation domain (an Office-Home domain is used whole).
    const DatasetIndex dataset =
        settings.adaptTarget.empty() ? openDataset(settings.dataset, {}, callbacks.onLog) : openAdaptationDomain(settings.dataset, callbacks.onLog);
    store.writeConfig(runConfig(settings, dataset, backbone));
    ExperimentCallbacks experimentCallbacks;
    experimentCallbacks.onLog = callbacks.onLog;
    experimentCallbacks.onStep = callbacks.onStep;
    return runExperiment(settings, backbone, dataset, &store, resume, experimentCallbacks, control).json;
}

std::map<std::string, double> fewShotMetrics(const nlohmann::json& results)
{
    return RunOutcome::fromJson(results, "results.json").metrics();
}

std::deque<StudyProtocol>& registry()
{
    // One entry per protocol.
    static std::deque<StudyProtocol> protocols = {
        {"few-shot", "all classes or base-to-new, with domain-generalisation and adaptation targets", true, {}, runFewShotCell,
         fewShotMetrics},
        adaptationProtocol(),
        continualProtocol(),
    };
    return protocols;
}

std::mutex& registryMutex()
{
    static std::mutex mutex;
    return mutex;
}

} // namespace

const std::deque<StudyProtocol>& studyProtocols()
{
    return registry();
}

const StudyProtocol& findProtocol(const std::string& name)
{
    const std::string wanted = name.empty() ? "few-shot" : name;
    std::lock_guard<std::mutex> lock(registryMutex());
    std::string known;
    for (const StudyProtocol& protocol : registry()) {
        if (protocol.name == wanted)
            return protocol;
        known += (known.empty() ? "" : ", ") + protocol.name;
    }
    throw Error("unknown protocol '" + wanted + "' (known: " + known + ")");
}

void addProtocol(StudyProtocol protocol)
{
    if (!protocol.run || !protocol.metrics)
        throw Error("protocol '" + protocol.name + "' needs run and metrics");
    std::lock_guard<std::mutex> lock(registryMutex());
    for (const StudyProtocol& known : registry())
        if (known.name == protocol.name)
            throw Error("protocol '" + protocol.name + "' is already known");
    registry().push_back(std::move(protocol));
}

Backbone loadCellBackbone(const RunSettings& settings)
{
    if (findProtocol(settings.protocol).needsVocabulary)
        return loadBackbone(settings.model, settings.vocab, settings.device);
    return loadImageBackbone(settings.model, settings.device);
}

std::string CellBackbones::keyOf(const RunSettings& settings)
{
    return settings.model + "\n" + settings.vocab + "\n" + settings.device + "\n" +
           (findProtocol(settings.protocol).needsVocabulary ? "text" : "image");
}

void CellBackbones::add(const RunSettings& settings, const Backbone& backbone)
{
    m_loaded[keyOf(settings)] = std::make_shared<const Backbone>(backbone);
}

const Backbone& CellBackbones::of(const RunSettings& settings)
{
    std::shared_ptr<const Backbone>& loaded = m_loaded[keyOf(settings)];
    if (!loaded)
        loaded = std::make_shared<const Backbone>(loadCellBackbone(settings));
    return *loaded;
}

nlohmann::json runStudyCell(const RunSettings& settings, const Backbone& backbone, RunStore& store, bool resume,
                            const CellCallbacks& callbacks, RunControl* control)
{
    const StudyProtocol& protocol = findProtocol(settings.protocol);
    if (protocol.validate)
        protocol.validate(settings);
    return protocol.run(settings, backbone, store, resume, callbacks, control);
}

} // namespace tunebench
