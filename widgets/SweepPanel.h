#pragma once

#include "core/experiment/Sweep.h"

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

class ShotCurvePlot;
struct ShotCurve;

// The few-shot figure of one dataset of a sweep: a curve per method over its shot counts (H under
// base-to-new, else accuracy), methods that ignore the training images as the star at 0. `metric` says which.
QVector<ShotCurve> sweepCurves(const SweepPlan& plan, const std::vector<SweepCell>& cells, const std::string& dataset, std::string* metric);

// A sweep folder (`tunebench-cli sweep --out DIR`, run here or on a Slurm cluster) in the workbench: the
// runs' states as counts and a progress bar, the collected table (mean ± std over seeds per dataset x
// method x shots, from the runs' own results.json) and the few-shot curves of one dataset. It reads the
// folder again every few seconds while runs are unfinished, so a running sweep fills in.
class SweepPanel : public QWidget
{
    Q_OBJECT

public:
    explicit SweepPanel(QWidget* parent = nullptr);

    // Shows the sweep in `folder`; false (with the reason in the status line) when it holds no plan.
    bool openSweep(const QString& folder);
    void refresh();
    SweepCounts counts() const { return m_counts; }
    QString statusText() const;
    void retranslate();

private:
    void showCurves();

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
