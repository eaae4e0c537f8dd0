// The on-disk feature cache: compute once then reuse, invalidation by any key part, recovery from corrupt
// files, and concurrent writers.

#include "core/Error.h"
#include "core/Utf8Path.h"
#include "core/io/StateDict.h"
#include "core/train/FeatureCache.h"

#include <QtTest>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <thread>

using namespace tunebench;
namespace fs = std::filesystem;

namespace {

FeatureCacheKey sampleKey()
{
    return FeatureCacheKey{std::string(64, 'a'), "oxford_pets", "train", "eval224-bicubic-crop1", "plain"};
}

// Deterministic features whose values depend on `offset`, so a stale file cannot pass for a fresh one.
std::pair<at::Tensor, at::Tensor> makeFeatures(double offset, std::int64_t rows = 6)
{
    auto features = torch::arange(rows * 4, torch::kFloat).reshape({rows, 4}) + offset;
    auto labels = torch::arange(rows, torch::kLong) % 3;
    return {features, labels};
}

struct EnvironmentRestorer
{
    explicit EnvironmentRestorer(std::vector<std::string> names)
        : m_names(std::move(names))
    {
        for (const std::string& name : m_names) {
            const char* value = std::getenv(name.c_str());
            m_values.emplace_back(value ? std::optional<std::string>(value) : std::nullopt);
        }
    }
    ~EnvironmentRestorer()
    {
        for (size_t i = 0; i < m_names.size(); ++i) {
            if (m_values[i])
                ::setenv(m_names[i].c_str(), m_values[i]->c_str(), 1);
            else
                ::unsetenv(m_names[i].c_str());
        }
    }
    std::vector<std::string> m_names;
    std::vector<std::optional<std::string>> m_values;
};

std::vector<fs::path> filesIn(const fs::path& folder)
{
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(folder))
        files.push_back(entry.path());
    return files;
}

} // namespace

class TestFeatureCache : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void computesOnceThenHits();
    void anyKeyPartChangeRecomputes();
    void corruptOrForeignFileIsRecomputed();
    void concurrentWritersLeaveAValidFile();
    void defaultFolderFollowsTheEnvironment();
    void badComputationsAndUnwritableFolders();
    void sizeLimitRemovesTheLeastRecentlyUsed();
    void clearRemovesOnlyTheCachesFiles();
    void limitFromTheEnvironment();
};

void TestFeatureCache::computesOnceThenHits()
{
    QTemporaryDir temporary;
    QVERIFY(temporary.isValid());
    const std::string folder = utf8(pathFromUtf8(temporary.path().toStdString()) / "nested" / "features");
    FeatureCache cache(folder);
    const FeatureCacheKey key = sampleKey();
    QVERIFY(!cache.contains(key));

    int computations = 0;
    auto compute = [&] {
        ++computations;
        return makeFeatures(0.5);
    };
    auto [features, labels] = cache.getOrCompute(key, compute);
    QCOMPARE(computations, 1);
    QVERIFY(torch::equal(features, makeFeatures(0.5).first));
    QVERIFY(cache.contains(key));
    QVERIFY(fs::is_regular_file(pathFromUtf8(cache.pathFor(key))));
    QCOMPARE(utf8(pathFromUtf8(cache.pathFor(key)).filename()), key.digest() + ".safetensors");
    QCOMPARE(key.digest().size(), size_t(64));

    // The file is plain safetensors with the key in its metadata.
    std::map<std::string, std::string> metadata;
    const StateDict stored = readSafetensors(cache.pathFor(key), &metadata);
    QCOMPARE(stored.size(), size_t(2));
    QVERIFY(torch::equal(stored.at("labels"), makeFeatures(0.5).second));
    const auto storedKey = nlohmann::json::parse(metadata.at("tunebench.feature_cache_key"));
    QCOMPARE(storedKey.at("dataset").get<std::string>(), std::string("oxford_pets"));
    QCOMPARE(storedKey.at("model_sha256").get<std::string>(), key.modelHash);

    // Hits: the same object, and a new one on the same folder (the next run).
    auto again = cache.getOrCompute(key, compute);
    FeatureCache nextRun(folder);
    auto third = nextRun.getOrCompute(key, compute);
    QCOMPARE(computations, 1);
    QVERIFY(torch::equal(again.first, features));
    QVERIFY(torch::equal(third.first, features));
    QVERIFY(torch::equal(third.second, labels));
    QCOMPARE(third.second.scalar_type(), torch::kLong);
}

