#include "core/io/AtomicFile.h"

#include "core/Error.h"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>

#include <fcntl.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace tunebench {

namespace {

std::mutex g_faultMutex;
AtomicWriteFault g_fault;

void maybeFail(const std::string& path, AtomicWriteStep step)
{
    AtomicWriteFault fault;
    {
        std::lock_guard<std::mutex> lock(g_faultMutex);
        fault = g_fault;
    }
    if (fault)
        fault(path, step);
}

std::string errnoText(int error)
{
    return std::strerror(error);
}

// Unique beside `path` within this machine: process id plus a per-process counter.
std::string temporaryNameFor(const std::string& path)
{
    static std::atomic<unsigned> counter{0};
    return path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

void syncFile(const std::string& path)
{
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        throw Error(errnoText(errno));
    const int result = ::fsync(fd);
    const int error = errno;
    ::close(fd);
    if (result != 0)
        throw Error(errnoText(error));
}

void syncFolderOf(const std::string& path)
{
    fs::path folder = fs::path(path).parent_path();
    if (folder.empty())
        folder = ".";
    const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        throw Error(errnoText(errno));
    const int result = ::fsync(fd);
    const int error = errno;
    ::close(fd);
    if (result != 0 && error != EINVAL)  // some file systems cannot sync a folder; the rename stands
        throw Error(errnoText(error));
}

} // namespace

const char* atomicWriteStepName(AtomicWriteStep step)
{
    switch (step) {
    case AtomicWriteStep::Write: return "write";
    case AtomicWriteStep::Sync: return "sync";
    case AtomicWriteStep::Rename: return "rename";
    case AtomicWriteStep::SyncFolder: return "sync-folder";
    }
    return "?";
}

void setAtomicWriteFaultForTesting(AtomicWriteFault fault)
{
    std::lock_guard<std::mutex> lock(g_faultMutex);
    g_fault = std::move(fault);
}

void replaceFileAtomically(const std::string& path, const std::function<void(const std::string& temporaryPath)>& produce)
{
    const std::string temporary = temporaryNameFor(path);
    AtomicWriteStep step = AtomicWriteStep::Write;
    try {
        maybeFail(path, step);
        produce(temporary);
        step = AtomicWriteStep::Sync;
        maybeFail(path, step);
        syncFile(temporary);
        step = AtomicWriteStep::Rename;
        maybeFail(path, step);
        if (::rename(temporary.c_str(), path.c_str()) != 0)
            throw Error(errnoText(errno));
    } catch (const std::exception& e) {
        std::error_code ignored;
        fs::remove(temporary, ignored);
        throw Error(path + ": cannot write (" + atomicWriteStepName(step) + ": " + e.what() + ")");
    }
    // The new content is in place; a failure from here on can only lose the rename in a power cut.
    try {
        maybeFail(path, AtomicWriteStep::SyncFolder);
        syncFolderOf(path);
    } catch (const std::exception& e) {
        throw Error(path + ": written, but its folder could not be synced (" + e.what() + ")");
    }
}

void writeFileAtomically(const std::string& path, std::string_view content)
{
    replaceFileAtomically(path, [&](const std::string& temporary) {
        const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0)
            throw Error(errnoText(errno));
        const char* data = content.data();
        std::size_t left = content.size();
        while (left > 0) {
            const ssize_t written = ::write(fd, data, left);
            if (written < 0 && errno == EINTR)
                continue;
            if (written < 0) {
                const int error = errno;
                ::close(fd);
                throw Error(errnoText(error));
            }
            data += written;
            left -= static_cast<std::size_t>(written);
        }
        if (::close(fd) != 0)
            throw Error(errnoText(errno));
    });
}

} // namespace tunebench
