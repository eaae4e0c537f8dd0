// What is done to a dataset index once it is read: CPython-exact randomness, Dassl few-shot sampling,
// CoOp's base-to-new class split, and the image-domain variants (the renderings, NAME:DOMAIN datasets
// through the loader, the same-classes check). Golden vectors come from CPython 3.11 (`random` module,
// stdlib only); the Python used is quoted next to each vector so that it can be rerun.

#include "DatasetFixtures.h"

#include "core/Error.h"
#include "core/Utf8Path.h"
#include "core/data/DatasetIndex.h"
#include "core/data/DatasetLayouts.h"
#include "core/data/FewShot.h"
#include "core/data/ImageBatchSource.h"
#include "core/data/ImageDomains.h"
#include "core/data/PyRandom.h"

#include <QtTest>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <filesystem>
#include <map>
#include <numeric>
#include <set>

using namespace tunebench;
using namespace tunebench::test;
namespace fs = std::filesystem;

namespace {

// Toy items named <prefix><number>; returns the numbers, in order.
std::vector<int> numbersOf(const std::vector<Sample>& samples, size_t prefixLength)
{
    std::vector<int> numbers;
    for (const Sample& sample : samples)
        numbers.push_back(std::stoi(sample.path.substr(prefixLength)));
    return numbers;
}

// train = [(f"tr{i}", 5 if i in (10,40,82) else (i*7+3)%5) for i in range(83)]
std::vector<Sample> toyTrain()
{
    std::vector<Sample> samples;
    for (int i = 0; i < 83; ++i)
        samples.push_back({"tr" + std::to_string(i), -1, (i == 10 || i == 40 || i == 82) ? 5 : (i * 7 + 3) % 5});
    return samples;
}

// val = [(f"va{i}", (i*2)%6) for i in range(23)]
std::vector<Sample> toyVal()
{
    std::vector<Sample> samples;
    for (int i = 0; i < 23; ++i)
        samples.push_back({"va" + std::to_string(i), -1, (i * 2) % 6});
    return samples;
}

std::vector<Sample> labelled(const std::string& prefix, const std::vector<int>& labels)
{
    std::vector<Sample> samples;
    for (size_t i = 0; i < labels.size(); ++i)
        samples.push_back({prefix + std::to_string(i), -1, labels[i]});
    return samples;
}

std::vector<std::pair<std::string, int>> pairsOf(const std::vector<Sample>& samples)
{
    std::vector<std::pair<std::string, int>> pairs;
    for (const Sample& sample : samples)
        pairs.emplace_back(sample.path, sample.label);
    return pairs;
}

} // namespace

class TestDatasetProtocols : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void pyRandomMatchesCPython();
    void pyRandomSampleMethods();
    void fewShotMatchesDassl();
    void applyFewShotOnIndex();
    void baseNewSplitMatchesCoOp();
    void baseNewHalves();
    void imageDomainsRenderDeterministically();
    void datasetVariants();
    void differentClassesAreNamed();
    void fashionMnistVariants();
};

