// Dataset layouts, CPython-exact randomness, Dassl few-shot sampling and the base-to-new class split.
// Golden vectors come from CPython 3.11 (`random` module, stdlib only); the Python used is quoted next to
// each vector so that it can be rerun.

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
#include <opencv2/imgcodecs.hpp>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <numeric>

using namespace tunebench;
namespace fs = std::filesystem;

namespace {

// The message of the tunebench::Error that `action` throws, or an empty string if it throws none.
template <typename Action>
QString errorOf(Action&& action)
{
    try {
        action();
    } catch (const Error& error) {
        return QString::fromStdString(error.what());
    }
    return {};
}

void writeImage(const fs::path& file, int seed = 0)
{
    fs::create_directories(file.parent_path());
    cv::Mat image(8, 6, CV_8UC3, cv::Scalar(seed * 10 % 256, 40, 200));
    QVERIFY2(cv::imwrite(utf8(file), image), utf8(file).c_str());
}

void writeText(const fs::path& file, const std::string& text)
{
    fs::create_directories(file.parent_path());
    std::ofstream out(file, std::ios::binary);
    out << text;
}

std::string fileName(const Sample& sample)
{
    return utf8(pathFromUtf8(sample.path).filename());
}

std::vector<std::string> fileNames(const std::vector<Sample>& samples)
{
    std::vector<std::string> names;
    for (const Sample& sample : samples)
        names.push_back(fileName(sample));
    return names;
}

std::vector<int> labelsOf(const std::vector<Sample>& samples)
{
    std::vector<int> labels;
    for (const Sample& sample : samples)
        labels.push_back(sample.label);
    return labels;
}

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

void writeBigEndian32(std::string& out, std::uint32_t value)
{
    out += char((value >> 24) & 0xff);
    out += char((value >> 16) & 0xff);
    out += char((value >> 8) & 0xff);
    out += char(value & 0xff);
}

std::string idxImagesBytes(std::uint32_t count, std::uint32_t rows, std::uint32_t cols, int pixelOffset = 0)
{
    std::string bytes;
    writeBigEndian32(bytes, 0x00000803);
    writeBigEndian32(bytes, count);
    writeBigEndian32(bytes, rows);
    writeBigEndian32(bytes, cols);
    for (std::uint32_t i = 0; i < count * rows * cols; ++i)
        bytes += char((i + pixelOffset) % 251);
    return bytes;
}

std::string idxLabelsBytes(const std::vector<int>& labels)
{
    std::string bytes;
    writeBigEndian32(bytes, 0x00000801);
    writeBigEndian32(bytes, static_cast<std::uint32_t>(labels.size()));
    for (int label : labels)
        bytes += char(label);
    return bytes;
}

void writeGzip(const fs::path& file, const std::string& bytes)
{
    gzFile out = gzopen(file.c_str(), "wb");
    QVERIFY(out);
    QCOMPARE(gzwrite(out, bytes.data(), static_cast<unsigned>(bytes.size())), int(bytes.size()));
    QCOMPARE(gzclose(out), Z_OK);
}

// A small IDX dataset: 50 train images (4x3, labels i % 3), 10 test images; train images gzipped.
void writeIdxDataset(const fs::path& folder)
{
    fs::create_directories(folder);
    std::vector<int> trainLabels, testLabels;
    for (int i = 0; i < 50; ++i)
        trainLabels.push_back(i % 3);
    for (int i = 0; i < 10; ++i)
        testLabels.push_back((i + 1) % 3);
    writeGzip(folder / "train-images-idx3-ubyte.gz", idxImagesBytes(50, 4, 3));
    writeText(folder / "train-labels-idx1-ubyte", idxLabelsBytes(trainLabels));
    writeText(folder / "t10k-images-idx3-ubyte", idxImagesBytes(10, 4, 3, 7));
    writeGzip(folder / "t10k-labels-idx1-ubyte.gz", idxLabelsBytes(testLabels));
    writeText(folder / "classes.txt", "zero\nfirst_class\ntwo\n\n");
}

// oxford_pets/ with 4 classes, 3 splits, one referenced image missing.
void writePetsDataset(const fs::path& folder)
{
    const std::vector<std::string> classes = {"american_bulldog", "abyssinian", "basset_hound", "beagle"};
    std::string json = "{\n";
    const char* splits[] = {"train", "val", "test"};
    const int perClass[] = {5, 2, 3};
    int imageNumber = 0;
    for (int s = 0; s < 3; ++s) {
        json += std::string("  \"") + splits[s] + "\": [";
        bool first = true;
        for (int label = 0; label < 4; ++label)
            for (int i = 0; i < perClass[s]; ++i) {
                const std::string relative = classes[label] + "_" + std::to_string(imageNumber++) + ".jpg";
                if (!(s == 2 && label == 3 && i == 2))  // the last test image is missing on disk
                    writeImage(folder / "images" / relative, imageNumber);
                json += std::string(first ? "" : ", ") + "[\"" + relative + "\", " + std::to_string(label) + ", \""
                    + classes[label] + "\"]";
                first = false;
            }
        json += s < 2 ? "],\n" : "]\n";
    }
    json += "}\n";
    writeText(folder / "split_zhou_OxfordPets.json", json);
}

} // namespace

