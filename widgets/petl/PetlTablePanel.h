#pragma once

#include "core/experiment/PetlTable.h"
#include "widgets/window/StudyPanel.h"

#include <QString>

class QComboBox;
class QCustomPlot;
class QLineEdit;
class QPushButton;
class QSpinBox;
class QTableWidget;

namespace tunebench {

struct PetlStudy;

// The classic family's study: the VPT paper's Table 1, as `tunebench-cli petl-table` makes it. The tasks are
// VTAB-1k or FGVC (their folders under $TUNEBENCH_DATA), task folders, or datasets standing in for tasks (the
// demo's Fashion-MNIST domain variants); every task x method x seed trains with the method's recipe on the
// task's training split and is tested on its test split, one run folder each, in a table folder under the
// runs folder. While a cell trains: its loss. As cells finish: the table (mean accuracy per group, wins
// against Full, total parameters over the tasks) and each task's accuracies. "Open table..." shows a table
// folder made elsewhere (the CLI, a Slurm array).
class PetlTablePanel : public StudyPanel
{
    Q_OBJECT

public:
    explicit PetlTablePanel(JobHost* jobs, QWidget* parent = nullptr);
    ~PetlTablePanel() override;

    // Shows the table in a petl-table folder; false (with the reason in the status line) when it holds none.
    bool openTable(const QString& folder);
    const PetlTable& table() const { return m_table; }
    QString tableFolder() const { return m_folder; }
    QString tabTitle() const override;
    void retranslate() override;

private:
    QString settingsProblem() const override;
    JobHost::Work prepareJob(const QList<int>& seeds) override;
    QString finishedText() const override;
    void onCellStart(const QString& cell);
    void onStep(double step, double loss);
    void showTable(const PetlTable& table, const QString& folder);

    QComboBox* m_tasks = nullptr;
    QLineEdit* m_group = nullptr;
    QSpinBox* m_epochs = nullptr;
    QSpinBox* m_maxSteps = nullptr;
    QSpinBox* m_testImages = nullptr;
    QPushButton* m_open = nullptr;
    QCustomPlot* m_curves = nullptr;
    QTableWidget* m_groupTable = nullptr;
    QTableWidget* m_taskTable = nullptr;

    PetlTable m_table;
    QString m_folder;
};

} // namespace tunebench