void TestDatasetProtocols::pyRandomMatchesCPython()
{
    {  // random.seed(1); [random.getrandbits(32) for _ in range(5)]
        PyRandom rng(1);
        const std::vector<std::uint64_t> expected = {577090037, 2444712010, 3639700191, 3445702192, 3280387012};
        for (std::uint64_t value : expected)
            QCOMPARE(rng.getrandbits(32), value);
    }
    {  // random.seed(1); random.sample(range(100), 16)
        PyRandom rng(1);
        const std::vector<size_t> expected = {17, 72, 97, 8, 32, 15, 63, 57, 60, 83, 48, 26, 12, 62, 3, 49};
        QCOMPARE(rng.sampleIndices(100, 16), expected);
    }
    {  // random.seed(1); random.sample(range(10), 4)
        PyRandom rng(1);
        QCOMPARE(rng.sampleIndices(10, 4), (std::vector<size_t>{2, 1, 4, 0}));
    }
    {  // x = list(range(20)); random.seed(3); random.shuffle(x)
        std::vector<int> items(20);
        std::iota(items.begin(), items.end(), 0);
        PyRandom rng(3);
        rng.shuffle(items);
        QCOMPARE(items, (std::vector<int>{8, 3, 6, 5, 15, 16, 2, 12, 0, 1, 13, 10, 19, 9, 14, 11, 4, 17, 18, 7}));
    }
    {  // random.seed(2); [repr(random.random()) for _ in range(3)]: compared bit for bit
        PyRandom rng(2);
        QVERIFY(rng.random() == 0.9560342718892494);
        QVERIFY(rng.random() == 0.9478274870593494);
        QVERIFY(rng.random() == 0.05655136772680869);
    }
    {  // random.seed(0); 3 x getrandbits(32), getrandbits(64), (40), (1), (33)
        PyRandom rng(0);
        QCOMPARE(rng.getrandbits(32), std::uint64_t(3626764237));
        QCOMPARE(rng.getrandbits(32), std::uint64_t(1654615998));
        QCOMPARE(rng.getrandbits(32), std::uint64_t(3255389356));
        QCOMPARE(rng.getrandbits(64), std::uint64_t(7758176404715800194ull));
        QCOMPARE(rng.getrandbits(40), std::uint64_t(283641720628ull));
        QCOMPARE(rng.getrandbits(1), std::uint64_t(1));
        QCOMPARE(rng.getrandbits(33), std::uint64_t(2195908194ull));
    }
    {  // random.seed(2**40 + 5): a two-word key
        PyRandom rng((std::uint64_t(1) << 40) + 5);
        QCOMPARE(rng.getrandbits(32), std::uint64_t(2166296868));
        QCOMPARE(rng.getrandbits(32), std::uint64_t(2220160828));
        QCOMPARE(rng.getrandbits(32), std::uint64_t(1153647273));
    }
    {  // random.seed(2**64 - 1)
        PyRandom rng(~std::uint64_t(0));
        QCOMPARE(rng.getrandbits(32), std::uint64_t(93740670));
        QCOMPARE(rng.getrandbits(32), std::uint64_t(1068495656));
        QCOMPARE(rng.getrandbits(32), std::uint64_t(1452108352));
    }
    {  // random.seed(-7): CPython seeds with abs()
        PyRandom rng = PyRandom::fromSignedSeed(-7);
        QCOMPARE(rng.getrandbits(32), std::uint64_t(1390851128));
        QCOMPARE(rng.getrandbits(32), std::uint64_t(4071050724));
    }
    {  // random.seed(5); random.choices(range(7), k=10)
        PyRandom rng(5);
        QCOMPARE(rng.choiceIndices(7, 10), (std::vector<size_t>{4, 5, 5, 6, 5, 6, 0, 3, 6, 4}));
    }
    {  // random.seed(4); random.sample(range(1000000), 5)
        PyRandom rng(4);
        QCOMPARE(rng.sampleIndices(1000000, 5), (std::vector<size_t>{247514, 318031, 108177, 756250, 415297}));
    }
    {  // r = random.Random(1); [r._randbelow(n) for n in (1, 2, 3, 1000, 2**33+1, 2**63+12345)]
        PyRandom rng(1);
        QCOMPARE(rng.randbelow(1), std::uint64_t(0));
        QCOMPARE(rng.randbelow(2), std::uint64_t(0));
        QCOMPARE(rng.randbelow(3), std::uint64_t(1));
        QCOMPARE(rng.randbelow(1000), std::uint64_t(120));
        QCOMPARE(rng.randbelow((std::uint64_t(1) << 33) + 1), std::uint64_t(6225516707ull));
        QCOMPARE(rng.randbelow((std::uint64_t(1) << 63) + 12345), std::uint64_t(7002664860023442459ull));
    }
    {  // sample() over arbitrary items equals picking by sampleIndices
        PyRandom rng(1);
        const std::vector<std::string> letters = {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"};
        QCOMPARE(rng.sample(letters, 4), (std::vector<std::string>{"c", "b", "e", "a"}));
    }
}

void TestDatasetProtocols::pyRandomSampleMethods()
{
    // k = 16 gives setsize 21 + 4**3 = 85: n = 85 uses the pool method, n = 86 the selected-set method.
    // random.seed(7); random.sample(range(85), 16) / random.sample(range(86), 16)
    PyRandom pool(7);
    QCOMPARE(pool.sampleIndices(85, 16),
             (std::vector<size_t>{41, 19, 50, 6, 9, 68, 12, 46, 74, 7, 64, 27, 4, 11, 55, 53}));
    PyRandom selectedSet(7);
    QCOMPARE(selectedSet.sampleIndices(86, 16),
             (std::vector<size_t>{41, 19, 50, 83, 6, 9, 68, 12, 46, 74, 7, 64, 27, 4, 11, 55}));
    // random.seed(2); random.sample(range(60), 20)
    PyRandom larger(2);
    QCOMPARE(larger.sampleIndices(60, 20), (std::vector<size_t>{55, 54, 3, 5, 56, 23, 53, 10, 47, 42, 19, 16, 38,
                                                                13, 51, 2, 37, 52, 27, 40}));
    PyRandom rng(1);
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, rng.sampleIndices(3, 4));
    QVERIFY(rng.sampleIndices(0, 0).empty());
}

