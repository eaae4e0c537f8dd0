#include "tests/CliRunner.h"

#include <QElapsedTimer>
#include <QProcess>

#include <algorithm>
#include <memory>
#include <signal.h>

namespace tunebench::test {

namespace {

CliResult resultOf(QProcess& process)
{
    CliResult result;
    result.exitCode = process.exitStatus() == QProcess::NormalExit && process.state() == QProcess::NotRunning ? process.exitCode() : -1;
    result.out = process.readAllStandardOutput().toStdString();
    result.err = process.readAllStandardError().toStdString();
    return result;
}

} // namespace

CliResult runCli(const QStringList& arguments, const QProcessEnvironment& environment, int timeoutMs)
{
    QProcess process;
    process.setProcessEnvironment(environment);
    process.start(QStringLiteral(TUNEBENCH_CLI_PATH), arguments);
    process.waitForFinished(timeoutMs);
    return resultOf(process);
}

CliResult runCliInterrupted(const QStringList& arguments, const std::function<bool()>& ready, bool& interrupted, int timeoutMs)
{
    QProcess process;
    process.start(QStringLiteral(TUNEBENCH_CLI_PATH), arguments);
    interrupted = false;
    QElapsedTimer clock;
    clock.start();
    while (!process.waitForFinished(10) && process.state() == QProcess::Running && clock.elapsed() < timeoutMs) {
        if (!interrupted && ready()) {
            ::kill(static_cast<pid_t>(process.processId()), SIGINT);
            interrupted = true;
        }
    }
    process.waitForFinished(std::max<qint64>(0, timeoutMs - clock.elapsed()));
    return resultOf(process);
}

std::vector<CliResult> runClisTogether(const std::vector<QStringList>& argumentLists, int timeoutMs)
{
    std::vector<std::unique_ptr<QProcess>> processes;
    for (const QStringList& arguments : argumentLists) {
        processes.push_back(std::make_unique<QProcess>());
        processes.back()->start(QStringLiteral(TUNEBENCH_CLI_PATH), arguments);
    }
    QElapsedTimer clock;
    clock.start();
    std::vector<CliResult> results;
    for (auto& process : processes) {
        process->waitForFinished(static_cast<int>(std::max<qint64>(0, timeoutMs - clock.elapsed())));
        results.push_back(resultOf(*process));
    }
    return results;
}

} // namespace tunebench::test
