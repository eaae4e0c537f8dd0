#include "widgets/MainWindow.h"

#include "widgets/AtomicSave.h"
#include "widgets/BackgroundTasks.h"
#include "widgets/CurvePlot.h"
#include "widgets/DomainGeneralisationPanel.h"
#include "widgets/FewShotPanel.h"
#include "widgets/ResultsPanel.h"

#include "core/Device.h"
#include "core/Error.h"
#include "core/data/DatasetLayouts.h"
#include "core/experiment/Caches.h"
#include "core/data/FewShot.h"
#include "core/data/ImageDomains.h"
#include "core/io/CheckpointLoader.h"
#include "core/io/VocabularyLocator.h"
#include "core/train/RunStore.h"
#include "core/tuning/Strategy.h"

#include <QAction>
#include <QActionGroup>
#include <QApplication>
#include <QCheckBox>
#include <QCloseEvent>
#include <QComboBox>
#include <QDir>
#include <QDockWidget>
#include <QDoubleSpinBox>
#include <QDragEnterEvent>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QScrollArea>
#include <QSettings>
#include <QSpinBox>
#include <QSplitter>
#include <QStandardItemModel>
#include <QStandardPaths>
#include <QStatusBar>
#include <QTabWidget>
#include <QThread>
#include <QTimer>
#include <QTreeWidget>
#include <QVBoxLayout>

#include <nlohmann/json.hpp>

#include <cmath>

