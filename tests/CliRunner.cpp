#include "tests/CliRunner.h"

#include <QProcess>

namespace tunebench::test {

CliResult runCli(const QStringList& arguments, const QProcessEnvironment& environment, int timeoutMs)
{
    QProcess process;
    process.setProcessEnvironment(environment);
    process.start(QStringLiteral(TUNEBENCH_CLI_PATH), arguments);
    process.waitForFinished(timeoutMs);
    CliResult result;
    result.exitCode = process.exitStatus() == QProcess::NormalExit && process.state() == QProcess::NotRunning ? process.exitCode() : -1;
    result.out = process.readAllStandardOutput().toStdString();
    result.err = process.readAllStandardError().toStdString();
    return result;
}

} // namespace tunebench::test
