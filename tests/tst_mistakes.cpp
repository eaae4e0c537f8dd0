// The window's "Mistakes" tab (issue 29, item 4, and item 5's cache): short CoOp and VPT-Deep runs on a tiny ViT
// CLIP (and a base-to-new CoOp run that scored a seeded subset of its base classes' test images), each selected in
// the Results table of the real window. The images listed in each (true, predicted) cell are as many as
// results.json's confusion matrix counts; each listed image's predicted class and confidence are those of
// `tunebench-cli predict --run`; the filters and the order do what they say; clicking a confusion cell opens its
// images; clicking an image shows the scores "Try it" shows. The frozen image tower's features come from the run's
// image-tower cache; a run without an export is a one-line error. A target the run was scored on (another dataset
// of the same classes, or DAPL's target domain) lists its own mistakes, as results.json's details.targets counts.
#include "core/Error.h"
#include "core/data/DatasetLayouts.h"
#include "core/experiment/RunMistakes.h"
#include "core/experiment/TunedModel.h"
#include "core/io/CheckpointWriter.h"
#include "core/train/FeatureCache.h"
#include "tests/CliRunner.h"
#include "tests/ClipVocabulary.h"
#include "tests/ErrorOf.h"
#include "tests/ModelFixtures.h"
#include "widgets/inspect/MistakesPanel.h"
#include "widgets/results/ResultsPanel.h"
#include "widgets/window/MainWindow.h"

#include <QComboBox>
#include <QLabel>
#include <QListWidget>
#include <QTabWidget>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QtTest>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include <array>
#include <filesystem>
#include <fstream>
#include <map>

namespace fs = std::filesystem;
using namespace tunebench;
using nlohmann::json;
using test::runCli;

namespace {

const std::vector<std::string> kClasses = {"apple", "banana", "cherry", "grape", "lemon", "plum"};

QString q(const std::string& text)
{
    return QString::fromStdString(text);
}

json readJson(const std::string& path)
{
    std::ifstream in(path);
    return json::parse(in);
}

std::vector<std::vector<std::int64_t>> storedConfusion(const std::string& run)
{
    return readJson(run + "/results.json")["details"]["first"]["confusion"].get<std::vector<std::vector<std::int64_t>>>();
}

} // namespace

