// The image-tower cache (issue 19): CachedFeatureSource yields what the image loader yields, encoded, in the
// same order; views are stored once and read by later sources; runs of every frozen-tower method give the
// results of uncached runs (within 1e-5) and share each other's views; `tunebench-cli cache` and compare's
// --feature-cache.
#include "core/Utf8Path.h"
#include "core/data/DatasetLayouts.h"
#include "core/experiment/CachedFeatureSource.h"
#include "core/experiment/Experiment.h"
#include "core/io/StateDict.h"
#include "core/train/RunStore.h"
#include "tests/CliRunner.h"

#include <QTemporaryDir>
#include <QtTest>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;
using namespace tunebench;
using nlohmann::json;

namespace {

std::string demoModel()
{
    const char* source = std::getenv("TUNEBENCH_SOURCE_DIR");
    return std::string(source ? source : ".") + "/resources/demo-model";
}

// 9 images in 3 classes, of different sizes; with `broken`, the fifth is not an image.
std::shared_ptr<DatasetIndex> writeFolder(const fs::path& root, bool broken)
{
    auto dataset = std::make_shared<DatasetIndex>();
    dataset->name = "cache-folder";
    dataset->layout = "folder";
    dataset->root = utf8(root);
    dataset->classNames = {"a", "b", "c"};
    for (int i = 0; i < 9; ++i) {
        const fs::path file = root / dataset->classNames[i % 3] / ("image" + std::to_string(i) + ".png");
        fs::create_directories(file.parent_path());
        if (broken && i == 4) {
            std::ofstream(file) << "not a picture";
        } else {
            cv::Mat image(20 + 3 * i, 18 + 2 * i, CV_8UC3);
            cv::randu(image, cv::Scalar::all(0), cv::Scalar::all(255));
            cv::imwrite(utf8(file), image);
        }
        dataset->train.push_back(Sample{utf8(file), -1, i % 3});
    }
    return dataset;
}

ImagePipeline trainPipeline(int resolution)
{
    ImagePipeline pipeline;
    pipeline.eval.resolution = resolution;
    pipeline.train = trainTransform(resolution, 0.3);
    return pipeline;
}

// Numbers of `a` and `b` at the same places (timings and paths aside); the largest absolute difference,
// or infinity when the shapes or any non-number differ.
double largestDifference(const json& a, const json& b)
{
    if (a.is_number() && b.is_number())
        return std::abs(a.get<double>() - b.get<double>());
    if (a.type() != b.type())
        return INFINITY;
    double worst = 0;
    if (a.is_object()) {
        const auto compared = [](const std::string& key) { return key != "seconds" && key != "run" && key != "export" && key != "feature_cache"; };
        for (const auto& [key, value] : b.items())
            if (compared(key) && !a.contains(key))
                return INFINITY;
        for (const auto& [key, value] : a.items()) {
            if (!compared(key))
                continue;
            if (!b.contains(key))
                return INFINITY;
            worst = std::max(worst, largestDifference(value, b[key]));
        }
        return worst;
    }
    if (a.is_array()) {
        if (a.size() != b.size())
            return INFINITY;
        for (std::size_t i = 0; i < a.size(); ++i)
            worst = std::max(worst, largestDifference(a[i], b[i]));
        return worst;
    }
    return a == b ? 0 : INFINITY;
}

StateDict exportedTensors(const json& results)
{
    if (!results.contains("export"))
        return {};
    std::string path = results["export"].get<std::string>();
    path.replace(path.size() - 5, 5, ".safetensors");
    return readSafetensors(path);
}

} // namespace

