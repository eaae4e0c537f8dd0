// The window's "Try it" tab (issue 29, item 4): short CoOp and VPT-Deep runs on a tiny ViT CLIP and a CoOp run
// on a tiny ResNet CLIP, each selected in the Results table of the real window; an image classified in the tab
// shows the top 5 of `tunebench-cli predict --run RUN --image IMG --top 5` (classes and probabilities), the
// hand-crafted prompt's beside CoOp and not beside VPT-Deep, and "Where it looks" overlays the engine's map with
// its method named: the attention rollout over the patches (after VPT's and L2P's prompt tokens, over L2P's
// prompted pass), or the ResNet's attention pool. An unreadable image and a run without an export are one-line errors in the tab. A folder is
// listed as `predict --folder` scores it (the same best classes and CSV), and can be cancelled.
#include "core/data/DatasetLayouts.h"
#include "core/data/ImageDomains.h"
#include "core/data/ImagePreprocess.h"
#include "core/experiment/TunedModel.h"
#include "core/io/CheckpointWriter.h"
#include "core/model/AttentionRollout.h"
#include "tests/CliRunner.h"
#include "tests/ClipVocabulary.h"
#include "tests/ModelFixtures.h"
#include "widgets/inspect/TryItPanel.h"
#include "widgets/results/ResultsPanel.h"
#include "widgets/window/MainWindow.h"

#include <QCheckBox>
#include <QLabel>
#include <QPushButton>
#include <QTabWidget>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QtTest>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <torch/torch.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

namespace fs = std::filesystem;
using namespace tunebench;
using nlohmann::json;
using test::runCli;

namespace {

// Six classes, so that a top 5 leaves one out.
const std::vector<std::string> kClasses = {"apple", "banana", "cherry", "grape", "lemon", "plum"};

QString q(const std::string& text)
{
    return QString::fromStdString(text);
}

} // namespace

