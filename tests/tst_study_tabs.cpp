// The window's study tabs under offscreen: continual streams, adaptation series, the PETL table and sweeps,
// the one-job rule between them and the main run, and their screenshots.
#include "report/HeatMap.h"
#include "report/PlotStyle.h"
#include "report/ShotCurvePlot.h"
#include "widgets/adaptation/AdaptationPanel.h"
#include "widgets/continual/ContinualPanel.h"
#include "widgets/petl/PetlTablePanel.h"
#include "widgets/results/CurvePlot.h"
#include "widgets/results/ResultsPanel.h"
#include "widgets/setup/DatasetPanel.h"
#include "widgets/setup/ModelPanel.h"
#include "widgets/setup/StrategyPanel.h"
#include "widgets/sweeps/SweepPanel.h"
#include "widgets/window/JobHost.h"
#include "widgets/window/MainWindow.h"

#include "core/Device.h"
#include "core/experiment/PetlStudy.h"
#include "core/io/AtomicFile.h"
#include "core/io/CheckpointLoader.h"
#include "core/io/VocabularyLocator.h"
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

#include <atomic>

#include <nlohmann/json.hpp>

using namespace tunebench;
using test::child;
using test::setTraining;

class TestStudyTabs : public QObject, private test::WindowTestCase
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() { setUpTestCase("tst_study_tabs"); }
    void init() { setUpTest(); }
    void cleanup() { tearDownTest(); }

    // The continual-learning tab: a two-task stream of the open dataset, its matrix, summary and export;
    // Start refuses a ResNet CLIP and says why.
    void continualModeRunsAStreamAndShowsTheMatrix()
    {
        auto window = tinyWindow();
        QVERIFY(window);
        auto* panel = child<ContinualPanel>(window, "continualPanel");
        child<QSpinBox>(window, "continualTasks")->setValue(2);
        child<QLineEdit>(window, "continualSeeds")->setText("1");
        child<QSpinBox>(window, "continualEpochs")->setValue(1);
        child<QCheckBox>(window, "continualMethod_seq-ft")->setChecked(false);
        QVERIFY(child<QCheckBox>(window, "continualJoint")->isChecked());  // the protocol's joint training, beside L2P
        auto* start = child<QPushButton>(window, "continualStart");
        QVERIFY2(start->isEnabled(), qPrintable(start->toolTip()));
        QSignalSpy finished(panel, &ContinualPanel::studyFinished);
        start->click();
        QVERIFY(panel->isRunning());
        // One job at a time: while the stream runs, neither a training run nor an adaptation series starts.
        QVERIFY(window->isRunning());
        QVERIFY(!window->startRun());
        QVERIFY(!child<QPushButton>(window, "adaptationStart")->isEnabled());
        QVERIFY(!child<AdaptationPanel>(window, "adaptationPanel")->start());
        QVERIFY(finished.wait(240000));
        QVERIFY(!window->isRunning());
        QVERIFY2(finished.first().first().toBool(), qPrintable(panel->statusText()));
        const auto summaries = panel->summaries();
        QVERIFY(summaries.contains("l2p") && summaries.contains("joint") && !summaries.contains("seq-ft"));
        QCOMPARE(summaries["l2p"].matrix.size(), size_t(2));
        QVERIFY(summaries["l2p"].forgetting.has_value());
        QVERIFY(!summaries["joint"].forgetting.has_value());
        QCOMPARE(child<QTableWidget>(window, "continualSummary")->rowCount(), 2);
        QVERIFY(child<ContinualPanel>(window, "continualPanel")->statusText().contains("A_T"));
        QCOMPARE(child<HeatMap>(window, "continualMatrix")->rowCount(), 1);  // joint was shown last: one row
        child<QComboBox>(window, "continualShownMethod")->setCurrentText("l2p");
        QCOMPARE(child<HeatMap>(window, "continualMatrix")->rowCount(), 2);
        QCOMPARE(child<HeatMap>(window, "continualSelection")->rowCount(), 2);
        // Each stream is an ordinary run folder: the run history lists it, without a Refresh, with its A_T.
        int streamsListed = 0;
        auto* history = child<QTreeWidget>(window, "historyTree");
        for (int i = 0; i < history->topLevelItemCount(); ++i) {
            const QTreeWidgetItem* item = history->topLevelItem(i);
            if (!item->text(0).startsWith("continual-"))
                continue;
            ++streamsListed;
            QVERIFY(item->text(1) == "l2p" || item->text(1) == "joint");
            QCOMPARE(item->text(3), QString("finished"));
            QVERIFY2(item->text(4).startsWith("A_T "), qPrintable(item->text(4)));
        }
        QCOMPARE(streamsListed, 2);
        // TUNEBENCH_SCREENSHOT_CONTINUAL=docs/screenshot-continual.png refreshes docs/continual.md's picture.
        const QString shot = qEnvironmentVariable("TUNEBENCH_SCREENSHOT_CONTINUAL");
        if (!shot.isEmpty()) {
            auto* tabs = child<QTabWidget>(window, "resultTabs");
            tabs->setCurrentWidget(panel);
            window->resize(1500, 1000);
            QVERIFY(window->grab().save(shot));
        }
        // Show results on a stream opens it in the continual tab, not in the Base/New table; a seed shown
        // already is replaced, not counted twice.
        const int resultRows = child<ResultsPanel>(window, "resultsPanel")->runCount();
        child<QComboBox>(window, "continualShownMethod")->setCurrentText("joint");
        child<QTabWidget>(window, "resultTabs")->setCurrentWidget(child<QWidget>(window, "historyPanel"));
        history->clearSelection();
        for (int i = 0; i < history->topLevelItemCount(); ++i)
            if (history->topLevelItem(i)->text(0).startsWith("continual-") && history->topLevelItem(i)->text(1) == "l2p")
                history->topLevelItem(i)->setSelected(true);
        QTest::mouseClick(child<QPushButton>(window, "historyOpen"), Qt::LeftButton);
        QCOMPARE(child<QTabWidget>(window, "resultTabs")->currentWidget(), static_cast<QWidget*>(panel));
        QCOMPARE(child<QComboBox>(window, "continualShownMethod")->currentText(), QString("l2p"));
        QCOMPARE(child<HeatMap>(window, "continualMatrix")->rowCount(), 2);
        QCOMPARE(panel->summaries()["l2p"].seeds, 1);
        QCOMPARE(child<ResultsPanel>(window, "resultsPanel")->runCount(), resultRows);
        const QString exported = m_dir.path() + "/continual-export";
        QVERIFY(QDir().mkpath(exported));
        QVERIFY(child<QPushButton>(window, "continualExport")->isEnabled());
        QVERIFY(panel->exportTo(exported));
        QVERIFY(QFileInfo(exported + "/l2p-export.safetensors").size() > 0);

        QSignalSpy loaded(window.get(), &MainWindow::modelLoaded);
        window->openCheckpoint(m_files.resnetFile);
        QVERIFY(loaded.wait(30000));
        QVERIFY(!start->isEnabled());
        QVERIFY2(start->toolTip().contains("needs a ViT image tower"), qPrintable(start->toolTip()));
    }

    // The study tabs list their methods from the strategies' capabilities, titled; the continual tab's joint
    // training is an option of its protocol beside them.
    void studyTabsListTheirMethods()
    {
        MainWindow window;
        auto boxes = [&](const char* prefix) {
            QStringList names;
            for (QCheckBox* box : window.findChildren<QCheckBox*>())
                if (box->objectName().startsWith(prefix))
                    names << box->objectName().mid(int(strlen(prefix))) + "=" + box->text() + (box->isChecked() ? "+" : "");
            return names;
        };
        QCOMPARE(boxes("adaptationMethod_"), QStringList({"zeroshot=Zero-shot CLIP+", "coop=CoOp (source only)+", "dapl=DAPL+"}));
        QCOMPARE(boxes("continualMethod_"), QStringList({"l2p=L2P+", "seq-ft=Sequential fine-tuning+"}));
        QCOMPARE(child<QCheckBox>(window, "continualJoint")->text(), QString("Joint training (upper bound)"));
        // The PETL table offers the whole classic family, the documented demo table's six checked.
        QCOMPARE(boxes("petlMethod_"),
                 QStringList({"full=Full+", "linear=Linear+", "partial=Partial-k", "mlp=MLP-k", "sidetune=Side-tune", "bias=Bias",
                              "adapter=Adapter", "vpt-shallow=VPT-Shallow", "vpt-deep=VPT-Deep+", "lora=LoRA+", "dora=DoRA",
                              "adaptformer=AdaptFormer+", "ssf=SSF+"}));
        // The form's labels and the baselines' note follow the language.
        window.setLanguage("zh_CN");
        QCOMPARE(child<QCheckBox>(window, "adaptationMethod_coop")->text(), QString::fromUtf8("CoOp（仅源领域）"));
        QCOMPARE(child<QCheckBox>(window, "continualJoint")->text(), QString::fromUtf8("联合训练（上界）"));
        QStringList labels;
        for (QLabel* label : child<ContinualPanel>(window, "continualPanel")->findChildren<QLabel*>())
            labels << label->text();
        QVERIFY2(labels.contains(QString::fromUtf8("每个任务的轮数")), qPrintable(labels.join(", ")));
        window.setLanguage("en");
    }

    // One job at a time: what is refused while another job runs says so (in red on the window's status line,
    // and in each study tab), and the refusal goes once the host is idle again instead of outliving the job.
    void refusalsGoWhenTheOtherJobEnds()
    {
        MainWindow window;
        window.setRunsRoot(m_dir.path() + "/runs");
        auto* jobs = child<JobHost>(window, "jobHost");
        std::atomic<bool> release{false};
        QVERIFY(jobs->submit("test", [&release](const JobHost::Context&) {
            while (!release)
                QThread::msleep(5);
            return true;
        }));
        auto* statusLine = child<QLabel>(window, "statusLine");
        auto* adaptation = child<AdaptationPanel>(window, "adaptationPanel");
        auto* continual = child<ContinualPanel>(window, "continualPanel");
        QVERIFY(!window.startRun());
        QVERIFY2(statusLine->text().contains("another job is running"), qPrintable(statusLine->text()));
        QVERIFY(!adaptation->start());
        QVERIFY2(adaptation->statusText().contains("Another job is running"), qPrintable(adaptation->statusText()));
        QVERIFY(!continual->start());
        QVERIFY2(continual->statusText().contains("Another job is running"), qPrintable(continual->statusText()));
        window.openDatasetPath(m_files.datasetFolder);
        QVERIFY2(statusLine->text().contains("stop it before opening another dataset"), qPrintable(statusLine->text()));
        QSignalSpy ended(jobs, &JobHost::finished);
        release = true;
        QVERIFY(ended.wait(10000));
        QVERIFY2(statusLine->text().isEmpty(), qPrintable(statusLine->text()));
        QVERIFY2(!adaptation->statusText().contains("Cannot start"), qPrintable(adaptation->statusText()));
        QVERIFY2(!continual->statusText().contains("Cannot start"), qPrintable(continual->statusText()));
        // A refusal whose reason still holds stays.
        QVERIFY(!adaptation->start());
        child<QCheckBox>(window, "adaptationMethod_coop")->setChecked(false);
        QVERIFY2(adaptation->statusText().contains("Cannot start: Open a CLIP model first"), qPrintable(adaptation->statusText()));
    }

    // The domain-adaptation tab: zero-shot, CoOp and DAPL from the open dataset to its negative rendering; the
    // summary, the per-class bars, DAPL's coverage curve, and its run folder exporting both domains' contexts.
    void adaptationModeComparesTheMethodsOnTheTarget()
    {
        auto window = tinyWindow();
        QVERIFY(window);
        const QString runsRoot = m_dir.path() + "/adaptation-runs";  // its three runs stay out of the other tests' history
        window->setRunsRoot(runsRoot);
        auto* panel = child<AdaptationPanel>(window, "adaptationPanel");
        auto* source = child<QComboBox>(window, "adaptationSource");
        auto* target = child<QComboBox>(window, "adaptationTarget");
        QCOMPARE(source->currentText(), m_files.datasetFolder);  // the open dataset is the default source
        target->setCurrentText(m_files.datasetFolder + ":negative");
        child<QSpinBox>(window, "adaptationShots")->setValue(2);
        child<QSpinBox>(window, "adaptationEpochs")->setValue(1);
        auto* start = child<QPushButton>(window, "adaptationStart");
        QVERIFY2(start->isEnabled(), qPrintable(start->toolTip()));
        QSignalSpy finished(panel, &AdaptationPanel::studyFinished);
        start->click();
        QVERIFY(panel->isRunning());
        QVERIFY(finished.wait(240000));
        QVERIFY2(finished.first().first().toBool(), qPrintable(panel->statusText()));
        QCOMPARE(panel->targetAccuracies().keys(), QStringList({"coop", "dapl", "zeroshot"}));
        QCOMPARE(child<QTableWidget>(window, "adaptationSummary")->rowCount(), 3);
        QCOMPARE(child<QCustomPlot>(window, "adaptationPerClass")->plottableCount(), 3);
        QVERIFY(child<QCustomPlot>(window, "adaptationCurves")->graph(1)->dataCount() > 0);  // DAPL's pseudo-label coverage
        QVERIFY(panel->statusText().contains("DAPL"));
        const QStringList runs = QDir(runsRoot).entryList({"*-dapl-*negative*"}, QDir::Dirs);
        QVERIFY2(!runs.isEmpty(), qPrintable(QDir(runsRoot).entryList().join(", ")));
        QFile exported(runsRoot + "/" + runs.last() + "/export/prompt.json");
        QVERIFY(exported.open(QIODevice::ReadOnly));
        const auto manifest = nlohmann::json::parse(exported.readAll().toStdString());
        QCOMPARE(manifest["domains"][1].get<std::string>(), std::string("negative"));
        // The run history shows DAPL by its target accuracy, as the tab does, not its source accuracy.
        auto* history = child<QTreeWidget>(window, "historyTree");
        int daplListed = 0;
        for (int i = 0; i < history->topLevelItemCount(); ++i) {
            const QTreeWidgetItem* item = history->topLevelItem(i);
            if (item->text(1) != "dapl")
                continue;
            ++daplListed;
            QFile stored(item->data(0, Qt::UserRole).toString() + "/results.json");
            QVERIFY(stored.open(QIODevice::ReadOnly));
            const auto results = nlohmann::json::parse(stored.readAll().toStdString());
            const double targetAccuracy = results["targets"].begin().value()["accuracy"].get<double>();
            QCOMPARE(item->text(4), QString("target %1%").arg(targetAccuracy * 100, 0, 'f', 2));
        }
        QVERIFY(daplListed > 0);
        target->setCurrentText(source->currentText());
        QVERIFY(!start->isEnabled());
        QVERIFY2(start->toolTip().contains("same dataset"), qPrintable(start->toolTip()));
    }

    // The PETL table tab: full, linear and LoRA on the open dataset and its negative rendering as two tasks;
    // the Table 1 layout (mean per group, wins against Full, total params) and each task's accuracies, the same
    // as core reads from the table's folder; the folder opens again as a table, and a folder that is not one
    // is refused with the file named.
    void petlTableTabMakesTheTable()
    {
        auto window = tinyWindow();
        QVERIFY(window);
        const QString runsRoot = m_dir.path() + "/petl-runs";
        window->setRunsRoot(runsRoot);
        auto* panel = child<PetlTablePanel>(window, "petlPanel");
        child<QComboBox>(window, "petlTasks")->setCurrentText(m_files.datasetFolder + "," + m_files.datasetFolder + ":negative");
        child<QLineEdit>(window, "petlGroup")->setText("Colours");
        for (QCheckBox* box : window->findChildren<QCheckBox*>())
            if (box->objectName().startsWith("petlMethod_"))
                box->setChecked(box->objectName() == "petlMethod_full" || box->objectName() == "petlMethod_linear" ||
                                box->objectName() == "petlMethod_lora");
        child<QSpinBox>(window, "petlEpochs")->setValue(1);
        child<QSpinBox>(window, "petlMaxSteps")->setValue(3);
        child<QSpinBox>(window, "petlTestImages")->setValue(0);
        auto* start = child<QPushButton>(window, "petlStart");
        QVERIFY2(start->isEnabled(), qPrintable(start->toolTip()));
        QSignalSpy finished(panel, &PetlTablePanel::studyFinished);
        start->click();
        QVERIFY(panel->isRunning());
        QVERIFY(finished.wait(240000));
        QVERIFY2(finished.first().first().toBool(), qPrintable(panel->statusText()));
        QVERIFY2(panel->statusText().contains("table.csv"), qPrintable(panel->statusText()));
        QVERIFY(child<QCustomPlot>(window, "petlCurves")->graph(0)->dataCount() > 0);  // the last cell's loss

        // What the tab shows is what core reads back from the folder the job wrote.
        const QString folder = panel->tableFolder();
        QVERIFY(QFileInfo::exists(folder + "/table.json"));
        const PetlStudy study = readPetlStudy(folder.toStdString());
        QCOMPARE(study.tasks.size(), std::size_t(2));
        QCOMPARE(study.tasks[1].task.name, QFileInfo(m_files.datasetFolder).fileName().toStdString() + ":negative");
        QCOMPARE(study.tasks[0].task.group, std::string("Colours"));
        const PetlTable table = petlStudyTable(study);
        QCOMPARE(QString::fromStdString(panel->table().text()), QString::fromStdString(table.text()));
        auto* groups = child<QTableWidget>(window, "petlTable");
        QCOMPARE(groups->rowCount(), 3);
        QCOMPARE(groups->columnCount(), 3);  // method, Colours, total params
        QCOMPARE(groups->horizontalHeaderItem(1)->text(), QString("Colours (2 tasks)"));
        QCOMPARE(groups->item(0, 0)->text(), QString("Full"));
        QCOMPARE(groups->item(0, 1)->text(), percentOf(*table.rows[0].groups[0].mean));  // Full has no wins against itself
        QCOMPARE(groups->item(2, 1)->text(),
                 QString("%1 (%2)").arg(percentOf(*table.rows[2].groups[0].mean)).arg(*table.rows[2].groups[0].wins));
        QCOMPARE(groups->item(0, 2)->text(), QString("%1x").arg(*table.rows[0].multiplier, 0, 'f', 2));
        QVERIFY(*table.rows[0].multiplier > *table.rows[1].multiplier);  // Full stores a backbone per task
        auto* tasks = child<QTableWidget>(window, "petlTaskTable");
        QCOMPARE(tasks->rowCount(), 3);
        QCOMPARE(tasks->columnCount(), 3);
        QCOMPARE(tasks->item(1, 2)->text(), percentOf(table.rows[1].accuracies.at(study.tasks[1].task.name)));

        // The run history lists the table's folder; opening it shows it in the PETL table tab.
        auto* history = child<QTreeWidget>(window, "historyTree");
        QTRY_VERIFY(!history->findItems(QFileInfo(folder).fileName(), Qt::MatchExactly).isEmpty());
        history->clearSelection();
        history->findItems(QFileInfo(folder).fileName(), Qt::MatchExactly).first()->setSelected(true);
        QVERIFY(!panel->openTable(m_dir.path()));  // a refusal in the status line, which the opening replaces
        QTest::mouseClick(child<QPushButton>(window, "historyOpen"), Qt::LeftButton);
        QCOMPARE(child<QTabWidget>(window, "resultTabs")->currentWidget(), static_cast<QWidget*>(panel));
        QCOMPARE(panel->tableFolder(), folder);
        QVERIFY2(panel->statusText().contains("6 of 6 runs finished"), qPrintable(panel->statusText()));

        // The folder opens again as a table (as one made by the CLI would); another folder is refused.
        MainWindow other;
        auto* reopened = child<PetlTablePanel>(other, "petlPanel");
        QVERIFY(!reopened->openTable(m_dir.path()));
        QVERIFY2(reopened->statusText().contains("config.json"), qPrintable(reopened->statusText()));
        QVERIFY(reopened->openTable(folder));
        QCOMPARE(QString::fromStdString(reopened->table().text()), QString::fromStdString(table.text()));
        QVERIFY2(reopened->statusText().contains("6 of 6 runs finished"), qPrintable(reopened->statusText()));

        // No tasks named: Start says so.
        child<QComboBox>(window, "petlTasks")->setCurrentText(" , ");
        QVERIFY(!start->isEnabled());
        QVERIFY2(start->toolTip().contains("Name the tasks"), qPrintable(start->toolTip()));
    }

    static QString percentOf(double fraction) { return QString::number(100 * fraction, 'f', 2); }

    // The sweeps tab reads a sweep folder: counts, the collected table, the curves, and it follows runs that
    // finish after it was opened.
    void sweepTabFollowsASweepFolder()
    {
        RunSettings base;
        base.model = "tiny";
        const std::string dir = (m_dir.path() + "/sweep").toStdString();
        const SweepPlan plan = makeSweepPlan(dir, base, {"colours"}, {"zeroshot", "coop"}, {1, 2}, {1, 2});
        writeSweepPlan(plan);
        auto finish = [&](int run, double accuracy) {
            writeFileAtomically(plan.runs[size_t(run)].folder + "/results.json",
                                nlohmann::json{{"status", "finished"}, {"accuracy", accuracy}, {"base_new", false}}.dump());
        };
        finish(0, 0.4);  // zero-shot
        finish(1, 0.5);
        finish(2, 0.7);
        MainWindow window;
        auto* panel = child<SweepPanel>(window, "sweepPanel");
        QVERIFY(!panel->openSweep(m_dir.path() + "/no-sweep-here"));
        QVERIFY(panel->statusText().contains("plan.json"));
        QVERIFY(panel->openSweep(QString::fromStdString(dir)));
        QTRY_COMPARE(panel->counts().total, 5);  // read in the background
        QCOMPARE(panel->counts().finished, 3);
        QCOMPARE(panel->counts().pending, 2);
        auto* table = child<QTableWidget>(window, "sweepTable");
        QCOMPARE(table->rowCount(), 3);  // zero-shot once; CoOp at 1 and 2 shots
        QCOMPARE(table->item(1, 4)->text(), QString("60.00 ± 14.14"));
        QCOMPARE(child<ShotCurvePlot>(window, "sweepCurves")->curveCount(), 2);
        finish(3, 0.8);
        panel->refresh();
        QTRY_COMPARE(panel->counts().finished, 4);
        QCOMPARE(table->item(2, 3)->text(), QString("1"));
        QVERIFY(panel->statusText().contains("4 finished"));
    }

    // TUNEBENCH_SCREENSHOT_SWEEP=docs/screenshot-sweep.png with TUNEBENCH_SWEEP_FOLDER=DIR draws docs/sweeps.md's
    // picture of a real sweep folder.
    void sweepScreenshot()
    {
        const QString shot = qEnvironmentVariable("TUNEBENCH_SCREENSHOT_SWEEP"), folder = qEnvironmentVariable("TUNEBENCH_SWEEP_FOLDER");
        if (shot.isEmpty() || folder.isEmpty())
            QSKIP("set TUNEBENCH_SCREENSHOT_SWEEP and TUNEBENCH_SWEEP_FOLDER to draw the screenshot");
        MainWindow window;
        window.resize(1500, 950);
        window.show();
        auto* panel = child<SweepPanel>(window, "sweepPanel");
        QVERIFY(panel->openSweep(folder));
        QTRY_VERIFY(panel->counts().total > 0);
        child<QTabWidget>(window, "resultTabs")->setCurrentWidget(panel);
        QVERIFY(window.grab().save(shot));
    }

    // TUNEBENCH_SCREENSHOT_PETL=docs/screenshot-petl-table.png draws docs/petl-parameters.md's picture: the demo
    // model's image tower, the tab's defaults (Fashion-MNIST and two domain variants as tasks; full, linear,
    // VPT-Deep, LoRA, AdaptFormer, SSF; 1 epoch of at most 300 steps; 2,000 test images; about five minutes,
    // past Qt Test's 5-minute limit: run it with QTEST_FUNCTION_TIMEOUT=1500000).
    void petlTableScreenshotOnTheDemoModel()
    {
        const QString shot = qEnvironmentVariable("TUNEBENCH_SCREENSHOT_PETL");
        const QString demo = MainWindow::demoModelPath();
        if (shot.isEmpty() || demo.isEmpty() || !QFileInfo::exists("/usr/share/datasets/fashion-mnist"))
            QSKIP("set TUNEBENCH_SCREENSHOT_PETL (with the demo model and fashion-mnist installed) to draw the screenshot");
        MainWindow window;
        window.setRunsRoot(m_dir.path() + "/demo-petl-runs");
        window.resize(1500, 1000);
        window.show();
        QSignalSpy loaded(&window, &MainWindow::modelLoaded);
        window.openDefaults();
        QVERIFY(loaded.wait(30000) || !loaded.isEmpty());
        auto* panel = child<PetlTablePanel>(window, "petlPanel");
        child<QTabWidget>(window, "resultTabs")->setCurrentWidget(panel);
        QSignalSpy finished(panel, &PetlTablePanel::studyFinished);
        QVERIFY(panel->start());
        QVERIFY(finished.wait(1200000));
        QVERIFY2(finished.first().first().toBool(), qPrintable(panel->statusText()));
        qInfo().noquote() << "\n" << QString::fromStdString(panel->table().text());
        QVERIFY(window.grab().save(shot));
    }

    // TUNEBENCH_SCREENSHOT_ADAPTATION=docs/screenshot-adaptation.png draws docs/domain-adaptation.md's picture:
    // the demo model, Fashion-MNIST photos to negatives, 16 shots, seed 1 (about two minutes).
    void adaptationScreenshotOnTheDemoModel()
    {
        const QString shot = qEnvironmentVariable("TUNEBENCH_SCREENSHOT_ADAPTATION");
        const QString demo = MainWindow::demoModelPath();
        if (shot.isEmpty() || demo.isEmpty() || !QFileInfo::exists("/usr/share/datasets/fashion-mnist"))
            QSKIP("set TUNEBENCH_SCREENSHOT_ADAPTATION (with the demo model and fashion-mnist installed) to draw the screenshot");
        MainWindow window;
        window.setRunsRoot(m_dir.path() + "/demo-adaptation-runs");
        window.resize(1500, 1000);
        window.show();
        QSignalSpy loaded(&window, &MainWindow::modelLoaded);
        QSignalSpy datasetLoaded(&window, &MainWindow::datasetLoaded);
        window.openDefaults();
        QVERIFY(loaded.wait(30000) || !loaded.isEmpty());
        QVERIFY(datasetLoaded.wait(60000) || !datasetLoaded.isEmpty());
        auto* panel = child<AdaptationPanel>(window, "adaptationPanel");
        child<QComboBox>(window, "adaptationSource")->setCurrentText("fashion-mnist");
        child<QComboBox>(window, "adaptationTarget")->setCurrentText("fashion-mnist:negative");
        child<QSpinBox>(window, "adaptationTestImages")->setValue(2000);
        QSignalSpy finished(panel, &AdaptationPanel::studyFinished);
        QVERIFY(panel->start());
        QVERIFY(finished.wait(600000));
        QVERIFY2(finished.first().first().toBool(), qPrintable(panel->statusText()));
        child<QTabWidget>(window, "resultTabs")->setCurrentWidget(panel);
        QVERIFY(window.grab().save(shot));
    }
};

QTEST_MAIN(TestStudyTabs)
#include "tst_study_tabs.moc"
