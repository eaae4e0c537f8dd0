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

namespace {

nlohmann::json optionsJson(const QVariantMap& options)
{
    nlohmann::json out = nlohmann::json::object();
    for (auto it = options.begin(); it != options.end(); ++it) {
        const QVariant& value = it.value();
        const std::string name = it.key().toStdString();
        switch (value.typeId()) {
        case QMetaType::Bool: out[name] = value.toBool(); break;
        case QMetaType::Int:
        case QMetaType::LongLong:
        case QMetaType::UInt:
        case QMetaType::ULongLong: out[name] = value.toLongLong(); break;
        case QMetaType::Double:
        case QMetaType::Float: out[name] = value.toDouble(); break;
        default: out[name] = value.toString().toStdString(); break;
        }
    }
    return out;
}

RunSettings toSettings(const RunRequest& request)
{
    RunSettings settings;
    settings.model = request.modelPath.toStdString();
    settings.vocab = request.vocabularyPath.toStdString();
    settings.dataset = request.dataset.toStdString();
    settings.method = request.method.toStdString();
    settings.options = optionsJson(request.options);
    settings.shots = request.shots;
    settings.seed = request.seed;
    settings.baseNew = request.baseNew;
    settings.epochs = request.epochs;
    settings.lr = request.lr;
    settings.batchSize = request.batchSize;
    settings.maxSteps = request.maxSteps;
    settings.maxTestImages = request.maxTestImages;
    settings.loaderThreads = request.loaderThreads;
    settings.compareHandcrafted = request.compareHandcrafted;
    settings.device = request.device.toStdString();
    settings.importPrompt = request.importPrompt.toStdString();
    for (const QString& name : request.evalDatasets)
        settings.evalDatasets.push_back(name.toStdString());
    settings.cropScaleMin = request.cropScaleMin;
    return settings;
}

QStringList toQStringList(const std::vector<std::string>& strings)
{
    QStringList out;
    for (const auto& s : strings)
        out << QString::fromStdString(s);
    return out;
}

RunEvaluation toRunEvaluation(const std::optional<ClassEvaluation>& classEvaluation)
{
    RunEvaluation out;
    if (!classEvaluation)
        return out;
    const Evaluation& evaluation = classEvaluation->evaluation;
    out.valid = true;
    out.accuracy = evaluation.accuracy;
    out.samples = evaluation.n;
    out.classNames = toQStringList(classEvaluation->classNames);
    out.perClass = QVector<double>(evaluation.perClass.begin(), evaluation.perClass.end());
    out.support = QVector<qint64>(evaluation.support.begin(), evaluation.support.end());
    for (const auto& row : evaluation.confusion)
        out.confusion.append(QVector<qint64>(row.begin(), row.end()));
    return out;
}

QVector<QStringList> nearestWordsFromJson(const nlohmann::json& nearest)
{
    QVector<QStringList> out;
    if (!nearest.is_array())
        return out;
    for (const auto& vector : nearest) {
        QStringList words;
        if (vector.is_object() && vector.contains("nearest") && vector["nearest"].is_array())
            for (const auto& word : vector["nearest"])
                if (word.is_object() && word.contains("word") && word["word"].is_string())
                    words << QString::fromStdString(word["word"].get<std::string>());
        out << words;
    }
    return out;
}

// Older results.json files (before "details"): accuracy and per-class values keyed by class name.
RunEvaluation evaluationFromPlainJson(const nlohmann::json& accuracy, const nlohmann::json& eval)
{
    RunEvaluation out;
    if (!accuracy.is_number())
        return out;
    out.valid = true;
    out.accuracy = accuracy.get<double>();
    if (eval.is_object()) {
        out.samples = eval.value("n", 0LL);
        if (eval.contains("per_class") && eval["per_class"].is_object())
            for (const auto& [name, value] : eval["per_class"].items()) {
                out.classNames << QString::fromStdString(name);
                out.perClass << (value.is_number() ? value.get<double>() : -1.0);
            }
    }
    return out;
}

} // namespace

// Lives on the run's QThread; run() blocks that thread until the run ends.
class RunWorker : public QObject
{
    Q_OBJECT

public:
    void run(const RunRequest& request, std::shared_ptr<RunControl> control);

Q_SIGNALS:
    void stageChanged(const QString& what);
    void started(const QString& runId, qint64 trainableParameters, int trainImages);
    void progress(const tunebench::RunProgress& progress);
    void epochFinished(int epoch, double loss, double accuracy);
    void finished(const tunebench::RunResults& results);
    void failed(const QString& message);

private:
    RunResults execute(const RunRequest& request, RunControl& control);
};

