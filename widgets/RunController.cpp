#include "widgets/RunController.h"

#include "core/Device.h"
#include "core/Error.h"
#include "core/data/DatasetLayouts.h"
#include "core/data/FewShot.h"
#include "core/data/ImageBatchSource.h"
#include "core/export/PromptExport.h"
#include "core/io/CheckpointLoader.h"
#include "core/io/ClipTokenizer.h"
#include "core/io/VocabularyLocator.h"
#include "core/train/Evaluator.h"
#include "core/train/RunControl.h"
#include "core/train/RunStore.h"
#include "core/train/Trainer.h"
#include "core/tuning/ClipStrategy.h"
#include "core/tuning/Strategy.h"
#include "core/tuning/ValidationTuned.h"

#include <torch/torch.h>

#include <QCoreApplication>
#include <QDeadlineTimer>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QFileInfo>
#include <QThread>
#include <QTimer>

#include <algorithm>
#include <filesystem>
#include <mutex>

namespace tunebench {

namespace {

constexpr int kEvalBatch = 64;

// A checkpoint kept in memory with its vocabulary: parameter counts and runs rebuild a fresh model
// from it (a strategy that tunes the backbone must not leak into the next run) without rereading disk.
struct Backbone
{
    std::string key;
    Checkpoint checkpoint;
    std::shared_ptr<const ClipTokenizer> tokenizer;
};

std::shared_ptr<const Backbone> loadBackbone(const RunRequest& request)
{
    static std::mutex mutex;
    static std::shared_ptr<const Backbone> cached;
    const std::string path = request.modelPath.toStdString();
    const std::string vocab = request.vocabularyPath.toStdString();
    const QFileInfo info(request.modelPath);
    const std::string key = path + "|" + vocab + "|" + info.lastModified().toString(Qt::ISODateWithMs).toStdString();
    {
        std::lock_guard<std::mutex> lock(mutex);
        if (cached && cached->key == key)
            return cached;
    }
    auto backbone = std::make_shared<Backbone>();
    backbone->key = key;
    backbone->checkpoint = readCheckpoint(path);
    if (backbone->checkpoint.spec.text) {
        const std::string vocabPath = locateVocabulary(vocab, path);
        auto tokenizer = std::make_shared<ClipTokenizer>(ClipTokenizer::load(vocabPath));
        if (tokenizer->vocabSize() > backbone->checkpoint.spec.text->vocabSize)
            throw Error(vocabPath + ": vocabulary has " + std::to_string(tokenizer->vocabSize()) + " tokens but the model's embedding has " +
                        std::to_string(backbone->checkpoint.spec.text->vocabSize) + " rows");
        backbone->checkpoint.spec.text->endOfTextId = tokenizer->endId();
        backbone->tokenizer = tokenizer;
    }
    std::lock_guard<std::mutex> lock(mutex);
    cached = backbone;
    return cached;
}

std::shared_ptr<const DatasetIndex> loadDataset(const QString& pathOrName)
{
    static std::mutex mutex;
    static std::string cachedKey;
    static std::shared_ptr<const DatasetIndex> cached;
    const std::string key = pathOrName.toStdString();
    {
        std::lock_guard<std::mutex> lock(mutex);
        if (cached && cachedKey == key)
            return cached;
    }
    auto dataset = std::make_shared<const DatasetIndex>(openDataset(key));
    std::lock_guard<std::mutex> lock(mutex);
    cachedKey = key;
    cached = dataset;
    return cached;
}

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

// A fixed seeded subset of `samples` in their original order (quick evaluations on large test splits).
std::vector<Sample> limitSamples(const std::vector<Sample>& samples, int limit, int seed)
{
    if (limit <= 0 || static_cast<std::size_t>(limit) >= samples.size())
        return samples;
    auto order = seededPermutation(static_cast<std::int64_t>(samples.size()), static_cast<std::uint64_t>(seed));
    order.resize(static_cast<std::size_t>(limit));
    std::sort(order.begin(), order.end());
    std::vector<Sample> out;
    out.reserve(order.size());
    for (auto index : order)
        out.push_back(samples[static_cast<std::size_t>(index)]);
    return out;
}

std::unique_ptr<ImageBatchSource> makeSource(const std::shared_ptr<const DatasetIndex>& dataset, const std::vector<Sample>& samples,
                                             int resolution, std::optional<TrainTransform> train, int batchSize, bool shuffle,
                                             int seed, int threads)
{
    ImagePipeline pipeline;
    pipeline.eval.resolution = resolution;
    pipeline.train = train;
    LoaderOptions options;
    options.batchSize = std::max(1, batchSize);
    options.shuffle = shuffle;
    options.seed = static_cast<std::uint64_t>(seed);
    options.threads = threads;
    return std::make_unique<ImageBatchSource>(dataset, samples, pipeline, options);
}

TrainTransform trainTransform(int resolution, double scaleMin)
{
    TrainTransform transform;
    transform.resolution = resolution;
    transform.scaleMin = scaleMin;
    return transform;
}

QStringList toQStringList(const std::vector<std::string>& strings)
{
    QStringList out;
    for (const auto& s : strings)
        out << QString::fromStdString(s);
    return out;
}

RunEvaluation toRunEvaluation(const Evaluation& evaluation, const std::vector<std::string>& classNames)
{
    RunEvaluation out;
    out.valid = true;
    out.accuracy = evaluation.accuracy;
    out.samples = evaluation.n;
    out.classNames = toQStringList(classNames);
    out.perClass = QVector<double>(evaluation.perClass.begin(), evaluation.perClass.end());
    out.support = QVector<qint64>(evaluation.support.begin(), evaluation.support.end());
    for (const auto& row : evaluation.confusion)
        out.confusion.append(QVector<qint64>(row.begin(), row.end()));
    return out;
}

bool baseNewApplies(const Backbone& backbone, const StrategyInfo& info)
{
    return backbone.tokenizer && backbone.checkpoint.spec.text && info.family == StrategyFamily::PromptLearning;
}

TaskSetup taskSetup(const Backbone& backbone, const DatasetIndex& dataset, const std::vector<std::string>& classNames, int shots)
{
    TaskSetup setup;
    setup.classNames = classNames;
    setup.promptTemplate = dataset.promptTemplate;
    setup.datasetName = dataset.name;
    setup.shots = shots;
    setup.tokenizer = backbone.tokenizer;
    return setup;
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
    void ended();

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
    }
    Q_EMIT ended();
}

RunResults RunWorker::execute(const RunRequest& request, RunControl& control)
{
    QElapsedTimer clock;
    clock.start();
    Q_EMIT stageChanged(tr("Loading model"));
    const auto backbone = loadBackbone(request);
    Q_EMIT stageChanged(tr("Opening dataset"));
    const auto dataset = loadDataset(request.dataset);
    if (dataset->train.empty())
        throw Error(request.dataset.toStdString() + ": the dataset has no training images");

    // An imported prompt is evaluated on every class of this dataset, without training.
    const bool imported = !request.importPrompt.isEmpty();
    std::string method = request.method.toStdString();
    if (imported) {
        const auto manifest = RunStore::readJsonFile(request.importPrompt.toStdString());
        if (!manifest.is_object() || !manifest.contains("method") || !manifest["method"].is_string())
            throw Error(request.importPrompt.toStdString() + ": not a prompt export (no \"method\")");
        method = manifest["method"].get<std::string>();
    }
    const StrategyInfo& info = findStrategy(method);
    const bool baseNew = !imported && request.baseNew && baseNewApplies(*backbone, info);
    torch::manual_seed(static_cast<std::uint64_t>(request.seed));
    const c10::Device device = chooseDevice(request.device.toStdString());

    // CoOp's protocol: few-shot sampling first, then the class split.
    const DatasetIndex fewShot = applyFewShot(*dataset, {request.shots, static_cast<std::uint64_t>(request.seed)});
    const auto trainSet = std::make_shared<const DatasetIndex>(baseNew ? subsampleClasses(fewShot, ClassSubset::Base) : fewShot);
    const int resolution = backbone->checkpoint.spec.vision.imageSize;

    std::unique_ptr<Strategy> strategy;
    ClipModel model = buildModel(backbone->checkpoint);
    model->to(device);
    if (imported) {
        ImportedPrompt prompt =
            PromptExport::read(request.importPrompt.toStdString(), model, taskSetup(*backbone, *dataset, trainSet->classNames, request.shots));
        strategy = std::move(prompt.strategy);
    } else {
        strategy = info.create();
        strategy->attach(model, taskSetup(*backbone, *dataset, trainSet->classNames, request.shots), optionsJson(request.options));
    }
    auto* clipStrategy = dynamic_cast<ClipStrategy*>(strategy.get());

    TrainerConfig config = withEpochs(strategy->defaultTrainerConfig(request.shots), request.epochs);
    if (request.lr > 0)
        config.lr = request.lr;
    config.maxSteps = request.maxSteps;
    const int batchSize = request.batchSize > 0 ? request.batchSize : strategy->defaultBatchSize(request.shots);

    RunResults results;
    results.method = QString::fromStdString(info.name);
    results.methodTitle = QString::fromStdString(info.title) + (imported ? tr(" (imported)") : QString());
    results.dataset = QString::fromStdString(dataset->name);
    results.baseNew = baseNew;
    results.status = "finished";
    results.trainableParameters = strategy->trainableParameterCount();

    std::optional<RunStore> store;
    if (!request.runsRoot.isEmpty()) {
        store = RunStore::create(request.runsRoot.toStdString(), imported ? info.name + "-imported" : info.name, dataset->name);
        config.checkpointDir = store->checkpointDir();
        store->writeConfig({{"model", request.modelPath.toStdString()}, {"dataset", request.dataset.toStdString()},
                            {"method", info.name}, {"shots", request.shots}, {"seed", request.seed}, {"base_new", baseNew},
                            {"device", request.device.toStdString()}, {"epochs", request.epochs}, {"lr", request.lr},
                            {"batch_size", request.batchSize}, {"max_steps", request.maxSteps},
                            {"vocab", request.vocabularyPath.toStdString()}, {"options", optionsJson(request.options)}, {"import_prompt", request.importPrompt.toStdString()},
                            {"created", RunStore::utcNow()}, {"source", "tunebench (GUI)"}});
        results.runFolder = QString::fromStdString(store->folder());
        results.runId = QFileInfo(results.runFolder).fileName();
    } else {
        results.runId = QString("%1-%2").arg(results.method, results.dataset);
    }
    Q_EMIT started(results.runId, results.trainableParameters, static_cast<int>(trainSet->train.size()));

    if (!imported) {
        Q_EMIT stageChanged(tr("Preparing"));
        const bool augment = !clipStrategy || clipStrategy->prepareWithAugmentation();
        auto prepareSource = makeSource(trainSet, trainSet->train, resolution,
                                        augment ? std::optional<TrainTransform>(trainTransform(resolution, 0.5)) : std::nullopt,
                                        kEvalBatch, false, request.seed, request.loaderThreads);
        strategy->prepare(*prepareSource);
    }

    if (!imported && strategy->needsTraining() && !control.stopRequested()) {
        Q_EMIT stageChanged(tr("Training"));
        auto trainSource = makeSource(trainSet, trainSet->train, resolution, trainTransform(resolution, 0.08), batchSize, true,
                                      request.seed, request.loaderThreads);
        TrainerCallbacks callbacks;
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
            Q_EMIT progress(p);
            if (store)
                store->appendMetric({{"type", "step"}, {"epoch", r.epoch}, {"step", r.step}, {"loss", r.loss}, {"accuracy", r.accuracy},
                                     {"lr", r.lr}, {"images_per_second", r.imagesPerSecond}});
        };
        callbacks.onEpoch = [&](const EpochReport& r) {
            Q_EMIT epochFinished(r.epoch, r.loss, r.accuracy);
            if (store)
                store->appendMetric({{"type", "epoch"}, {"epoch", r.epoch}, {"loss", r.loss}, {"accuracy", r.accuracy}, {"seconds", r.seconds}});
        };
        const TrainResult trained = Trainer(config).fit(*strategy, *trainSource, callbacks, &control);
        if (trained.status != TrainResult::Status::Finished) {
            results.status = trained.status == TrainResult::Status::Stopped ? "stopped" : "diverged";
            results.message = QString::fromStdString(trained.message);
        }
    }
    if (auto* tuned = dynamic_cast<ValidationTuned*>(strategy.get()); !imported && tuned && !trainSet->val.empty()) {
        auto valSource = makeSource(trainSet, trainSet->val, resolution, std::nullopt, kEvalBatch, false, 1, request.loaderThreads);
        tuned->tuneOnValidation(*valSource);
    }