namespace tunebench {

namespace {

// The demo task the workbench opens with, as scripts/run's headless job: a shifted image domain where the
// hand-crafted prompt is only a guess, scored also on the other domains.
constexpr const char* kDemoDataset = "fashion-mnist:tinted";
constexpr const char* kDemoTargets = "fashion-mnist,fashion-mnist:sketch";

constexpr int kMaxRecent = 8;
constexpr int kStrategyNameRole = Qt::UserRole + 1;

// Posts `function` to the GUI thread; it runs only while `target` exists.
template <typename Function>
void postToGui(const QPointer<MainWindow>& target, Function function)
{
    QMetaObject::invokeMethod(
        qApp,
        [target, function] {
            if (target)
                function(target.data());
        },
        Qt::QueuedConnection);
}

QString firstLine(const std::exception& e)
{
    return QString::fromStdString(e.what()).section('\n', 0, 0).trimmed();
}

QString formatDuration(double seconds)
{
    const qint64 total = static_cast<qint64>(std::max(0.0, seconds) + 0.5);
    if (total >= 3600)
        return QString("%1:%2:%3").arg(total / 3600).arg((total / 60) % 60, 2, 10, QChar('0')).arg(total % 60, 2, 10, QChar('0'));
    return QString("%1:%2").arg(total / 60).arg(total % 60, 2, 10, QChar('0'));
}

QString humanCount(qint64 count)
{
    if (count >= 1000000)
        return QString::number(count / 1e6, 'f', 2) + " M";
    if (count >= 10000)
        return QString::number(count / 1e3, 'f', 1) + " k";
    return QString::number(count);
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
    m_controller = new RunController(this);
    m_countTimer = new QTimer(this);
    m_countTimer->setSingleShot(true);
    m_countTimer->setInterval(250);
    connect(m_countTimer, &QTimer::timeout, this, &MainWindow::countParameters);

    const QByteArray envRuns = qgetenv("TUNEBENCH_RUNS_DIR");
    QSettings settings;
    m_runsRoot = !envRuns.isEmpty() ? QString::fromLocal8Bit(envRuns)
                                    : settings.value("runs/root", QStandardPaths::writableLocation(QStandardPaths::AppDataLocation) + "/runs")
                                          .toString();

    // Centre: status line, train bar, curves above the results / history tabs.
    auto* central = new QWidget(this);
    auto* centralLayout = new QVBoxLayout(central);
    m_statusLabel = new QLabel(central);
    m_statusLabel->setWordWrap(true);
    m_statusLabel->setTextInteractionFlags(Qt::TextSelectableByMouse);
    centralLayout->addWidget(m_statusLabel);
    centralLayout->addWidget(buildTrainBar());
    m_curves = new CurvePlot(central);
    m_results = new ResultsPanel(central);
    m_tabs = new QTabWidget(central);
    m_fewShot = new FewShotPanel(central);
    m_generalisation = new DomainGeneralisationPanel(central);
    m_tabs->addTab(m_results, QString());
    m_tabs->addTab(m_fewShot, QString());
    m_tabs->addTab(m_generalisation, QString());
    m_tabs->addTab(buildHistoryPanel(), QString());
    auto* splitter = new QSplitter(Qt::Vertical, central);
    splitter->setObjectName("centralSplitter");
    splitter->addWidget(m_curves);
    splitter->addWidget(m_tabs);
    splitter->setStretchFactor(0, 3);
    splitter->setStretchFactor(1, 2);
    centralLayout->addWidget(splitter, 1);
    setCentralWidget(central);

    m_modelDock = new QDockWidget(this);
    m_modelDock->setObjectName("modelDock");
    m_modelDock->setWidget(buildModelPanel());
    addDockWidget(Qt::LeftDockWidgetArea, m_modelDock);
    m_datasetDock = new QDockWidget(this);
    m_datasetDock->setObjectName("datasetDock");
    m_datasetDock->setWidget(buildDatasetPanel());
    addDockWidget(Qt::LeftDockWidgetArea, m_datasetDock);
    m_strategyDock = new QDockWidget(this);
    m_strategyDock->setObjectName("strategyDock");
    m_strategyDock->setWidget(buildStrategyPanel());
    addDockWidget(Qt::RightDockWidgetArea, m_strategyDock);

    buildMenus();

    connect(m_controller, &RunController::started, this, &MainWindow::onRunStarted);
    connect(m_controller, &RunController::progress, this, &MainWindow::onRunProgress);
    connect(m_controller, &RunController::finished, this, &MainWindow::onRunFinished);
    connect(m_controller, &RunController::failed, this, &MainWindow::onRunFailed);
    connect(m_controller, &RunController::stageChanged, this, [this](const QString& stage) { m_stageLabel->setText(stage); });

    // The compute device is probed once, off the GUI thread (CUDA initialisation can take seconds).
    QPointer<MainWindow> self(this);
    m_tasks->start("device", [self](const TaskToken&) {
        QString line;
        try {
            line = QString::fromStdString(describeDevice(chooseDevice("auto")));
        } catch (const std::exception& e) {
            line = firstLine(e);
        }
        postToGui(self, [line](MainWindow* w) { w->m_deviceLabel->setText(tr("Device: %1").arg(line)); });
    });

    // Last options (a missing setting keeps the widget's default).
    m_shotsSpin->setValue(settings.value("options/shots", m_shotsSpin->value()).toInt());
    m_seedSpin->setValue(settings.value("options/seed", m_seedSpin->value()).toInt());
    m_baseNewCheck->setChecked(settings.value("options/baseNew", true).toBool());
    m_epochsSpin->setValue(settings.value("options/epochs", m_epochsSpin->value()).toInt());
    m_testImagesSpin->setValue(settings.value("options/testImages", m_testImagesSpin->value()).toInt());
    m_evalDatasetsEdit->setText(settings.value("options/evalDatasets").toString());
    fillStrategyCombo();
    selectStrategy(settings.value("options/method", "coop").toString());

    restoreGeometry(settings.value("window/geometry").toByteArray());
    restoreState(settings.value("window/state").toByteArray());
    if (!settings.contains("window/geometry"))
        resize(1400, 900);
    const QString language = settings.value("language", "en").toString();
    if (language != "en")
        setLanguage(language);
    retranslateUi();
    setStatus(tr("Open a checkpoint (File > Open, or drop it here) and a dataset to begin."));
    refreshHistory();
    updateControls();
}

MainWindow::~MainWindow()
{
    // Loads and counts first: a run's worker may wait on nothing of theirs, but they read the caches.
    m_tasks->shutdown();
}

// ---------------------------------------------------------------------------------------------- layout

QWidget* MainWindow::buildModelPanel()
{
    m_modelBox = new QGroupBox(this);
    auto* layout = new QVBoxLayout(m_modelBox);
    m_modelTitle = new QLabel(m_modelBox);
    m_modelTitle->setWordWrap(true);
    m_summary = new QPlainTextEdit(m_modelBox);
    m_summary->setReadOnly(true);
    m_summary->setMinimumHeight(90);
    m_vocabLabel = new QLabel(m_modelBox);
    m_vocabLabel->setWordWrap(true);
    m_deviceLabel = new QLabel(m_modelBox);
    m_deviceLabel->setObjectName("deviceLabel");
    m_deviceLabel->setWordWrap(true);
    m_openModelButton = new QPushButton(m_modelBox);
    m_vocabButton = new QPushButton(m_modelBox);
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(m_openModelButton);
    buttons->addWidget(m_vocabButton);
    layout->addWidget(m_modelTitle);
    layout->addWidget(m_summary, 1);
    layout->addWidget(m_vocabLabel);
    layout->addWidget(m_deviceLabel);
    layout->addLayout(buttons);
    connect(m_openModelButton, &QPushButton::clicked, this, &MainWindow::chooseCheckpoint);
    connect(m_vocabButton, &QPushButton::clicked, this, &MainWindow::chooseVocabulary);
    return m_modelBox;
}

QWidget* MainWindow::buildDatasetPanel()
{
    m_datasetBox = new QGroupBox(this);
    auto* layout = new QVBoxLayout(m_datasetBox);
    m_datasetCombo = new QComboBox(m_datasetBox);
    m_datasetCombo->setEditable(true);
    m_datasetCombo->addItem("fashion-mnist");
    for (const std::string& domain : datasetVariantDomains())
        m_datasetCombo->addItem(QString::fromStdString("fashion-mnist:" + domain));
    m_datasetCombo->setCurrentText(QString());
    m_datasetButton = new QPushButton(m_datasetBox);
    auto* pathRow = new QHBoxLayout;
    pathRow->addWidget(m_datasetCombo, 1);
    pathRow->addWidget(m_datasetButton);
    layout->addLayout(pathRow);

    auto* form = new QFormLayout;
    m_shotsSpin = new QSpinBox(m_datasetBox);
    m_shotsSpin->setRange(0, 10000);
    m_shotsSpin->setValue(16);
    m_seedSpin = new QSpinBox(m_datasetBox);
    m_seedSpin->setRange(0, 1000000);
    m_seedSpin->setValue(1);
    m_baseNewCheck = new QCheckBox(m_datasetBox);
    m_baseNewCheck->setChecked(true);
    m_shotsLabel = new QLabel(m_datasetBox);
    m_seedLabel = new QLabel(m_datasetBox);
    m_evalDatasetsEdit = new QLineEdit(m_datasetBox);
    m_evalDatasetsEdit->setObjectName("evalDatasets");
    m_evalDatasetsLabel = new QLabel(m_datasetBox);
    form->addRow(m_shotsLabel, m_shotsSpin);
    form->addRow(m_seedLabel, m_seedSpin);
    form->addRow(m_baseNewCheck);
    form->addRow(m_evalDatasetsLabel, m_evalDatasetsEdit);
    layout->addLayout(form);

    m_classTree = new QTreeWidget(m_datasetBox);
    m_classTree->setColumnCount(4);
    m_classTree->setRootIsDecorated(false);
    m_classTree->setMinimumHeight(120);
    layout->addWidget(m_classTree, 2);
    m_problemsLabel = new QLabel(m_datasetBox);
    m_problemList = new QListWidget(m_datasetBox);
    m_problemList->setObjectName("problemList");
    m_problemList->setMaximumHeight(70);
    layout->addWidget(m_problemsLabel);
    layout->addWidget(m_problemList);

    connect(m_datasetButton, &QPushButton::clicked, this, &MainWindow::chooseDatasetFolder);
    connect(m_datasetCombo, &QComboBox::activated, this, [this](int index) { openDatasetPath(m_datasetCombo->itemText(index)); });
    connect(m_datasetCombo->lineEdit(), &QLineEdit::returnPressed, this, [this] { openDatasetPath(m_datasetCombo->currentText()); });
    connect(m_baseNewCheck, &QCheckBox::toggled, this, [this] {
        reloadDatasetMembership();
        scheduleParameterCount();
    });
    connect(m_shotsSpin, &QSpinBox::valueChanged, this, &MainWindow::scheduleParameterCount);
    return m_datasetBox;
}

QWidget* MainWindow::buildStrategyPanel()
{
    m_strategyBox = new QGroupBox(this);
    auto* layout = new QVBoxLayout(m_strategyBox);
    m_strategyCombo = new QComboBox(m_strategyBox);
    m_strategyCombo->setModel(new QStandardItemModel(m_strategyCombo));
    m_strategyDescription = new QLabel(m_strategyBox);
    m_strategyDescription->setWordWrap(true);
    m_formHost = new QWidget;
    m_form = new QFormLayout(m_formHost);
    auto* scroll = new QScrollArea(m_strategyBox);
    scroll->setWidgetResizable(true);
    scroll->setWidget(m_formHost);
    scroll->setFrameShape(QFrame::NoFrame);
    m_paramCountLabel = new QLabel(m_strategyBox);
    QFont bold = m_paramCountLabel->font();
    bold.setBold(true);
    m_paramCountLabel->setFont(bold);

    m_overridesBox = new QGroupBox(m_strategyBox);
    m_overridesForm = new QFormLayout(m_overridesBox);
    m_epochsSpin = new QSpinBox(m_overridesBox);
    m_epochsSpin->setRange(0, 1000);
    m_epochsSpin->setValue(0);  // the recipe: on the demo model a CoOp run takes about 15 s on two CPU cores
    m_lrSpin = new QDoubleSpinBox(m_overridesBox);
    m_lrSpin->setDecimals(5);
    m_lrSpin->setRange(0, 10);
    m_lrSpin->setSingleStep(0.001);
    m_batchSpin = new QSpinBox(m_overridesBox);
    m_batchSpin->setRange(0, 4096);
    m_maxStepsSpin = new QSpinBox(m_overridesBox);
    m_maxStepsSpin->setRange(0, 10000000);
    m_testImagesSpin = new QSpinBox(m_overridesBox);
    m_testImagesSpin->setRange(0, 10000000);
    m_testImagesSpin->setValue(1000);
    m_cropSpin = new QDoubleSpinBox(m_overridesBox);
    m_cropSpin->setObjectName("cropScaleMin");
    m_cropSpin->setDecimals(2);
    m_cropSpin->setRange(0, 1);
    m_cropSpin->setSingleStep(0.05);
    for (QAbstractSpinBox* spin :
         std::initializer_list<QAbstractSpinBox*>{m_epochsSpin, m_lrSpin, m_batchSpin, m_maxStepsSpin, m_testImagesSpin, m_cropSpin})
        m_overridesForm->addRow(new QLabel(m_overridesBox), spin);

    layout->addWidget(m_strategyCombo);
    layout->addWidget(m_strategyDescription);
    layout->addWidget(scroll, 1);
    layout->addWidget(m_paramCountLabel);
    layout->addWidget(m_overridesBox);
    connect(m_strategyCombo, &QComboBox::currentIndexChanged, this, [this] {
        rebuildStrategyForm();
        scheduleParameterCount();
    });
    connect(m_maxStepsSpin, &QSpinBox::valueChanged, this, [this](int v) { m_maxSteps = v; });
    return m_strategyBox;
}

QWidget* MainWindow::buildTrainBar()
{
    auto* bar = new QWidget(this);
    auto* layout = new QHBoxLayout(bar);
    layout->setContentsMargins(0, 0, 0, 0);
    m_startButton = new QPushButton(bar);
    m_pauseButton = new QPushButton(bar);
    m_pauseButton->setCheckable(true);
    m_stopButton = new QPushButton(bar);
    m_progress = new QProgressBar(bar);
    m_progress->setRange(0, 1);
    m_progress->setValue(0);
    m_progress->setTextVisible(true);
    m_progress->setMinimumWidth(360);
    m_stageLabel = new QLabel(bar);
    m_memoryLabel = new QLabel(bar);
    m_memoryLabel->setVisible(false);
    layout->addWidget(m_startButton);
    layout->addWidget(m_pauseButton);
    layout->addWidget(m_stopButton);
    layout->addWidget(m_progress, 1);
    layout->addWidget(m_stageLabel);
    layout->addWidget(m_memoryLabel);
    connect(m_startButton, &QPushButton::clicked, this, [this] { startRun(); });
    connect(m_pauseButton, &QPushButton::toggled, this, &MainWindow::setRunPaused);
    connect(m_stopButton, &QPushButton::clicked, this, &MainWindow::stopRun);
    return bar;
}

QWidget* MainWindow::buildHistoryPanel()
{
    auto* panel = new QWidget(this);
    auto* layout = new QVBoxLayout(panel);
    m_historyRootLabel = new QLabel(panel);
    m_historyRootLabel->setWordWrap(true);
    m_history = new QTreeWidget(panel);
    m_history->setColumnCount(5);
    m_history->setRootIsDecorated(false);
    m_history->setSelectionMode(QAbstractItemView::ExtendedSelection);
    m_historyRefresh = new QPushButton(panel);
    m_historyOpen = new QPushButton(panel);
    m_historyDelete = new QPushButton(panel);
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(m_historyRefresh);
    buttons->addWidget(m_historyOpen);
    buttons->addWidget(m_historyDelete);
    buttons->addStretch(1);
    layout->addWidget(m_historyRootLabel);
    layout->addWidget(m_history, 1);
    layout->addLayout(buttons);
    connect(m_historyRefresh, &QPushButton::clicked, this, &MainWindow::refreshHistory);
    connect(m_historyOpen, &QPushButton::clicked, this, &MainWindow::reopenSelectedRuns);
    connect(m_historyDelete, &QPushButton::clicked, this, &MainWindow::deleteSelectedRuns);
    connect(m_history, &QTreeWidget::itemSelectionChanged, this, &MainWindow::updateControls);
    connect(m_history, &QTreeWidget::itemDoubleClicked, this, &MainWindow::reopenSelectedRuns);
    return panel;
}

void MainWindow::buildMenus()
{
    m_fileMenu = menuBar()->addMenu(QString());
    m_openAction = m_fileMenu->addAction(QString(), this, &MainWindow::chooseCheckpoint);
    m_openAction->setShortcut(QKeySequence::Open);
    m_recentMenu = m_fileMenu->addMenu(QString());
    m_vocabAction = m_fileMenu->addAction(QString(), this, &MainWindow::chooseVocabulary);
    m_datasetAction = m_fileMenu->addAction(QString(), this, &MainWindow::chooseDatasetFolder);
    m_fileMenu->addSeparator();
    m_exportPromptAction = m_fileMenu->addAction(QString(), this, &MainWindow::exportPrompt);
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
    m_viewMenu->addAction(m_modelDock->toggleViewAction());
    m_viewMenu->addAction(m_datasetDock->toggleViewAction());
    m_viewMenu->addAction(m_strategyDock->toggleViewAction());

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
}

void MainWindow::retranslateUi()
{
    setWindowTitle(tr("Tunebench"));
    m_modelDock->setWindowTitle(tr("Model"));
    m_datasetDock->setWindowTitle(tr("Dataset"));
    m_strategyDock->setWindowTitle(tr("Strategy"));
    m_modelBox->setTitle(QString());
    m_datasetBox->setTitle(QString());
    m_strategyBox->setTitle(QString());
    if (m_modelPath.isEmpty())
        m_modelTitle->setText(tr("No model loaded."));
    m_summary->setPlaceholderText(tr("Model summary: family, towers, resolution, parameters, file hash"));
    m_openModelButton->setText(tr("Open..."));
    m_openModelButton->setToolTip(tr("Open a checkpoint: OpenAI .pt, .safetensors, or a Hugging Face folder"));
    m_vocabButton->setText(tr("Vocabulary..."));
    m_vocabButton->setToolTip(tr("Choose the CLIP vocabulary (bpe_simple_vocab_16e6.txt.gz or a folder with vocab.json + merges.txt)"));
    if (m_deviceLabel->text().isEmpty())
        m_deviceLabel->setText(tr("Device: probing..."));

    m_datasetCombo->setToolTip(tr("A dataset folder (class sub-folders, a CoOp benchmark folder or IDX files) or fashion-mnist"));
    m_datasetCombo->lineEdit()->setPlaceholderText(tr("Dataset folder or fashion-mnist"));
    m_datasetButton->setText(tr("Folder..."));
    m_datasetButton->setToolTip(tr("Choose a dataset folder"));
    m_shotsLabel->setText(tr("Shots per class"));
    m_shotsSpin->setToolTip(tr("Training images per class (CoOp's few-shot sampling); 0 uses the whole training split"));
    m_shotsSpin->setSpecialValueText(tr("all"));
    m_seedLabel->setText(tr("Seed"));
    m_seedSpin->setToolTip(tr("Seed of the few-shot sampling, the shuffling and the initialisation"));
    m_baseNewCheck->setText(tr("Base-to-new split"));
    m_baseNewCheck->setToolTip(tr("Train on the first half of the classes and test on both halves (CoCoOp's protocol); "
                                  "only for methods that use the text tower"));
    m_evalDatasetsLabel->setText(tr("Evaluate also on"));
    m_evalDatasetsEdit->setPlaceholderText(tr("e.g. fashion-mnist,fashion-mnist:sketch"));
    m_evalDatasetsEdit->setToolTip(tr("Domain generalisation: datasets with the same classes, separated by commas; every run is "
                                      "also scored on their test images (the Domain generalisation tab)"));
    m_classTree->setHeaderLabels({tr("Class"), tr("Train"), tr("Test"), tr("Split")});
    reloadDatasetMembership();  // its base / new / all column is translated text
    m_problemsLabel->setText(tr("Problems"));

    m_strategyCombo->setToolTip(tr("Prompt learning needs a CLIP model with a text tower; classic tuning works on any vision tower"));
    m_epochsSpin->setSpecialValueText(tr("recipe"));
    m_lrSpin->setSpecialValueText(tr("recipe"));
    m_batchSpin->setSpecialValueText(tr("recipe"));
    m_maxStepsSpin->setSpecialValueText(tr("no limit"));
    m_testImagesSpin->setSpecialValueText(tr("all"));
    m_overridesBox->setTitle(tr("Training"));
    // The dataset's recipe value shows where the field is left at 0 (Dassl's per-dataset configs).
    m_cropSpin->setSpecialValueText(m_datasetCropScale > 0 ? tr("dataset: %1").arg(m_datasetCropScale) : tr("dataset"));
    const QStringList overrideLabels = {tr("Epochs"), tr("Learning rate"), tr("Batch size"), tr("Max steps"), tr("Test images"),
                                        tr("Crop scale min")};
    const QStringList overrideTips = {tr("Epochs to train; 'recipe' uses the method's published schedule"),
                                      tr("Peak learning rate; 'recipe' uses the method's"),
                                      tr("Images per step; 'recipe' uses the method's"),
                                      tr("Stop training after this many steps (quick checks)"),
                                      tr("Evaluate on a fixed random subset of each test split (quicker); 'all' uses every test image"),
                                      tr("Smallest area fraction of the random resized crop; 'dataset' uses the dataset's recipe "
                                         "(0.5 for 28-pixel images, else torchvision's 0.08)")};
    for (int row = 0; row < m_overridesForm->rowCount() && row < overrideLabels.size(); ++row) {
        if (QLayoutItem* item = m_overridesForm->itemAt(row, QFormLayout::LabelRole))
            if (auto* label = qobject_cast<QLabel*>(item->widget()))
                label->setText(overrideLabels[row]);
        m_overridesForm->itemAt(row, QFormLayout::FieldRole)->widget()->setToolTip(overrideTips[row]);
    }

    m_startButton->setText(tr("Start"));
    m_pauseButton->setText(m_pauseButton->isChecked() ? tr("Resume") : tr("Pause"));
    m_stopButton->setText(tr("Stop"));
    if (!isRunning())
        m_progress->setFormat(tr("Idle"));
    m_tabs->setTabText(m_tabs->indexOf(m_results), tr("Results"));
    m_tabs->setTabText(m_tabs->indexOf(m_fewShot), tr("Few-shot curves"));
    m_tabs->setTabText(m_tabs->indexOf(m_generalisation), tr("Domain generalisation"));
    m_tabs->setTabText(m_tabs->count() - 1, tr("Run history"));
    m_history->setHeaderLabels({tr("Run"), tr("Method"), tr("Dataset"), tr("Status"), tr("Result")});
    m_historyRefresh->setText(tr("Refresh"));
    m_historyOpen->setText(tr("Show results"));
    m_historyOpen->setToolTip(tr("Add the selected runs to the results table, to compare them"));
    m_historyDelete->setText(tr("Delete"));
    m_historyDelete->setToolTip(tr("Delete the selected run folders from disk"));
    m_historyRootLabel->setText(tr("Runs are stored in %1").arg(QDir::toNativeSeparators(m_runsRoot)));

    m_fileMenu->setTitle(tr("&File"));
    m_openAction->setText(tr("&Open checkpoint..."));
    m_recentMenu->setTitle(tr("Open &recent"));
    m_vocabAction->setText(tr("Choose &vocabulary..."));
    m_datasetAction->setText(tr("Open &dataset folder..."));
    m_exportPromptAction->setText(tr("&Export learned prompt..."));
    m_importPromptAction->setText(tr("E&valuate exported prompt..."));
    m_importPromptAction->setToolTip(tr("Evaluate a prompt exported by Tunebench on the classes of the open dataset"));
    m_quitAction->setText(tr("&Quit"));
    m_viewMenu->setTitle(tr("&View"));
    m_languageMenu->setTitle(tr("&Language"));
    m_curves->retranslate();
    m_results->retranslate();
    m_fewShot->retranslate();
    m_generalisation->retranslate();
    fillStrategyCombo();
    updateControls();
}

// ---------------------------------------------------------------------------------------------- strategy

void MainWindow::fillStrategyCombo()
{
    const QString current = m_strategyCombo->currentData(kStrategyNameRole).toString();
    auto* model = static_cast<QStandardItemModel*>(m_strategyCombo->model());
    const QSignalBlocker blocker(m_strategyCombo);
    model->clear();
    const bool visionOnly = !m_modelPath.isEmpty() && !m_modelHasText;
    for (StrategyFamily family : {StrategyFamily::PromptLearning, StrategyFamily::ClassicPetl}) {
        auto* header = new QStandardItem(family == StrategyFamily::PromptLearning ? tr("Prompt learning (CLIP)") : tr("Classic tuning (ViT)"));
        header->setFlags(Qt::NoItemFlags);
        QFont font = header->font();
        font.setBold(true);
        header->setFont(font);
        model->appendRow(header);
        for (const StrategyInfo& info : strategyRegistry()) {
            if (info.family != family)
                continue;
            auto* item = new QStandardItem("    " + QString::fromStdString(info.title));
            item->setData(QString::fromStdString(info.name), kStrategyNameRole);
            item->setToolTip(QString::fromStdString(info.description));
            if (family == StrategyFamily::PromptLearning && visionOnly) {
                item->setFlags(item->flags() & ~Qt::ItemIsEnabled);
                item->setToolTip(tr("Needs a CLIP model with a text tower; the loaded model is vision-only"));
            }
            model->appendRow(item);
        }
    }
    int index = m_strategyCombo->findData(current, kStrategyNameRole);
    if (index < 0 || !(model->item(index)->flags() & Qt::ItemIsEnabled)) {
        // Fall back to the first enabled strategy: CoOp for CLIP, linear for a vision-only model.
        index = m_strategyCombo->findData(visionOnly ? "linear" : "coop", kStrategyNameRole);
        for (int i = 0; index < 0 && i < model->rowCount(); ++i)
            if (model->item(i)->flags() & Qt::ItemIsEnabled)
                index = i;
    }
    m_strategyCombo->setCurrentIndex(index);
    if (current != m_strategyCombo->currentData(kStrategyNameRole).toString() || m_fieldEditors.isEmpty())
        rebuildStrategyForm();
}

bool MainWindow::selectStrategy(const QString& name)
{
    const int index = m_strategyCombo->findData(name, kStrategyNameRole);
    if (index < 0)
        return false;
    auto* model = static_cast<QStandardItemModel*>(m_strategyCombo->model());
    if (!(model->item(index)->flags() & Qt::ItemIsEnabled))
        return false;
    m_strategyCombo->setCurrentIndex(index);
    return true;
}

void MainWindow::rebuildStrategyForm()
{
    while (m_form->rowCount() > 0)
        m_form->removeRow(0);
    m_fieldEditors.clear();
    const QString name = m_strategyCombo->currentData(kStrategyNameRole).toString();
    if (name.isEmpty()) {
        m_strategyDescription->clear();
        return;
    }
    const StrategyInfo& info = findStrategy(name.toStdString());
    m_strategyDescription->setText(QString::fromStdString(info.description));
    QSettings settings;
    const QVariantMap saved = settings.value("options/strategy/" + name).toMap();
    for (const ParamField& field : info.schema) {
        const QString key = QString::fromStdString(field.name);
        const QString help = QString::fromStdString(field.help);
        const bool bounded = field.max > field.min;
        QWidget* editor = nullptr;
        switch (field.type) {
        case ParamField::Type::Int: {
            auto* spin = new QSpinBox(m_formHost);
            spin->setRange(bounded ? int(field.min) : -1000000000, bounded ? int(field.max) : 1000000000);
            spin->setValue(saved.value(key, field.defaultValue.is_number() ? field.defaultValue.get<int>() : 0).toInt());
            connect(spin, &QSpinBox::valueChanged, this, &MainWindow::scheduleParameterCount);
            editor = spin;
            break;
        }
        case ParamField::Type::Double: {
            auto* spin = new QDoubleSpinBox(m_formHost);
            spin->setDecimals(6);
            spin->setRange(bounded ? field.min : -1e9, bounded ? field.max : 1e9);
            const double value = field.defaultValue.is_number() ? field.defaultValue.get<double>() : 0.0;
            spin->setSingleStep(value != 0 ? std::pow(10.0, std::floor(std::log10(std::abs(value)))) : 0.1);
            spin->setValue(saved.value(key, value).toDouble());
            connect(spin, &QDoubleSpinBox::valueChanged, this, &MainWindow::scheduleParameterCount);
            editor = spin;
            break;
        }
        case ParamField::Type::Bool: {
            auto* check = new QCheckBox(m_formHost);
            check->setChecked(saved.value(key, field.defaultValue.is_boolean() && field.defaultValue.get<bool>()).toBool());
            connect(check, &QCheckBox::toggled, this, &MainWindow::scheduleParameterCount);
            editor = check;
            break;
        }
        case ParamField::Type::Choice: {
            auto* combo = new QComboBox(m_formHost);
            for (const auto& choice : field.choices)
                combo->addItem(QString::fromStdString(choice));
            const QString def = field.defaultValue.is_string() ? QString::fromStdString(field.defaultValue.get<std::string>()) : QString();
            combo->setCurrentText(saved.value(key, def).toString());
            connect(combo, &QComboBox::currentIndexChanged, this, &MainWindow::scheduleParameterCount);
            editor = combo;
            break;
        }
        case ParamField::Type::Text: {
            auto* line = new QLineEdit(m_formHost);
            const QString def = field.defaultValue.is_string() ? QString::fromStdString(field.defaultValue.get<std::string>()) : QString();
            line->setText(saved.value(key, def).toString());
            line->setPlaceholderText(help.left(40));
            connect(line, &QLineEdit::editingFinished, this, &MainWindow::scheduleParameterCount);
            editor = line;
            break;
        }
        }
        QString tip = help;
        if (bounded)
            tip += "\n" + tr("Range: %1 to %2").arg(field.min).arg(field.max);
        tip += "\n" + tr("Default: %1").arg(QString::fromStdString(field.defaultValue.dump()));
        editor->setToolTip(tip);
        auto* label = new QLabel(key, m_formHost);
        label->setToolTip(tip);
        m_form->addRow(label, editor);
        m_fieldEditors.insert(key, editor);
    }
    if (info.schema.empty())
        m_form->addRow(new QLabel(tr("This method has no options."), m_formHost));
}

QVariantMap MainWindow::options() const
{
    QVariantMap out;
    for (auto it = m_fieldEditors.begin(); it != m_fieldEditors.end(); ++it) {
        QWidget* editor = it.value();
        if (auto* spin = qobject_cast<QSpinBox*>(editor))
            out.insert(it.key(), spin->value());
        else if (auto* dspin = qobject_cast<QDoubleSpinBox*>(editor))
            out.insert(it.key(), dspin->value());
        else if (auto* check = qobject_cast<QCheckBox*>(editor))
            out.insert(it.key(), check->isChecked());
        else if (auto* combo = qobject_cast<QComboBox*>(editor))
            out.insert(it.key(), combo->currentText());
        else if (auto* line = qobject_cast<QLineEdit*>(editor))
            out.insert(it.key(), line->text());
    }
    return out;
}

void MainWindow::setOption(const QString& name, const QVariant& value)
{
    QWidget* editor = m_fieldEditors.value(name);
    if (auto* spin = qobject_cast<QSpinBox*>(editor))
        spin->setValue(value.toInt());
    else if (auto* dspin = qobject_cast<QDoubleSpinBox*>(editor))
        dspin->setValue(value.toDouble());
    else if (auto* check = qobject_cast<QCheckBox*>(editor))
        check->setChecked(value.toBool());
    else if (auto* combo = qobject_cast<QComboBox*>(editor))
        combo->setCurrentText(value.toString());
    else if (auto* line = qobject_cast<QLineEdit*>(editor)) {
        line->setText(value.toString());
        scheduleParameterCount();
    }
}

void MainWindow::setTrainingOverrides(int epochs, double lr, int batchSize)
{
    m_epochsSpin->setValue(epochs);
    m_lrSpin->setValue(lr);
    m_batchSpin->setValue(batchSize);
}

void MainWindow::setShots(int shots)
{
    m_shotsSpin->setValue(shots);
}

void MainWindow::setMaxSteps(qint64 steps)
{
    m_maxSteps = steps;
    m_maxStepsSpin->setValue(static_cast<int>(steps));
}

void MainWindow::setMaxTestImages(int images)
{
    m_testImagesSpin->setValue(images);
}

void MainWindow::setRunsRoot(const QString& folder)
{
    m_runsRoot = folder;
    m_historyRootLabel->setText(tr("Runs are stored in %1").arg(QDir::toNativeSeparators(m_runsRoot)));
    refreshHistory();
}

void MainWindow::scheduleParameterCount()
{
    m_paramCountLabel->setText(m_modelPath.isEmpty() ? tr("Trainable parameters: load a model") : tr("Trainable parameters: counting..."));
    if (!m_modelPath.isEmpty() && m_modelProblem.isEmpty())
        m_countTimer->start();
}

void MainWindow::countParameters()
{
    if (m_modelPath.isEmpty() || m_modelLoading)
        return;
    const RunRequest request = currentRequest();
    // The class count matters for class-specific methods; before a dataset is open, count for two classes.
    QStringList classes = m_classNames.isEmpty() ? QStringList{"class a", "class b"} : m_classNames;
    const int generation = ++m_countGeneration;
    QPointer<MainWindow> self(this);
    m_tasks->start("count", [self, request, classes, generation](const TaskToken&) {
        qint64 count = -1;
        QString problem;
        try {
            count = RunController::countTrainableParameters(request, classes);
        } catch (const std::exception& e) {
            problem = firstLine(e);
        }
        postToGui(self, [count, problem, generation](MainWindow* w) {
            if (generation != w->m_countGeneration)
                return;  // options changed meanwhile; a newer count is on its way
            w->m_trainableParameters = count;
            if (count >= 0)
                w->m_paramCountLabel->setText(tr("Trainable parameters: %1").arg(QLocale().toString(count)));
            else
                w->m_paramCountLabel->setText(tr("Options problem: %1").arg(problem));
            w->m_paramCountLabel->setToolTip(problem);
            Q_EMIT w->parameterCountChanged(count);
        });
    });
}

// ---------------------------------------------------------------------------------------------- model

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
    const QSettings settings;
    if (!settings.contains("options/dataset") && m_evalDatasetsEdit->text().isEmpty())
        m_evalDatasetsEdit->setText(kDemoTargets);
    openDatasetPath(settings.value("options/dataset", kDemoDataset).toString());
}

void MainWindow::chooseCheckpoint()
{
    const QString path = QFileDialog::getOpenFileName(this, tr("Open checkpoint"), QString(),
                                                      tr("Checkpoints (*.pt *.pth *.bin *.safetensors config.json);;All files (*)"));
    if (path.isEmpty())
        return;
    // A Hugging Face model is a folder: picking its config.json means the folder.
    openCheckpoint(QFileInfo(path).fileName() == "config.json" ? QFileInfo(path).absolutePath() : path);
}

void MainWindow::chooseVocabulary()
{
    const QString path = QFileDialog::getOpenFileName(this, tr("Choose the CLIP vocabulary"), QString(),
                                                      tr("CLIP vocabulary (*.gz vocab.json);;All files (*)"));
    if (!path.isEmpty())
        setVocabulary(QFileInfo(path).fileName() == "vocab.json" ? QFileInfo(path).absolutePath() : path);
}

void MainWindow::setVocabulary(const QString& path)
{
    m_vocabularyPath = path;
    if (!m_modelPath.isEmpty())
        openCheckpoint(m_modelPath);
}

void MainWindow::openCheckpoint(const QString& path)
{
    if (isRunning()) {
        setStatus(tr("A run is in progress: stop it before opening another model."), true);
        return;
    }
    m_modelLoading = true;
    setStatus(tr("Loading %1 ...").arg(QDir::toNativeSeparators(path)));
    updateControls();
    QPointer<MainWindow> self(this);
    const QString vocabulary = m_vocabularyPath;
    m_tasks->start("model", [self, path, vocabulary](const TaskToken&) {
        QString summary, failure, vocabFound, vocabProblem;
        try {
            // Read once into the cache that parameter counts and runs use; only when that fails is the
            // checkpoint read alone, to tell a model problem from a vocabulary problem.
            std::shared_ptr<const Backbone> backbone;
            try {
                backbone = cachedBackbone(path.toStdString(), vocabulary.toStdString());
            } catch (const std::exception&) {
                backbone = std::make_shared<const Backbone>(Backbone{path.toStdString(), readCheckpoint(path.toStdString()), nullptr, c10::kCPU});
            }
            const Checkpoint& checkpoint = backbone->checkpoint;
            buildModel(checkpoint);
            summary = QString::fromStdString(checkpoint.spec.summary().dump(2));
            if (checkpoint.spec.text) {
                try {
                    vocabFound = QString::fromStdString(locateVocabulary(vocabulary.toStdString(), path.toStdString()));
                } catch (const std::exception& e) {
                    vocabProblem = firstLine(e);
                }
            }
        } catch (const std::exception& e) {
            failure = firstLine(e);
        }
        postToGui(self, [path, summary, failure, vocabFound, vocabProblem](MainWindow* w) {
            w->m_modelLoading = false;
            if (!failure.isEmpty()) {
                w->showFailure(failure);
                return;
            }
            w->m_modelPath = path;
            w->rememberRecent(path);
            w->showLoaded(summary, vocabFound, vocabProblem);
        });
    });
}

QString MainWindow::summaryText() const
{
    return m_summary->toPlainText();
}

QString MainWindow::statusText() const
{
    return m_statusLabel->text();
}

QString MainWindow::modelProblem() const
{
    return m_modelProblem;
}

QStringList MainWindow::datasetProblems() const
{
    return m_datasetProblems;
}

void MainWindow::showLoaded(const QString& summaryJson, const QString& vocabulary, const QString& vocabProblem)
{
    m_modelSummaryJson = summaryJson;
    const auto summary = nlohmann::json::parse(summaryJson.toStdString());
    m_modelHasText = summary.contains("text");
    m_modelProblem = vocabProblem;
    const QString name = QString::fromStdString(summary.value("name", ""));
    const QString family = QString::fromStdString(summary.value("family", ""));
    const QString hash = QString::fromStdString(summary.value("sha256", ""));
    const qint64 parameters = summary.value("parameters", 0LL);
    const int resolution = summary.value("resolution", 0);
    QString text = tr("Name: %1\nFamily: %2\nTowers: %3\nResolution: %4 px\nParameters: %5 (%6)\nSHA-256: %7\nFormat: %8")
                       .arg(name, family, m_modelHasText ? tr("image + text") : tr("image only"))
                       .arg(resolution)
                       .arg(QLocale().toString(parameters), humanCount(parameters), hash.isEmpty() ? tr("not computed") : hash.left(16) + "…",
                            QString::fromStdString(summary.value("format", "")));
    m_summary->setPlainText(text);
    m_summary->setToolTip(summaryJson);
    m_modelTitle->setText(tr("<b>%1</b>").arg(name.toHtmlEscaped()));
    if (!m_modelHasText)
        m_vocabLabel->setText(tr("Vocabulary: not needed (vision-only model)"));
    else if (!vocabProblem.isEmpty())
        m_vocabLabel->setText(tr("<span style='color:#b00020'>Vocabulary missing: %1</span>").arg(vocabProblem.toHtmlEscaped()));
    else
        m_vocabLabel->setText(tr("Vocabulary: %1").arg(QDir::toNativeSeparators(vocabulary)));
    m_vocabLabel->setToolTip(vocabProblem);
    if (vocabProblem.isEmpty())
        setStatus(tr("Loaded %1: %2, %3 parameters").arg(name, family, QLocale().toString(parameters)));
    else
        setStatus(tr("Loaded %1, but its vocabulary is missing: %2 (File > Choose vocabulary)").arg(name, vocabProblem), true);
    fillStrategyCombo();
    scheduleParameterCount();
    updateControls();
    Q_EMIT modelLoaded(summaryJson);
}

void MainWindow::showFailure(const QString& message)
{
    setStatus(tr("Could not load the model: %1").arg(message), true);
    statusBar()->showMessage(tr("Loading failed"), 5000);
    updateControls();
    Q_EMIT loadFailed(message);
}

// ---------------------------------------------------------------------------------------------- dataset

void MainWindow::chooseDatasetFolder()
{
    const QString folder = QFileDialog::getExistingDirectory(this, tr("Open dataset folder"));
    if (!folder.isEmpty())
        openDatasetPath(folder);
}

void MainWindow::openDatasetPath(const QString& pathOrName)
{
    if (pathOrName.trimmed().isEmpty())
        return;
    if (isRunning()) {
        setStatus(tr("A run is in progress: stop it before opening another dataset."), true);
        return;
    }
    m_datasetLoading = true;
    if (m_datasetCombo->currentText() != pathOrName)
        m_datasetCombo->setCurrentText(pathOrName);
    setStatus(tr("Opening dataset %1 ...").arg(pathOrName));
    updateControls();
    QPointer<MainWindow> self(this);
    m_tasks->start("dataset", [self, pathOrName](const TaskToken& token) {
        QString failure, name;
        QStringList classes, problems;
        QVector<qint64> trainCounts, testCounts;
        double cropScale = 0;
        try {
            // Into the cache that runs use; a closing window or a newer request cancels a long open.
            const auto opened = cachedDataset(pathOrName.toStdString(), [&token](const std::string&) {
                if (token.cancelled())
                    throw Error("cancelled");
            });
            const DatasetIndex& dataset = *opened;
            name = QString::fromStdString(dataset.name);
            cropScale = dataset.recipe.cropScaleMin;
            for (const auto& c : dataset.classNames)
                classes << QString::fromStdString(c);
            for (const auto& counts : dataset.perClassCounts()) {
                trainCounts << static_cast<qint64>(counts.train);
                testCounts << static_cast<qint64>(counts.test);
            }
            for (const auto& p : dataset.problems)
                problems << QString::fromStdString(p);
            if (dataset.train.empty() && dataset.test.empty())
                failure = tr("%1: no images found").arg(pathOrName);
        } catch (const std::exception& e) {
            failure = firstLine(e);
        }
        if (token.cancelled())
            return;  // a newer request or a closing window
        postToGui(self, [=](MainWindow* w) {
            w->m_datasetLoading = false;
            if (!failure.isEmpty()) {
                w->setStatus(tr("Could not open the dataset: %1").arg(failure), true);
                w->updateControls();
                Q_EMIT w->datasetFailed(failure);
                return;
            }
            w->m_datasetPath = pathOrName;
            w->m_datasetCropScale = cropScale;
            w->m_cropSpin->setSpecialValueText(tr("dataset: %1").arg(cropScale));
            w->m_fewShot->setDataset(name);
            w->showDataset(name, classes, trainCounts, testCounts, problems);
        });
    });
}

void MainWindow::showProblems(const QStringList& problems)
{
    m_problemList->clear();
    m_problemList->addItems(problems);
    m_problemsLabel->setText(problems.isEmpty() ? tr("Problems: none") : tr("Problems: %1").arg(problems.size()));
}

void MainWindow::showDataset(const QString& name, const QStringList& classes, const QVector<qint64>& trainCounts,
                             const QVector<qint64>& testCounts, const QStringList& problems)
{
    m_classNames = classes;
    m_trainCounts = trainCounts;
    m_testCounts = testCounts;
    m_datasetProblems = problems;
    showProblems(problems);
    reloadDatasetMembership();
    qint64 train = 0, test = 0;
    for (qint64 v : trainCounts)
        train += v;
    for (qint64 v : testCounts)
        test += v;
    setStatus(tr("Dataset %1: %2 classes, %3 training and %4 test images").arg(name).arg(classes.size()).arg(train).arg(test));
    scheduleParameterCount();
    updateControls();
    Q_EMIT datasetLoaded();
}

void MainWindow::reloadDatasetMembership()
{
    m_classTree->clear();
    // CoOp's subsample_classes: the first ceil(n/2) labels are base, the rest new.
    const int baseCount = (m_classNames.size() + 1) / 2;
    const bool split = m_baseNewCheck->isChecked();
    for (int c = 0; c < m_classNames.size(); ++c) {
        auto* item = new QTreeWidgetItem(m_classTree);
        item->setText(0, m_classNames[c]);
        item->setText(1, QString::number(c < m_trainCounts.size() ? m_trainCounts[c] : 0));
        item->setText(2, QString::number(c < m_testCounts.size() ? m_testCounts[c] : 0));
        item->setText(3, split ? (c < baseCount ? tr("base") : tr("new")) : tr("all"));
        item->setTextAlignment(1, Qt::AlignRight);
        item->setTextAlignment(2, Qt::AlignRight);
        if (split && c >= baseCount)
            item->setForeground(3, QColor(148, 103, 189));
    }
    for (int i = 0; i < 4; ++i)
        m_classTree->resizeColumnToContents(i);
}

// ---------------------------------------------------------------------------------------------- runs

RunRequest MainWindow::currentRequest() const
{
    RunRequest request;
    request.modelPath = m_modelPath;
    request.vocabularyPath = m_vocabularyPath;
    request.dataset = m_datasetPath;
    request.method = m_strategyCombo->currentData(kStrategyNameRole).toString();
    request.options = options();
    request.shots = m_shotsSpin->value();
    request.seed = m_seedSpin->value();
    request.baseNew = m_baseNewCheck->isChecked();
    request.epochs = m_epochsSpin->value();
    request.lr = m_lrSpin->value();
    request.batchSize = m_batchSpin->value();
    request.maxSteps = m_maxSteps;
    request.maxTestImages = m_testImagesSpin->value();
    request.runsRoot = m_runsRoot;
    request.importPrompt = m_importPrompt;
    for (const QString& name : m_evalDatasetsEdit->text().split(',', Qt::SkipEmptyParts))
        if (!name.trimmed().isEmpty())
            request.evalDatasets << name.trimmed();
    request.cropScaleMin = m_cropSpin->value();
    return request;
}

bool MainWindow::isRunning() const
{
    return m_controller->isRunning();
}

bool MainWindow::startRun()
{
    QString why;
    if (isRunning())
        why = tr("a run is already in progress");
    else if (m_modelPath.isEmpty())
        why = tr("no model is loaded");
    else if (!m_modelProblem.isEmpty())
        why = m_modelProblem;
    else if (m_datasetPath.isEmpty())
        why = tr("no dataset is open");
    else if (m_strategyCombo->currentData(kStrategyNameRole).toString().isEmpty())
        why = tr("no strategy is selected");
    if (!why.isEmpty()) {
        setStatus(tr("Cannot start: %1").arg(why), true);
        return false;
    }
    const RunRequest request = currentRequest();
    QSettings settings;
    settings.setValue("options/method", request.method);
    settings.setValue("options/strategy/" + request.method, request.options);
    settings.setValue("options/shots", request.shots);
    settings.setValue("options/seed", request.seed);
    settings.setValue("options/baseNew", request.baseNew);
    settings.setValue("options/epochs", request.epochs);
    settings.setValue("options/testImages", request.maxTestImages);
    settings.setValue("options/dataset", request.dataset);
    settings.setValue("options/evalDatasets", m_evalDatasetsEdit->text());
    m_curveRun = -1;
    m_memoryLabel->clear();
    m_memoryLabel->setVisible(false);
    m_pauseButton->setChecked(false);
    m_progress->setRange(0, 0);  // busy until the first step reports the total
    m_progress->setFormat(tr("Starting..."));
    m_controller->start(request);
    setStatus(tr("Running %1 on %2 ...").arg(m_strategyCombo->currentText().trimmed(), request.dataset));
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
    if (!isRunning()) {
        const QSignalBlocker blocker(m_pauseButton);
        m_pauseButton->setChecked(false);
        return;
    }
    if (m_pauseButton->isChecked() != paused) {
        const QSignalBlocker blocker(m_pauseButton);
        m_pauseButton->setChecked(paused);
    }
    // An atomic flag: the worker thread is busy training, a queued slot would wait for the run's end.
    m_controller->setPaused(paused);
    m_pauseButton->setText(paused ? tr("Resume") : tr("Pause"));
    m_stageLabel->setText(paused ? tr("Paused") : tr("Training"));
}

void MainWindow::stopRun()
{
    if (!isRunning())
        return;
    m_controller->requestStop();
    m_controller->setPaused(false);
    m_stageLabel->setText(tr("Stopping..."));
    m_stopButton->setEnabled(false);
}

void MainWindow::onRunStarted(const QString& runId, qint64 trainableParameters, int trainImages)
{
    m_activeRunId = runId;
    m_curveRun = m_curves->addRun(QString("%1 (%2)").arg(runId).arg(m_curves->runCount() + 1));
    m_trainableParameters = trainableParameters;
    m_paramCountLabel->setText(tr("Trainable parameters: %1").arg(QLocale().toString(trainableParameters)));
    setStatus(tr("Run %1: %2 trainable parameters, %3 training images").arg(runId).arg(QLocale().toString(trainableParameters)).arg(trainImages));
}

void MainWindow::onRunProgress(const RunProgress& p)
{
    if (m_curveRun < 0)
        m_curveRun = m_curves->addRun(tr("run %1").arg(m_curves->runCount() + 1));
    const double perEpoch = p.epochs > 0 ? double(p.totalSteps) / p.epochs : 0;
    const double epoch = perEpoch > 0 ? double(p.step) / perEpoch : p.epoch;
    m_curves->addPoint(m_curveRun, double(p.step), epoch, p.loss, p.accuracy);
    m_progress->setRange(0, static_cast<int>(std::max<qint64>(1, p.totalSteps)));
    m_progress->setValue(static_cast<int>(p.step));
    m_progress->setFormat(tr("Epoch %1/%2 · step %3/%4 · %5 img/s · ETA %6")
                              .arg(p.epoch + 1)
                              .arg(p.epochs)
                              .arg(p.step)
                              .arg(p.totalSteps)
                              .arg(p.imagesPerSecond, 0, 'f', 1)
                              .arg(formatDuration(p.etaSeconds)));
    if (!p.memory.isEmpty()) {
        m_memoryLabel->setText(tr("GPU memory: %1").arg(p.memory));
        m_memoryLabel->setVisible(true);
    }
}

void MainWindow::onRunFinished(const RunResults& results)
{
    m_activeRunId.clear();
    addToResultViews(results);
    m_tabs->setCurrentWidget(m_results);
    // The dataset's own problems, then the images this run could not read.
    QStringList problems = m_datasetProblems;
    for (const QString& problem : results.problems)
        problems << tr("skipped by the run: %1").arg(problem);
    showProblems(problems);
    if (!results.exportPath.isEmpty())
        m_lastExportPath = results.exportPath;
    m_progress->setRange(0, 1);
    m_progress->setValue(1);
    m_stageLabel->setText(QString());
    const QString accuracy = results.baseNew && results.harmonic >= 0
                                 ? tr("base %1%, new %2%, H %3%")
                                       .arg(results.first.accuracy * 100, 0, 'f', 2)
                                       .arg(results.novel.accuracy * 100, 0, 'f', 2)
                                       .arg(results.harmonic * 100, 0, 'f', 2)
                                 : tr("accuracy %1%").arg(results.first.accuracy * 100, 0, 'f', 2);
    m_progress->setFormat(results.status == "finished" ? tr("Finished: %1").arg(accuracy) : tr("Stopped: %1").arg(accuracy));
    setStatus(results.status == "finished" ? tr("Run %1 finished: %2").arg(results.runId, accuracy)
                                           : tr("Run %1 %2: %3. %4").arg(results.runId, results.status, accuracy, results.message),
              results.status == "diverged");
    refreshHistory();
    updateControls();
    Q_EMIT runFinished(results);
}

void MainWindow::onRunFailed(const QString& message)
{
    m_activeRunId.clear();
    m_progress->setRange(0, 1);
    m_progress->setValue(0);
    m_progress->setFormat(tr("Failed"));
    m_stageLabel->setText(QString());
    setStatus(tr("The run failed: %1").arg(message), true);
    refreshHistory();
    updateControls();
    Q_EMIT runFailed(message);
}

void MainWindow::exportPrompt()
{
    if (m_lastExportPath.isEmpty())
        return;
    const QString target = QFileDialog::getSaveFileName(this, tr("Export learned prompt"), QFileInfo(m_lastExportPath).fileName(),
                                                        tr("Prompt manifest (*.json)"));
    if (target.isEmpty())
        return;
    const QString base = target.endsWith(".json") ? target.chopped(5) : target;
    const QString sourceBase = m_lastExportPath.chopped(5);
    // Each file is copied to a temporary beside the target and renamed over it: exporting onto the run's
    // own export replaces it with itself instead of deleting it first.
    QString error;
    bool ok = true;
    for (const QString& ext : {QStringLiteral(".safetensors"), QStringLiteral(".json")})
        ok = ok && saveAtomically(base + ext, [&](const QString& temporary) { return QFile::copy(sourceBase + ext, temporary); }, &error);
    setStatus(ok ? tr("Exported the prompt to %1").arg(base + ".json") : tr("Could not export the prompt: %1").arg(error), !ok);
}

void MainWindow::refreshHistory()
{
    m_history->clear();
    std::vector<RunSummary> runs;
    try {
        runs = listRuns(m_runsRoot.toStdString());
    } catch (const std::exception& e) {
        setStatus(tr("Could not list the runs in %1: %2").arg(m_runsRoot, firstLine(e)), true);
    }
    for (const RunSummary& run : runs) {
        auto* item = new QTreeWidgetItem(m_history);
        item->setText(0, QString::fromStdString(run.id));
        item->setText(1, QString::fromStdString(run.method));
        item->setText(2, QString::fromStdString(run.dataset));
        item->setText(3, QString::fromStdString(run.status));
        QString result;
        if (run.results.is_object()) {
            if (run.results.contains("h") && run.results["h"].is_number())
                result = tr("H %1%").arg(run.results["h"].get<double>() * 100, 0, 'f', 2);
            else if (run.results.contains("accuracy") && run.results["accuracy"].is_number())
                result = tr("accuracy %1%").arg(run.results["accuracy"].get<double>() * 100, 0, 'f', 2);
            else if (run.results.contains("message") && run.results["message"].is_string())
                result = QString::fromStdString(run.results["message"].get<std::string>());  // why a failed run ended
        }
        item->setText(4, result);
        item->setData(0, Qt::UserRole, QString::fromStdString(run.folder));
        item->setToolTip(0, QString::fromStdString(run.folder));
    }
    for (int i = 0; i < 5; ++i)
        m_history->resizeColumnToContents(i);
    updateControls();
}

void MainWindow::reopenSelectedRuns()
{
    for (QTreeWidgetItem* item : m_history->selectedItems()) {
        const QString folder = item->data(0, Qt::UserRole).toString();
        try {
            addToResultViews(RunController::readRunResults(folder));
            m_tabs->setCurrentWidget(m_results);
        } catch (const std::exception& e) {
            setStatus(tr("Could not open run %1: %2").arg(item->text(0), firstLine(e)), true);
        }
    }
}

void MainWindow::deleteSelectedRuns()
{
    const auto items = m_history->selectedItems();
    if (items.isEmpty())
        return;
    if (QMessageBox::question(this, tr("Delete runs"), tr("Delete %n run folder(s) from disk?", nullptr, items.size())) != QMessageBox::Yes)
        return;
    QStringList kept;
    for (QTreeWidgetItem* item : items) {
        const QString folder = item->data(0, Qt::UserRole).toString();
        // The run in progress writes into its folder (a run being set up has no results.json yet).
        const bool active = isRunning() && (QFileInfo(folder).fileName() == m_activeRunId || !QFileInfo::exists(folder + "/results.json"));
        if (active)
            kept << item->text(0);
        else
            QDir(folder).removeRecursively();
    }
    refreshHistory();
    if (!kept.isEmpty())
        setStatus(tr("Not deleted, in progress: %1. Stop the run first.").arg(kept.join(", ")), true);
}

// ---------------------------------------------------------------------------------------------- misc

void MainWindow::updateControls()
{
    const bool running = isRunning();
    const bool busy = m_modelLoading || m_datasetLoading;
    QString why;
    if (running)
        why = tr("A run is in progress");
    else if (busy)
        why = tr("Still loading");
    else if (m_modelPath.isEmpty())
        why = tr("Load a model first");
    else if (!m_modelProblem.isEmpty())
        why = tr("The model's vocabulary is missing: choose it with File > Choose vocabulary");
    else if (m_datasetPath.isEmpty())
        why = tr("Open a dataset first");
    m_startButton->setEnabled(why.isEmpty());
    m_startButton->setToolTip(why.isEmpty() ? tr("Train the selected strategy on the dataset") : why);
    m_pauseButton->setEnabled(running);
    m_pauseButton->setToolTip(running ? tr("Pause or resume training after the current step") : tr("No run in progress"));
    m_stopButton->setEnabled(running);
    m_stopButton->setToolTip(running ? tr("Stop training after the current step; what was learned is still evaluated")
                                     : tr("No run in progress"));
    if (!running) {
        const QSignalBlocker blocker(m_pauseButton);
        m_pauseButton->setChecked(false);
        m_pauseButton->setText(tr("Pause"));
    }
    for (QWidget* w : std::initializer_list<QWidget*>{m_openModelButton, m_datasetButton, m_datasetCombo, m_strategyCombo, m_formHost,
                                                      m_overridesBox, m_shotsSpin, m_seedSpin, m_baseNewCheck})
        w->setEnabled(!running);
    m_vocabButton->setEnabled(!running && m_modelHasText);
    m_vocabButton->setToolTip(m_modelHasText ? tr("Choose the CLIP vocabulary") : tr("Only CLIP models with a text tower need a vocabulary"));
    if (m_exportPromptAction) {
        m_exportPromptAction->setEnabled(!m_lastExportPath.isEmpty());
        m_exportPromptAction->setToolTip(m_lastExportPath.isEmpty() ? tr("Finish a prompt-learning run first") : m_lastExportPath);
        m_openAction->setEnabled(!running);
        m_datasetAction->setEnabled(!running);
        m_vocabAction->setEnabled(!running && m_modelHasText);
        m_importPromptAction->setEnabled(!running && m_modelHasText && !m_datasetPath.isEmpty() && m_modelProblem.isEmpty());
    }
    const bool selection = !m_history->selectedItems().isEmpty();
    m_historyOpen->setEnabled(selection);
    m_historyDelete->setEnabled(selection);
}

void MainWindow::setStatus(const QString& message, bool error)
{
    m_statusMessage = message;
    m_statusIsError = error;
    m_statusLabel->setText(message);
    m_statusLabel->setStyleSheet(error ? "QLabel { color: #b00020; font-weight: bold; }" : QString());
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
    if (event->type() == QEvent::LanguageChange && m_statusLabel)
        retranslateUi();
    QMainWindow::changeEvent(event);
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
    if (isRunning()) {
        m_controller->requestStop();
        m_controller->setPaused(false);
        m_controller->waitForFinished(30000);
    }
    QSettings settings;
    settings.setValue("window/geometry", saveGeometry());
    settings.setValue("window/state", saveState());
    QMainWindow::closeEvent(event);
}

void MainWindow::addToResultViews(const RunResults& results)
{
    m_results->addResults(results);
    m_fewShot->addResults(results);
    m_generalisation->addResults(results);
}

} // namespace tunebench
