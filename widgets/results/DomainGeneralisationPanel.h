#pragma once

#include "widgets/results/RunResults.h"
#include "widgets/window/WorkbenchTab.h"

#include <QWidget>

class QLabel;
class QTableWidget;

namespace tunebench {

// CoOp's domain-generalisation table (ImageNet -> -V2 / -Sketch / -A / -R) for this session's runs: each
// run trained on its source dataset, scored there and on every target it was evaluated on ("Evaluate also
// on" in the dataset panel, --eval-datasets on the CLI).
class DomainGeneralisationPanel : public WorkbenchTab
{
    Q_OBJECT

public:
    explicit DomainGeneralisationPanel(QWidget* parent = nullptr);

    // Adds a run with targets (or replaces the run with the same id); runs without targets are ignored.
    void addResults(const RunResults& results);
    void runFinished(const RunResults& results) override { addResults(results); }
    void clear();
    QTableWidget* table() const { return m_table; }
    QString tabTitle() const override;
    void retranslate() override;

private:
    void rebuild();

    QLabel* m_note = nullptr;
    QTableWidget* m_table = nullptr;
    QVector<RunResults> m_runs;
};

} // namespace tunebench
