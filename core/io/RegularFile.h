#pragma once
// Refusing what is not a regular file before opening it: opening a FIFO for reading blocks until a writer
// comes, and a device (/dev/zero) never ends, so a reader that opened one first would hang.

#include "core/Error.h"

#include <string>

#include <sys/stat.h>

namespace tunebench {

// What kind of non-regular file `mode` names, for the message.
inline const char* fileKindName(mode_t mode)
{
    if (S_ISDIR(mode))
        return "a folder";
    if (S_ISFIFO(mode))
        return "a FIFO";
    if (S_ISCHR(mode) || S_ISBLK(mode))
        return "a device";
    if (S_ISSOCK(mode))
        return "a socket";
    return "something other than a file";
}

// Error naming `path` when it exists but is no regular file (a symbolic link is followed). `what` says
// what the file was meant to be ("model"). A missing file passes: the caller's own open says so.
inline void requireRegularFile(const std::string& path, const std::string& what = {})
{
    struct stat status {};
    if (::stat(path.c_str(), &status) != 0 || S_ISREG(status.st_mode))
        return;
    throw Error(path + ": cannot read" + (what.empty() ? "" : " the " + what) + ": it is " + fileKindName(status.st_mode) +
                ", not a regular file");
}

} // namespace tunebench
