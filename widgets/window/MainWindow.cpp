#include "widgets/window/MainWindow.h"

#include "report/AtomicSave.h"
#include "widgets/adaptation/AdaptationPanel.h"
#include "widgets/continual/ContinualPanel.h"
#include "widgets/inspect/MistakesPanel.h"
#include "widgets/inspect/TryItPanel.h"
#include "widgets/petl/PetlTablePanel.h"
#include "widgets/results/CurvePlot.h"
#include "widgets/results/DomainGeneralisationPanel.h"
#include "widgets/results/FewShotPanel.h"
#include "widgets/results/HistoryPanel.h"
#include "widgets/results/ResultsPanel.h"
#include "widgets/setup/DatasetPanel.h"
#include "widgets/setup/ModelPanel.h"
#include "widgets/setup/StrategyPanel.h"
#include "widgets/sweeps/SweepPanel.h"
#include "widgets/window/BackgroundTasks.h"
#include "widgets/window/JobHost.h"
#include "widgets/window/RunBar.h"
#include "widgets/window/RunController.h"

#include "core/Device.h"
#include "core/experiment/RunOnnx.h"
#include "core/train/GeneratorLock.h"
#include "core/Version.h"
#include "core/tuning/StrategyInfo.h"

#include <QAction>
#include <QActionGroup>
#include <QApplication>
#include <QCloseEvent>
#include <QDir>
#include <QDockWidget>
#include <QDragEnterEvent>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QLabel>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QSettings>
#include <QSplitter>
#include <QStandardPaths>
#include <QStatusBar>
#include <QTabWidget>
#include <QVBoxLayout>

#include <nlohmann/json.hpp>