    // A stopped run is still evaluated: what was learned so far is worth seeing (and keeping).
    Q_EMIT stageChanged(tr("Evaluating"));
    auto evaluateSplit = [&](const std::shared_ptr<const DatasetIndex>& set, Strategy& method) {
        auto source = makeSource(set, limitSamples(set->test, request.maxTestImages, request.seed), resolution, std::nullopt, kEvalBatch,
                                 false, 1, request.loaderThreads);
        return evaluate([&](const at::Tensor& images) { return method.logits(images); }, *source,
                        static_cast<int>(set->classNames.size()));
    };
    const Evaluation first = evaluateSplit(trainSet, *strategy);
    results.first = toRunEvaluation(first, trainSet->classNames);
    nlohmann::json resultsJson = {{"method", info.name},       {"dataset", dataset->name},   {"model", backbone->checkpoint.spec.name},
                                  {"shots", request.shots},    {"seed", request.seed},       {"base_new", baseNew},
                                  {"trainer", toJson(config)}, {"batch_size", batchSize},    {"status", results.status.toStdString()},
                                  {"trainable_parameters", results.trainableParameters},     {"accuracy", first.accuracy},
                                  {"eval", first.toJson(trainSet->classNames)}};
    if (store && clipStrategy && !imported) {
        const auto base = (std::filesystem::path(store->exportDir()) / "prompt").string();
        PromptExport::write(*clipStrategy, base, {{"accuracy", first.accuracy}});
        results.exportPath = QString::fromStdString(base + ".json");
    }
    if (baseNew) {
        const auto newSet = std::make_shared<const DatasetIndex>(subsampleClasses(fewShot, ClassSubset::New));
        resultsJson["base"] = first.accuracy;
        try {
            strategy->setClasses(newSet->classNames);
            const Evaluation novel = evaluateSplit(newSet, *strategy);
            results.novel = toRunEvaluation(novel, newSet->classNames);
            results.harmonic = harmonicMean(first.accuracy, novel.accuracy);
            resultsJson["new"] = novel.accuracy;
            resultsJson["new_eval"] = novel.toJson(newSet->classNames);
            resultsJson["h"] = results.harmonic;
        } catch (const Error& e) {
            results.novelMessage = QString::fromStdString(e.what());
            resultsJson["new"] = nullptr;
            resultsJson["h"] = nullptr;
            resultsJson["new_message"] = e.what();
        }
    }
    // The prompt comparison: the dataset's hand-crafted prompt, zero-shot, on exactly the same images.
    if (request.compareHandcrafted && clipStrategy && backbone->tokenizer && info.name != "zeroshot") {
        Q_EMIT stageChanged(tr("Scoring the hand-crafted prompt"));
        auto handcrafted = findStrategy("zeroshot").create();
        ClipModel fresh = buildModel(backbone->checkpoint);  // the learned method's hooks must not leak in
        fresh->to(device);
        handcrafted->attach(fresh, taskSetup(*backbone, *dataset, trainSet->classNames, request.shots), nlohmann::json::object());
        results.handcraftedFirst = toRunEvaluation(evaluateSplit(trainSet, *handcrafted), trainSet->classNames);
        resultsJson["handcrafted"] = results.handcraftedFirst.accuracy;
        if (baseNew) {
            const auto newSet = std::make_shared<const DatasetIndex>(subsampleClasses(fewShot, ClassSubset::New));
            handcrafted->setClasses(newSet->classNames);
            results.handcraftedNovel = toRunEvaluation(evaluateSplit(newSet, *handcrafted), newSet->classNames);
            resultsJson["handcrafted_new"] = results.handcraftedNovel.accuracy;
        }
    }
    results.seconds = clock.elapsed() / 1000.0;
    resultsJson["seconds"] = results.seconds;
    if (!results.message.isEmpty())
        resultsJson["message"] = results.message.toStdString();
    if (store)
        store->writeResults(resultsJson);
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
    connect(m_worker, &RunWorker::epochFinished, this, &RunController::epochFinished);
    connect(m_worker, &RunWorker::finished, this, [this](const RunResults& r) {
        m_running = false;
        Q_EMIT finished(r);
    });
    connect(m_worker, &RunWorker::failed, this, [this](const QString& message) {
        m_running = false;
        Q_EMIT failed(message);
    });
    connect(m_worker, &RunWorker::ended, this, &RunController::onEnded);
    m_thread->start();
}

RunController::~RunController()
{
    if (m_control) {
        m_control->setPaused(false);
        m_control->requestStop();
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
    if (m_control)
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

void RunController::onEnded()
{
    m_running = false;
}

qint64 RunController::countTrainableParameters(const RunRequest& request, const QStringList& classNames)
{
    const auto backbone = loadBackbone(request);
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
    strategy->attach(buildModel(backbone->checkpoint), setup, optionsJson(request.options));
    return strategy->trainableParameterCount();
}

} // namespace tunebench

#include "RunController.moc"
