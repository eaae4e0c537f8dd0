// The PETL benchmark readers: VTAB-1k task folders (the PETL repositories' split lists) and FGVC datasets
// in VPT's layout (train/val/test.json), on tiny trees written here, and the one-line errors they give.

#include "DatasetFixtures.h"

#include "core/Error.h"
#include "core/Utf8Path.h"
#include "core/data/DatasetIndex.h"
#include "core/data/DatasetLayouts.h"
#include "core/data/PetlBenchmarks.h"

#include <QtTest>

#include <filesystem>
#include <map>

#include <sys/stat.h>

using namespace tunebench;
using namespace tunebench::test;
namespace fs = std::filesystem;

namespace {

// A VTAB-1k task folder: images/ and the four split lists, train800val200 = train800 + val200.
void writeVtabTask(const fs::path& folder, const std::vector<std::pair<std::string, int>>& train800,
                   const std::vector<std::pair<std::string, int>>& val200, const std::vector<std::pair<std::string, int>>& test)
{
    std::string lists[4];
    const std::vector<std::pair<std::string, int>>* parts[4][2] = {
        {&train800, nullptr}, {&val200, nullptr}, {&train800, &val200}, {&test, nullptr}};
    int seed = 0;
    for (int i = 0; i < 4; ++i)
        for (const auto* part : parts[i])
            if (part)
                for (const auto& [path, label] : *part) {
                    if (!fs::exists(folder / pathFromUtf8(path)))
                        writeImage(folder / pathFromUtf8(path), seed++);
                    lists[i] += path + " " + std::to_string(label) + "\n";
                }
    const char* names[] = {"train800.txt", "val200.txt", "train800val200.txt", "test.txt"};
    for (int i = 0; i < 4; ++i)
        writeText(folder / names[i], lists[i]);
}

bool isOneLine(const QString& message)
{
    return !message.isEmpty() && !message.contains('\n');
}

} // namespace

class TestPetlBenchmarks : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void table();
    void vtabTasks();
    void vtabErrors();
    void fgvcDatasets();
    void fgvcErrors();
};

void TestPetlBenchmarks::table()
{
    const std::vector<PetlBenchmarkInfo> all = petlBenchmarks();
    QCOMPARE(all.size(), std::size_t(24));
    std::map<std::string, int> tasksPerGroup;
    for (const PetlBenchmarkInfo& info : all)
        ++tasksPerGroup[info.group];
    QCOMPARE(tasksPerGroup["Natural"], 7);
    QCOMPARE(tasksPerGroup["Specialized"], 4);
    QCOMPARE(tasksPerGroup["Structured"], 8);
    QCOMPARE(tasksPerGroup["FGVC"], 5);
    QCOMPARE(findPetlBenchmark("cifar", PetlFamily::Vtab1k)->classCount, 100);
    QCOMPARE(findPetlBenchmark("smallnorb_ele", PetlFamily::Vtab1k)->classCount, 9);
    QCOMPARE(findPetlBenchmark("Stanford-dogs", PetlFamily::Fgvc)->classCount, 120);
    QCOMPARE(findPetlBenchmark("OxfordFlower", PetlFamily::Fgvc)->name, std::string("OxfordFlowers"));
    QCOMPARE(findPetlBenchmark("nabirds", PetlFamily::Fgvc)->classCount, 555);
    QVERIFY(!findPetlBenchmark("cifar", PetlFamily::Fgvc));
}