class TestDatasets : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void pyRandomMatchesCPython();
    void pyRandomSampleMethods();
    void fewShotMatchesDassl();
    void applyFewShotOnIndex();
    void baseNewSplitMatchesCoOp();
    void baseNewHalves();
    void folderLayoutSeededSplit();
    void imageSignatures();
    void folderLayoutSplitFolders();
    void folderLayoutErrors();
    void dasslSplitJson();
    void dasslErrors();
    void dasslAircraftAndImageNet();
    void idxLayout();
    void idxErrors();
    void fashionMnist();
    void imageDomainsRenderDeterministically();
    void datasetVariants();
    void differentClassesAreNamed();
    void fashionMnistVariants();
};

void TestDatasets::pyRandomMatchesCPython()
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

void TestDatasets::pyRandomSampleMethods()
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

void TestDatasets::fewShotMatchesDassl()
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

void TestDatasets::applyFewShotOnIndex()
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

void TestDatasets::baseNewSplitMatchesCoOp()
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

void TestDatasets::baseNewHalves()
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

void TestDatasets::folderLayoutSeededSplit()
{
    QTemporaryDir temporary;
    QVERIFY(temporary.isValid());
    const fs::path root = pathFromUtf8(temporary.path().toStdString()) / "my pictures";
    for (int i = 0; i < 6; ++i)
        writeImage(root / "apple_pie" / ("0" + std::to_string(i) + ".png"), i);
    writeText(root / "apple_pie" / "broken.jpg", "this is not a JPEG");  // indexed; decoding is the loader's job
    writeText(root / "apple_pie" / "notes.txt", "hello");
    writeText(root / "apple_pie" / "empty.png", "");
    writeText(root / "apple_pie" / ".hidden.png", "x");
    for (const char* name : {"photo 1.jpg", "photo 2.jpg", "z3.png", "z4.png", "Z5.PNG"})
        writeImage(root / "b c" / name);
    for (int i = 0; i < 10; ++i)
        writeImage(root / pathFromUtf8("\xC3\xBCn\xC3\xAF" "code") / pathFromUtf8("\xC3\xB1" + std::to_string(i) + ".png"), i);
    writeText(root / "README", "stray file");

    const DatasetIndex dataset = openDataset(utf8(root));
    QCOMPARE(dataset.layout, std::string("folder"));
    QCOMPARE(dataset.name, std::string("my pictures"));
    QCOMPARE(dataset.promptTemplate, std::string("a photo of a {}."));
    QCOMPARE(dataset.classNames, (std::vector<std::string>{"apple pie", "b c", "\xC3\xBCn\xC3\xAF" "code"}));

    // Python: random.seed(1); per class in sorted order: sorted names, shuffle, round(n*.5), round(n*.2)
    // (7 images -> 4/1/2, 5 -> 2/1/2 by round-half-even, 10 -> 5/2/3).
    const std::string n = "\xC3\xB1";
    QCOMPARE(fileNames(dataset.train),
             (std::vector<std::string>{"03.png", "broken.jpg", "05.png", "02.png", "Z5.PNG", "photo 1.jpg", n + "4.png",
                                       n + "8.png", n + "2.png", n + "6.png", n + "5.png"}));
    QCOMPARE(fileNames(dataset.val), (std::vector<std::string>{"00.png", "photo 2.jpg", n + "9.png", n + "0.png"}));
    QCOMPARE(fileNames(dataset.test), (std::vector<std::string>{"04.png", "01.png", "z4.png", "z3.png", n + "7.png",
                                                                n + "1.png", n + "3.png"}));
    QCOMPARE(labelsOf(dataset.val), (std::vector<int>{0, 1, 2, 2}));
    for (const Sample& sample : dataset.train)
        QVERIFY2(fs::exists(pathFromUtf8(sample.path)), sample.path.c_str());

    // notes.txt, empty.png, README and the file that is no image (kept in the split) are reported; the
    // hidden file is not.
    QCOMPARE(dataset.problems.size(), size_t(4));
    const std::string allProblems = std::accumulate(dataset.problems.begin(), dataset.problems.end(), std::string());
    QVERIFY(allProblems.find("broken.jpg: not an image") != std::string::npos);
    QVERIFY(allProblems.find("notes.txt") != std::string::npos);
    QVERIFY(allProblems.find("empty.png") != std::string::npos);
    QVERIFY(allProblems.find("README") != std::string::npos);
    QVERIFY(allProblems.find(".hidden") == std::string::npos);

    // Another split seed gives another split of the same images.
    const DatasetIndex reseeded = openFolderDataset(utf8(root), FolderSplitOptions{2, 0.5, 0.2});
    QCOMPARE(reseeded.train.size(), dataset.train.size());
    QVERIFY(fileNames(reseeded.train) != fileNames(dataset.train));
}

