// tunebench-cli predict and the export of every family (issue 29, items 1 and 2): short runs of a prompt
// learner, the linear probe, Tip-Adapter-F, two classic ViT methods and L2P on a tiny CLIP; predict --run and
// predict --export agree line for line, their top-1 reproduces the run's own test accuracy and the engine's
// probabilities, and bad exports (a path out of the folder, another model, misshapen tensors) are one-line errors.
#include "core/data/ImagePreprocess.h"
#include "core/experiment/Experiment.h"
#include "core/export/PromptExport.h"
#include "core/io/CheckpointWriter.h"
#include "core/io/StateDict.h"
#include "core/train/FeatureCache.h"
#include "core/train/RunStore.h"
#include "tests/CliRunner.h"
#include "tests/ClipVocabulary.h"
#include "tests/ModelFixtures.h"

#include <QtTest>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

namespace fs = std::filesystem;
using namespace tunebench;
using nlohmann::json;
using test::CliResult;
using test::runCli;

namespace {

const std::vector<std::string> kClasses = {"apple", "banana", "cherry", "grape"};

std::vector<json> jsonLines(const std::string& text)
{
    std::vector<json> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        if (!line.empty())
            lines.push_back(json::parse(line));
    return lines;
}

// A failed command: nothing on stdout, exactly one line on stderr holding every one of `words`.
void expectOneLineError(const CliResult& result, const std::vector<std::string>& words)
{
    QVERIFY2(result.exitCode > 0, result.err.c_str());
    QVERIFY2(result.out.empty(), result.out.c_str());
    QCOMPARE(std::count(result.err.begin(), result.err.end(), '\n'), 1L);
    for (const std::string& word : words)
        QVERIFY2(result.err.find(word) != std::string::npos, (word + " not in: " + result.err).c_str());
}

// Two predict outputs for the same images: the same paths and classes in the same order, probabilities within 1e-6.
void expectSamePredictions(const std::string& actual, const std::string& expected)
{
    const std::vector<json> a = jsonLines(actual), e = jsonLines(expected);
    QCOMPARE(a.size(), e.size());
    for (size_t i = 0; i < a.size(); ++i) {
        QCOMPARE(a[i]["path"].dump(), e[i]["path"].dump());
        QCOMPARE(a[i].contains("handcrafted"), e[i].contains("handcrafted"));
        for (const char* column : {"top", "handcrafted"}) {
            if (!e[i].contains(column))
                continue;
            QCOMPARE(a[i][column].size(), e[i][column].size());
            for (size_t k = 0; k < e[i][column].size(); ++k) {
                QCOMPARE(a[i][column][k]["class"].dump(), e[i][column][k]["class"].dump());
                const double difference = std::abs(a[i][column][k]["probability"].get<double>() - e[i][column][k]["probability"].get<double>());
                QVERIFY2(difference < 1e-6, (a[i].dump() + " vs " + e[i].dump()).c_str());
            }
        }
    }
}

} // namespace

