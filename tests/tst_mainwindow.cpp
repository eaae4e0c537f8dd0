// The workbench window under offscreen: load a model and a dataset, start a short run, watch the curve
// and the results table fill, pause/resume/stop, export a prompt, and bad input shown in the window.
#include "widgets/CurvePlot.h"
#include "widgets/DomainGeneralisationPanel.h"
#include "widgets/FewShotPanel.h"
#include "widgets/MainWindow.h"
#include "widgets/ResultsPanel.h"
#include "widgets/ShotCurvePlot.h"

#include "core/export/PromptExport.h"
#include "core/io/CheckpointLoader.h"
#include "core/io/ClipTokenizer.h"
#include "core/Device.h"
#include "tests/GuiFixtures.h"

#include <QApplication>
#include <QDir>
#include <QFileInfo>
#include <QProgressBar>
#include <QPushButton>
#include <QElapsedTimer>
#include <QLabel>
#include <QSettings>
#include <QSignalSpy>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTreeWidget>
#include <QtTest>

#include <nlohmann/json.hpp>

using namespace tunebench;

class TestMainWindow : public QObject
{
    Q_OBJECT

private:
    // A window with the tiny CLIP and the colour dataset open, a short CoOp run configured.
    std::unique_ptr<MainWindow> tinyWindow()
    {
        auto window = std::make_unique<MainWindow>();
        window->setRunsRoot(m_dir.path() + "/runs");
        window->show();
        QSignalSpy loaded(window.get(), &MainWindow::modelLoaded);
        QSignalSpy datasetLoaded(window.get(), &MainWindow::datasetLoaded);
        window->setVocabulary(m_files.vocabulary);
        window->openCheckpoint(m_files.clipFolder);
        window->openDatasetPath(m_files.datasetFolder);
        if (!loaded.wait(30000) && loaded.isEmpty())
            return nullptr;
        if (datasetLoaded.isEmpty() && !datasetLoaded.wait(30000))
            return nullptr;
        window->selectStrategy("coop");
        window->setOption("n_ctx", 4);
        window->setShots(2);
        window->setTrainingOverrides(2, 0, 2);
        window->setMaxTestImages(0);
        return window;
    }

private Q_SLOTS:
    void initTestCase()
    {
        QCoreApplication::setOrganizationName("TunebenchTests");
        QCoreApplication::setApplicationName("tst_mainwindow");
        QSettings().clear();
        QVERIFY(m_dir.isValid());
        m_files = test::writeGuiFixtures(m_dir.path());
    }

    void startsWithDisabledRunButtonsThatSayWhy()
    {
        MainWindow window;
        window.show();
        QVERIFY(!window.startButton()->isEnabled());
        QVERIFY(!window.startButton()->toolTip().isEmpty());
        QVERIFY(!window.pauseButton()->isEnabled());
        QVERIFY(!window.stopButton()->isEnabled());
        QVERIFY(!window.startRun());
        QVERIFY(window.statusText().contains("Cannot start"));
    }

    void loadsModelAndDatasetAndCountsTrainableParameters()
    {
        auto window = tinyWindow();
        QVERIFY(window);
        QVERIFY(window->summaryText().contains("Resolution: 32 px"));
        QVERIFY(window->modelProblem().isEmpty());
        QCOMPARE(window->datasetClasses(), QStringList({"blue", "green", "red", "yellow"}));
        QSignalSpy counted(window.get(), &MainWindow::parameterCountChanged);
        window->setOption("n_ctx", 6);
        QVERIFY(counted.wait(20000));
        QCOMPARE(counted.last().first().toLongLong(), qint64(6 * 64));
        QVERIFY(window->startButton()->isEnabled());
    }

