#pragma once

#include "core/experiment/Sweep.h"
#include "widgets/window/WorkbenchTab.h"

#include <QString>
#include <QVector>
#include <QWidget>

class QComboBox;
class QLabel;
class QProgressBar;
class QPushButton;
class QTableWidget;
class QTimer;

namespace tunebench {

class BackgroundTasks;
class ShotCurvePlot;

// A sweep folder (`tunebench-cli sweep --out DIR`, run here or on a Slurm cluster) in the workbench: the
// runs' states as counts and a progress bar, the collected table (mean ± std over seeds per dataset x
// method x shots, from the runs' own results.json) and the few-shot curves of one dataset. It reads the
// folder again every few seconds while runs are unfinished, so a running sweep fills in; the reading
// (squeue, every run's results.json) happens on a background task, off the GUI thread.
class SweepPanel : public WorkbenchTab
{
    Q_OBJECT

public:
    explicit SweepPanel(BackgroundTasks* tasks, QWidget* parent = nullptr);

    // Shows the sweep in `folder`; false (with the reason in the status line) when it holds no plan. Its
    // states and table follow, read in the background.
    bool openSweep(const QString& folder);
    void refresh();  // reads the runs' states and results again, in the background
    SweepCounts counts() const { return m_counts; }
    QString statusText() const;
    QString tabTitle() const override;
    void retranslate() override;

private:
    void showState(const std::string& folder, const SweepCounts& counts, const std::vector<SweepCell>& cells, const QString& problem);
    void showCurves();

    BackgroundTasks* m_tasks = nullptr;
    QPushButton* m_open = nullptr;
    QPushButton* m_refresh = nullptr;
    QLabel* m_folder = nullptr;
    QProgressBar* m_progress = nullptr;
    QLabel* m_status = nullptr;
    QComboBox* m_dataset = nullptr;
    ShotCurvePlot* m_curves = nullptr;
    QTableWidget* m_table = nullptr;
    QTimer* m_timer = nullptr;
    QLabel* m_datasetLabel = nullptr;

    QString m_path;
    std::optional<SweepPlan> m_plan;
    std::vector<SweepCell> m_cells;
    SweepCounts m_counts;
};

} // namespace tunebench
