#include "widgets/window/RunController.h"

#include "core/Device.h"
#include "core/Error.h"
#include "core/data/DatasetLayouts.h"
#include "core/experiment/Caches.h"
#include "core/experiment/Experiment.h"
#include "core/train/FeatureCache.h"
#include "core/train/RunControl.h"
#include "core/train/RunStore.h"
#include "core/tuning/Strategy.h"
#include "widgets/window/JobHost.h"

#include <QFileInfo>
#include <QPointer>

namespace tunebench {

namespace {

const QString kOwner = QStringLiteral("run");  // the controller's jobs on the JobHost

// Methods with a frozen image tower share its outputs through the image-tower cache, as the CLI's do, so a
// second Start of the same run encodes no image again.
RunSettings withFeatureCache(RunSettings settings)
{
    if (settings.featureCache.empty())
        settings.featureCache = FeatureCache::defaultFolder();
    return settings;
}

// One run from its settings to its results, on the job's worker thread; `report` posts what it says to the
// GUI thread. With `continueFolder`, the stopped run there goes on from its last checkpoint with the settings
// its config.json holds (as train --resume does), and `requested` is not used.
RunResults executeRun(const RunSettings& requested, const QString& runsRoot, const QString& continueFolder, const JobHost::Context& context,
                      RunController* controller)
{
    QPointer<RunController> target(controller);
    auto report = [&context, target](auto emitIt) {
        context.post([target, emitIt] {
            if (target)
                emitIt(target.data());
        });
    };
    auto stage = [&](const QString& what) { report([what](RunController* c) { Q_EMIT c->stageChanged(what); }); };

    std::optional<RunStore> store;
    std::optional<FolderLock> lock;  // held while this run writes its folder, as the CLI holds it
    RunSettings settings = requested;
    if (!continueFolder.isEmpty()) {
        store = RunStore::open(continueFolder.toStdString());
        lock.emplace(store->lock());
        settings = withFeatureCache(
            RunSettings::fromJson(store->readConfig().value("settings", nlohmann::json::object()), store->folder() + "/config.json"));
        const nlohmann::json results = store->readResults();
        const std::string status = results.is_object() ? results.value("status", "finished") : "running";
        if (const std::string why = whyNotContinuedInWindow(settings, status, store->folder()); !why.empty())
            throw Error(store->folder() + ": " + why);
    }

    stage(RunController::tr("Loading model"));
    Backbone backbone = *cachedBackbone(settings.model, settings.vocab);  // shares the weights; the device is this run's
    backbone.device = chooseDevice(settings.device);
    stage(RunController::tr("Opening dataset"));
    const auto dataset = cachedDataset(settings.dataset);
    if (dataset->train.empty())
        throw Error(settings.dataset + ": the dataset has no training images");

    const bool imported = !settings.importPrompt.empty();
    const StrategyInfo& info = findStrategy(experimentMethod(settings));

    QString runFolder, runId;
    if (!store && !runsRoot.isEmpty()) {
        store = RunStore::create(runsRoot.toStdString(), imported ? info.name + "-imported" : info.name, dataset->name);
        lock.emplace(store->lock());
        nlohmann::json config = runConfig(settings, *dataset, backbone);
        config["method"] = info.name;
        config["source"] = "tunebench (GUI)";
        store->writeConfig(config);
    }
    if (store) {
        runFolder = QString::fromStdString(store->folder());
        runId = QFileInfo(runFolder).fileName();
    } else {
        runId = QString("%1-%2").arg(QString::fromStdString(info.name), QString::fromStdString(dataset->name));
    }

    ExperimentCallbacks callbacks;
    callbacks.onStart = [&](const ExperimentStart& start) {
        const qint64 trainable = start.trainableParameters;
        const int images = start.trainImages;
        report([runId, trainable, images](RunController* c) { Q_EMIT c->started(runId, trainable, images); });
    };
    callbacks.onStage = [&](ExperimentStage what) {
        switch (what) {
        case ExperimentStage::Preparing: stage(RunController::tr("Preparing")); break;
        case ExperimentStage::Training: stage(RunController::tr("Training")); break;
        case ExperimentStage::Tuning: stage(RunController::tr("Tuning on validation images")); break;
        case ExperimentStage::Evaluating: stage(RunController::tr("Evaluating")); break;
        case ExperimentStage::ScoringHandcrafted: stage(RunController::tr("Scoring the hand-crafted prompt")); break;
        }
    };
    const bool onCuda = backbone.device.is_cuda();
    callbacks.onStep = [&](const StepReport& r) {
        RunProgress p;
        p.epoch = r.epoch;
        p.epochs = r.epochs;
        p.step = r.step;
        p.totalSteps = r.totalSteps;
        p.loss = r.loss;
        p.accuracy = r.accuracy;
        p.lr = r.lr;
        p.imagesPerSecond = r.imagesPerSecond;
        p.etaSeconds = r.etaSeconds;
        if (onCuda)  // the allocator's counters: cheap host-side reads, no synchronisation
            p.memory = QString::fromStdString(describeMemory(deviceMemory(backbone.device)));
        report([p](RunController* c) { Q_EMIT c->progress(p); });
    };

    const bool resume = !continueFolder.isEmpty();
    const ExperimentResult r = runExperiment(settings, backbone, *dataset, store ? &*store : nullptr, resume, callbacks, &context.control());
    // Read back as a reopened run is: one reader of the results format (what results.json holds).
    nlohmann::json json = r.json;
    json["details"] = r.details();
    RunResults results = runResultsFromJson(json, runFolder);
    results.runId = runId;
    return results;
}

} // namespace

RunController::RunController(JobHost* jobs, QObject* parent)
    : QObject(parent)
    , m_jobs(jobs ? jobs : new JobHost(this))
{
    qRegisterMetaType<tunebench::RunProgress>();
    qRegisterMetaType<tunebench::RunResults>();
    // The host ends every job once, after everything the job posted: only then is the run over.
    connect(m_jobs, &JobHost::finished, this, [this](const QString& owner, bool, const QString& failure) {
        if (owner != kOwner)
            return;
        if (failure.isEmpty() && m_results)
            Q_EMIT finished(*m_results);
        else
            Q_EMIT failed(failure.isEmpty() ? tr("the run ended without results") : failure);
        m_results.reset();
    });
}

RunController::~RunController() = default;

bool RunController::start(const RunSettings& settings, const QString& runsRoot)
{
    return submit(withFeatureCache(settings), runsRoot, QString());
}

bool RunController::continueRun(const QString& runFolder)
{
    return submit(RunSettings(), QString(), runFolder);
}

bool RunController::submit(const RunSettings& settings, const QString& runsRoot, const QString& continueFolder)
{
    auto results = std::make_shared<RunResults>();
    QPointer<RunController> self(this);
    if (!m_jobs->submit(kOwner, [settings, runsRoot, continueFolder, results, self](const JobHost::Context& context) {
            *results = executeRun(settings, runsRoot, continueFolder, context, self.data());
            return true;
        }))
        return false;
    m_results = results;
    return true;
}

bool RunController::isRunning() const
{
    return m_jobs->owner() == kOwner;
}

void RunController::requestStop()
{
    if (isRunning())
        m_jobs->requestStop();
}

void RunController::abort()
{
    if (isRunning())
        m_jobs->abort();
}

void RunController::setPaused(bool paused)
{
    if (isRunning())
        m_jobs->setPaused(paused);
}

bool RunController::isPaused() const
{
    return isRunning() && m_jobs->isPaused();
}

bool RunController::waitForFinished(int timeoutMs)
{
    return m_jobs->waitForFinished(timeoutMs);
}

} // namespace tunebench
