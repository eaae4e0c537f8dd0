// The VPT paper's Table 1 from synthetic scores: group means in the paper's column order, wins against Full
// (strictly more, over the tasks both ran), the storage multiplier over tasks whose heads differ, the CSV and
// text layouts; and the seeds of a study's run folders averaged into one score per task and method.
#include "core/experiment/PetlTable.h"
#include "core/experiment/RunSettings.h"
#include "core/experiment/Sweep.h"
#include "core/tuning/StorageCost.h"
#include "tests/ErrorOf.h"

#include <QTemporaryDir>
#include <QtTest>

#include <filesystem>
#include <fstream>

using namespace tunebench;
using tunebench::test::errorOf;
namespace fs = std::filesystem;

namespace {

PetlTaskScore score(const std::string& task, const std::string& method, double accuracy, std::int64_t trainable)
{
    PetlTaskScore s;
    s.task = task;
    s.method = method;
    s.accuracy = accuracy;
    s.seeds = 1;
    s.trainable = trainable;
    s.backbone = 1000;
    s.shared = method == "full" ? 0 : 1000;
    return s;
}

const PetlGroupCell& cellOf(const PetlTableRow& row, const std::string& group)
{
    for (const PetlGroupCell& cell : row.groups)
        if (cell.group == group)
            return cell;
    throw std::logic_error("no group " + group);
}

// Tasks listed with the demo's group first: the table still puts the paper's groups first.
const std::vector<PetlTableTask> kTasks = {
    {"shades", "Demo"}, {"CUB_200_2011", "FGVC"}, {"StanfordDogs", "FGVC"}, {"cifar", "Natural"}, {"dtd", "Natural"}};

std::vector<PetlTaskScore> kScores()
{
    // Dyadic accuracies: every mean below is exact.
    return {
        score("shades", "full", 1.0, 1005),       score("CUB_200_2011", "full", 0.5, 1010), score("StanfordDogs", "full", 0.75, 1020),
        score("cifar", "full", 0.25, 1030),       score("dtd", "full", 0.5, 1040),
        score("shades", "linear", 0.5, 50),       score("CUB_200_2011", "linear", 0.5, 50),  // a tie is no win
        score("StanfordDogs", "linear", 0.875, 50), score("cifar", "linear", 0.375, 50),     score("dtd", "linear", 0.25, 50),
        score("shades", "vpt-deep", 1.0, 80),     score("CUB_200_2011", "vpt-deep", 0.625, 80),
        score("StanfordDogs", "vpt-deep", 0.75, 80), score("cifar", "vpt-deep", 0.5, 80),  // no dtd: it did not finish
    };
}

} // namespace