    void shortRunFillsCurveAndResultsAndExportsAPrompt()
    {
        auto window = tinyWindow();
        QVERIFY(window);
        QSignalSpy finished(window.get(), &MainWindow::runFinished);
        QSignalSpy failed(window.get(), &MainWindow::runFailed);
        QVERIFY(window->startRun());
        QVERIFY(!window->startButton()->isEnabled());
        QVERIFY(window->stopButton()->isEnabled());
        QVERIFY(finished.wait(60000) || !finished.isEmpty());
        QVERIFY2(failed.isEmpty(), failed.isEmpty() ? "" : qPrintable(failed.first().first().toString()));

        QCOMPARE(window->curvePlot()->runCount(), 1);
        QCOMPARE(window->curvePlot()->pointCount(0), 4);  // 4 images, batch 2, 2 epochs
        QTableWidget* table = window->resultsPanel()->summaryTable();
        QCOMPARE(table->rowCount(), 1);
        QCOMPARE(table->item(0, 1)->text(), QString("CoOp"));
        QVERIFY(table->item(0, 3)->text().toDouble() >= 0);
        QVERIFY(table->item(0, 5)->text() != QString("–"));  // H is there: base-to-new applies to CoOp
        QTableWidget* perClass = window->resultsPanel()->perClassTable();
        QCOMPARE(perClass->rowCount(), 4);
        // Prompt comparison: learned and hand-crafted accuracy per class, the better one highlighted.
        for (int row = 0; row < 4; ++row) {
            const double learned = perClass->item(row, 2)->text().toDouble(), handcrafted = perClass->item(row, 3)->text().toDouble();
            QVERIFY(perClass->item(row, 3)->text() != QString("–"));
            if (learned != handcrafted)
                QCOMPARE(perClass->item(row, learned > handcrafted ? 2 : 3)->background().color(), QColor(198, 239, 206));
        }
        QCOMPARE(window->resultsPanel()->confusionTable()->rowCount(), 2);
        QVERIFY(window->startButton()->isEnabled());

        // Prompt comparison: every class with the hand-crafted prompt next to CoOp's learned context (no
        // CoCoOp run yet), the best highlighted, and the nearest words of CoOp's 4 context vectors.
        QTableWidget* prompts = window->resultsPanel()->promptTable();
        QCOMPARE(prompts->rowCount(), 4);
        QStringList promptClasses;
        for (int row = 0; row < 4; ++row) {
            promptClasses << prompts->item(row, 0)->text();
            QVERIFY(prompts->item(row, 2)->text() != QString("–"));
            QVERIFY(prompts->item(row, 3)->text() != QString("–"));
            QCOMPARE(prompts->item(row, 4)->text(), QString("–"));
            const double handcrafted = prompts->item(row, 2)->text().toDouble(), coop = prompts->item(row, 3)->text().toDouble();
            if (handcrafted != coop)
                QCOMPARE(prompts->item(row, handcrafted > coop ? 2 : 3)->background().color(), QColor(198, 239, 206));
        }
        QCOMPARE(promptClasses, QStringList({"blue", "green", "red", "yellow"}));
        const QStringList nearest = window->resultsPanel()->nearestWordsText().split('\n');
        QCOMPARE(nearest.size(), 4);
        QVERIFY2(nearest.first().startsWith("CoOp context 1: ") && nearest.first().count(", ") == 4, qPrintable(nearest.first()));
        QStringList perClassBefore;
        for (int row = 0; row < perClass->rowCount(); ++row)
            perClassBefore << perClass->item(row, 0)->text() + " " + perClass->item(row, 2)->text() + " " + perClass->item(row, 3)->text();
        QCOMPARE(window->progressBar()->value(), window->progressBar()->maximum());

        // The run folder is in the history and can be reopened into the table.
        QCOMPARE(window->historyTree()->topLevelItemCount(), 1);
        window->historyTree()->topLevelItem(0)->setSelected(true);
        window->resultsPanel()->clear();
        window->reopenSelectedRuns();
        QCOMPARE(table->rowCount(), 1);
        QCOMPARE(table->item(0, 7)->text(), QString("finished"));
        QVERIFY(table->item(0, 5)->text() != QString("–"));
        // ... with its per-class rows in label order, the hand-crafted comparison and the confusion matrix.
        QStringList perClassAfter;
        for (int row = 0; row < perClass->rowCount(); ++row)
            perClassAfter << perClass->item(row, 0)->text() + " " + perClass->item(row, 2)->text() + " " + perClass->item(row, 3)->text();
        QCOMPARE(perClassAfter, perClassBefore);
        QCOMPARE(window->resultsPanel()->confusionTable()->rowCount(), 2);
        QCOMPARE(window->resultsPanel()->promptTable()->rowCount(), 4);
        QCOMPARE(window->resultsPanel()->nearestWordsText().split('\n').size(), 4);

        // The prompt export re-imports onto the model for the other classes.
        const QString exported = window->lastExportPath();
        QVERIFY(QFileInfo::exists(exported));
        const auto manifest = nlohmann::json::parse(QFile(exported).exists() ? [&] {
            QFile f(exported);
            f.open(QIODevice::ReadOnly);
            return f.readAll().toStdString();
        }() : std::string("{}"));
        QCOMPARE(QString::fromStdString(manifest.value("method", "")), QString("coop"));
        TaskSetup target;
        target.classNames = {"red", "yellow"};
        target.tokenizer = std::make_shared<ClipTokenizer>(ClipTokenizer::load(m_files.vocabulary.toStdString()));
        const Checkpoint checkpoint = readCheckpoint(m_files.clipFolder.toStdString());
        const ImportedPrompt imported = PromptExport::read(exported.toStdString(), buildModel(checkpoint), target);
        QVERIFY(imported.strategy);
        QCOMPARE(imported.strategy->trainableParameterCount(), std::int64_t(4 * 64));

        // ... and the window evaluates the exported prompt on all four classes of the open dataset.
        QVERIFY(window->evaluatePrompt(exported));
        QVERIFY(finished.wait(60000) || finished.size() == 2);
        QVERIFY2(failed.isEmpty(), failed.isEmpty() ? "" : qPrintable(failed.first().first().toString()));
        const auto importedRun = finished.last().first().value<RunResults>();
        QCOMPARE(importedRun.method, QString("coop"));
        QCOMPARE(importedRun.first.classNames.size(), 4);
        QVERIFY(!importedRun.baseNew);
        QCOMPARE(window->curvePlot()->pointCount(0), 4);  // no training happened
        QCOMPARE(table->rowCount(), 2);

        // Curves export in three formats.
        QVERIFY(window->curvePlot()->exportPng(m_dir.path() + "/curves.png"));
        QVERIFY(window->curvePlot()->exportPdf(m_dir.path() + "/curves.pdf"));
        QVERIFY(window->curvePlot()->exportCsv(m_dir.path() + "/curves.csv"));
        QFile csv(m_dir.path() + "/curves.csv");
        QVERIFY(csv.open(QIODevice::ReadOnly));
        QCOMPARE(csv.readAll().count('\n'), 5);  // header + 4 points
    }