class TestMistakes : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        qputenv("XDG_CONFIG_HOME", (m_dir.path() + "/config").toUtf8());
        // The image-tower cache of the runs (tunebench-cli train's default folder) and of the view: this test's.
        m_cache = m_dir.path().toStdString() + "/feature-cache";
        qputenv("TUNEBENCH_CACHE_DIR", QByteArray::fromStdString(m_cache));
        QCoreApplication::setOrganizationName("TunebenchTests");
        QCoreApplication::setApplicationName("tst_mistakes");
        const std::string root = m_dir.path().toStdString();
        // A colour per class, noisy enough that a tiny random model confuses them.
        m_dataset = root + "/fruit";
        cv::RNG rng(11);
        for (int c = 0; c < 6; ++c)
            for (auto [split, count] : {std::pair<const char*, int>{"train", 3}, {"val", 1}, {"test", 5}}) {
                const fs::path folder = fs::path(m_dataset) / split / kClasses[static_cast<size_t>(c)];
                fs::create_directories(folder);
                for (int i = 0; i < count; ++i) {
                    cv::Mat image(20 + i, 24, CV_8UC3);
                    rng.fill(image, cv::RNG::NORMAL, cv::Scalar(40 * c, 220 - 35 * c, 100), cv::Scalar(60, 60, 60));
                    QVERIFY(cv::imwrite((folder / (std::to_string(i) + ".png")).string(), image));
                }
            }
        // A darker domain of the same classes: a target to score on (coop) and to adapt to (DAPL).
        m_target = root + "/fruit-dark";
        for (int c = 0; c < 6; ++c)
            for (auto [split, count] : {std::pair<const char*, int>{"train", 3}, {"val", 1}, {"test", 4}}) {
                const fs::path folder = fs::path(m_target) / split / kClasses[static_cast<size_t>(c)];
                fs::create_directories(folder);
                for (int i = 0; i < count; ++i) {
                    cv::Mat image(22, 22, CV_8UC3);
                    rng.fill(image, cv::RNG::NORMAL, cv::Scalar(20 * c, 110 - 15 * c, 50), cv::Scalar(50, 50, 50));
                    QVERIFY(cv::imwrite((folder / (std::to_string(i) + ".png")).string(), image));
                }
            }
        const std::string model = root + "/tiny.safetensors";
        writeOpenAiSafetensors(test::randomWeights(test::tinyClipSpec(), 7), model);
        const std::string vocab = test::demoVocabularyPath();
        // Row name, method, its option, and extra flags.
        const std::vector<std::array<std::string, 4>> runs = {{"coop", "coop", "n_ctx=4", ""},
                                                              {"vpt-deep", "vpt-deep", "prompt_tokens=2", ""},
                                                              {"coop-base-new", "coop", "n_ctx=4", "base-new"},
                                                              {"coop-target", "coop", "n_ctx=4", "target"},
                                                              {"dapl", "dapl", "n_ctx=4", "adapt"}};
        for (const auto& [name, method, option, extra] : runs) {
            QStringList arguments = {"train", "--model", q(model), "--vocab", q(vocab), "--dataset", q(m_dataset), "--method", q(method),
                                     "--opt", q(option), "--shots", "2", "--seed", "1", "--epochs", "1", "--batch-size", "4", "--runs",
                                     q(root + "/runs"), "--threads", "2"};
            if (extra == "base-new") {
                // The base classes, and a seeded subset of their test images (train takes the limit from a config).
                const std::string config = root + "/limit.json";
                std::ofstream(config) << json{{"max_test_images", 10}}.dump();
                arguments << "--base-new" << "--config" << q(config);
            }
            if (extra == "target")
                arguments << "--eval-datasets" << q(m_target);
            if (extra == "adapt")
                arguments << "--adapt-to" << q(m_target);
            const auto trained = runCli(arguments);
            QVERIFY2(trained.exitCode == 0, trained.err.c_str());
            m_runs[name] = json::parse(trained.out)["run"].get<std::string>();
        }
        m_window = std::make_unique<MainWindow>();
        m_window->setRunsRoot(m_dir.path() + "/window-runs");
        m_window->show();
        m_results = m_window->findChild<ResultsPanel*>("resultsPanel");
        m_panel = m_window->findChild<MistakesPanel*>("mistakesPanel");
        m_tabs = m_window->findChild<QTabWidget*>("resultTabs");
        QVERIFY(m_results && m_panel && m_tabs);
    }

    void cleanupTestCase() { m_window.reset(); }

    void countsMatchConfusion_data() { runRows(); }
    void countsMatchConfusion()
    {
        QFETCH(QString, run);
        const std::shared_ptr<const RunMistakes> found = mistakesOf(m_runs.at(run.toStdString()));
        QVERIFY(found);
        const auto confusion = storedConfusion(m_runs.at(run.toStdString()));
        std::vector<std::vector<std::int64_t>> listed(confusion.size(), std::vector<std::int64_t>(confusion.size(), 0));
        for (const Mistake& mistake : found->mistakes) {
            QVERIFY(mistake.trueLabel != mistake.predictedLabel);
            ++listed.at(static_cast<size_t>(mistake.trueLabel)).at(static_cast<size_t>(mistake.predictedLabel));
        }
        std::int64_t mistakes = 0, images = 0;
        for (size_t t = 0; t < confusion.size(); ++t)
            for (size_t p = 0; p < confusion.size(); ++p) {
                images += confusion[t][p];
                if (t == p)
                    continue;
                mistakes += confusion[t][p];
                QVERIFY2(listed[t][p] == confusion[t][p],
                         qPrintable(QString("cell (%1, %2): %3 listed, results.json %4").arg(t).arg(p).arg(listed[t][p]).arg(confusion[t][p])));
            }
        QVERIFY2(mistakes > 0, "the tiny model classified every test image right: nothing to list");
        QCOMPARE(std::int64_t(found->mistakes.size()), mistakes);
        QCOMPARE(found->scoredImages, images);
        QVERIFY(found->agreesWithRun());
        if (run == "coop-base-new") {
            QCOMPARE(found->classNames, std::vector<std::string>(kClasses.begin(), kClasses.begin() + 3));  // the base half
            QCOMPARE(images, std::int64_t(10));  // --max-test-images
        }
        // Every mistake is shown, with its thumbnail, until a filter is set.
        auto* list = m_window->findChild<QListWidget*>("mistakesThumbnails");
        QCOMPARE(list->count(), int(found->mistakes.size()));
        QVERIFY(!list->item(0)->icon().isNull());
        QVERIFY2(!m_panel->findChild<QLabel*>("mistakesStatus")->text().isEmpty(), "no summary");
        // No target: nothing to choose, no chooser.
        QVERIFY(!m_window->findChild<QComboBox*>("mistakesTestSet")->isVisibleTo(m_panel));
    }

    void matchesPredict_data() { runRows(); }
    void matchesPredict()
    {
        QFETCH(QString, run);
        const std::string folder = m_runs.at(run.toStdString());
        const std::shared_ptr<const RunMistakes> found = mistakesOf(folder);
        QVERIFY(found && !found->mistakes.empty());
        QStringList arguments = {"predict", "--run", q(folder), "--top", "1", "--threads", "2"};
        for (const Mistake& mistake : found->mistakes)
            arguments << "--image" << q(mistake.source);
        const auto predicted = runCli(arguments);
        QVERIFY2(predicted.exitCode == 0, predicted.err.c_str());
        std::map<std::string, json> byPath;
        std::istringstream lines(predicted.out);
        for (std::string line; std::getline(lines, line);)
            if (!line.empty()) {
                const json entry = json::parse(line);
                byPath[entry["path"].get<std::string>()] = entry["top"][0];
            }
        for (const Mistake& mistake : found->mistakes) {
            QVERIFY2(byPath.count(mistake.source), mistake.source.c_str());
            const json& best = byPath.at(mistake.source);
            QCOMPARE(q(best["class"].get<std::string>()), q(found->classNames.at(static_cast<size_t>(mistake.predictedLabel))));
            // Another process scoring the same images in other batches and threads: the same sums in another
            // order, 3e-6 apart on an AMD EPYC's OpenBLAS kernels.
            QVERIFY2(std::abs(best["probability"].get<double>() - mistake.confidence) < 1e-5,
                     qPrintable(QString("%1: %2, predict %3").arg(q(mistake.source)).arg(mistake.confidence).arg(best["probability"].get<double>())));
        }

        // Clicking one shows it larger with "Try it"'s scores: the tuned top 5 (led by the wrong class) and, beside
        // CoOp, the hand-crafted prompt's.
        auto* list = m_window->findChild<QListWidget*>("mistakesThumbnails");
        QSignalSpy shown(m_panel, &MistakesPanel::detailShown);
        QListWidgetItem* first = list->item(0);
        list->scrollToItem(first);
        QTest::mouseClick(list->viewport(), Qt::LeftButton, {}, list->visualItemRect(first).center());
        QVERIFY2(shown.wait(120000), qPrintable(m_panel->errorText()));
        const Mistake& mistake = found->mistakes.at(static_cast<size_t>(m_panel->shownMistakes().front()));
        QCOMPARE(m_panel->detailIndex(), m_panel->shownMistakes().front());
        auto* tuned = m_window->findChild<QTableWidget*>("mistakesTuned");
        const int top = std::min(5, int(found->classNames.size()));  // the base-to-new run knows its 3 base classes
        QCOMPARE(tuned->rowCount(), top);
        QCOMPARE(tuned->item(0, 0)->text(), q(found->classNames.at(static_cast<size_t>(mistake.predictedLabel))));
        QVERIFY(std::abs(tuned->item(0, 0)->data(Qt::UserRole).toDouble() - mistake.confidence) < 1e-6);
        const bool handcrafted = run != "vpt-deep";
        QCOMPARE(m_window->findChild<QTableWidget*>("mistakesHandcrafted")->isVisibleTo(m_panel), handcrafted);
        QCOMPARE(m_window->findChild<QLabel*>("mistakesHandcraftedNote")->isVisibleTo(m_panel), !handcrafted);
        QCOMPARE(int(m_panel->detail()->handcrafted.size()), handcrafted ? top : 0);
        // The detail is TunedClassifier's (what "Try it" shows) on the stored test image.
        TunedClassifier classifier(folder, "cpu");
        const ImageTrial expected = classifier.classify(mistakeImage(*found, mistake), mistake.source, 5);
        for (size_t i = 0; i < expected.top.size(); ++i) {
            QCOMPARE(q(m_panel->detail()->top[i].className), q(expected.top[i].className));
            QVERIFY(std::abs(m_panel->detail()->top[i].probability - expected.top[i].probability) < 1e-12);
        }
        QVERIFY(!m_window->findChild<QLabel*>("mistakesDetailImage")->pixmap().isNull());
    }

    void filterAndSort()
    {
        const std::shared_ptr<const RunMistakes> found = mistakesOf(m_runs.at("coop"));
        QVERIFY(found && !found->mistakes.empty());
        auto* list = m_window->findChild<QListWidget*>("mistakesThumbnails");
        auto* trueClass = m_window->findChild<QComboBox*>("mistakesTrueClass");
        auto* predictedClass = m_window->findChild<QComboBox*>("mistakesPredictedClass");
        const auto confidences = [&] {
            std::vector<double> values;
            for (int index : m_panel->shownMistakes())
                values.push_back(found->mistakes.at(static_cast<size_t>(index)).confidence);
            return values;
        };
        // The order, both ways, over every mistake.
        m_panel->setOrder(MistakesPanel::Order::MostConfidentFirst);
        auto values = confidences();
        QCOMPARE(int(values.size()), int(found->mistakes.size()));
        QVERIFY(std::is_sorted(values.begin(), values.end(), std::greater<double>()));
        m_panel->setOrder(MistakesPanel::Order::LeastConfidentFirst);
        values = confidences();
        QVERIFY(std::is_sorted(values.begin(), values.end()));
        // The list shows them in that order: its items name the mistakes shown.
        QCOMPARE(list->count(), int(values.size()));
        for (int row = 0; row < list->count(); ++row)
            QCOMPARE(list->item(row)->data(Qt::UserRole).toInt(), m_panel->shownMistakes()[static_cast<size_t>(row)]);

        // Each true class through its combo box: exactly its mistakes.
        for (int label = 0; label < int(kClasses.size()); ++label) {
            trueClass->setCurrentIndex(trueClass->findData(label));
            const auto expected = std::count_if(found->mistakes.begin(), found->mistakes.end(), [&](const Mistake& m) { return m.trueLabel == label; });
            QCOMPARE(std::int64_t(m_panel->shownMistakes().size()), std::int64_t(expected));
            QCOMPARE(list->count(), int(expected));
            for (int index : m_panel->shownMistakes())
                QCOMPARE(found->mistakes.at(static_cast<size_t>(index)).trueLabel, label);
            values = confidences();
            QVERIFY(std::is_sorted(values.begin(), values.end()));
        }
        // The predicted class alone, most confident first.
        trueClass->setCurrentIndex(0);
        m_panel->setOrder(MistakesPanel::Order::MostConfidentFirst);
        const int predicted = found->mistakes.front().predictedLabel;
        predictedClass->setCurrentIndex(predictedClass->findData(predicted));
        const auto expected = std::count_if(found->mistakes.begin(), found->mistakes.end(), [&](const Mistake& m) { return m.predictedLabel == predicted; });
        QCOMPARE(std::int64_t(m_panel->shownMistakes().size()), std::int64_t(expected));
        for (int index : m_panel->shownMistakes())
            QCOMPARE(found->mistakes.at(static_cast<size_t>(index)).predictedLabel, predicted);
        values = confidences();
        QVERIFY(std::is_sorted(values.begin(), values.end(), std::greater<double>()));
        m_panel->setFilter(-1, -1);
        QCOMPARE(list->count(), int(found->mistakes.size()));
    }

    void confusionCellOpensItsImages()
    {
        // Another run first, so that the click also starts the search.
        const std::string run = m_runs.at("vpt-deep");
        m_results->addResults(readRunFolder(q(m_runs.at("coop"))));
        m_results->addResults(readRunFolder(q(run)));
        QCOMPARE(m_panel->runFolder(), q(run));
        QVERIFY(!m_panel->mistakes());
        const auto confusion = storedConfusion(run);
        int bestTrue = -1, bestPredicted = -1;
        for (int t = 0; t < int(confusion.size()); ++t)
            for (int p = 0; p < int(confusion.size()); ++p)
                if (t != p && (bestTrue < 0 || confusion[t][p] > confusion[bestTrue][bestPredicted]))
                    bestTrue = t, bestPredicted = p;
        QVERIFY(confusion[bestTrue][bestPredicted] > 0);

        m_tabs->setCurrentWidget(m_results);
        m_results->detailTabs()->setCurrentIndex(1);
        QTableWidget* table = m_results->confusionTable();
        QTableWidgetItem* cell = table->item(bestTrue, bestPredicted);
        QVERIFY(cell);
        QSignalSpy found(m_panel, &MistakesPanel::mistakesFound);
        table->scrollToItem(cell);
        QTest::mouseClick(table->viewport(), Qt::LeftButton, {}, table->visualItemRect(cell).center());
        QCOMPARE(m_tabs->currentWidget(), static_cast<QWidget*>(m_panel));
        QCOMPARE(m_window->findChild<QComboBox*>("mistakesTrueClass")->currentData().toInt(), bestTrue);
        QCOMPARE(m_window->findChild<QComboBox*>("mistakesPredictedClass")->currentData().toInt(), bestPredicted);
        QVERIFY2(found.wait(120000), qPrintable(m_panel->errorText()));
        QCOMPARE(std::int64_t(m_panel->shownMistakes().size()), confusion[bestTrue][bestPredicted]);
        for (int index : m_panel->shownMistakes()) {
            const Mistake& mistake = m_panel->mistakes()->mistakes.at(static_cast<size_t>(index));
            QCOMPARE(mistake.trueLabel, bestTrue);
            QCOMPARE(mistake.predictedLabel, bestPredicted);
        }
        QCOMPARE(m_window->findChild<QListWidget*>("mistakesThumbnails")->count(), int(confusion[bestTrue][bestPredicted]));

        // A diagonal cell (the right answers) opens nothing.
        m_tabs->setCurrentWidget(m_results);
        QTableWidgetItem* diagonal = table->item(0, 0);
        QTest::mouseClick(table->viewport(), Qt::LeftButton, {}, table->visualItemRect(diagonal).center());
        QCOMPARE(m_tabs->currentWidget(), static_cast<QWidget*>(m_results));
        m_panel->setFilter(-1, -1);
    }

    void cacheSparesEncoding()
    {
        const std::string run = m_runs.at("coop");
        TunedModel tuned = openTunedRun(run, "", "", "cpu", ModelMismatch::Refuse);
        // The run stored its test images' features when it evaluated them: read back, not encoded.
        RunMistakes first = findRunMistakes(run, tuned);
        QVERIFY(first.cacheApplies);
        QCOMPARE(first.cacheFolder, m_cache);
        QVERIFY(first.featuresFromCache);
        // With the cache emptied, the first search encodes and stores them, the next one reads them.
        FeatureCache(m_cache).clear();
        std::vector<std::string> steps;
        MistakeSearch search;
        search.progress = [&steps](const std::string& step, std::int64_t, std::int64_t) { steps.push_back(step); };
        const RunMistakes encoded = findRunMistakes(run, tuned, search);
        QVERIFY(!encoded.featuresFromCache);
        QVERIFY(std::find(steps.begin(), steps.end(), "encoding") != steps.end());
        QVERIFY(FeatureCache(m_cache).usage().files > 0);
        const RunMistakes reopened = findRunMistakes(run, tuned);
        QVERIFY(reopened.featuresFromCache);
        QCOMPARE(reopened.mistakes.size(), first.mistakes.size());
        for (size_t i = 0; i < first.mistakes.size(); ++i) {
            QCOMPARE(reopened.mistakes[i].testIndex, first.mistakes[i].testIndex);
            QVERIFY(std::abs(reopened.mistakes[i].confidence - encoded.mistakes[i].confidence) < 1e-6);
        }
        // VPT-Deep tunes the image tower: nothing to cache.
        TunedModel vpt = openTunedRun(m_runs.at("vpt-deep"), "", "", "cpu", ModelMismatch::Refuse);
        QVERIFY(!findRunMistakes(m_runs.at("vpt-deep"), vpt).cacheApplies);
        // Cancelling ends the search with "cancelled".
        MistakeSearch cancelled;
        cancelled.cancelled = [] { return true; };
        try {
            findRunMistakes(run, tuned, cancelled);
            QFAIL("a cancelled search returned");
        } catch (const Error& e) {
            QCOMPARE(QString(e.what()), QString("cancelled"));
        }
    }

    // A target's test images: those of a dataset the run was also scored on, or DAPL's target domain (whose
    // prompts its export holds, so its own test set is the target's), as many per cell as results.json's
    // details.targets counts.
    void targetsListTheirOwnMistakes_data()
    {
        QTest::addColumn<QString>("run");
        QTest::addColumn<bool>("ownTestSet");  // whether the run's own test images are offered too
        QTest::newRow("coop-target") << "coop-target" << true;
        QTest::newRow("dapl") << "dapl" << false;
    }
    void targetsListTheirOwnMistakes()
    {
        QFETCH(QString, run);
        QFETCH(bool, ownTestSet);
        const std::string folder = m_runs.at(run.toStdString());
        const json target = readJson(folder + "/results.json")["details"]["targets"][0];
        const std::string name = target["dataset"].get<std::string>();
        std::vector<std::string> expected = {name};
        if (ownTestSet)
            expected.insert(expected.begin(), "");
        QCOMPARE(runMistakeTestSets(folder), expected);

        TunedModel tuned = openTunedRun(folder, "", "", "cpu", ModelMismatch::Refuse);
        MistakeSearch search;
        search.testSetName = ownTestSet ? name : "";  // DAPL: "" is its target
        const RunMistakes found = findRunMistakes(folder, tuned, search);
        QCOMPARE(q(found.testSetName), q(name));
        QCOMPARE(found.testSets, expected);  // what the tab's chooser offers, read by the search
        QCOMPARE(q(found.dataset), q(name));
        const auto confusion = target["confusion"].get<std::vector<std::vector<std::int64_t>>>();
        QCOMPARE(found.storedConfusion, confusion);
        QVERIFY(found.agreesWithRun());
        std::int64_t images = 0;
        for (const auto& row : confusion)
            for (std::int64_t count : row)
                images += count;
        QCOMPARE(found.scoredImages, images);
        QCOMPARE(images, std::int64_t(6 * 4));
        for (const Mistake& mistake : found.mistakes)
            QVERIFY2(mistake.source.rfind(m_target, 0) == 0, mistake.source.c_str());
        if (ownTestSet) {
            search.testSetName = "no-such-set";
            const std::string message = test::errorOf([&] { findRunMistakes(folder, tuned, search); });
            QVERIFY2(message.find("no target named no-such-set (it scored " + name + ")") != std::string::npos, message.c_str());
        }

        // The tab offers the same choice, and finds the target's mistakes when it is chosen.
        m_results->addResults(readRunFolder(q(folder)));
        QCOMPARE(m_panel->runFolder(), q(folder));
        m_tabs->setCurrentWidget(m_panel);
        // The first search (on showing the tab) reads which test sets the run has, off the GUI thread.
        QTRY_VERIFY_WITH_TIMEOUT(m_panel->mistakes() && !m_panel->busy(), 120000);
        auto* sets = m_window->findChild<QComboBox*>("mistakesTestSet");
        QCOMPARE(sets->count(), int(expected.size()));
        QCOMPARE(sets->currentData().toString(), q(m_panel->mistakes()->testSetName));
        QVERIFY(sets->isVisibleTo(m_panel));
        QCOMPARE(sets->isEnabled(), ownTestSet);
        QSignalSpy foundSignal(m_panel, &MistakesPanel::mistakesFound);
        sets->setCurrentIndex(sets->findData(q(name)));
        QTRY_VERIFY_WITH_TIMEOUT(m_panel->mistakes() && m_panel->mistakes()->testSetName == name && !m_panel->busy(), 120000);
        QCOMPARE(m_panel->mistakes()->mistakes.size(), found.mistakes.size());
        const QString status = m_window->findChild<QLabel*>("mistakesStatus")->text();
        QVERIFY2(status.contains(q(name)), qPrintable(status));
        // A cell of the Results tab's matrix (the run's own test images) goes back to them where they are offered.
        if (ownTestSet) {
            Q_EMIT m_results->confusionCellClicked(0, 1);
            QCOMPARE(sets->currentData().toString(), QString());
            QTRY_VERIFY_WITH_TIMEOUT(m_panel->mistakes() && m_panel->mistakes()->testSetName.empty() && !m_panel->busy(), 120000);
        }
    }

    void runWithoutExportIsOneLine()
    {
        const std::string copy = m_dir.path().toStdString() + "/no-export-run";
        fs::copy(m_runs.at("coop"), copy, fs::copy_options::recursive);
        fs::remove_all(copy + "/export");
        m_results->addResults(readRunFolder(q(copy)));
        QCOMPARE(m_panel->runFolder(), q(copy));
        QSignalSpy failed(m_panel, &MistakesPanel::failed);
        m_panel->findMistakes();
        QVERIFY(failed.wait(120000));
        const QString message = m_panel->errorText();
        QVERIFY2(message.contains(q(copy)) && message.contains("no export"), qPrintable(message));
        QVERIFY(!message.contains('\n'));
        QCOMPARE(m_window->findChild<QLabel*>("mistakesStatus")->text(), message);
        QVERIFY(m_window->findChild<QListWidget*>("mistakesThumbnails")->count() == 0);
    }

    // TUNEBENCH_SCREENSHOT_MISTAKES=docs/screenshot-mistakes.png with TUNEBENCH_MISTAKES_RUN=RUN_DIR (a run of the
    // demo model on fashion-mnist:tinted) draws the docs' picture: the window with the demo model open, the run's
    // fullest off-diagonal confusion cell clicked and its most confident mistake opened.
    void screenshot()
    {
        const QString shot = qEnvironmentVariable("TUNEBENCH_SCREENSHOT_MISTAKES"), run = qEnvironmentVariable("TUNEBENCH_MISTAKES_RUN");
        if (shot.isEmpty() || run.isEmpty())
            QSKIP("set TUNEBENCH_SCREENSHOT_MISTAKES and TUNEBENCH_MISTAKES_RUN to draw the screenshot");
        QSignalSpy loaded(m_window.get(), &MainWindow::modelLoaded);
        m_window->openCheckpoint(MainWindow::demoModelPath());
        QVERIFY(loaded.wait(60000));
        m_results->addResults(readRunFolder(run));
        const auto confusion = storedConfusion(run.toStdString());
        int bestTrue = 0, bestPredicted = 1;
        for (int t = 0; t < int(confusion.size()); ++t)
            for (int p = 0; p < int(confusion.size()); ++p)
                if (t != p && confusion[t][p] > confusion[bestTrue][bestPredicted])
                    bestTrue = t, bestPredicted = p;
        QSignalSpy found(m_panel, &MistakesPanel::mistakesFound);
        Q_EMIT m_results->confusionCellClicked(bestTrue, bestPredicted);
        QVERIFY2(found.wait(600000), qPrintable(m_panel->errorText()));
        m_panel->setOrder(MistakesPanel::Order::MostConfidentFirst);
        QSignalSpy shown(m_panel, &MistakesPanel::detailShown);
        m_panel->openMistake(m_panel->shownMistakes().front());
        QVERIFY2(shown.wait(120000), qPrintable(m_panel->errorText()));
        m_window->findChild<QListWidget*>("mistakesThumbnails")->setCurrentRow(0);
        m_window->resize(1500, 1000);
        QTest::qWait(2000);  // the strategy dock's parameter count, counted in the background, fills in
        QVERIFY(m_window->grab().save(shot));
    }

