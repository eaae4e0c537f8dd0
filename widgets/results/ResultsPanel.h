#pragma once

#include "widgets/results/RunResults.h"
#include "widgets/window/WorkbenchTab.h"

#include <QWidget>

class QLabel;
class QPlainTextEdit;
class QTableWidget;
class QTabWidget;

namespace tunebench {

// Results of the runs of this session (and reopened ones): the CoCoOp paper's Base / New / H table
// across runs, then per-class accuracy and the confusion matrix of the selected run.
class ResultsPanel : public WorkbenchTab
{
    Q_OBJECT

public:
    explicit ResultsPanel(QWidget* parent = nullptr);

    // Adds a row (or replaces the row with the same run id) and selects it.
    void addResults(const RunResults& results);
    void runFinished(const RunResults& results) override { addResults(results); }
    void clear();
    int runCount() const { return m_results.size(); }
    const RunResults& results(int row) const { return m_results[row]; }
    // The run selected in the table (what File > Export acts on); null when none is.
    const RunResults* selectedRun() const;
    QTableWidget* summaryTable() const { return m_summary; }
    QTableWidget* perClassTable() const { return m_perClass; }
    QTableWidget* confusionTable() const { return m_confusion; }
    // Per class: the hand-crafted prompt next to the latest finished run of each prompt learner on one dataset.
    QTableWidget* promptTable() const { return m_promptTable; }
    QTabWidget* detailTabs() const { return m_detailTabs; }  // per-class, confusion, prompt comparison
    QString nearestWordsText() const;
    QString tabTitle() const override;
    void retranslate() override;

Q_SIGNALS:
    void selectedRunChanged();
    // A cell off the confusion matrix's diagonal was clicked: the selected run's test images of class
    // `trueLabel` predicted as `predictedLabel` (labels in its order).
    void confusionCellClicked(int trueLabel, int predictedLabel);

private:
    void showDetails(int row);
    void fillSummaryRow(int row);
    void updatePromptComparison();

    QTableWidget* m_summary = nullptr;
    QTabWidget* m_detailTabs = nullptr;
    QTableWidget* m_perClass = nullptr;
    QTableWidget* m_confusion = nullptr;
    QWidget* m_promptPage = nullptr;
    QTableWidget* m_promptTable = nullptr;
    QLabel* m_promptNote = nullptr;
    QPlainTextEdit* m_nearestWords = nullptr;
    QLabel* m_note = nullptr;
    QVector<RunResults> m_results;
};

} // namespace tunebench
