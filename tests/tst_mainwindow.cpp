// The workbench window under offscreen: load a model and a dataset, start a short run, watch the curve
// and the results table fill, pause/resume/stop, export a prompt, and bad input shown in the window.
#include "report/PlotStyle.h"
#include "report/ShotCurvePlot.h"
#include "widgets/results/CurvePlot.h"
#include "widgets/results/DomainGeneralisationPanel.h"
#include "widgets/results/FewShotPanel.h"
#include "widgets/results/ResultsPanel.h"
#include "widgets/setup/DatasetPanel.h"
#include "widgets/setup/ModelPanel.h"
#include "widgets/setup/StrategyPanel.h"
#include "widgets/window/MainWindow.h"
#include "widgets/window/RunController.h"

#include "core/Device.h"
#include "core/Error.h"
#include "core/export/PromptExport.h"
#include "core/io/AtomicFile.h"
#include "core/io/CheckpointLoader.h"
#include "core/io/ClipTokenizer.h"
#include "core/io/VocabularyLocator.h"
#include "core/experiment/Caches.h"
#include "core/experiment/RunSettings.h"
#include "core/train/RunStore.h"
#include "core/train/Trainer.h"
#include "core/tuning/MemoryPlan.h"
#include "core/tuning/StrategyInfo.h"
#include "tests/GuiFixtures.h"
#include "tests/WindowFixtures.h"
#include "tests/ScopedEnvironment.h"

#include <QApplication>
#include <QCheckBox>
#include <QComboBox>
#include <QStandardItemModel>
#include <QDir>
#include <QFileInfo>
#include <QProgressBar>
#include <QPushButton>
#include <QElapsedTimer>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QTimer>
#include <QPlainTextEdit>
#include <QSpinBox>
#include <QSettings>
#include <QSignalSpy>
#include <QTabWidget>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QThread>
#include <QTreeWidget>

#include <QtTest>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <optional>

#include <nlohmann/json.hpp>

using namespace tunebench;
using test::child;
using test::setTraining;