private:
    void runRows()
    {
        QTest::addColumn<QString>("run");
        for (const char* run : {"coop", "vpt-deep", "coop-base-new"})
            QTest::newRow(run) << run;
    }

    // The run selected in the Results table and its mistakes found in the tab (once per run while it stays selected).
    std::shared_ptr<const RunMistakes> mistakesOf(const std::string& run)
    {
        m_results->addResults(readRunFolder(q(run)));
        if (m_panel->runFolder() != q(run))
            return nullptr;
        m_tabs->setCurrentWidget(m_panel);
        if (!m_panel->mistakes()) {
            QSignalSpy found(m_panel, &MistakesPanel::mistakesFound);
            if (!m_panel->busy())
                m_panel->findMistakes();
            if (!found.wait(120000)) {
                qWarning("%s", qPrintable(m_panel->errorText()));
                return nullptr;
            }
        }
        return m_panel->mistakes();
    }

    QTemporaryDir m_dir;
    std::string m_dataset, m_target, m_cache;
    std::map<std::string, std::string> m_runs;
    std::unique_ptr<MainWindow> m_window;
    ResultsPanel* m_results = nullptr;
    MistakesPanel* m_panel = nullptr;
    QTabWidget* m_tabs = nullptr;
};

QTEST_MAIN(TestMistakes)
#include "tst_mistakes.moc"