void TestDatasets::imageSignatures()
{
    const auto is = [](const std::string& bytes) { return hasImageSignature(bytes.data(), bytes.size()); };
    QVERIFY(is(std::string("\xFF\xD8\xFF\xE0\0\x10JFIF", 10)));
    QVERIFY(is("\x89PNG\r\n\x1A\n\0\0\0\r"));
    QVERIFY(is("BM6\x0C"));
    QVERIFY(is(std::string("II*\0\x08\0", 6)));
    QVERIFY(is(std::string("MM\0*\0\0", 6)));
    QVERIFY(is(std::string("RIFF\x24\0\0\0WEBPVP8 ", 16)));
    QVERIFY(is("P6\n32 32\n255\n"));
    QVERIFY(!is(std::string("RIFF\x24\0\0\0WAVEfmt ", 16)));  // RIFF, but audio
    QVERIFY(!is("this is not a JPEG"));
    QVERIFY(!is("GIF89a"));  // OpenCV 4.6 does not decode GIF
    QVERIFY(!is("P7\n"));
    QVERIFY(!is(std::string("\xFF\xD8", 2)));  // too short to tell
    QVERIFY(!is(""));
}

void TestDatasets::folderLayoutSplitFolders()
{
    QTemporaryDir temporary;
    QVERIFY(temporary.isValid());
    const fs::path root = pathFromUtf8(temporary.path().toStdString()) / "pets";
    for (int i = 0; i < 3; ++i) {
        writeImage(root / "train" / "dog" / ("d" + std::to_string(i) + ".jpg"));
        writeImage(root / "train" / "cat" / ("c" + std::to_string(i) + ".png"));
        writeImage(root / "train" / "sea_lion" / ("s" + std::to_string(i) + ".bmp"));
    }
    writeImage(root / "val" / "cat" / "v.png");
    writeImage(root / "test" / "dog" / "t1.jpg");
    writeImage(root / "test" / "dog" / "t2.jpg");
    writeImage(root / "test" / "sea_lion" / "t3.jpg");

    DatasetIndex dataset = openDataset(utf8(root));
    QCOMPARE(dataset.classNames, (std::vector<std::string>{"cat", "dog", "sea lion"}));
    QCOMPARE(dataset.train.size(), size_t(9));
    QCOMPARE(labelsOf(dataset.train), (std::vector<int>{0, 0, 0, 1, 1, 1, 2, 2, 2}));
    QCOMPARE(labelsOf(dataset.val), (std::vector<int>{0}));
    QCOMPARE(labelsOf(dataset.test), (std::vector<int>{1, 1, 2}));
    const std::vector<SplitCounts> perClass = dataset.perClassCounts();
    QCOMPARE(perClass[1].test, size_t(2));
    QCOMPARE(perClass[2].val, size_t(0));
    QVERIFY(dataset.problems.empty());

    // val is optional.
    fs::remove_all(root / "val");
    dataset = openDataset(utf8(root));
    QVERIFY(dataset.val.empty());
    QCOMPARE(dataset.test.size(), size_t(3));

    // A test class that train does not have, then an empty class folder.
    writeImage(root / "test" / "horse" / "h.jpg");
    QString message = errorOf([&] { openDataset(utf8(root)); });
    QVERIFY2(message.contains("horse"), qPrintable(message));
    fs::remove_all(root / "test" / "horse");
    fs::create_directories(root / "test" / "cat");
    message = errorOf([&] { openDataset(utf8(root)); });
    QVERIFY2(message.contains("test/cat") && message.contains("no images"), qPrintable(message));
    fs::remove_all(root / "test");
    message = errorOf([&] { openDataset(utf8(root)); });
    QVERIFY2(message.contains("test") && message.contains("missing"), qPrintable(message));
}

