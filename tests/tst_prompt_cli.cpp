// tunebench-cli train / eval / export / compare end to end on a generated folder dataset with a tiny CLIP: JSON on
// stdout, run folders on disk, prompt import through eval --prompt.
#include "core/io/CheckpointWriter.h"
#include "core/io/StateDict.h"
#include "core/train/Trainer.h"
#include "tests/CliRunner.h"
#include "tests/ClipVocabulary.h"
#include "tests/ModelFixtures.h"

#include <QtTest>

#include <sys/stat.h>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace tunebench;
using nlohmann::json;
using test::CliResult;
using test::runCli;

class TestPromptCli : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        // A small folder dataset: 4 classes, 4 train / 2 val / 3 test images each, a colour per class.
        m_dataset = m_dir.path() + "/toys";
        const char* classes[] = {"apple", "banana", "cherry", "grape"};
        cv::RNG rng(3);
        for (int c = 0; c < 4; ++c)
            for (auto [split, count] : {std::pair<const char*, int>{"train", 4}, {"val", 2}, {"test", 3}}) {
                const fs::path folder = fs::path(m_dataset.toStdString()) / split / classes[c];
                fs::create_directories(folder);
                for (int i = 0; i < count; ++i) {
                    cv::Mat image(20, 24, CV_8UC3, cv::Scalar(60 * c, 255 - 60 * c, 40 * i));
                    cv::randn(image, cv::Scalar(60 * c, 200 - 40 * c, 100), cv::Scalar(20, 20, 20));
                    cv::imwrite((folder / (std::to_string(i) + ".png")).string(), image);
                }
            }
        m_model = m_dir.path() + "/tiny.safetensors";
        writeOpenAiSafetensors(test::randomWeights(test::tinyClipSpec(), 7), m_model.toStdString());
        m_vocab = QString::fromStdString(test::demoVocabularyPath());  // any vocabulary does: the demo model's
        m_runs = m_dir.path() + "/runs";
    }

    void trainEvalExport()
    {
        const auto trained = runCli({"train", "--model", m_model, "--vocab", m_vocab, "--dataset", m_dataset, "--method", "coop",
                                     "--shots", "2", "--seed", "1", "--base-new", "--epochs", "1", "--batch-size", "4", "--opt",
                                     "n_ctx=4", "--runs", m_runs, "--threads", "2"});
        QVERIFY2(trained.exitCode == 0, trained.err.c_str());
        const json results = json::parse(trained.out);
        QVERIFY(results["base"].is_number() && results["new"].is_number() && results["h"].is_number());
        QCOMPARE(results["n"].get<int>(), 6);  // the 2 base classes' test images
        QCOMPARE(results["trainable_parameters"].get<int>(), 4 * 64);
        QCOMPARE(results["train"]["steps"].get<int>(), 1);  // 2 shots x 2 base classes, batch 4
        const double h = 2 * results["base"].get<double>() * results["new"].get<double>() /
                         (results["base"].get<double>() + results["new"].get<double>());
        QVERIFY(std::abs(results["h"].get<double>() - h) < 1e-9);
        const std::string run = results["run"].get<std::string>();
        for (const char* file : {"config.json", "metrics.jsonl", "results.json", "checkpoint/checkpoint.json",
                                 "export/prompt.json", "export/prompt.safetensors"})
            QVERIFY2(fs::exists(fs::path(run) / file), file);
        QVERIFY(trained.err.find("ETA") != std::string::npos);

        // The exported prompt evaluated through eval --prompt on the same classes gives the same base accuracy.
        const auto evaluated = runCli({"eval", "--model", m_model, "--vocab", m_vocab, "--dataset", m_dataset, "--split", "test",
                                       "--prompt", QString::fromStdString(run + "/export/prompt.json"), "--base-new", "--threads", "2"});
        QVERIFY2(evaluated.exitCode == 0, evaluated.err.c_str());
        const json scores = json::parse(evaluated.out);
        QVERIFY(std::abs(scores["base"].get<double>() - results["base"].get<double>()) < 1e-9);
        QVERIFY(std::abs(scores["new"].get<double>() - results["new"].get<double>()) < 1e-9);

        const auto exported = runCli({"export", "--run", QString::fromStdString(run), "--out", m_dir.path() + "/again", "--vocab", m_vocab});
        QVERIFY2(exported.exitCode == 0, exported.err.c_str());
        QVERIFY(fs::exists((m_dir.path() + "/again.safetensors").toStdString()));
        QCOMPARE(json::parse(exported.out)["nearest_words"].size(), size_t(4));
    }

    // Ctrl-C stops a run after the current step with its folder and last finished epoch kept; train --resume
    // then ends exactly where an uninterrupted run ends.
    void ctrlCStopsAndResumeFinishesExactly()
    {
        const int epochs = 100;  // 4 steps each: long enough to interrupt, seconds in all
        auto trainArgs = [&](const QString& runs) {
            return QStringList{"train", "--model", m_model, "--vocab", m_vocab, "--dataset", m_dataset, "--method", "coop", "--shots", "4",
                               "--seed", "3", "--epochs", QString::number(epochs), "--batch-size", "4", "--opt", "n_ctx=4", "--runs",
                               runs, "--threads", "1", "--loader-threads", "2"};
        };
        const QString straightRuns = m_dir.path() + "/straight", stoppedRuns = m_dir.path() + "/stopped";
        const auto straight = runCli(trainArgs(straightRuns));
        QVERIFY2(straight.exitCode == 0, straight.err.c_str());
        const json finished = json::parse(straight.out);

        auto anEpochIsSaved = [&] {
            std::error_code ec;
            for (const auto& run : fs::directory_iterator(stoppedRuns.toStdString(), ec))
                if (fs::exists(run.path() / "checkpoint" / "checkpoint.json"))
                    return true;
            return false;
        };
        bool interrupted = false;
        const auto stopped = test::runCliInterrupted(trainArgs(stoppedRuns), anEpochIsSaved, interrupted);
        QVERIFY2(interrupted, "the run ended before it could be interrupted");
        QCOMPARE(stopped.exitCode, 1);
        const json partial = json::parse(stopped.out);
        QCOMPARE(partial["status"].get<std::string>(), std::string("stopped"));
        QVERIFY(partial["train"]["epochs_done"].get<int>() >= 1 && partial["train"]["epochs_done"].get<int>() < epochs);
        QVERIFY(stopped.err.find("--resume") != std::string::npos);
        const std::string run = partial["run"].get<std::string>();
        QCOMPARE(json::parse(std::ifstream(fs::path(run) / "results.json"))["status"].get<std::string>(), std::string("stopped"));

        const auto resumed = runCli({"train", "--resume", QString::fromStdString(run)});
        QVERIFY2(resumed.exitCode == 0, resumed.err.c_str());
        const json done = json::parse(resumed.out);
        QCOMPARE(done["train"]["epochs_done"].get<int>(), epochs);
        QCOMPARE(done["train"]["steps"].get<int>(), 4 * epochs);
        QCOMPARE(done["accuracy"].get<double>(), finished["accuracy"].get<double>());
        const StateDict a = readSafetensors(findCheckpoint(finished["run"].get<std::string>() + "/checkpoint")->trainablePath);
        const StateDict b = readSafetensors(findCheckpoint(run + "/checkpoint")->trainablePath);
        QCOMPARE(a.size(), b.size());
        for (const auto& [name, tensor] : a)
            QVERIFY2(b.count(name) && tensor.equal(b.at(name)), name.c_str());
    }

    // A file that is no image among the training and test images: dataset inspect names it, training and
    // evaluation skip it, and the run says so on stderr and in results.json; the counts are the loaded ones.
    void unreadableImagesAreReported()
    {
        const fs::path root = (m_dir.path() + "/with-broken").toStdString();
        fs::copy(m_dataset.toStdString(), root, fs::copy_options::recursive);
        std::ofstream(root / "train" / "apple" / "broken.jpg") << "this is not a JPEG";
        std::ofstream(root / "test" / "apple" / "broken.jpg") << "nor is this";
        const QString dataset = QString::fromStdString(root.string());

        const auto inspected = runCli({"dataset", "inspect", dataset, "--verify"});
        QVERIFY2(inspected.exitCode == 0, inspected.err.c_str());
        const json report = json::parse(inspected.out);
        int named = 0;
        for (const auto& problem : report["problems"])
            named += problem.get<std::string>().find("broken.jpg") != std::string::npos;
        QCOMPARE(named, 4);  // each file: its signature, then its failed decoding
        const int listed = report["splits"]["train"].get<int>() + report["splits"]["val"].get<int>() + report["splits"]["test"].get<int>();
        QCOMPARE(report["verified"]["decoded"].get<int>(), listed - 2);
        QCOMPARE(report["verified"]["unreadable"].get<int>(), 2);

        const auto trained = runCli({"train", "--model", m_model, "--vocab", m_vocab, "--dataset", dataset, "--method", "coop",
                                     "--epochs", "1", "--batch-size", "4", "--opt", "n_ctx=4", "--runs", m_runs, "--threads", "2"});
        QVERIFY2(trained.exitCode == 0, trained.err.c_str());
        const json results = json::parse(trained.out);
        const int trainListed = report["splits"]["train"].get<int>();
        QCOMPARE(results["train"]["images"].get<int>(), trainListed - 1);
        QCOMPARE(results["train"]["skipped_images"].get<int>(), 1);
        QCOMPARE(results["n"].get<int>(), report["splits"]["test"].get<int>() - 1);
        QCOMPARE(results["problems"].size(), size_t(2));
        for (const auto& problem : results["problems"])
            QVERIFY2(problem.get<std::string>().find("broken.jpg") != std::string::npos, problem.dump().c_str());
        QVERIFY2(trained.err.find("2 images could not be read") != std::string::npos, trained.err.c_str());
        QVERIFY(trained.err.find((root / "train" / "apple" / "broken.jpg").string()) != std::string::npos);
        const json stored = json::parse(std::ifstream(fs::path(results["run"].get<std::string>()) / "results.json"));
        QCOMPARE(stored["problems"], results["problems"]);
    }

    // Issue 32 (16): files the dataset scan drops (empty, a FIFO, no image extension) are reported by
    // training too, each with its reason, as the undecodable ones are.
    void filesDroppedAtScanTimeAreReportedByTraining()
    {
        const fs::path root = (m_dir.path() + "/with-dropped").toStdString();
        fs::copy(m_dataset.toStdString(), root, fs::copy_options::recursive);
        std::ofstream(root / "train" / "apple" / "empty.jpg").flush();
        QCOMPARE(::mkfifo((root / "train" / "apple" / "pipe.png").c_str(), 0644), 0);
        std::ofstream(root / "test" / "apple" / "notes.txt") << "not an image";
        const auto trained = runCli({"train", "--model", m_model, "--vocab", m_vocab, "--dataset", QString::fromStdString(root.string()),
                                     "--method", "coop", "--epochs", "1", "--batch-size", "4", "--opt", "n_ctx=4", "--runs", m_runs,
                                     "--threads", "2"});
        QVERIFY2(trained.exitCode == 0, trained.err.c_str());
        const json results = json::parse(trained.out);
        for (const char* name : {"empty.jpg", "pipe.png", "notes.txt"}) {
            int named = 0;
            for (const auto& problem : results["problems"])
                named += problem.get<std::string>().find(name) != std::string::npos &&
                         problem.get<std::string>().find("skipped") != std::string::npos;
            QVERIFY2(named == 1, (std::string(name) + " in " + results["problems"].dump()).c_str());
            QVERIFY2(trained.err.find(name) != std::string::npos, trained.err.c_str());
        }
        const json stored = json::parse(std::ifstream(fs::path(results["run"].get<std::string>()) / "results.json"));
        QCOMPARE(stored["problems"], results["problems"]);
    }

    // Issue 32 (15): an image over the pixel limit is skipped from its header and reported, as undecodable
    // ones are; a limit given is recorded in the run's settings.
    void imagesOverThePixelLimitAreSkippedAndReported()
    {
        const fs::path root = (m_dir.path() + "/with-huge").toStdString();
        fs::copy(m_dataset.toStdString(), root, fs::copy_options::recursive);
        // A PNG header of 20000 x 20000 pixels (a 1 MB file can hold that many).
        const unsigned char header[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R',
                                        0, 0, 0x4E, 0x20, 0, 0, 0x4E, 0x20, 8, 2, 0, 0, 0, 0, 0, 0, 0, 0};
        std::ofstream(root / "train" / "apple" / "huge.png", std::ios::binary).write(reinterpret_cast<const char*>(header), sizeof header);
        // The same claim as a PPM and a TIFF (an IFD with ImageWidth and ImageLength), which OpenCV decoded unchecked.
        std::ofstream(root / "train" / "apple" / "huge.ppm", std::ios::binary) << "P6\n20000 20000\n255\n" << std::string(64, '\0');
        const unsigned char tiff[] = {'I', 'I', 42, 0, 8, 0, 0, 0, 2, 0, 0x00, 0x01, 4, 0, 1, 0, 0, 0, 0x20, 0x4E, 0, 0,
                                      0x01, 0x01, 4, 0, 1, 0, 0, 0, 0x20, 0x4E, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
        std::ofstream(root / "train" / "apple" / "huge.tif", std::ios::binary).write(reinterpret_cast<const char*>(tiff), sizeof tiff);
        const auto trained = runCli({"train", "--model", m_model, "--vocab", m_vocab, "--dataset", QString::fromStdString(root.string()),
                                     "--method", "coop", "--epochs", "1", "--batch-size", "4", "--opt", "n_ctx=4", "--runs", m_runs,
                                     "--threads", "2", "--max-image-pixels", "60000000"});
        QVERIFY2(trained.exitCode == 0, trained.err.c_str());
        const json results = json::parse(trained.out);
        QCOMPARE(results["train"]["skipped_images"].get<int>(), 3);
        QCOMPARE(results["problems"].size(), std::size_t(3));
        for (const char* name : {"huge.png", "huge.ppm", "huge.tif"}) {
            const std::string expected = std::string(name) + ": 20000 x 20000 pixels, over the limit of 60000000";
            QVERIFY2(results["problems"].dump().find(expected) != std::string::npos, results["problems"].dump().c_str());
            QVERIFY2(trained.err.find(expected) != std::string::npos, trained.err.c_str());
        }
        const json config = json::parse(std::ifstream(fs::path(results["run"].get<std::string>()) / "config.json"));
        QCOMPARE(config["settings"]["max_image_pixels"].get<std::int64_t>(), std::int64_t(60000000));
        const auto refused = runCli({"eval", "--model", m_model, "--dataset", m_dataset, "--max-image-pixels", "0"});
        QVERIFY2(refused.exitCode != 0 && refused.err.find("--max-image-pixels") != std::string::npos, refused.err.c_str());
    }

    void zeroShotEvalPrintsTheContractJson()
    {
        const auto evaluated = runCli({"eval", "--model", m_model, "--vocab", m_vocab, "--dataset", m_dataset, "--split", "test",
                                       "--threads", "2"});
        QVERIFY2(evaluated.exitCode == 0, evaluated.err.c_str());
        const json scores = json::parse(evaluated.out);
        QCOMPARE(scores["n"].get<int>(), 12);
        QCOMPARE(scores["per_class"].size(), size_t(4));
        QVERIFY(scores["accuracy"].get<double>() >= 0 && scores["accuracy"].get<double>() <= 1);
        const auto bad = runCli({"eval", "--model", m_model, "--vocab", m_vocab, "--dataset", m_dataset, "--split", "dev"});
        QVERIFY(bad.exitCode != 0 && bad.out.empty());
    }

    void compareFillsTheTable()
    {
        const auto compared = runCli({"compare", "--model", m_model, "--vocab", m_vocab, "--dataset", m_dataset, "--methods",
                                      "zeroshot,coop", "--shots", "1", "--seeds", "1,2", "--epochs", "1", "--opt", "n_ctx=2", "--runs",
                                      m_runs, "--threads", "2"});
        QVERIFY2(compared.exitCode == 0, compared.err.c_str());
        const json table = json::parse(compared.out);
        // Zero-shot depends on no seed (every test image is scored): it runs once, at the first seed.
        QCOMPARE(table["methods"]["zeroshot"]["per_seed"].size(), size_t(1));
        QCOMPARE(table["methods"]["zeroshot"]["per_seed"][0]["seed"].get<int>(), 1);
        {
            const json& entry = table["methods"]["coop"];
            QCOMPARE(entry["per_seed"].size(), size_t(2));
            const double base = (entry["per_seed"][0]["base"].get<double>() + entry["per_seed"][1]["base"].get<double>()) / 2;
            const double novel = (entry["per_seed"][0]["new"].get<double>() + entry["per_seed"][1]["new"].get<double>()) / 2;
            QVERIFY(std::abs(entry["base"].get<double>() - base) < 1e-12);
            QVERIFY(std::abs(entry["h"].get<double>() - 2 * base * novel / (base + novel)) < 1e-12);
        }
        const std::string run = table["run"].get<std::string>();
        QVERIFY(fs::exists(fs::path(run) / "table.csv"));
        QVERIFY(fs::exists(fs::path(run) / "table.json"));
        QVERIFY(compared.err.find("method") != std::string::npos);
        // compare's folder is a study: a sweep plan whose cells are ordinary run folders, each with its own
        // results.json, and the table's per-seed numbers are theirs.
        const auto status = runCli({"sweep", "status", QString::fromStdString(run)});
        QVERIFY2(status.exitCode == 0, status.err.c_str());
        QCOMPARE(json::parse(status.out)["finished"].get<int>(), 3);
        QCOMPARE(json::parse(status.out)["total"].get<int>(), 3);
        int cellsSeen = 0;
        for (const auto& cell : fs::directory_iterator(fs::path(run) / "runs")) {
            const json results = json::parse(std::ifstream(cell.path() / "results.json"));
            const json config = json::parse(std::ifstream(cell.path() / "config.json"));
            const std::string method = config["method"].get<std::string>();
            const int seed = config["settings"]["seed"].get<int>();
            QCOMPARE(results["status"].get<std::string>(), std::string("finished"));
            const json& perSeed = table["methods"][method]["per_seed"][method == "zeroshot" ? 0 : seed - 1];
            QCOMPARE(perSeed["seed"].get<int>(), seed);
            QCOMPARE(perSeed["base"], results["base"]);
            ++cellsSeen;
        }
        QCOMPARE(cellsSeen, 3);
    }

    void compareRunsZeroShotPerSeedOnSampledTestImages()
    {
        // --max-test-images scores a seeded sample of the test images: the seed matters to zero-shot too.
        const auto compared = runCli({"compare", "--model", m_model, "--vocab", m_vocab, "--dataset", m_dataset, "--methods", "zeroshot",
                                      "--shots", "1", "--seeds", "1,2", "--max-test-images", "6", "--runs", m_runs, "--threads", "2"});
        QVERIFY2(compared.exitCode == 0, compared.err.c_str());
        const json out = json::parse(compared.out);
        const json& perSeed = out["methods"]["zeroshot"]["per_seed"];
        QCOMPARE(perSeed.size(), size_t(2));
        QCOMPARE(perSeed[1]["seed"].get<int>(), 2);
    }

    void compareDrawsCurvesAndScoresTargets()
    {
        // The few-shot figure (every --shots count) and domain generalisation (the dataset's variants as targets).
        const QString negative = m_dataset + ":negative", sketch = m_dataset + ":sketch";
        const auto compared = runCli({"compare", "--model", m_model, "--vocab", m_vocab, "--dataset", m_dataset, "--methods",
                                      "zeroshot,coop", "--shots", "1,2", "--seeds", "1", "--epochs", "1", "--opt", "n_ctx=2",
                                      "--eval-datasets", negative + "," + sketch, "--runs", m_runs, "--threads", "2"});
        QVERIFY2(compared.exitCode == 0, compared.err.c_str());
        const json out = json::parse(compared.out);
        // Zero-shot ignores the shots: one point at 0 (the figure's star). CoOp: one point per count.
        QCOMPARE(out["curves"]["zeroshot"].size(), size_t(1));
        QCOMPARE(out["curves"]["zeroshot"][0]["shots"].get<int>(), 0);
        QCOMPARE(out["curves"]["coop"].size(), size_t(2));
        QCOMPARE(out["curves"]["coop"][0]["shots"].get<int>(), 1);
        QCOMPARE(out["curves"]["coop"][1]["shots"].get<int>(), 2);
        for (const json& point : out["curves"]["coop"])
            for (const char* key : {"base", "new", "h"})
                QVERIFY2(point[key].is_number(), key);
        // The table is the last count's, and its curve point carries the same numbers.
        QCOMPARE(out["shots"].get<int>(), 2);
        QCOMPARE(out["methods"]["coop"]["h"], out["curves"]["coop"][1]["h"]);
        QCOMPARE(out["methods"]["zeroshot"]["base"], out["curves"]["zeroshot"][0]["base"]);
        // Targets: every method on every target dataset, as the per-seed runs measured them.
        for (const QString& target : {negative, sketch}) {
            const std::string name = fs::path(target.toStdString()).filename().string();
            QVERIFY2(out["targets"].contains(name), name.c_str());
            for (const char* method : {"zeroshot", "coop"}) {
                const json& accuracy = out["targets"][name][method];
                QVERIFY(accuracy.is_number() && accuracy.get<double>() >= 0 && accuracy.get<double>() <= 1);
                QCOMPARE(accuracy, out["methods"][method]["per_seed"][0]["targets"][name]);
            }
        }
        QVERIFY(compared.err.find("domain generalisation") != std::string::npos);
        // Files: the table, the curve points and the figure (PNG and PDF, drawn by the workbench's plot).
        const fs::path run = out["run"].get<std::string>();
        std::ifstream csv(run / "curve.csv");
        std::string line;
        std::vector<std::string> lines;
        while (std::getline(csv, line))
            lines.push_back(line);
        QCOMPARE(lines.size(), size_t(4));  // header, zero-shot's star, CoOp at 1 and 2 shots
        QCOMPARE(lines[0], std::string("method,shots,accuracy,base,new,h"));
        QVERIFY(lines[1].rfind("zeroshot,0,", 0) == 0);
        QVERIFY(lines[3].rfind("coop,2,", 0) == 0);
        std::ifstream png(run / "curve.png", std::ios::binary);
        char magic[8] = {};
        png.read(magic, 8);
        QVERIFY(std::string(magic + 1, 3) == "PNG");
        std::ifstream pdf(run / "curve.pdf", std::ios::binary);
        char pdfMagic[5] = {};
        pdf.read(pdfMagic, 4);
        QCOMPARE(std::string(pdfMagic), std::string("%PDF"));
        QVERIFY(fs::file_size(run / "curve.png") > 1000);
        const json config = json::parse(std::ifstream(run / "config.json"));
        QCOMPARE(config["settings"]["shot_counts"], json::array({1, 2}));
        QVERIFY(config["recipe"]["crop_scale_min"].is_number());
    }

    void compareRefusesBadInput()
    {
        auto compare = [&](const QStringList& extra) {
            QStringList arguments = {"compare", "--model", m_model, "--vocab", m_vocab, "--dataset", m_dataset, "--methods", "zeroshot",
                                     "--runs", m_runs, "--threads", "2"};
            return runCli(arguments + extra);
        };
        // The error is the last line on stderr, one line; flag errors come before anything is loaded, alone.
        auto expectError = [](const CliResult& result, const std::string& words, bool alone) {
            QVERIFY2(result.exitCode > 0, result.err.c_str());
            QVERIFY2(result.out.empty(), result.out.c_str());
            QVERIFY(!result.err.empty() && result.err.back() == '\n');
            const std::string last = result.err.substr(result.err.rfind('\n', result.err.size() - 2) + 1);
            QVERIFY2(last.find(words) != std::string::npos, result.err.c_str());
            if (alone)
                QCOMPARE(std::count(result.err.begin(), result.err.end(), '\n'), 1L);
        };
        expectError(compare({"--shots", "0,4"}), "0 is not a shot count", true);
        expectError(compare({"--shots", "1,two"}), "'two' is not a whole number", true);
        expectError(compare({"--shots", "4,2"}), "must increase", true);
        expectError(runCli({"compare", "--model", m_model, "--vocab", m_vocab, "--dataset", m_dataset + ":nope", "--methods", "zeroshot",
                            "--runs", m_runs}),
                    "unknown image domain 'nope'", false);
        // A target whose classes differ: one line naming the differences.
        const fs::path other = fs::path(m_dir.path().toStdString()) / "other";
        for (const char* split : {"train", "test"})
            for (const char* name : {"apple", "kiwi"}) {
                fs::create_directories(other / split / name);
                cv::imwrite((other / split / name / "0.png").string(), cv::Mat(8, 8, CV_8UC3, cv::Scalar(10, 20, 30)));
            }
        expectError(compare({"--eval-datasets", QString::fromStdString(other.string())}), "only in other: kiwi", false);
    }

    // A full disk at any moment of a run: a one-line error and exit 1, never LibTorch's abort; no temporary
    // left; and the checkpoint it names is whole: with room again, the run resumes from it and finishes.
    void aFullDiskIsOneLineAndKeepsTheCheckpoint()
    {
        if (::geteuid() != 0)
            QSKIP("mounting a small tmpfs needs root (CI runs the tests as root)");
        const fs::path disk = (m_dir.path() + "/small-disk").toStdString();
        fs::create_directories(disk);
        if (::mount("tmpfs", disk.c_str(), "tmpfs", 0, "size=3m") != 0)
            QSKIP("cannot mount a tmpfs here");
        struct Unmount
        {
            std::string path;
            ~Unmount() { ::umount2(path.c_str(), MNT_DETACH); }
        } unmount{disk.string()};
        auto trainArgs = [&](const fs::path& runs) {
            return QStringList{"train", "--model", m_model, "--vocab", m_vocab, "--dataset", m_dataset, "--method", "coop", "--shots", "4",
                               "--seed", "1", "--epochs", "2", "--batch-size", "4", "--opt", "n_ctx=4", "--runs",
                               QString::fromStdString(runs.string()), "--threads", "2"};
        };
        auto freeBytes = [&] {
            struct statvfs status {};
            ::statvfs(disk.c_str(), &status);
            return std::uintmax_t(status.f_bavail) * status.f_frsize;
        };
        // What a whole run takes, then every amount of room short of it, a page at a time.
        const std::uintmax_t emptyDisk = freeBytes();
        const auto whole = runCli(trainArgs(disk / "whole"));
        QVERIFY2(whole.exitCode == 0, whole.err.c_str());
        const std::uintmax_t needed = emptyDisk - freeBytes();
        fs::remove_all(disk / "whole");
        const std::uintmax_t page = 4096;
        int failed = 0;
        for (std::uintmax_t room = 0; room < needed; room += page) {
            const fs::path runs = disk / "runs", filler = disk / "filler";
            fs::remove_all(runs);
            fillLeaving(filler, room);
            const auto r = runCli(trainArgs(runs));
            const std::string where = std::to_string(room) + " bytes free: exit " + std::to_string(r.exitCode) + ": " + r.err;
            QVERIFY2(r.exitCode == 0 || r.exitCode == 1, where.c_str());
            if (r.exitCode == 1) {
                ++failed;
                QVERIFY2(r.out.empty(), where.c_str());
                QVERIFY2(r.err.find("frame #") == std::string::npos && r.err.find("terminate") == std::string::npos, where.c_str());
                // The error is the last line, and the only one of its kind.
                const std::string err = r.err.substr(0, r.err.size() - 1);
                const std::string last = err.substr(err.rfind('\n') == std::string::npos ? 0 : err.rfind('\n') + 1);
                QVERIFY2(last.rfind("tunebench-cli: ", 0) == 0, where.c_str());
                QVERIFY2(r.err.find("tunebench-cli: ") == r.err.size() - last.size() - 1, where.c_str());
            }
            std::error_code ec;
            for (auto it = fs::recursive_directory_iterator(runs, ec); it != fs::recursive_directory_iterator(); ++it)
                QVERIFY2(it->path().filename().string().find(".tmp-") == std::string::npos, (where + " left " + it->path().string()).c_str());
            fs::remove(filler);
            if (r.exitCode != 1)
                continue;
            for (const auto& run : fs::directory_iterator(runs, ec)) {
                if (!fs::exists(run.path() / "checkpoint" / "checkpoint.json"))
                    continue;
                const auto resumed = runCli({"train", "--resume", QString::fromStdString(run.path().string())});
                QVERIFY2(resumed.exitCode == 0, (where + " then resumed: " + resumed.err).c_str());
                QCOMPARE(json::parse(resumed.out)["train"]["epochs_done"].get<int>(), 2);
            }
        }
        QVERIFY(failed > 0);
    }

    // train --resume of a finished run says so and leaves its results.json as it is; it prints them.
    void resumingAFinishedRunSaysItIsFinished()
    {
        const auto trained = runCli({"train", "--model", m_model, "--vocab", m_vocab, "--dataset", m_dataset, "--method", "coop",
                                     "--shots", "2", "--epochs", "2", "--batch-size", "4", "--opt", "n_ctx=4", "--runs",
                                     m_dir.path() + "/finished", "--threads", "2"});
        QVERIFY2(trained.exitCode == 0, trained.err.c_str());
        const fs::path run = json::parse(trained.out)["run"].get<std::string>();
        std::ifstream in(run / "results.json", std::ios::binary);
        const std::string before{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
        const auto resumed = runCli({"train", "--resume", QString::fromStdString(run.string()), "--threads", "1"});
        QVERIFY2(resumed.exitCode == 0, resumed.err.c_str());
        QVERIFY2(resumed.err.find("finished") != std::string::npos, resumed.err.c_str());
        std::ifstream again(run / "results.json", std::ios::binary);
        QCOMPARE(std::string(std::istreambuf_iterator<char>(again), std::istreambuf_iterator<char>()), before);
        const json printed = json::parse(resumed.out);
        QCOMPARE(printed, json::parse(before));
        QVERIFY(printed["train"]["final_loss"].get<double>() > 0);

        // train --run-folder (how a sweep's executors name a planned folder) of the finished run: the same
        // answer; it used to train the run again and rewrite its results.json.
        const auto modified = fs::last_write_time(run / "results.json");
        const auto planned = runCli({"train", "--run-folder", QString::fromStdString(run.string()), "--threads", "1"});
        QVERIFY2(planned.exitCode == 0, planned.err.c_str());
        QCOMPARE(std::count(planned.err.begin(), planned.err.end(), '\n'), std::ptrdiff_t(1));
        QVERIFY2(planned.err.find(run.string() + ": the run is finished") != std::string::npos, planned.err.c_str());
        QCOMPARE(json::parse(planned.out), json::parse(before));
        std::ifstream third(run / "results.json", std::ios::binary);
        QCOMPARE(std::string(std::istreambuf_iterator<char>(third), std::istreambuf_iterator<char>()), before);
        QVERIFY(fs::last_write_time(run / "results.json") == modified);
    }

    // A learned context longer than the text tower's context, and a prompt export of a format this build
    // does not know: each one line that says so, with the numbers or the file.
    void tooLongContextAndUnknownExportFormat()
    {
        QStringList words;
        for (int i = 0; i < 83; ++i)
            words << "a";
        const auto tooLong = runCli({"train", "--model", m_model, "--vocab", m_vocab, "--dataset", m_dataset, "--method", "coop",
                                     "--shots", "1", "--epochs", "1", "--opt", "ctx_init=" + words.join(' '), "--runs",
                                     m_dir.path() + "/too-long", "--threads", "2"});
        QCOMPARE(tooLong.exitCode, 1);
        QVERIFY2(tooLong.err.find("too long") != std::string::npos && tooLong.err.find("83") != std::string::npos &&
                     tooLong.err.find("77") != std::string::npos && tooLong.err.find("exceeds dimension") == std::string::npos,
                 tooLong.err.c_str());

        const auto trained = runCli({"train", "--model", m_model, "--vocab", m_vocab, "--dataset", m_dataset, "--method", "coop",
                                     "--shots", "1", "--epochs", "1", "--batch-size", "4", "--opt", "n_ctx=4", "--runs",
                                     m_dir.path() + "/for-format", "--threads", "2"});
        QVERIFY2(trained.exitCode == 0, trained.err.c_str());
        const fs::path exported = fs::path(json::parse(trained.out)["run"].get<std::string>()) / "export";
        const fs::path future = fs::path(m_dir.path().toStdString()) / "future";
        fs::copy_file(exported / "prompt.safetensors", future.string() + ".safetensors");
        json manifest = json::parse(std::ifstream(exported / "prompt.json"));
        QCOMPARE(manifest["format"].get<std::string>(), std::string("tunebench-prompt-1"));
        manifest["format"] = "tunebench-prompt-999";
        std::ofstream(future.string() + ".json") << manifest.dump();
        const auto evaluated = runCli({"eval", "--model", m_model, "--vocab", m_vocab, "--dataset", m_dataset, "--prompt",
                                       QString::fromStdString(future.string() + ".json"), "--threads", "2"});
        QCOMPARE(evaluated.exitCode, 1);
        QVERIFY2(evaluated.err.find(future.string() + ".json") != std::string::npos &&
                     evaluated.err.find("tunebench-prompt-999") != std::string::npos,
                 evaluated.err.c_str());
    }

private:
    // Fills the file system of `filler` with it, then gives back `room` bytes (whole pages).
    static void fillLeaving(const fs::path& filler, std::uintmax_t room)
    {
        const int fd = ::open(filler.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        QVERIFY(fd >= 0);
        std::vector<char> page(4096, 'x');
        off_t size = 0;
        while (::write(fd, page.data(), page.size()) == static_cast<ssize_t>(page.size()))
            size += static_cast<off_t>(page.size());
        QVERIFY(::ftruncate(fd, size - static_cast<off_t>(std::min<std::uintmax_t>(room, size))) == 0);
        ::close(fd);
    }

    QTemporaryDir m_dir;
    QString m_model, m_vocab, m_runs, m_dataset;
};

QTEST_GUILESS_MAIN(TestPromptCli)
#include "tst_prompt_cli.moc"
