// `tunebench-cli petl-table` on a tiny timm ViT: three domain variants of a tiny dataset as tasks (the
// demo's shape) with full, linear and vpt-deep, one epoch; and VTAB-1k task folders found under
// $TUNEBENCH_DATA, run by --local worker processes. The table printed, table.json and the cells' own
// results.json agree; the multipliers are those of `params`; a second run trains nothing.
#include "core/io/CheckpointWriter.h"
#include "tests/CliRunner.h"
#include "tests/ModelFixtures.h"
#include "tests/ShadesDataset.h"

#include <QTemporaryDir>
#include <QtTest>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>

using namespace tunebench;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// A VTAB-1k task folder with labels 0..2: images/ and the four split lists.
void writeVtabTask(const fs::path& folder)
{
    std::string train800, val200, test;
    int index = 0;
    const auto add = [&](std::string& list, int label) {
        const std::string path = "images/" + std::to_string(index++) + ".png";
        fs::create_directories(folder / "images");
        cv::Mat image(16, 16, CV_8UC3, cv::Scalar(60 + 70 * label, 90, 30 + index));
        QVERIFY(cv::imwrite((folder / path).string(), image));
        list += path + " " + std::to_string(label) + "\n";
    };
    for (int i = 0; i < 6; ++i)
        add(train800, i % 3);
    for (int i = 0; i < 3; ++i)
        add(val200, i % 3);
    for (int i = 0; i < 6; ++i)
        add(test, i % 3);
    std::ofstream(folder / "train800.txt") << train800;
    std::ofstream(folder / "val200.txt") << val200;
    std::ofstream(folder / "train800val200.txt") << train800 + val200;
    std::ofstream(folder / "test.txt") << test;
}

json readJson(const fs::path& file)
{
    std::ifstream in(file);
    return json::parse(in);
}

bool isOneLineError(const test::CliResult& r)
{
    return r.exitCode != 0 && !r.err.empty() && r.err.find('\n') == r.err.size() - 1;
}

} // namespace