class TestPredict : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        m_root = m_dir.path().toStdString();
        // tst_prompt_cli's folder dataset: 4 classes, 4 train / 2 val / 3 test images each, a colour per class.
        m_dataset = m_root + "/toys";
        cv::RNG rng(3);
        for (int c = 0; c < 4; ++c)
            for (auto [split, count] : {std::pair<const char*, int>{"train", 4}, {"val", 2}, {"test", 3}}) {
                const fs::path folder = fs::path(m_dataset) / split / kClasses[c];
                fs::create_directories(folder);
                for (int i = 0; i < count; ++i) {
                    cv::Mat image(20, 24, CV_8UC3, cv::Scalar(60 * c, 255 - 60 * c, 40 * i));
                    cv::randn(image, cv::Scalar(60 * c, 200 - 40 * c, 100), cv::Scalar(20, 20, 20));
                    QVERIFY(cv::imwrite((folder / (std::to_string(i) + ".png")).string(), image));
                    if (std::string(split) == "test")
                        m_testImages.push_back({(folder / (std::to_string(i) + ".png")).string(), c});
                }
            }
        m_model = m_root + "/tiny.safetensors";
        writeOpenAiSafetensors(test::randomWeights(test::tinyClipSpec(), 7), m_model);
        m_vocab = test::demoVocabularyPath();
        m_runs = m_root + "/runs";
        // The image-tower cache's default folder (predict's, where a run names none): this test's, never the user's.
        m_defaultCache = m_root + "/default-feature-cache";
        qputenv("TUNEBENCH_CACHE_DIR", QByteArray::fromStdString(m_defaultCache));
    }

    void predictMatchesTheRunAndTheEngine_data()
    {
        QTest::addColumn<QString>("method");
        QTest::addColumn<QStringList>("options");
        QTest::addColumn<QString>("exportFile");
        QTest::newRow("coop") << "coop" << QStringList{"--opt", "n_ctx=4"} << "prompt.json";
        QTest::newRow("linear-probe") << "linear-probe" << QStringList{} << "prompt.json";
        QTest::newRow("tip-adapter-f") << "tip-adapter-f" << QStringList{} << "prompt.json";
        QTest::newRow("vpt-deep") << "vpt-deep" << QStringList{"--opt", "prompt_tokens=2"} << "tuned.json";
        QTest::newRow("lora") << "lora" << QStringList{} << "tuned.json";
    }
    void predictMatchesTheRunAndTheEngine()
    {
        QFETCH(QString, method);
        QFETCH(QStringList, options);
        QFETCH(QString, exportFile);
        // All classes (no base-to-new): the run's accuracy is over exactly the 12 test images predicted below.
        const auto trained = runCli(QStringList{"train", "--model", q(m_model), "--vocab", q(m_vocab), "--dataset", q(m_dataset), "--method",
                                                method, "--shots", "2", "--seed", "1", "--epochs", "1", "--batch-size", "4", "--runs",
                                                q(m_runs), "--threads", "2"} +
                                    options);
        QVERIFY2(trained.exitCode == 0, trained.err.c_str());
        const json results = json::parse(trained.out);
        QCOMPARE(results["n"].get<int>(), 12);
        const std::string run = results["run"].get<std::string>();
        m_trained[method.toStdString()] = run;
        const std::string manifestPath = run + "/export/" + exportFile.toStdString();
        QVERIFY2(fs::exists(manifestPath), manifestPath.c_str());
        QCOMPARE(results["export"].get<std::string>(), manifestPath);
        const json manifest = RunStore::readJsonFile(manifestPath);
        QCOMPARE(manifest["class_names"].get<std::vector<std::string>>(), kClasses);
        QCOMPARE(manifest["checkpoint"]["path"].get<std::string>(), m_model);
        QCOMPARE(manifest["checkpoint"]["sha256"].get<std::string>().size(), size_t(64));

        QStringList images;
        for (const auto& [path, label] : m_testImages)
            images << "--image" << q(path);
        const auto byRun = runCli(QStringList{"predict", "--run", q(run), "--top", "3", "--threads", "2"} + images);
        QVERIFY2(byRun.exitCode == 0, byRun.err.c_str());
        const auto byExport =
            runCli(QStringList{"predict", "--export", q(manifestPath), "--vocab", q(m_vocab), "--top", "3", "--threads", "2"} + images);
        QVERIFY2(byExport.exitCode == 0, byExport.err.c_str());
        // (a) The run and its export predict the same, byte for byte.
        QCOMPARE(byExport.out, byRun.out);

        const std::vector<json> lines = jsonLines(byRun.out);
        QCOMPARE(lines.size(), m_testImages.size());
        const bool handcrafted = findStrategy(method.toStdString()).capabilities.comparesWithHandcrafted();
        int correct = 0;
        for (size_t i = 0; i < lines.size(); ++i) {
            QCOMPARE(lines[i]["path"].get<std::string>(), m_testImages[i].first);
            QCOMPARE(lines[i]["top"].size(), size_t(3));
            QCOMPARE(lines[i].contains("handcrafted"), handcrafted);
            double previous = 1.0;
            for (const json& entry : lines[i]["top"]) {
                QVERIFY(entry["probability"].get<double>() <= previous);
                previous = entry["probability"].get<double>();
            }
            correct += lines[i]["top"][0]["class"].get<std::string>() == kClasses[static_cast<size_t>(m_testImages[i].second)];
        }
        // (b) The top-1 classes reproduce the run's own test accuracy ...
        QCOMPARE(correct / 12.0, results["accuracy"].get<double>());

        // ... and the probabilities are the engine's: the export rebuilt in this process, on the images as the
        // evaluation preprocesses them, softmax of the strategy's logits.
        const Backbone backbone = loadBackbone(m_model, m_vocab, "cpu");
        TaskSetup setup;
        setup.classNames = kClasses;
        setup.promptTemplate = manifest.value("template", setup.promptTemplate);
        setup.tokenizer = backbone.tokenizer;
        ImportedPrompt imported = PromptExport::read(manifestPath, backbone.build(), setup, ModelMismatch::Refuse);
        std::unique_ptr<Strategy> zeroShot;
        if (handcrafted) {
            zeroShot = findStrategy("zeroshot").create();
            zeroShot->attach(backbone.build(), setup, json::object());
        }
        EvalTransform transform;
        transform.resolution = backbone.checkpoint.spec.vision.imageSize;
        auto pixels = torch::empty({12, 3, transform.resolution, transform.resolution});
        for (int64_t i = 0; i < 12; ++i)
            transform.apply(decodeImage(m_testImages[static_cast<size_t>(i)].first), pixels[i].data_ptr<float>());
        torch::NoGradGuard noGrad;
        const auto probabilities = imported.strategy->logits(pixels).to(torch::kDouble).softmax(-1);
        const auto zeroShotProbabilities = zeroShot ? zeroShot->logits(pixels).to(torch::kDouble).softmax(-1) : at::Tensor();
        const auto expectTop = [&](const json& top, const at::Tensor& row) {
            const auto [values, indices] = row.topk(3);
            for (int64_t k = 0; k < 3; ++k) {
                QCOMPARE(top[k]["class"].get<std::string>(), kClasses[static_cast<size_t>(indices[k].item<int64_t>())]);
                QVERIFY2(std::abs(top[k]["probability"].get<double>() - values[k].item<double>()) < 1e-5, top.dump().c_str());
            }
        };
        for (int64_t i = 0; i < 12; ++i) {
            expectTop(lines[static_cast<size_t>(i)]["top"], probabilities[i]);
            if (handcrafted)
                expectTop(lines[static_cast<size_t>(i)]["handcrafted"], zeroShotProbabilities[i]);
        }

        // eval --tuned takes every family's export and scores the run's accuracy again.
        const auto evaluated = runCli({"eval", "--model", q(m_model), "--vocab", q(m_vocab), "--dataset", q(m_dataset), "--tuned",
                                       q(manifestPath), "--threads", "2"});
        QVERIFY2(evaluated.exitCode == 0, evaluated.err.c_str());
        QCOMPARE(json::parse(evaluated.out)["accuracy"].get<double>(), results["accuracy"].get<double>());

        // export --run works for every family, and its export predicts the same again.
        const std::string again = m_root + "/again-" + method.toStdString();
        const auto exported = runCli({"export", "--run", q(run), "--out", q(again), "--vocab", q(m_vocab)});
        QVERIFY2(exported.exitCode == 0, exported.err.c_str());
        QCOMPARE(json::parse(exported.out)["method"].get<std::string>(), method.toStdString());
        const auto byAgain =
            runCli(QStringList{"predict", "--export", q(again + ".json"), "--vocab", q(m_vocab), "--top", "3", "--threads", "2"} + images);
        QVERIFY2(byAgain.exitCode == 0, byAgain.err.c_str());
        QCOMPARE(byAgain.out, byRun.out);
        if (method == "coop")
            m_coopRun = run;
    }

    // The image-tower cache (issue 29, item 5): CoOp keeps the image tower frozen, so a second predict over the
    // same files reads every image's features back and prints the same; without the cache the scores agree
    // within 1e-6; a file rewritten with other pixels is encoded again, and scored as its new pixels are.
    // VPT-Deep changes the image tower's features: encoded every time, nothing stored.
    void predictReusesTheImageTowerCache()
    {
        QVERIFY2(m_trained.count("coop") && m_trained.count("vpt-deep"), "the rows of predictMatchesTheRunAndTheEngine did not run");
        const fs::path images = fs::path(m_root) / "cached-images";
        fs::create_directories(images);
        for (size_t i = 0; i < 4; ++i)
            fs::copy_file(m_testImages[i * 3].first, images / ("image-" + std::to_string(i) + ".png"));
        const std::string cache = m_root + "/predict-cache";
        const auto predict = [&](const std::string& run, const QStringList& cacheOptions) {
            return runCli(QStringList{"predict", "--run", q(run), "--folder", q(images.string()), "--top", "4", "--threads", "2"} + cacheOptions);
        };
        const QStringList inCache = {"--feature-cache", q(cache)};
        const auto expectReport = [](const CliResult& result, const std::string& report) {
            QVERIFY2(result.exitCode == 0, result.err.c_str());
            QVERIFY2(result.err.find(report + "\n") != std::string::npos, ("'" + report + "' not in: " + result.err).c_str());
        };
        const auto counts = [&cache](int fromCache, int encoded) {
            return "image-tower cache " + cache + ": " + std::to_string(fromCache) + " images from the cache, " + std::to_string(encoded) + " encoded";
        };
        const std::string coop = m_trained.at("coop");

        const auto first = predict(coop, inCache);
        expectReport(first, counts(0, 4));
        QCOMPARE(FeatureCache(cache).usage().files, std::int64_t(1));
        const auto second = predict(coop, inCache);
        expectReport(second, counts(4, 0));
        QCOMPARE(second.out, first.out);
        const auto uncached = predict(coop, {"--no-feature-cache"});
        expectReport(uncached, "image-tower cache: off; 4 encoded");
        expectSamePredictions(uncached.out, first.out);
        // The run names no folder (train had no --feature-cache): the default one, $TUNEBENCH_CACHE_DIR.
        const auto byDefault = predict(coop, {});
        expectReport(byDefault, "image-tower cache " + m_defaultCache + ": 0 images from the cache, 4 encoded");
        expectSamePredictions(byDefault.out, first.out);

        // One file rewritten with other pixels: the list is encoded again, and that image scored as it is now
        // (stale features would repeat its old scores).
        cv::Mat other(20, 24, CV_8UC3);
        cv::randn(other, cv::Scalar(230, 20, 200), cv::Scalar(20, 20, 20));
        QVERIFY(cv::imwrite((images / "image-1.png").string(), other));
        const auto rewritten = predict(coop, inCache);
        expectReport(rewritten, counts(0, 4));
        expectSamePredictions(rewritten.out, predict(coop, {"--no-feature-cache"}).out);
        QVERIFY2(jsonLines(rewritten.out).at(1) != jsonLines(first.out).at(1), rewritten.out.c_str());
        const auto afterRewrite = predict(coop, inCache);
        expectReport(afterRewrite, counts(4, 0));
        QCOMPARE(afterRewrite.out, rewritten.out);

        const std::int64_t files = FeatureCache(cache).usage().files;
        for (int pass = 0; pass < 2; ++pass)
            expectReport(predict(m_trained.at("vpt-deep"), inCache), "image-tower cache: not used (VPT-Deep changes the image tower's features); 4 encoded");
        QCOMPARE(FeatureCache(cache).usage().files, files);

        expectOneLineError(predict(coop, inCache + QStringList{"--no-feature-cache"}), {"--feature-cache", "--no-feature-cache"});
    }

    // L2P through the continual command: its export (export.json in the run folder) predicts through both paths.
    void predictsAnL2pRun()
    {
        const auto r = runCli({"continual", "--model", q(m_model), "--dataset", q(m_dataset), "--tasks", "2", "--methods",
                               "l2p", "--seeds", "1", "--epochs-per-task", "1", "--batch-size", "4", "--opt", "pool_size=4", "--opt", "top_k=2",
                               "--runs", q(m_root + "/continual"), "--threads", "2"});
        QVERIFY2(r.exitCode == 0, r.err.c_str());
        const std::string run = json::parse(r.out)["methods"]["l2p"]["per_seed"][0]["run"].get<std::string>();
        const json manifest = RunStore::readJsonFile(run + "/export.json");
        QCOMPARE(manifest["method"].get<std::string>(), std::string("l2p"));
        QCOMPARE(manifest["class_names"].get<std::vector<std::string>>(), kClasses);
        const QString folder = q(m_dataset + "/test/cherry");
        const auto byRun = runCli({"predict", "--run", q(run), "--folder", folder, "--threads", "2"});
        QVERIFY2(byRun.exitCode == 0, byRun.err.c_str());
        const auto byExport = runCli({"predict", "--export", q(run + "/export.json"), "--vocab", q(m_vocab), "--folder", folder, "--threads", "2"});
        QVERIFY2(byExport.exitCode == 0, byExport.err.c_str());
        QCOMPARE(byExport.out, byRun.out);
        const std::vector<json> lines = jsonLines(byRun.out);
        QCOMPARE(lines.size(), size_t(3));
        QCOMPARE(lines[0]["top"].size(), size_t(4));  // --top 5 on four classes
        QVERIFY(!lines[0].contains("handcrafted"));
    }

    void badExportsAndImages()
    {
        QVERIFY2(!m_coopRun.empty(), "the coop row of predictMatchesTheRunAndTheEngine did not run");
        const fs::path source = fs::path(m_coopRun) / "export";
        const json manifest = RunStore::readJsonFile((source / "prompt.json").string());
        const QString image = q(m_testImages.front().first);
        const auto predict = [&](const fs::path& exported) {
            return runCli({"predict", "--export", q(exported.string()), "--vocab", q(m_vocab), "--image", image});
        };

        // A tensors path that leaves the manifest's folder, even to a file that exists: refused, naming the manifest.
        const fs::path bad = fs::path(m_root) / "bad";
        fs::create_directories(bad / "inner");
        fs::copy_file(source / "prompt.safetensors", bad / "x.safetensors");
        for (const std::string& name : {std::string("../x.safetensors"), (bad / "x.safetensors").string(), std::string("sub/x.safetensors"),
                                        std::string("..")}) {
            json escaping = manifest;
            escaping["tensors"] = name;
            std::ofstream(bad / "inner" / "escaping.json") << escaping.dump();
            expectOneLineError(predict(bad / "inner" / "escaping.json"), {"escaping.json", "tensors"});
        }

        // Another model's hash: an error for predict (eval --prompt only warns).
        json otherModel = manifest;
        otherModel["checkpoint"]["sha256"] = std::string(64, '0');
        otherModel["tensors"] = "other-model.safetensors";
        fs::copy_file(source / "prompt.safetensors", bad / "other-model.safetensors");
        std::ofstream(bad / "other-model.json") << otherModel.dump();
        expectOneLineError(predict(bad / "other-model.json"), {"other-model.json", "sha256"});

        // --model: a copy of the model (the same SHA-256) predicts the same; another model is refused.
        const std::string copy = m_root + "/copy-of-tiny.safetensors", other = m_root + "/other-tiny.safetensors";
        fs::copy_file(m_model, copy);
        writeOpenAiSafetensors(test::randomWeights(test::tinyClipSpec(), 8), other);
        const auto byRun = runCli({"predict", "--run", q(m_coopRun), "--image", image});
        QVERIFY2(byRun.exitCode == 0, byRun.err.c_str());
        const auto byCopy = runCli({"predict", "--export", q((source / "prompt.json").string()), "--model", q(copy), "--vocab", q(m_vocab), "--image", image});
        QVERIFY2(byCopy.exitCode == 0, byCopy.err.c_str());
        QCOMPARE(byCopy.out, byRun.out);
        expectOneLineError(runCli({"predict", "--run", q(m_coopRun), "--model", q(other), "--image", image}), {"prompt.json", "sha256"});

        // Tensors that do not fit: the error names the file and the tensor.
        StateDict tensors = readSafetensors((source / "prompt.safetensors").string());
        QVERIFY(tensors.count("ctx"));
        tensors["ctx"] = torch::zeros({3, 64});
        writeSafetensors(tensors, (bad / "misshapen.safetensors").string());
        json misshapen = manifest;
        misshapen["tensors"] = "misshapen.safetensors";
        std::ofstream(bad / "misshapen.json") << misshapen.dump();
        expectOneLineError(predict(bad / "misshapen.json"), {"misshapen.safetensors", "ctx"});

        // A folder with an unreadable image and a file that is no image: the image is reported and skipped,
        // the others predicted, the CSV written.
        const fs::path folder = fs::path(m_root) / "mixed";
        fs::create_directories(folder);
        for (size_t i = 0; i < 3; ++i)
            fs::copy_file(m_testImages[i * 3].first, folder / ("image-" + std::to_string(i) + ".png"));
        std::ofstream(folder / "broken.png") << "this is not a PNG";
        std::ofstream(folder / "notes.txt") << "not an image at all";
        const std::string csv = m_root + "/predictions.csv";
        const auto mixed = runCli({"predict", "--run", q(m_coopRun), "--folder", q(folder.string()), "--top", "2", "--csv", q(csv)});
        QVERIFY2(mixed.exitCode == 0, mixed.err.c_str());
        const std::vector<json> lines = jsonLines(mixed.out);
        QCOMPARE(lines.size(), size_t(3));
        for (size_t i = 0; i < 3; ++i)
            QCOMPARE(lines[i]["path"].get<std::string>(), (folder / ("image-" + std::to_string(i) + ".png")).string());
        QVERIFY2(mixed.err.find("skipped: " + (folder / "broken.png").string()) != std::string::npos, mixed.err.c_str());
        QVERIFY2(mixed.err.find("notes.txt") == std::string::npos, mixed.err.c_str());
        std::ifstream csvFile(csv);
        std::vector<std::string> rows;
        for (std::string row; std::getline(csvFile, row);)
            rows.push_back(row);
        QCOMPARE(rows.size(), size_t(1 + 3 * 2));
        QCOMPARE(rows[0], std::string("path,rank,class,probability,handcrafted_class,handcrafted_probability"));
        const std::string expectedStart = (folder / "image-0.png").string() + ",1," + lines[0]["top"][0]["class"].get<std::string>() + ",";
        QVERIFY2(rows[1].rfind(expectedStart, 0) == 0, rows[1].c_str());
        QVERIFY2(rows[1].find("," + lines[0]["handcrafted"][0]["class"].get<std::string>() + ",") != std::string::npos, rows[1].c_str());

        // Wrong use: one line each.
        expectOneLineError(runCli({"predict", "--image", image}), {"--run", "--export"});
        expectOneLineError(runCli({"predict", "--run", q(m_coopRun)}), {"--image", "--folder"});
        expectOneLineError(runCli({"predict", "--run", q(m_dataset), "--image", image}), {m_dataset});
        expectOneLineError(runCli({"predict", "--run", q(m_coopRun), "--image", q((folder / "broken.png").string())}), {"broken.png"});
    }

private:
    static QString q(const std::string& text) { return QString::fromStdString(text); }

    QTemporaryDir m_dir;
    std::string m_root, m_dataset, m_model, m_vocab, m_runs, m_coopRun, m_defaultCache;
    std::map<std::string, std::string> m_trained;  // method -> run folder of predictMatchesTheRunAndTheEngine
    std::vector<std::pair<std::string, int>> m_testImages;
};

QTEST_GUILESS_MAIN(TestPredict)
#include "tst_predict.moc"