void TestFeatureCache::anyKeyPartChangeRecomputes()
{
    QTemporaryDir temporary;
    QVERIFY(temporary.isValid());
    FeatureCache cache(temporary.path().toStdString());
    int computations = 0;
    const FeatureCacheKey base = sampleKey();
    cache.getOrCompute(base, [&] {
        ++computations;
        return makeFeatures(0);
    });

    std::vector<FeatureCacheKey> variants(7, base);
    variants[0].modelHash = std::string(64, 'b');
    variants[1].dataset = "caltech101";
    variants[2].split = "test";
    variants[3].transform = "eval336-bicubic-crop1";
    variants[4].view = "augmented-pass-1";
    variants[5].samples = std::string(64, 'c');
    variants[6].device = "cuda:0";
    std::set<std::string> paths = {cache.pathFor(base)};
    for (size_t i = 0; i < variants.size(); ++i) {
        QVERIFY(!cache.contains(variants[i]));
        auto [features, labels] = cache.getOrCompute(variants[i], [&] {
            ++computations;
            return makeFeatures(double(i + 1));
        });
        QCOMPARE(computations, int(i) + 2);
        QVERIFY(torch::equal(features, makeFeatures(double(i + 1)).first));
        paths.insert(cache.pathFor(variants[i]));
    }
    QCOMPARE(paths.size(), size_t(8));
    // Field boundaries matter: moving text between parts is another key.
    FeatureCacheKey shifted = base;
    shifted.dataset = base.dataset + base.split;
    shifted.split.clear();
    QVERIFY(shifted.digest() != base.digest());

    // The original entry is still there and still right.
    auto [features, labels] = cache.getOrCompute(base, [&] {
        ++computations;
        return makeFeatures(99);
    });
    QCOMPARE(computations, 8);
    QVERIFY(torch::equal(features, makeFeatures(0).first));
}

void TestFeatureCache::corruptOrForeignFileIsRecomputed()
{
    QTemporaryDir temporary;
    QVERIFY(temporary.isValid());
    FeatureCache cache(temporary.path().toStdString());
    const FeatureCacheKey key = sampleKey();
    const std::string path = cache.pathFor(key);
    int computations = 0;
    auto compute = [&] {
        ++computations;
        return makeFeatures(3);
    };

    // Garbage.
    {
        std::ofstream out(path, std::ios::binary);
        out << "this is not a safetensors file";
    }
    QVERIFY(!cache.contains(key));
    QVERIFY(torch::equal(cache.getOrCompute(key, compute).first, makeFeatures(3).first));
    QCOMPARE(computations, 1);
    QVERIFY(cache.contains(key));

    // Truncated (a crash of a writer that did not use a temporary file).
    const auto size = fs::file_size(path);
    fs::resize_file(path, size - 9);
    QVERIFY(!cache.contains(key));
    cache.getOrCompute(key, compute);
    QCOMPARE(computations, 2);
    QCOMPARE(fs::file_size(path), size);

    // A valid file stored for another key (renamed by hand) or without the key metadata.
    FeatureCacheKey other = key;
    other.view = "other";
    cache.getOrCompute(other, [] { return makeFeatures(50); });
    fs::copy_file(cache.pathFor(other), path, fs::copy_options::overwrite_existing);
    QVERIFY(!cache.contains(key));
    QVERIFY(torch::equal(cache.getOrCompute(key, compute).first, makeFeatures(3).first));
    QCOMPARE(computations, 3);

    writeSafetensors({{"features", makeFeatures(7).first}, {"labels", makeFeatures(7).second}}, path);
    QVERIFY(!cache.contains(key));
    QVERIFY(torch::equal(cache.getOrCompute(key, compute).first, makeFeatures(3).first));
    QCOMPARE(computations, 4);

    // Right key, inconsistent tensors (labels do not match the rows).
    std::map<std::string, std::string> metadata;
    readSafetensors(path, &metadata);
    writeSafetensors({{"features", makeFeatures(7).first}, {"labels", torch::zeros({2}, torch::kLong)}}, path, metadata);
    QVERIFY(!cache.contains(key));
    cache.getOrCompute(key, compute);
    QCOMPARE(computations, 5);
    QVERIFY(cache.contains(key));
}