namespace tunebench {

namespace {

// The demo task the workbench opens with, as scripts/run's headless job: a shifted image domain where the
// hand-crafted prompt is only a guess, scored also on the other domains.
constexpr const char* kDemoDataset = "fashion-mnist:tinted";
const std::vector<std::string> kDemoTargets = {"fashion-mnist", "fashion-mnist:sketch"};

constexpr int kMaxRecent = 8;

// Stored settings: the last run's settings (the RunSettings JSON a run folder's config.json holds) and
// every strategy's last options.
constexpr const char* kRunSettingsKey = "run/settings";
constexpr const char* kStrategyOptionsKey = "run/strategyOptions";
// The device chosen in the model panel ("cpu", "cuda:N"); absent: the first GPU, else the CPU.
constexpr const char* kDeviceKey = "run/device";

nlohmann::json storedJson(const QSettings& settings, const char* key)
{
    const QString text = settings.value(key).toString();
    if (text.isEmpty())
        return nullptr;
    try {
        return nlohmann::json::parse(text.toStdString());
    } catch (const nlohmann::json::exception&) {
        return nullptr;  // damaged by hand: the defaults
    }
}

} // namespace

MainWindow::MainWindow(QWidget* parent)
    : QMainWindow(parent)
{
    setAcceptDrops(true);
    setObjectName("MainWindow");
    // Chinese text needs a CJK font; the usual Latin font stays first (Debian: fonts-noto-cjk).
    QFont font = QApplication::font();
    QStringList families = font.families();
    if (families.isEmpty())
        families << font.family();
    for (const QString& cjk : {QStringLiteral("Noto Sans CJK SC"), QStringLiteral("WenQuanYi Micro Hei")})
        if (!families.contains(cjk))
            families << cjk;
    font.setFamilies(families);
    QApplication::setFont(font);
    m_tasks = new BackgroundTasks(this);
    m_jobs = new JobHost(this);
    m_jobs->setObjectName("jobHost");
    m_controller = new RunController(m_jobs, this);
    m_controller->setObjectName("runController");

    // Centre: status line, run bar, curves above the results / history tabs.
    auto* central = new QWidget(this);
    auto* centralLayout = new QVBoxLayout(central);
    m_statusLine = new QLabel(central);
    m_statusLine->setObjectName("statusLine");
    m_statusLine->setWordWrap(true);
    m_statusLine->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_runBar = new RunBar(central);
    m_curves = new CurvePlot(central);
    m_curves->setObjectName("curvePlot");
    m_tabs = new QTabWidget(central);
    m_tabs->setObjectName("resultTabs");
    m_results = new ResultsPanel(m_tabs);
    m_history = new HistoryPanel(m_tabs);
    m_tryIt = new TryItPanel(m_tasks, m_tabs);
    m_mistakes = new MistakesPanel(m_tasks, m_tabs);
    // The result area's tabs, in display order; each hears what it follows through WorkbenchTab.
    m_tabPanels = {m_results,
                   m_tryIt,
                   m_mistakes,
                   new FewShotPanel(m_tabs),
                   new DomainGeneralisationPanel(m_tabs),
                   new ContinualPanel(m_jobs, m_tabs),
                   new AdaptationPanel(m_jobs, m_tabs),
                   new PetlTablePanel(m_jobs, m_tabs),
                   new SweepPanel(m_tasks, m_tabs),
                   m_history};
    for (WorkbenchTab* tab : m_tabPanels)
        m_tabs->addTab(tab, QString());
    auto* splitter = new QSplitter(Qt::Vertical, central);
    splitter->setObjectName("centralSplitter");
    splitter->addWidget(m_curves);
    splitter->addWidget(m_tabs);
    splitter->setStretchFactor(0, 3);
    splitter->setStretchFactor(1, 2);
    centralLayout->addWidget(m_statusLine);
    centralLayout->addWidget(m_runBar);
    centralLayout->addWidget(splitter, 1);
    setCentralWidget(central);

    m_model = new ModelPanel(m_tasks, this);
    m_dataset = new DatasetPanel(m_tasks, this);
    m_strategy = new StrategyPanel(m_tasks, this);
    auto dock = [this](QWidget* panel, const char* name, Qt::DockWidgetArea area) {
        auto* widget = new QDockWidget(this);
        widget->setObjectName(name);
        widget->setWidget(panel);
        addDockWidget(area, widget);
        return widget;
    };
    m_modelDock = dock(m_model, "modelDock", Qt::LeftDockWidgetArea);
    m_datasetDock = dock(m_dataset, "datasetDock", Qt::LeftDockWidgetArea);
    m_strategyDock = dock(m_strategy, "strategyDock", Qt::RightDockWidgetArea);

    buildMenus();
    connectPanels();

    // The devices are probed once, off the GUI thread (CUDA initialisation can take seconds); until then
    // runs ask for selectedDevice()'s answer.
    QPointer<MainWindow> self(this);
    m_tasks->start("device", [self](const TaskToken&) {
        BuildInfo build;
        QString problem;
        try {
            build = buildInfo();
        } catch (const std::exception& e) {
            problem = firstLine(e);
        }
        postToGui(self, [build, problem](MainWindow* window) {
            if (problem.isEmpty())
                window->m_model->setBuildInfo(build, QSettings().value(kDeviceKey, "auto").toString());
            else
                window->m_model->setDeviceProblem(problem);
            window->useDevice(window->selectedDevice());
        });
    });
    useDevice(selectedDevice());

    const QByteArray envRuns = qgetenv("TUNEBENCH_RUNS_DIR");
    QSettings settings;
    setRunsRoot(!envRuns.isEmpty()
                    ? QString::fromLocal8Bit(envRuns)
                    : settings.value("runs/root", QStandardPaths::writableLocation(QStandardPaths::AppDataLocation) + "/runs").toString());
    restoreSettings();
    restoreGeometry(settings.value("window/geometry").toByteArray());
    restoreState(settings.value("window/state").toByteArray());
    if (!settings.contains("window/geometry"))
        resize(1400, 900);
    const QString language = settings.value("language", "en").toString();
    if (language != "en")
        setLanguage(language);
    retranslateUi();
    setStatus(tr("Open a checkpoint (File > Open, or drop it here) and a dataset to begin."));
    updateControls();
}

MainWindow::~MainWindow()
{
    // The job first, then loads and counts: a job's worker waits on nothing of theirs, but both read the caches.
    m_jobs->abort();
    m_tasks->shutdown();
}

void MainWindow::connectPanels()
{
    connect(m_model, &ModelPanel::loadingStarted, this, [this](const QString& path) {
        setStatus(tr("Loading %1 ...").arg(QDir::toNativeSeparators(path)));
        updateControls();
    });
    connect(m_model, &ModelPanel::loaded, this, [this](const QString& summaryJson) {
        const auto summary = nlohmann::json::parse(summaryJson.toStdString());
        const QString name = QString::fromStdString(summary.value("name", ""));
        const QString family = QString::fromStdString(summary.value("family", ""));
        const QString parameters = QLocale().toString(summary.value("parameters", 0LL));
        if (m_model->problem().isEmpty())
            setStatus(tr("Loaded %1: %2, %3 parameters").arg(name, family, parameters));
        else
            setStatus(tr("Loaded %1, but its vocabulary is missing: %2 (File > Choose vocabulary)").arg(name, m_model->problem()), true);
        rememberRecent(m_model->modelPath());
        m_strategy->setModel(m_model->modelPath(), m_model->vocabularyPath(), m_model->spec(), m_model->problem().isEmpty());
        updateBaseNew();
        const LoadedModel model{m_model->modelPath(), m_model->vocabularyPath(), m_model->spec(), m_model->problem().isEmpty()};
        for (WorkbenchTab* tab : m_tabPanels)
            tab->modelChanged(model);
        updateControls();
        Q_EMIT modelLoaded(summaryJson);
    });
    connect(m_model, &ModelPanel::deviceChosen, this, [this](const QString& id) {
        QSettings().setValue(kDeviceKey, id);
        useDevice(id);
    });
    connect(m_model, &ModelPanel::failed, this, [this](const QString& message) {
        setStatus(tr("Could not load the model: %1").arg(message), true);
        statusBar()->showMessage(tr("Loading failed"), 5000);
        updateControls();
        Q_EMIT loadFailed(message);
    });

    connect(m_dataset, &DatasetPanel::loadingStarted, this, [this](const QString& pathOrName) {
        setStatus(tr("Opening dataset %1 ...").arg(pathOrName));
        updateControls();
    });
    connect(m_dataset, &DatasetPanel::loaded, this, [this](const QString& name, int train, int test) {
        setStatus(tr("Dataset %1: %2 classes, %3 training and %4 test images").arg(name).arg(m_dataset->classNames().size()).arg(train).arg(test));
        for (WorkbenchTab* tab : m_tabPanels)
            tab->datasetChanged(m_dataset->datasetPath(), name);
        m_strategy->setDatasetCropScale(m_dataset->recipeCropScale());
        m_strategy->setClasses(m_dataset->classNames(), m_dataset->shots());
        updateControls();
        Q_EMIT datasetLoaded();
    });
    connect(m_dataset, &DatasetPanel::failed, this, [this](const QString& message) {
        setStatus(tr("Could not open the dataset: %1").arg(message), true);
        updateControls();
        Q_EMIT datasetFailed(message);
    });
    connect(m_dataset, &DatasetPanel::samplingChanged, this,
            [this] { m_strategy->setClasses(m_dataset->classNames(), m_dataset->shots()); });

    connect(m_runBar, &RunBar::startClicked, this, [this] { startRun(); });
    connect(m_runBar, &RunBar::pauseToggled, this, &MainWindow::setRunPaused);
    connect(m_runBar, &RunBar::stopClicked, this, &MainWindow::stopRun);

    connect(m_history, &HistoryPanel::runOpened, this, [this](const RunResults& results) {
        addToResultViews(results);
        m_tabs->setCurrentWidget(m_results);
    });
    connect(m_history, &HistoryPanel::continualRunOpened, this, [this](const QString& folder) {
        for (WorkbenchTab* tab : m_tabPanels)
            if (auto* continual = qobject_cast<ContinualPanel*>(tab)) {
                try {
                    continual->showRunFolder(folder);
                    m_tabs->setCurrentWidget(continual);
                } catch (const std::exception& e) {
                    setStatus(tr("Could not open run %1: %2").arg(folder, firstLine(e)), true);
                }
            }
    });
    connect(m_history, &HistoryPanel::petlTableOpened, this, [this](const QString& folder) {
        for (WorkbenchTab* tab : m_tabPanels)
            if (auto* table = qobject_cast<PetlTablePanel*>(tab)) {
                table->openTable(folder);  // a folder it cannot read says why in its status line
                m_tabs->setCurrentWidget(table);
            }
    });
    connect(m_history, &HistoryPanel::problem, this, [this](const QString& message) { setStatus(message, true); });
    connect(m_history, &HistoryPanel::continueRequested, this, &MainWindow::continueRun);
    connect(m_results, &ResultsPanel::selectedRunChanged, this, &MainWindow::updateControls);
    // "Try it" uses the run selected in the Results table (a run opened from the history is selected there).
    connect(m_results, &ResultsPanel::selectedRunChanged, this, [this] {
        m_tryIt->setRun(m_results->selectedRun());
        m_mistakes->setRun(m_results->selectedRun());
    });
    // A cell of the confusion matrix opens its images.
    connect(m_results, &ResultsPanel::confusionCellClicked, this, [this](int trueLabel, int predictedLabel) {
        m_mistakes->setRun(m_results->selectedRun());
        m_mistakes->showConfusionCell(trueLabel, predictedLabel);
        m_tabs->setCurrentWidget(m_mistakes);
    });
    connect(m_strategy, &StrategyPanel::strategyChanged, this, &MainWindow::updateBaseNew);

    connect(m_jobs, &JobHost::runningChanged, this, &MainWindow::updateControls);
    // Every job writes run folders (a run, a continual stream, an adaptation series): the history shows
    // them as soon as it ends, finished or not.
    connect(m_jobs, &JobHost::finished, m_history, &HistoryPanel::refresh);
    connect(m_controller, &RunController::started, this, &MainWindow::onRunStarted);
    connect(m_controller, &RunController::progress, this, &MainWindow::onRunProgress);
    connect(m_controller, &RunController::finished, this, &MainWindow::onRunFinished);
    connect(m_controller, &RunController::failed, this, &MainWindow::onRunFailed);
    connect(m_controller, &RunController::stageChanged, m_runBar, &RunBar::showStage);
}

void MainWindow::buildMenus()
{
    m_fileMenu = menuBar()->addMenu(QString());
    m_openAction = m_fileMenu->addAction(QString(), m_model, &ModelPanel::chooseCheckpoint);
    m_openAction->setShortcut(QKeySequence::Open);
    m_recentMenu = m_fileMenu->addMenu(QString());
    m_vocabAction = m_fileMenu->addAction(QString(), m_model, &ModelPanel::chooseVocabulary);
    m_datasetAction = m_fileMenu->addAction(QString(), m_dataset, &DatasetPanel::chooseFolder);
    m_fileMenu->addSeparator();
    m_exportPromptAction = m_fileMenu->addAction(QString(), this, &MainWindow::exportPrompt);
    m_exportPromptAction->setObjectName("exportPromptAction");
    m_importPromptAction = m_fileMenu->addAction(QString(), this, [this] {
        const QString path = QFileDialog::getOpenFileName(this, tr("Evaluate exported prompt"), QString(), tr("Prompt manifest (*.json)"));
        if (!path.isEmpty())
            evaluatePrompt(path);
    });
    m_fileMenu->addSeparator();
    m_quitAction = m_fileMenu->addAction(QString(), this, &QWidget::close);
    m_quitAction->setShortcut(QKeySequence::Quit);
    rebuildRecentMenu();

    m_viewMenu = menuBar()->addMenu(QString());
    for (QDockWidget* dock : {m_modelDock, m_datasetDock, m_strategyDock})
        m_viewMenu->addAction(dock->toggleViewAction());

    m_languageMenu = menuBar()->addMenu(QString());
    auto* group = new QActionGroup(this);
    m_englishAction = m_languageMenu->addAction(QStringLiteral("English"));
    m_chineseAction = m_languageMenu->addAction(QStringLiteral("简体中文"));
    for (QAction* action : {m_englishAction, m_chineseAction}) {
        action->setCheckable(true);
        group->addAction(action);
    }
    m_englishAction->setChecked(true);
    connect(m_englishAction, &QAction::triggered, this, [this] { setLanguage("en"); });
    connect(m_chineseAction, &QAction::triggered, this, [this] { setLanguage("zh_CN"); });

    m_helpMenu = menuBar()->addMenu(QString());
    m_aboutAction = m_helpMenu->addAction(QString(), this, &MainWindow::showAbout);
    m_aboutAction->setObjectName("aboutAction");
    m_aboutAction->setMenuRole(QAction::AboutRole);
}

void MainWindow::updateBaseNew()
{
    QString why;
    try {
        const StrategyInfo& info = findStrategy(m_strategy->strategy().toStdString());
        const QString title = QString::fromStdString(info.title);
        if (!m_model->modelPath().isEmpty() && !m_model->hasTextTower())
            why = tr("Base-to-new needs a CLIP model with a text tower");
        else if (!info.capabilities.needsTextTower)
            why = tr("Base-to-new does not apply to %1: it classifies without the text tower, so it trains and is scored on every class").arg(title);
        else if (info.capabilities.adaptsToTarget)
            why = tr("Base-to-new does not apply to %1: it adapts to a target domain and is scored there, on every class").arg(title);
    } catch (const std::exception&) {
        // no strategy chosen yet
    }
    m_dataset->setBaseNewApplies(why.isEmpty(), why);
}

void MainWindow::retranslateUi()
{
    setWindowTitle(tr("Tunebench"));
    updateBaseNew();
    m_modelDock->setWindowTitle(tr("Model"));
    m_datasetDock->setWindowTitle(tr("Dataset"));
    m_strategyDock->setWindowTitle(tr("Strategy"));

    m_fileMenu->setTitle(tr("&File"));
    m_openAction->setText(tr("&Open checkpoint..."));
    m_recentMenu->setTitle(tr("Open &recent"));
    m_vocabAction->setText(tr("Choose &vocabulary..."));
    m_datasetAction->setText(tr("Open &dataset folder..."));
    m_exportPromptAction->setText(tr("&Export tuned model..."));
    m_importPromptAction->setText(tr("E&valuate exported prompt..."));
    m_importPromptAction->setToolTip(tr("Evaluate a prompt exported by Tunebench on the classes of the open dataset"));
    m_quitAction->setText(tr("&Quit"));
    m_viewMenu->setTitle(tr("&View"));
    m_languageMenu->setTitle(tr("&Language"));
    m_helpMenu->setTitle(tr("&Help"));
    m_aboutAction->setText(tr("&About Tunebench"));
    m_model->retranslate();
    m_dataset->retranslate();
    m_strategy->retranslate();
    m_runBar->retranslate();
    m_curves->retranslate();
    for (WorkbenchTab* tab : m_tabPanels) {
        tab->retranslate();
        m_tabs->setTabText(m_tabs->indexOf(tab), tab->tabTitle());
    }
    updateControls();
}

// ---------------------------------------------------------------------------------------------- settings

void MainWindow::restoreSettings()
{
    const QSettings settings;
    m_strategy->setRememberedOptions(storedJson(settings, kStrategyOptionsKey));
    RunSettings last;
    last.method = "coop";
    last.baseNew = true;
    last.maxTestImages = 1000;
    const nlohmann::json stored = storedJson(settings, kRunSettingsKey);
    if (stored.is_object()) {
        try {
            last = RunSettings::fromJson(stored);
        } catch (const std::exception&) {
            // a damaged entry: the defaults above
        }
    }
    m_dataset->applySettings(last);
    m_strategy->applySettings(last);
}

void MainWindow::rememberSettings(const RunSettings& run)
{
    QSettings settings;
    settings.setValue(kRunSettingsKey, QString::fromStdString(run.toJson().dump()));
    settings.setValue(kStrategyOptionsKey, QString::fromStdString(m_strategy->rememberedOptions().dump()));
}

void MainWindow::rememberRecent(const QString& path)
{
    QSettings settings;
    QStringList recent = settings.value("recentCheckpoints").toStringList();
    recent.removeAll(path);
    recent.prepend(path);
    while (recent.size() > kMaxRecent)
        recent.removeLast();
    settings.setValue("recentCheckpoints", recent);
    rebuildRecentMenu();
}

void MainWindow::rebuildRecentMenu()
{
    m_recentMenu->clear();
    const QStringList recent = QSettings().value("recentCheckpoints").toStringList();
    for (const QString& path : recent)
        m_recentMenu->addAction(path, this, [this, path] { openCheckpoint(path); });
    m_recentMenu->setEnabled(!recent.isEmpty());
}

// ---------------------------------------------------------------------------------------------- model, dataset

QString MainWindow::demoModelPath()
{
    const QByteArray env = qgetenv("TUNEBENCH_DEMO_MODEL");
    if (!env.isEmpty())
        return QString::fromLocal8Bit(env);
    const QString installed = QCoreApplication::applicationDirPath() + "/../share/tunebench/demo-model";
    if (QFileInfo::exists(installed + "/config.json"))
        return QDir::cleanPath(installed);
#ifdef TUNEBENCH_SOURCE_DEMO_MODEL
    if (QFileInfo::exists(QStringLiteral(TUNEBENCH_SOURCE_DEMO_MODEL) + "/config.json"))
        return QStringLiteral(TUNEBENCH_SOURCE_DEMO_MODEL);
#endif
    return QString();
}

void MainWindow::openDefaults(const QString& checkpoint)
{
    const QString model = checkpoint.isEmpty() ? demoModelPath() : checkpoint;
    if (!model.isEmpty())
        openCheckpoint(model);
    // First start: the demo task, scored also on its domain-generalisation targets.
    const RunSettings last = currentSettings();
    const nlohmann::json stored = storedJson(QSettings(), kRunSettingsKey);
    const QString dataset = stored.is_object() ? QString::fromStdString(stored.value("dataset", "")) : QString();
    if (dataset.isEmpty()) {
        RunSettings demo = last;
        if (demo.evalDatasets.empty())
            demo.evalDatasets = kDemoTargets;
        m_dataset->applySettings(demo);
    }
    openDatasetPath(dataset.isEmpty() ? QString(kDemoDataset) : dataset);
}

void MainWindow::openCheckpoint(const QString& path)
{
    if (isRunning()) {
        refuseWhileRunning(tr("A run is in progress: stop it before opening another model."));
        return;
    }
    m_model->open(path);
}

void MainWindow::setVocabulary(const QString& path)
{
    m_model->setVocabulary(path);
}

void MainWindow::openDatasetPath(const QString& pathOrName)
{
    if (isRunning()) {
        refuseWhileRunning(tr("A run is in progress: stop it before opening another dataset."));
        return;
    }
    m_dataset->open(pathOrName);
}

void MainWindow::setRunsRoot(const QString& folder)
{
    for (WorkbenchTab* tab : m_tabPanels)
        tab->runsRootChanged(folder);
}

// ---------------------------------------------------------------------------------------------- runs

RunSettings MainWindow::currentSettings() const
{
    RunSettings settings;
    settings.model = m_model->modelPath().toStdString();
    settings.vocab = m_model->vocabularyPath().toStdString();
    m_dataset->fillSettings(settings);
    m_strategy->fillSettings(settings);
    settings.compareHandcrafted = true;
    settings.importPrompt = m_importPrompt.toStdString();
    if (!settings.importPrompt.empty())
        settings.baseNew = false;  // an imported prompt is scored on every class of the open dataset
    settings.device = selectedDevice().toStdString();
    return settings;
}

bool MainWindow::isRunning() const
{
    return m_jobs->isRunning();
}

QString MainWindow::whyBusy() const
{
    return m_controller->isRunning() ? tr("a run is already in progress") : tr("another job is running (one job runs at a time)");
}

bool MainWindow::startRun()
{
    QString why;
    if (isRunning())
        why = whyBusy();
    else if (m_model->modelPath().isEmpty())
        why = tr("no model is loaded");
    else if (!m_model->problem().isEmpty())
        why = m_model->problem();
    else if (m_dataset->datasetPath().isEmpty())
        why = tr("no dataset is open");
    else if (m_strategy->strategy().isEmpty())
        why = tr("no strategy is selected");
    if (!why.isEmpty()) {
        if (isRunning())
            refuseWhileRunning(tr("Cannot start: %1").arg(why));
        else
            setStatus(tr("Cannot start: %1").arg(why), true);
        return false;
    }
    const RunSettings settings = currentSettings();
    if (m_importPrompt.isEmpty())
        rememberSettings(settings);
    m_curveRun = -1;
    m_history->setActiveRun(QString(), true);  // its folder is not named yet
    m_runBar->showStarting();
    m_controller->start(settings, m_history->runsRoot());
    setStatus(tr("Running %1 on %2 ...").arg(m_strategy->strategyTitle(), QString::fromStdString(settings.dataset)));
    updateControls();
    return true;
}

bool MainWindow::continueRun(const QString& folder)
{
    const QString runId = QFileInfo(QDir::cleanPath(folder)).fileName();
    if (isRunning()) {
        refuseWhileRunning(tr("Cannot continue %1: %2").arg(runId, whyBusy()));
        return false;
    }
    m_curveRun = -1;
    m_history->setActiveRun(runId, true);
    m_runBar->showStarting();
    m_controller->continueRun(folder);
    setStatus(tr("Continuing %1 from its last finished epoch ...").arg(runId));
    updateControls();
    return true;
}

bool MainWindow::evaluatePrompt(const QString& manifestPath)
{
    m_importPrompt = manifestPath;
    const bool started = startRun();
    m_importPrompt.clear();
    return started;
}

void MainWindow::setRunPaused(bool paused)
{
    // An atomic flag: the worker thread is busy training, a queued slot would wait for the run's end.
    m_controller->setPaused(paused);
    m_runBar->showPaused(m_controller->isPaused());
}

void MainWindow::stopRun()
{
    if (!m_controller->isRunning())
        return;
    m_controller->requestStop();
    m_controller->setPaused(false);
    m_runBar->showStopping();
}

void MainWindow::onRunStarted(const QString& runId, qint64 trainableParameters, int trainImages)
{
    m_history->setActiveRun(runId, true);
    m_curveRun = m_curves->addRun(QString("%1 (%2)").arg(runId).arg(m_curves->runCount() + 1));
    m_strategy->showParameterCount(trainableParameters);
    setStatus(tr("Run %1: %2 trainable parameters, %3 training images").arg(runId).arg(QLocale().toString(trainableParameters)).arg(trainImages));
}

void MainWindow::onRunProgress(const RunProgress& p)
{
    if (m_curveRun < 0)
        m_curveRun = m_curves->addRun(tr("run %1").arg(m_curves->runCount() + 1));
    const double perEpoch = p.epochs > 0 ? double(p.totalSteps) / p.epochs : 0;
    const double epoch = perEpoch > 0 ? double(p.step) / perEpoch : p.epoch;
    m_curves->addPoint(m_curveRun, double(p.step), epoch, p.loss, p.accuracy);
    m_runBar->showProgress(p);
}

void MainWindow::onRunFinished(const RunResults& results)
{
    m_history->setActiveRun(QString(), false);
    addToResultViews(results);
    m_tabs->setCurrentWidget(m_results);
    m_dataset->showRunProblems(results.problems);
    const QString accuracy = results.baseNew && results.harmonic >= 0
                                 ? tr("base %1%, new %2%, H %3%")
                                       .arg(results.trainingClasses.accuracy * 100, 0, 'f', 2)
                                       .arg(results.novel.accuracy * 100, 0, 'f', 2)
                                       .arg(results.harmonic * 100, 0, 'f', 2)
                                 : tr("accuracy %1%").arg(results.trainingClasses.accuracy * 100, 0, 'f', 2);
    m_runBar->showFinished(results.status == "finished" ? tr("Finished: %1").arg(accuracy) : tr("Stopped: %1").arg(accuracy));
    setStatus(results.status == "finished"  ? tr("Run %1 finished: %2").arg(results.runId, accuracy)
              : results.status == "stopped" ? tr("Run %1 stopped by request: %2").arg(results.runId, accuracy)
                                            : tr("Run %1 %2: %3. %4").arg(results.runId, results.status, accuracy, results.message),
              results.status == "diverged");
    m_history->refresh();
    updateControls();
    Q_EMIT runFinished(results);
}

void MainWindow::onRunFailed(const QString& message)
{
    m_history->setActiveRun(QString(), false);
    m_runBar->showFailed();
    setStatus(tr("The run failed: %1").arg(message), true);
    m_history->refresh();
    updateControls();
    Q_EMIT runFailed(message);
}

void MainWindow::exportPrompt()
{
    const RunResults* run = m_results->selectedRun();
    if (!run || run->exportPath.isEmpty())
        return;
    // The formats of `tunebench-cli export`: Tunebench's own, and ONNX where this build has it.
    const QString tunebenchFilter = tr("Tunebench export (*.json)"), onnxFilter = tr("ONNX graph (*.onnx)");
    QString chosenFilter;
    QString target = QFileDialog::getSaveFileName(this, tr("Export the tuned model of %1 (%2)").arg(run->runId, run->methodTitle),
                                                  QFileInfo(run->exportPath).fileName(),
                                                  onnxExportAvailable() ? tunebenchFilter + ";;" + onnxFilter : tunebenchFilter, &chosenFilter);
    if (target.isEmpty())
        return;
    if (chosenFilter == onnxFilter || target.endsWith(".onnx")) {
        if (!target.endsWith(".onnx"))
            target = (target.endsWith(".json") ? target.chopped(5) : target) + ".onnx";
        exportSelectedOnnx(target);
    } else {
        exportSelectedPrompt(target);
    }
}

void MainWindow::exportSelectedOnnx(const QString& target)
{
    const RunResults* run = m_results->selectedRun();
    if (!run || run->exportPath.isEmpty() || run->runFolder.isEmpty()) {
        const QString message = tr("Could not export: select a finished run in the Results table");
        setStatus(message, true);
        Q_EMIT onnxExportFailed(message);
        return;
    }
    const QString runId = run->runId, runFolder = run->runFolder;
    setStatus(GeneratorLock::heldElsewhere() ? tr("Writing the ONNX graph of %1 (%2) once the run in progress lets go of LibTorch's random numbers "
                                                  "(rebuilding the model draws them)...")
                                                   .arg(runId, run->methodTitle)
                                             : tr("Writing the ONNX graph of %1 (%2)...").arg(runId, run->methodTitle));
    // Rebuilding the model and checking the graph description take seconds: off the GUI thread.
    QPointer<MainWindow> self(this);
    m_tasks->start("onnx-export", [self, runId, runFolder, target](const TaskToken&) {
        QString problem;
        try {
            writeRunOnnx(runFolder.toStdString(), target.toStdString(), OnnxOptions{});
        } catch (const std::exception& e) {
            problem = firstLine(e);
        }
        postToGui(self, [runId, target, problem](MainWindow* window) {
            if (problem.isEmpty()) {
                window->setStatus(tr("Wrote the ONNX graph of %1 to %2").arg(runId, target));
                Q_EMIT window->onnxExported(target);
            } else {
                window->setStatus(tr("Could not write the ONNX graph of %1: %2").arg(runId, problem), true);
                Q_EMIT window->onnxExportFailed(problem);
            }
        });
    });
}

bool MainWindow::exportSelectedPrompt(const QString& target)
{
    const RunResults* run = m_results->selectedRun();
    if (!run || run->exportPath.isEmpty()) {
        setStatus(tr("Could not export: select a finished run in the Results table"), true);
        return false;
    }
    const QString base = target.endsWith(".json") ? target.chopped(5) : target;
    const QString sourceBase = run->exportPath.chopped(5);
    // Each file is copied to a temporary beside the target and renamed over it: exporting onto the run's
    // own export replaces it with itself instead of deleting it first.
    QString error;
    bool ok = true;
    for (const QString& ext : {QStringLiteral(".safetensors"), QStringLiteral(".json")})
        ok = ok && saveAtomically(base + ext, [&](const QString& temporary) { return QFile::copy(sourceBase + ext, temporary); }, &error);
    setStatus(ok ? tr("Exported the prompt of %1 (%2) to %3").arg(run->runId, run->methodTitle, base + ".json")
                 : tr("Could not export the prompt of %1: %2").arg(run->runId, error),
              !ok);
    return ok;
}

void MainWindow::addToResultViews(const RunResults& results)
{
    // The hand-crafted prompt the run was compared with comes first, as the tables' baseline row.
    if (const auto baseline = handcraftedBaseline(results))
        for (WorkbenchTab* tab : m_tabPanels)
            tab->runFinished(*baseline);
    for (WorkbenchTab* tab : m_tabPanels)
        tab->runFinished(results);
}

// ---------------------------------------------------------------------------------------------- misc

void MainWindow::updateControls()
{
    const bool running = isRunning();
    // A refusal that names another job would outlive it.
    if (!running && !m_jobRefusal.isEmpty()) {
        if (m_statusLine->text() == m_jobRefusal)
            setStatus(QString());
        m_jobRefusal.clear();
    }
    QString why;
    if (m_controller->isRunning())
        why = tr("A run is in progress");
    else if (running)
        why = tr("Another job is running (one job runs at a time)");
    else if (m_model->isLoading() || m_dataset->isLoading())
        why = tr("Still loading");
    else if (m_model->modelPath().isEmpty())
        why = tr("Load a model first");
    else if (!m_model->problem().isEmpty())
        why = tr("The model's vocabulary is missing: choose it with File > Choose vocabulary");
    else if (m_dataset->datasetPath().isEmpty())
        why = tr("Open a dataset first");
    m_runBar->setStartable(why.isEmpty(), why);
    m_runBar->setRunning(m_controller->isRunning());
    m_model->setRunning(running);
    m_dataset->setRunning(running);
    m_strategy->setRunning(running);
    const bool hasText = m_model->hasTextTower();
    // Export acts on the run selected in the Results table, and says which.
    const RunResults* selected = m_results->selectedRun();
    m_exportPromptAction->setEnabled(selected && !selected->exportPath.isEmpty());
    m_exportPromptAction->setToolTip(!selected ? tr("Select a run in the Results table (finish a run first)")
                                     : selected->exportPath.isEmpty()
                                         ? tr("%1 (%2) has nothing learned to export").arg(selected->runId, selected->methodTitle)
                                         : tr("Export the tuned model of %1 (%2): its learned tensors and manifest (%3), or one ONNX graph").arg(selected->runId, selected->methodTitle, selected->exportPath));
    m_openAction->setEnabled(!running);
    m_datasetAction->setEnabled(!running);
    m_vocabAction->setEnabled(!running && hasText);
    m_importPromptAction->setEnabled(!running && hasText && !m_dataset->datasetPath().isEmpty() && m_model->problem().isEmpty());
}

QString MainWindow::selectedDevice() const
{
    // Before the probe the selector says "auto"; a saved CPU choice holds already, a saved GPU may be gone.
    const QString selected = m_model->selectedDevice();
    return selected == "auto" && QSettings().value(kDeviceKey).toString() == "cpu" ? QStringLiteral("cpu") : selected;
}

void MainWindow::useDevice(const QString& id)
{
    for (WorkbenchTab* tab : m_tabPanels)
        tab->deviceChanged(id);
    if (m_model->hasBuildInfo())
        for (const DeviceInfo& device : m_model->buildInfo().devices)
            if (QString::fromStdString(device.id) == m_model->selectedDevice())
                m_strategy->setMemoryTarget(ModelPanel::deviceText(device), device.memoryBytes, device.isGpu());
}

void MainWindow::showAbout()
{
    // The facts of `tunebench-cli --version`, in the interface language.
    QString facts;
    if (m_model->hasBuildInfo()) {
        const BuildInfo& build = m_model->buildInfo();
        const QString selected = m_model->selectedDevice();
        QStringList devices;
        for (const DeviceInfo& device : build.devices) {
            const QString text = ModelPanel::deviceText(device).toHtmlEscaped();
            devices << (QString::fromStdString(device.id) == selected ? tr("%1 (selected)").arg(text) : text);
        }
        facts = tr("<p>LibTorch %1<br>%2<br>Qt %3</p><p><b>Devices</b><br>%4</p>")
                    .arg(QString::fromStdString(build.libtorchVersion), ModelPanel::cudaText(build).toHtmlEscaped(), QString(qVersion()),
                         devices.join(QStringLiteral("<br>")));
    } else {
        facts = tr("<p>The devices are still being probed.</p>");
    }
    const QString text = tr("<h3>Tunebench %1</h3><p>Parameter-efficient tuning workbench for CLIP and ViT models.</p>%2"
                            "<p>Free software under the GNU General Public License, version 3 or later.</p>")
                             .arg(QString::fromLatin1(tunebenchVersion()), facts);
    // Opened, not exec()'d: the window keeps running (and tests can read it).
    auto* box = new QMessageBox(QMessageBox::NoIcon, tr("About Tunebench"), text, QMessageBox::Ok, this);
    box->setObjectName("aboutBox");
    box->setTextFormat(Qt::RichText);
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->open();
}

void MainWindow::setStatus(const QString& message, bool error)
{
    // At most two lines, so a long error does not push the window's layout down; the whole text is the
    // tooltip (and selectable).
    m_statusLine->setMaximumHeight(m_statusLine->fontMetrics().lineSpacing() * 2 + 4);
    m_statusLine->setToolTip(message);
    m_statusLine->setText(message);
    m_statusLine->setStyleSheet(error ? "QLabel { color: #b00020; font-weight: bold; }" : QString());
}

void MainWindow::refuseWhileRunning(const QString& message)
{
    setStatus(message, true);
    m_jobRefusal = message;
}

void MainWindow::setLanguage(const QString& language)
{
    qApp->removeTranslator(&m_translator);
    m_language = "en";
    if (language == "zh_CN") {
        if (m_translator.load(":/i18n/tunebench_zh_CN.qm")) {
            qApp->installTranslator(&m_translator);
            m_language = language;
        }
    }
    QSettings().setValue("language", m_language);
    m_englishAction->setChecked(m_language == "en");
    m_chineseAction->setChecked(m_language == "zh_CN");
    // Installing or removing a translator sends LanguageChange; retranslate in any case.
    retranslateUi();
}

void MainWindow::changeEvent(QEvent* event)
{
    if (event->type() == QEvent::LanguageChange && m_statusLine)
        retranslateUi();
    QMainWindow::changeEvent(event);
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event)
{
    if (event->mimeData()->hasUrls())
        event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* event)
{
    const auto urls = event->mimeData()->urls();
    if (urls.isEmpty() || !urls.first().isLocalFile())
        return;
    const QString path = urls.first().toLocalFile();
    // A folder without config.json is a dataset; anything else is a checkpoint.
    if (QFileInfo(path).isDir() && !QFileInfo::exists(path + "/config.json"))
        openDatasetPath(path);
    else
        openCheckpoint(path);
}

void MainWindow::closeEvent(QCloseEvent* event)
{
    // Nothing of a run is worth waiting for when the window closes: its folder keeps the last epoch's
    // checkpoint, and `train --resume` continues from there.
    if (isRunning()) {
        m_jobs->abort();
        m_jobs->waitForFinished(2000);
    }
    QSettings settings;
    settings.setValue("window/geometry", saveGeometry());
    settings.setValue("window/state", saveState());
    QMainWindow::closeEvent(event);
}

} // namespace tunebench
