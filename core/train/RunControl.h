#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>

namespace tunebench {

// Cooperative stop and pause for a run on a worker thread. The training loop blocks that thread, so
// the GUI flips these flags instead of queuing slots; the loop checks them once per batch.
class RunControl
{
public:
    // Ends training after the current step; the run is still evaluated and saved.
    void requestStop();
    // Ends the run as soon as possible, evaluation included (the window is closing, or Stop was pressed
    // again): the experiment then fails with "stopped by request".
    void requestAbort();
    bool abortRequested() const { return m_abort.load(); }
    // Async-signal-safe (a signal handler may call it): sets the flag only, so a paused run stays paused.
    void requestStopFromSignal() { m_stop.store(true); }
    void setPaused(bool paused);
    bool stopRequested() const { return m_stop.load(); }
    bool paused() const { return m_paused.load(); }
    // Blocks while paused; returns false when a stop was requested.
    bool waitWhilePaused();

private:
    std::atomic<bool> m_stop{false};
    std::atomic<bool> m_abort{false};
    std::atomic<bool> m_paused{false};
    std::mutex m_mutex;
    std::condition_variable m_resumed;
};

} // namespace tunebench