void TestFeatureCache::concurrentWritersLeaveAValidFile()
{
    QTemporaryDir temporary;
    QVERIFY(temporary.isValid());
    const std::string folder = temporary.path().toStdString();
    const FeatureCacheKey key = sampleKey();
    const auto expected = makeFeatures(0.25, 20000); // 320 kB: writes take long enough to overlap

    for (int round = 0; round < 3; ++round) {
        std::atomic<int> computations{0};
        std::atomic<int> inside{0}, maxInside{0};
        std::vector<std::pair<at::Tensor, at::Tensor>> results(2);
        std::vector<std::string> errors(2);
        auto worker = [&](int which) {
            try {
                FeatureCache cache(folder); // separate objects, as two runs would have
                results[static_cast<size_t>(which)] = cache.getOrCompute(key, [&] {
                    ++computations;
                    maxInside = std::max(maxInside.load(), ++inside);
                    std::this_thread::sleep_for(std::chrono::milliseconds(50));
                    --inside;
                    return std::pair<at::Tensor, at::Tensor>{expected.first.clone(), expected.second.clone()};
                });
            } catch (const std::exception& e) {
                errors[static_cast<size_t>(which)] = e.what();
            }
        };
        std::thread first(worker, 0), second(worker, 1);
        first.join();
        second.join();
        QCOMPARE(errors[0], std::string());
        QCOMPARE(errors[1], std::string());
        for (const auto& [features, labels] : results) {
            QVERIFY(torch::equal(features, expected.first));
            QVERIFY(torch::equal(labels, expected.second));
        }
        if (round == 0)
            QCOMPARE(maxInside.load(), 2); // both computed and wrote at the same time
        const StateDict stored = readSafetensors(FeatureCache(folder).pathFor(key));
        QVERIFY(torch::equal(stored.at("features"), expected.first));
        QVERIFY(torch::equal(stored.at("labels"), expected.second));
        // No temporary file is left behind.
        QCOMPARE(filesIn(pathFromUtf8(folder)).size(), size_t(1));
        fs::remove(FeatureCache(folder).pathFor(key));
        QVERIFY(computations.load() == 2);
    }
}

void TestFeatureCache::defaultFolderFollowsTheEnvironment()
{
    EnvironmentRestorer restore({"TUNEBENCH_CACHE_DIR", "XDG_CACHE_HOME", "HOME"});
    ::setenv("TUNEBENCH_CACHE_DIR", "/srv/cache/tb", 1);
    ::setenv("XDG_CACHE_HOME", "/home/u/.xdg-cache", 1);
    ::setenv("HOME", "/home/u", 1);
    QCOMPARE(FeatureCache::defaultFolder(), std::string("/srv/cache/tb"));
    ::unsetenv("TUNEBENCH_CACHE_DIR");
    QCOMPARE(FeatureCache::defaultFolder(), std::string("/home/u/.xdg-cache/tunebench/features"));
    ::setenv("XDG_CACHE_HOME", "", 1);
    QCOMPARE(FeatureCache::defaultFolder(), std::string("/home/u/.cache/tunebench/features"));
    QCOMPARE(FeatureCache().folder(), std::string("/home/u/.cache/tunebench/features"));
}

