#pragma once

#include "widgets/results/RunResults.h"
#include "widgets/window/WorkbenchTab.h"

#include <QWidget>

class QLabel;
class QPushButton;
class QTreeWidget;

namespace tunebench {

// The run folders under the runs root: method, dataset, status and result of each. Selected runs can be
// shown in the result views or deleted (never the run in progress).
class HistoryPanel : public WorkbenchTab
{
    Q_OBJECT

public:
    explicit HistoryPanel(QWidget* parent = nullptr);

    void setRunsRoot(const QString& folder);
    void runsRootChanged(const QString& folder) override { setRunsRoot(folder); }
    QString runsRoot() const { return m_root; }
    // The folder name of the run in progress (empty when none): it cannot be deleted.
    void setActiveRun(const QString& runId, bool running);
    void refresh();
    // Reads the selected runs' results and emits runOpened for each.
    void openSelected();
    void deleteSelected();
    QString tabTitle() const override;
    void retranslate() override;

Q_SIGNALS:
    void runOpened(const tunebench::RunResults& results);
    void continualRunOpened(const QString& folder);  // a continual stream: its own tab shows it
    void petlTableOpened(const QString& folder);     // a PETL table's folder: its tab shows it
    void continueRequested(const QString& folder);   // "Continue run" on a stopped run
    void problem(const QString& message);

private:
    void updateButtons();

    QLabel* m_rootLabel = nullptr;
    QTreeWidget* m_tree = nullptr;
    QPushButton* m_refresh = nullptr;
    QPushButton* m_open = nullptr;
    QPushButton* m_delete = nullptr;
    QPushButton* m_continue = nullptr;
    QString m_continueHelp;  // Continue run's tooltip when it can act
    QString m_root;
    QString m_activeRunId;
    bool m_running = false;
};

} // namespace tunebench