void TestPetlBenchmarks::vtabTasks()
{
    QTemporaryDir temporary;
    QVERIFY(temporary.isValid());
    const fs::path root = pathFromUtf8(temporary.path().toStdString());
    const fs::path cifar = root / "vtab-1k" / "cifar";
    writeVtabTask(cifar, {{"images/a.png", 0}, {"images/b c.png", 5}, {"images/d.png", 99}}, {{"images/e.png", 5}},
                  {{"images/t1.png", 3}, {"images/t2.png", 0}});
    // A listed file that is no image is kept and reported.
    writeText(cifar / "images" / "t2.png", "not an image");
    // A task of another name reads too, with as many classes as its largest label says.
    writeVtabTask(root / "vtab-1k" / "mystery", {{"images/m.jpg", 2}}, {{"images/n.jpg", 0}}, {{"images/o.jpg", 1}});

    const DatasetIndex task = openDataset(utf8(cifar));
    QCOMPARE(task.layout, std::string("vtab-1k"));
    QCOMPARE(task.name, std::string("cifar"));
    QCOMPARE(task.classNames.size(), std::size_t(100));
    QCOMPARE(task.classNames[5], std::string("5"));
    // Final protocol: train800val200 / no val / test.
    QCOMPARE(task.train.size(), std::size_t(4));
    QVERIFY(task.val.empty());
    QCOMPARE(task.test.size(), std::size_t(2));
    QCOMPARE(labelsOf(task.train), (std::vector<int>{0, 5, 99, 5}));
    QCOMPARE(task.train[1].path, utf8(cifar / "images" / "b c.png"));
    QCOMPARE(labelsOf(task.test), (std::vector<int>{3, 0}));
    QCOMPARE(task.problems.size(), std::size_t(1));
    QVERIFY2(QString::fromStdString(task.problems[0]).contains("t2.png"), task.problems[0].c_str());
    QVERIFY(task.description.find("Natural") != std::string::npos);

    const DatasetIndex tuning = openVtabTask(utf8(cifar), PetlProtocol::Tuning);
    QCOMPARE(labelsOf(tuning.train), (std::vector<int>{0, 5, 99}));
    QCOMPARE(labelsOf(tuning.val), (std::vector<int>{5}));
    QCOMPARE(tuning.test.size(), std::size_t(2));

    const DatasetIndex mystery = openDataset(utf8(root / "vtab-1k" / "mystery"));
    QCOMPARE(mystery.layout, std::string("vtab-1k"));
    QCOMPARE(mystery.classNames, (std::vector<std::string>{"0", "1", "2"}));
    QVERIFY(!mystery.problems.empty() && mystery.problems[0].find("no VTAB-1k task") != std::string::npos);

    // The data root lists both tasks; opening it asks for one of them.
    QCOMPARE(petlBenchmarkFolders(utf8(root)),
             (std::vector<std::string>{utf8(root / "vtab-1k" / "cifar"), utf8(root / "vtab-1k" / "mystery")}));
    const QString message = errorOf([&] { openDataset(utf8(root)); });
    QVERIFY2(message.contains("several") && message.contains("vtab-1k/cifar"), qPrintable(message));
}

void TestPetlBenchmarks::vtabErrors()
{
    QTemporaryDir temporary;
    QVERIFY(temporary.isValid());
    const fs::path task = pathFromUtf8(temporary.path().toStdString()) / "eurosat";
    const auto reset = [&] {
        fs::remove_all(task);
        writeVtabTask(task, {{"images/a.jpg", 0}, {"images/b.jpg", 9}}, {{"images/c.jpg", 1}}, {{"images/d.jpg", 2}});
    };

    reset();
    fs::remove(task / "test.txt");
    QString message = errorOf([&] { openDataset(utf8(task)); });
    QVERIFY2(isOneLine(message) && message.contains("eurosat/test.txt") && message.contains("missing"), qPrintable(message));

    // EuroSAT has 10 classes: label 10 on line 2 is out of range.
    reset();
    writeText(task / "train800.txt", "images/a.jpg 0\nimages/b.jpg 10\n");
    message = errorOf([&] { openDataset(utf8(task)); });
    QVERIFY2(isOneLine(message) && message.contains("train800.txt:2") && message.contains("out of range"), qPrintable(message));

    reset();
    writeText(task / "val200.txt", "\nimages/gone.jpg 1\n");
    message = errorOf([&] { openDataset(utf8(task)); });
    QVERIFY2(isOneLine(message) && message.contains("val200.txt:2") && message.contains("gone.jpg") && message.contains("missing"),
             qPrintable(message));

    reset();
    writeText(task / "test.txt", "images/d.jpg two\n");
    message = errorOf([&] { openDataset(utf8(task)); });
    QVERIFY2(isOneLine(message) && message.contains("test.txt:1") && message.contains("'two'"), qPrintable(message));

    reset();
    writeText(task / "test.txt", "images/d.jpg\n");
    message = errorOf([&] { openDataset(utf8(task)); });
    QVERIFY2(isOneLine(message) && message.contains("test.txt:1"), qPrintable(message));

    // Not regular files: a listed FIFO (opening it would block) and a split list that is a folder.
    reset();
    QCOMPARE(::mkfifo(utf8(task / "images" / "fifo.jpg").c_str(), 0600), 0);
    writeText(task / "test.txt", "images/d.jpg 2\nimages/fifo.jpg 2\n");
    message = errorOf([&] { openDataset(utf8(task)); });
    QVERIFY2(isOneLine(message) && message.contains("test.txt:2") && message.contains("FIFO"), qPrintable(message));
    reset();
    fs::remove(task / "val200.txt");
    fs::create_directories(task / "val200.txt");
    message = errorOf([&] { openDataset(utf8(task)); });
    QVERIFY2(isOneLine(message) && message.contains("val200.txt") && message.contains("folder"), qPrintable(message));

    reset();
    writeText(task / "train800val200.txt", "");
    message = errorOf([&] { openDataset(utf8(task)); });
    QVERIFY2(isOneLine(message) && message.contains("train800val200.txt") && message.contains("no images"), qPrintable(message));
}