void TestFeatureCache::badComputationsAndUnwritableFolders()
{
    QTemporaryDir temporary;
    QVERIFY(temporary.isValid());
    FeatureCache cache(temporary.path().toStdString());
    const FeatureCacheKey key = sampleKey();

    auto errorOf = [&](std::function<std::pair<at::Tensor, at::Tensor>()> compute) -> std::string {
        try {
            cache.getOrCompute(key, compute);
        } catch (const Error& error) {
            return error.what();
        }
        return {};
    };
    QVERIFY(errorOf([] { return std::pair<at::Tensor, at::Tensor>{}; }).find("returned no tensors") != std::string::npos);
    const std::string mismatch =
        errorOf([] { return std::pair<at::Tensor, at::Tensor>{torch::zeros({4, 2}), torch::zeros({3}, torch::kLong)}; });
    QVERIFY2(mismatch.find("[4, 2]") != std::string::npos && mismatch.find("[3]") != std::string::npos, mismatch.c_str());
    QVERIFY(!cache.contains(key));

    // A cache folder that cannot be created: the features are still returned, the problem is kept.
    const fs::path blocker = pathFromUtf8(temporary.path().toStdString()) / "a-file";
    std::ofstream(blocker) << "x";
    FeatureCache blocked(utf8(blocker / "features"));
    auto [features, labels] = blocked.getOrCompute(key, [] { return makeFeatures(1); });
    QVERIFY(torch::equal(features, makeFeatures(1).first));
    QVERIFY(!blocked.lastWriteProblem().empty());
    QVERIFY(!blocked.contains(key));
    QVERIFY(blocked.lastWriteProblem().find(utf8(blocker)) != std::string::npos);

    QVERIFY_EXCEPTION_THROWN(FeatureCache(std::string()), Error);
}

// Stores views of `rows` rows until the folder passes the limit: the least recently used go first, a
// read counts as a use, and the file just stored always stays.
void TestFeatureCache::sizeLimitRemovesTheLeastRecentlyUsed()
{
    QTemporaryDir temporary;
    QVERIFY(temporary.isValid());
    const std::string folder = temporary.path().toStdString();
    FeatureCache measure(folder);
    FeatureCacheKey first = sampleKey();
    first.view = "0";
    measure.store(first, makeFeatures(0, 256).first, makeFeatures(0, 256).second);
    const std::uint64_t oneFile = measure.usage().bytes;
    QVERIFY(oneFile > 256 * 4 * 4);
    QCOMPARE(measure.usage().files, std::int64_t(1));

    // Room for three views.
    FeatureCache cache(folder, 3 * oneFile + oneFile / 2);
    std::vector<FeatureCacheKey> keys(5, first);
    for (int i = 0; i < 5; ++i)
        keys[i].view = std::to_string(i);
    const auto past = fs::file_time_type::clock::now() - std::chrono::hours(1);
    for (int i = 1; i < 3; ++i) {
        cache.store(keys[i], makeFeatures(i, 256).first, makeFeatures(i, 256).second);
        // Distinct, ordered use times (file times can be coarse): view 0 oldest, then 1, then 2.
        fs::last_write_time(pathFromUtf8(cache.pathFor(keys[i])), past + std::chrono::minutes(i));
    }
    fs::last_write_time(pathFromUtf8(cache.pathFor(keys[0])), past);
    QCOMPARE(cache.usage().files, std::int64_t(3));
    // Reading view 0 makes it the most recently used: the fourth view pushes out view 1 instead.
    QVERIFY(cache.find(keys[0]).has_value());
    cache.store(keys[3], makeFeatures(3, 256).first, makeFeatures(3, 256).second);
    QCOMPARE(cache.usage().files, std::int64_t(3));
    QVERIFY(cache.contains(keys[0]));
    QVERIFY(!cache.contains(keys[1]));
    QVERIFY(cache.contains(keys[2]));
    QVERIFY(cache.contains(keys[3]));
    QVERIFY(cache.usage().bytes <= cache.limit());

    // A limit below one view keeps only the view just stored.
    FeatureCache tiny(folder, 1);
    tiny.store(keys[4], makeFeatures(4, 256).first, makeFeatures(4, 256).second);
    QCOMPARE(tiny.usage().files, std::int64_t(1));
    QVERIFY(tiny.contains(keys[4]));
    auto hit = tiny.find(keys[4]);
    QVERIFY(hit && torch::equal(hit->first, makeFeatures(4, 256).first));
}