void TestDatasetProtocols::fewShotMatchesDassl()
{
    // Python: random.seed(seed); fewshot(train, K); fewshot(val, min(K, 4)) with Dassl's
    // generate_fewshot_dataset (defaultdict grouping, random.sample, repeat=False).
    struct Case
    {
        int shots;
        std::uint64_t seed;
        std::vector<int> train, val;
    };
    const std::vector<Case> cases = {
        {4, 1,
         {15, 55, 70, 5, 41, 16, 36, 61, 72, 37, 52, 32, 33, 8, 38, 3, 64, 34, 49, 79, 10, 40, 82},
         {0, 15, 9, 6, 10, 13, 1, 7, 2, 20, 17, 14}},
        {16, 2,
         {0,  5,  15, 20, 25, 30, 35, 45, 50, 55, 60, 65, 70, 75, 80, 6,  11, 81, 26, 76, 56, 51, 21, 46, 16, 41, 1,
          31, 71, 36, 61, 57, 42, 37, 72, 22, 2,  52, 27, 67, 12, 17, 62, 7,  32, 47, 77, 38, 3,  13, 28, 68, 58, 43,
          48, 63, 23, 78, 33, 8,  18, 53, 73, 59, 29, 69, 39, 14, 34, 64, 44, 19, 49, 79, 54, 74, 24, 9,  4,  10, 40, 82},
         {15, 12, 21, 18, 22, 10, 16, 4, 8, 17, 5, 20}},
        {1, 3, {20, 21, 57, 78, 14, 82}, {0, 22, 8}},
    };
    for (const Case& c : cases) {
        PyRandom rng(c.seed);
        const std::vector<Sample> train = sampleFewShot(toyTrain(), c.shots, rng);
        const std::vector<Sample> val = sampleFewShot(toyVal(), std::min(c.shots, 4), rng);
        QCOMPARE(numbersOf(train, 2), c.train);
        QCOMPARE(numbersOf(val, 2), c.val);
    }
    // Class sizes are 17, 16, 16, 16, 15 and 3: K = 16 cuts the first to 16, keeps the short ones whole.
    PyRandom rng(2);
    QCOMPARE(sampleFewShot(toyTrain(), 16, rng).size(), size_t(82));
    PyRandom unused(2);
    QCOMPARE(sampleFewShot(toyTrain(), 0, unused).size(), size_t(83));
}

