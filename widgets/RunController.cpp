#include "widgets/RunController.h"

#include "core/Device.h"
#include "core/Error.h"
#include "core/data/DatasetLayouts.h"
#include "core/experiment/Caches.h"
#include "core/experiment/Experiment.h"
#include "core/train/RunControl.h"
#include "core/train/RunStore.h"
#include "core/tuning/Strategy.h"

#include <QCoreApplication>
#include <QDeadlineTimer>
#include <QEventLoop>
#include <QFileInfo>
#include <QThread>


namespace tunebench {

// Lives on the run's QThread; run() blocks that thread until the run ends.
class RunWorker : public QObject
{
    Q_OBJECT

public:
    void run(const RunSettings& settings, const QString& runsRoot, std::shared_ptr<RunControl> control);

Q_SIGNALS:
    void stageChanged(const QString& what);
    void started(const QString& runId, qint64 trainableParameters, int trainImages);
    void progress(const tunebench::RunProgress& progress);
    void finished(const tunebench::RunResults& results);
    void failed(const QString& message);

private:
    RunResults execute(const RunSettings& settings, const QString& runsRoot, RunControl& control);
};

void RunWorker::run(const RunSettings& settings, const QString& runsRoot, std::shared_ptr<RunControl> control)
{
    try {
        const RunResults results = execute(settings, runsRoot, *control);
        Q_EMIT finished(results);
    } catch (const std::exception& e) {
        Q_EMIT failed(QString::fromStdString(firstLine(e.what())));
    } catch (...) {
        Q_EMIT failed(tr("the run ended with an error that carries no message"));
    }
}

RunResults RunWorker::execute(const RunSettings& settings, const QString& runsRoot, RunControl& control)
{
    Q_EMIT stageChanged(tr("Loading model"));
    Backbone backbone = *cachedBackbone(settings.model, settings.vocab);  // shares the weights; the device is this run's
    backbone.device = chooseDevice(settings.device);
    Q_EMIT stageChanged(tr("Opening dataset"));
    const auto dataset = cachedDataset(settings.dataset);
    if (dataset->train.empty())
        throw Error(settings.dataset + ": the dataset has no training images");

    const bool imported = !settings.importPrompt.empty();
    const StrategyInfo& info = findStrategy(experimentMethod(settings));

    std::optional<RunStore> store;
    QString runFolder, runId;
    if (!runsRoot.isEmpty()) {
        store = RunStore::create(runsRoot.toStdString(), imported ? info.name + "-imported" : info.name, dataset->name);
        nlohmann::json config = runConfig(settings, *dataset, backbone);
        config["method"] = info.name;
        config["source"] = "tunebench (GUI)";
        store->writeConfig(config);
        runFolder = QString::fromStdString(store->folder());
        runId = QFileInfo(runFolder).fileName();
    } else {
        runId = QString("%1-%2").arg(QString::fromStdString(info.name), QString::fromStdString(dataset->name));
    }

    ExperimentCallbacks callbacks;
    callbacks.onStart = [&](const ExperimentStart& start) {
        Q_EMIT started(runId, start.trainableParameters, start.trainImages);
    };
    callbacks.onStage = [&](ExperimentStage stage) {
        switch (stage) {
        case ExperimentStage::Preparing: Q_EMIT stageChanged(tr("Preparing")); break;
        case ExperimentStage::Training: Q_EMIT stageChanged(tr("Training")); break;
        case ExperimentStage::Tuning: Q_EMIT stageChanged(tr("Tuning on validation images")); break;
        case ExperimentStage::Evaluating: Q_EMIT stageChanged(tr("Evaluating")); break;
        case ExperimentStage::ScoringHandcrafted: Q_EMIT stageChanged(tr("Scoring the hand-crafted prompt")); break;
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
        Q_EMIT progress(p);
    };

    const ExperimentResult r = runExperiment(settings, backbone, *dataset, store ? &*store : nullptr, false, callbacks, &control);
    // Read back as a reopened run is: one reader of the results format (what results.json holds).
    nlohmann::json json = r.json;
    json["details"] = r.details();
    RunResults results = runResultsFromJson(json, runFolder);
    results.runId = runId;
    return results;
}

RunController::RunController(QObject* parent)
    : QObject(parent)
{
    qRegisterMetaType<tunebench::RunProgress>();
    qRegisterMetaType<tunebench::RunResults>();
    m_thread = new QThread(this);
    m_thread->setObjectName("tunebench-run");
    m_worker = new RunWorker;
    m_worker->moveToThread(m_thread);
    connect(m_thread, &QThread::finished, m_worker, &QObject::deleteLater);
    // The worker lives on another thread, so these connections are queued.
    connect(m_worker, &RunWorker::stageChanged, this, &RunController::stageChanged);
    connect(m_worker, &RunWorker::started, this, &RunController::started);
    connect(m_worker, &RunWorker::progress, this, &RunController::progress);
    connect(m_worker, &RunWorker::finished, this, [this](const RunResults& r) {
        m_running = false;
        Q_EMIT finished(r);
    });
    connect(m_worker, &RunWorker::failed, this, [this](const QString& message) {
        m_running = false;
        Q_EMIT failed(message);
    });
    // finished or failed ends every run; nothing else may clear m_running (a late signal of the previous
    // run must not mark the next one as over).
    m_thread->start();
}

RunController::~RunController()
{
    // Closing: nothing of the run is worth waiting for (its folder keeps the last epoch's checkpoint).
    if (m_control) {
        m_control->setPaused(false);
        m_control->requestAbort();
    }
    m_thread->quit();
    m_thread->wait();
}

bool RunController::start(const RunSettings& settings, const QString& runsRoot)
{
    if (m_running)
        return false;
    m_running = true;
    m_control = std::make_shared<RunControl>();
    QMetaObject::invokeMethod(
        m_worker, [worker = m_worker, settings, runsRoot, control = m_control] { worker->run(settings, runsRoot, control); },
        Qt::QueuedConnection);
    return true;
}

void RunController::requestStop()
{
    if (!m_control)
        return;
    // The first Stop ends training and keeps the evaluation; a second one ends the evaluation too.
    if (m_control->stopRequested())
        m_control->requestAbort();
    else
        m_control->requestStop();
}

void RunController::abort()
{
    if (!m_control)
        return;
    m_control->setPaused(false);
    m_control->requestAbort();
}

void RunController::setPaused(bool paused)
{
    if (m_control)
        m_control->setPaused(paused);
}

bool RunController::isPaused() const
{
    return m_control && m_control->paused();
}

bool RunController::waitForFinished(int timeoutMs)
{
    QDeadlineTimer deadline(timeoutMs);
    while (m_running && !deadline.hasExpired())
        QCoreApplication::processEvents(QEventLoop::AllEvents, 20);
    return !m_running;
}

} // namespace tunebench

#include "RunController.moc"