    void pauseResumeStopFromTheButtons()
    {
        auto window = tinyWindow();
        QVERIFY(window);
        window->setTrainingOverrides(300, 0, 2);
        QSignalSpy finished(window.get(), &MainWindow::runFinished);
        QVERIFY(window->startRun());
        QTRY_VERIFY_WITH_TIMEOUT(window->curvePlot()->runCount() == 1 && window->curvePlot()->pointCount(0) >= 2, 30000);
        QTest::mouseClick(window->pauseButton(), Qt::LeftButton);
        QVERIFY(window->runController()->isPaused());
        QCOMPARE(window->pauseButton()->text(), QString("Resume"));
        QTest::qWait(300);
        const int pausedAt = window->curvePlot()->pointCount(0);
        QTest::qWait(400);
        QCOMPARE(window->curvePlot()->pointCount(0), pausedAt);
        QTest::mouseClick(window->pauseButton(), Qt::LeftButton);
        QVERIFY(!window->runController()->isPaused());
        QTRY_VERIFY_WITH_TIMEOUT(window->curvePlot()->pointCount(0) > pausedAt, 10000);
        QTest::mouseClick(window->stopButton(), Qt::LeftButton);
        QVERIFY(finished.wait(30000) || !finished.isEmpty());
        QCOMPARE(finished.first().first().value<RunResults>().status, QString("stopped"));
        QVERIFY(window->statusText().contains("stopped"));
    }

    // Closing the window while a model and a dataset load, or while a run trains, returns within 2 s.
    void closingDuringLoadsAndRunsIsQuick()
    {
        QElapsedTimer timer;
        {
            auto window = std::make_unique<MainWindow>();
            window->setVocabulary(m_files.vocabulary);
            window->openCheckpoint(m_files.clipFolder);
            window->openDatasetPath(m_files.datasetFolder);
            timer.start();
        }
        QVERIFY2(timer.elapsed() < 2000, qPrintable(QString::number(timer.elapsed())));

        auto window = tinyWindow();
        QVERIFY(window);
        window->setTrainingOverrides(300, 0, 2);
        QVERIFY(window->startRun());
        QTRY_VERIFY_WITH_TIMEOUT(window->curvePlot()->runCount() == 1 && window->curvePlot()->pointCount(0) >= 1, 30000);
        timer.restart();
        window.reset();
        QVERIFY2(timer.elapsed() < 2000, qPrintable(QString::number(timer.elapsed())));
    }