void TestPetlBenchmarks::fgvcDatasets()
{
    QTemporaryDir temporary;
    QVERIFY(temporary.isValid());
    const fs::path root = pathFromUtf8(temporary.path().toStdString());

    // CUB: images under images/<class folder>/, labels as the file writes them (here 1-based, mapped in
    // sorted order onto 0..2 as VPT does), names from classes.txt.
    const fs::path cub = root / "CUB_200_2011";
    const char* folders[] = {"001.Black_footed_Albatross", "002.Laysan_Albatross", "003.Sooty_Albatross"};
    for (int c = 0; c < 3; ++c)
        for (int i = 0; i < 3; ++i)
            writeImage(cub / "images" / folders[c] / ("img" + std::to_string(i) + ".jpg"), c * 3 + i);
    writeText(cub / "classes.txt", "1 001.Black_footed_Albatross\n2 002.Laysan_Albatross\n3 003.Sooty_Albatross\n");
    writeText(cub / "train.json", "{\"002.Laysan_Albatross/img0.jpg\": 2, \"001.Black_footed_Albatross/img0.jpg\": 1,\n"
                                  " \"003.Sooty_Albatross/img0.jpg\": 3}");
    writeText(cub / "val.json", "{\"001.Black_footed_Albatross/img1.jpg\": 1}");
    writeText(cub / "test.json", "{\"003.Sooty_Albatross/img2.jpg\": 3, \"002.Laysan_Albatross/img2.jpg\": 2}");

    const DatasetIndex dataset = openDataset(utf8(cub));
    QCOMPARE(dataset.layout, std::string("fgvc"));
    QCOMPARE(dataset.name, std::string("CUB_200_2011"));
    QCOMPARE(dataset.classNames, (std::vector<std::string>{"Black footed Albatross", "Laysan Albatross", "Sooty Albatross"}));
    // Final protocol: train + val / no val / test, in the files' order.
    QCOMPARE(labelsOf(dataset.train), (std::vector<int>{1, 0, 2, 0}));
    QVERIFY(dataset.val.empty());
    QCOMPARE(labelsOf(dataset.test), (std::vector<int>{2, 1}));
    QCOMPARE(dataset.train[0].path, utf8(cub / "images" / "002.Laysan_Albatross" / "img0.jpg"));
    QCOMPARE(dataset.train[3].path, utf8(cub / "images" / "001.Black_footed_Albatross" / "img1.jpg"));
    QVERIFY(!dataset.problems.empty() && dataset.problems[0].find("3 of the 200 classes") != std::string::npos);

    const DatasetIndex tuning = openFgvcDataset(utf8(cub), PetlProtocol::Tuning);
    QCOMPARE(tuning.train.size(), std::size_t(3));
    QCOMPARE(tuning.val.size(), std::size_t(1));
    QCOMPARE(tuning.test.size(), std::size_t(2));

    // Stanford Dogs keeps its images under Images/; without classes.txt the names are the label ids.
    const fs::path dogs = root / "Stanford-dogs";
    writeImage(dogs / "Images" / "n1-Chihuahua" / "a.jpg");
    writeImage(dogs / "Images" / "n2-Pug" / "b.jpg");
    writeText(dogs / "train.json", "{\"n1-Chihuahua/a.jpg\": 0, \"n2-Pug/b.jpg\": 7}");
    writeText(dogs / "val.json", "{\"n2-Pug/b.jpg\": 7}");
    writeText(dogs / "test.json", "{\"n1-Chihuahua/a.jpg\": 0}");
    const DatasetIndex dogsData = openDataset(utf8(dogs));
    QCOMPARE(dogsData.name, std::string("StanfordDogs"));
    QCOMPARE(dogsData.classNames, (std::vector<std::string>{"0", "7"}));
    QCOMPARE(dogsData.train[1].path, utf8(dogs / "Images" / "n2-Pug" / "b.jpg"));
    QCOMPARE(labelsOf(dogsData.train), (std::vector<int>{0, 1, 1}));

    QCOMPARE(petlBenchmarkFolders(utf8(root)), (std::vector<std::string>{utf8(cub), utf8(dogs)}));
}

