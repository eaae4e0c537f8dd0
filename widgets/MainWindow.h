#pragma once

#include "widgets/RunController.h"

#include <QMainWindow>
#include <QMap>
#include <QPointer>
#include <QStringList>
#include <QTranslator>

class QAction;
class QActionGroup;
class QCheckBox;
class QComboBox;
class QDockWidget;
class QDoubleSpinBox;
class QFormLayout;
class QGroupBox;
class QLabel;
class QLineEdit;
class QListWidget;
class QMenu;
class QPlainTextEdit;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QTabWidget;
class QTimer;
class QTreeWidget;
class QToolButton;

namespace tunebench {

class BackgroundTasks;
class CurvePlot;
class DomainGeneralisationPanel;
class FewShotPanel;
class ResultsPanel;

// The workbench window: Model and Dataset panels (left), the Strategy form (right), the train bar and
// live curves (centre), results and run history (tabs). Loading, counting and training run off the GUI
// thread; the window only shows what the workers report.
class MainWindow : public QMainWindow
{
    Q_OBJECT

public:
    explicit MainWindow(QWidget* parent = nullptr);
    ~MainWindow() override;

    // Opens `checkpoint`, else the demo model (when found), and the last dataset; at first start the demo
    // task (fashion-mnist:tinted, scored also on fashion-mnist and fashion-mnist:sketch), so that the first
    // Start shows what a learned prompt buys.
    void openDefaults(const QString& checkpoint = QString());
    // $TUNEBENCH_DEMO_MODEL, else <exe>/../share/tunebench/demo-model, else the source tree's copy; empty if none.
    static QString demoModelPath();

    // Starts loading `path` in a worker thread; modelLoaded or loadFailed follow.
    void openCheckpoint(const QString& path);
    void setVocabulary(const QString& path);
    // A dataset folder or "fashion-mnist"; datasetLoaded or datasetFailed follow.
    void openDatasetPath(const QString& pathOrName);
    // Selects a strategy by registry key; false when unknown or unavailable for the loaded model.
    bool selectStrategy(const QString& name);
    void setOption(const QString& name, const QVariant& value);
    QVariantMap options() const;
    void setTrainingOverrides(int epochs, double lr, int batchSize);
    void setShots(int shots);
    void setMaxSteps(qint64 steps);       // 0 = no limit
    void setMaxTestImages(int images);    // 0 = whole test split
    void setRunsRoot(const QString& folder);
    QString runsRoot() const { return m_runsRoot; }

    bool startRun();  // false (and a message in the window) when a run cannot start now
    // Evaluates an exported prompt (its .json) on the open dataset's classes, as a run without training.
    bool evaluatePrompt(const QString& manifestPath);
    void setRunPaused(bool paused);
    void stopRun();
    bool isRunning() const;
    RunRequest currentRequest() const;

    QString summaryText() const;
    QString statusText() const;    // the message line above the curves (errors appear here)
    QString modelProblem() const;  // e.g. the missing vocabulary
    QStringList datasetClasses() const { return m_classNames; }
    QStringList datasetProblems() const;
    qint64 trainableParameters() const { return m_trainableParameters; }
    CurvePlot* curvePlot() const { return m_curves; }
    ResultsPanel* resultsPanel() const { return m_results; }
    FewShotPanel* fewShotPanel() const { return m_fewShot; }
    DomainGeneralisationPanel* generalisationPanel() const { return m_generalisation; }
    RunController* runController() const { return m_controller; }
    QPushButton* startButton() const { return m_startButton; }
    QPushButton* pauseButton() const { return m_pauseButton; }
    QPushButton* stopButton() const { return m_stopButton; }
    QProgressBar* progressBar() const { return m_progress; }
    QTreeWidget* historyTree() const { return m_history; }
    QString lastExportPath() const { return m_lastExportPath; }

    // Switches the interface language ("en" or "zh_CN") and remembers it.
    void setLanguage(const QString& language);
    void refreshHistory();
    // Adds the runs selected in the history to the results table.
    void reopenSelectedRuns();

Q_SIGNALS:
    void modelLoaded(const QString& summaryJson);
    void loadFailed(const QString& message);
    void datasetLoaded();
    void datasetFailed(const QString& message);
    void parameterCountChanged(qint64 count);
    void runFinished(const tunebench::RunResults& results);
    void runFailed(const QString& message);

protected:
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;
    void closeEvent(QCloseEvent* event) override;
    void changeEvent(QEvent* event) override;

private:
    void buildMenus();
    QWidget* buildModelPanel();
    QWidget* buildDatasetPanel();
    QWidget* buildStrategyPanel();
    QWidget* buildTrainBar();
    QWidget* buildHistoryPanel();
    void retranslateUi();
    void fillStrategyCombo();
    void rebuildStrategyForm();
    void scheduleParameterCount();
    void countParameters();
    void updateControls();

    void chooseCheckpoint();
    void chooseVocabulary();
    void chooseDatasetFolder();
    void showLoaded(const QString& summaryJson, const QString& vocabulary, const QString& vocabProblem);
    void showFailure(const QString& message);
    void showProblems(const QStringList& problems);  // the dataset's, then the last run's skipped images
    void showDataset(const QString& name, const QStringList& classes, const QVector<qint64>& trainCounts,
                     const QVector<qint64>& testCounts, const QStringList& problems);
    void reloadDatasetMembership();
    void setStatus(const QString& message, bool error = false);
    void rememberRecent(const QString& path);
    void rebuildRecentMenu();

