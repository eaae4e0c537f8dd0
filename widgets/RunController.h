#pragma once

#include <QMetaType>
#include <QObject>
#include <QString>
#include <QStringList>
#include <QVariantMap>
#include <QVector>

#include <memory>

class QThread;

namespace tunebench {

class RunControl;
class RunWorker;

// Everything one run needs, in plain Qt types (the GUI fills it from its panels).
struct RunRequest
{
    QString modelPath;
    QString vocabularyPath;   // empty: search beside the checkpoint and the usual places
    QString dataset;          // a folder or "fashion-mnist"
    QString method = "coop";
    QVariantMap options;      // strategy options by schema name
    int shots = 16;
    int seed = 1;
    bool baseNew = true;      // only where the strategy uses the text tower
    int epochs = 0;           // 0 = the recipe's
    double lr = 0;            // 0 = the recipe's
    int batchSize = 0;        // 0 = the recipe's
    qint64 maxSteps = 0;      // > 0: stop training after this many steps (smoke runs, tests)
    int maxTestImages = 0;    // > 0: evaluate on a fixed seeded subset of each test split
    int loaderThreads = 0;
    bool compareHandcrafted = true;  // prompt learning: also score the dataset's hand-crafted prompt, per class
    QString device = "auto";
    QString runsRoot;         // empty: no run folder is written
    QString importPrompt;     // a prompt export's .json: evaluate it on all classes of `dataset`, no training
    QStringList evalDatasets; // domain generalisation: also evaluate on these datasets (same classes)
    double cropScaleMin = 0;  // 0 = the dataset's recipe
};

// One training step as the GUI shows it.
struct RunProgress
{
    int epoch = 0;            // 0-based
    int epochs = 0;
    qint64 step = 0;          // 1-based, global
    qint64 totalSteps = 0;
    double loss = 0;
    double accuracy = -1;     // running accuracy of the epoch; -1 when unknown
    double lr = 0;
    double imagesPerSecond = 0;
    double etaSeconds = 0;
    QString memory;           // device memory in use (CUDA only; empty on the CPU)
};

// Accuracy of one evaluation split.
struct RunEvaluation
{
    bool valid = false;
    double accuracy = 0;
    qint64 samples = 0;
    QStringList classNames;
    QVector<double> perClass;           // -1 where a class has no test sample
    QVector<qint64> support;
    QVector<QVector<qint64>> confusion; // [true][predicted]
};

struct RunResults
{
    QString runId;            // the run folder's name, or a label when no folder is written
    QString method;           // registry key
    QString methodTitle;
    QString dataset;
    QString status;           // finished | stopped | diverged
    QString message;
    QString runFolder;
    QString exportPath;       // the prompt export's .json, when written
    bool baseNew = false;
    int shots = 0;            // per class; 0 = every training image
    int seed = 0;
    bool usesTrainingImages = true;  // false: the method ignores the shots (zero-shot)
    bool usesPrompts = true;         // false: no text prompts (the linear probe)
    qint64 trainableParameters = 0;
    double seconds = 0;
    RunEvaluation first;      // base classes when baseNew, else all classes
    RunEvaluation novel;      // new classes (baseNew only)
    // The hand-crafted prompt (zero-shot CLIP) on the same splits, for the prompt comparison; invalid when
    // not computed (vision-only methods, or compareHandcrafted off).
    RunEvaluation handcraftedFirst, handcraftedNovel;
    QString novelMessage;     // why there is no new-class accuracy (class-specific contexts)
    double harmonic = -1;     // H = 2BN/(B+N), -1 when not computed
    QVector<QStringList> nearestWords;  // per learned context vector, its nearest vocabulary words (prompt exports)
    // Domain generalisation: the training classes on each target dataset's test images.
    QStringList targetNames;
    QVector<RunEvaluation> targets;
    QStringList problems;     // images the loaders skipped ("PATH: why")
};

// Puts `results` into `runs`: in place of the run with the same (non-empty) id, else appended. Returns its
// index. The result views keep their runs this way, so a reopened run replaces its earlier row.
int storeRun(QVector<RunResults>& runs, const RunResults& results);

// One controller per run: a worker object on its own QThread does the loading, training and
// evaluation; its reports arrive as queued signals with plain values. Stop and pause flip atomics
// directly, because the training loop blocks the worker thread's event loop.
class RunController : public QObject
{
    Q_OBJECT

public:
    explicit RunController(QObject* parent = nullptr);
    ~RunController() override;  // stops a run in progress and waits for the worker

    // Starts `request` on the worker thread; false (and nothing starts) while a run is in progress.
    bool start(const RunRequest& request);
    void requestStop();  // first call: training ends, evaluation still runs; second call: everything ends
    void setPaused(bool paused);
    bool isRunning() const { return m_running; }
    bool isPaused() const;
    // Blocks until the current run has ended (tests, shutdown); false on timeout.
    bool waitForFinished(int timeoutMs);

    // Blocking helpers for worker threads (never call them on the GUI thread): the trainable
    // parameters of `request.method` attached to the model, for these classes. Throws tunebench::Error.
    static qint64 countTrainableParameters(const RunRequest& request, const QStringList& classNames);
    // A finished run's folder read back (results.json); throws tunebench::Error when it has no results.
    static RunResults readRunResults(const QString& folder);

Q_SIGNALS:
    void stageChanged(const QString& what);  // "Loading model", "Training", "Evaluating" ...
    void started(const QString& runId, qint64 trainableParameters, int trainImages);
    void progress(const tunebench::RunProgress& progress);
    void epochFinished(int epoch, double loss, double accuracy);
    void finished(const tunebench::RunResults& results);
    void failed(const QString& message);

private:
    QThread* m_thread = nullptr;
    RunWorker* m_worker = nullptr;
    std::shared_ptr<RunControl> m_control;
    bool m_running = false;
};

} // namespace tunebench

Q_DECLARE_METATYPE(tunebench::RunProgress)
Q_DECLARE_METATYPE(tunebench::RunResults)
