// SPDX-License-Identifier: GPL-3.0-or-later
// The memory plan (core/tuning/MemoryPlan.h, `tunebench-cli plan`): its prediction against a real step of
// the real size, measured here on the CPU, and what the command prints.
#include "tests/CliRunner.h"
#include "tests/ClipVocabulary.h"

#include <nlohmann/json.hpp>

#include <QtTest>

#include <cmath>

using namespace tunebench::test;

namespace {

struct Row
{
    std::string method;
    int batch;
};

nlohmann::json planJson(const QStringList& arguments, int timeoutMs = 600000)
{
    const CliResult result = runCli(arguments, QProcessEnvironment::systemEnvironment(), timeoutMs);
    if (result.exitCode != 0)
        throw std::runtime_error("plan failed: " + result.err);
    return nlohmann::json::parse(result.out);
}

} // namespace

class MemoryPlanTest : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    // Three methods at two batch sizes on ViT-B/32's geometry: the planned activations and text side within
    // 25% of how far a real step of that size raised the resident memory (VmHWM over the RSS before it), and
    // of the peak of the tensors it allocated. (LoRA, in the list without the vocabulary, keeps a width x
    // width product per adapted layer that the plan, linear in the width, underestimates: -15% at batch 4.)
    // One row per step, so that each has the test watchdog's whole time on a busy machine.
    void planMatchesTheMeasuredStep_data()
    {
        QTest::addColumn<QString>("method");
        QTest::addColumn<int>("batch");
        // CoOp and MaPLe need OpenAI's vocabulary for their prompts; without it, two image-side methods.
        const QStringList methods = clipVocabularyPath().empty() ? QStringList{"vpt-deep", "adapter", "lora"} : QStringList{"coop", "maple", "vpt-deep"};
        for (const QString& method : methods)
            for (int batch : {4, 16})
                QTest::newRow(qPrintable(method + " " + QString::number(batch))) << method << batch;
    }

    void planMatchesTheMeasuredStep()
    {
        QFETCH(QString, method);
        QFETCH(int, batch);
        const std::string vocabulary = clipVocabularyPath();
        QStringList arguments = {"plan",   "--model",   "clip-vit-b32", "--method", method,    "--batch-size", QString::number(batch),
                                 "--classes", "10",     "--memory",     "24G",      "--measure", "--threads",  "2"};
        if (!vocabulary.empty())
            arguments << "--vocab" << QString::fromStdString(vocabulary);
        const nlohmann::json plan = planJson(arguments);
        const auto& measured = plan.at("measured");
        QVERIFY(measured.at("peak_reset").get<bool>());
        const double predicted = plan.at("activations_bytes").get<double>() + plan.at("text_side_bytes").get<double>();
        QCOMPARE(measured.at("predicted_step_bytes").get<double>(), predicted);
        const double resident = measured.at("resident_growth_bytes").get<double>();
        const double allocated = measured.at("allocated_peak_bytes").get<double>();
        qInfo("%s batch %d: planned %.1f MiB, allocated %.1f MiB, resident growth %.1f MiB", qPrintable(method), batch, predicted / 1048576,
              allocated / 1048576, resident / 1048576);
        QVERIFY2(resident > 8 << 20, "the step should take more than 8 MiB");
        QVERIFY(std::abs(predicted - resident) <= 0.25 * resident);
        QVERIFY(std::abs(predicted - allocated) <= 0.25 * allocated);
    }

    // The split adds up, the largest batch is the largest that fits, and advice comes when it does not fit.
    void planAddsUpAndAdvises()
    {
        const nlohmann::json plan = planJson({"plan", "--model", "vit-b16", "--method", "vpt-deep", "--batch-size", "64", "--classes",
                                              "10", "--memory", "2G", "--threads", "2"});
        const auto bytes = [&](const char* key) { return plan.at(key).get<std::int64_t>(); };
        QCOMPARE(bytes("total_bytes"), bytes("weights_bytes") + bytes("gradients_bytes") + bytes("optimiser_state_bytes") +
                                           bytes("activations_bytes") + bytes("text_side_bytes"));
        // ViT-B/16 without a head: 85.8M parameters, fp32.
        QVERIFY(std::abs(bytes("weights_bytes") - 85'798'656LL * 4) < 4 << 20);
        const auto& device = plan.at("devices").at(0);
        QCOMPARE(device.at("fits").get<bool>(), false);
        const int largest = device.at("largest_batch").get<int>();
        QVERIFY(largest >= 1 && largest < 64);
        const double fixed = static_cast<double>(bytes("total_bytes")) - 64.0 * bytes("per_image_bytes");
        const double memory = 2.0 * 1024 * 1024 * 1024;
        QVERIFY(fixed + largest * static_cast<double>(bytes("per_image_bytes")) <= memory + 1);
        QVERIFY(fixed + (largest + 1) * static_cast<double>(bytes("per_image_bytes")) > memory - 1);
        const auto advice = device.at("advice");
        QVERIFY(!advice.empty());
        QVERIFY(advice.at(0).get<std::string>().find("--accumulate") != std::string::npos);
        bool checkpointing = false;
        for (const auto& line : advice)
            checkpointing = checkpointing || line.get<std::string>().find("--checkpointing both") != std::string::npos;
        QVERIFY(checkpointing);
    }

    void badOptionsAreOneLineErrors()
    {
        for (const QStringList& arguments : {QStringList{"plan", "--model", "vit-b16", "--method", "vpt-deep", "--memory", "lots"},
                                             QStringList{"plan", "--model", "vit-b16", "--method", "vpt-deep", "--precision", "fp8"},
                                             QStringList{"plan", "--model", "vit-b16", "--method", "vpt-deep", "--checkpointing", "all"},
                                             QStringList{"plan", "--model", "no-such-geometry.pt", "--method", "vpt-deep"},
                                             QStringList{"plan", "--model", "vit-b16", "--method", "coop"}}) {
            const CliResult result = runCli(arguments);
            QVERIFY2(result.exitCode != 0, qPrintable(arguments.join(' ')));
            QVERIFY2(!result.err.empty() && result.err.find('\n') == result.err.size() - 1, result.err.c_str());
        }
    }
};

QTEST_GUILESS_MAIN(MemoryPlanTest)
#include "tst_memory_plan.moc"
