// SPDX-License-Identifier: GPL-3.0-or-later
// ONNX export (issue 29): every method's graph description against its own scores, then the written graph
// run by two runtimes that share no code with the engine -- OpenCV's DNN module here, ONNX Runtime through
// the reference Python when one is configured -- against the engine's logits on the same images; the
// metadata; the refusals.
#include "core/Error.h"
#include "core/export/OnnxExport.h"
#include "core/io/CheckpointLoader.h"
#include "core/io/ClipTokenizer.h"
#include "core/io/CheckpointWriter.h"
#include "core/train/BatchSource.h"
#include "core/tuning/ConditionalText.h"
#include "core/tuning/Strategy.h"
#include "tests/CliRunner.h"
#include "tests/ClipVocabulary.h"
#include "tests/ErrorOf.h"
#include "tests/ModelFixtures.h"

#include <QtTest>

#include <nlohmann/json.hpp>
#include <onnx/onnx_pb.h>
#include <opencv2/dnn.hpp>
#include <opencv2/imgcodecs.hpp>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace fs = std::filesystem;
using namespace tunebench;
using nlohmann::json;
using test::errorOf;

namespace {

// The timm ViT also at 48 and 64 pixels: Side-tune's side network sees 6 x 6 and 8 x 8 there (32 pixels: 4 x 4),
// so that its pool to 4 x 4 is an uneven AdaptiveAvgPool2d and an AveragePool of 2.
enum class TinyModel { ClipVit, ClipResNet, Timm, Timm48, Timm64 };

ClipModel tinyModel(TinyModel tower)
{
    ModelSpec spec = tower == TinyModel::ClipVit ? test::tinyClipSpec() : tower == TinyModel::ClipResNet ? test::tinyResNetClipSpec() : test::tinyTimmSpec();
    if (tower == TinyModel::Timm48 || tower == TinyModel::Timm64)
        spec.vision.imageSize = tower == TinyModel::Timm48 ? 48 : 64;
    Checkpoint checkpoint{spec, test::randomWeights(spec, 11)};
    checkpoint.spec.name = "tiny";
    checkpoint.spec.sha256 = "0123abcd";
    return buildModel(checkpoint);
}

std::shared_ptr<const ClipTokenizer> vocabulary()
{
    static auto tokenizer = std::make_shared<const ClipTokenizer>(ClipTokenizer::load(test::demoVocabularyPath()));
    return tokenizer;
}

at::Tensor randomImages(const ClipModel& model, int count, int seed)
{
    torch::manual_seed(seed);
    const int size = model->spec().vision.imageSize;
    return torch::randn({count, 3, size, size});
}

// A strategy as if trained: attached, every trainable tensor moved off its start (zero-initialised
// adapters and LoRA's B included), and the training-free ones prepared on random labelled images.
std::unique_ptr<Strategy> trainedLike(const std::string& method, ClipModel model, const json& options = json::object())
{
    const StrategyInfo& info = findStrategy(method);
    auto strategy = info.create();
    TaskSetup setup;
    setup.classNames = {"cat", "dog", "bird"};
    setup.datasetName = "toy";
    setup.shots = 2;
    setup.domainNames = {"photo", "sketch"};
    if (model->hasText())
        setup.tokenizer = vocabulary();
    strategy->attach(model, setup, resolveParams(info.schema, options));
    torch::manual_seed(4);
    {
        torch::NoGradGuard noGrad;
        for (auto& p : strategy->trainableParameters())
            p.add_(0.05 * torch::randn_like(p));
    }
    if (!strategy->needsTraining() || method == "tip-adapter-f") {
        TensorBatchSource train(randomImages(model, 6, 8), torch::tensor({0, 1, 2, 0, 1, 2}), 3, false);
        strategy->prepare(train);
    }
    return strategy;
}

TinyModel towerFor(const StrategyInfo& info)
{
    return info.capabilities.needsTextTower ? TinyModel::ClipVit : TinyModel::Timm;
}

double maxDifference(const at::Tensor& a, const at::Tensor& b)
{
    return (a - b).abs().max().item<double>();
}

// The graph's logits for `images` through OpenCV's DNN module.
at::Tensor openCvLogits(const std::string& path, const at::Tensor& images)
{
    cv::dnn::Net net = cv::dnn::readNetFromONNX(path);
    const auto input = images.contiguous();
    const int dims[] = {int(input.size(0)), int(input.size(1)), int(input.size(2)), int(input.size(3))};
    cv::Mat blob(4, dims, CV_32F, input.data_ptr<float>());
    net.setInput(blob, "images");
    cv::Mat out = net.forward("logits");
    return torch::from_blob(out.ptr<float>(), {out.size[0], out.size[1]}, torch::kFloat).clone();
}

onnx::ModelProto readModel(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    onnx::ModelProto model;
    if (!model.ParseFromIstream(&in))
        throw Error(path + ": not an ONNX model");
    return model;
}

std::string metadata(const onnx::ModelProto& model, const std::string& key)
{
    for (const auto& entry : model.metadata_props())
        if (entry.key() == key)
            return entry.value();
    return {};
}

// The Python with onnxruntime, numpy and Pillow that CMake found (the pip configuration's), or "".
QString onnxPython()
{
#ifdef TUNEBENCH_ONNX_PYTHON
    return TUNEBENCH_ONNX_PYTHON;
#else
    return {};
#endif
}

// Runs `python arguments...` (up to 5 minutes); its standard output, or why it failed in `error`.
std::string runPython(const QStringList& arguments, std::string& error)
{
    QProcess process;
    process.start(onnxPython(), arguments);
    if (!process.waitForStarted() || !process.waitForFinished(300'000) || process.exitStatus() != QProcess::NormalExit ||
        process.exitCode() != 0)
        error = "python " + arguments.join(' ').toStdString() + " failed: " + process.readAllStandardError().toStdString();
    return process.readAllStandardOutput().toStdString();
}

// The graph's logits for `images` through ONNX Runtime (tests/reference/onnx_logits.py).
at::Tensor onnxRuntimeLogits(const std::string& path, const at::Tensor& images, std::string& error)
{
    const std::string input = path + ".images", output = path + ".logits";
    const auto data = images.contiguous();
    std::ofstream(input, std::ios::binary).write(static_cast<const char*>(data.data_ptr()), data.numel() * sizeof(float));
    QStringList arguments = {QString::fromStdString(test::sourceRoot() + "/tests/reference/onnx_logits.py"), QString::fromStdString(path),
                             QString::fromStdString(input), "--out", QString::fromStdString(output), "--shape"};
    for (auto size : images.sizes())
        arguments << QString::number(size);
    const std::string printed = runPython(arguments, error);
    if (!error.empty())
        return {};
    const std::int64_t classes = std::stoll(printed);
    auto logits = torch::empty({images.size(0), classes});
    std::ifstream(output, std::ios::binary).read(static_cast<char*>(logits.data_ptr()), logits.numel() * sizeof(float));
    return logits;
}

// The Python program of docs/export.md (its only python block), written to `path`.
bool writeDocsProgram(const std::string& path)
{
    std::ifstream in(test::sourceRoot() + "/docs/export.md");
    std::stringstream text;
    text << in.rdbuf();
    const std::string doc = text.str();
    const auto start = doc.find("```python\n");
    const auto end = start == std::string::npos ? start : doc.find("```", start + 10);
    if (end == std::string::npos)
        return false;
    std::ofstream(path) << doc.substr(start + 10, end - start - 10);
    return true;
}

OnnxPreprocessing preprocessingFor(const ClipModel& model)
{
    OnnxPreprocessing p;
    p.resolution = p.resizeSize = model->spec().vision.imageSize;
    p.mean = {0.48145466f, 0.4578275f, 0.40821073f};
    p.std = {0.26862954f, 0.26130258f, 0.27577711f};
    return p;
}

} // namespace

class TestOnnxExport : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        torch::set_num_threads(2);
        QVERIFY(m_dir.isValid());
        // predict's image-tower cache: this test's folder, never the user's.
        qputenv("TUNEBENCH_CACHE_DIR", (m_dir.path() + "/feature-cache").toUtf8());
    }

    // Every registered method either describes its own scores exactly or is one of the known refusals,
    // each with a one-line reason naming it. A new method without a description shows up here. A method
    // whose class text depends on the image (CoCoOp) refuses deployable() in one line and is described with
    // its text tower instead.
    void everyMethodDescribesItsOwnScores()
    {
        std::set<std::string> refused;
        for (const StrategyInfo& info : strategyRegistry()) {
            ClipModel model = tinyModel(towerFor(info));
            auto strategy = trainedLike(info.name, model);
            if (auto* conditional = dynamic_cast<ConditionalTextStrategy*>(strategy.get())) {
                const std::string error = errorOf([&] { strategy->deployable(); });
                QVERIFY2(error.rfind(info.name + ":", 0) == 0 && error.find('\n') == std::string::npos, error.c_str());
                const auto images = randomImages(model, 3, 21);
                const auto own = strategy->logits(images);
                const auto described = runConditionalText(conditional->conditionalText(), images);
                QVERIFY2(maxDifference(described, own) < 1e-4,
                         (info.name + ": described with its text differs by " + std::to_string(maxDifference(described, own))).c_str());
                continue;
            }
            const std::string error = errorOf([&] { strategy->deployable(); });
            if (error != "(no error)") {
                QVERIFY2(error.rfind(info.name + ":", 0) == 0 && error.find('\n') == std::string::npos, error.c_str());
                refused.insert(info.name);
                continue;
            }
            const auto images = randomImages(model, 3, 21);
            const auto own = strategy->logits(images);
            const auto described = runDeployable(strategy->deployable(), images);
            QVERIFY2(maxDifference(described, own) < 1e-4,
                     (info.name + ": described differs by " + std::to_string(maxDifference(described, own))).c_str());
        }
        std::string names;
        for (const auto& name : refused)
            names += name + " ";
        QCOMPARE(QString::fromStdString(names), QString(""));
    }

    void runtimesRunTheGraph_data()
    {
        QTest::addColumn<QString>("method");
        QTest::addColumn<int>("tower");
        QTest::addColumn<QString>("options");
        const int vit = int(TinyModel::ClipVit), resnet = int(TinyModel::ClipResNet), timm = int(TinyModel::Timm);
        const int timm48 = int(TinyModel::Timm48), timm64 = int(TinyModel::Timm64);
        QTest::newRow("zeroshot, ViT CLIP") << "zeroshot" << vit << "{}";
        QTest::newRow("coop, ViT CLIP") << "coop" << vit << "{}";
        QTest::newRow("kgcoop, ViT CLIP") << "kgcoop" << vit << "{}";
        QTest::newRow("maple, ViT CLIP") << "maple" << vit << "{}";
        QTest::newRow("promptsrc, ViT CLIP") << "promptsrc" << vit << "{}";
        QTest::newRow("clip-adapter, ViT CLIP") << "clip-adapter" << vit << "{}";
        QTest::newRow("tip-adapter-f, ViT CLIP") << "tip-adapter-f" << vit << "{}";
        QTest::newRow("linear-probe, ViT CLIP") << "linear-probe" << vit << "{}";
        QTest::newRow("clip-lora, ViT CLIP") << "clip-lora" << vit << "{}";
        QTest::newRow("cocoop, ViT CLIP") << "cocoop" << vit << "{}";
        QTest::newRow("cocoop with a random context, ViT CLIP") << "cocoop" << vit << R"({"ctx_init": "", "n_ctx": 2})";
        QTest::newRow("zeroshot, ResNet CLIP") << "zeroshot" << resnet << "{}";
        QTest::newRow("cocoop, ResNet CLIP") << "cocoop" << resnet << "{}";
        QTest::newRow("coop, ResNet CLIP") << "coop" << resnet << "{}";
        QTest::newRow("tip-adapter-f, ResNet CLIP") << "tip-adapter-f" << resnet << "{}";
        QTest::newRow("vpt-deep, timm ViT") << "vpt-deep" << timm << "{}";
        QTest::newRow("vpt-shallow, timm ViT") << "vpt-shallow" << timm << "{}";
        QTest::newRow("adapter, timm ViT") << "adapter" << timm << "{}";
        QTest::newRow("adaptformer, timm ViT") << "adaptformer" << timm << "{}";
        QTest::newRow("lora, timm ViT") << "lora" << timm << "{}";
        QTest::newRow("dora, timm ViT") << "dora" << timm << "{}";
        QTest::newRow("ssf, timm ViT") << "ssf" << timm << "{}";
        QTest::newRow("bias, timm ViT") << "bias" << timm << "{}";
        QTest::newRow("full, timm ViT") << "full" << timm << "{}";
        QTest::newRow("full, ResNet CLIP") << "full" << resnet << "{}";
        QTest::newRow("mlp, timm ViT") << "mlp" << timm << "{}";
        QTest::newRow("ivlp, ViT CLIP") << "ivlp" << vit << "{}";
        QTest::newRow("dapl, ViT CLIP") << "dapl" << vit << "{}";
        QTest::newRow("prefix-tuning, ViT CLIP") << "prefix-tuning" << vit << "{}";
        QTest::newRow("sidetune, timm ViT") << "sidetune" << timm << "{}";
        QTest::newRow("sidetune, timm ViT at 48 pixels") << "sidetune" << timm48 << "{}";
        QTest::newRow("sidetune, timm ViT at 64 pixels") << "sidetune" << timm64 << "{}";
        QTest::newRow("seq-ft, timm ViT") << "seq-ft" << timm << "{}";
        QTest::newRow("l2p per image, timm ViT") << "l2p" << timm << R"({"batchwise": false})";
        QTest::newRow("l2p without keys, timm ViT") << "l2p" << timm << R"({"pool_size": 3, "top_k": 3})";
    }

    // The written graph, run by OpenCV's DNN module and by ONNX Runtime, gives the engine's logits within 1e-4.
    void runtimesRunTheGraph()
    {
        QFETCH(QString, method);
        QFETCH(int, tower);
        QFETCH(QString, options);
        ClipModel model = tinyModel(TinyModel(tower));
        auto strategy = trainedLike(method.toStdString(), model, json::parse(options.toStdString()));
        const std::string path = m_dir.filePath(QString("%1-%2.onnx").arg(method).arg(tower)).toStdString();
        const json summary = writeOnnx(*strategy, preprocessingFor(model), path);
        QCOMPARE(summary["classes"].get<int>(), 3);
        const auto images = randomImages(model, 2, 31);
        const auto expected = strategy->logits(images);
        const auto got = openCvLogits(path, images);
        QVERIFY2(maxDifference(got, expected) < 1e-4, ("OpenCV DNN differs by " + std::to_string(maxDifference(got, expected))).c_str());
        if (onnxPython().isEmpty())
            QSKIP("ONNX Runtime not checked: no Python with onnxruntime (the pip configuration's .venv has it)");
        std::string error;
        const auto runtime = onnxRuntimeLogits(path, images, error);
        QVERIFY2(error.empty(), error.c_str());
        QVERIFY2(maxDifference(runtime, expected) < 1e-4, ("ONNX Runtime differs by " + std::to_string(maxDifference(runtime, expected))).c_str());
    }

    void metadataSaysHowToFeedIt()
    {
        ClipModel model = tinyModel(TinyModel::ClipVit);
        auto strategy = trainedLike("coop", model);
        const std::string path = m_dir.filePath("meta.onnx").toStdString();
        writeOnnx(*strategy, preprocessingFor(model), path);
        const onnx::ModelProto graph = readModel(path);
        QCOMPARE(graph.opset_import(0).version(), 17);
        QCOMPARE(metadata(graph, "tunebench.method"), std::string("coop"));
        QCOMPARE(json::parse(metadata(graph, "tunebench.class_names")), (json{"cat", "dog", "bird"}));
        const json model_ = json::parse(metadata(graph, "tunebench.model"));
        QCOMPARE(model_["sha256"].get<std::string>(), std::string("0123abcd"));
        const json pre = json::parse(metadata(graph, "tunebench.preprocessing"));
        QCOMPARE(pre["center_crop"].get<int>(), 32);
        QCOMPARE(pre["mean"].size(), size_t(3));
        QCOMPARE(graph.graph().input(0).name(), std::string("images"));
        QCOMPARE(graph.graph().input(0).type().tensor_type().shape().dim(0).dim_param(), std::string("N"));
        QCOMPARE(graph.graph().output(0).name(), std::string("logits"));
        QCOMPARE(graph.graph().output(1).name(), std::string("probabilities"));
    }

    void fp16HalvesTheWeights()
    {
        ClipModel model = tinyModel(TinyModel::Timm);
        auto strategy = trainedLike("vpt-deep", model);
        const std::string full = m_dir.filePath("fp32.onnx").toStdString(), half = m_dir.filePath("fp16.onnx").toStdString();
        writeOnnx(*strategy, preprocessingFor(model), full);
        OnnxOptions options;
        options.fp16 = true;
        options.opset = 13;
        writeOnnx(*strategy, preprocessingFor(model), half, options);
        QVERIFY(fs::file_size(half) < 0.6 * fs::file_size(full));
        QCOMPARE(readModel(half).opset_import(0).version(), 13);
        QCOMPARE(metadata(readModel(half), "tunebench.precision"), std::string("fp16 image tower, fp32 head"));
        if (onnxPython().isEmpty())
            QSKIP("the fp16 graph is not run: no Python with onnxruntime");
        expectFp16Close(half, *strategy, model, 41);
    }

    // The CLI on a short CoOp, CoCoOp and VPT-Deep run each: export --onnx writes the graph, and the program of
    // docs/export.md (ONNX Runtime, numpy and Pillow only) gives predict's top-1 and probability.
    void exportCommandAndTheDocsProgram()
    {
        const std::string root = m_dir.path().toStdString() + "/cli";
        const std::string dataset = root + "/toys", model = root + "/tiny.safetensors", runs = root + "/runs";
        const std::vector<std::string> classes = {"apple", "banana", "cherry"};
        QStringList images;
        cv::RNG rng(5);
        for (size_t c = 0; c < classes.size(); ++c)
            for (auto [split, count] : {std::pair<const char*, int>{"train", 3}, {"test", 2}}) {
                const fs::path folder = fs::path(dataset) / split / classes[c];
                fs::create_directories(folder);
                for (int i = 0; i < count; ++i) {
                    cv::Mat image(20 + 6 * i, 26, CV_8UC3);  // not square, not the model's size: resize and crop matter
                    rng.fill(image, cv::RNG::NORMAL, cv::Scalar(70.0 * c, 200 - 50.0 * c, 90), cv::Scalar(30, 30, 30));
                    const std::string file = (folder / (std::to_string(i) + ".png")).string();
                    QVERIFY(cv::imwrite(file, image));
                    if (std::string(split) == "test")
                        images << "--image" << QString::fromStdString(file);
                }
            }
        writeOpenAiSafetensors(test::randomWeights(test::tinyClipSpec(), 7), model);
        const QString vocab = QString::fromStdString(test::demoVocabularyPath());
        for (const char* method : {"coop", "cocoop", "vpt-deep"}) {
            const auto trained = test::runCli({"train", "--model", QString::fromStdString(model), "--vocab", vocab, "--dataset",
                                               QString::fromStdString(dataset), "--method", method, "--shots", "2", "--epochs", "1",
                                               "--batch-size", "3", "--runs", QString::fromStdString(runs), "--threads", "2"});
            QVERIFY2(trained.exitCode == 0, trained.err.c_str());
            const QString run = QString::fromStdString(json::parse(trained.out)["run"].get<std::string>());
            const std::string onnxPath = root + "/" + method + ".onnx";
            const auto exported = test::runCli({"export", "--run", run, "--onnx", QString::fromStdString(onnxPath), "--threads", "2"});
            QVERIFY2(exported.exitCode == 0, exported.err.c_str());
            const json summary = json::parse(exported.out);
            QCOMPARE(summary["onnx"].get<std::string>(), onnxPath);
            QCOMPARE(summary["method"].get<std::string>(), std::string(method));
            QVERIFY(fs::file_size(onnxPath) > 0);
            // Misused options are one-line errors that write nothing.
            const std::string refused = root + "/refused.onnx";
            for (const QStringList& bad : {QStringList{"--onnx", QString::fromStdString(refused), "--opset", "12"},
                                           QStringList{"--onnx", QString::fromStdString(refused), "--out", QString::fromStdString(root + "/x")},
                                           QStringList{"--fp16"}}) {
                const auto result = test::runCli(QStringList{"export", "--run", run} + bad);
                QVERIFY2(result.exitCode != 0 && result.out.empty(), result.out.c_str());
                QCOMPARE(std::count(result.err.begin(), result.err.end(), '\n'), 1L);
                QVERIFY(!fs::exists(refused));
            }
            const auto predicted = test::runCli(QStringList{"predict", "--run", run, "--top", "1", "--threads", "2"} + images);
            QVERIFY2(predicted.exitCode == 0, predicted.err.c_str());
            if (onnxPython().isEmpty())
                continue;
            const std::string program = root + "/classify.py";
            QVERIFY(writeDocsProgram(program));
            std::istringstream lines(predicted.out);
            int checked = 0;
            for (std::string line; std::getline(lines, line);) {
                const json entry = json::parse(line);
                std::string error;
                const std::string printed = runPython({QString::fromStdString(program), QString::fromStdString(onnxPath),
                                                       QString::fromStdString(entry["path"].get<std::string>())},
                                                      error);
                QVERIFY2(error.empty(), error.c_str());
                std::istringstream words(printed);
                std::string name;
                double probability = 0;
                words >> name >> probability;
                QCOMPARE(name, entry["top"][0]["class"].get<std::string>());
                QVERIFY2(std::abs(probability - entry["top"][0]["probability"].get<double>()) < 1e-4, printed.c_str());
                ++checked;
            }
            QCOMPARE(checked, 6);
        }
        if (onnxPython().isEmpty())
            QSKIP("docs/export.md's program not run: no Python with onnxruntime, numpy and Pillow");
    }

    // CoCoOp's graph in fp16: image and text towers halved, the Meta-Net and the head in fp32; ONNX Runtime
    // runs it within fp16's precision of the engine.
    void cocoopInFp16()
    {
        ClipModel model = tinyModel(TinyModel::ClipVit);
        auto strategy = trainedLike("cocoop", model);
        const std::string half = m_dir.filePath("cocoop-fp16.onnx").toStdString();
        OnnxOptions options;
        options.fp16 = true;
        writeOnnx(*strategy, preprocessingFor(model), half, options);
        QCOMPARE(metadata(readModel(half), "tunebench.precision"), std::string("fp16 image and text towers, fp32 head and Meta-Net"));
        if (onnxPython().isEmpty())
            QSKIP("the fp16 graph is not run: no Python with onnxruntime");
        expectFp16Close(half, *strategy, model, 43);
    }

    void refusalsAreOneLineAndWriteNothing()
    {
        ClipModel model = tinyModel(TinyModel::ClipVit);
        const std::string path = m_dir.filePath("refused.onnx").toStdString();
        std::string error;
        // L2P describes its batch-wise choice (everyMethodDescribesItsOwnScores) but the graph does not write it.
        ClipModel timm = tinyModel(TinyModel::Timm);
        auto l2p = trainedLike("l2p", timm);
        error = errorOf([&] { writeOnnx(*l2p, preprocessingFor(timm), path); });
        QVERIFY2(error.rfind("l2p: ", 0) == 0 && error.find("batchwise") != std::string::npos && error.find('\n') == std::string::npos,
                 error.c_str());
        QVERIFY(!fs::exists(path));
        auto coop = trainedLike("coop", model);
        OnnxOptions options;
        options.opset = 12;
        error = errorOf([&] { writeOnnx(*coop, preprocessingFor(model), path, options); });
        QVERIFY2(error.find("opset") != std::string::npos, error.c_str());
        QVERIFY(!fs::exists(path));
    }

private:
    // An fp16 graph through ONNX Runtime, on two random images: within fp16's precision of the engine (about 3
    // significant digits kept through the towers).
    void expectFp16Close(const std::string& path, Strategy& strategy, const ClipModel& model, int seed)
    {
        const auto images = randomImages(model, 2, seed);
        std::string error;
        const auto logits = onnxRuntimeLogits(path, images, error);
        QVERIFY2(error.empty(), error.c_str());
        const auto expected = strategy.logits(images);
        QVERIFY2(maxDifference(logits, expected) < 0.05 * std::max(1.0, expected.abs().max().item<double>()),
                 std::to_string(maxDifference(logits, expected)).c_str());
    }

    QTemporaryDir m_dir;
};

QTEST_GUILESS_MAIN(TestOnnxExport)
#include "tst_onnx_export.moc"
