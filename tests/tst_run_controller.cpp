// The run controller: a real run on its worker thread, reported through queued signals, while the GUI
// thread's event loop stays responsive; pause, resume and stop; clear failures on bad input; out of memory
// mid-run; background work that draws random numbers leaving a run's draws alone.
#include "widgets/window/RunController.h"

#include "core/train/RunControl.h"
#include "widgets/results/RunResults.h"
#include "widgets/window/JobHost.h"

#include "core/Device.h"
#include "core/Error.h"
#include "core/data/DatasetLayouts.h"
#include "core/experiment/Caches.h"
#include "core/experiment/Experiment.h"
#include "core/io/VocabularyLocator.h"
#include "core/train/GeneratorLock.h"
#include "core/train/RunStore.h"
#include "core/train/Trainer.h"
#include "core/tuning/Strategy.h"
#include "tests/GuiFixtures.h"
#include "tests/MemoryCeiling.h"
#include "tests/ScopedEnvironment.h"

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QScopeGuard>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QThread>
#include <QTimer>
#include <QtTest>

#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <limits>
#include <optional>
#include <thread>

using namespace tunebench;

class TestRunController : public QObject
{
    Q_OBJECT

private:
    // A short CoOp run as the workbench starts it (base-to-new, the hand-crafted comparison).
    RunSettings tinyCoop() const
    {
        RunSettings r;
        r.model = m_files.clipFolder.toStdString();
        r.vocab = m_files.vocabulary.toStdString();
        r.dataset = m_files.datasetFolder.toStdString();
        r.method = "coop";
        r.options = {{"n_ctx", 4}};
        r.shots = 2;
        r.epochs = 2;
        r.batchSize = 2;
        r.loaderThreads = 1;
        r.baseNew = true;
        r.compareHandcrafted = true;
        return r;
    }
    QString runsRoot() const { return m_dir.path() + "/runs"; }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        m_files = test::writeGuiFixtures(m_dir.path());
        QVERIFY2(QFileInfo::exists(m_files.vocabulary), qPrintable(m_files.vocabulary));
    }

    // The window's one job host: one job at a time, progress and the end reported in order, a failure as its
    // first line, Stop reaching the job through its RunControl.
    void jobHostRunsOneJobAtATime()
    {
        JobHost jobs;
        QSignalSpy progressed(&jobs, &JobHost::progressed);
        QSignalSpy finished(&jobs, &JobHost::finished);
        QVERIFY(jobs.submit("a", [](const JobHost::Context& context) {
            for (int step = 1; step <= 3; ++step)
                context.progress(step, 3, QString("step %1").arg(step));
            // Until Stop: a job polls its control as the training loop does.
            while (!context.control().stopRequested())
                QThread::msleep(5);
            return false;
        }));
        QVERIFY(jobs.isRunning());
        QCOMPARE(jobs.owner(), QString("a"));
        QVERIFY(!jobs.submit("b", [](const JobHost::Context&) { return true; }));  // refused while "a" runs
        QTRY_COMPARE(progressed.size(), 3);
        QCOMPARE(progressed.last().at(3).toString(), QString("step 3"));
        jobs.requestStop();
        QVERIFY(jobs.waitForFinished(5000));
        QCOMPARE(finished.size(), 1);
        QCOMPARE(finished.first().at(0).toString(), QString("a"));
        QCOMPARE(finished.first().at(1).toBool(), false);  // stopped, not completed
        QVERIFY(finished.first().at(2).toString().isEmpty());

        QVERIFY(jobs.submit("b", [](const JobHost::Context&) -> bool { throw Error("bad input\nat frame 1"); }));
        QVERIFY(jobs.waitForFinished(5000));
        QCOMPARE(finished.last().at(0).toString(), QString("b"));
        QCOMPARE(finished.last().at(2).toString(), QString("bad input"));
        QVERIFY(!jobs.isRunning());
    }

    void runReportsProgressAndBaseNewResultsWithoutBlockingTheGuiThread()
    {
        RunController controller;
        QSignalSpy progress(&controller, &RunController::progress);
        QSignalSpy finished(&controller, &RunController::finished);
        QSignalSpy failed(&controller, &RunController::failed);

        // A 10 ms timer on the GUI thread: the longest gap between its ticks is the worst blocking.
        QElapsedTimer sinceTick;
        qint64 worstGapMs = 0;
        int ticks = 0;
        QTimer timer;
        timer.setInterval(10);
        connect(&timer, &QTimer::timeout, this, [&] {
            if (ticks++ > 0)
                worstGapMs = std::max(worstGapMs, sinceTick.elapsed());
            sinceTick.restart();
        });
        timer.start();
        sinceTick.start();

        QVERIFY(controller.start(tinyCoop(), runsRoot()));
        QVERIFY(controller.isRunning());
        QVERIFY(!controller.start(tinyCoop(), runsRoot()));  // one run at a time
        QVERIFY(controller.waitForFinished(60000));
        timer.stop();
        QVERIFY2(failed.isEmpty(), failed.isEmpty() ? "" : qPrintable(failed.first().first().toString()));
        QCOMPARE(finished.size(), 1);

        // 2 base classes x 2 shots = 4 images, batch 2: 2 steps per epoch, 2 epochs.
        QCOMPARE(progress.size(), 4);
        const auto last = progress.last().first().value<RunProgress>();
        QCOMPARE(last.step, qint64(4));
        QCOMPARE(last.totalSteps, qint64(4));
        QCOMPARE(last.epochs, 2);
        QVERIFY(std::isfinite(last.loss) && last.loss > 0);

        const auto results = finished.first().first().value<RunResults>();
        QCOMPARE(results.status, QString("finished"));
        QVERIFY(results.baseNew);
        QCOMPARE(results.trainableParameters, qint64(4 * 64));  // n_ctx x text width
        QVERIFY(results.trainingClasses.valid && results.novel.valid);
        QCOMPARE(results.trainingClasses.classNames, QStringList({"blue", "green"}));
        QCOMPARE(results.novel.classNames, QStringList({"red", "yellow"}));
        QCOMPARE(results.trainingClasses.confusion.size(), 2);
        const double b = results.trainingClasses.accuracy, n = results.novel.accuracy;
        QVERIFY(std::abs(results.harmonic - (b + n > 0 ? 2 * b * n / (b + n) : 0)) < 1e-12);
        QVERIFY(QFileInfo::exists(results.runFolder + "/results.json"));
        QVERIFY(QFileInfo::exists(results.exportPath));
        // The prompt comparison scores the hand-crafted prompt on the same images.
        QVERIFY(results.handcraftedTrainingClasses.valid && results.handcraftedNovel.valid);
        QCOMPARE(results.handcraftedTrainingClasses.samples, results.trainingClasses.samples);
        QCOMPARE(results.handcraftedNovel.classNames, results.novel.classNames);
        QCOMPARE(results.handcraftedTrainingClasses.perClass.size(), 2);
        // The nearest words of each of the 4 learned context vectors (the export manifest's), 5 words each.
        QCOMPARE(results.nearestWords.size(), 4);
        for (const QStringList& words : results.nearestWords)
            QCOMPARE(words.size(), 5);

        // Reopened from its folder, the run shows the same classes in label order, the confusion matrix and
        // the hand-crafted comparison.
        const RunResults reopened = readRunFolder(results.runFolder);
        QCOMPARE(reopened.status, QString("finished"));
        QCOMPARE(reopened.trainingClasses.classNames, results.trainingClasses.classNames);
        QCOMPARE(reopened.trainingClasses.perClass, results.trainingClasses.perClass);
        QCOMPARE(reopened.trainingClasses.confusion, results.trainingClasses.confusion);
        QCOMPARE(reopened.novel.confusion, results.novel.confusion);
        QCOMPARE(reopened.handcraftedNovel.perClass, results.handcraftedNovel.perClass);
        QCOMPARE(reopened.nearestWords, results.nearestWords);
        QCOMPARE(reopened.harmonic, results.harmonic);

        qInfo("GUI event loop: %d ticks, worst gap %lld ms", ticks, worstGapMs);
        QVERIFY(ticks > 5);
        QVERIFY2(worstGapMs < 100, qPrintable(QString("GUI thread blocked for %1 ms").arg(worstGapMs)));
    }

    void pauseResumeAndStop()
    {
        RunController controller;
        QSignalSpy progress(&controller, &RunController::progress);
        QSignalSpy finished(&controller, &RunController::finished);
        RunSettings request = tinyCoop();
        request.epochs = 200;  // far more than the test waits for
        QVERIFY(controller.start(request, QString()));
        QTRY_VERIFY_WITH_TIMEOUT(progress.size() >= 2, 30000);

        controller.setPaused(true);
        QVERIFY(controller.isPaused());
        QTest::qWait(300);  // a step in flight may still report
        const int pausedAt = progress.size();
        QTest::qWait(500);
        QCOMPARE(progress.size(), pausedAt);

        controller.setPaused(false);
        QTRY_VERIFY_WITH_TIMEOUT(progress.size() > pausedAt, 10000);

        controller.requestStop();
        QVERIFY(controller.waitForFinished(30000));
        QCOMPARE(finished.size(), 1);
        const auto results = finished.first().first().value<RunResults>();
        QCOMPARE(results.status, QString("stopped"));
        QVERIFY(progress.last().first().value<RunProgress>().step < 400);
        QVERIFY(results.trainingClasses.valid);  // a stopped run is still evaluated
    }

    // The next run, started the moment the previous one reports its results, counts as running until it ends.
    void aRunStartedRightAfterAnotherIsRunning()
    {
        RunController controller;
        QSignalSpy finished(&controller, &RunController::finished);
        RunSettings first = tinyCoop();
        first.epochs = 1;
        QVERIFY(controller.start(first, QString()));
        QVERIFY(finished.wait(60000));
        RunSettings second = first;
        second.epochs = 200;
        QVERIFY(controller.start(second, QString()));
        QTest::qWait(200);  // whatever the first run still had queued is delivered now
        QVERIFY(controller.isRunning());
        controller.requestStop();
        QVERIFY(controller.waitForFinished(30000));
        QCOMPARE(finished.size(), 2);
    }

    void visionOnlyModelGivesPlainAccuracy()
    {
        RunController controller;
        QSignalSpy finished(&controller, &RunController::finished);
        QSignalSpy failed(&controller, &RunController::failed);
        RunSettings request = tinyCoop();
        request.model = m_files.timmFile.toStdString();
        request.method = "linear";
        request.options = nlohmann::json::object();
        request.epochs = 1;
        QVERIFY(controller.start(request, QString()));
        QVERIFY(controller.waitForFinished(60000));
        QVERIFY2(failed.isEmpty(), failed.isEmpty() ? "" : qPrintable(failed.first().first().toString()));
        const auto results = finished.first().first().value<RunResults>();
        QVERIFY(!results.baseNew);
        QVERIFY(!results.novel.valid);
        QVERIFY(!results.handcraftedTrainingClasses.valid);  // no text tower, nothing to compare with
        QCOMPARE(results.trainingClasses.classNames.size(), 4);
        QCOMPARE(results.harmonic, -1.0);
    }

    void badInputFailsWithAClearMessage_data()
    {
        QTest::addColumn<QString>("what");
        QTest::newRow("corrupt checkpoint") << "corrupt";
        QTest::newRow("folder without images") << "empty";
        QTest::newRow("unknown option") << "option";
    }

    void badInputFailsWithAClearMessage()
    {
        QFETCH(QString, what);
        RunSettings request = tinyCoop();
        QString expected;
        if (what == "corrupt") {
            request.model = m_files.corruptCheckpoint.toStdString();
            expected = "corrupt.safetensors";
        } else if (what == "empty") {
            request.dataset = m_files.emptyDataset.toStdString();
            expected = "no-images";
        } else {
            request.options = {{"n_ctx_typo", 3}};
            expected = "n_ctx_typo";
        }
        RunController controller;
        QSignalSpy failed(&controller, &RunController::failed);
        QVERIFY(controller.start(request, QString()));
        QVERIFY(controller.waitForFinished(30000));
        QCOMPARE(failed.size(), 1);
        const QString message = failed.first().first().toString();
        qInfo("%s", qPrintable(message));
        QVERIFY2(message.contains(expected), qPrintable(message));
        QVERIFY(!message.contains('\n'));
        QVERIFY(controller.start(tinyCoop(), runsRoot()) || true);  // the controller is usable again
        controller.requestStop();
        QVERIFY(controller.waitForFinished(30000));
    }

    // A run that fails mid-way (an out-of-memory error, say) keeps its folder and the last epoch's checkpoint,
    // and results.json says why it ended.
    void failedRunKeepsItsFolderAndCheckpoint()
    {
        const Backbone backbone = loadBackbone(m_files.clipFolder.toStdString(), m_files.vocabulary.toStdString(), "cpu");
        const DatasetIndex dataset = openDataset(m_files.datasetFolder.toStdString());
        RunSettings settings;
        settings.method = "coop";
        settings.options = {{"n_ctx", 4}};
        settings.shots = 2;
        settings.epochs = 3;
        settings.batchSize = 2;
        settings.baseNew = true;
        settings.loaderThreads = 1;
        RunStore store = RunStore::create((m_dir.path() + "/failing").toStdString(), "coop", dataset.name);
        store.writeConfig(runConfig(settings, dataset, backbone));
        ExperimentCallbacks callbacks;
        int stages = 0;
        callbacks.onStage = [&](ExperimentStage) { ++stages; };
        callbacks.onStep = [](const StepReport& r) {
            if (r.step == 3)  // the first step of epoch 2: epoch 1's checkpoint is on disk
                throw Error("out of memory during the training step (simulated); try --batch-size 1");
        };
        QVERIFY_THROWS_EXCEPTION(Error, runExperiment(settings, backbone, dataset, &store, false, callbacks));
        QCOMPARE(stages, 2);  // preparing, training
        QVERIFY(findCheckpoint(store.checkpointDir()).has_value());
        const nlohmann::json results = store.readResults();
        QCOMPARE(results.value("status", ""), std::string("failed"));
        QVERIFY(results.value("message", "").find("out of memory") != std::string::npos);
        const auto runs = listRuns((m_dir.path() + "/failing").toStdString());
        QCOMPARE(runs.size(), size_t(1));
        QCOMPARE(runs.front().status, std::string("failed"));
    }

    // LibTorch has one CPU generator per process. Work beside a run that draws from it (the window's parameter
    // count and memory plan, a model rebuilt for Try it) takes a GeneratorLock and so waits for the run: the
    // run draws what it draws alone. CLIP-LoRA's dropout draws at every step; without the lock, the same
    // background draws change the run.
    void backgroundDrawsLeaveTheRunAlone()
    {
        const Backbone backbone = loadBackbone(m_files.clipFolder.toStdString(), m_files.vocabulary.toStdString(), "cpu");
        const DatasetIndex dataset = openDataset(m_files.datasetFolder.toStdString());
        RunSettings settings = tinyCoop();
        settings.method = "clip-lora";
        settings.options = nlohmann::json::object();
        settings.baseNew = false;
        settings.compareHandcrafted = false;
        const auto finalLoss = [&](bool background, bool locked) {
            std::atomic<bool> done{false};
            std::atomic<int> draws{0};
            std::thread drawing;
            if (background)
                drawing = std::thread([&] {
                    while (!done) {
                        std::optional<GeneratorLock> generator;
                        if (locked) {
                            try {
                                generator.emplace("the test's draws", [&] { return done.load(); });
                            } catch (const Error&) {
                                break;  // the run ended while this waited
                            }
                        }
                        torch::randn({16});
                        ++draws;
                    }
                });
            const ExperimentResult result = runExperiment(settings, backbone, dataset, nullptr, false);
            done = true;
            if (drawing.joinable())
                drawing.join();
            if (background && draws == 0)
                throw std::runtime_error("the background thread never drew");
            return result.json["train"]["final_loss"].get<double>();
        };
        const double alone = finalLoss(false, false);
        QCOMPARE(finalLoss(true, true), alone);
        QVERIFY(finalLoss(true, false) != alone);  // the test can fail: unlocked draws shift the dropout masks
    }

    // A batch that no longer fits in the middle of a run (a ceiling on the training thread's blocks, between
    // the largest of a batch of 4 and of 8): the run ends with status out_of_memory, its first epoch's
    // checkpoint kept and a line that says how to go on with less memory; that resume finishes the run.
    void outOfMemoryEndsTheRunResumably()
    {
        const Backbone backbone = loadBackbone(m_files.clipFolder.toStdString(), m_files.vocabulary.toStdString(), "cpu");
        const DatasetIndex dataset = openDataset(m_files.datasetFolder.toStdString());
        RunSettings settings = tinyCoop();
        settings.baseNew = false;
        settings.compareHandcrafted = false;
        settings.shots = 4;  // 16 images: two steps an epoch at batch 8, and at 4 accumulated twice
        settings.epochs = 3;
        settings.batchSize = 8;

        // The largest block a training epoch asks for at a batch size.
        const auto largestBlock = [&](int batch) {
            RunSettings one = settings;
            one.batchSize = batch;
            one.epochs = 1;
            std::optional<test::MemoryCeiling> recorder;
            std::size_t largest = 0;
            ExperimentCallbacks callbacks;
            callbacks.onStage = [&](ExperimentStage stage) {
                if (stage == ExperimentStage::Training)
                    recorder.emplace();
                else if (recorder) {
                    largest = recorder->largestAsked();
                    recorder.reset();
                }
            };
            runExperiment(one, backbone, dataset, nullptr, false, callbacks);
            return largest;
        };
        const std::size_t at4 = largestBlock(4), at8 = largestBlock(8);
        QVERIFY2(at8 > at4 + at4 / 4, qPrintable(QString("largest blocks %1 (batch 4) and %2 (batch 8)").arg(at4).arg(at8)));
        const std::size_t ceiling = (at4 + at8) / 2;
        qInfo("largest blocks: %zu bytes at batch 4, %zu at batch 8; ceiling %zu", at4, at8, ceiling);

        RunStore store = RunStore::create((m_dir.path() + "/out-of-memory").toStdString(), "coop", dataset.name);
        store.writeConfig(runConfig(settings, dataset, backbone));
        std::optional<test::MemoryCeiling> device;
        ExperimentCallbacks tight;
        tight.onEpoch = [&](const EpochReport& r) {
            if (r.epoch == 0)  // from the second epoch on, batch 8 no longer fits
                device.emplace(ceiling);
        };
        std::string message;
        try {
            runExperiment(settings, backbone, dataset, &store, false, tight);
            QFAIL("the run fitted under the ceiling");
        } catch (const OutOfMemory& e) {
            message = e.what();
        }
        device.reset();
        qInfo("%s", message.c_str());
        QVERIFY2(message.find("out of memory during the training step with batch size 8") == 0, message.c_str());
        QVERIFY2(message.find("the checkpoint keeps epoch 1 of 3") != std::string::npos, message.c_str());
        QVERIFY2(message.find("--checkpointing both") != std::string::npos, message.c_str());
        const std::string resume = "continue with tunebench-cli train --resume " + store.folder() + " --batch-size 4 --accumulate 2";
        QVERIFY2(message.size() >= resume.size() && message.compare(message.size() - resume.size(), resume.size(), resume) == 0, message.c_str());
        QCOMPARE(findCheckpoint(store.checkpointDir())->epochsDone, 1);
        const nlohmann::json stopped = store.readResults();
        QCOMPARE(stopped.value("status", ""), std::string("out_of_memory"));
        QCOMPARE(stopped.value("message", ""), message);
        QCOMPARE(listRuns((m_dir.path() + "/out-of-memory").toStdString()).front().status, std::string("out_of_memory"));
        QCOMPARE(runStatusText("out_of_memory"), QString("out of memory"));

        // The resume the line names, as train --resume does it: the folder's settings with the new flags.
        settings.batchSize = 4;
        settings.accumulate = 2;
        store.writeConfig(runConfig(settings, dataset, backbone));
        ExperimentCallbacks fitting;
        fitting.onStage = [&](ExperimentStage stage) {
            if (stage == ExperimentStage::Training)
                device.emplace(ceiling);
            else
                device.reset();
        };
        const ExperimentResult resumed = runExperiment(settings, backbone, dataset, &store, true, fitting);
        device.reset();
        QCOMPARE(resumed.status, std::string("finished"));
        QCOMPARE(resumed.json["train"]["epochs_done"].get<int>(), 3);
        QCOMPARE(resumed.json["train"]["steps"].get<int>(), 6);
        QCOMPARE(store.readResults().value("status", ""), std::string("finished"));
    }

    // Test images that do not fit the device at the evaluation's batch (a ceiling just below the largest block
    // the evaluation asks for): they are scored in smaller batches to the same results, read as images or
    // encoded into the image-tower cache. Where not even one image fits, the run ends as out of memory with
    // its training kept.
    void evaluationOutOfMemoryScoresInSmallerBatches_data()
    {
        QTest::addColumn<bool>("cache");
        QTest::newRow("images") << false;
        QTest::newRow("image-tower cache") << true;
    }
    void evaluationOutOfMemoryScoresInSmallerBatches()
    {
        QFETCH(bool, cache);
        const Backbone backbone = loadBackbone(m_files.clipFolder.toStdString(), m_files.vocabulary.toStdString(), "cpu");
        const DatasetIndex dataset = openDataset(m_files.datasetFolder.toStdString());
        RunSettings settings = tinyCoop();
        settings.baseNew = false;
        settings.compareHandcrafted = false;
        int caches = 0;
        std::optional<test::MemoryCeiling> device;
        std::size_t largest = 0;
        std::vector<std::string> logs;
        const auto run = [&](std::size_t ceiling, RunStore* store) {
            RunSettings one = settings;
            // A new cache each time, so that the test images are encoded under the ceiling.
            one.featureCache = cache ? (m_dir.path() + "/eval-cache-" + QString::number(++caches)).toStdString() : "";
            ExperimentCallbacks callbacks;
            callbacks.onStage = [&](ExperimentStage stage) {
                if (stage == ExperimentStage::Evaluating)
                    device.emplace(ceiling);
            };
            callbacks.onLog = [&](const std::string& line) { logs.push_back(line); };
            const auto measured = [&] {
                if (device)
                    largest = device->largestAsked();
                device.reset();
            };
            try {
                const ExperimentResult result = runExperiment(one, backbone, dataset, store, false, callbacks);
                measured();
                return result;
            } catch (...) {
                measured();
                throw;
            }
        };
        const ExperimentResult free = run(std::numeric_limits<std::size_t>::max(), nullptr);
        const std::size_t full = largest;
        QVERIFY(full > 0);
        const ExperimentResult tight = run(full - 1, nullptr);
        QCOMPARE(tight.status, std::string("finished"));
        QCOMPARE(tight.json["accuracy"], free.json["accuracy"]);
        QCOMPARE(tight.json["per_class"], free.json["per_class"]);
        QVERIFY(tight.trainingClasses && free.trainingClasses);
        QCOMPARE(tight.trainingClasses->evaluation.confusion, free.trainingClasses->evaluation.confusion);
        QCOMPARE(largest, full);  // the whole batch's block was asked for, and refused: the smaller batches scored it
        const bool halved = std::any_of(logs.begin(), logs.end(), [](const std::string& line) { return line.find("at a time; scoring them") != std::string::npos; });
        QCOMPARE(halved, !cache);  // the cache encodes a batch that does not fit in halves itself

        // Not even one image fits.
        RunStore store = RunStore::create((m_dir.path() + "/eval-out-of-memory").toStdString(), "coop", dataset.name);
        store.writeConfig(runConfig(settings, dataset, backbone));
        std::string message;
        try {
            run(64, &store);
            QFAIL("the evaluation fitted in 64 bytes");
        } catch (const OutOfMemory& e) {
            message = e.what();
        }
        QVERIFY2(message.find("out of memory scoring " + dataset.name + "'s test images even one at a time (training finished; its checkpoint is kept)") == 0,
                 message.c_str());
        QVERIFY2(message.find("continue with tunebench-cli train --resume " + store.folder()) != std::string::npos, message.c_str());
        QCOMPARE(store.readResults().value("status", ""), std::string("out_of_memory"));
        QCOMPARE(findCheckpoint(store.checkpointDir())->epochsDone, settings.epochs);
    }

    // tunebench-cli eval's evaluation scores in halves too, to the same results; L2P's batch-wise vote, whose scores
    // depend on the batch, ends with OutOfMemory instead, and without the vote it halves as any method does.
    void evaluateOnScoresInSmallerBatches_data()
    {
        QTest::addColumn<QString>("method");
        QTest::addColumn<QString>("options");
        QTest::addColumn<bool>("halves");
        QTest::newRow("zero-shot") << "zeroshot" << "{}" << true;
        QTest::newRow("L2P, a choice per image") << "l2p" << R"({"batchwise": false})" << true;
        QTest::newRow("L2P, batch-wise") << "l2p" << R"({"batchwise": true})" << false;
    }
    void evaluateOnScoresInSmallerBatches()
    {
        QFETCH(QString, method);
        QFETCH(QString, options);
        QFETCH(bool, halves);
        const Backbone backbone = loadBackbone(m_files.clipFolder.toStdString(), m_files.vocabulary.toStdString(), "cpu");
        const DatasetIndex dataset = openDataset(m_files.datasetFolder.toStdString());
        TaskSetup setup;
        setup.classNames = dataset.classNames;
        setup.promptTemplate = dataset.promptTemplate;
        setup.datasetName = dataset.name;
        setup.tokenizer = backbone.tokenizer;
        torch::manual_seed(1);
        const auto strategy = findStrategy(method.toStdString()).create();
        strategy->attach(backbone.build(), setup, nlohmann::json::parse(options.toStdString()));
        const int resolution = backbone.checkpoint.spec.vision.imageSize;
        std::vector<std::string> logs;
        std::size_t largest = 0;
        const auto evaluated = [&](std::size_t ceiling) {
            test::MemoryCeiling device(ceiling);
            const auto measured = qScopeGuard([&] { largest = device.largestAsked(); });
            return evaluateOn(*strategy, dataset, dataset.test, resolution, 1, nullptr, nullptr,
                              [&](const std::string& line) { logs.push_back(line); });
        };
        const Evaluation free = evaluated(std::numeric_limits<std::size_t>::max());
        const std::size_t full = largest;
        QVERIFY(full > 0);
        QVERIFY(logs.empty());
        if (!halves) {
            try {
                evaluated(full - 1);
                QFAIL("scored under a ceiling below its batch");
            } catch (const OutOfMemory& e) {
                QVERIFY2(std::string(e.what()).find("scores a batch as a whole") != std::string::npos, e.what());
            }
            return;
        }
        const Evaluation tight = evaluated(full - 1);
        QCOMPARE(largest, full);  // the whole batch was asked for, and refused
        QCOMPARE(tight.accuracy, free.accuracy);
        QCOMPARE(tight.confusion, free.confusion);
        QVERIFY(!logs.empty());
        QVERIFY2(logs.front().find("out of memory scoring " + dataset.name + "'s images 64 at a time; scoring them 32 at a time") == 0,
                 logs.front().c_str());
    }

    // A hand-edited results.json: a number that is no integer where one belongs is an error naming the file
    // and the field; a damaged evaluation block leaves that evaluation out.
    void damagedResultsFileIsNamed()
    {
        const QString folder = m_dir.path() + "/hand-edited";
        QVERIFY(QDir().mkpath(folder));
        QFile config(folder + "/config.json");
        QVERIFY(config.open(QIODevice::WriteOnly));
        config.write("{\"method\": \"coop\"}");
        config.close();
        auto write = [&](const nlohmann::json& results) {
            QFile file(folder + "/results.json");
            QVERIFY(file.open(QIODevice::WriteOnly | QIODevice::Truncate));
            file.write(QByteArray::fromStdString(results.dump()));
        };
        const nlohmann::json good = {{"method", "coop"}, {"dataset", "colours"}, {"status", "finished"}, {"shots", 2}, {"seed", 1},
                                     {"details", {{"first", {{"classes", {"red"}}, {"accuracy", 1.0}, {"n", 3}, {"per_class", {1.0}},
                                                             {"support", {3}}, {"confusion", {{3}}}}}}}};
        write(good);
        const RunResults read = readRunFolder(folder);
        QCOMPARE(read.shots, 2);
        QVERIFY(read.trainingClasses.valid);
        QCOMPARE(read.trainingClasses.confusion, QVector<QVector<qint64>>{{3}});
        QVERIFY(read.capabilities.learnsPromptContext);  // from the registry, by the method's name

        nlohmann::json badShots = good;
        badShots["shots"] = 2e126;
        write(badShots);
        try {
            readRunFolder(folder);
            QFAIL("a float for shots was accepted");
        } catch (const Error& e) {
            const QString message = e.what();
            QVERIFY2(message.contains("results.json") && message.contains("shots"), qPrintable(message));
        }

        nlohmann::json badConfusion = good;
        badConfusion["details"]["first"]["confusion"] = {{1.5e300}};
        write(badConfusion);
        QVERIFY(!readRunFolder(folder).trainingClasses.valid);
    }

    // The dataset cache is keyed by content: a folder that changed is read again, an unchanged one is not.
    void datasetCacheSeesAChangedFolder()
    {
        const QString folder = m_dir.path() + "/changing";
        std::filesystem::copy(m_files.datasetFolder.toStdString(), folder.toStdString(), std::filesystem::copy_options::recursive);
        const auto first = cachedDataset(folder.toStdString());
        QCOMPARE(cachedDataset(folder.toStdString()).get(), first.get());
        const std::size_t before = first->train.size() + first->val.size() + first->test.size();
        QVERIFY(QFile::copy(folder + "/red/0.png", folder + "/red/extra.png"));
        const auto second = cachedDataset(folder.toStdString());
        QVERIFY(second.get() != first.get());
        QCOMPARE(second->train.size() + second->val.size() + second->test.size(), before + 1);
    }

    void missingVocabularyNamesWhereItLooked()
    {
        // Nowhere to find a vocabulary: the checkpoint's folder has none, and the machine's places are hidden.
        test::ScopedEnvironment environment;
        for (const char* name : {"TUNEBENCH_CLIP_VOCAB", "VIRTUAL_ENV", "CONDA_PREFIX", "HF_HUB_CACHE", "XDG_CACHE_HOME"})
            environment.unset(name);
        environment.set("HOME", m_dir.path().toUtf8());
        environment.set("HF_HOME", m_dir.path().toUtf8());
        QDir().mkpath(m_dir.path() + "/empty-system-root");
        setVocabularySystemRoot((m_dir.path() + "/empty-system-root").toStdString());
        QVERIFY(searchVocabulary("", m_files.clipFolder.toStdString()).found.empty());
        RunSettings request = tinyCoop();
        request.vocab.clear();
        RunController controller;
        QSignalSpy failed(&controller, &RunController::failed);
        QVERIFY(controller.start(request, QString()));
        QVERIFY(controller.waitForFinished(30000));
        QCOMPARE(failed.size(), 1);
        QVERIFY2(failed.first().first().toString().contains("vocabulary"), qPrintable(failed.first().first().toString()));
        setVocabularySystemRoot("/");
    }

private:
    QTemporaryDir m_dir;
    test::GuiFixtureFiles m_files;
};

QTEST_GUILESS_MAIN(TestRunController)
#include "tst_run_controller.moc"