class TestPetlTableCli : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        m_model = m_dir.path() + "/tiny-timm.safetensors";
        writeTimmSafetensors(test::randomWeights(test::tinyTimmSpec(), 17), m_model.toStdString());
        test::writeShadesDataset(m_dir.path().toStdString() + "/shades", 3, 4, 4);
    }

    // The demo's table: three domain variants of one dataset as the tasks of one group.
    void domainVariantsAsTasks()
    {
        const QString shades = m_dir.path() + "/shades";
        const QString out = m_dir.path() + "/demo-table";
        const QStringList command = {"petl-table", "--model", m_model, "--benchmark", shades + "," + shades + ":sketch," + shades + ":tinted",
                                     "--group", "Demo", "--methods", "full,linear,vpt-deep", "--epochs", "1", "--max-test-images", "6",
                                     "--out", out, "--threads", "2"};
        const test::CliResult r = test::runCli(command);
        QVERIFY2(r.exitCode == 0, r.err.c_str());
        const json table = json::parse(r.out);
        QCOMPARE(table["groups"], (json{{{"name", "Demo"}, {"tasks", {"shades", "shades:sketch", "shades:tinted"}}}}));
        QCOMPARE(table["wins_against"], json("full"));
        QCOMPARE(table["counts"]["finished"].get<int>(), 9);
        QCOMPARE(table["rows"].size(), std::size_t(3));

        // Every cell trained on the whole training split (shots 0) and scored test; the table holds its accuracy.
        const json plan = readJson(out.toStdString() + "/plan.json");
        QCOMPARE(plan["runs"].size(), std::size_t(9));
        std::map<std::string, std::map<std::string, double>> cells;  // method -> task -> accuracy
        for (const json& run : plan["runs"]) {
            QCOMPARE(run["shots"].get<int>(), 0);
            const json results = readJson(run["folder"].get<std::string>() + "/results.json");
            QCOMPARE(results["status"], json("finished"));
            const std::string dataset = run["dataset"].get<std::string>();
            const std::string task = "shades" + (dataset.find(':') == std::string::npos ? "" : dataset.substr(dataset.rfind(':')));
            cells[run["method"].get<std::string>()][task] = results["accuracy"].get<double>();
            QCOMPARE(results["parameters"]["tasks"].get<int>(), 3);
        }
        const json& full = table["rows"][0];
        QCOMPARE(full["method"], json("full"));
        QVERIFY(full["groups"]["Demo"]["wins"].is_null());
        for (const json& row : table["rows"]) {
            const std::string method = row["method"].get<std::string>();
            double sum = 0;
            int wins = 0;
            for (const auto& [task, accuracy] : cells[method]) {
                QCOMPARE(row["accuracy"][task].get<double>(), accuracy);
                sum += accuracy;
                wins += accuracy > cells["full"][task] ? 1 : 0;
            }
            QVERIFY(std::abs(row["groups"]["Demo"]["mean"].get<double>() - sum / 3) < 1e-12);
            if (method != "full")
                QCOMPARE(row["groups"]["Demo"]["wins"].get<int>(), wins);
            // Total params over the three tasks (equal heads here) is what `params` says for three tasks.
            const test::CliResult params = test::runCli({"params", "--model", m_model, "--strategy", QString::fromStdString(method), "--tasks",
                                                         "3", "--classes", "3"});
            QVERIFY2(params.exitCode == 0, params.err.c_str());
            QVERIFY2(std::abs(row["multiplier"].get<double>() - json::parse(params.out)["multiplier"].get<double>()) < 1e-12, method.c_str());
        }

        // The layout printed: the group's column, Total params, the wins in parentheses.
        QVERIFY2(r.err.find("Demo: shades, shades:sketch, shades:tinted") != std::string::npos, r.err.c_str());
        const auto header = r.err.find("method");
        QVERIFY2(header != std::string::npos && r.err.find("Total params", header) != std::string::npos, r.err.c_str());
        char linearLine[64];
        std::snprintf(linearLine, sizeof linearLine, "%.2f (%d)", 100 * table["rows"][1]["groups"]["Demo"]["mean"].get<double>(),
                      table["rows"][1]["groups"]["Demo"]["wins"].get<int>());
        QVERIFY2(r.err.find(linearLine) != std::string::npos, r.err.c_str());

        // The files: the table as CSV and JSON, the per-task scores.
        std::ifstream csv(out.toStdString() + "/table.csv");
        std::string line;
        std::getline(csv, line);
        QCOMPARE(line, std::string("method,Demo,Demo wins,total_params"));
        QCOMPARE(readJson(out.toStdString() + "/table.json")["rows"], table["rows"]);
        QVERIFY(fs::exists(out.toStdString() + "/tasks.csv"));

        // Run again: every cell is finished, nothing trains, the same table.
        const test::CliResult again = test::runCli(command);
        QVERIFY2(again.exitCode == 0, again.err.c_str());
        QCOMPARE(json::parse(again.out)["rows"], table["rows"]);
        QVERIFY2(again.err.find("epoch") == std::string::npos, again.err.c_str());
    }

    // --benchmark vtab-1k: the task folders under $TUNEBENCH_DATA/vtab-1k, each in its group, run by worker processes.
    void vtabTasksFromTheDataFolder()
    {
        const fs::path root = m_dir.path().toStdString() + "/data";
        writeVtabTask(root / "vtab-1k" / "dtd");
        writeVtabTask(root / "vtab-1k" / "eurosat");
        QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
        environment.insert("TUNEBENCH_DATA", QString::fromStdString(root.string()));
        const test::CliResult r = test::runCli({"petl-table", "--model", m_model, "--benchmark", "vtab-1k", "--methods", "linear", "--epochs", "1",
                                                "--local", "2", "--out", m_dir.path() + "/vtab-table", "--threads", "1"},
                                               environment);
        QVERIFY2(r.exitCode == 0, r.err.c_str());
        const json table = json::parse(r.out);
        QCOMPARE(table["groups"], (json{{{"name", "Natural"}, {"tasks", {"dtd"}}}, {{"name", "Specialized"}, {"tasks", {"eurosat"}}}}));
        QVERIFY(table["wins_against"].is_null());  // no Full among the methods: no wins
        const json& linear = table["rows"][0];
        QVERIFY(linear["groups"]["Natural"]["wins"].is_null());
        QCOMPARE(linear["groups"]["Natural"]["mean"], linear["accuracy"]["dtd"]);
        // dtd's head has its 47 classes, eurosat's its 10: each task adds its own.
        QVERIFY(linear["trainable"]["dtd"].get<std::int64_t>() > linear["trainable"]["eurosat"].get<std::int64_t>());
        // Each cell trained on train800val200 (9 images here) and scored test.
        for (const json& run : readJson(m_dir.path().toStdString() + "/vtab-table/plan.json")["runs"])
            QVERIFY(fs::exists(run["folder"].get<std::string>() + "/train.log"));  // a worker process ran it

        // Without $TUNEBENCH_DATA, or with no FGVC folder in it: one line saying where it looked.
        environment.remove("TUNEBENCH_DATA");
        const test::CliResult unset = test::runCli({"petl-table", "--model", m_model, "--benchmark", "vtab-1k"}, environment);
        QVERIFY2(isOneLineError(unset) && unset.err.find("TUNEBENCH_DATA") != std::string::npos, unset.err.c_str());
        environment.insert("TUNEBENCH_DATA", QString::fromStdString(root.string()));
        const test::CliResult noFgvc = test::runCli({"petl-table", "--model", m_model, "--benchmark", "fgvc"}, environment);
        QVERIFY2(isOneLineError(noFgvc) && noFgvc.err.find("no FGVC dataset") != std::string::npos, noFgvc.err.c_str());
        const test::CliResult unknown = test::runCli({"petl-table", "--model", m_model, "--benchmark", "vtab-1k", "--methods", "nope"}, environment);
        QVERIFY2(isOneLineError(unknown) && unknown.err.find("nope") != std::string::npos, unknown.err.c_str());
    }

private:
    QTemporaryDir m_dir;
    QString m_model;
};

QTEST_GUILESS_MAIN(TestPetlTableCli)
#include "tst_petl_table_cli.moc"
