#include "widgets/window/JobHost.h"

#include "core/Error.h"
#include "core/train/RunControl.h"

#include <QCoreApplication>
#include <QDeadlineTimer>
#include <QLabel>
#include <QProgressBar>
#include <QThread>

namespace tunebench {

void JobHost::Context::post(std::function<void()> function) const
{
    QMetaObject::invokeMethod(m_host, std::move(function), Qt::QueuedConnection);
}

void JobHost::Context::progress(double done, double total, const QString& line) const
{
    JobHost* host = m_host;
    const QString owner = m_owner;
    post([host, owner, done, total, line] { Q_EMIT host->progressed(owner, done, total, line); });
}

JobHost::JobHost(QObject* parent)
    : QObject(parent)
{
    m_thread = new QThread(this);
    m_thread->setObjectName("tunebench-job");
    m_worker = new QObject;
    m_worker->moveToThread(m_thread);
    connect(m_thread, &QThread::finished, m_worker, &QObject::deleteLater);
    m_thread->start();
}

JobHost::~JobHost()
{
    // Closing: nothing of a job is worth waiting for (its folders keep their last checkpoints).
    abort();
    m_thread->quit();
    m_thread->wait();
}

bool JobHost::submit(const QString& owner, Work work)
{
    if (isRunning() || owner.isEmpty())
        return false;
    m_owner = owner;
    m_control = std::make_shared<RunControl>();
    Context context;
    context.m_host = this;
    context.m_control = m_control;
    context.m_owner = owner;
    Q_EMIT runningChanged(true, owner);
    QMetaObject::invokeMethod(
        m_worker,
        [this, context, work] {
            bool completed = false;
            QString failure;
            try {
                completed = work(context);
            } catch (const std::exception& e) {
                failure = QString::fromStdString(firstLine(e.what()));  // LibTorch appends a stack trace
            } catch (...) {
                failure = tr("the job ended with an error that carries no message");
            }
            // After everything the job posted; the job ends here and nowhere else, so that a late report of
            // one job never ends the next.
            context.post([this, owner = context.m_owner, completed, failure] {
                m_owner.clear();
                Q_EMIT runningChanged(false, owner);
                Q_EMIT finished(owner, completed, failure);
            });
        },
        Qt::QueuedConnection);
    return true;
}

void JobHost::requestStop()
{
    if (!m_control || !isRunning())
        return;
    if (m_control->stopRequested())
        m_control->requestAbort();
    else
        m_control->requestStop();
}

void JobHost::abort()
{
    if (!m_control)
        return;
    m_control->setPaused(false);
    m_control->requestStop();
    m_control->requestAbort();
}

void JobHost::setPaused(bool paused)
{
    if (m_control)
        m_control->setPaused(paused);
}

bool JobHost::isPaused() const
{
    return m_control && isRunning() && m_control->paused();
}

bool JobHost::waitForFinished(int timeoutMs)
{
    QDeadlineTimer deadline(timeoutMs);
    while (isRunning()) {
        if (deadline.hasExpired())
            return false;
        QCoreApplication::processEvents(QEventLoop::AllEvents, 20);
        QThread::msleep(5);
    }
    return true;
}

void followJobs(JobHost* jobs, const QString& owner, QWidget* panel, QProgressBar* bar, QLabel* status,
                std::function<void(bool completed, const QString& failure)> onEnd)
{
    QObject::connect(jobs, &JobHost::progressed, panel, [owner, bar, status](const QString& from, double done, double total, const QString& line) {
        if (from != owner)
            return;
        bar->setRange(0, static_cast<int>(total * 100));
        bar->setValue(static_cast<int>(done * 100));
        status->setText(line);
    });
    QObject::connect(jobs, &JobHost::finished, panel, [owner, onEnd](const QString& from, bool completed, const QString& failure) {
        if (from == owner)
            onEnd(completed, failure);
    });
}

} // namespace tunebench