void TestDatasets::folderLayoutErrors()
{
    QTemporaryDir temporary;
    QVERIFY(temporary.isValid());
    const fs::path base = pathFromUtf8(temporary.path().toStdString());

    // An empty class folder.
    for (int i = 0; i < 10; ++i)
        writeImage(base / "a" / "one" / ("x" + std::to_string(i) + ".png"));
    fs::create_directories(base / "a" / "two");
    QString message = errorOf([&] { openDataset(utf8(base / "a")); });
    QVERIFY2(message.contains("a/two") && message.contains("no images"), qPrintable(message));

    // Two images: round(2 * 0.2) = 0 val images, which Dassl's assertion forbids.
    for (int i = 0; i < 2; ++i)
        writeImage(base / "b" / "tiny_class" / ("i" + std::to_string(i) + ".png"));
    message = errorOf([&] { openDataset(utf8(base / "b")); });
    QVERIFY2(message.contains("tiny_class") && message.contains("empty"), qPrintable(message));

    // Bad fractions, a missing path, a file instead of a folder.
    message = errorOf([&] { openFolderDataset(utf8(base / "b"), FolderSplitOptions{1, 0.8, 0.3}); });
    QVERIFY2(message.contains("fractions"), qPrintable(message));
    message = errorOf([&] { openDataset(utf8(base / "nowhere")); });
    QVERIFY2(message.contains("nowhere"), qPrintable(message));
    writeText(base / "file.txt", "x");
    message = errorOf([&] { openDataset(utf8(base / "file.txt")); });
    QVERIFY2(message.contains("not a folder"), qPrintable(message));
    fs::create_directories(base / "c");
    message = errorOf([&] { openDataset(utf8(base / "c")); });
    QVERIFY2(message.contains("no class folders"), qPrintable(message));
}

void TestDatasets::dasslSplitJson()
{
    QTemporaryDir temporary;
    QVERIFY(temporary.isValid());
    const fs::path dataRoot = pathFromUtf8(temporary.path().toStdString()) / "data";
    writePetsDataset(dataRoot / "oxford_pets");

    for (const fs::path& path : {dataRoot / "oxford_pets", dataRoot}) {  // own folder, then the data root
        const DatasetIndex dataset = openDataset(utf8(path));
        QCOMPARE(dataset.layout, std::string("dassl"));
        QCOMPARE(dataset.name, std::string("OxfordPets"));
        QCOMPARE(dataset.promptTemplate, std::string("a photo of a {}, a type of pet."));
        QCOMPARE(dataset.classNames,
                 (std::vector<std::string>{"american bulldog", "abyssinian", "basset hound", "beagle"}));
        QCOMPARE(dataset.train.size(), size_t(20));
        QCOMPARE(dataset.val.size(), size_t(8));
        QCOMPARE(dataset.test.size(), size_t(12));  // the missing image stays, reported as a problem
        QCOMPARE(fileName(dataset.train.front()), std::string("american_bulldog_0.jpg"));
        QCOMPARE(dataset.train[5].label, 1);
        QVERIFY(fs::exists(pathFromUtf8(dataset.train.front().path)));
        QCOMPARE(dataset.problems.size(), size_t(1));
        QVERIFY(dataset.problems[0].find("beagle_39.jpg") != std::string::npos);
    }

    // Few-shot over split-file order: label 0 items are 0..4; random.seed(1); random.sample(range(5), 2)
    // is [1, 0] (pool method), so the first two picks are american_bulldog_1 and _0.
    const DatasetIndex fewShot = applyFewShot(openDataset(utf8(dataRoot / "oxford_pets")), {2, 1});
    QCOMPARE(fewShot.train.size(), size_t(8));
    QCOMPARE(fileName(fewShot.train[0]), std::string("american_bulldog_1.jpg"));
    QCOMPARE(fileName(fewShot.train[1]), std::string("american_bulldog_0.jpg"));
    QCOMPARE(fewShot.val.size(), size_t(8));  // min(2, 4) = 2 per class, 2 available
}