void TestDatasetProtocols::applyFewShotOnIndex()
{
    DatasetIndex dataset;
    dataset.classNames = {"a", "b", "c", "d", "e", "f"};
    dataset.train = toyTrain();
    dataset.val = toyVal();
    dataset.test = labelled("te", {0, 1, 2});

    const DatasetIndex fewShot = applyFewShot(dataset, FewShotOptions{4, 1});
    QCOMPARE(numbersOf(fewShot.train, 2),
             (std::vector<int>{15, 55, 70, 5, 41, 16, 36, 61, 72, 37, 52, 32, 33, 8, 38, 3, 64, 34, 49, 79, 10, 40, 82}));
    QCOMPARE(numbersOf(fewShot.val, 2), (std::vector<int>{0, 15, 9, 6, 10, 13, 1, 7, 2, 20, 17, 14}));
    QCOMPARE(fewShot.test.size(), size_t(3));
    QCOMPARE(fewShot.classNames, dataset.classNames);

    // val gets min(K, 4): with K = 8 every val class (3 or 4 items) is kept whole or cut to 4.
    const DatasetIndex eight = applyFewShot(dataset, FewShotOptions{8, 5});
    for (const SplitCounts& counts : eight.perClassCounts())
        QVERIFY(counts.val <= 4 && counts.train <= 8);

    // Reproducible for a seed, different across seeds.
    QCOMPARE(pairsOf(applyFewShot(dataset, {4, 3}).train), pairsOf(applyFewShot(dataset, {4, 3}).train));
    QVERIFY(pairsOf(applyFewShot(dataset, {4, 3}).train) != pairsOf(applyFewShot(dataset, {4, 4}).train));

    QCOMPARE(applyFewShot(dataset, {0, 1}).train.size(), size_t(83));
    QVERIFY(errorOf([&] { applyFewShot(dataset, {-2, 1}); }).contains("shots"));
}

void TestDatasetProtocols::baseNewSplitMatchesCoOp()
{
    // Python: CoOp's subsample_classes on train labels [9,2,7,0,3,5,2,9,0] (present: 0 2 3 5 7 9).
    DatasetIndex dataset;
    dataset.classNames = {"c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9"};
    dataset.train = labelled("t", {9, 2, 7, 0, 3, 5, 2, 9, 0});
    dataset.val = labelled("v", {1, 2, 3, 4, 5, 6, 7, 8, 9, 0});
    dataset.test = labelled("e", {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 0});
    using Pairs = std::vector<std::pair<std::string, int>>;

    const DatasetIndex base = subsampleClasses(dataset, ClassSubset::Base);
    QCOMPARE(pairsOf(base.train), (Pairs{{"t1", 1}, {"t3", 0}, {"t4", 2}, {"t6", 1}, {"t8", 0}}));
    QCOMPARE(pairsOf(base.val), (Pairs{{"v1", 1}, {"v2", 2}, {"v9", 0}}));
    QCOMPARE(pairsOf(base.test), (Pairs{{"e0", 0}, {"e2", 1}, {"e3", 2}, {"e11", 0}}));
    QCOMPARE(base.classNames, (std::vector<std::string>{"c0", "c2", "c3"}));

    const DatasetIndex novel = subsampleClasses(dataset, ClassSubset::New);
    QCOMPARE(pairsOf(novel.train), (Pairs{{"t0", 2}, {"t2", 1}, {"t5", 0}, {"t7", 2}}));
    QCOMPARE(pairsOf(novel.val), (Pairs{{"v4", 0}, {"v6", 1}, {"v8", 2}}));
    QCOMPARE(pairsOf(novel.test), (Pairs{{"e5", 0}, {"e7", 1}, {"e9", 2}, {"e10", 2}}));
    QCOMPARE(novel.classNames, (std::vector<std::string>{"c5", "c7", "c9"}));

    const DatasetIndex all = subsampleClasses(dataset, ClassSubset::All);
    QCOMPARE(pairsOf(all.test), pairsOf(dataset.test));
    QCOMPARE(all.classNames.size(), size_t(10));

    QCOMPARE(parseClassSubset("base"), ClassSubset::Base);
    QCOMPARE(classSubsetName(ClassSubset::New), std::string("new"));
    QVERIFY(errorOf([] { parseClassSubset("old"); }).contains("old"));
}