class TestImageTowerCache : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        torch::set_num_threads(2);
    }

    // Batches equal the image loader's, encoded: order, indices, labels and features, over epochs, for a
    // shuffled loader with a last partial batch; each epoch's view is stored once and read by a second source.
    void batchesAreTheLoadersEncoded()
    {
        const fs::path root = fs::path(m_dir.path().toStdString()) / "clean";
        const auto dataset = writeFolder(root, false);
        const int resolution = 16;
        torch::manual_seed(7);
        const at::Tensor projection = torch::randn({3 * resolution * resolution, 5});
        int encoded = 0;
        const auto encode = [&](const at::Tensor& images) {
            encoded += static_cast<int>(images.size(0));
            return torch::matmul(images.reshape({images.size(0), -1}), projection);
        };
        LoaderOptions options;
        options.batchSize = 4;
        options.shuffle = true;
        options.seed = 3;
        options.threads = 2;
        auto cache = std::make_shared<FeatureCache>((root.parent_path() / "cache-clean").string());
        const CachedFeatureSource::Identity identity{std::string(64, 'f'), "cpu", dataset->name, "train"};
        CachedFeatureSource cached(dataset, dataset->train, trainPipeline(resolution), options, encode, cache, identity);
        ImageBatchSource images(dataset, dataset->train, trainPipeline(resolution), options);
        QCOMPARE(cached.batchesPerEpoch(), images.batchesPerEpoch());
        QCOMPARE(cached.sampleCount(), std::int64_t(9));
        for (std::int64_t epoch : {0, 1, 5}) {
            cached.startEpoch(epoch);
            images.startEpoch(epoch);
            int batches = 0;
            while (auto expected = images.next()) {
                auto got = cached.next();
                QVERIFY(got.has_value());
                QCOMPARE(got->indices, expected->indices);
                QVERIFY(torch::equal(got->labels, expected->labels));
                QVERIFY(torch::allclose(got->inputs, encode(expected->inputs), 1e-5, 1e-5));
                ++batches;
            }
            QVERIFY(!cached.next().has_value());
            QCOMPARE(batches, 3);
        }
        QCOMPARE(cached.viewsComputed(), 3);
        QCOMPARE(cached.viewsReused(), 0);
        QCOMPARE(cache->usage().files, std::int64_t(3));

        // Another source (another batch size, no shuffling) reads the stored views: nothing encoded.
        LoaderOptions other = options;
        other.batchSize = 2;
        other.shuffle = false;
        CachedFeatureSource again(dataset, dataset->train, trainPipeline(resolution), other, encode, cache, identity);
        encoded = 0;
        again.startEpoch(5);
        std::vector<std::int64_t> seen;
        while (auto batch = again.next())
            seen.insert(seen.end(), batch->indices.begin(), batch->indices.end());
        QCOMPARE(seen, (std::vector<std::int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8}));
        QCOMPARE(encoded, 0);
        QCOMPARE(again.viewsReused(), 1);
        // Another seed is another view; so is the evaluation transform (one view for every epoch).
        other.seed = 4;
        CachedFeatureSource reseeded(dataset, dataset->train, trainPipeline(resolution), other, encode, cache, identity);
        reseeded.startEpoch(5);
        QCOMPARE(reseeded.viewsComputed(), 1);
        ImagePipeline eval;
        eval.eval.resolution = resolution;
        CachedFeatureSource evaluation(dataset, dataset->train, eval, other, encode, cache, identity);
        evaluation.startEpoch(0);
        evaluation.startEpoch(1);
        QCOMPARE(evaluation.viewsComputed(), 1);
        QVERIFY(evaluation.viewKey(0).view == evaluation.viewKey(3).view);
        // An image replaced on disk changes the samples' digest: its views are not reused.
        const std::string before = samplesDigest(dataset->train);
        fs::last_write_time(dataset->train[2].path, fs::last_write_time(dataset->train[2].path) - std::chrono::hours(1));
        QVERIFY(samplesDigest(dataset->train) != before);
    }

    // An unreadable image is skipped as the loader skips it, reported, and its view is never stored.
    void unreadableImagesAreSkippedAndNotStored()
    {
        const fs::path root = fs::path(m_dir.path().toStdString()) / "broken";
        const auto dataset = writeFolder(root, true);
        const auto encode = [](const at::Tensor& images) { return images.mean({2, 3}); };
        LoaderOptions options;
        options.batchSize = 4;
        options.threads = 1;
        auto cache = std::make_shared<FeatureCache>((root.parent_path() / "cache-broken").string());
        const CachedFeatureSource::Identity identity{std::string(64, 'f'), "cpu", dataset->name, "test"};
        ImagePipeline eval;
        eval.eval.resolution = 12;
        CachedFeatureSource cached(dataset, dataset->train, eval, options, encode, cache, identity);
        ImageBatchSource images(dataset, dataset->train, eval, options);
        cached.startEpoch(0);
        images.startEpoch(0);
        while (auto expected = images.next()) {
            auto got = cached.next();
            QVERIFY(got.has_value());
            QCOMPARE(got->indices, expected->indices);
            QVERIFY(torch::allclose(got->inputs, encode(expected->inputs)));
        }
        QVERIFY(!cached.next().has_value());
        QCOMPARE(cached.skippedCount(), std::int64_t(1));
        QCOMPARE(cached.problems(), images.problems());
        QVERIFY(cached.problems().front().find("image4.png") != std::string::npos);
        QCOMPARE(cache->usage().files, std::int64_t(0));
        // The next run reports it again.
        CachedFeatureSource next(dataset, dataset->train, eval, options, encode, cache, identity);
        next.startEpoch(0);
        QCOMPARE(next.problems().size(), std::size_t(1));
        QCOMPARE(next.viewsComputed(), 1);
    }

    // Every frozen-tower method: a run with the cache (empty, then filled) gives the uncached run's results
    // and exported tensors within 1e-5; in the first cached pass, methods after CoOp reuse its views.
    void cachedRunsEqualUncachedRuns()
    {
        const Backbone backbone = loadBackbone(demoModel(), "", "cpu");
        const DatasetIndex dataset = openDataset("fashion-mnist");
        const std::string cacheFolder = m_dir.path().toStdString() + "/experiment-cache";
        const std::vector<std::string> methods = {"zeroshot", "coop", "cocoop", "kgcoop", "clip-adapter", "tip-adapter-f", "linear-probe",
                                                  "prompt-tuning", "p-tuning", "prefix-tuning", "p-tuning-v2"};
        for (const std::string& method : methods)
            QVERIFY2(findStrategy(method).capabilities.frozenImageTower, method.c_str());
        QVERIFY(!findStrategy("maple").capabilities.frozenImageTower);
        QVERIFY(!findStrategy("vpt-deep").capabilities.frozenImageTower);

        std::map<std::string, json> uncached;
        for (int pass = 0; pass < 3; ++pass) {
            for (const std::string& method : methods) {
                RunSettings settings;
                settings.model = demoModel();
                settings.dataset = "fashion-mnist";
                settings.method = method;
                settings.shots = 2;
                settings.seed = 2;
                settings.epochs = 3;
                settings.baseNew = true;
                settings.compareHandcrafted = true;
                settings.maxTestImages = 200;
                settings.featureCache = pass == 0 ? "" : cacheFolder;
                RunStore store = RunStore::create(m_dir.path().toStdString() + "/runs", method, dataset.name);
                const ExperimentResult result = runExperiment(settings, backbone, dataset, &store, false);
                const json& results = result.json;
                QCOMPARE(results["status"].get<std::string>(), std::string("finished"));
                if (pass == 0) {
                    QVERIFY(!results.contains("feature_cache"));
                    uncached[method] = results;
                    continue;
                }
                const std::string label = method + " pass " + std::to_string(pass);
                const double difference = largestDifference(uncached[method], results);
                QVERIFY2(difference <= 1e-5, (label + ": results differ by " + std::to_string(difference)).c_str());
                const StateDict a = exportedTensors(uncached[method]);
                const StateDict b = exportedTensors(results);
                QCOMPARE(a.size(), b.size());
                for (const auto& [name, tensor] : a) {
                    QVERIFY2(b.count(name), (label + ": " + name).c_str());
                    const double delta = (tensor.to(torch::kDouble) - b.at(name).to(torch::kDouble)).abs().max().item<double>();
                    QVERIFY2(delta <= 1e-5, (label + ": " + name + " differs by " + std::to_string(delta)).c_str());
                }
                const json& cacheUse = results["feature_cache"];
                const int computed = cacheUse["views_computed"].get<int>();
                const int reused = cacheUse["views_reused"].get<int>();
                if (pass == 2 || method != "zeroshot")  // zero-shot is the first: nothing to reuse yet
                    QVERIFY2(reused > 0, label.c_str());
                // The first cached pass: zero-shot encodes the test images, CoOp its three training epochs;
                // the methods after it that train on those epochs encode nothing (the linear probe and
                // Tip-Adapter-F also read plain and validation views of their own).
                if (pass == 2 || (method != "zeroshot" && method != "coop" && method != "linear-probe" && method != "tip-adapter-f"))
                    QVERIFY2(computed == 0, (label + ": " + std::to_string(computed) + " views computed").c_str());
                if (pass == 1 && method == "coop")
                    QCOMPARE(computed, 3);
            }
        }
        QVERIFY(FeatureCache(cacheFolder).usage().files > 5);
    }

    // The CLI: compare with --feature-cache gives the numbers of --no-feature-cache; cache status and clear.
    void cacheCommandAndCompare()
    {
        const QString cacheFolder = m_dir.path() + "/cli-cache";
        const QStringList compare = {"compare", "--model", QString::fromStdString(demoModel()), "--dataset", "fashion-mnist",
                                     "--methods", "zeroshot,coop,clip-adapter", "--shots", "1", "--epochs", "2",
                                     "--max-test-images", "100", "--runs", m_dir.path() + "/cli-runs"};
        const auto uncached = test::runCli(compare + QStringList{"--no-feature-cache"});
        QVERIFY2(uncached.exitCode == 0, uncached.err.c_str());
        const auto cached = test::runCli(compare + QStringList{"--feature-cache", cacheFolder});
        QVERIFY2(cached.exitCode == 0, cached.err.c_str());
        QVERIFY(cached.err.find("image-tower cache") != std::string::npos);
        const double difference = largestDifference(json::parse(uncached.out), json::parse(cached.out));
        QVERIFY2(difference <= 1e-5, std::to_string(difference).c_str());

        std::ofstream(fs::path(cacheFolder.toStdString()) / "keep.txt") << "not the cache's";
        const auto status = test::runCli({"cache", "status", "--dir", cacheFolder});
        QVERIFY2(status.exitCode == 0, status.err.c_str());
        const json before = json::parse(status.out);
        QVERIFY(before["files"].get<int>() > 0);
        QVERIFY(before["bytes"].get<double>() > 0);
        QCOMPARE(before["limit_bytes"].get<double>(), double(std::uint64_t(10) << 30));
        const auto clear = test::runCli({"cache", "clear", "--dir", cacheFolder});
        QVERIFY2(clear.exitCode == 0, clear.err.c_str());
        const json after = json::parse(clear.out);
        QCOMPARE(after["removed_files"].get<int>(), before["files"].get<int>());
        QCOMPARE(after["files"].get<int>(), 0);
        QVERIFY(fs::exists(fs::path(cacheFolder.toStdString()) / "keep.txt"));
        const auto bad = test::runCli({"cache", "prune"});
        QVERIFY(bad.exitCode != 0);
        QVERIFY(bad.err.find("status or clear") != std::string::npos);
        const auto both = test::runCli(compare + QStringList{"--feature-cache", cacheFolder, "--no-feature-cache"});
        QVERIFY(both.exitCode != 0);
        QVERIFY(both.err.find("--no-feature-cache") != std::string::npos);
    }

private:
    QTemporaryDir m_dir;
};

QTEST_GUILESS_MAIN(TestImageTowerCache)
#include "tst_image_tower_cache.moc"