class TestTryIt : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        // The window's stored settings go to this test's folder, never the user's.
        qputenv("XDG_CONFIG_HOME", (m_dir.path() + "/config").toUtf8());
        QCoreApplication::setOrganizationName("TunebenchTests");
        QCoreApplication::setApplicationName("tst_try_it");
        const std::string root = m_dir.path().toStdString();
        // The image-tower cache the tab and predict share (the runs name none): this test's, never the user's.
        qputenv("TUNEBENCH_CACHE_DIR", QByteArray::fromStdString(root + "/feature-cache"));
        // tst_predict's folder dataset: a colour per class.
        m_dataset = root + "/fruit";
        cv::RNG rng(5);
        for (int c = 0; c < 6; ++c)
            for (auto [split, count] : {std::pair<const char*, int>{"train", 3}, {"val", 1}, {"test", 2}}) {
                const fs::path folder = fs::path(m_dataset) / split / kClasses[static_cast<size_t>(c)];
                fs::create_directories(folder);
                for (int i = 0; i < count; ++i) {
                    cv::Mat image(20, 24, CV_8UC3);
                    rng.fill(image, cv::RNG::NORMAL, cv::Scalar(40 * c, 220 - 35 * c, 100), cv::Scalar(20, 20, 20));
                    QVERIFY(cv::imwrite((folder / (std::to_string(i) + ".png")).string(), image));
                }
            }
        m_image = m_dataset + "/test/cherry/0.png";
        const std::string vit = root + "/tiny.safetensors", resnet = root + "/tiny-resnet.safetensors";
        writeOpenAiSafetensors(test::randomWeights(test::tinyClipSpec(), 7), vit);
        writeOpenAiSafetensors(test::randomWeights(test::tinyResNetClipSpec(), 7), resnet);
        const std::string vocab = test::demoVocabularyPath();
        // Row name, model, method and its option.
        const std::vector<std::array<std::string, 4>> runs = {
            {"coop", vit, "coop", "n_ctx=4"}, {"vpt-deep", vit, "vpt-deep", "prompt_tokens=2"}, {"coop-resnet", resnet, "coop", "n_ctx=4"}};
        for (const auto& [name, model, method, option] : runs) {
            const auto trained = runCli({"train", "--model", q(model), "--vocab", q(vocab), "--dataset", q(m_dataset), "--method", q(method),
                                         "--opt", q(option), "--shots", "2", "--seed", "1", "--epochs", "1", "--batch-size", "4", "--runs",
                                         q(root + "/runs"), "--threads", "2"});
            QVERIFY2(trained.exitCode == 0, trained.err.c_str());
            m_runs[name] = json::parse(trained.out)["run"].get<std::string>();
        }
        // L2P, trained by the continual protocol: its image tower runs twice per image (the query pass, then the
        // pass with the chosen prompts).
        const auto continual = runCli({"continual", "--model", q(vit), "--dataset", q(m_dataset), "--tasks", "2", "--methods", "l2p", "--seeds", "1",
                                       "--epochs-per-task", "1", "--batch-size", "4", "--opt", "pool_size=4", "--opt", "top_k=2", "--opt",
                                       "length=2", "--runs", q(root + "/continual"), "--threads", "2"});
        QVERIFY2(continual.exitCode == 0, continual.err.c_str());
        m_runs["l2p"] = json::parse(continual.out)["methods"]["l2p"]["per_seed"][0]["run"].get<std::string>();
        m_window = std::make_unique<MainWindow>();
        m_window->setRunsRoot(m_dir.path() + "/window-runs");
        m_window->show();
        m_results = m_window->findChild<ResultsPanel*>("resultsPanel");
        m_panel = m_window->findChild<TryItPanel*>("tryItPanel");
        QVERIFY(m_results && m_panel);
    }

    void cleanupTestCase() { m_window.reset(); }

    void matchesPredict_data()
    {
        QTest::addColumn<QString>("method");
        QTest::addColumn<bool>("handcrafted");
        QTest::addColumn<int>("firstPatch");  // where the patches start among the image tower's tokens
        QTest::addColumn<QString>("attentionMethod");
        QTest::addColumn<bool>("cached");  // the image tower is frozen: its features go through the image-tower cache
        QTest::newRow("coop") << "coop" << true << 1 << "attention rollout over 2 layers" << true;
        QTest::newRow("vpt-deep") << "vpt-deep" << false << 1 + 2 << "attention rollout over 2 layers" << false;  // [CLS], 2 prompts, the patches
        QTest::newRow("coop-resnet") << "coop-resnet" << true << 1 << "attention pool (mean-token query)" << true;
        // [CLS], top_k x length = 2 x 2 chosen prompt tokens, the patches; the prompted pass's 2 layers.
        QTest::newRow("l2p") << "l2p" << false << 1 + 2 * 2 << "attention rollout over 2 layers" << false;
    }
    void matchesPredict()
    {
        QFETCH(QString, method);
        QFETCH(bool, handcrafted);
        QFETCH(int, firstPatch);
        QFETCH(QString, attentionMethod);
        QFETCH(bool, cached);
        const std::string run = m_runs.at(method.toStdString());
        // The tab follows the run selected in the Results table.
        m_results->addResults(readRunFolder(q(run)));
        QCOMPARE(m_panel->runFolder(), q(run));
        auto* open = m_window->findChild<QPushButton*>("tryItOpen");
        QVERIFY(open && open->isEnabled());

        QSignalSpy classified(m_panel, &TryItPanel::classified);
        QSignalSpy failed(m_panel, &TryItPanel::failed);
        m_panel->classifyImage(q(m_image));
        QVERIFY2(classified.wait(120000), qPrintable(m_panel->errorText()));
        QVERIFY(failed.isEmpty());
        QVERIFY(m_panel->trial().has_value());
        // The first image the tab ever tries has not been seen by any model yet. Later rows cannot say so: a
        // tab that shows an image tries it again with the newly selected run at once, and that attempt (its
        // answer superseded by this one) may have stored the features first.
        if (!m_triedAnImage)
            QVERIFY(!m_panel->trial()->featuresFromCache);
        m_triedAnImage = true;
        // The same image again: where the image tower is frozen, its features come back from the cache, and
        // the scores and the map are the same.
        const ImageTrial encoded = *m_panel->trial();
        m_panel->classifyImage(q(m_image));
        QVERIFY2(classified.wait(120000), qPrintable(m_panel->errorText()));
        QCOMPARE(m_panel->trial()->featuresFromCache, cached);
        QCOMPARE(m_panel->trial()->top.size(), encoded.top.size());
        for (size_t k = 0; k < encoded.top.size(); ++k) {
            QCOMPARE(q(m_panel->trial()->top[k].className), q(encoded.top[k].className));
            QVERIFY(std::abs(m_panel->trial()->top[k].probability - encoded.top[k].probability) < 1e-6);
        }
        QVERIFY(m_panel->trial()->attention == encoded.attention);

        const auto predicted = runCli({"predict", "--run", q(run), "--image", q(m_image), "--top", "5", "--threads", "2"});
        QVERIFY2(predicted.exitCode == 0, predicted.err.c_str());
        const json line = json::parse(predicted.out);
        QCOMPARE(line["top"].size(), size_t(5));
        const auto expectTable = [](const char* name, const QTableWidget* table, const json& top) {
            QCOMPARE(table->rowCount(), int(top.size()));
            for (int row = 0; row < table->rowCount(); ++row) {
                QCOMPARE(table->item(row, 0)->text(), q(top[static_cast<size_t>(row)]["class"].get<std::string>()));
                const double shown = table->item(row, 0)->data(Qt::UserRole).toDouble();
                const double expected = top[static_cast<size_t>(row)]["probability"].get<double>();
                // predict's process scores the image along another path (its own batch and threads): the same
                // sums in another order, 2e-6 apart on an AMD EPYC's OpenBLAS kernels.
                QVERIFY2(std::abs(shown - expected) < 1e-5, qPrintable(QString("%1 row %2: %3, predict %4").arg(QString::fromLatin1(name)).arg(row).arg(shown).arg(expected)));
            }
        };
        auto* tuned = m_window->findChild<QTableWidget*>("tryItTuned");
        auto* handcraftedTable = m_window->findChild<QTableWidget*>("tryItHandcrafted");
        auto* note = m_window->findChild<QLabel*>("tryItHandcraftedNote");
        expectTable("tuned", tuned, line["top"]);
        QCOMPARE(line.contains("handcrafted"), handcrafted);
        QCOMPARE(handcraftedTable->isVisibleTo(m_panel), handcrafted);
        QCOMPARE(note->isVisibleTo(m_panel), !handcrafted);
        if (handcrafted)
            expectTable("hand-crafted", handcraftedTable, line["handcrafted"]);
        else
            QVERIFY2(note->text().contains("no hand-crafted prompt"), qPrintable(note->text()));

        // Where it looks: the tab's map is the rollout of the tuned model's image tower over its patches,
        // computed here by hand on the image as the evaluation preprocesses it.
        QVERIFY(m_panel->trial().has_value());
        const ImageTrial& trial = *m_panel->trial();
        const TunedModel model = openTunedRun(run, "", "", "cpu", ModelMismatch::Refuse);
        const int resolution = model.backbone.checkpoint.spec.vision.imageSize;
        auto pixels = torch::empty({1, 3, resolution, resolution});
        EvalTransform{resolution}.apply(decodeImage(m_image), pixels[0].data_ptr<float>());
        torch::NoGradGuard noGrad;
        AttentionRecorder recorder;
        model.strategy->logits(pixels);
        const VisionSpec& vision = model.backbone.checkpoint.spec.vision;
        const int grid = vision.isResNet() ? vision.imageSize / 32 : vision.gridSize();
        // L2P ran the tower twice (its query pass first); the map is the classifying pass's.
        if (method == "l2p")
            QCOMPARE(int(recorder.layers().size()), 2 * vision.layers);
        const AttentionMap expected = attentionMap(recorder, grid, firstPatch, vision.isResNet() ? 0 : vision.layers);
        QCOMPARE(trial.grid, grid);
        QCOMPARE(int(trial.attention.size()), grid * grid);
        const auto values = expected.map[0].contiguous();
        for (int i = 0; i < grid * grid; ++i)
            QVERIFY2(std::abs(trial.attention[static_cast<size_t>(i)] - values.data_ptr<float>()[i]) < 1e-6,
                     qPrintable(QString("attention %1: %2, by hand %3").arg(i).arg(trial.attention[static_cast<size_t>(i)]).arg(values.data_ptr<float>()[i])));
        QCOMPARE(q(expected.method), attentionMethod);

        auto* whereItLooks = m_window->findChild<QCheckBox*>("tryItWhereItLooks");
        auto* methodLabel = m_window->findChild<QLabel*>("tryItAttentionMethod");
        QVERIFY(whereItLooks->isEnabled());
        whereItLooks->setChecked(true);
        QVERIFY(!m_panel->overlayImage().isNull());
        QVERIFY2(methodLabel->text().contains(attentionMethod), qPrintable(methodLabel->text()));
        // The overlay is drawn on the image: it differs from the image alone.
        const QImage shown = m_window->findChild<QLabel*>("tryItImage")->pixmap().toImage();
        QCOMPARE(shown.size(), m_panel->overlayImage().size());
        QCOMPARE(shown.convertToFormat(QImage::Format_ARGB32), m_panel->overlayImage().convertToFormat(QImage::Format_ARGB32));
        whereItLooks->setChecked(false);
        QVERIFY(m_window->findChild<QLabel*>("tryItImage")->pixmap().toImage().convertToFormat(QImage::Format_ARGB32) !=
                m_panel->overlayImage().convertToFormat(QImage::Format_ARGB32));
    }

    void unreadableImageIsOneLine()
    {
        m_results->addResults(readRunFolder(q(m_runs.at("coop"))));
        const QString broken = m_dir.path() + "/broken.png";
        {
            std::ofstream out(broken.toStdString(), std::ios::binary);
            out << "not a picture at all";
        }
        QSignalSpy failed(m_panel, &TryItPanel::failed);
        m_panel->classifyImage(broken);
        QVERIFY(failed.wait(120000));
        const QString message = m_panel->errorText();
        QVERIFY2(message.contains(broken), qPrintable(message));
        QVERIFY(!message.contains('\n'));
        QCOMPARE(m_window->findChild<QLabel*>("tryItStatus")->text(), message);

        // A good image afterwards clears the error.
        QSignalSpy classified(m_panel, &TryItPanel::classified);
        m_panel->classifyImage(q(m_image));
        QVERIFY(classified.wait(120000));
        QVERIFY(m_panel->errorText().isEmpty());
    }

    void runWithoutExportIsOneLine()
    {
        // A copy of the CoOp run whose export is gone (as a run that never reached its evaluation).
        const std::string copy = m_dir.path().toStdString() + "/no-export-run";
        fs::copy(m_runs.at("coop"), copy, fs::copy_options::recursive);
        fs::remove_all(copy + "/export");
        m_results->addResults(readRunFolder(q(copy)));
        QCOMPARE(m_panel->runFolder(), q(copy));
        QSignalSpy failed(m_panel, &TryItPanel::failed);
        m_panel->classifyImage(q(m_image));
        QVERIFY(failed.wait(120000));
        const QString message = m_panel->errorText();
        QVERIFY2(message.contains(q(copy)) && message.contains("no export"), qPrintable(message));
        QVERIFY(!message.contains('\n'));
    }

    // A folder is listed as predict --folder scores it: each readable image's best class and probability for the
    // tuned model and the hand-crafted prompt, an unreadable file marked with the loader's reason, the same CSV;
    // the first image is then shown with its top 5, and choosing a row shows that one.
    void folderMatchesPredictFolder()
    {
        const std::string run = m_runs.at("coop");
        m_results->addResults(readRunFolder(q(run)));
        QCOMPARE(m_panel->runFolder(), q(run));
        const fs::path folder = m_dir.path().toStdString() + "/folder";
        fs::create_directories(folder);
        for (const char* fruit : {"apple", "grape", "lemon", "plum"})
            fs::copy_file(m_dataset + "/test/" + fruit + "/1.png", folder / (std::string(fruit) + ".png"));
        {
            std::ofstream out(folder / "broken.png", std::ios::binary);
            out << "not a picture";
        }
        std::ofstream(folder / "notes.txt") << "not an image file: left out of the list";
        const QString csv = q((folder.parent_path() / "folder.csv").string());
        const auto predicted = runCli({"predict", "--run", q(run), "--folder", q(folder.string()), "--top", "5", "--threads", "2", "--csv", csv});
        QVERIFY2(predicted.exitCode == 0, predicted.err.c_str());

        QSignalSpy listed(m_panel, &TryItPanel::listClassified);
        QSignalSpy classified(m_panel, &TryItPanel::classified);
        QSignalSpy failed(m_panel, &TryItPanel::failed);
        m_panel->classifyFolder(q(folder.string()));
        QVERIFY(m_panel->listBusy());
        QVERIFY2(listed.wait(120000), qPrintable(m_panel->errorText()));
        QVERIFY(failed.isEmpty());
        const QStringList paths = m_panel->listPaths();
        QCOMPARE(paths.size(), 5);  // four images and the broken one, by name; not the text file
        QVERIFY(paths[1].endsWith("broken.png"));
        auto* table = m_window->findChild<QTableWidget*>("tryItList");
        QVERIFY(table && table->isVisibleTo(m_panel));
        QCOMPARE(table->rowCount(), 5);
        std::map<std::string, json> lines;
        std::istringstream out(predicted.out);
        for (std::string line; std::getline(out, line);)
            lines[json::parse(line)["path"].get<std::string>()] = json::parse(line);
        QCOMPARE(lines.size(), size_t(4));
        for (int row = 0; row < table->rowCount(); ++row) {
            const std::string path = paths[row].toStdString();
            if (!lines.count(path)) {
                // The row carries predict's reason for the file: "skipped: PATH: why".
                const std::string skipped = "skipped: " + path + ": ";
                const auto at = predicted.err.find(skipped);
                QVERIFY2(at != std::string::npos, predicted.err.c_str());
                const auto start = at + skipped.size();
                const std::string why = predicted.err.substr(start, predicted.err.find('\n', start) - start);
                QVERIFY(!why.empty());
                QCOMPARE(table->item(row, 1)->text(), "unreadable: " + q(why));
                continue;
            }
            const json& line = lines.at(path);
            QCOMPARE(table->item(row, 1)->text(), q(line["top"][0]["class"].get<std::string>()));
            QVERIFY(std::abs(table->item(row, 2)->data(Qt::UserRole).toDouble() - line["top"][0]["probability"].get<double>()) < 1e-5);
            QCOMPARE(table->item(row, 3)->text(), q(line["handcrafted"][0]["class"].get<std::string>()));
            QVERIFY(std::abs(table->item(row, 4)->data(Qt::UserRole).toDouble() - line["handcrafted"][0]["probability"].get<double>()) < 1e-5);
        }
        // The same CSV as predict's, to the last digit where the probabilities agree to it.
        const QString saved = m_dir.path() + "/window.csv";
        QVERIFY(m_panel->saveListCsv(saved));
        const auto readRows = [](const QString& file) {
            std::vector<std::vector<std::string>> rows;
            std::ifstream in(file.toStdString());
            for (std::string line; std::getline(in, line);) {
                std::vector<std::string> fields;
                std::istringstream split(line);
                for (std::string field; std::getline(split, field, ',');)
                    fields.push_back(field);
                rows.push_back(fields);
            }
            return rows;
        };
        const auto windowRows = readRows(saved), predictRows = readRows(csv);
        QCOMPARE(windowRows.size(), size_t(1 + 4 * 5));
        QCOMPARE(windowRows.size(), predictRows.size());
        for (size_t i = 0; i < windowRows.size(); ++i)
            for (size_t f = 0; f < windowRows[i].size(); ++f)
                if (i == 0 || (f != 3 && f != 5))
                    QCOMPARE(q(windowRows[i][f]), q(predictRows[i].at(f)));
                else
                    QVERIFY(std::abs(std::stod(windowRows[i][f]) - std::stod(predictRows[i].at(f))) < 1e-5);

        // The first readable image is shown as one image is; then the row chosen.
        QTRY_VERIFY_WITH_TIMEOUT(m_panel->trial() && q(m_panel->trial()->imagePath) == paths[0], 120000);
        QCOMPARE(table->currentRow(), 0);
        table->setCurrentCell(3, 0);
        QVERIFY(classified.wait(120000));
        QCOMPARE(q(m_panel->trial()->imagePath), paths[3]);
        QCOMPARE(q(m_panel->trial()->top.front().className), table->item(3, 1)->text());
    }

    void folderCanBeCancelled()
    {
        m_results->addResults(readRunFolder(q(m_runs.at("vpt-deep"))));
        QCOMPARE(m_panel->runFolder(), q(m_runs.at("vpt-deep")));
        const fs::path folder = m_dir.path().toStdString() + "/many";
        fs::create_directories(folder);
        for (int i = 0; i < 60; ++i)
            fs::copy_file(m_image, folder / ("image-" + std::to_string(100 + i) + ".png"));
        QSignalSpy listed(m_panel, &TryItPanel::listClassified);
        QSignalSpy failed(m_panel, &TryItPanel::failed);
        m_panel->classifyFolder(q(folder.string()));
        auto* cancel = m_window->findChild<QPushButton*>("tryItCancelList");
        QVERIFY(cancel && cancel->isVisibleTo(m_panel));
        QTest::mouseClick(cancel, Qt::LeftButton);
        QVERIFY(failed.wait(120000));
        QVERIFY2(failed.front().front().toString().contains("cancelled"), qPrintable(failed.front().front().toString()));
        QVERIFY(listed.isEmpty());
        QVERIFY(!m_panel->listPredictions());
        QVERIFY(!m_panel->listBusy());
        QVERIFY(!cancel->isVisibleTo(m_panel));
        QVERIFY(!m_window->findChild<QPushButton*>("tryItSaveList")->isEnabled());

        // A folder without images is one line naming it.
        const QString empty = m_dir.path() + "/empty";
        QVERIFY(QDir().mkpath(empty));
        m_panel->classifyFolder(empty);
        QVERIFY(m_panel->errorText().contains(empty) && m_panel->errorText().contains("no image files"));
    }

    // TUNEBENCH_SCREENSHOT_TRY_IT=docs/screenshot-try-it.png with TUNEBENCH_TRY_IT_RUN=RUN_DIR (a run of the demo
    // model on fashion-mnist:tinted) draws the docs' picture: the run's tuned model on test image
    // TUNEBENCH_TRY_IT_SAMPLE (default 0) of fashion-mnist:tinted, written as a PNG, with "Where it looks" on.
    void screenshot()
    {
        const QString shot = qEnvironmentVariable("TUNEBENCH_SCREENSHOT_TRY_IT"), run = qEnvironmentVariable("TUNEBENCH_TRY_IT_RUN");
        if (shot.isEmpty() || run.isEmpty())
            QSKIP("set TUNEBENCH_SCREENSHOT_TRY_IT and TUNEBENCH_TRY_IT_RUN to draw the screenshot");
        const DatasetIndex dataset = openDataset("fashion-mnist:tinted");
        const Sample& sample = dataset.test.at(static_cast<size_t>(qEnvironmentVariableIntValue("TUNEBENCH_TRY_IT_SAMPLE")));
        const IdxImages* images = dataset.idxImages(DatasetSplit::Test);
        QVERIFY(images);
        cv::Mat rgb;
        cv::cvtColor(cv::Mat(images->rows, images->cols, CV_8UC1, const_cast<std::uint8_t*>(images->image(sample.idxIndex))), rgb, cv::COLOR_GRAY2RGB);
        if (sample.domain != 0)
            renderImageDomain(sample.domain, rgb, sampleImageKey(sample));
        cv::Mat bgr;
        cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
        const std::string image = m_dir.path().toStdString() + "/" + dataset.classNames.at(static_cast<size_t>(sample.label)) + ".png";
        QVERIFY(cv::imwrite(image, bgr));
        // The window as a user has it: the demo model open in the model dock.
        QSignalSpy loaded(m_window.get(), &MainWindow::modelLoaded);
        m_window->openCheckpoint(MainWindow::demoModelPath());
        QVERIFY(loaded.wait(60000));
        m_results->addResults(readRunFolder(run));
        QSignalSpy classified(m_panel, &TryItPanel::classified);
        m_panel->classifyImage(q(image));
        QVERIFY2(classified.wait(300000), qPrintable(m_panel->errorText()));
        m_window->findChild<QCheckBox*>("tryItWhereItLooks")->setChecked(true);
        m_window->findChild<QTabWidget*>("resultTabs")->setCurrentWidget(m_panel);
        m_window->resize(1500, 1000);
        QTest::qWait(2000);  // the strategy dock's parameter count, counted in the background, fills in
        QVERIFY(m_window->grab().save(shot));
    }

private:
    QTemporaryDir m_dir;
    std::string m_dataset, m_image;
    std::map<std::string, std::string> m_runs;
    std::unique_ptr<MainWindow> m_window;
    ResultsPanel* m_results = nullptr;
    TryItPanel* m_panel = nullptr;
    bool m_triedAnImage = false;
};

QTEST_MAIN(TestTryIt)
#include "tst_try_it.moc"