void TestFeatureCache::clearRemovesOnlyTheCachesFiles()
{
    QTemporaryDir temporary;
    QVERIFY(temporary.isValid());
    const fs::path folder = pathFromUtf8(temporary.path().toStdString());
    FeatureCache cache(utf8(folder));
    FeatureCacheKey key = sampleKey();
    cache.getOrCompute(key, [] { return makeFeatures(0); });
    key.view = "other";
    cache.getOrCompute(key, [] { return makeFeatures(1); });
    // A leftover of an interrupted store, and files that are not the cache's.
    std::ofstream(folder / (std::string(64, 'e') + ".safetensors.tmp-123-0")) << "partial";
    std::ofstream(folder / "notes.txt") << "mine";
    std::ofstream(folder / "model.safetensors") << "not a cache file";
    fs::create_directories(folder / "sub");
    QCOMPARE(cache.usage().files, std::int64_t(2));

    const FeatureCache::Usage removed = cache.clear();
    QCOMPARE(removed.files, std::int64_t(3));
    QCOMPARE(cache.usage().files, std::int64_t(0));
    QCOMPARE(cache.usage().bytes, std::uint64_t(0));
    QVERIFY(fs::exists(folder / "notes.txt"));
    QVERIFY(fs::exists(folder / "model.safetensors"));
    QVERIFY(fs::is_directory(folder / "sub"));
    QVERIFY(!cache.contains(key));
    // A folder that does not exist is an empty cache.
    FeatureCache missing(utf8(folder / "absent"));
    QCOMPARE(missing.usage().files, std::int64_t(0));
    QCOMPARE(missing.clear().files, std::int64_t(0));
}

void TestFeatureCache::limitFromTheEnvironment()
{
    EnvironmentRestorer restore({"TUNEBENCH_CACHE_LIMIT"});
    ::unsetenv("TUNEBENCH_CACHE_LIMIT");
    QCOMPARE(FeatureCache::defaultLimit(), std::uint64_t(10) << 30);
    const std::vector<std::pair<std::string, std::uint64_t>> sizes = {
        {"123", 123}, {"2K", 2048}, {"1.5M", 1572864}, {"20G", std::uint64_t(20) << 30}, {"20GB", std::uint64_t(20) << 30},
        {"1GiB", std::uint64_t(1) << 30}, {"1t", std::uint64_t(1) << 40}, {"0", 0}};
    for (const auto& [text, bytes] : sizes) {
        ::setenv("TUNEBENCH_CACHE_LIMIT", text.c_str(), 1);
        QCOMPARE(FeatureCache::defaultLimit(), bytes);
    }
    for (const char* bad : {"lots", "-1", "5X", "G", "12 G"}) {
        ::setenv("TUNEBENCH_CACHE_LIMIT", bad, 1);
        try {
            FeatureCache::defaultLimit();
            QFAIL(bad);
        } catch (const Error& error) {
            QVERIFY2(std::string(error.what()).find("TUNEBENCH_CACHE_LIMIT") != std::string::npos, error.what());
        }
    }
    QCOMPARE(FeatureCache::sizeText(512), std::string("512 bytes"));
    QCOMPARE(FeatureCache::sizeText(std::uint64_t(3) << 29), std::string("1.5 GiB"));
}

QTEST_APPLESS_MAIN(TestFeatureCache)
#include "tst_feature_cache.moc"