void TestDatasetProtocols::baseNewHalves()
{
    // OxfordPets: 37 classes -> 19 base / 18 new; EuroSAT: 10 -> 5 / 5.
    for (const auto& [classCount, baseCount] : {std::pair{37, 19}, std::pair{10, 5}}) {
        DatasetIndex dataset;
        std::vector<int> labels;
        for (int i = 0; i < 2 * classCount; ++i)
            labels.push_back((i * 3) % classCount);
        for (int label = 0; label < classCount; ++label)
            dataset.classNames.push_back("class " + std::to_string(label));
        dataset.train = labelled("t", labels);
        dataset.test = labelled("e", labels);

        const DatasetIndex base = subsampleClasses(dataset, ClassSubset::Base);
        const DatasetIndex novel = subsampleClasses(dataset, ClassSubset::New);
        QCOMPARE(int(base.classNames.size()), baseCount);
        QCOMPARE(int(novel.classNames.size()), classCount - baseCount);
        QCOMPARE(base.classNames.front(), std::string("class 0"));
        QCOMPARE(novel.classNames.front(), "class " + std::to_string(baseCount));
        QCOMPARE(base.train.size() + novel.train.size(), dataset.train.size());
        QCOMPARE(int(novel.test.size()), 2 * (classCount - baseCount));
        for (const Sample& sample : novel.test) {
            const int original = dataset.test[std::stoul(sample.path.substr(1))].label;
            QCOMPARE(sample.label, original - baseCount);
        }
        QCOMPARE(selectClassLabels(dataset.train, ClassSubset::All).size(), size_t(classCount));
    }
}

namespace {

// FNV-1a over a matrix's bytes: a checksum that is the same on every machine.
std::uint64_t checksum(const void* data, std::size_t size)
{
    std::uint64_t hash = 0xcbf29ce484222325ull;
    const auto* bytes = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < size; ++i)
        hash = (hash ^ bytes[i]) * 0x100000001b3ull;
    return hash;
}

std::uint64_t checksum(const cv::Mat& image)
{
    const cv::Mat contiguous = image.isContinuous() ? image : image.clone();
    return checksum(contiguous.data, contiguous.total() * contiguous.elemSize());
}

// A 28x28 grey "garment": a bright rectangle with a darker band on black, as Fashion-MNIST draws them.
cv::Mat garment()
{
    cv::Mat gray(28, 28, CV_8UC1, cv::Scalar(0));
    cv::rectangle(gray, cv::Rect(7, 4, 14, 20), cv::Scalar(200), cv::FILLED);
    cv::rectangle(gray, cv::Rect(7, 12, 14, 3), cv::Scalar(90), cv::FILLED);
    cv::Mat rgb;
    cv::cvtColor(gray, rgb, cv::COLOR_GRAY2RGB);
    return rgb;
}

cv::Mat rendered(const std::string& domain, std::uint64_t key)
{
    cv::Mat image = garment();
    renderImageDomain(findImageDomain(domain), image, key);
    return image;
}

} // namespace

