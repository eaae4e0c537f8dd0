#pragma once
// An advisory lock on a folder (flock on FOLDER/.lock), held for as long as a process writes the folder:
// a run folder by the process that trains it, a sweep folder while its plan is written. The lock file
// holds the holder's pid, so a refused writer can say who holds it. The kernel drops the lock when the
// holder exits, however it exits: a killed run leaves no stale lock.
//
// A sweep worker claims a run before starting its `train` process and hands the locked descriptor to it
// (the child's descriptor TUNEBENCH_RUN_LOCK_FD names); the child adopts it instead of locking again, so
// the run is never free between the claim and the child's start.

#include <optional>
#include <string>

namespace tunebench {

class FolderLock
{
public:
    // The environment variable that names a locked descriptor a child inherits.
    static constexpr const char* kInheritedFdVariable = "TUNEBENCH_RUN_LOCK_FD";

    // Takes the lock; Error "FOLDER: in use by process PID ..." when another process holds it.
    static FolderLock acquire(const std::string& folder);
    // Takes the lock, or nullopt when another process holds it.
    static std::optional<FolderLock> tryAcquire(const std::string& folder);
    // Waits until the lock is free, then takes it.
    static FolderLock wait(const std::string& folder);
    // The pid written by the process that holds the lock (0 when unknown).
    static long holderPid(const std::string& folder);

    FolderLock(FolderLock&& other) noexcept;
    FolderLock& operator=(FolderLock&& other) noexcept;
    FolderLock(const FolderLock&) = delete;
    FolderLock& operator=(const FolderLock&) = delete;
    ~FolderLock();

    int descriptor() const { return m_fd; }
    const std::string& folder() const { return m_folder; }

private:
    FolderLock(std::string folder, int fd) : m_folder(std::move(folder)), m_fd(fd) {}
    static std::optional<FolderLock> take(const std::string& folder, bool block);
    std::string m_folder;
    int m_fd = -1;
};

} // namespace tunebench