    // The window applies LibTorch's thread count as the CLI does, and shows it.
    void deviceLineShowsTheThreadsInUse()
    {
        configureThreads(1);
        MainWindow window;
        auto* device = window.findChild<QLabel*>("deviceLabel");
        QVERIFY(device);
        QTRY_VERIFY_WITH_TIMEOUT(device->text().contains("1 threads"), 10000);
        configureThreads(2);
    }

    void badInputIsShownInTheWindow()
    {
        MainWindow window;
        window.show();
        QSignalSpy loadFailed(&window, &MainWindow::loadFailed);
        window.openCheckpoint(m_files.corruptCheckpoint);
        QVERIFY(loadFailed.wait(20000));
        QVERIFY2(window.statusText().contains("Could not load the model") && window.statusText().contains("corrupt.safetensors"),
                 qPrintable(window.statusText()));

        QSignalSpy datasetFailed(&window, &MainWindow::datasetFailed);
        window.openDatasetPath(m_files.emptyDataset);
        QVERIFY(datasetFailed.wait(20000));
        QVERIFY2(window.statusText().contains("Could not open the dataset") && window.statusText().contains("no-images"),
                 qPrintable(window.statusText()));
        QVERIFY(!window.startButton()->isEnabled());
    }

    void missingVocabularyDisablesStartAndSaysSo()
    {
        qputenv("TUNEBENCH_CLIP_VOCAB", "");
        qputenv("HOME", m_dir.path().toUtf8());
        qputenv("HF_HOME", m_dir.path().toUtf8());
        MainWindow window;
        window.show();
        QSignalSpy loaded(&window, &MainWindow::modelLoaded);
        window.openCheckpoint(m_files.clipFolder);
        QVERIFY(loaded.wait(20000));
        if (window.modelProblem().isEmpty())
            QSKIP("a CLIP vocabulary is installed system-wide on this machine");
        QVERIFY(window.modelProblem().contains("vocabulary"));
        QVERIFY(window.statusText().contains("vocabulary is missing"));
        QVERIFY(!window.startButton()->isEnabled());
        QVERIFY(window.startButton()->toolTip().contains("vocabulary"));
    }

    void smoothingIsTheDebiasedMovingAverage()
    {
        const QVector<double> raw = {1.0, 3.0, 2.0};
        const QVector<double> s = CurvePlot::smooth(raw, 0.5);
        QCOMPARE(s[0], 1.0);  // debiased: the first value is not pulled to zero
        QVERIFY(std::abs(s[1] - 1.75 / 0.75) < 1e-12);
        QVERIFY(std::abs(s[2] - (0.5 * (0.5 * 0.5 * 1 + 0.5 * 3) + 0.5 * 2) / 0.875) < 1e-12);
        QCOMPARE(CurvePlot::smooth(raw, 0.0), raw);
    }

    void switchesLanguageAtRunTime()
    {
        MainWindow window;
        window.show();
        QCOMPARE(window.startButton()->text(), QString("Start"));
        window.setLanguage("zh_CN");
        QCOMPARE(window.startButton()->text(), QString::fromUtf8("开始"));
        QCOMPARE(QSettings().value("language").toString(), QString("zh_CN"));
        window.setLanguage("en");
        QCOMPARE(window.startButton()->text(), QString("Start"));
    }