void TestDatasetProtocols::imageDomainsRenderDeterministically()
{
    const cv::Mat photo = garment();
    QCOMPARE(findImageDomain("photo"), 0);
    QCOMPARE(findImageDomain("no-such-domain"), -1);
    QVERIFY(!imageDomains()[static_cast<std::size_t>(findImageDomain("sketch"))].inPretraining);  // the held-out domain
    for (const ImageDomain& domain : imageDomains()) {
        // Same input and key, same bytes; never a change of size or type.
        const cv::Mat first = rendered(domain.name, 7), second = rendered(domain.name, 7);
        QCOMPARE(checksum(first), checksum(second));
        QCOMPARE(first.size(), photo.size());
        QCOMPARE(first.type(), CV_8UC3);
        QVERIFY2(domain.name == "photo" || checksum(first) != checksum(photo), domain.name.c_str());
        QVERIFY(!domain.captionTemplates.empty());
    }
    // Exact definitions.
    cv::Mat inverted;
    cv::bitwise_not(photo, inverted);
    QCOMPARE(checksum(rendered("negative", 1)), checksum(inverted));
    cv::Mat flipped;
    cv::flip(photo, flipped, 0);
    QCOMPARE(checksum(rendered("upside-down", 1)), checksum(flipped));
    // The sketch draws edges dark on white: flat regions (background, inside the garment) are white.
    const cv::Mat sketch = rendered("sketch", 1);
    QCOMPARE(sketch.at<cv::Vec3b>(0, 0), cv::Vec3b(255, 255, 255));
    QCOMPARE(sketch.at<cv::Vec3b>(8, 14), cv::Vec3b(255, 255, 255));
    QVERIFY(sketch.at<cv::Vec3b>(4, 14)[0] < 128);  // the garment's top edge
    // Blur keeps the mean brightness and softens edges.
    const cv::Mat blurred = rendered("blurred", 1);
    QVERIFY(std::abs(cv::mean(blurred)[0] - cv::mean(photo)[0]) < 1.0);
    QVERIFY(blurred.at<cv::Vec3b>(14, 6)[0] > 0 && blurred.at<cv::Vec3b>(14, 6)[0] < 200);
    // The tint's colour depends on the image's key only.
    QCOMPARE(checksum(rendered("tinted", 3)), checksum(rendered("tinted", 3)));
    std::set<std::uint64_t> tints;
    for (std::uint64_t key = 0; key < 40; ++key)
        tints.insert(checksum(rendered("tinted", key)));
    QCOMPARE(tints.size(), size_t(6));

    // Checksums of these renderings (OpenCV 4.6 on Debian 12): a change here changes every variant's images.
    const std::map<std::string, std::uint64_t> golden = {
        {"photo", 6009310874120141117ull},    {"negative", 6016212727584310717ull},    {"sketch", 4221250327412380005ull},
        {"blurred", 1334897966110881565ull},  {"upside-down", 14405515737344240413ull}, {"tinted", 16535676573281913081ull}};
    for (const auto& [name, expected] : golden) {
        const std::uint64_t actual = checksum(rendered(name, 5));
        if (actual != expected)
            qWarning("%s: checksum %llu", name.c_str(), static_cast<unsigned long long>(actual));
        QCOMPARE(actual, expected);
    }
}

void TestDatasetProtocols::datasetVariants()
{
    QTemporaryDir temporary;
    QVERIFY(temporary.isValid());
    const fs::path folder = pathFromUtf8(temporary.path().toStdString()) / "tiny-idx";
    writeIdxDataset(folder);
    const DatasetIndex plain = openDataset(utf8(folder));
    QCOMPARE(plain.recipe.cropScaleMin, 0.5);  // 4x3 images: a crop of 8% would leave nothing
    const DatasetIndex variant = openDataset(utf8(folder) + ":negative");
    QCOMPARE(variant.name, std::string("tiny-idx:negative"));
    QCOMPARE(variant.domain, std::string("negative"));
    QCOMPARE(variant.classNames, plain.classNames);
    QCOMPARE(variant.train.size(), plain.train.size());
    QCOMPARE(variant.val.size(), plain.val.size());
    QCOMPARE(variant.test.size(), plain.test.size());
    QVERIFY(variant.description.find("negative") != std::string::npos);
    for (const auto* split : {&variant.train, &variant.val, &variant.test})
        for (const Sample& sample : *split)
            QCOMPARE(sample.domain, findImageDomain("negative"));
    // Few-shot sampling and the class split keep the rendering.
    const DatasetIndex fewShot = subsampleClasses(applyFewShot(variant, {2, 1}), ClassSubset::Base);
    QVERIFY(!fewShot.train.empty());
    for (const Sample& sample : fewShot.train)
        QCOMPARE(sample.domain, findImageDomain("negative"));

    // The loader renders at load time: a variant's batch is the plain image inverted, then preprocessed.
    ImagePipeline pipeline;
    pipeline.eval.resolution = 4;
    LoaderOptions options;
    options.batchSize = 3;
    options.threads = 1;
    const std::vector<Sample> firstPlain(plain.test.begin(), plain.test.begin() + 3);
    const std::vector<Sample> firstVariant(variant.test.begin(), variant.test.begin() + 3);
    ImageBatchSource plainSource(std::make_shared<const DatasetIndex>(plain), firstPlain, pipeline, options);
    ImageBatchSource variantSource(std::make_shared<const DatasetIndex>(variant), firstVariant, pipeline, options);
    const auto plainBatch = plainSource.next(), variantBatch = variantSource.next();
    QVERIFY(plainBatch && variantBatch);
    const std::uint8_t* pixels = plain.idxTest->image(0);
    cv::Mat gray(4, 3, CV_8UC1, const_cast<std::uint8_t*>(pixels)), rgb;
    cv::cvtColor(gray, rgb, cv::COLOR_GRAY2RGB);
    cv::bitwise_not(rgb, rgb);
    std::vector<float> expected(3 * 4 * 4);
    pipeline.eval.apply(rgb, expected.data());
    const float* got = variantBatch->inputs.data_ptr<float>();
    for (std::size_t i = 0; i < expected.size(); ++i)
        QCOMPARE(got[i], expected[i]);
    QVERIFY(!variantBatch->inputs.equal(plainBatch->inputs));

    const QString unknown = errorOf([&] { openDataset(utf8(folder) + ":nope"); });
    QVERIFY2(unknown.contains("tiny-idx:nope") && unknown.contains("unknown image domain 'nope'") && unknown.contains("sketch")
                 && !unknown.contains('\n'),
             qPrintable(unknown));
    const QString twice = errorOf([&] { openDataset(utf8(folder) + ":negative:sketch"); });
    QVERIFY2(twice.contains("already rendered as negative"), qPrintable(twice));
    const QString missing = errorOf([&] { openDataset(utf8(folder) + "-missing:sketch"); });
    QVERIFY2(missing.contains("-missing"), qPrintable(missing));
}

