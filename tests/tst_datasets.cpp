// Dataset layouts: the readers that turn a folder on disk into a dataset index (class folders with a
// seeded split or split folders, Dassl/CoOp split files, IDX files) and the errors they report. Seeded
// splits come from CPython 3.11 (`random` module, stdlib only); the Python used is quoted next to each
// vector so that it can be rerun.

#include "DatasetFixtures.h"

#include "core/Error.h"
#include "core/Utf8Path.h"
#include "core/data/DatasetIndex.h"
#include "core/data/DatasetLayouts.h"
#include "core/data/FewShot.h"

#include <QtTest>

#include <filesystem>
#include <fstream>
#include <numeric>

using namespace tunebench;
using namespace tunebench::test;
namespace fs = std::filesystem;

namespace {

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
};

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
    QVERIFY(is(std::string("II+\0\x08\0", 6)));  // BigTIFF
    QVERIFY(is(std::string("MM\0+\0\x08", 6)));
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

QTEST_APPLESS_MAIN(TestDatasets)
#include "tst_datasets.moc"