class TestMainWindow : public QObject, private test::WindowTestCase
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() { setUpTestCase("tst_mainwindow"); }
    void init() { setUpTest(); }
    void cleanup() { tearDownTest(); }

    void startsWithDisabledRunButtonsThatSayWhy()
    {
        MainWindow window;
        window.show();
        QVERIFY(!child<QPushButton>(window, "startButton")->isEnabled());
        QVERIFY(!child<QPushButton>(window, "startButton")->toolTip().isEmpty());
        QVERIFY(!child<QPushButton>(window, "pauseButton")->isEnabled());
        QVERIFY(!child<QPushButton>(window, "stopButton")->isEnabled());
        QVERIFY(!window.startRun());
        QVERIFY(child<QLabel>(window, "statusLine")->text().contains("Cannot start"));
    }

    void loadsModelAndDatasetAndCountsTrainableParameters()
    {
        auto window = tinyWindow();
        QVERIFY(window);
        QVERIFY(child<QPlainTextEdit>(window, "modelSummary")->toPlainText().contains("Resolution: 32 px"));
        QVERIFY(child<ModelPanel>(window, "modelPanel")->problem().isEmpty());
        QCOMPARE(child<DatasetPanel>(window, "datasetPanel")->classNames(), QStringList({"blue", "green", "red", "yellow"}));
        auto* strategy = child<StrategyPanel>(window, "strategyPanel");
        QSignalSpy counted(strategy, &StrategyPanel::parameterCountChanged);
        QVERIFY(strategy->setOption("n_ctx", 6));
        QVERIFY(counted.wait(20000));
        QCOMPARE(counted.last().first().toLongLong(), qint64(6 * 64));
        QVERIFY(child<QPushButton>(window, "startButton")->isEnabled());
    }

    // Under the Training box: the memory plan of the chosen settings on the chosen device, the same figure
    // `tunebench-cli plan` gives, and what to change when it does not fit.
    void showsTheMemoryPlanUnderTheTrainingBox()
    {
        auto window = tinyWindow();
        QVERIFY(window);
        auto* strategy = child<StrategyPanel>(window, "strategyPanel");
        auto* label = child<QLabel>(window, "memoryPlan");
        QTRY_VERIFY2_WITH_TIMEOUT(label->text().startsWith("Memory: needs"), qPrintable(label->text()), 60000);
        QVERIFY2(label->text().contains(" on CPU ("), qPrintable(label->text()));  // the machine's memory, on the CPU
        child<QSpinBox>(window, "batchSize")->setValue(8);
        QTRY_VERIFY_WITH_TIMEOUT(label->text().contains("at batch 8"), 60000);

        const auto* model = child<ModelPanel>(window, "modelPanel");
        const auto backbone = cachedBackbone(model->modelPath().toStdString(), model->vocabularyPath().toStdString());
        MemoryPlanRequest request;
        request.spec = backbone->checkpoint.spec;
        request.tokenizer = backbone->tokenizer;
        request.method = strategy->strategy().toStdString();
        RunSettings settings;
        strategy->fillSettings(settings);
        request.options = settings.options;
        request.batchSize = 8;
        request.classes = 4;
        const MemoryPlan plan = planMemory(request);
        QVERIFY2(label->text().contains("needs ~" + QString::fromStdString(formatBytes(static_cast<double>(plan.total())))), qPrintable(label->text()));

        strategy->setMemoryTarget("a small GPU", plan.total() / 2, true);
        QTRY_VERIFY_WITH_TIMEOUT(label->text().contains("Does not fit"), 60000);
        QVERIFY2(label->text().contains("of " + QString::fromStdString(formatBytes(static_cast<double>(plan.total() / 2))) + " on a small GPU"),
                 qPrintable(label->text()));
        QVERIFY2(label->text().contains("--checkpointing both") || label->text().contains("--accumulate"), qPrintable(label->text()));

        // Where it fits, the largest batch that does; past 4096 (a tiny model on a big device) only that it is more.
        strategy->setMemoryTarget("a snug GPU", plan.total(), true);
        const QString snug = QString("Fits: up to batch %1 here").arg(plan.largestBatch(plan.total()));
        QTRY_VERIFY2_WITH_TIMEOUT(label->text().contains(snug), qPrintable(label->text()), 60000);
        const std::int64_t terabyte = std::int64_t(1) << 40;
        QVERIFY(plan.largestBatch(terabyte) > 4096);
        strategy->setMemoryTarget("a huge GPU", terabyte, true);
        QTRY_VERIFY2_WITH_TIMEOUT(label->text().contains("Fits: any batch up to 4096, and more, here"), qPrintable(label->text()), 60000);
    }

    // The strategy list follows the loaded model: what cannot run on it is greyed out, with the reason.
    void strategiesThatDoNotApplyAreGreyedOutWithTheReason()
    {
        MainWindow window;
        window.setRunsRoot(m_dir.path() + "/runs");
        window.show();
        window.setVocabulary(m_files.vocabulary);
        auto* combo = child<QComboBox>(window, "strategyCombo");
        auto* items = qobject_cast<QStandardItemModel*>(combo->model());
        QVERIFY(items);
        auto check = [&](const QString& model, const char* family, const std::function<bool(const StrategyCapabilities&)>& refused,
                         const char* reason) {
            QSignalSpy loaded(&window, &MainWindow::modelLoaded);
            window.openCheckpoint(model);
            QVERIFY(loaded.wait(30000));
            QVERIFY(child<QPlainTextEdit>(window, "modelSummary")->toPlainText().contains(QString("Family: ") + family));
            int greyed = 0;
            for (int row = 0; row < items->rowCount(); ++row) {
                const QString name = items->item(row)->data(Qt::UserRole + 1).toString();
                if (name.isEmpty())
                    continue;  // a family header
                const bool enabled = items->item(row)->flags() & Qt::ItemIsEnabled;
                const bool expectRefused = refused(findStrategy(name.toStdString()).capabilities);
                QVERIFY2(enabled == !expectRefused, qPrintable(name));
                if (!enabled) {
                    // Methods that adapt to a target domain run in their own tab, whatever the model.
                    const bool ownTab = !QString(reason).contains("vision-only") && findStrategy(name.toStdString()).capabilities.adaptsToTarget;
                    QVERIFY2(items->item(row)->toolTip().contains(ownTab ? "Domain adaptation tab" : reason), qPrintable(items->item(row)->toolTip()));
                    ++greyed;
                }
            }
            QVERIFY(greyed > 0);
            QVERIFY(items->item(combo->currentIndex())->flags() & Qt::ItemIsEnabled);
        };
        check(m_files.resnetFile, "CLIP ResNet", [](const StrategyCapabilities& c) { return c.needsVitImageTower || c.adaptsToTarget; },
              "needs a ViT image tower");
        QVERIFY(!child<StrategyPanel>(window, "strategyPanel")->selectStrategy("vpt-deep"));
        QVERIFY(child<StrategyPanel>(window, "strategyPanel")->selectStrategy("partial"));
        check(m_files.timmFile, "ViT", [](const StrategyCapabilities& c) { return c.needsTextTower || c.adaptsToTarget; }, "vision-only");
        QVERIFY(child<StrategyPanel>(window, "strategyPanel")->selectStrategy("vpt-deep"));
        // Base-to-new cannot apply to a method without the text tower: unticked, greyed out, saying why; and
        // the run's settings say so too.
        auto* baseNew = child<QCheckBox>(window, "baseNew");
        QVERIFY(!baseNew->isChecked() && !baseNew->isEnabled());
        QVERIFY2(baseNew->toolTip().contains("text tower"), qPrintable(baseNew->toolTip()));
        QVERIFY(!window.currentSettings().baseNew);
    }

    // Base-to-new follows the chosen method on a CLIP model: off for VPT-Deep and L2P, back (as the
    // user left it) for CoOp; the Training box is greyed out for zero-shot, which trains nothing.
    void baseNewAndTrainingFollowTheMethod()
    {
        auto window = tinyWindow();
        QVERIFY(window);
        auto* strategy = child<StrategyPanel>(window, "strategyPanel");
        auto* baseNew = child<QCheckBox>(window, "baseNew");
        QVERIFY(strategy->selectStrategy("coop"));
        QVERIFY(baseNew->isChecked() && baseNew->isEnabled());
        for (const char* method : {"vpt-deep", "l2p"}) {
            QVERIFY2(strategy->selectStrategy(method), method);
            QVERIFY2(!baseNew->isChecked() && !baseNew->isEnabled(), method);
            QVERIFY2(baseNew->toolTip().contains("does not apply"), qPrintable(baseNew->toolTip()));
        }
        QVERIFY(strategy->selectStrategy("coop"));
        QVERIFY(baseNew->isChecked() && baseNew->isEnabled());
        QVERIFY(window->currentSettings().baseNew);
        // Gradient accumulation (issue 30): in the Training box, into the run's settings, with its own tip.
        auto* accumulate = child<QSpinBox>(window, "accumulate");
        QCOMPARE(accumulate->value(), 1);
        QCOMPARE(window->currentSettings().accumulate, 1);
        accumulate->setValue(4);
        QCOMPARE(window->currentSettings().accumulate, 4);
        QVERIFY2(accumulate->toolTip().contains("effective batch"), qPrintable(accumulate->toolTip()));
        // Gradient checkpointing (issue 30), beside it: none by default, each tower, into the settings and back.
        auto* checkpointing = child<QComboBox>(window, "checkpointing");
        QCOMPARE(checkpointing->count(), 4);
        QCOMPARE(window->currentSettings().checkpointing, std::string("none"));
        checkpointing->setCurrentIndex(checkpointing->findData(QString("both")));
        QCOMPARE(window->currentSettings().checkpointing, std::string("both"));
        QVERIFY2(checkpointing->toolTip().contains("backward pass"), qPrintable(checkpointing->toolTip()));
        QVERIFY(strategy->selectStrategy("zeroshot"));
        QVERIFY(!checkpointing->isEnabled());
        QVERIFY(!child<QSpinBox>(window, "epochs")->isEnabled());
        QVERIFY(!accumulate->isEnabled());
        QVERIFY2(accumulate->toolTip().contains("trains nothing"), qPrintable(accumulate->toolTip()));
        QVERIFY(child<QSpinBox>(window, "testImages")->isEnabled());  // still scored on a subset
        QVERIFY(strategy->selectStrategy("coop"));
        QVERIFY(child<QSpinBox>(window, "epochs")->isEnabled());
        QVERIFY(accumulate->isEnabled());
        QVERIFY2(accumulate->toolTip().contains("effective batch"), qPrintable(accumulate->toolTip()));
    }

    // The window uses the image-tower cache as the CLI does: a second Start of the same run encodes nothing.
    void secondStartReusesTheImageTowerCache()
    {
        m_environment->set("TUNEBENCH_CACHE_DIR", (m_dir.path() + "/window-feature-cache").toUtf8());
        auto window = tinyWindow();
        QVERIFY(window);
        window->setRunsRoot(m_dir.path() + "/cache-runs");  // its two runs stay out of the other tests' history
        QSignalSpy finished(window.get(), &MainWindow::runFinished);
        auto viewsOf = [](const RunResults& run) {
            QFile stored(run.runFolder + "/results.json");
            stored.open(QIODevice::ReadOnly);
            const auto cache = nlohmann::json::parse(stored.readAll().toStdString()).value("feature_cache", nlohmann::json::object());
            return std::make_pair(cache.value("views_computed", -1), cache.value("views_reused", -1));
        };
        QVERIFY(window->startRun());
        QVERIFY(finished.wait(60000) || !finished.isEmpty());
        const auto first = viewsOf(finished.last().first().value<RunResults>());
        QVERIFY2(first.first > 0, qPrintable(QString::number(first.first)));
        QVERIFY(window->startRun());
        QVERIFY(finished.wait(60000) || finished.size() == 2);
        const auto second = viewsOf(finished.last().first().value<RunResults>());
        QCOMPARE(second.first, 0);
        QVERIFY(second.second > 0);
    }

    void shortRunFillsCurveAndResultsAndExportsAPrompt()
    {
        auto window = tinyWindow();
        QVERIFY(window);
        QSignalSpy finished(window.get(), &MainWindow::runFinished);
        QSignalSpy failed(window.get(), &MainWindow::runFailed);
        QVERIFY(window->startRun());
        QVERIFY(!child<QPushButton>(window, "startButton")->isEnabled());
        QVERIFY(child<QPushButton>(window, "stopButton")->isEnabled());
        QVERIFY(finished.wait(60000) || !finished.isEmpty());
        QVERIFY2(failed.isEmpty(), failed.isEmpty() ? "" : qPrintable(failed.first().first().toString()));

        QCOMPARE(child<CurvePlot>(window, "curvePlot")->runCount(), 1);
        QCOMPARE(child<CurvePlot>(window, "curvePlot")->pointCount(0), 4);  // 4 images, batch 2, 2 epochs
        QTableWidget* table = child<ResultsPanel>(window, "resultsPanel")->summaryTable();
        // The hand-crafted prompt it was compared with is a row of its own, the baseline, above CoOp's.
        QCOMPARE(table->rowCount(), 2);
        QCOMPARE(table->item(0, 1)->text(), QString("Hand-crafted prompt"));
        QVERIFY(table->item(0, 5)->text() != QString("–"));  // its H too
        QCOMPARE(table->item(1, 1)->text(), QString("CoOp"));
        QCOMPARE(table->currentRow(), 1);
        QVERIFY(table->item(1, 3)->text().toDouble() >= 0);
        QVERIFY(table->item(1, 5)->text() != QString("–"));  // H is there: base-to-new applies to CoOp
        const RunResults& baseline = child<ResultsPanel>(window, "resultsPanel")->results(0);
        const RunResults& coopResults = child<ResultsPanel>(window, "resultsPanel")->results(1);
        QCOMPARE(baseline.trainingClasses.accuracy, coopResults.handcraftedTrainingClasses.accuracy);
        QCOMPARE(baseline.novel.accuracy, coopResults.handcraftedNovel.accuracy);
        QTableWidget* perClass = child<ResultsPanel>(window, "resultsPanel")->perClassTable();
        QCOMPARE(perClass->rowCount(), 4);
        // Prompt comparison: learned and hand-crafted accuracy per class, the better one highlighted.
        for (int row = 0; row < 4; ++row) {
            const double learned = perClass->item(row, 2)->text().toDouble(), handcrafted = perClass->item(row, 3)->text().toDouble();
            QVERIFY(perClass->item(row, 3)->text() != QString("–"));
            if (learned != handcrafted)
                QCOMPARE(perClass->item(row, learned > handcrafted ? 2 : 3)->background().color(), QColor(198, 239, 206));
        }
        QCOMPARE(child<ResultsPanel>(window, "resultsPanel")->confusionTable()->rowCount(), 2);
        QVERIFY(child<QPushButton>(window, "startButton")->isEnabled());

        // Prompt comparison: every class with the hand-crafted prompt next to CoOp's learned context (no
        // CoCoOp run yet), the best highlighted, and the nearest words of CoOp's 4 context vectors.
        QTableWidget* prompts = child<ResultsPanel>(window, "resultsPanel")->promptTable();
        QCOMPARE(prompts->rowCount(), 4);
        QCOMPARE(prompts->columnCount(), 4);  // class, split, hand-crafted, CoOp
        QStringList promptClasses;
        for (int row = 0; row < 4; ++row) {
            promptClasses << prompts->item(row, 0)->text();
            QVERIFY(prompts->item(row, 2)->text() != QString("–"));
            QVERIFY(prompts->item(row, 3)->text() != QString("–"));
            const double handcrafted = prompts->item(row, 2)->text().toDouble(), coop = prompts->item(row, 3)->text().toDouble();
            if (handcrafted != coop)
                QCOMPARE(prompts->item(row, handcrafted > coop ? 2 : 3)->background().color(), QColor(198, 239, 206));
        }
        QCOMPARE(promptClasses, QStringList({"blue", "green", "red", "yellow"}));
        const QStringList nearest = child<ResultsPanel>(window, "resultsPanel")->nearestWordsText().split('\n');
        QCOMPARE(nearest.size(), 4);
        QVERIFY2(nearest.first().startsWith("CoOp context 1: ") && nearest.first().count(", ") == 4, qPrintable(nearest.first()));
        QStringList perClassBefore;
        for (int row = 0; row < perClass->rowCount(); ++row)
            perClassBefore << perClass->item(row, 0)->text() + " " + perClass->item(row, 2)->text() + " " + perClass->item(row, 3)->text();
        QCOMPARE(child<QProgressBar>(window, "runProgress")->value(), child<QProgressBar>(window, "runProgress")->maximum());

        // The run folder is in the history (beside the continual tab's streams) and can be reopened into the table.
        QList<QTreeWidgetItem*> runs;
        for (int i = 0; i < child<QTreeWidget>(window, "historyTree")->topLevelItemCount(); ++i)
            if (!child<QTreeWidget>(window, "historyTree")->topLevelItem(i)->text(0).startsWith("continual-"))
                runs << child<QTreeWidget>(window, "historyTree")->topLevelItem(i);
        QCOMPARE(runs.size(), 1);
        runs.first()->setSelected(true);
        child<ResultsPanel>(window, "resultsPanel")->clear();
        QTest::mouseClick(child<QPushButton>(window, "historyOpen"), Qt::LeftButton);
        QCOMPARE(table->rowCount(), 2);  // the baseline and the run
        QCOMPARE(table->item(1, 7)->text(), QString("finished"));
        QVERIFY(table->item(1, 5)->text() != QString("–"));
        // ... with its per-class rows in label order, the hand-crafted comparison and the confusion matrix.
        QStringList perClassAfter;
        for (int row = 0; row < perClass->rowCount(); ++row)
            perClassAfter << perClass->item(row, 0)->text() + " " + perClass->item(row, 2)->text() + " " + perClass->item(row, 3)->text();
        QCOMPARE(perClassAfter, perClassBefore);
        QCOMPARE(child<ResultsPanel>(window, "resultsPanel")->confusionTable()->rowCount(), 2);
        QCOMPARE(child<ResultsPanel>(window, "resultsPanel")->promptTable()->rowCount(), 4);
        QCOMPARE(child<ResultsPanel>(window, "resultsPanel")->nearestWordsText().split('\n').size(), 4);

        // The prompt export re-imports onto the model for the other classes.
        const QString exported = finished.first().first().value<RunResults>().exportPath;
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
        QCOMPARE(importedRun.trainingClasses.classNames.size(), 4);
        QVERIFY(!importedRun.baseNew);
        QCOMPARE(child<CurvePlot>(window, "curvePlot")->pointCount(0), 4);  // no training happened
        QCOMPARE(table->rowCount(), 4);  // the imported prompt's own baseline (all classes) joined too

        // File > Export acts on the run selected in the Results table and names it: the imported prompt's
        // row has nothing learned to export; the older CoOp run's export carries its method and run id.
        auto* results = child<ResultsPanel>(window, "resultsPanel");
        QCOMPARE(results->selectedRun()->runId, importedRun.runId);
        QAction* exportAction = window->findChild<QAction*>("exportPromptAction");
        QVERIFY(exportAction && !exportAction->isEnabled());
        QVERIFY2(exportAction->toolTip().contains("nothing learned to export"), qPrintable(exportAction->toolTip()));
        table->setCurrentCell(1, 0);
        const RunResults coopRun = finished.first().first().value<RunResults>();
        QCOMPARE(results->selectedRun()->runId, coopRun.runId);
        QVERIFY(exportAction->isEnabled());
        const QString exportedAgain = m_dir.path() + "/selected-export.json";
        QVERIFY(window->exportSelectedPrompt(exportedAgain));
        QFile again(exportedAgain);
        QVERIFY(again.open(QIODevice::ReadOnly));
        const auto againManifest = nlohmann::json::parse(again.readAll().toStdString());
        QCOMPARE(QString::fromStdString(againManifest.value("method", "")), QString("coop"));
        QCOMPARE(QString::fromStdString(againManifest.value("run", "")), coopRun.runId);
        const QString status = child<QLabel>(window, "statusLine")->text();
        QVERIFY2(status.contains(coopRun.runId), qPrintable(status));
#ifdef TUNEBENCH_WITH_ONNX
        // The same run as one ONNX graph, written off the GUI thread (the CLI's export --onnx; tst_onnx_export
        // runs such graphs against the engine).
        QSignalSpy onnxWritten(window.get(), &MainWindow::onnxExported), onnxFailed(window.get(), &MainWindow::onnxExportFailed);
        const QString onnxPath = m_dir.path() + "/selected.onnx";
        window->exportSelectedOnnx(onnxPath);
        QVERIFY(onnxWritten.wait(120000) || onnxWritten.size() == 1);
        QVERIFY2(onnxFailed.isEmpty(), onnxFailed.isEmpty() ? "" : qPrintable(onnxFailed.first().first().toString()));
        QVERIFY(QFileInfo(onnxPath).size() > 0);
        const QString onnxStatus = child<QLabel>(window, "statusLine")->text();
        QVERIFY2(onnxStatus.contains(coopRun.runId) && onnxStatus.contains("selected.onnx"), qPrintable(onnxStatus));
#endif

        // Curves export in three formats.
        QVERIFY(child<CurvePlot>(window, "curvePlot")->exportPng(m_dir.path() + "/curves.png"));
        QVERIFY(child<CurvePlot>(window, "curvePlot")->exportPdf(m_dir.path() + "/curves.pdf"));
        QVERIFY(child<CurvePlot>(window, "curvePlot")->exportCsv(m_dir.path() + "/curves.csv"));
        QFile csv(m_dir.path() + "/curves.csv");
        QVERIFY(csv.open(QIODevice::ReadOnly));
        QCOMPARE(csv.readAll().count('\n'), 5);  // header + 4 points
    }

    void pauseResumeStopFromTheButtons()
    {
        auto window = tinyWindow();
        QVERIFY(window);
        setTraining(window, 300, 0, 2);
        QSignalSpy finished(window.get(), &MainWindow::runFinished);
        QVERIFY(window->startRun());
        QTRY_VERIFY_WITH_TIMEOUT(child<CurvePlot>(window, "curvePlot")->runCount() == 1 && child<CurvePlot>(window, "curvePlot")->pointCount(0) >= 2, 30000);
        QTest::mouseClick(child<QPushButton>(window, "pauseButton"), Qt::LeftButton);
        QVERIFY(child<RunController>(window, "runController")->isPaused());
        QCOMPARE(child<QPushButton>(window, "pauseButton")->text(), QString("Resume"));
        QTest::qWait(300);
        const int pausedAt = child<CurvePlot>(window, "curvePlot")->pointCount(0);
        QTest::qWait(400);
        QCOMPARE(child<CurvePlot>(window, "curvePlot")->pointCount(0), pausedAt);
        QTest::mouseClick(child<QPushButton>(window, "pauseButton"), Qt::LeftButton);
        QVERIFY(!child<RunController>(window, "runController")->isPaused());
        QTRY_VERIFY_WITH_TIMEOUT(child<CurvePlot>(window, "curvePlot")->pointCount(0) > pausedAt, 10000);
        QTest::mouseClick(child<QPushButton>(window, "stopButton"), Qt::LeftButton);
        QVERIFY(finished.wait(30000) || !finished.isEmpty());
        QCOMPARE(finished.first().first().value<RunResults>().status, QString("stopped"));
        QVERIFY(child<QLabel>(window, "statusLine")->text().contains("stopped"));
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
        setTraining(window, 300, 0, 2);
        QVERIFY(window->startRun());
        QTRY_VERIFY_WITH_TIMEOUT(child<CurvePlot>(window, "curvePlot")->runCount() == 1 && child<CurvePlot>(window, "curvePlot")->pointCount(0) >= 1, 30000);
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
        QVERIFY2(child<QLabel>(window, "statusLine")->text().contains("Could not load the model") && child<QLabel>(window, "statusLine")->text().contains("corrupt.safetensors"),
                 qPrintable(child<QLabel>(window, "statusLine")->text()));

        QSignalSpy datasetFailed(&window, &MainWindow::datasetFailed);
        window.openDatasetPath(m_files.emptyDataset);
        QVERIFY(datasetFailed.wait(20000));
        QVERIFY2(child<QLabel>(window, "statusLine")->text().contains("Could not open the dataset") && child<QLabel>(window, "statusLine")->text().contains("no-images"),
                 qPrintable(child<QLabel>(window, "statusLine")->text()));
        QVERIFY(!child<QPushButton>(window, "startButton")->isEnabled());
        // The picker does not keep what it refused: it shows the dataset that stays open (none here).
        auto* picker = child<DatasetPanel>(window, "datasetPanel")->findChild<QComboBox*>();
        QVERIFY(picker);
        QCOMPARE(picker->currentText(), QString());
        QCOMPARE(picker->findText(m_files.emptyDataset), -1);
    }

    // A refused dataset leaves the open one in the picker, in the class list and in the next run.
    void refusedDatasetKeepsTheOpenOne()
    {
        auto window = tinyWindow();
        QVERIFY(window);
        auto* picker = child<DatasetPanel>(window, "datasetPanel")->findChild<QComboBox*>();
        const QString open = picker->currentText();
        QVERIFY(!open.isEmpty());
        QSignalSpy datasetFailed(window.get(), &MainWindow::datasetFailed);
        window->openDatasetPath(m_files.emptyDataset);
        QVERIFY(datasetFailed.wait(20000));
        QCOMPARE(picker->currentText(), open);
        QCOMPARE(QString::fromStdString(window->currentSettings().dataset), child<DatasetPanel>(window, "datasetPanel")->datasetPath());
    }

    void missingVocabularyDisablesStartAndSaysSo()
    {
        // Nowhere to find a vocabulary: the checkpoint's folder has none, and the machine's places are hidden.
        for (const char* name : {"TUNEBENCH_CLIP_VOCAB", "VIRTUAL_ENV", "CONDA_PREFIX", "HF_HUB_CACHE", "XDG_CACHE_HOME"})
            m_environment->unset(name);
        m_environment->set("HOME", m_dir.path().toUtf8());
        m_environment->set("HF_HOME", m_dir.path().toUtf8());
        QDir().mkpath(m_dir.path() + "/empty-system-root");
        setVocabularySystemRoot((m_dir.path() + "/empty-system-root").toStdString());
        MainWindow window;
        window.show();
        QSignalSpy loaded(&window, &MainWindow::modelLoaded);
        window.openCheckpoint(m_files.clipFolder);
        QVERIFY(loaded.wait(20000));
        QVERIFY(child<ModelPanel>(window, "modelPanel")->problem().contains("vocabulary"));
        QVERIFY(child<QLabel>(window, "statusLine")->text().contains("vocabulary is missing"));
        QVERIFY(!child<QPushButton>(window, "startButton")->isEnabled());
        QVERIFY(child<QPushButton>(window, "startButton")->toolTip().contains("vocabulary"));
    }

    // Every prompt learner the registry has gets a column of its own in the prompt comparison (KgCoOp too);
    // methods without learned contexts get none.
    void promptComparisonHasAColumnPerPromptLearner()
    {
        auto run = [](const std::string& method, const QString& id, double accuracy) {
            const StrategyInfo& info = findStrategy(method);
            RunResults r;
            r.runId = id;
            r.method = QString::fromStdString(method);
            r.methodTitle = QString::fromStdString(info.title);
            r.capabilities = info.capabilities;
            r.status = "finished";
            r.dataset = "colours";
            for (RunEvaluation* e : {&r.trainingClasses, &r.handcraftedTrainingClasses}) {
                e->valid = true;
                e->classNames = {"red", "blue"};
                e->perClass = {e == &r.trainingClasses ? accuracy : 0.5, 0.5};
            }
            return r;
        };
        ResultsPanel panel;
        QStringList expected = {"Class", "Split", "Hand-crafted (%)"};
        int order = 0;
        for (const StrategyInfo& info : strategyRegistry()) {
            if (!info.capabilities.needsTextTower)
                continue;
            panel.addResults(run(info.name, QString::fromStdString(info.name + "-run"), 0.6 + 0.01 * order++));
            if (info.capabilities.learnsPromptContext)
                expected << QString::fromStdString(info.title) + " (%)";
        }
        QVERIFY(expected.contains("KgCoOp (%)"));
        QTableWidget* table = panel.promptTable();
        QStringList headers;
        for (int c = 0; c < table->columnCount(); ++c)
            headers << table->horizontalHeaderItem(c)->text();
        QCOMPARE(headers, expected);
        QCOMPARE(table->rowCount(), 2);
        // The best prompt of the class is highlighted: the last learner added scored highest on "red".
        QCOMPARE(table->item(0, table->columnCount() - 1)->background().color(), QColor(198, 239, 206));
    }

    // The settings of the last started run come back in a new window (one RunSettings, as a run's config).
    void lastRunSettingsComeBackInANewWindow()
    {
        RunSettings started;
        {
            auto window = tinyWindow();
            QVERIFY(window);
            child<QSpinBox>(window, "seed")->setValue(7);
            child<QLineEdit>(window, "evalDatasets")->setText(m_files.datasetFolder);
            QSignalSpy finished(window.get(), &MainWindow::runFinished);
            QVERIFY(window->startRun());
            started = window->currentSettings();
            QVERIFY(finished.wait(60000) || !finished.isEmpty());
        }
        MainWindow again;
        const RunSettings restored = again.currentSettings();
        QCOMPARE(restored.method, started.method);
        QCOMPARE(restored.options, started.options);
        QCOMPARE(restored.shots, started.shots);
        QCOMPARE(restored.seed, 7);
        QCOMPARE(restored.epochs, started.epochs);
        QCOMPARE(restored.batchSize, started.batchSize);
        QCOMPARE(restored.evalDatasets, std::vector<std::string>{m_files.datasetFolder.toStdString()});
        QCOMPARE(child<QSpinBox>(again, "option_n_ctx")->value(), started.options["n_ctx"].get<int>());
    }

    // The Delete button keeps the folder of the run in progress and says so; finished runs go.
    void deleteKeepsTheRunInProgress()
    {
        auto window = tinyWindow();
        QVERIFY(window);
        window->setRunsRoot(m_dir.path() + "/delete-runs");
        QSignalSpy finished(window.get(), &MainWindow::runFinished);
        QVERIFY(window->startRun());
        QVERIFY(finished.wait(60000) || !finished.isEmpty());
        setTraining(window, 300, 0, 2);
        QVERIFY(window->startRun());
        auto* tree = child<QTreeWidget>(window, "historyTree");
        QTRY_VERIFY_WITH_TIMEOUT(child<CurvePlot>(window, "curvePlot")->pointCount(1) >= 1, 30000);
        QPushButton* refresh = child<QPushButton>(window, "historyRefresh");
        QTest::mouseClick(refresh, Qt::LeftButton);
        QCOMPARE(tree->topLevelItemCount(), 2);
        tree->selectAll();
        // The confirmation is answered Yes as soon as it shows.
        QTimer::singleShot(0, [] {
            QTRY_VERIFY_WITH_TIMEOUT(qobject_cast<QMessageBox*>(QApplication::activeModalWidget()), 5000);
            qobject_cast<QMessageBox*>(QApplication::activeModalWidget())->button(QMessageBox::Yes)->click();
        });
        QTest::mouseClick(child<QPushButton>(window, "historyDelete"), Qt::LeftButton);
        QCOMPARE(tree->topLevelItemCount(), 1);  // the running one stays
        QVERIFY(QFileInfo::exists(tree->topLevelItem(0)->data(0, Qt::UserRole).toString()));
        QVERIFY2(child<QLabel>(window, "statusLine")->text().contains("in progress"), qPrintable(child<QLabel>(window, "statusLine")->text()));
        window->stopRun();
        QVERIFY(finished.wait(30000) || finished.size() == 2);
    }

    // A stopped run goes on from the History tab: in its own folder, from its last finished epoch, with its own
    // settings (not what the panels say now), and without logging a step twice.
    void aStoppedRunContinuesFromTheHistory()
    {
        auto window = tinyWindow();
        QVERIFY(window);
        const QString root = m_dir.path() + "/continue-runs";
        window->setRunsRoot(root);
        const auto runFolders = [&root] { return QDir(root).entryList(QDir::Dirs | QDir::NoDotAndDotDot); };
        const auto checkpointed = [&]() -> std::optional<CheckpointInfo> {
            const QStringList runs = runFolders();
            if (runs.size() != 1)
                return std::nullopt;
            try {
                return findCheckpoint(RunStore::open((root + "/" + runs.front()).toStdString()).checkpointDir());
            } catch (const Error&) {
                return std::nullopt;  // the run is still setting its folder up: no config.json yet
            }
        };
        setTraining(window, 300, 0, 2);
        QSignalSpy finished(window.get(), &MainWindow::runFinished);
        QVERIFY2(window->startRun(), qPrintable(child<QLabel>(window, "statusLine")->text()));
        QTRY_VERIFY_WITH_TIMEOUT(checkpointed() && checkpointed()->epochsDone >= 2, 60000);
        window->stopRun();
        QVERIFY(finished.wait(30000) || !finished.isEmpty());
        QCOMPARE(finished.last().first().value<RunResults>().status, QString("stopped"));
        const CheckpointInfo stopped = *checkpointed();
        const QString folder = root + "/" + runFolders().front();

        // The panels now ask for something else; the run goes on as it was set up.
        setTraining(window, 1, 0, 4);
        auto* tree = child<QTreeWidget>(window, "historyTree");
        auto* continueButton = child<QPushButton>(window, "historyContinue");
        QTest::mouseClick(child<QPushButton>(window, "historyRefresh"), Qt::LeftButton);
        QCOMPARE(tree->topLevelItemCount(), 1);
        QVERIFY(!continueButton->isEnabled());  // nothing selected
        tree->topLevelItem(0)->setSelected(true);
        QVERIFY(continueButton->isEnabled());
        QTest::mouseClick(continueButton, Qt::LeftButton);
        QVERIFY(window->isRunning());
        QVERIFY(!continueButton->isEnabled());  // not while a run goes on
        QTRY_VERIFY_WITH_TIMEOUT(checkpointed() && checkpointed()->epochsDone >= stopped.epochsDone + 2, 60000);
        window->stopRun();
        QVERIFY(finished.wait(30000) || finished.size() == 2);
        QCOMPARE(finished.size(), 2);
        const RunResults continued = finished.last().first().value<RunResults>();
        QCOMPARE(continued.status, QString("stopped"));
        QCOMPARE(continued.runFolder, folder);
        QCOMPARE(runFolders().size(), 1);  // no new folder
        const RunSettings settings = RunSettings::fromJson(RunStore::readJsonFile((folder + "/config.json").toStdString())["settings"], "config.json");
        QCOMPARE(settings.epochs, 300);
        QCOMPARE(settings.batchSize, 2);
        // Each epoch is logged once, in order, across the stop: none before the checkpoint is trained again.
        std::vector<int> epochs;
        std::ifstream metrics((folder + "/metrics.jsonl").toStdString());
        for (std::string line; std::getline(metrics, line);)
            if (const auto record = nlohmann::json::parse(line); record.value("type", "") == "epoch")
                epochs.push_back(record["epoch"].get<int>());
        QVERIFY2(int(epochs.size()) >= stopped.epochsDone + 2, qPrintable(QString::number(epochs.size())));
        for (size_t i = 0; i < epochs.size(); ++i)
            QCOMPARE(epochs[i], int(i));

        // A finished run has nothing to continue: the button stays off.
        QTest::mouseClick(child<QPushButton>(window, "historyRefresh"), Qt::LeftButton);
        setTraining(window, 1, 0, 2);
        QVERIFY(window->startRun());
        QVERIFY(finished.wait(60000) || finished.size() == 3);
        QTest::mouseClick(child<QPushButton>(window, "historyRefresh"), Qt::LeftButton);
        QCOMPARE(tree->topLevelItemCount(), 2);
        for (int i = 0; i < tree->topLevelItemCount(); ++i) {
            tree->clearSelection();
            tree->topLevelItem(i)->setSelected(true);
            QCOMPARE(continueButton->isEnabled(), tree->topLevelItem(i)->data(0, Qt::UserRole).toString() == folder);
        }

        // A stopped domain adaptation goes on only from the CLI: the button stays off and says so, without a
        // click that is then refused.
        const QString adaptation = root + "/zz-adaptation";
        QVERIFY(QDir().mkpath(adaptation));
        nlohmann::json config = RunStore::readJsonFile((folder + "/config.json").toStdString());
        config["settings"]["adapt_target"] = "target";
        RunStore::at(adaptation.toStdString()).writeConfig(config);
        RunStore::at(adaptation.toStdString()).writeResults({{"status", "stopped"}});
        QTest::mouseClick(child<QPushButton>(window, "historyRefresh"), Qt::LeftButton);
        QCOMPARE(tree->topLevelItemCount(), 3);
        tree->clearSelection();
        tree->topLevelItem(0)->setSelected(true);  // newest first: "zz" sorts above the timestamps
        QCOMPARE(tree->topLevelItem(0)->data(0, Qt::UserRole).toString(), QFileInfo(adaptation).absoluteFilePath());
        QVERIFY(!continueButton->isEnabled());
        QVERIFY2(continueButton->toolTip().contains("tunebench-cli train --resume " + QFileInfo(adaptation).absoluteFilePath()),
                 qPrintable(continueButton->toolTip()));
        // The controller applies the same rule to a caller that skips the button.
        QSignalSpy failed(window.get(), &MainWindow::runFailed);
        QVERIFY(window->continueRun(adaptation));
        QVERIFY(failed.wait(30000) || !failed.isEmpty());
        QVERIFY2(failed.first().first().toString().contains("continue this one with tunebench-cli train --resume"),
                 qPrintable(failed.first().first().toString()));
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
        QCOMPARE(child<QPushButton>(window, "startButton")->text(), QString("Start"));
        window.setLanguage("zh_CN");
        QCOMPARE(child<QPushButton>(window, "startButton")->text(), QString::fromUtf8("开始"));
        QCOMPARE(QSettings().value("language").toString(), QString("zh_CN"));
        window.setLanguage("en");
        QCOMPARE(child<QPushButton>(window, "startButton")->text(), QString("Start"));
    }

    // The demo model on fashion-mnist, as a user sees it on first start; the screenshot for docs/.
    void demoModelRunAndScreenshot()
    {
        const QString demo = MainWindow::demoModelPath();
        if (demo.isEmpty() || !QFileInfo::exists("/usr/share/datasets/fashion-mnist"))
            QSKIP("the demo model or fashion-mnist is not installed");
        MainWindow window;
        window.setRunsRoot(m_dir.path() + "/demo-runs");
        window.resize(1500, 950);
        window.show();
        QSignalSpy loaded(&window, &MainWindow::modelLoaded);
        QSignalSpy datasetLoaded(&window, &MainWindow::datasetLoaded);
        window.openDefaults();
        QVERIFY(loaded.wait(30000) || !loaded.isEmpty());
        QVERIFY(datasetLoaded.wait(60000) || !datasetLoaded.isEmpty());
        QVERIFY2(child<ModelPanel>(window, "modelPanel")->problem().isEmpty(), qPrintable(child<ModelPanel>(window, "modelPanel")->problem()));
        QCOMPARE(child<DatasetPanel>(window, "datasetPanel")->classNames().size(), 10);
        QVERIFY(child<StrategyPanel>(window, "strategyPanel")->selectStrategy("coop"));
        child<QSpinBox>(window, "shots")->setValue(16);
        setTraining(window, 3, 0, 16);
        child<QSpinBox>(window, "testImages")->setValue(500);
        // The memory estimate under the Training box, before Start (it stays as it was while a run goes on).
        auto* memory = child<QLabel>(window, "memoryPlan");
        QTRY_VERIFY2_WITH_TIMEOUT(memory->text().startsWith("Memory: needs"), qPrintable(memory->text()), 60000);
        // A first finished run, so that the results table and a second curve show in the screenshot.
        QSignalSpy finished(&window, &MainWindow::runFinished);
        QVERIFY(window.startRun());
        QVERIFY(finished.wait(120000) || !finished.isEmpty());
        QTableWidget* table = child<ResultsPanel>(window, "resultsPanel")->summaryTable();
        QCOMPARE(table->rowCount(), 2);  // the hand-crafted prompt, then CoOp
        // It opened on the demo task: a shifted domain, scored also on the other domains named in the dataset panel.
        QVERIFY2(window.currentSettings().dataset.rfind("fashion-mnist:", 0) == 0, window.currentSettings().dataset.c_str());
        QStringList targets;
        for (const std::string& target : window.currentSettings().evalDatasets)
            targets << QString::fromStdString(target);
        QVERIFY(!targets.isEmpty());
        QTableWidget* generalisation = child<DomainGeneralisationPanel>(window, "generalisationPanel")->table();
        // The hand-crafted prompt is the zero-shot baseline of domain generalisation: a row of its own.
        QCOMPARE(generalisation->rowCount(), 2);
        QCOMPARE(generalisation->columnCount(), 4 + targets.size());
        for (int row = 0; row < 2; ++row)
            for (int t = 0; t < targets.size(); ++t) {
                QCOMPARE(generalisation->horizontalHeaderItem(4 + t)->text(), targets[t]);
                const double accuracy = generalisation->item(row, 4 + t)->text().toDouble();
                QVERIFY(accuracy > 0 && accuracy <= 100);
            }
        // The few-shot panel: the hand-crafted prompt's star at 0 shots, one point of CoOp at 16 shots, its H.
        const std::vector<ShotCurve> curves = child<FewShotPanel>(window, "fewShotPanel")->curves();
        QCOMPARE(curves.size(), std::size_t(2));
        const ShotCurve& coopCurve = curves[0].shots == std::vector<double>{16} ? curves[0] : curves[1];
        QVERIFY(coopCurve.shots == std::vector<double>{16});
        QVERIFY(std::abs(coopCurve.values[0] - child<ResultsPanel>(window, "resultsPanel")->results(1).harmonic) < 1e-12);

        QVERIFY(child<StrategyPanel>(window, "strategyPanel")->selectStrategy("cocoop"));
        setTraining(window, 6, 0, 8);
        QTRY_VERIFY2_WITH_TIMEOUT(memory->text().startsWith("Memory: needs") && memory->text().contains("at batch 8"), qPrintable(memory->text()),
                                  60000);
        QVERIFY(window.startRun());
        QTRY_VERIFY_WITH_TIMEOUT(child<CurvePlot>(window, "curvePlot")->pointCount(1) >= 12, 60000);
        // The finished CoOp run's prompt comparison: every class, the hand-crafted prompt next to CoOp.
        QTabWidget* details = child<ResultsPanel>(window, "resultsPanel")->detailTabs();
        details->setCurrentIndex(2);
        QCOMPARE(child<ResultsPanel>(window, "resultsPanel")->promptTable()->rowCount(), 10);
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
            QTRY_VERIFY_WITH_TIMEOUT(memory->text().startsWith("内存：在"), 60000);
            QVERIFY(window.startRun());
            QTRY_VERIFY_WITH_TIMEOUT(child<CurvePlot>(window, "curvePlot")->runCount() == 3 && child<CurvePlot>(window, "curvePlot")->pointCount(2) >= 12, 60000);
            details->setCurrentIndex(2);
            QVERIFY(window.grab().save(chineseShot));
            window.stopRun();
            QVERIFY(finished.wait(120000) || finished.size() == 3);
            window.setLanguage("en");
        }
    }

    // Help > About Tunebench and the model panel's device line: the facts of `tunebench-cli --version`.
    void aboutBoxNamesTheBuildAndTheDevices()
    {
        MainWindow window;
        window.show();
        auto* selector = child<QComboBox>(window, "deviceSelector");
        QTRY_VERIFY_WITH_TIMEOUT(selector->isEnabled(), 20000);  // the devices are probed
        const BuildInfo build = buildInfo();
        const QString libtorch = "LibTorch " + QString::fromStdString(build.libtorchVersion);
        QVERIFY2(QRegularExpression("^LibTorch \\d+\\.\\d+\\.\\d+").match(libtorch).hasMatch(), qPrintable(libtorch));
        const QString cuda = build.cudaCompiled ? QStringLiteral("CUDA: compiled") : QStringLiteral("CUDA: not compiled");

        QObject* about = child<QObject>(window, "aboutAction");  // Help > About Tunebench
        QCOMPARE(about->property("text").toString(), QString("&About Tunebench"));
        QVERIFY(QMetaObject::invokeMethod(about, "trigger"));
        auto* box = child<QMessageBox>(window, "aboutBox");
        QVERIFY(box->isVisible());
        const QString text = box->text();
        QVERIFY2(text.contains("Tunebench " + QString::fromStdString(build.tunebenchVersion)) && text.contains(libtorch) && text.contains(cuda),
                 qPrintable(text));
        for (int i = 0; i < selector->count(); ++i)
            QVERIFY2(text.contains(selector->itemText(i)), qPrintable(text));
        const QString line = child<QLabel>(window, "deviceLabel")->text();
        QVERIFY2(line.contains(libtorch) && line.contains(cuda), qPrintable(line));

        // TUNEBENCH_SCREENSHOT_ABOUT=FILE.png and TUNEBENCH_SCREENSHOT_DEVICE=FILE.png: the About box and the
        // model panel with the device selector, once the layouts have taken the probed texts.
        QTest::qWait(200);
        if (const QString shot = qEnvironmentVariable("TUNEBENCH_SCREENSHOT_ABOUT"); !shot.isEmpty())
            QVERIFY(box->grab().save(shot));
        if (const QString shot = qEnvironmentVariable("TUNEBENCH_SCREENSHOT_DEVICE"); !shot.isEmpty())
            QVERIFY(child<ModelPanel>(window, "modelPanel")->grab().save(shot));
        box->close();
    }

    // The device selector lists each GPU and the CPU, starts on the first GPU (the CPU on this machine,
    // which has none), remembers the user's choice, and the run request carries the selected device.
    void deviceSelectorChoosesWhereRunsCompute()
    {
        {
            auto window = tinyWindow();
            QVERIFY(window);
            auto* selector = child<QComboBox>(window, "deviceSelector");
            QTRY_VERIFY_WITH_TIMEOUT(selector->isEnabled(), 20000);
            const ModelPanel* panel = child<ModelPanel>(window, "modelPanel");
            const int gpus = panel->buildInfo().cudaDevices;
            QCOMPARE(selector->count(), gpus + 1);
            QCOMPARE(selector->itemData(gpus).toString(), QString("cpu"));
            QVERIFY2(selector->itemText(gpus).startsWith("CPU ("), qPrintable(selector->itemText(gpus)));
            const QString expected = gpus > 0 ? QStringLiteral("cuda:0") : QStringLiteral("cpu");
            QCOMPARE(selector->currentData().toString(), expected);
            QCOMPARE(QString::fromStdString(window->currentSettings().device), expected);

            QSignalSpy finished(window.get(), &MainWindow::runFinished);
            QVERIFY(window->startRun());
            QVERIFY(!selector->isEnabled());  // a run's device is fixed until it ends
            QVERIFY(finished.wait(60000) || !finished.isEmpty());
            const QString folder = finished.first().first().value<RunResults>().runFolder;
            QFile configFile(folder + "/config.json");
            QVERIFY(configFile.open(QIODevice::ReadOnly));
            const nlohmann::json config = nlohmann::json::parse(configFile.readAll().toStdString());
            QCOMPARE(QString::fromStdString(config["settings"]["device"].get<std::string>()), expected);
            QTRY_VERIFY(selector->isEnabled());
        }

        // As on a machine with two GPUs: the first one unless the user chooses, and the choice is kept.
        MainWindow window;
        auto* selector = child<QComboBox>(window, "deviceSelector");
        QTRY_VERIFY_WITH_TIMEOUT(selector->isEnabled(), 20000);
        auto* panel = child<ModelPanel>(window, "modelPanel");
        BuildInfo twoGpus = panel->buildInfo();
        twoGpus.devices.erase(std::remove_if(twoGpus.devices.begin(), twoGpus.devices.end(), [](const DeviceInfo& d) { return d.isGpu(); }),
                              twoGpus.devices.end());
        twoGpus.devices.insert(twoGpus.devices.begin(), {DeviceInfo{"cuda:0", 0, "Test GPU A", std::int64_t(80) << 30, 0},
                                                         DeviceInfo{"cuda:1", 1, "Test GPU B", std::int64_t(24) << 30, 0}});
        twoGpus.cudaDevices = 2;
        panel->setBuildInfo(twoGpus, QSettings().value("run/device", "auto").toString());
        QCOMPARE(selector->count(), 3);
        QCOMPARE(selector->itemText(0), QString("GPU 0: Test GPU A (80.0 GiB)"));
        QCOMPARE(selector->currentData().toString(), QString("cuda:0"));
        QCOMPARE(window.currentSettings().device, std::string("cuda:0"));
        selector->setCurrentIndex(1);
        QCOMPARE(window.currentSettings().device, std::string("cuda:1"));
        QCOMPARE(QSettings().value("run/device").toString(), QString("cuda:1"));
        panel->setBuildInfo(twoGpus, QSettings().value("run/device").toString());
        QCOMPARE(selector->currentData().toString(), QString("cuda:1"));
        // The saved GPU is gone (another machine, a GPU taken away): auto again; the choice stays saved.
        BuildInfo oneGpu = twoGpus;
        oneGpu.devices.erase(oneGpu.devices.begin() + 1);
        oneGpu.cudaDevices = 1;
        panel->setBuildInfo(oneGpu, QSettings().value("run/device").toString());
        QCOMPARE(selector->currentData().toString(), QString("cuda:0"));
        QCOMPARE(QSettings().value("run/device").toString(), QString("cuda:1"));
        selector->setCurrentIndex(1);
        QCOMPARE(QSettings().value("run/device").toString(), QString("cpu"));
        QCOMPARE(window.currentSettings().device, std::string("cpu"));

        // A new window on this machine with a saved GPU that is not here: auto.
        QSettings().setValue("run/device", "cuda:7");
        MainWindow again;
        auto* againSelector = child<QComboBox>(again, "deviceSelector");
        QTRY_VERIFY_WITH_TIMEOUT(againSelector->isEnabled(), 20000);
        QCOMPARE(againSelector->currentData().toString(),
                 child<ModelPanel>(again, "modelPanel")->buildInfo().cudaDevices > 0 ? QString("cuda:0") : QString("cpu"));
    }
};

QTEST_MAIN(TestMainWindow)
#include "tst_mainwindow.moc"