void TestDatasets::dasslErrors()
{
    QTemporaryDir temporary;
    QVERIFY(temporary.isValid());
    const fs::path base = pathFromUtf8(temporary.path().toStdString());

    // A label out of range: labels 0, 1, 3 name three classes, so 3 is out of 0..2.
    writeImage(base / "dtd" / "images" / "a.jpg");
    writeText(base / "dtd" / "split_zhou_DescribableTextures.json",
              R"({"train": [["a.jpg", 0, "banded"], ["a.jpg", 1, "bumpy"]], "val": [],
                  "test": [["a.jpg", 0, "banded"], ["a.jpg", 3, "woven"]]})");
    QString message = errorOf([&] { openDataset(utf8(base / "dtd")); });
    QVERIFY2(message.contains("split_zhou_DescribableTextures.json") && message.contains("test[1]")
                 && message.contains("out of range"),
             qPrintable(message));

    // One label with two class names.
    writeText(base / "dtd" / "split_zhou_DescribableTextures.json",
              R"({"train": [["a.jpg", 0, "banded"], ["a.jpg", 0, "bumpy"]], "val": [], "test": []})");
    message = errorOf([&] { openDataset(utf8(base / "dtd")); });
    QVERIFY2(message.contains("train[1]") && message.contains("bumpy"), qPrintable(message));

    // Malformed entries and JSON.
    writeText(base / "dtd" / "split_zhou_DescribableTextures.json", R"({"train": [["a.jpg", "0", "x"]], "val": [], "test": []})");
    message = errorOf([&] { openDataset(utf8(base / "dtd")); });
    QVERIFY2(message.contains("train[0]"), qPrintable(message));
    writeText(base / "dtd" / "split_zhou_DescribableTextures.json", R"({"train": [})");
    message = errorOf([&] { openDataset(utf8(base / "dtd")); });
    QVERIFY2(message.contains("invalid JSON"), qPrintable(message));
    writeText(base / "dtd" / "split_zhou_DescribableTextures.json", R"({"train": [], "test": []})");
    message = errorOf([&] { openDataset(utf8(base / "dtd")); });
    QVERIFY2(message.contains("\"val\""), qPrintable(message));

    // The image folder exists but the split file does not.
    writeImage(base / "eurosat" / "2750" / "Forest" / "f.jpg");
    message = errorOf([&] { openDataset(utf8(base / "eurosat")); });
    QVERIFY2(message.contains("split_zhou_EuroSAT.json") && message.contains("missing"), qPrintable(message));

    // The split file exists but the image folder does not.
    writeText(base / "food-101" / "split_zhou_Food101.json", R"({"train": [], "val": [], "test": []})");
    message = errorOf([&] { openDataset(utf8(base / "food-101")); });
    QVERIFY2(message.contains("food-101/images") && message.contains("missing"), qPrintable(message));

    // A data root with several benchmarks is ambiguous.
    message = errorOf([&] { openDataset(utf8(base)); });
    QVERIFY2(message.contains("several"), qPrintable(message));
}

