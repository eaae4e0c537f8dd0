#pragma once
// The window's loads and counts, each on a thread this object owns: closing the window cancels them and
// waits for them instead of leaving them to run into the application's exit. Tasks have names; starting a
// task cancels the running one of the same name (the latest request wins).

#include "core/Error.h"

#include <QCoreApplication>
#include <QObject>
#include <QPointer>
#include <QString>

#include <atomic>
#include <exception>
#include <functional>
#include <memory>
#include <vector>

class QThread;

namespace tunebench {

// Handed to a task: whether it should give up (superseded, or the owner is closing). Long work polls it,
// for instance from a progress callback that then throws.
class TaskToken
{
public:
    bool cancelled() const { return m_cancelled->load(); }

private:
    friend class BackgroundTasks;
    std::shared_ptr<std::atomic<bool>> m_cancelled = std::make_shared<std::atomic<bool>>(false);
};

class BackgroundTasks : public QObject
{
    Q_OBJECT

public:
    explicit BackgroundTasks(QObject* parent = nullptr);
    // Cancels every task and waits for them (see shutdown).
    ~BackgroundTasks() override;

    void start(const QString& name, std::function<void(const TaskToken&)> work);
    // Asks the running task of that name to give up (its token says so); it ends at its next check.
    void cancel(const QString& name);
    // Cancels every task and waits up to `timeoutMs` for them to end. A task that is still inside a step
    // it cannot interrupt (reading one file, say) is then abandoned: its thread object is left alive,
    // never destroyed while running. Returns whether every task ended.
    bool shutdown(int timeoutMs = 1500);

private:
    struct Task
    {
        QString name;
        TaskToken token;
        QThread* thread = nullptr;
    };
    void forgetFinished();
    std::vector<Task> m_tasks;
    bool m_closing = false;
};

// Posts `function(target)` from a task to the GUI thread; it runs only while `target` still exists.
template <typename Target, typename Function>
void postToGui(const QPointer<Target>& target, Function function)
{
    QMetaObject::invokeMethod(
        qApp,
        [target, function] {
            if (target)
                function(target.data());
        },
        Qt::QueuedConnection);
}

// An error's first line (core/Error.h's firstLine) for the window.
inline QString firstLine(const std::exception& e)
{
    return QString::fromStdString(firstLine(std::string(e.what())));
}

} // namespace tunebench
