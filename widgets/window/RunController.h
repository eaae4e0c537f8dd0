#pragma once

#include "core/experiment/RunSettings.h"
#include "widgets/results/RunResults.h"

#include <QObject>
#include <QString>

#include <memory>

namespace tunebench {

class JobHost;

// A training run of the workbench as a job of the window's JobHost (its own host when given none): the
// loading, training and evaluation run on the host's worker thread, and what they report arrives as these
// signals with plain values. Stop and pause go through the host to the run's RunControl.
class RunController : public QObject
{
    Q_OBJECT

public:
    explicit RunController(JobHost* jobs = nullptr, QObject* parent = nullptr);
    ~RunController() override;

    // Starts a run of `settings`, in a new folder under `runsRoot` (none when empty); false (and nothing
    // starts) while any job of the host runs.
    bool start(const RunSettings& settings, const QString& runsRoot);
    // Continues the stopped run in `runFolder` from its last finished epoch, with the settings of its
    // config.json, in that folder (tunebench-cli train --resume). false while any job of the host runs.
    bool continueRun(const QString& runFolder);
    void requestStop();  // first call: training ends, evaluation still runs; second call: everything ends
    void abort();  // ends training and evaluation at once (closing the window)
    void setPaused(bool paused);
    bool isRunning() const;  // a run of this controller is the host's job
    bool isPaused() const;
    // Blocks until the host's job has ended (tests, shutdown); false on timeout.
    bool waitForFinished(int timeoutMs);

Q_SIGNALS:
    void stageChanged(const QString& what);  // "Loading model", "Training", "Evaluating" ...
    void started(const QString& runId, qint64 trainableParameters, int trainImages);
    void progress(const tunebench::RunProgress& progress);
    void finished(const tunebench::RunResults& results);
    void failed(const QString& message);

private:
    bool submit(const RunSettings& settings, const QString& runsRoot, const QString& continueFolder);

    JobHost* m_jobs = nullptr;
    std::shared_ptr<RunResults> m_results;  // the running job's, filled on its thread before it ends
};

} // namespace tunebench
