// SPDX-License-Identifier: GPL-3.0-or-later
// The field's own implementations as references (issue 27): open_clip, transformers and timm build random-weight
// models with no download and save them in their own formats (tests/reference/field_models.py, run by the Python
// that CMake found with those packages). Tunebench's loader must give the libraries' image features, text features
// and logits, and its tokenizer open_clip's ids, from the vocabulary open_clip ships.
#include "core/io/CheckpointLoader.h"
#include "core/io/ClipTokenizer.h"
#include "core/io/StateDict.h"
#include "core/model/ClipModel.h"
#include "tests/ReferenceScripts.h"

#include <QtTest>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <optional>

namespace fs = std::filesystem;
using namespace tunebench;
using nlohmann::json;

namespace {

// Absolute difference allowed between the library's and Tunebench's float32 results: both run the same
// arithmetic in a different order (other kernels, LibTorch version and attention implementation).
constexpr double kTolerance = 1e-5;

std::string idsText(const std::vector<int64_t>& ids)
{
    std::string text;
    for (int64_t id : ids) {
        if (id == 0)
            break;  // padding
        text += (text.empty() ? "" : " ") + std::to_string(id);
    }
    return text;
}

} // namespace

class TestFieldReferences : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        torch::set_num_threads(2);
        QVERIFY(m_dir.isValid());
        m_root = m_dir.path().toStdString();
        QByteArray printed;
        const std::string failure = test::runReferenceScript(TUNEBENCH_REFERENCE_PYTHON, TUNEBENCH_FIELD_MODELS_SCRIPT, m_dir.path(), printed);
        QVERIFY2(failure.empty(), failure.c_str());
        qInfo("%s", printed.trimmed().constData());  // package versions and the generator's timings

        std::ifstream in(m_root + "/references.json");
        QVERIFY(in);
        m_report = json::parse(in);
        m_references = readSafetensors(m_root + "/references.safetensors");
        m_images = m_references.at("images");
        m_tokens = m_references.at("tokens");
    }

    void featuresAndLogitsMatchTheLibrary_data()
    {
        QTest::addColumn<QString>("path");
        QTest::addColumn<QString>("reference");
        QTest::addColumn<QString>("format");
        QTest::addColumn<bool>("gelu");  // the activation a user has to name for a checkpoint that cannot tell
        // The activation comes from open_clip_config.json beside the weights (sameModelInEveryContainer
        // covers the folder itself and the torch.save copy).
        QTest::newRow("open_clip ViT-B-16 open_clip_model.safetensors")
            << "open_clip-ViT-B-16/open_clip_model.safetensors" << "open_clip-ViT-B-16" << "openai-safetensors" << false;
        // An open_clip training checkpoint carries no model configuration: GELU has to be named.
        QTest::newRow("open_clip RN50 training checkpoint")
            << "open_clip-RN50/epoch_1.pt" << "open_clip-RN50" << "openai-torch-save" << true;
        QTest::newRow("transformers CLIPModel save_pretrained folder") << "hf-clip" << "hf-clip" << "huggingface" << false;
    }

    void featuresAndLogitsMatchTheLibrary()
    {
        QFETCH(QString, path);
        QFETCH(QString, reference);
        QFETCH(QString, format);
        QFETCH(bool, gelu);
        LoadOptions options;
        options.computeHash = false;
        if (gelu)
            options.activation = Activation::Gelu;
        // What the CLI's encode/train and the experiment layer do: read, then build strictly.
        const Checkpoint checkpoint = readCheckpoint(m_root + "/" + path.toStdString(), options);
        QCOMPARE(QString::fromStdString(checkpoint.spec.format), format);
        ClipModel model = buildModel(checkpoint);

        torch::NoGradGuard noGrad;
        const auto imageFeatures = model->encodeImage(m_images);
        const auto textFeatures = model->encodeText(m_tokens);
        const auto logits = model->logits(imageFeatures, textFeatures);
        const std::string prefix = reference.toStdString() + ".";
        const std::pair<const char*, torch::Tensor> results[] = {
            {"image_features", imageFeatures}, {"text_features", textFeatures}, {"logits", logits}};
        for (const auto& [name, actual] : results) {
            const auto& expected = m_references.at(prefix + name);
            QCOMPARE(actual.sizes().vec(), expected.sizes().vec());
            const double difference = test::maxDifference(actual, expected);
            qInfo("%s %s: max abs difference %.3g (largest value %.3g)", qPrintable(path), name, difference,
                  expected.abs().max().item<double>());
            QVERIFY2(difference < kTolerance, qPrintable(QString("%1 %2 differ by %3").arg(path, name).arg(difference)));
        }
    }

    // ViT-L/14 at 336 pixels (issue 30): the geometry is recognised from the tensors' shapes, and the features
    // and logits on 336-pixel images match open_clip's.
    void vitL14At336MatchesTheLibrary()
    {
        const std::string path = m_root + "/open_clip-ViT-L-14-336/open_clip_model.safetensors";
        LoadOptions options;
        options.computeHash = false;
        const Checkpoint checkpoint = readCheckpoint(path, options);
        const VisionSpec& vision = checkpoint.spec.vision;
        QCOMPARE(vision.imageSize, 336);
        QCOMPARE(vision.patchSize, 14);
        QCOMPARE(vision.width, 1024);
        QCOMPARE(vision.layers, 24);
        QCOMPARE(vision.gridSize() * vision.gridSize() + 1, 577);
        QCOMPARE(checkpoint.spec.embedDim(), 768);
        ClipModel model = buildModel(checkpoint);

        torch::NoGradGuard noGrad;
        const auto images = m_references.at("images336");
        const auto imageFeatures = model->encodeImage(images);
        const auto textFeatures = model->encodeText(m_tokens);
        const auto logits = model->logits(imageFeatures, textFeatures);
        const std::pair<const char*, torch::Tensor> results[] = {
            {"image_features", imageFeatures}, {"text_features", textFeatures}, {"logits", logits}};
        for (const auto& [name, actual] : results) {
            const auto& expected = m_references.at(std::string("open_clip-ViT-L-14-336.") + name);
            QCOMPARE(actual.sizes().vec(), expected.sizes().vec());
            const double difference = test::maxDifference(actual, expected);
            qInfo("ViT-L/14@336 %s: max abs difference %.3g (largest value %.3g)", name, difference, expected.abs().max().item<double>());
            QVERIFY2(difference < kTolerance, qPrintable(QString("ViT-L/14@336 %1 differs by %2").arg(name).arg(difference)));
        }
    }

    void timmLogitsMatchTheLibrary()
    {
        const QString path = "timm-vit_base_patch16_224/model.safetensors";
        const Checkpoint checkpoint = readCheckpoint(m_root + "/" + path.toStdString(), LoadOptions{std::nullopt, false});
        QCOMPARE(QString::fromStdString(checkpoint.spec.format), QString("timm-safetensors"));
        QCOMPARE(checkpoint.spec.headClasses, 1000);
        ClipModel model = buildModel(checkpoint);

        torch::NoGradGuard noGrad;
        const auto preLogits = model->encodeImage(m_images);
        const auto logits = model->head(preLogits);
        const std::pair<const char*, torch::Tensor> results[] = {{"pre_logits", preLogits}, {"logits", logits}};
        for (const auto& [name, actual] : results) {
            const auto& expected = m_references.at(std::string("timm-vit_base_patch16_224.") + name);
            QCOMPARE(actual.sizes().vec(), expected.sizes().vec());
            const double difference = test::maxDifference(actual, expected);
            qInfo("%s %s: max abs difference %.3g (largest value %.3g)", qPrintable(path), name, difference,
                  expected.abs().max().item<double>());
            QVERIFY2(difference < kTolerance, qPrintable(QString("%1 %2 differ by %3").arg(path, name).arg(difference)));
        }
    }

    // The library's other containers of a model compared above (a forward pass of ViT-B/16 costs seconds on two
    // cores): the same spec and bit-identical weights give the same numbers.
    void sameModelInEveryContainer_data()
    {
        QTest::addColumn<QString>("path");
        QTest::addColumn<QString>("compared");
        QTest::addColumn<QString>("format");
        const QString vit = "open_clip-ViT-B-16";
        QTest::newRow("open_clip ViT-B-16 open_clip_pytorch_model.bin")
            << vit + "/open_clip_pytorch_model.bin" << vit + "/open_clip_model.safetensors" << "openai-torch-save";
        QTest::newRow("open_clip ViT-B-16 hub folder") << vit << vit + "/open_clip_model.safetensors" << "openai-safetensors";
        QTest::newRow("timm hub folder") << "timm-vit_base_patch16_224"
                                         << "timm-vit_base_patch16_224/model.safetensors" << "timm-safetensors";
    }

    void sameModelInEveryContainer()
    {
        QFETCH(QString, path);
        QFETCH(QString, compared);
        QFETCH(QString, format);
        const LoadOptions options{std::nullopt, false};
        const Checkpoint expected = readCheckpoint(m_root + "/" + compared.toStdString(), options);
        const Checkpoint actual = readCheckpoint(m_root + "/" + path.toStdString(), options);
        QCOMPARE(QString::fromStdString(actual.spec.format), format);
        auto geometry = [](const ModelSpec& spec) {
            json summary = spec.summary();
            for (const char* origin : {"name", "format", "path", "sha256"})
                summary.erase(origin);
            return summary.dump();
        };
        QCOMPARE(QString::fromStdString(geometry(actual.spec)), QString::fromStdString(geometry(expected.spec)));
        QCOMPARE(actual.weights.size(), expected.weights.size());
        for (const auto& [key, tensor] : expected.weights) {
            const auto found = actual.weights.find(key);
            QVERIFY2(found != actual.weights.end(), key.c_str());
            QVERIFY2(torch::equal(found->second, tensor), key.c_str());
        }
    }

    // open_clip's tokenizer and Tunebench's, both on the vocabulary open_clip ships.
    void tokenizerGivesOpenClipIds()
    {
        const ClipTokenizer tokenizer = ClipTokenizer::load(m_report["vocabulary"].get<std::string>());
        QStringList mismatches;
        for (const auto& testCase : m_report["tokenizer_cases"]) {
            const std::string text = testCase["text"].get<std::string>();
            const auto expected = testCase["ids"].get<std::vector<int64_t>>();
            const auto actual = tokenizer.tokenizeToContext(text);
            if (actual != expected)
                mismatches << QString("'%1':\n  open_clip %2\n  Tunebench %3")
                                  .arg(QString::fromStdString(text), QString::fromStdString(idsText(expected)),
                                       QString::fromStdString(idsText(actual)));
        }
        QVERIFY2(mismatches.isEmpty(), qPrintable(mismatches.join("\n")));
        QVERIFY(m_report["tokenizer_cases"].size() >= 20);
    }

private:
    QTemporaryDir m_dir;
    std::string m_root;
    json m_report;
    StateDict m_references;
    torch::Tensor m_images;
    torch::Tensor m_tokens;
};

QTEST_GUILESS_MAIN(TestFieldReferences)
#include "tst_field_references.moc"
