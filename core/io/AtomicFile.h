#pragma once
// The one way this program writes a file: whole or not at all, also across a crash or a power cut.

#include <functional>
#include <string>
#include <string_view>

namespace tunebench {

// The steps of an atomic replacement, in order (named so that tests can make each one fail).
enum class AtomicWriteStep { Write, Sync, Rename, SyncFolder };
const char* atomicWriteStepName(AtomicWriteStep step);

// Replaces `path` so that readers, and a crash at any moment, see either its old content or the whole
// new one: `produce` writes a temporary file beside it (its name is passed in; `produce` may also let a
// library write it), which is then fsynced, renamed over `path`, and the folder fsynced so that the
// rename itself is durable. On any failure the temporary file is removed, `path` is untouched, and an
// Error names `path` and the cause.
void replaceFileAtomically(const std::string& path, const std::function<void(const std::string& temporaryPath)>& produce);

// The same for content in memory.
void writeFileAtomically(const std::string& path, std::string_view content);

// For tests: called before each step of every atomic write; an exception thrown from it makes that write
// fail at that step, as a full disk or a crash would. An empty function (the default) injects nothing.
using AtomicWriteFault = std::function<void(const std::string& path, AtomicWriteStep step)>;
void setAtomicWriteFaultForTesting(AtomicWriteFault fault);

} // namespace tunebench
