// tunebench-cli's contract, end to end: JSON on stdout, one-line errors on stderr, non-zero exit on bad
// input, and the same numbers as the engine called directly.
#include "core/data/ImagePreprocess.h"
#include "core/experiment/RunSettings.h"
#include "core/io/CheckpointLoader.h"
#include "core/io/CheckpointWriter.h"
#include "tests/CliRunner.h"
#include "tests/ClipVocabulary.h"
#include "tests/ModelFixtures.h"

#include <QtTest>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include <sys/stat.h>

using namespace tunebench;
using nlohmann::json;
using test::CliResult;
using test::runCli;

namespace {

bool isOneLineError(const CliResult& result)
{
    const auto newlines = std::count(result.err.begin(), result.err.end(), '\n');
    return result.exitCode != 0 && result.exitCode != -1 && newlines == 1 && result.out.empty() &&
           result.err.find("frame #") == std::string::npos;
}

std::vector<float> dots(const json& a, const json& b)
{
    std::vector<float> out;
    for (const auto& rowA : a)
        for (const auto& rowB : b) {
            double sum = 0;
            for (size_t i = 0; i < rowA.size(); ++i)
                sum += rowA[i].get<double>() * rowB[i].get<double>();
            out.push_back(static_cast<float>(sum));
        }
    return out;
}

} // namespace

