#include "core/io/FolderLock.h"

#include "core/Error.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;

namespace tunebench {

namespace {

std::string lockPath(const std::string& folder)
{
    return (fs::path(folder) / ".lock").string();
}

// A descriptor inherited from a sweep worker that already holds this folder's lock, or -1.
int inheritedDescriptor(const std::string& path)
{
    const char* text = std::getenv(FolderLock::kInheritedFdVariable);
    if (!text || !*text)
        return -1;
    char* end = nullptr;
    const long fd = std::strtol(text, &end, 10);
    struct stat inherited = {}, wanted = {};
    if (*end || fd < 0 || ::fstat(static_cast<int>(fd), &inherited) != 0 || ::stat(path.c_str(), &wanted) != 0 ||
        inherited.st_dev != wanted.st_dev || inherited.st_ino != wanted.st_ino)
        return -1;
    ::unsetenv(FolderLock::kInheritedFdVariable);  // one folder, one adoption
    ::fcntl(static_cast<int>(fd), F_SETFD, FD_CLOEXEC);
    return static_cast<int>(fd);
}

} // namespace

std::optional<FolderLock> FolderLock::take(const std::string& folder, bool block)
{
    const std::string path = lockPath(folder);
    int fd = inheritedDescriptor(path);
    if (fd < 0)
        fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        throw Error(folder + ": cannot lock the folder (" + path + ": " + std::strerror(errno) + ")");
    int result;
    do
        result = ::flock(fd, LOCK_EX | (block ? 0 : LOCK_NB));
    while (result != 0 && errno == EINTR);
    if (result != 0) {
        const int error = errno;
        ::close(fd);
        if (error == EWOULDBLOCK)
            return std::nullopt;
        // ENOLCK: a file system without locks (NFSv3 without lockd, some FUSE mounts).
        throw Error(folder + ": cannot lock the folder (" + std::strerror(error) + "; see docs/sweeps.md on shared file systems)");
    }
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
        // The lock holds without the pid; a refused writer then names no pid.
    }
    return FolderLock(folder, fd);
}

FolderLock FolderLock::acquire(const std::string& folder)
{
    if (auto lock = take(folder, false))
        return std::move(*lock);
    const long pid = holderPid(folder);
    throw Error(folder + ": in use by " + (pid > 0 ? "process " + std::to_string(pid) : std::string("another process")) +
                " (it holds " + lockPath(folder) + "); wait for it to end, or stop it");
}

std::optional<FolderLock> FolderLock::tryAcquire(const std::string& folder)
{
    return take(folder, false);
}

FolderLock FolderLock::wait(const std::string& folder)
{
    return std::move(*take(folder, true));
}

long FolderLock::holderPid(const std::string& folder)
{
    std::error_code error;
    if (!std::filesystem::is_regular_file(lockPath(folder), error))
        return 0;  // reading a FIFO put there would block; no holder can be named then
    std::ifstream in(lockPath(folder));
    long pid = 0;
    return in >> pid ? pid : 0;
}

FolderLock::FolderLock(FolderLock&& other) noexcept : m_folder(std::move(other.m_folder)), m_fd(other.m_fd)
{
    other.m_fd = -1;
}

FolderLock& FolderLock::operator=(FolderLock&& other) noexcept
{
    if (this != &other) {
        if (m_fd >= 0)
            ::close(m_fd);
        m_folder = std::move(other.m_folder);
        m_fd = other.m_fd;
        other.m_fd = -1;
    }
    return *this;
}

FolderLock::~FolderLock()
{
    if (m_fd >= 0)
        ::close(m_fd);  // closing the last descriptor releases the lock
}

} // namespace tunebench
