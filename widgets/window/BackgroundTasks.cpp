#include "widgets/window/BackgroundTasks.h"

#include <QDeadlineTimer>
#include <QThread>

namespace tunebench {

BackgroundTasks::BackgroundTasks(QObject* parent)
    : QObject(parent)
{
}

BackgroundTasks::~BackgroundTasks()
{
    shutdown();
}

void BackgroundTasks::start(const QString& name, std::function<void(const TaskToken&)> work)
{
    if (m_closing)
        return;
    forgetFinished();
    cancel(name);
    Task task;
    task.name = name;
    const TaskToken token = task.token;
    task.thread = QThread::create([work = std::move(work), token] {
        try {
            work(token);
        } catch (...) {
            // A task reports its own failures; nothing may escape a thread.
        }
    });
    task.thread->setObjectName("tunebench-" + name);
    task.thread->start();
    m_tasks.push_back(task);
}

void BackgroundTasks::cancel(const QString& name)
{
    for (Task& task : m_tasks)
        if (task.name == name)
            task.token.m_cancelled->store(true);
}

bool BackgroundTasks::shutdown(int timeoutMs)
{
    m_closing = true;
    for (Task& task : m_tasks)
        task.token.m_cancelled->store(true);
    const QDeadlineTimer deadline(timeoutMs);
    bool allEnded = true;
    for (Task& task : m_tasks) {
        if (task.thread->wait(deadline)) {
            delete task.thread;
        } else {
            allEnded = false;  // abandoned: destroying a running QThread would abort the program
        }
    }
    m_tasks.clear();
    return allEnded;
}

void BackgroundTasks::forgetFinished()
{
    for (auto it = m_tasks.begin(); it != m_tasks.end();) {
        if (it->thread->isFinished()) {
            delete it->thread;
            it = m_tasks.erase(it);
        } else {
            ++it;
        }
    }
}

} // namespace tunebench