void TestDatasets::dasslAircraftAndImageNet()
{
    QTemporaryDir temporary;
    QVERIFY(temporary.isValid());
    const fs::path base = pathFromUtf8(temporary.path().toStdString());

    const fs::path aircraft = base / "fgvc_aircraft";
    writeText(aircraft / "variants.txt", "707-320\nA300B4\nF-16A/B\n");
    writeText(aircraft / "images_variant_train.txt", "0001 707-320\n0002 F-16A/B\n0003 A300B4\n");
    writeText(aircraft / "images_variant_val.txt", "0004 F-16A/B\n");
    writeText(aircraft / "images_variant_test.txt", "0005 707-320\r\n0006 A300B4\r\n");
    for (const char* id : {"0001", "0002", "0003", "0004", "0005", "0006"})
        writeImage(aircraft / "images" / (std::string(id) + ".jpg"));
    DatasetIndex dataset = openDataset(utf8(aircraft));
    QCOMPARE(dataset.name, std::string("FGVCAircraft"));
    QCOMPARE(dataset.promptTemplate, std::string("a photo of a {}, a type of aircraft."));
    QCOMPARE(dataset.classNames, (std::vector<std::string>{"707-320", "A300B4", "F-16A/B"}));
    QCOMPARE(labelsOf(dataset.train), (std::vector<int>{0, 2, 1}));
    QCOMPARE(labelsOf(dataset.val), (std::vector<int>{2}));
    QCOMPARE(labelsOf(dataset.test), (std::vector<int>{0, 1}));
    QCOMPARE(fileName(dataset.test[1]), std::string("0006.jpg"));
    QVERIFY(dataset.problems.empty());
    writeText(aircraft / "images_variant_val.txt", "0004 F-22\n");
    QString message = errorOf([&] { openDataset(utf8(aircraft)); });
    QVERIFY2(message.contains("images_variant_val.txt:1") && message.contains("F-22"), qPrintable(message));

    const fs::path imagenet = base / "imagenet";
    writeText(imagenet / "classnames.txt", "n01 tench\nn02 great white shark\n");
    writeImage(imagenet / "images" / "train" / "n01" / "a.JPEG");
    writeImage(imagenet / "images" / "train" / "n01" / "b.JPEG");
    writeImage(imagenet / "images" / "train" / "n02" / "c.JPEG");
    writeImage(imagenet / "images" / "val" / "n02" / "d.JPEG");
    dataset = openDataset(utf8(imagenet));
    QCOMPARE(dataset.name, std::string("ImageNet"));
    QCOMPARE(dataset.classNames, (std::vector<std::string>{"tench", "great white shark"}));
    QCOMPARE(labelsOf(dataset.train), (std::vector<int>{0, 0, 1}));
    QVERIFY(dataset.val.empty());
    QCOMPARE(labelsOf(dataset.test), (std::vector<int>{1}));
    QVERIFY(applyFewShot(dataset, {1, 1}).val.empty());
    writeImage(imagenet / "images" / "val" / "n03" / "e.JPEG");
    message = errorOf([&] { openDataset(utf8(imagenet)); });
    QVERIFY2(message.contains("n03") && message.contains("classnames.txt"), qPrintable(message));
}

void TestDatasets::idxLayout()
{
    QTemporaryDir temporary;
    QVERIFY(temporary.isValid());
    const fs::path folder = pathFromUtf8(temporary.path().toStdString()) / "tiny-idx";
    writeIdxDataset(folder);

    const DatasetIndex dataset = openDataset(utf8(folder));
    QCOMPARE(dataset.layout, std::string("idx"));
    QCOMPARE(dataset.name, std::string("tiny-idx"));
    QCOMPARE(dataset.classNames, (std::vector<std::string>{"zero", "first class", "two"}));
    QCOMPARE(dataset.train.size(), size_t(45));
    QCOMPARE(dataset.val.size(), size_t(5));
    QCOMPARE(dataset.test.size(), size_t(10));
    // Python: random.seed(0); idx = list(range(50)); random.shuffle(idx); sorted(idx[:5])
    std::vector<std::int64_t> valIndices;
    for (const Sample& sample : dataset.val)
        valIndices.push_back(sample.idxIndex);
    QCOMPARE(valIndices, (std::vector<std::int64_t>{1, 14, 28, 36, 43}));
    QCOMPARE(dataset.val[1].label, 14 % 3);
    QCOMPARE(dataset.train[2].idxIndex, std::int64_t(3));
    QCOMPARE(dataset.test[4].label, 5 % 3);

    QVERIFY(dataset.idxTrain && dataset.idxTest);
    QCOMPARE(dataset.idxImages(DatasetSplit::Val), dataset.idxTrain.get());
    QCOMPARE(dataset.idxImages(DatasetSplit::Test), dataset.idxTest.get());
    QCOMPARE(dataset.idxTrain->count, std::int64_t(50));
    QCOMPARE(dataset.idxTrain->rows, 4);
    QCOMPARE(dataset.idxTrain->cols, 3);
    const std::uint8_t* image = dataset.idxTrain->image(21);  // pixel i of the file is i % 251
    QVERIFY(image);
    QCOMPARE(int(image[0]), (21 * 12) % 251);
    QCOMPARE(int(image[11]), (21 * 12 + 11) % 251);
    QCOMPARE(int(dataset.idxTest->image(9)[0]), (9 * 12 + 7) % 251);
    QVERIFY(dataset.idxTrain->image(50) == nullptr);
    QVERIFY(dataset.idxTrain->image(-1) == nullptr);
}

