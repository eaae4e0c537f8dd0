#pragma once
// The window's one runner of long jobs: a training run, a continual stream, an adaptation series. One job
// at a time, on a worker thread the host owns; Stop, Abort and Pause reach the job through its RunControl
// (the training loop blocks the worker thread, so flags, not queued slots); progress arrives as done/total
// and one line of text; the end is reported once, with the failure's first line. Panels submit a job and
// draw what it reports; the window asks the host, not the panels, whether something runs.

#include <QObject>
#include <QString>

#include <functional>
#include <memory>

class QLabel;
class QProgressBar;
class QThread;
class QWidget;

namespace tunebench {

class RunControl;

class JobHost : public QObject
{
    Q_OBJECT

public:
    // What a job sees on the worker thread.
    class Context
    {
    public:
        RunControl& control() const { return *m_control; }
        // Runs `function` on the GUI thread, after what was posted before it.
        void post(std::function<void()> function) const;
        // The whole job's progress: `done` of `total` units (any unit: stages, runs, steps) and one line
        // saying where it is, ETA included.
        void progress(double done, double total, const QString& line) const;

    private:
        friend class JobHost;
        JobHost* m_host = nullptr;
        std::shared_ptr<RunControl> m_control;
        QString m_owner;
    };
    // Returns whether the job completed (false: it was stopped); throws for a failure.
    using Work = std::function<bool(const Context&)>;

    explicit JobHost(QObject* parent = nullptr);
    ~JobHost() override;  // aborts the running job and waits for it

    // Starts `work` for `owner` (a panel's name) on the worker thread; false, and nothing starts, while a
    // job runs.
    bool submit(const QString& owner, Work work);
    bool isRunning() const { return !m_owner.isEmpty(); }
    QString owner() const { return m_owner; }  // empty when idle
    void requestStop();  // first call: training ends after the current step (evaluation runs); second: abort
    void abort();        // ends training and evaluation at once (closing the window)
    void setPaused(bool paused);
    bool isPaused() const;
    bool waitForFinished(int timeoutMs);  // tests and shutdown; false on timeout

Q_SIGNALS:
    void runningChanged(bool running, const QString& owner);
    void progressed(const QString& owner, double done, double total, const QString& line);
    // `failure` is empty when the job completed or was stopped.
    void finished(const QString& owner, bool completed, const QString& failure);

private:
    QThread* m_thread = nullptr;
    QObject* m_worker = nullptr;  // lives on m_thread; jobs are queued to it
    std::shared_ptr<RunControl> m_control;
    QString m_owner;
};

// What a panel shows of its own jobs (those submitted as `owner`): their progress in `bar` and `status`,
// and `onEnd` when one ends. The connections last as long as `panel`.
void followJobs(JobHost* jobs, const QString& owner, QWidget* panel, QProgressBar* bar, QLabel* status,
                std::function<void(bool completed, const QString& failure)> onEnd);

} // namespace tunebench