    void onRunStarted(const QString& runId, qint64 trainableParameters, int trainImages);
    void onRunProgress(const RunProgress& progress);
    void onRunFinished(const RunResults& results);
    void onRunFailed(const QString& message);
    void exportPrompt();
    // The results table, the few-shot curves and the domain-generalisation table.
    void addToResultViews(const RunResults& results);
    void deleteSelectedRuns();

    // Model panel
    QLabel* m_modelTitle = nullptr;
    QPlainTextEdit* m_summary = nullptr;
    QLabel* m_vocabLabel = nullptr;
    QLabel* m_deviceLabel = nullptr;
    QPushButton* m_openModelButton = nullptr;
    QPushButton* m_vocabButton = nullptr;
    QGroupBox* m_modelBox = nullptr;
    // Dataset panel
    QGroupBox* m_datasetBox = nullptr;
    QComboBox* m_datasetCombo = nullptr;
    QPushButton* m_datasetButton = nullptr;
    QSpinBox* m_shotsSpin = nullptr;
    QSpinBox* m_seedSpin = nullptr;
    QCheckBox* m_baseNewCheck = nullptr;
    QTreeWidget* m_classTree = nullptr;
    QListWidget* m_problemList = nullptr;
    QLabel* m_shotsLabel = nullptr;
    QLabel* m_seedLabel = nullptr;
    QLabel* m_problemsLabel = nullptr;
    QLabel* m_evalDatasetsLabel = nullptr;
    QLineEdit* m_evalDatasetsEdit = nullptr;
    // Strategy panel
    QGroupBox* m_strategyBox = nullptr;
    QComboBox* m_strategyCombo = nullptr;
    QLabel* m_strategyDescription = nullptr;
    QWidget* m_formHost = nullptr;
    QFormLayout* m_form = nullptr;
    QMap<QString, QWidget*> m_fieldEditors;
    QLabel* m_paramCountLabel = nullptr;
    QSpinBox* m_epochsSpin = nullptr;
    QDoubleSpinBox* m_lrSpin = nullptr;
    QSpinBox* m_batchSpin = nullptr;
    QSpinBox* m_maxStepsSpin = nullptr;
    QSpinBox* m_testImagesSpin = nullptr;
    QDoubleSpinBox* m_cropSpin = nullptr;
    QGroupBox* m_overridesBox = nullptr;
    QFormLayout* m_overridesForm = nullptr;
    // Train bar, curves, results, history
    QPushButton* m_startButton = nullptr;
    QPushButton* m_pauseButton = nullptr;
    QPushButton* m_stopButton = nullptr;
    QProgressBar* m_progress = nullptr;
    QLabel* m_stageLabel = nullptr;
    QLabel* m_memoryLabel = nullptr;  // device memory while training on CUDA; hidden on the CPU
    QLabel* m_statusLabel = nullptr;
    CurvePlot* m_curves = nullptr;
    ResultsPanel* m_results = nullptr;
    FewShotPanel* m_fewShot = nullptr;
    DomainGeneralisationPanel* m_generalisation = nullptr;
    QTabWidget* m_tabs = nullptr;
    QTreeWidget* m_history = nullptr;
    QPushButton* m_historyRefresh = nullptr;
    QPushButton* m_historyOpen = nullptr;
    QPushButton* m_historyDelete = nullptr;
    QLabel* m_historyRootLabel = nullptr;
    QDockWidget* m_modelDock = nullptr;
    QDockWidget* m_datasetDock = nullptr;
    QDockWidget* m_strategyDock = nullptr;
    // Menus
    QMenu* m_fileMenu = nullptr;
    QMenu* m_recentMenu = nullptr;
    QMenu* m_viewMenu = nullptr;
    QMenu* m_languageMenu = nullptr;
    QAction* m_openAction = nullptr;
    QAction* m_vocabAction = nullptr;
    QAction* m_datasetAction = nullptr;
    QAction* m_exportPromptAction = nullptr;
    QAction* m_importPromptAction = nullptr;
    QAction* m_quitAction = nullptr;
    QAction* m_englishAction = nullptr;
    QAction* m_chineseAction = nullptr;

    RunController* m_controller = nullptr;
    BackgroundTasks* m_tasks = nullptr;  // loads, counts and the device probe
    QTimer* m_countTimer = nullptr;
    QTranslator m_translator;
    QString m_language = "en";

    QString m_modelPath;
    QString m_vocabularyPath;
    QString m_modelProblem;
    QString m_modelSummaryJson;
    bool m_modelHasText = false;
    bool m_modelLoading = false;
    QString m_datasetPath;
    double m_datasetCropScale = 0;  // the open dataset's recipe value
    bool m_datasetLoading = false;
    QStringList m_classNames;
    QStringList m_datasetProblems;
    QString m_activeRunId;  // the run folder's name while a run is in progress
    QVector<qint64> m_trainCounts, m_testCounts;
    qint64 m_trainableParameters = -1;
    int m_countGeneration = 0;
    qint64 m_maxSteps = 0;
    QString m_runsRoot;
    QString m_lastExportPath;
    int m_curveRun = -1;
    QString m_statusMessage;
    bool m_statusIsError = false;
    QString m_importPrompt;  // set only while startRun() builds an import run
};

} // namespace tunebench