    // The demo model on fashion-mnist, as a user sees it on first start; the screenshot for docs/.
    void demoModelRunAndScreenshot()
    {
        const QString demo = MainWindow::demoModelPath();
        if (demo.isEmpty() || !QFileInfo::exists("/usr/share/datasets/fashion-mnist"))
            QSKIP("the demo model or fashion-mnist is not installed");
        qputenv("HOME", QDir::homePath().toUtf8());
        QSettings().remove("options/dataset");  // earlier tests opened the colour folder
        MainWindow window;
        window.setRunsRoot(m_dir.path() + "/demo-runs");
        window.resize(1500, 950);
        window.show();
        QSignalSpy loaded(&window, &MainWindow::modelLoaded);
        QSignalSpy datasetLoaded(&window, &MainWindow::datasetLoaded);
        window.openDefaults();
        QVERIFY(loaded.wait(30000) || !loaded.isEmpty());
        QVERIFY(datasetLoaded.wait(60000) || !datasetLoaded.isEmpty());
        QVERIFY2(window.modelProblem().isEmpty(), qPrintable(window.modelProblem()));
        QCOMPARE(window.datasetClasses().size(), 10);
        window.selectStrategy("coop");
        window.setShots(16);
        window.setTrainingOverrides(3, 0, 16);
        window.setMaxTestImages(500);
        // A first finished run, so that the results table and a second curve show in the screenshot.
        QSignalSpy finished(&window, &MainWindow::runFinished);
        QVERIFY(window.startRun());
        QVERIFY(finished.wait(120000) || !finished.isEmpty());
        QTableWidget* table = window.resultsPanel()->summaryTable();
        QCOMPARE(table->rowCount(), 1);
        // It opened on the demo task: a shifted domain, scored also on the other domains named in the dataset panel.
        QVERIFY2(window.currentRequest().dataset.startsWith("fashion-mnist:"), qPrintable(window.currentRequest().dataset));
        const QStringList targets = window.currentRequest().evalDatasets;
        QVERIFY(!targets.isEmpty());
        QTableWidget* generalisation = window.generalisationPanel()->table();
        QCOMPARE(generalisation->rowCount(), 1);
        QCOMPARE(generalisation->columnCount(), 4 + targets.size());
        for (int t = 0; t < targets.size(); ++t) {
            QCOMPARE(generalisation->horizontalHeaderItem(4 + t)->text(), targets[t]);
            const double accuracy = generalisation->item(0, 4 + t)->text().toDouble();
            QVERIFY(accuracy > 0 && accuracy <= 100);
        }
        // The few-shot panel: one point of CoOp at 16 shots, its H.
        const QVector<ShotCurve> curves = window.fewShotPanel()->curves();
        QCOMPARE(curves.size(), 1);
        QCOMPARE(curves[0].shots, QVector<double>{16});
        QVERIFY(std::abs(curves[0].values[0] - window.resultsPanel()->results(0).harmonic) < 1e-12);

        window.selectStrategy("cocoop");
        window.setTrainingOverrides(6, 0, 8);
        QVERIFY(window.startRun());
        QTRY_VERIFY_WITH_TIMEOUT(window.curvePlot()->pointCount(1) >= 12, 60000);
        // The finished CoOp run's prompt comparison: every class, the hand-crafted prompt next to CoOp.
        QTabWidget* details = window.resultsPanel()->detailTabs();
        details->setCurrentIndex(2);
        QCOMPARE(window.resultsPanel()->promptTable()->rowCount(), 10);
        // TUNEBENCH_SCREENSHOT=docs/screenshot-main-window.png refreshes the README's picture;
        // TUNEBENCH_SCREENSHOT_ZH=docs/screenshot-main-window-zh.png the Chinese one.
        const QString shot = qEnvironmentVariable("TUNEBENCH_SCREENSHOT");
        const QPixmap grabbed = window.grab();
        QVERIFY(!grabbed.isNull());
        if (!shot.isEmpty())
            QVERIFY(grabbed.save(shot));
        QVERIFY(window.isRunning());
        window.stopRun();
        QVERIFY(finished.wait(120000) || finished.size() == 2);
        // The same in Chinese: a run started in that language, so that every line of the window is translated.
        const QString chineseShot = qEnvironmentVariable("TUNEBENCH_SCREENSHOT_ZH");
        if (!chineseShot.isEmpty()) {
            window.setLanguage("zh_CN");
            QVERIFY(window.startRun());
            QTRY_VERIFY_WITH_TIMEOUT(window.curvePlot()->runCount() == 3 && window.curvePlot()->pointCount(2) >= 12, 60000);
            details->setCurrentIndex(2);
            QVERIFY(window.grab().save(chineseShot));
            window.stopRun();
            QVERIFY(finished.wait(120000) || finished.size() == 3);
            window.setLanguage("en");
        }
    }

private:
    QTemporaryDir m_dir;
    test::GuiFixtureFiles m_files;
};

QTEST_MAIN(TestMainWindow)
#include "tst_mainwindow.moc"