class TestPetlTable : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void groupMeansAndWinsAgainstFull()
    {
        const PetlTable table = makePetlTable(kTasks, {"full", "linear", "vpt-deep"}, kScores());
        QCOMPARE(table.groups, (std::vector<std::string>{"FGVC", "Natural", "Demo"}));
        QVERIFY(table.hasFull);
        QCOMPARE(table.rows.size(), std::size_t(3));
        QCOMPARE(table.rows[0].method, std::string("full"));
        QCOMPARE(table.rows[1].method, std::string("linear"));

        const PetlTableRow& full = table.rows[0];
        QCOMPARE(*cellOf(full, "FGVC").mean, 0.625);
        QCOMPARE(*cellOf(full, "Natural").mean, 0.375);
        QCOMPARE(*cellOf(full, "Demo").mean, 1.0);
        QCOMPARE(cellOf(full, "FGVC").tasks, 2);
        QVERIFY(!cellOf(full, "FGVC").wins);  // Full is not counted against itself

        const PetlTableRow& linear = table.rows[1];
        QCOMPARE(*cellOf(linear, "FGVC").mean, 0.6875);
        QCOMPARE(*cellOf(linear, "FGVC").wins, 1);     // dogs; CUB is a tie
        QCOMPARE(*cellOf(linear, "Natural").mean, 0.3125);
        QCOMPARE(*cellOf(linear, "Natural").wins, 1);  // cifar
        QCOMPARE(*cellOf(linear, "Demo").wins, 0);

        // A method missing a task of a group has no mean there (it would not compare with the others), but its
        // wins still count over the tasks it ran.
        const PetlTableRow& deep = table.rows[2];
        QCOMPARE(*cellOf(deep, "FGVC").mean, 0.6875);
        QCOMPARE(*cellOf(deep, "FGVC").wins, 1);
        QVERIFY(!cellOf(deep, "Natural").mean);
        QCOMPARE(*cellOf(deep, "Natural").wins, 1);
        QCOMPARE(*cellOf(deep, "Demo").wins, 0);  // equal to Full
        QCOMPARE(deep.accuracies.size(), std::size_t(4));
    }

    void totalParamsOverTheTasks()
    {
        const PetlTable table = makePetlTable(kTasks, {"full", "linear", "vpt-deep"}, kScores());
        // Full stores a whole backbone per task and shares none: (1005 + 1010 + 1020 + 1030 + 1040) / 1000.
        QCOMPARE(*table.rows[0].multiplier, 5.105);
        // The others share one backbone: (1000 + 5 x 50) / 1000.
        QCOMPARE(*table.rows[1].multiplier, 1.25);
        QVERIFY(!table.rows[2].multiplier);  // a task is missing
        // With equal heads it is the multiplier `params` prints: (P + N T) / P, Full N T / P.
        QCOMPARE(storageMultiplier(85'798'656, 85'798'656, std::vector<std::int64_t>(24, 169'060)),
                 (85'798'656.0 + 24.0 * 169'060) / 85'798'656.0);
        QCOMPARE(storageMultiplier(0, 85'798'656, std::vector<std::int64_t>(24, 85'875'556)), 24.0 * 85'875'556 / 85'798'656.0);
        QVERIFY(errorOf([] { storageMultiplier(0, 0, {1}); }).find("backbone") != std::string::npos);
    }

    void withoutFullThereAreNoWins()
    {
        const PetlTable table = makePetlTable(kTasks, {"linear"}, kScores());
        QVERIFY(!table.hasFull);
        for (const PetlGroupCell& cell : table.rows[0].groups)
            QVERIFY(!cell.wins);
        QVERIFY(table.toJson()["wins_against"].is_null());
        QVERIFY(table.text().find('(') == std::string::npos);
    }

    void layouts()
    {
        const PetlTable table = makePetlTable(kTasks, {"full", "linear", "vpt-deep"}, kScores());
        const std::string csv = table.csv();
        QCOMPARE(csv.substr(0, csv.find('\n')), std::string("method,FGVC,FGVC wins,Natural,Natural wins,Demo,Demo wins,total_params"));
        QVERIFY2(csv.find("\nlinear,0.6875,1,0.3125,1,0.5,0,1.25\n") != std::string::npos, csv.c_str());
        QVERIFY2(csv.find("\nfull,0.625,,0.375,,1.0,,5.105\n") != std::string::npos, csv.c_str());
        QVERIFY2(csv.find("\nvpt-deep,0.6875,1,,1,1.0,0,\n") != std::string::npos, csv.c_str());

        const std::string text = table.text();
        QVERIFY2(text.rfind("method", 0) == 0 && text.find("Total params") != std::string::npos, text.c_str());
        QVERIFY2(text.find("68.75 (1)") != std::string::npos, text.c_str());
        QVERIFY2(text.find("1.25x") != std::string::npos && text.find("5.11x") != std::string::npos, text.c_str());
        QCOMPARE(std::count(text.begin(), text.end(), '\n'), 4L);

        const nlohmann::json json = table.toJson();
        QCOMPARE(json["rows"][1]["groups"]["FGVC"]["wins"].get<int>(), 1);
        QCOMPARE(json["rows"][2]["groups"]["Natural"]["mean"], nlohmann::json());
        QCOMPARE(json["groups"][0]["tasks"], (nlohmann::json{"CUB_200_2011", "StanfordDogs"}));
        QCOMPARE(json["rows"][0]["accuracy"]["dtd"].get<double>(), 0.5);
    }

    void refusesWhatDoesNotFit()
    {
        QVERIFY(errorOf([] { makePetlTable(kTasks, {"linear"}, {score("svhn", "linear", 0.5, 1)}); }).find("svhn") != std::string::npos);
        QVERIFY(errorOf([] { makePetlTable({{"a", "G"}, {"a", "G"}}, {"linear"}, {}); }).find("twice") != std::string::npos);
        QVERIFY(errorOf([] { makePetlTable(kTasks, {"linear", "linear"}, {}); }).find("twice") != std::string::npos);
        QVERIFY(errorOf([] {
                    makePetlTable(kTasks, {"linear"}, {score("dtd", "linear", 0.5, 1), score("dtd", "linear", 0.25, 1)});
                }).find("two scores") != std::string::npos);
        // Scores of a method not asked for are left out.
        QCOMPARE(makePetlTable(kTasks, {"full"}, kScores()).rows.size(), std::size_t(1));
    }

    // A study's folders: each cell's results.json, seeds averaged (finished ones only), parameters read back.
    void scoresFromRunFolders()
    {
        QTemporaryDir dir;
        RunSettings base;
        base.model = "m";
        const SweepPlan plan = makeSweepPlan(dir.path().toStdString(), base, {"/data/a", "/data/b"}, {"linear"}, {0}, {1, 2});
        QCOMPARE(plan.runs.size(), std::size_t(4));
        const auto write = [](const SweepRun& run, const nlohmann::json& results) {
            fs::create_directories(run.folder);
            std::ofstream(run.folder + "/results.json") << results.dump();
        };
        const nlohmann::json parameters = {{"trainable", 30}, {"backbone", 1000}, {"shared", 1000}, {"tasks", 2}, {"multiplier", 1.06}};
        // Results written before "shared" was recorded: it is derived from the multiplier.
        const nlohmann::json legacy = {{"trainable", 30}, {"backbone", 1000}, {"tasks", 2}, {"multiplier", 1.06}};
        for (const SweepRun& run : plan.runs) {
            if (run.dataset == "/data/a")
                write(run, {{"status", "finished"}, {"accuracy", run.seed == 1 ? 0.5 : 0.75}, {"parameters", parameters}});
            else if (run.seed == 1)
                write(run, {{"status", "finished"}, {"accuracy", 0.25}, {"parameters", legacy}});
            else
                write(run, {{"status", "failed"}, {"message", "diverged"}});
        }
        const std::vector<PetlTaskScore> scores = petlTaskScores(plan, {{"/data/a", "a"}});
        QCOMPARE(scores.size(), std::size_t(2));
        QCOMPARE(scores[0].task, std::string("a"));
        QCOMPARE(scores[0].method, std::string("linear"));
        QCOMPARE(scores[0].seeds, 2);
        QCOMPARE(scores[0].accuracy, 0.625);
        QCOMPARE(scores[0].trainable, std::int64_t(30));
        QCOMPARE(scores[0].shared, std::int64_t(1000));
        QCOMPARE(scores[1].task, std::string("/data/b"));  // no name given: its dataset
        QCOMPARE(scores[1].seeds, 1);
        QCOMPARE(scores[1].accuracy, 0.25);
        QCOMPARE(scores[1].shared, std::int64_t(1000));
    }
};

QTEST_APPLESS_MAIN(TestPetlTable)
#include "tst_petl_table.moc"
