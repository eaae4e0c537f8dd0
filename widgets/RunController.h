#pragma once

#include "core/experiment/RunSettings.h"
#include "widgets/RunResults.h"

#include <QObject>
#include <QString>

#include <memory>

class QThread;

namespace tunebench {

class RunControl;
class RunWorker;

// One controller per run: a worker object on its own QThread does the loading, training and
// evaluation; its reports arrive as queued signals with plain values. Stop and pause flip atomics
// directly, because the training loop blocks the worker thread's event loop.
class RunController : public QObject
{
    Q_OBJECT

public:
    explicit RunController(QObject* parent = nullptr);
    ~RunController() override;  // stops a run in progress and waits for the worker

    // Starts a run of `settings` on the worker thread, in a new folder under `runsRoot` (none when empty);
    // false (and nothing starts) while a run is in progress.
    bool start(const RunSettings& settings, const QString& runsRoot);
    void requestStop();  // first call: training ends, evaluation still runs; second call: everything ends
    void abort();  // ends training and evaluation at once (closing the window)
    void setPaused(bool paused);
    bool isRunning() const { return m_running; }
    bool isPaused() const;
    // Blocks until the current run has ended (tests, shutdown); false on timeout.
    bool waitForFinished(int timeoutMs);


Q_SIGNALS:
    void stageChanged(const QString& what);  // "Loading model", "Training", "Evaluating" ...
    void started(const QString& runId, qint64 trainableParameters, int trainImages);
    void progress(const tunebench::RunProgress& progress);
    void finished(const tunebench::RunResults& results);
    void failed(const QString& message);

private:
    QThread* m_thread = nullptr;
    RunWorker* m_worker = nullptr;
    std::shared_ptr<RunControl> m_control;
    bool m_running = false;
};

} // namespace tunebench
