#pragma once

#include "core/experiment/RunSettings.h"
#include "widgets/results/RunResults.h"

#include <QMainWindow>
#include <QTranslator>

class QAction;
class QDockWidget;
class QLabel;
class QMenu;
class QTabWidget;

namespace tunebench {

class BackgroundTasks;
class JobHost;
class CurvePlot;
class DatasetPanel;
class HistoryPanel;
class ResultsPanel;
class ModelPanel;
class RunBar;
class RunController;
class StrategyPanel;
class TryItPanel;
class MistakesPanel;
class WorkbenchTab;

// The workbench window: it wires the panels (model, dataset and strategy docks; the run bar, live curves
// and result tabs in the centre), the menus and the stored settings, and runs one job at a time through
// the RunController. Loading, counting and training run off the GUI thread.
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

    // Loads `path` in a worker thread; modelLoaded or loadFailed follow. Refused while a run is in progress.
    void openCheckpoint(const QString& path);
    void setVocabulary(const QString& path);
    // A dataset folder or "fashion-mnist"; datasetLoaded or datasetFailed follow.
    void openDatasetPath(const QString& pathOrName);
    void setRunsRoot(const QString& folder);

    // The run the panels describe, as the CLI's --config would hold it.
    RunSettings currentSettings() const;
    bool startRun();  // false (and the reason on the status line) when a run cannot start now
    // Trains the stopped run in `folder` on from its last finished epoch, with its own settings (the History
    // tab's "Continue run"); false with the reason on the status line.
    bool continueRun(const QString& folder);
    // Copies the learned prompt of the run selected in the Results table to `target` (.json and
    // .safetensors beside it); false with the reason on the status line.
    bool exportSelectedPrompt(const QString& target);
    // Writes the tuned model of the run selected in the Results table as one ONNX graph at `target`, off the
    // GUI thread; onnxExported or onnxExportFailed follow (and the status line says which).
    void exportSelectedOnnx(const QString& target);
    // Evaluates an exported prompt (its .json) on the open dataset's classes, as a run without training.
    bool evaluatePrompt(const QString& manifestPath);
    void setRunPaused(bool paused);
    void stopRun();
    bool isRunning() const;  // any job of the window: a run, a continual stream, an adaptation series

    // Switches the interface language ("en" or "zh_CN") and remembers it.
    void setLanguage(const QString& language);
    // Help > About Tunebench: the versions, whether CUDA is compiled in and the devices (not modal).
    void showAbout();

Q_SIGNALS:
    void modelLoaded(const QString& summaryJson);
    void loadFailed(const QString& message);
    void datasetLoaded();
    void datasetFailed(const QString& message);
    void runFinished(const tunebench::RunResults& results);
    void runFailed(const QString& message);
    void onnxExported(const QString& path);
    void onnxExportFailed(const QString& message);

protected:
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;
    void closeEvent(QCloseEvent* event) override;
    void changeEvent(QEvent* event) override;

private:
    void buildMenus();
    void connectPanels();
    void retranslateUi();
    void updateControls();
    void updateBaseNew();  // whether base-to-new can apply to the chosen method on the loaded model
    void setStatus(const QString& message, bool error = false);
    void refuseWhileRunning(const QString& message);  // in red, until the job host is idle again
    QString whyBusy() const;  // which job keeps a new one from starting
    void restoreSettings();
    void rememberSettings(const RunSettings& settings);
    void rememberRecent(const QString& path);
    void rebuildRecentMenu();
    // "cpu", "cuda:N", or "auto" while the devices are probed.
    QString selectedDevice() const;
    // The device runs, streams and adaptation series use from now on.
    void useDevice(const QString& id);

    void onRunStarted(const QString& runId, qint64 trainableParameters, int trainImages);
    void onRunProgress(const RunProgress& progress);
    void onRunFinished(const RunResults& results);
    void onRunFailed(const QString& message);
    void exportPrompt();
    // The results table, the few-shot curves and the domain-generalisation table.
    void addToResultViews(const RunResults& results);

    BackgroundTasks* m_tasks = nullptr;  // loads, counts and the device probe
    JobHost* m_jobs = nullptr;           // the one long job at a time: a run, a continual stream, an adaptation series
    RunController* m_controller = nullptr;
    ModelPanel* m_model = nullptr;
    DatasetPanel* m_dataset = nullptr;
    StrategyPanel* m_strategy = nullptr;
    RunBar* m_runBar = nullptr;
    QLabel* m_statusLine = nullptr;
    QString m_jobRefusal;  // the refusal shown because a job runs: cleared when the host is idle again
    CurvePlot* m_curves = nullptr;
    QTabWidget* m_tabs = nullptr;
    QList<WorkbenchTab*> m_tabPanels;     // the result area's tabs, in display order
    ResultsPanel* m_results = nullptr;    // one of them: shown when a run ends or opens
    HistoryPanel* m_history = nullptr;    // one of them: runs are followed there
    TryItPanel* m_tryIt = nullptr;        // one of them: follows the Results table's selected run
    MistakesPanel* m_mistakes = nullptr;  // one of them: follows it too, and opens from its confusion matrix
    QDockWidget* m_modelDock = nullptr;
    QDockWidget* m_datasetDock = nullptr;
    QDockWidget* m_strategyDock = nullptr;

    QMenu* m_fileMenu = nullptr;
    QMenu* m_recentMenu = nullptr;
    QMenu* m_viewMenu = nullptr;
    QMenu* m_languageMenu = nullptr;
    QMenu* m_helpMenu = nullptr;
    QAction* m_openAction = nullptr;
    QAction* m_vocabAction = nullptr;
    QAction* m_datasetAction = nullptr;
    QAction* m_exportPromptAction = nullptr;
    QAction* m_importPromptAction = nullptr;
    QAction* m_quitAction = nullptr;
    QAction* m_englishAction = nullptr;
    QAction* m_chineseAction = nullptr;
    QAction* m_aboutAction = nullptr;
    QTranslator m_translator;
    QString m_language = "en";

    int m_curveRun = -1;
    QString m_importPrompt;  // set only while startRun() builds an import run
};

} // namespace tunebench
