#pragma once

#include <QProcessEnvironment>
#include <QStringList>

#include <functional>
#include <string>
#include <vector>

namespace tunebench::test {

// What one tunebench-cli invocation printed and returned.
struct CliResult
{
    int exitCode = -1;  // -1 when the process crashed or did not finish in time
    std::string out;
    std::string err;
};

// Runs the tunebench-cli of this build with `arguments` and waits for it (up to `timeoutMs`).
CliResult runCli(const QStringList& arguments, const QProcessEnvironment& environment = QProcessEnvironment::systemEnvironment(),
                 int timeoutMs = 300000);

// Runs tunebench-cli, polls `ready` every 10 ms and sends SIGINT (Ctrl-C) once it returns true, then
// waits for the exit. `interrupted` says whether the signal went out before the process ended by itself.
CliResult runCliInterrupted(const QStringList& arguments, const std::function<bool()>& ready, bool& interrupted,
                            int timeoutMs = 300000);

// Starts one tunebench-cli per argument list at once and waits for all of them.
std::vector<CliResult> runClisTogether(const std::vector<QStringList>& argumentLists, int timeoutMs = 300000);

} // namespace tunebench::test