void TestDatasets::idxErrors()
{
    QTemporaryDir temporary;
    QVERIFY(temporary.isValid());
    const fs::path folder = pathFromUtf8(temporary.path().toStdString()) / "idx";
    writeIdxDataset(folder);
    const std::string path = utf8(folder);
    auto expectError = [&](const char* fragment1, const char* fragment2) {
        const QString message = errorOf([&] { openDataset(path); });
        QVERIFY2(message.contains(fragment1) && message.contains(fragment2), qPrintable(message));
    };
    std::vector<int> trainLabels;
    for (int i = 0; i < 50; ++i)
        trainLabels.push_back(i % 3);

    // Bad magic (labels written where images belong).
    writeText(folder / "t10k-images-idx3-ubyte", idxLabelsBytes(std::vector<int>(10, 0)));
    expectError("t10k-images-idx3-ubyte", "magic");
    // Truncated payload.
    std::string truncated = idxImagesBytes(10, 4, 3);
    truncated.resize(truncated.size() - 5);
    writeText(folder / "t10k-images-idx3-ubyte", truncated);
    expectError("t10k-images-idx3-ubyte", "truncated");
    // A header announcing a huge count over a short file must not allocate it.
    std::string lying = idxImagesBytes(10, 4, 3);
    lying[4] = char(0x7f);
    writeText(folder / "t10k-images-idx3-ubyte", lying);
    expectError("t10k-images-idx3-ubyte", "truncated");
    // Trailing bytes, then different image sizes in train and test.
    writeText(folder / "t10k-images-idx3-ubyte", idxImagesBytes(10, 4, 3) + "xx");
    expectError("t10k-images-idx3-ubyte", "unexpected bytes");
    writeText(folder / "t10k-images-idx3-ubyte", idxImagesBytes(10, 3, 4));
    expectError("t10k-images-idx3-ubyte", "3x4");
    writeText(folder / "t10k-images-idx3-ubyte", idxImagesBytes(10, 4, 3));
    QCOMPARE(openDataset(path).test.size(), size_t(10));

    // Images vs labels count.
    writeText(folder / "train-labels-idx1-ubyte", idxLabelsBytes(std::vector<int>(49, 0)));
    expectError("train-labels-idx1-ubyte", "49 labels");
    // A label beyond the class list, then a class list longer than the labels need.
    std::vector<int> badLabels = trainLabels;
    badLabels[7] = 3;
    writeText(folder / "train-labels-idx1-ubyte", idxLabelsBytes(badLabels));
    expectError("train-labels-idx1-ubyte", "label 3 of item 7");
    writeText(folder / "train-labels-idx1-ubyte", idxLabelsBytes(trainLabels));
    writeText(folder / "classes.txt", "a\nb\nc\nd\n");
    expectError("classes.txt", "4 classes");
    writeText(folder / "classes.txt", "a\n\nc\n");
    expectError("classes.txt:2", "empty");
    // No class list: label numbers, reported as a problem.
    fs::remove(folder / "classes.txt");
    const DatasetIndex numbered = openDataset(path);
    QCOMPARE(numbered.classNames, (std::vector<std::string>{"0", "1", "2"}));
    QCOMPARE(numbered.problems.size(), size_t(1));

    // A damaged gzip stream and a missing file.
    std::ifstream in(folder / "train-images-idx3-ubyte.gz", std::ios::binary);
    std::string gz((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    in.close();
    gz.resize(gz.size() / 2);
    writeText(folder / "train-images-idx3-ubyte.gz", gz);
    expectError("train-images-idx3-ubyte.gz", "");
    fs::remove(folder / "train-images-idx3-ubyte.gz");
    writeText(folder / "train-images-idx3-ubyte", "");  // present, so still detected as IDX, but empty
    expectError("train-images-idx3-ubyte", "header");
    fs::remove(folder / "t10k-labels-idx1-ubyte.gz");
    const QString message = errorOf([&] { openIdxDataset(path); });
    QVERIFY2(message.contains("t10k-labels-idx1-ubyte") && message.contains("missing"), qPrintable(message));
}

void TestDatasets::fashionMnist()
{
    if (!fs::is_directory("/usr/share/datasets/fashion-mnist"))
        QSKIP("Debian's dataset-fashion-mnist is not installed");
    const DatasetIndex dataset = openDataset("fashion-mnist");
    QCOMPARE(dataset.name, std::string("fashion-mnist"));
    QCOMPARE(dataset.layout, std::string("idx"));
    QCOMPARE(dataset.classNames.size(), size_t(10));
    QCOMPARE(dataset.classNames.front(), std::string("T-shirt/top"));
    QCOMPARE(dataset.classNames.back(), std::string("Ankle boot"));
    QCOMPARE(dataset.promptTemplate, std::string("a photo of a {}."));
    QCOMPARE(dataset.train.size(), size_t(54000));
    QCOMPARE(dataset.val.size(), size_t(6000));
    QCOMPARE(dataset.test.size(), size_t(10000));
    QCOMPARE(dataset.idxTrain->rows, 28);
    QCOMPARE(dataset.idxTest->count, std::int64_t(10000));

    // Python: random.seed(0); idx = list(range(60000)); random.shuffle(idx); v = sorted(idx[:6000])
    std::int64_t valSum = 0;
    for (const Sample& sample : dataset.val)
        valSum += sample.idxIndex;
    QCOMPARE(valSum, std::int64_t(179275695));
    QCOMPARE(dataset.val[0].idxIndex, std::int64_t(6));
    QCOMPARE(dataset.val[7].idxIndex, std::int64_t(56));

    // Python: random.seed(1); fewshot(train, 16); fewshot(val, 4) on these lists.
    const DatasetIndex fewShot = applyFewShot(dataset, {16, 1});
    QCOMPARE(fewShot.train.size(), size_t(160));
    QCOMPARE(fewShot.val.size(), size_t(40));
    const std::vector<std::int64_t> firstTrain = {11872, 52641, 5607, 23424, 10508, 45704, 41519, 43597, 59647, 35138,
                                                  19089, 8342, 44884, 2722, 35879, 39993, 55346, 176, 40798, 24757};
    std::int64_t trainSum = 0, fewValSum = 0;
    for (size_t i = 0; i < fewShot.train.size(); ++i) {
        if (i < firstTrain.size())
            QCOMPARE(fewShot.train[i].idxIndex, firstTrain[i]);
        trainSum += fewShot.train[i].idxIndex;
    }
    QCOMPARE(trainSum, std::int64_t(5042919));
    const std::vector<std::int64_t> firstVal = {17865, 33774, 28710, 5823, 19072, 18328,
                                                27189, 54569, 16940, 27722, 29661, 46996};
    for (size_t i = 0; i < fewShot.val.size(); ++i) {
        if (i < firstVal.size())
            QCOMPARE(fewShot.val[i].idxIndex, firstVal[i]);
        fewValSum += fewShot.val[i].idxIndex;
    }
    QCOMPARE(fewValSum, std::int64_t(1179152));
    QCOMPARE(fewShot.train[0].label, 9);  // train file labels start 9, 0, 0, 3, ...

    const DatasetIndex base = subsampleClasses(fewShot, ClassSubset::Base);
    QCOMPARE(base.classNames, (std::vector<std::string>{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat"}));
    QCOMPARE(base.test.size(), size_t(5000));
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

void TestDatasets::imageDomainsRenderDeterministically()
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

void TestDatasets::datasetVariants()
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

void TestDatasets::differentClassesAreNamed()
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

void TestDatasets::fashionMnistVariants()
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

QTEST_APPLESS_MAIN(TestDatasets)
#include "tst_datasets.moc"