class TestCli : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        m_root = m_dir.path();
        // Any vocabulary does for encode and classify: the demo model's, which every checkout has.
        m_vocab = QString::fromStdString(test::demoVocabularyPath());
        QVERIFY2(QFile::exists(m_vocab), qPrintable(m_vocab + " is missing"));
        m_spec = test::tinyClipSpec();
        m_weights = test::randomWeights(m_spec, 5);
        writeOpenAiTorchScript(m_weights, m_spec, (m_root + "/tiny.pt").toStdString());
        writeOpenAiSafetensors(m_weights, (m_root + "/tiny.safetensors").toStdString());
        writeHuggingFaceFolder(m_weights, m_spec, (m_root + "/tiny-hf").toStdString());
        // Two images: a gradient and a checkerboard, 40x36 so that resize and crop both happen.
        cv::Mat a(36, 40, CV_8UC3), b(36, 40, CV_8UC3);
        for (int y = 0; y < 36; ++y)
            for (int x = 0; x < 40; ++x) {
                a.at<cv::Vec3b>(y, x) = cv::Vec3b(x * 6, y * 7, (x + y) * 3);
                b.at<cv::Vec3b>(y, x) = ((x / 4 + y / 4) % 2) ? cv::Vec3b(250, 240, 10) : cv::Vec3b(5, 20, 200);
            }
        m_imageA = m_root + "/gradient image.png";
        m_imageB = m_root + "/棋盘.png";
        QVERIFY(cv::imwrite(m_imageA.toStdString(), a));
        QVERIFY(cv::imwrite(m_imageB.toStdString(), b));
    }

    void tokenizeMatchesGoldenVectors()
    {
        REQUIRE_CLIP_VOCABULARY();
        const QString openAi = QString::fromStdString(test::clipVocabularyPath());
        const CliResult r = runCli({"tokenize", "--vocab", openAi, "a photo of a cat.", "Hello, World!", ""});
        QCOMPARE(r.exitCode, 0);
        const json tokens = json::parse(r.out)["tokens"];
        QCOMPARE(tokens.size(), size_t(3));
        QCOMPARE(tokens[0].get<std::vector<int>>(), (std::vector<int>{49406, 320, 1125, 539, 320, 2368, 269, 49407}));
        QCOMPARE(tokens[1].get<std::vector<int>>(), (std::vector<int>{49406, 3306, 267, 1002, 256, 49407}));
        QCOMPARE(tokens[2].get<std::vector<int>>(), (std::vector<int>{49406, 49407}));
    }

    void tokenizeFindsVocabularyFromEnvironmentOrSaysWhereItLooked()
    {
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert("TUNEBENCH_CLIP_VOCAB", m_vocab);
        const CliResult found = runCli({"tokenize", "a dog"}, env);
        QCOMPARE(found.exitCode, 0);
        // The demo vocabulary's ids (start 801, end 802): it, not one found elsewhere on the machine, was used.
        QCOMPARE(json::parse(found.out)["tokens"][0].get<std::vector<int>>(), (std::vector<int>{801, 320, 67, 78, 326, 802}));

        QProcessEnvironment bare;
        bare.insert("HOME", m_root + "/empty-home");
        bare.insert("PATH", "/usr/bin:/bin");
        const CliResult missing = runCli({"tokenize", "a dog"}, bare);
        QVERIFY2(isOneLineError(missing), missing.err.c_str());
        QVERIFY2(missing.err.find("TUNEBENCH_CLIP_VOCAB") != std::string::npos, missing.err.c_str());
    }

    void encodeGivesTheEngineFeaturesInEveryFormat()
    {
        // Reference: the engine directly, with the CLIP preprocessing.
        ClipModel model(m_spec);
        loadWeightsStrict(*model, m_weights, "fixture");
        model->eval();
        EvalTransform transform;
        transform.resolution = 32;
        auto images = torch::empty({2, 3, 32, 32});
        transform.apply(decodeImage(m_imageA.toStdString()), images[0].data_ptr<float>());
        transform.apply(decodeImage(m_imageB.toStdString()), images[1].data_ptr<float>());
        torch::NoGradGuard noGrad;
        const auto expected = l2Normalize(model->encodeImage(images));

        json first;
        for (const char* name : {"tiny.pt", "tiny.safetensors", "tiny-hf"}) {
            QStringList args = {"encode", "--model", m_root + "/" + name, "--vocab", m_vocab, "--image", m_imageA,
                                "--image", m_imageB, "--text", "a photo of a dog.", "--device", "cpu"};
            const CliResult r = runCli(args);
            QVERIFY2(r.exitCode == 0, r.err.c_str());
            const json out = json::parse(r.out);
            QCOMPARE(out["image_features"].size(), size_t(2));
            QCOMPARE(out["image_features"][0].size(), size_t(48));
            QCOMPARE(out["text_features"].size(), size_t(1));
            for (int i = 0; i < 2; ++i)
                for (int j = 0; j < 48; ++j)
                    QCOMPARE(out["image_features"][i][j].get<float>(), expected[i][j].item<float>());
            double norm = 0;
            for (const auto& v : out["text_features"][0])
                norm += v.get<double>() * v.get<double>();
            QVERIFY(std::abs(norm - 1.0) < 1e-5);
            if (first.is_null())
                first = out;
            else
                QVERIFY2(out == first, qPrintable(QString(name) + " gives other features"));
        }
    }

    void classifyIsScaledCosineAndSoftmax()
    {
        const QStringList common = {"--model", m_root + "/tiny.safetensors", "--vocab", m_vocab};
        const CliResult enc = runCli(QStringList{"encode"} + common +
                                     QStringList{"--image", m_imageA, "--text", "a sketch of a cat.", "--text", "a sketch of a dog."});
        QCOMPARE(enc.exitCode, 0);
        const CliResult r = runCli(QStringList{"classify"} + common +
                                   QStringList{"--class", "cat", "--class", "dog", "--template", "a sketch of a {}.", "--image", m_imageA});
        QVERIFY2(r.exitCode == 0, r.err.c_str());
        const json out = json::parse(r.out);
        QCOMPARE(out["prompts"][1].get<std::string>(), std::string("a sketch of a dog."));
        const double scale = out["logit_scale"].get<double>();
        QVERIFY(std::abs(scale - 100.0) < 1e-3);
        const json encoded = json::parse(enc.out);
        const auto cosines = dots(encoded["image_features"], encoded["text_features"]);
        const json& image = out["images"][0];
        QCOMPARE(image["path"].get<std::string>(), m_imageA.toStdString());
        double probSum = 0;
        for (int c = 0; c < 2; ++c) {
            QVERIFY(std::abs(image["logits"][c].get<double>() - scale * cosines[c]) < 1e-3);
            probSum += image["probs"][c].get<double>();
        }
        QVERIFY(std::abs(probSum - 1.0) < 1e-5);
        const double l0 = image["logits"][0], l1 = image["logits"][1];
        QVERIFY(std::abs(image["probs"][0].get<double>() - 1.0 / (1.0 + std::exp(l1 - l0))) < 1e-5);
    }

    void defaultTemplateIsAPhotoOfA()
    {
        const CliResult r = runCli({"classify", "--model", m_root + "/tiny-hf", "--vocab", m_vocab, "--class", "sea_lion",
                                    "--image", m_imageB});
        QVERIFY2(r.exitCode == 0, r.err.c_str());
        QCOMPARE(json::parse(r.out)["prompts"][0].get<std::string>(), std::string("a photo of a sea_lion."));
    }

    // info loads the checkpoint as a model (strictly) and prints the same summary for every format.
    void infoSummarisesEveryFormat()
    {
        std::vector<nlohmann::json> summaries;
        for (const char* name : {"/tiny.pt", "/tiny.safetensors", "/tiny-hf"}) {
            const CliResult r = runCli({"info", "--model", m_root + name});
            QVERIFY2(r.exitCode == 0, r.err.c_str());
            summaries.push_back(nlohmann::json::parse(r.out));
        }
        int64_t parameters = 0;
        for (const auto& [key, tensor] : m_weights)
            parameters += tensor.numel();
        for (const auto& summary : summaries) {
            QCOMPARE(summary["parameters"].get<int64_t>(), parameters);
            QCOMPARE(summary["vision"], summaries.front()["vision"]);
            QCOMPARE(summary["text"]["width"].get<int>(), m_spec.text->width);
            QCOMPARE(summary["sha256"].get<std::string>().size(), size_t(64));
        }
        // A state dict with a tensor missing is refused, naming the key.
        StateDict partial = m_weights;
        partial.erase("visual.ln_post.bias");
        writeOpenAiSafetensors(partial, (m_root + "/partial.safetensors").toStdString());
        const CliResult missing = runCli({"info", "--model", m_root + "/partial.safetensors"});
        QVERIFY(isOneLineError(missing));
        QVERIFY2(missing.err.find("visual.ln_post.bias") != std::string::npos, missing.err.c_str());
    }

    void badInputIsOneLineOnStderr()
    {
        const QString corrupt = m_root + "/corrupt.safetensors";
        QFile file(corrupt);
        QVERIFY(file.open(QIODevice::WriteOnly));
        file.write(QByteArray("\x10\x00\x00\x00\x00\x00\x00\x00{\"a\": 12", 17));
        file.close();
        const std::vector<std::pair<QStringList, std::string>> cases = {
            {{"encode", "--vocab", m_vocab, "--text", "x"}, "--model PATH is required"},
            {{"encode", "--model", corrupt, "--vocab", m_vocab, "--text", "x"}, "corrupt.safetensors"},
            {{"encode", "--model", m_root + "/tiny.pt", "--vocab", m_vocab, "--image", m_root + "/missing.png"}, "missing.png"},
            {{"encode", "--model", m_root + "/nothing-here.pt", "--image", m_imageA}, "nothing-here.pt"},
            {{"classify", "--model", m_root + "/tiny.pt", "--vocab", m_vocab, "--image", m_imageA}, "--class"},
            {{"classify", "--model", m_root + "/tiny.pt", "--vocab", m_vocab, "--class", "a", "--template", "no slot",
              "--image", m_imageA},
             "{}"},
            {{"tokenize", "--vocab", m_root + "/nope.txt.gz", "x"}, "nope.txt.gz"},
            {{"encode", "--model", m_root + "/tiny.pt", "--bogus", "1"}, "--bogus"},
        };
        for (const auto& [args, needle] : cases) {
            const CliResult r = runCli(args);
            QVERIFY2(isOneLineError(r), qPrintable(args.join(' ') + " -> exit " + QString::number(r.exitCode) + ": " +
                                                   QString::fromStdString(r.err)));
            QVERIFY2(r.err.find(needle) != std::string::npos, qPrintable(args.join(' ') + ": " + QString::fromStdString(r.err)));
        }
        QCOMPARE(runCli({"frobnicate"}).exitCode, 2);
    }

    void datasetListNamesEveryDatasetAndVariant()
    {
        // A CoOp benchmark under $TUNEBENCH_DATA: oxford_pets with 2 classes, 2 / 1 / 1 images each.
        const std::filesystem::path data = (m_root + "/data").toStdString();
        const char* classes[] = {"abyssinian", "beagle"};
        int number = 0;
        std::string lists[3];
        for (int s = 0; s < 3; ++s)
            for (int label = 0; label < 2; ++label)
                for (int i = 0; i < (s == 0 ? 2 : 1); ++i) {
                    const std::string file = std::string(classes[label]) + "_" + std::to_string(number++) + ".jpg";
                    std::filesystem::create_directories(data / "oxford_pets" / "images");
                    QVERIFY(cv::imwrite((data / "oxford_pets" / "images" / file).string(), cv::Mat(6, 6, CV_8UC3, cv::Scalar(number))));
                    lists[s] += std::string(lists[s].empty() ? "" : ", ") + "[\"" + file + "\", " + std::to_string(label) + ", \"" +
                                classes[label] + "\"]";
                }
        std::ofstream(data / "oxford_pets" / "split_zhou_OxfordPets.json")
            << "{\"train\": [" << lists[0] << "], \"val\": [" << lists[1] << "], \"test\": [" << lists[2] << "]}";
        // A VTAB-1k task under data/vtab-1k (2 / 1 / 2 images) and CUB in VPT's layout (2 classes, 2 + 1 / 1).
        const auto image = [](const std::filesystem::path& file, int seed) {
            std::filesystem::create_directories(file.parent_path());
            QVERIFY(cv::imwrite(file.string(), cv::Mat(6, 6, CV_8UC3, cv::Scalar(seed))));
        };
        const std::filesystem::path dsprites = data / "vtab-1k" / "dsprites_ori";
        for (int i = 0; i < 4; ++i)
            image(dsprites / "images" / (std::to_string(i) + ".png"), i);
        std::ofstream(dsprites / "train800.txt") << "images/0.png 0\nimages/1.png 15\n";
        std::ofstream(dsprites / "val200.txt") << "images/2.png 3\n";
        std::ofstream(dsprites / "train800val200.txt") << "images/0.png 0\nimages/1.png 15\nimages/2.png 3\n";
        std::ofstream(dsprites / "test.txt") << "images/3.png 1\nimages/0.png 0\n";
        const std::filesystem::path cub = data / "CUB_200_2011";
        for (int i = 0; i < 4; ++i)
            image(cub / "images" / ("00" + std::to_string(i % 2 + 1) + ".A") / (std::to_string(i) + ".jpg"), i);
        std::ofstream(cub / "train.json") << R"({"001.A/0.jpg": 0, "002.A/1.jpg": 1})";
        std::ofstream(cub / "val.json") << R"({"001.A/2.jpg": 0})";
        std::ofstream(cub / "test.json") << R"({"002.A/3.jpg": 1})";
        QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
        environment.insert("TUNEBENCH_DATA", QString::fromStdString(data.string()));
        const CliResult r = runCli({"dataset", "list"}, environment);
        QVERIFY2(r.exitCode == 0, r.err.c_str());
        const json list = json::parse(r.out);
        QVERIFY(list["datasets"].is_array());
        std::map<std::string, json> byName;
        for (const json& entry : list["datasets"]) {
            for (const char* key : {"name", "layout", "classes", "train", "val", "test", "description"})
                QVERIFY2(entry.contains(key), key);
            QVERIFY(entry["classes"].is_number_integer() && entry["train"].is_number_integer());
            byName[entry["name"].get<std::string>()] = entry;
        }
        const std::string pets = (data / "oxford_pets").string();
        QVERIFY2(byName.count(pets), r.out.c_str());
        QCOMPARE(byName[pets]["layout"].get<std::string>(), std::string("dassl"));
        QCOMPARE(byName[pets]["classes"].get<int>(), 2);
        QCOMPARE(byName[pets]["train"].get<int>(), 4);
        QCOMPARE(byName[pets]["test"].get<int>(), 2);
        QVERIFY2(byName.count(dsprites.string()) && byName.count(cub.string()), r.out.c_str());
        QCOMPARE(byName[dsprites.string()]["layout"].get<std::string>(), std::string("vtab-1k"));
        QCOMPARE(byName[dsprites.string()]["group"].get<std::string>(), std::string("Structured"));
        QCOMPARE(byName[dsprites.string()]["classes"].get<int>(), 16);
        QCOMPARE(byName[dsprites.string()]["train"].get<int>(), 3);
        QCOMPARE(byName[dsprites.string()]["test"].get<int>(), 2);
        QCOMPARE(byName[cub.string()]["layout"].get<std::string>(), std::string("fgvc"));
        QCOMPARE(byName[cub.string()]["benchmark"].get<std::string>(), std::string("CUB_200_2011"));
        QCOMPARE(byName[cub.string()]["classes"].get<int>(), 2);
        QCOMPARE(byName[cub.string()]["train"].get<int>(), 3);
        QCOMPARE(byName[cub.string()]["test"].get<int>(), 1);
        // dataset inspect checks a task: a label out of range is a one-line error naming file and line
        // (after the "dataset: reading ..." progress lines).
        std::ofstream(dsprites / "test.txt") << "images/3.png 16\n";
        const CliResult bad = runCli({"dataset", "inspect", QString::fromStdString(dsprites.string())});
        const QStringList badLines = QString::fromStdString(bad.err).split('\n', Qt::SkipEmptyParts);
        QVERIFY2(bad.exitCode == 1 && bad.out.empty() && !badLines.isEmpty(), bad.err.c_str());
        for (int i = 0; i + 1 < badLines.size(); ++i)
            QVERIFY2(badLines[i].startsWith("dataset: reading "), bad.err.c_str());
        QVERIFY2(badLines.last().contains("test.txt:1") && badLines.last().contains("out of range"), bad.err.c_str());
        std::ofstream(dsprites / "test.txt") << "images/3.png 1\n";
        if (std::filesystem::is_directory("/usr/share/datasets/fashion-mnist")) {
            for (const std::string name : {"fashion-mnist", "fashion-mnist:negative", "fashion-mnist:sketch", "fashion-mnist:blurred",
                                           "fashion-mnist:upside-down", "fashion-mnist:tinted"}) {
                QVERIFY2(byName.count(name), name.c_str());
                QCOMPARE(byName[name]["classes"].get<int>(), 10);
                QCOMPARE(byName[name]["train"].get<int>(), 54000);
                QCOMPARE(byName[name]["val"].get<int>(), 6000);
                QCOMPARE(byName[name]["test"].get<int>(), 10000);
                QVERIFY(!byName[name]["description"].get<std::string>().empty());
            }
            // Every listed name opens as a dataset.
            const CliResult inspected = runCli({"dataset", "inspect", "fashion-mnist:sketch"});
            QVERIFY2(inspected.exitCode == 0, inspected.err.c_str());
            QCOMPARE(json::parse(inspected.out)["name"].get<std::string>(), std::string("fashion-mnist:sketch"));
        }
    }

    // --version (or `version`): Tunebench's and LibTorch's versions, whether CUDA is compiled in, and the
    // devices (the GPUs with name and memory, then the CPU with its threads), the one --device picks marked.
    void versionNamesTheBuildAndTheDevices()
    {
        const CliResult r = runCli({"--version", "--threads", "3"});
        QVERIFY2(r.exitCode == 0, r.err.c_str());
        const QStringList lines = QString::fromStdString(r.out).split('\n', Qt::SkipEmptyParts);
        const int gpus = torch::cuda::is_available() ? static_cast<int>(torch::cuda::device_count()) : 0;
        QVERIFY2(lines.size() == 5 + gpus, r.out.c_str());
        // The version that the top-level CMakeLists.txt's project() names.
        QFile cmakeLists(qEnvironmentVariable("TUNEBENCH_SOURCE_DIR", ".") + "/CMakeLists.txt");
        QVERIFY(cmakeLists.open(QIODevice::ReadOnly));
        const auto project = QRegularExpression("project\\(Tunebench VERSION ([0-9.]+)").match(QString::fromUtf8(cmakeLists.readAll()));
        QVERIFY(project.hasMatch());
        QCOMPARE(lines[0], "Tunebench " + project.captured(1));
        QCOMPARE(lines[1], QString("LibTorch " TORCH_VERSION));  // torch/torch.h includes torch/version.h
#if defined(TUNEBENCH_WITH_CUDA)
        QVERIFY2(lines[2].startsWith("CUDA: compiled") && lines[2].endsWith(QString("usable GPUs: %1").arg(gpus)), r.out.c_str());
#else
        QVERIFY2(lines[2].startsWith("CUDA: not compiled"), r.out.c_str());
#endif
        QCOMPARE(lines[3], QString("Devices (* = --device auto):"));
        for (int i = 0; i < gpus; ++i) {
            QVERIFY2(lines[4 + i].mid(2).startsWith(QString("cuda:%1  ").arg(i)), r.out.c_str());
#if defined(TUNEBENCH_WITH_CUDA)
            QVERIFY2(lines[4 + i].endsWith(" GiB"), r.out.c_str());  // the name, then the memory
#endif
        }
        QCOMPARE(lines.last().mid(2), QString("cpu     CPU, 3 threads"));
        QVERIFY2(lines[4].startsWith("* "), r.out.c_str());  // auto: the first GPU, else the CPU
        QCOMPARE(lines.filter(QRegularExpression("^\\* ")).size(), 1);

        QCOMPARE(runCli({"version", "--threads", "3"}).out, r.out);
        const CliResult onCpu = runCli({"version", "--device", "cpu"});
        QVERIFY2(onCpu.exitCode == 0 && onCpu.out.find("\n* cpu ") != std::string::npos, onCpu.out.c_str());
        const CliResult missing = runCli({"version", "--device", "cuda:99"});
        QVERIFY2(isOneLineError(missing) && missing.err.find("cuda:99") != std::string::npos, missing.err.c_str());
        QVERIFY(runCli({"--help"}).out.find("--version") != std::string::npos);
    }

    // Each command's options are declared once: the usage lists every command, COMMAND --help every option of
    // it, and the option check accepts exactly those.
    void helpComesFromTheDeclarations()
    {
        const CliResult usage = runCli({"--help"});
        QVERIFY(usage.exitCode == 0);
        for (const char* command : {"tokenize", "info", "encode", "classify", "dataset inspect", "dataset list", "train", "eval", "export",
                                    "compare", "petl-table", "params", "continual", "adapt", "sweep", "sweep status", "sweep collect", "cache",
                                    "pretrain", "version"})
            QVERIFY2(usage.out.find("\n  " + std::string(command) + " ") != std::string::npos, command);
        const CliResult train = runCli({"train", "--help"});
        QVERIFY2(train.exitCode == 0 && train.out.rfind("usage: tunebench-cli train --model PATH", 0) == 0, train.out.c_str());
        for (const char* option : {"--method NAME", "--shots K", "--run-folder RUN_DIR", "--no-feature-cache", "--lr X", "--device", "--threads N"})
            QVERIFY2(train.out.find(option) != std::string::npos, option);
        const CliResult status = runCli({"sweep", "status", "--help"});
        QVERIFY2(status.exitCode == 0 && status.out.rfind("usage: tunebench-cli sweep status DIR", 0) == 0, status.out.c_str());
        // compare declares no --method (it takes --methods): refused, not ignored.
        const CliResult compare = runCli({"compare", "--method", "coop"});
        QVERIFY2(isOneLineError(compare) && compare.err.find("unknown option --method") != std::string::npos, compare.err.c_str());
        const CliResult verb = runCli({"sweep", "frobnicate"});
        QVERIFY2(verb.exitCode != 0 && verb.err.find("expected: status, collect") != std::string::npos, verb.err.c_str());
    }

    // --device and --threads are common options: every command accepts them, also those that ignore them.
    void everyCommandAcceptsDeviceAndThreads()
    {
        // Given before an unknown option, they pass each command's option check, which then names that one.
        const std::vector<QStringList> commands = {
            {"tokenize"}, {"info"},     {"encode"},    {"classify"}, {"dataset", "list"}, {"dataset", "inspect", "x"},
            {"train"},    {"eval"},     {"export"},    {"compare"},  {"petl-table"},      {"params"},          {"pretrain"},
            {"continual"}, {"adapt"},   {"sweep"},     {"sweep", "status", "x"},          {"sweep", "collect", "x"},
            {"cache", "status"},        {"version"},
        };
        for (QStringList args : commands) {
            args << "--device" << "cpu" << "--threads" << "1" << "--zz-unknown" << "1";
            const CliResult r = runCli(args);
            QVERIFY2(isOneLineError(r) && r.err.find("unknown option --zz-unknown") != std::string::npos,
                     qPrintable(args.join(' ') + ": " + QString::fromStdString(r.err)));
        }
        const CliResult info = runCli({"info", "--model", m_root + "/tiny.safetensors", "--device", "cpu", "--threads", "1"});
        QVERIFY2(info.exitCode == 0, info.err.c_str());
        const CliResult status = runCli({"sweep", "status", m_root + "/no-sweep", "--device", "cpu"});
        QVERIFY2(isOneLineError(status) && status.err.find("no-sweep") != std::string::npos, status.err.c_str());
    }

    // Every command's --help prints its help; a last unknown flag is unknown, not short of a value; words
    // no command takes are refused, naming them.
    void flagsAndExtraWordsAreChecked()
    {
        for (const char* command : {"train", "eval", "compare", "sweep", "export"}) {
            const CliResult help = runCli({command, "--help"});
            QVERIFY2(help.exitCode == 0 && help.out.rfind(std::string("usage: tunebench-cli ") + command, 0) == 0, command);
        }
        const CliResult last = runCli({"info", "--model", m_root + "/tiny.safetensors", "--bogus"});
        QVERIFY2(isOneLineError(last) && last.err.find("unknown option --bogus") != std::string::npos, last.err.c_str());
        const CliResult threads = runCli({"info", "--model", m_root + "/tiny.safetensors", "--threads", "1"});
        QVERIFY2(threads.exitCode == 0, threads.err.c_str());
        const std::vector<std::pair<QStringList, std::string>> extra = {
            {{"info", "--model", m_root + "/tiny.safetensors", "stray"}, "info: unexpected argument 'stray'"},
            {{"train", "leftover", "--model", m_root + "/tiny.safetensors"}, "train: unexpected argument 'leftover'"},
            {{"dataset", "inspect", "a", "b"}, "unexpected argument 'b'"},
            {{"sweep", "status", "a", "b"}, "unexpected argument 'b'"},
        };
        for (const auto& [args, needle] : extra) {
            const CliResult r = runCli(args);
            QVERIFY2(isOneLineError(r) && r.err.find(needle) != std::string::npos, qPrintable(args.join(' ') + ": " + QString::fromStdString(r.err)));
        }
        // tokenize takes any number of texts.
        const CliResult tokens = runCli({"tokenize", "--vocab", m_vocab, "one", "two", "three"});
        QVERIFY2(tokens.exitCode == 0 && json::parse(tokens.out)["tokens"].size() == 3, tokens.err.c_str());
    }

    // A number from a flag or a config is used as given or refused, naming the flag, or the file and field.
    void invalidNumbersAreRefusedNotReplaced()
    {
        const QString model = m_root + "/tiny.safetensors";
        const std::vector<std::pair<QStringList, std::string>> flags = {
            {{"train", "--model", model, "--lr", "nan"}, "--lr"},
            {{"train", "--model", model, "--lr", "inf"}, "--lr"},
            {{"train", "--model", model, "--lr", "-1"}, "--lr"},
            {{"train", "--model", model, "--lr", "0"}, "--lr"},
            {{"train", "--model", model, "--epochs", "-5"}, "--epochs"},
            {{"train", "--model", model, "--batch-size", "-3"}, "--batch-size"},
            {{"train", "--model", model, "--seed", "-1"}, "--seed"},
            {{"train", "--model", model, "--max-steps", "-2"}, "--max-steps"},
            {{"train", "--model", model, "--accumulate", "0"}, "--accumulate"},
            {{"compare", "--model", model, "--accumulate", "-1"}, "--accumulate"},
            {{"compare", "--model", model, "--seeds", "1,,2"}, "--seeds"},
            {{"compare", "--model", model, "--seeds", "1,"}, "--seeds"},
            {{"compare", "--model", model, "--max-test-images", "-5"}, "--max-test-images"},
            {{"adapt", "--model", model, "--source", "fashion-mnist", "--target", "fashion-mnist:sketch", "--seeds", "1,,2"}, "--seeds"},
            {{"eval", "--model", model, "--dataset", "fashion-mnist", "--seed", "-1"}, "--seed"},
            {{"eval", "--model", model, "--dataset", "fashion-mnist", "--loader-threads", "-1"}, "--loader-threads"},
            {{"info", "--model", model, "--threads", "-4"}, "--threads"},
            {{"continual", "--model", model, "--dataset", "fashion-mnist", "--tasks", "0"}, "--tasks"},
            {{"continual", "--model", model, "--dataset", "fashion-mnist", "--tasks", "-2"}, "--tasks"},
            {{"continual", "--model", model, "--dataset", "fashion-mnist", "--tasks", "1"}, "--tasks"},
            {{"continual", "--model", model, "--dataset", "fashion-mnist", "--tasks", "5", "--loader-threads", "-1"}, "--loader-threads"},
            {{"pretrain", "--patch", "0"}, "--patch"},
            {{"pretrain", "--epochs", "0"}, "--epochs"},
            {{"pretrain", "--seed", "-1"}, "--seed"},
            {{"pretrain", "--batch-size", "1"}, "--batch-size"},
            {{"pretrain", "--lr", "0"}, "--lr"},
            {{"pretrain", "--weight-decay", "-0.1"}, "--weight-decay"},
            {{"pretrain", "--width", "129"}, "--width"},
            {{"pretrain", "--max-steps", "-1"}, "--max-steps"},
            {{"params", "--model", "vit-b16", "--strategy", "linear-probe", "--classes", "0"}, "--classes"},
            {{"params", "--model", "vit-b16", "--strategy", "linear-probe", "--classes", "100000000"}, "--classes"},
            {{"params", "--model", "vit-b16", "--strategy", "linear-probe", "--tasks", "-1"}, "--tasks"},
        };
        for (const auto& [args, needle] : flags) {
            const CliResult r = runCli(args);
            QVERIFY2(isOneLineError(r) && r.err.find(needle) != std::string::npos, qPrintable(args.join(' ') + ": " + QString::fromStdString(r.err)));
        }
        // $TUNEBENCH_THREADS that is no count is refused too, not read as "all cores".
        for (const char* value : {"abc", "0", "-2", "4x"}) {
            QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
            environment.insert("TUNEBENCH_THREADS", value);
            const CliResult r = runCli({"eval", "--model", model, "--dataset", "fashion-mnist"}, environment);
            QVERIFY2(isOneLineError(r) && r.err.find("$TUNEBENCH_THREADS") != std::string::npos, (std::string(value) + ": " + r.err).c_str());
        }
        // A config with a NaN (stored as null) or a negative count: refused naming the file and the field.
        const std::vector<std::pair<std::string, std::string>> configs = {
            {R"({"settings": {"model": "m", "dataset": "d", "method": "coop", "lr": null}})", "\"lr\""},
            {R"({"settings": {"model": "m", "dataset": "d", "method": "coop", "lr": -1}})", "\"lr\""},
            {R"({"settings": {"model": "m", "dataset": "d", "method": "coop", "epochs": -5}})", "\"epochs\""},
            {R"({"settings": {"model": "m", "dataset": "d", "method": "coop", "batch_size": -3}})", "\"batch_size\""},
            {R"({"settings": {"model": "m", "dataset": "d", "method": "coop", "max_test_images": -5}})", "\"max_test_images\""},
            {R"({"settings": {"model": "m", "dataset": "d", "method": "coop", "accumulate": 0}})", "\"accumulate\""},
        };
        const std::string config = (m_root + "/bad-config.json").toStdString();
        for (const auto& [text, field] : configs) {
            std::ofstream(config) << text;
            const CliResult r = runCli({"train", "--config", QString::fromStdString(config)});
            QVERIFY2(isOneLineError(r) && r.err.find(config) != std::string::npos && r.err.find(field) != std::string::npos,
                     (text + ": " + r.err).c_str());
        }
    }

    // Issue 30 (2): --accumulate K is a training option of every training command, written to each run's
    // config.json and read back from it; a sweep takes it as a grid axis too.
    void accumulateReachesTheRunConfig()
    {
        const CliResult help = runCli({"train", "--help"});
        QVERIFY2(help.exitCode == 0 && help.out.find("--accumulate K") != std::string::npos &&
                     help.out.find("micro-batches per optimiser step (effective batch = K x batch size") != std::string::npos,
                 help.out.c_str());
        for (const char* command : {"compare", "sweep", "petl-table"}) {
            const CliResult r = runCli({command, "--help"});
            QVERIFY2(r.exitCode == 0 && r.out.find("--accumulate K") != std::string::npos, command);
        }
        const QStringList sweep = dryCoopSweep();
        const CliResult one = runCli(sweep + QStringList{"--accumulate", "4", "--out", m_root + "/accumulate-one"});
        QVERIFY2(one.exitCode == 0, one.err.c_str());
        const std::vector<nlohmann::json> configs = runConfigs(m_root + "/accumulate-one");
        QCOMPARE(configs.size(), std::size_t(1));
        QCOMPARE(configs[0]["settings"]["accumulate"].get<int>(), 4);
        QCOMPARE(RunSettings::fromJson(configs[0]["settings"]).accumulate, 4);
        // The default is left out of config.json (configs keep their shape) and reads back as 1.
        RunSettings plain;
        QVERIFY(!plain.toJson().contains("accumulate"));
        QCOMPARE(RunSettings::fromJson(plain.toJson()).accumulate, 1);
        const CliResult grid = runCli(sweep + QStringList{"--opt", "accumulate=1,2", "--out", m_root + "/accumulate-grid"});
        QVERIFY2(grid.exitCode == 0, grid.err.c_str());
        std::set<int> values;
        for (const nlohmann::json& config : runConfigs(m_root + "/accumulate-grid"))
            values.insert(RunSettings::fromJson(config["settings"]).accumulate);
        QCOMPARE(values, (std::set<int>{1, 2}));
        const CliResult zero = runCli(sweep + QStringList{"--accumulate", "0", "--out", m_root + "/accumulate-zero"});
        QVERIFY2(isOneLineError(zero) && zero.err.find("--accumulate") != std::string::npos, zero.err.c_str());
    }

    // Issue 30 (1): --checkpointing none|image|text|both is a training option, written to config.json where
    // it is not "none" and read back, a sweep's grid axis; another value is a one-line error naming it.
    void checkpointingReachesTheRunConfig()
    {
        for (const char* command : {"train", "compare", "sweep"}) {
            const CliResult r = runCli({command, "--help"});
            QVERIFY2(r.exitCode == 0 && r.out.find("--checkpointing none|image|text|both") != std::string::npos, command);
        }
        const QStringList sweep = dryCoopSweep();
        const CliResult one = runCli(sweep + QStringList{"--checkpointing", "text", "--out", m_root + "/checkpointing-one"});
        QVERIFY2(one.exitCode == 0, one.err.c_str());
        const std::vector<nlohmann::json> configs = runConfigs(m_root + "/checkpointing-one");
        QCOMPARE(configs.size(), std::size_t(1));
        QCOMPARE(configs[0]["settings"]["checkpointing"].get<std::string>(), std::string("text"));
        QCOMPARE(RunSettings::fromJson(configs[0]["settings"]).checkpointing, std::string("text"));
        const CliResult grid = runCli(sweep + QStringList{"--opt", "checkpointing=none,both", "--out", m_root + "/checkpointing-grid"});
        QVERIFY2(grid.exitCode == 0, grid.err.c_str());
        std::set<std::string> values;
        for (const nlohmann::json& config : runConfigs(m_root + "/checkpointing-grid"))
            values.insert(RunSettings::fromJson(config["settings"]).checkpointing);
        QCOMPARE(values, (std::set<std::string>{"none", "both"}));
        const CliResult bad = runCli(sweep + QStringList{"--checkpointing", "vision", "--out", m_root + "/checkpointing-bad"});
        QVERIFY2(isOneLineError(bad) && bad.err.find("--checkpointing must be none, image, text or both, got 'vision'") != std::string::npos,
                 bad.err.c_str());
    }

    // A FIFO (or another non-regular file) is refused before it is opened, wherever a path is read: opening
    // one for reading would wait for a writer forever.
    void nonRegularFilesAreRefusedAtOnce()
    {
        const std::string fifo = (m_root + "/fifo").toStdString();
        QVERIFY(::mkfifo(fifo.c_str(), 0600) == 0);
        const QString f = QString::fromStdString(fifo);
        // A Hugging Face folder whose weights are a FIFO.
        const std::filesystem::path hf = (m_root + "/hf-fifo").toStdString();
        std::filesystem::create_directories(hf);
        std::filesystem::copy_file((m_root + "/tiny-hf/config.json").toStdString(), hf / "config.json");
        QVERIFY(::mkfifo((hf / "model.safetensors").c_str(), 0600) == 0);
        const std::vector<QStringList> cases = {
            {"info", "--model", f},
            {"info", "--model", QString::fromStdString(hf.string())},
            {"tokenize", "--vocab", f, "x"},
            {"train", "--config", f},
            // Images: the decode read the whole file, so a FIFO hung encode and classify.
            {"encode", "--model", m_root + "/tiny.safetensors", "--vocab", m_vocab, "--image", f},
            {"classify", "--model", m_root + "/tiny.safetensors", "--vocab", m_vocab, "--class", "cat", "--class", "dog", "--image", m_imageA,
             "--image", f},
        };
        for (const QStringList& args : cases) {
            QElapsedTimer timer;
            timer.start();
            const CliResult r = runCli(args, QProcessEnvironment::systemEnvironment(), 2000);
            QVERIFY2(r.exitCode != -1, qPrintable(args.join(' ') + ": no answer within 2 s"));
            QVERIFY2(isOneLineError(r), qPrintable(args.join(' ') + ": " + QString::fromStdString(r.err)));
            QVERIFY2(r.err.find("not a regular file") != std::string::npos || r.err.find("fifo") != std::string::npos,
                     qPrintable(args.join(' ') + ": " + QString::fromStdString(r.err)));
            QVERIFY(timer.elapsed() < 2000);
            if (args.contains("--image"))
                QVERIFY2(r.err.find(fifo) != std::string::npos, r.err.c_str());
        }
    }

private:
    // A dry sweep of one CoOp run on the tiny model: it writes the run's config.json and trains nothing.
    QStringList dryCoopSweep() const
    {
        return {"sweep", "--model", m_root + "/tiny.safetensors", "--datasets", "fashion-mnist", "--methods", "coop",
                "--shots", "1", "--in-process", "--dry-run"};
    }

    // The config.json of every run a sweep wrote under `folder`.
    static std::vector<nlohmann::json> runConfigs(const QString& folder)
    {
        std::vector<nlohmann::json> configs;
        for (const auto& entry : std::filesystem::directory_iterator(folder.toStdString() + "/runs"))
            configs.push_back(nlohmann::json::parse(std::ifstream(entry.path() / "config.json")));
        return configs;
    }

    QTemporaryDir m_dir;
    QString m_root, m_vocab, m_imageA, m_imageB;
    ModelSpec m_spec;
    StateDict m_weights;
};

QTEST_GUILESS_MAIN(TestCli)
#include "tst_cli.moc"
