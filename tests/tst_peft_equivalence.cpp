// SPDX-License-Identifier: GPL-3.0-or-later
// The classic LoRA and DoRA against the library people use (issue 31): PEFT wraps a random-weight timm ViT
// (tests/reference/peft_models.py, run by the Python CMake found with peft and timm); Tunebench attaches the
// same method to the same checkpoint, takes PEFT's initialised adapter and head weights, and must report as
// many trainable parameters and give the same logits before and after one identical SGD step.
#include "core/io/CheckpointLoader.h"
#include "core/io/StateDict.h"
#include "core/tuning/ParameterBudget.h"
#include "core/tuning/Strategy.h"
#include "core/tuning/StrategyInfo.h"
#include "core/tuning/classic/ClassicPetlStrategy.h"
#include "tests/ReferenceScripts.h"

#include <QTemporaryDir>
#include <QtTest>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <fstream>

using namespace tunebench;
using nlohmann::json;

namespace {

// float32 on both sides, the same arithmetic in another order (PEFT adds B A x to W x; we multiply by W + B A).
constexpr double kTolerance = 1e-5;

} // namespace

class TestPeftEquivalence : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        torch::set_num_threads(2);
        QVERIFY(m_dir.isValid());
        QByteArray printed;
        const std::string failure = test::runReferenceScript(TUNEBENCH_REFERENCE_PYTHON, TUNEBENCH_PEFT_MODELS_SCRIPT, m_dir.path(), printed);
        QVERIFY2(failure.empty(), failure.c_str());
        qInfo("%s", printed.trimmed().constData());
        const std::string root = m_dir.path().toStdString();
        std::ifstream in(root + "/peft.json");
        QVERIFY(in);
        m_report = json::parse(in);
        m_references = readSafetensors(root + "/peft.safetensors");
        m_checkpoint = root + "/timm-vit/model.safetensors";
    }

    void sameCountsAndLogitsAsPeft_data()
    {
        QTest::addColumn<QString>("method");
        QTest::newRow("lora") << "lora";
        QTest::newRow("dora") << "dora";
    }

    void sameCountsAndLogitsAsPeft()
    {
        QFETCH(QString, method);
        const std::string name = method.toStdString();
        ClipModel model = buildModel(readCheckpoint(m_checkpoint, LoadOptions{std::nullopt, false}));
        const StrategyInfo& info = findStrategy(name);
        auto strategy = info.create();
        TaskSetup setup;
        setup.classNames = {"a", "b", "c"};
        // PEFT's form: one update of the packed q/k/v Linear, as target_modules=["qkv"] gives on timm.
        strategy->attach(model, setup, resolveParams(info.schema, {{"targets", "qkv"}, {"rank", 8}, {"alpha", 8.0}, {"dropout", 0.0}}));
        auto& classic = dynamic_cast<ClassicPetlStrategy&>(*strategy);

        StateDict state;
        const std::string prefix = name + "/";
        for (const auto& [key, tensor] : m_references)
            if (key.rfind(prefix, 0) == 0 && key.find("logits") == std::string::npos)
                state[key.substr(prefix.size())] = tensor;
        classic.loadTrainableState(state);  // every tensor of ours must be there, nothing else
        QCOMPARE(classic.trainableParameterCount(), m_report.at(name).at("trainable").get<std::int64_t>());

        const auto images = m_references.at("images");
        const auto labels = m_references.at("labels");
        const auto before = strategy->logits(images);
        const double differenceBefore = test::maxDifference(before, m_references.at(prefix + "logits_before"));
        qInfo("%s logits before the step: max abs difference %.3g", name.c_str(), differenceBefore);
        QVERIFY2(differenceBefore < kTolerance, qPrintable(QString::number(differenceBefore)));

        // One plain SGD step, as the script takes it.
        classic.setTraining(true);
        auto out = classic.trainStep({images, labels, {}});
        out.loss.backward();
        {
            torch::NoGradGuard noGrad;
            const double lr = m_report.at("lr").get<double>();
            for (auto& p : classic.trainableParameters())
                p.sub_(lr * p.grad());
        }
        classic.setTraining(false);
        const auto after = strategy->logits(images);
        const auto& expected = m_references.at(prefix + "logits_after");
        const double differenceAfter = test::maxDifference(after, expected);
        qInfo("%s logits after one SGD step: max abs difference %.3g (moved by %.3g)", name.c_str(), differenceAfter,
              test::maxDifference(expected, m_references.at(prefix + "logits_before")));
        QVERIFY2(differenceAfter < kTolerance, qPrintable(QString::number(differenceAfter)));
        // The step moved the logits far beyond the tolerance: the comparison above could fail.
        QVERIFY(test::maxDifference(expected, m_references.at(prefix + "logits_before")) > 1000 * kTolerance);
    }

    // What `params --model vit-b16 --strategy lora|dora --opt targets=qkv --classes 100` counts is what PEFT
    // counts on timm's ViT-B/16 with a 100-class head.
    void vitB16CountsEqualPeft()
    {
        ClipModel model(modelGeometry("vit-b16"));
        for (const std::string name : {"lora", "dora"}) {
            const StrategyInfo& info = findStrategy(name);
            auto strategy = info.create();
            TaskSetup setup;
            for (int c = 0; c < 100; ++c)
                setup.classNames.push_back("class " + std::to_string(c));
            strategy->attach(model, setup, resolveParams(info.schema, {{"targets", "qkv"}}));
            QCOMPARE(strategy->trainableParameterCount(), m_report.at(name).at("vit_b16_trainable").get<std::int64_t>());
        }
    }

private:
    QTemporaryDir m_dir;
    json m_report;
    StateDict m_references;
    std::string m_checkpoint;
};

QTEST_GUILESS_MAIN(TestPeftEquivalence)
#include "tst_peft_equivalence.moc"