void TestDatasetProtocols::differentClassesAreNamed()
{
    DatasetIndex source, target;
    source.name = "source";
    target.name = "target";
    source.classNames = {"cat", "dog", "fox"};
    target.classNames = source.classNames;
    requireSameClasses(source, target);  // no error
    target.classNames = {"cat", "wolf", "fox", "owl"};
    const QString message = errorOf([&] { requireSameClasses(source, target); });
    QVERIFY2(message.contains("only in source: dog") && message.contains("only in target: wolf, owl") && !message.contains('\n'),
             qPrintable(message));
    target.classNames = {"dog", "cat", "fox"};
    QVERIFY(errorOf([&] { requireSameClasses(source, target); }).contains("order"));
}

void TestDatasetProtocols::fashionMnistVariants()
{
    if (!fs::is_directory("/usr/share/datasets/fashion-mnist"))
        QSKIP("Debian's dataset-fashion-mnist is not installed");
    const auto plain = std::make_shared<const DatasetIndex>(openDataset("fashion-mnist"));
    QCOMPARE(plain->recipe.cropScaleMin, 0.5);
    for (const std::string& domain : datasetVariantDomains()) {
        const auto variant = std::make_shared<const DatasetIndex>(renderedInDomain(*plain, domain));
        QCOMPARE(variant->name, "fashion-mnist:" + domain);
        QCOMPARE(variant->train.size(), size_t(54000));
        QCOMPARE(variant->val.size(), size_t(6000));
        QCOMPARE(variant->test.size(), size_t(10000));
        // A few test images through the loader, twice with different thread counts: the same bytes.
        const std::vector<Sample> few(variant->test.begin(), variant->test.begin() + 8);
        ImagePipeline pipeline;
        pipeline.eval.resolution = 28;
        std::uint64_t sums[2] = {0, 0};
        for (int threads : {1, 2}) {
            LoaderOptions options;
            options.batchSize = 8;
            options.threads = threads;
            ImageBatchSource source(variant, few, pipeline, options);
            const auto batch = source.next();
            QVERIFY(batch);
            sums[threads - 1] = checksum(batch->inputs.data_ptr<float>(), static_cast<std::size_t>(batch->inputs.numel()) * sizeof(float));
        }
        QCOMPARE(sums[0], sums[1]);
    }
}

QTEST_APPLESS_MAIN(TestDatasetProtocols)
#include "tst_dataset_protocols.moc"