void TestPetlBenchmarks::fgvcErrors()
{
    QTemporaryDir temporary;
    QVERIFY(temporary.isValid());
    const fs::path flowers = pathFromUtf8(temporary.path().toStdString()) / "OxfordFlower";
    writeImage(flowers / "jpg" / "image_1.jpg");
    writeText(flowers / "train.json", "{\"jpg/image_1.jpg\": 0}");
    writeText(flowers / "test.json", "{\"jpg/image_1.jpg\": 0}");

    QString message = errorOf([&] { openDataset(utf8(flowers)); });
    QVERIFY2(isOneLine(message) && message.contains("OxfordFlower/val.json") && message.contains("missing"), qPrintable(message));

    // 103 different labels for Oxford Flowers' 102 classes, one entry a line: label 102 (the 103rd) is
    // out of range, on line 104; it is named before any image is looked for.
    std::string json = "{\n";
    for (int i = 0; i <= 102; ++i)
        json += "  \"jpg/image_" + std::to_string(i + 10) + ".jpg\": " + std::to_string(i) + (i < 102 ? ",\n" : "\n");
    writeText(flowers / "val.json", json + "}\n");
    message = errorOf([&] { openDataset(utf8(flowers)); });
    QVERIFY2(isOneLine(message) && message.contains("val.json:104") && message.contains("image_112.jpg")
                 && message.contains("out of range"),
             qPrintable(message));

    writeText(flowers / "val.json", "{\"jpg/image_1.jpg\": 0}");
    writeText(flowers / "test.json", "{\"jpg/image_1.jpg\": 0,\n\"jpg/image_2.jpg\": 0}");
    message = errorOf([&] { openDataset(utf8(flowers)); });
    QVERIFY2(isOneLine(message) && message.contains("test.json:2") && message.contains("image_2.jpg") && message.contains("missing"),
             qPrintable(message));

    writeText(flowers / "test.json", "{\"jpg/image_1.jpg\": -1}");
    message = errorOf([&] { openDataset(utf8(flowers)); });
    QVERIFY2(isOneLine(message) && message.contains("test.json:1") && message.contains("-1"), qPrintable(message));
    writeText(flowers / "test.json", "[\"jpg/image_1.jpg\"]");
    message = errorOf([&] { openDataset(utf8(flowers)); });
    QVERIFY2(isOneLine(message) && message.contains("test.json") && message.contains("object"), qPrintable(message));
    writeText(flowers / "test.json", "{\"jpg/image_1.jpg\": 0");
    message = errorOf([&] { openDataset(utf8(flowers)); });
    QVERIFY2(isOneLine(message) && message.contains("invalid JSON"), qPrintable(message));
}

QTEST_APPLESS_MAIN(TestPetlBenchmarks)
#include "tst_petl_benchmarks.moc"
