#include "core/train/RunControl.h"

namespace tunebench {

void RunControl::requestStop()
{
    m_stop = true;
    std::lock_guard<std::mutex> lock(m_mutex);
    m_resumed.notify_all();
}

void RunControl::requestAbort()
{
    m_abort = true;
    requestStop();
}

void RunControl::setPaused(bool paused)
{
    m_paused = paused;
    std::lock_guard<std::mutex> lock(m_mutex);
    m_resumed.notify_all();
}

bool RunControl::waitWhilePaused()
{
    std::unique_lock<std::mutex> lock(m_mutex);
    m_resumed.wait(lock, [this] { return !m_paused.load() || m_stop.load(); });
    return !m_stop.load();
}

} // namespace tunebench
