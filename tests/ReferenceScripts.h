// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// What the tests against the field's own libraries share: running a script of tests/reference with the Python
// CMake found for them, and comparing float tensors.

#include <QByteArray>
#include <QProcess>
#include <QString>
#include <QStringList>

#include <torch/torch.h>

#include <string>

namespace tunebench::test {

// Runs `script --out OUT` with `python` (up to 10 minutes); returns "" when it exited 0, else why not. Its
// standard output lands in `printed` (its errors pass through to the test's).
inline std::string runReferenceScript(const QString& python, const QString& script, const QString& out, QByteArray& printed)
{
    QProcess generator;
    generator.setProcessChannelMode(QProcess::ForwardedErrorChannel);
    generator.start(python, {script, "--out", out});
    if (!generator.waitForStarted())
        return "cannot start " + python.toStdString() + ": " + generator.errorString().toStdString();
    if (!generator.waitForFinished(600'000))
        return script.toStdString() + " did not finish in 10 minutes";
    printed = generator.readAllStandardOutput();
    if (generator.exitStatus() != QProcess::NormalExit || generator.exitCode() != 0)
        return script.toStdString() + " failed: " + printed.toStdString();
    return {};
}

inline double maxDifference(const torch::Tensor& a, const torch::Tensor& b)
{
    return (a.to(torch::kDouble) - b.to(torch::kDouble)).abs().max().item<double>();
}

} // namespace tunebench::test