void RunWorker::run(const RunRequest& request, std::shared_ptr<RunControl> control)
{
    try {
        const RunResults results = execute(request, *control);
        Q_EMIT finished(results);
    } catch (const std::exception& e) {
        // One line: LibTorch appends a C++ stack trace to its messages.
        Q_EMIT failed(QString::fromStdString(e.what()).section('\n', 0, 0).trimmed());
    } catch (...) {
        Q_EMIT failed(tr("the run ended with an error that carries no message"));
    }
}

RunResults RunWorker::execute(const RunRequest& request, RunControl& control)
{
    Q_EMIT stageChanged(tr("Loading model"));
    Backbone backbone = *cachedBackbone(request.modelPath.toStdString(), request.vocabularyPath.toStdString());  // shares the weights; the device is this run's
    backbone.device = chooseDevice(request.device.toStdString());
    Q_EMIT stageChanged(tr("Opening dataset"));
    const auto dataset = cachedDataset(request.dataset.toStdString());
    if (dataset->train.empty())
        throw Error(request.dataset.toStdString() + ": the dataset has no training images");

    const RunSettings settings = toSettings(request);
    const bool imported = !settings.importPrompt.empty();
    const StrategyInfo& info = findStrategy(experimentMethod(settings));

    RunResults results;
    std::optional<RunStore> store;
    if (!request.runsRoot.isEmpty()) {
        store = RunStore::create(request.runsRoot.toStdString(), imported ? info.name + "-imported" : info.name, dataset->name);
        nlohmann::json config = runConfig(settings, *dataset, backbone);
        config["method"] = info.name;
        config["source"] = "tunebench (GUI)";
        store->writeConfig(config);
        results.runFolder = QString::fromStdString(store->folder());
        results.runId = QFileInfo(results.runFolder).fileName();
    } else {
        results.runId = QString("%1-%2").arg(QString::fromStdString(info.name), QString::fromStdString(dataset->name));
    }

    ExperimentCallbacks callbacks;
    callbacks.onStart = [&](const ExperimentStart& start) {
        Q_EMIT started(results.runId, start.trainableParameters, start.trainImages);
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
    callbacks.onEpoch = [&](const EpochReport& r) { Q_EMIT epochFinished(r.epoch, r.loss, r.accuracy); };

    const ExperimentResult r = runExperiment(settings, backbone, *dataset, store ? &*store : nullptr, false, callbacks, &control);
    results.method = QString::fromStdString(info.name);
    results.methodTitle = QString::fromStdString(info.title) + (imported ? tr(" (imported)") : QString());
    results.dataset = QString::fromStdString(dataset->name);
    results.status = QString::fromStdString(r.status);
    results.message = QString::fromStdString(r.message);
    results.exportPath = QString::fromStdString(r.exportPath);
    results.baseNew = r.baseNew;
    results.trainableParameters = r.trainableParameters;
    results.seconds = r.seconds;
    results.first = toRunEvaluation(r.first);
    results.novel = toRunEvaluation(r.novel);
    results.handcraftedFirst = toRunEvaluation(r.handcraftedFirst);
    results.handcraftedNovel = toRunEvaluation(r.handcraftedNovel);
    results.novelMessage = QString::fromStdString(r.novelMessage);
    results.harmonic = r.harmonic ? *r.harmonic : -1;
    results.nearestWords = nearestWordsFromJson(r.nearestWords);
    results.shots = settings.shots;
    results.seed = settings.seed;
    results.usesTrainingImages = info.usesTrainingImages;
    results.usesPrompts = info.usesPrompts;
    for (const auto& [name, evaluation] : r.targets) {
        results.targetNames << QString::fromStdString(name);
        results.targets << toRunEvaluation(evaluation);
    }
    for (const std::string& problem : r.problems)
        results.problems << QString::fromStdString(problem);
    return results;
}

int storeRun(QVector<RunResults>& runs, const RunResults& results)
{
    for (int i = 0; i < runs.size(); ++i)
        if (!results.runId.isEmpty() && runs[i].runId == results.runId) {
            runs[i] = results;
            return i;
        }
    runs.append(results);
    return runs.size() - 1;
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
    connect(m_worker, &RunWorker::epochFinished, this, &RunController::epochFinished);
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

bool RunController::start(const RunRequest& request)
{
    if (m_running)
        return false;
    m_running = true;
    m_control = std::make_shared<RunControl>();
    QMetaObject::invokeMethod(m_worker, [worker = m_worker, request, control = m_control] { worker->run(request, control); },
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

qint64 RunController::countTrainableParameters(const RunRequest& request, const QStringList& classNames)
{
    const auto backbone = cachedBackbone(request.modelPath.toStdString(), request.vocabularyPath.toStdString());
    const StrategyInfo& info = findStrategy(request.method.toStdString());
    if (info.family == StrategyFamily::PromptLearning && !backbone->tokenizer)
        throw Error(info.title + " needs a CLIP model with a text tower");
    std::vector<std::string> names;
    for (const QString& name : classNames)
        names.push_back(name.toStdString());
    TaskSetup setup;
    setup.classNames = names;
    setup.tokenizer = backbone->tokenizer;
    setup.shots = request.shots;
    auto strategy = info.create();
    strategy->attach(backbone->build(), setup, optionsJson(request.options));
    return strategy->trainableParameterCount();
}

RunResults RunController::readRunResults(const QString& folder)
{
    const RunStore store = RunStore::open(folder.toStdString());
    const nlohmann::json results = store.readResults();
    if (!results.is_object())
        throw Error(folder.toStdString() + ": the run has no results.json yet");
    RunResults r;
    r.runFolder = folder;
    r.runId = QFileInfo(folder).fileName();
    r.method = QString::fromStdString(results.value("method", ""));
    try {
        const StrategyInfo& info = findStrategy(r.method.toStdString());
        r.methodTitle = QString::fromStdString(info.title);
        r.usesTrainingImages = info.usesTrainingImages;
        r.usesPrompts = info.usesPrompts;
    } catch (const std::exception&) {
        r.methodTitle = r.method;
    }
    if (r.runId.contains("-imported"))
        r.methodTitle += tr(" (imported)");
    r.dataset = QString::fromStdString(results.value("dataset", ""));
    r.status = QString::fromStdString(results.value("status", ""));
    r.message = QString::fromStdString(results.value("message", ""));
    r.baseNew = results.value("base_new", false);
    r.shots = results.value("shots", 0);
    r.seed = results.value("seed", 0);
    r.trainableParameters = results.value("trainable_parameters", 0LL);
    if (results.contains("export") && results["export"].is_string())
        r.exportPath = QString::fromStdString(results["export"].get<std::string>());
    const nlohmann::json details = results.value("details", nlohmann::json::object());
    if (details.is_object() && details.contains("first")) {
        // Written by the experiment runner: class order and confusion matrices as the run saw them.
        r.first = toRunEvaluation(classEvaluationFromJson(details["first"]));
        r.novel = toRunEvaluation(classEvaluationFromJson(details.value("novel", nlohmann::json())));
        r.handcraftedFirst = toRunEvaluation(classEvaluationFromJson(details.value("handcrafted_first", nlohmann::json())));
        r.handcraftedNovel = toRunEvaluation(classEvaluationFromJson(details.value("handcrafted_novel", nlohmann::json())));
        r.nearestWords = nearestWordsFromJson(details.value("nearest_words", nlohmann::json()));
        r.seconds = details.value("seconds", 0.0);
        const nlohmann::json targets = details.value("targets", nlohmann::json::object());
        if (targets.is_object())
            for (const auto& [name, evaluation] : targets.items()) {
                r.targetNames << QString::fromStdString(name);
                r.targets << toRunEvaluation(classEvaluationFromJson(evaluation));
            }
    } else {
        r.first = evaluationFromPlainJson(results.value("accuracy", nlohmann::json()),
                                          results.contains("eval") ? results["eval"] : results);
        if (r.baseNew)
            r.novel = evaluationFromPlainJson(results.value("new", nlohmann::json()), results.value("new_eval", nlohmann::json()));
        r.seconds = results.value("seconds", 0.0);
    }
    r.novelMessage = QString::fromStdString(results.value("new_message", ""));
    if (results.contains("h") && results["h"].is_number())
        r.harmonic = results["h"].get<double>();
    return r;
}

} // namespace tunebench

#include "RunController.moc"
