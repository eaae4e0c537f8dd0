#include "widgets/results/DomainGeneralisationPanel.h"

#include <QHeaderView>
#include <QLabel>
#include <QTableWidget>
#include <QVBoxLayout>

namespace tunebench {

namespace {

QTableWidgetItem* percentItem(double fraction)
{
    auto* item = new QTableWidgetItem(fraction < 0 ? QStringLiteral("-") : QString::number(100 * fraction, 'f', 2));
    item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
    return item;
}

} // namespace

DomainGeneralisationPanel::DomainGeneralisationPanel(QWidget* parent)
    : WorkbenchTab(parent)
{
    setObjectName("generalisationPanel");
    m_note = new QLabel(this);
    m_note->setWordWrap(true);
    m_table = new QTableWidget(this);
    m_table->setObjectName("generalisationTable");
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->verticalHeader()->setVisible(false);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(m_note);
    layout->addWidget(m_table, 1);
    retranslate();
}

QString DomainGeneralisationPanel::tabTitle() const
{
    return tr("Domain generalisation");
}

void DomainGeneralisationPanel::retranslate()
{
    m_note->setText(tr("Accuracy (%) on the source dataset and on each target it was evaluated on, with the classes the run "
                       "trained on (its base classes under base-to-new). Choose targets under \"Evaluate also on\"."));
    rebuild();
}

void DomainGeneralisationPanel::addResults(const RunResults& results)
{
    if (results.targets.isEmpty())
        return;
    storeRun(m_runs, results);
    rebuild();
}

void DomainGeneralisationPanel::clear()
{
    m_runs.clear();
    rebuild();
}

void DomainGeneralisationPanel::rebuild()
{
    QStringList targets;
    for (const RunResults& run : m_runs)
        for (const QString& name : run.targetNames)
            if (!targets.contains(name))
                targets << name;
    QStringList headers = {tr("Run"), tr("Method"), tr("Shots"), tr("Source")};
    headers += targets;
    m_table->clear();
    m_table->setColumnCount(headers.size());
    m_table->setHorizontalHeaderLabels(headers);
    m_table->setRowCount(m_runs.size());
    for (int row = 0; row < m_runs.size(); ++row) {
        const RunResults& run = m_runs[row];
        m_table->setItem(row, 0, new QTableWidgetItem(run.runId));
        m_table->setItem(row, 1, new QTableWidgetItem(run.methodTitle.isEmpty() ? run.method : run.methodTitle));
        m_table->setItem(row, 2, new QTableWidgetItem(QString::number(run.shots)));
        auto* source = percentItem(run.trainingClasses.valid ? run.trainingClasses.accuracy : -1);
        source->setToolTip(run.dataset);
        m_table->setItem(row, 3, source);
        for (int t = 0; t < targets.size(); ++t) {
            const int index = run.targetNames.indexOf(targets[t]);
            m_table->setItem(row, 4 + t, percentItem(index >= 0 && run.targets[index].valid ? run.targets[index].accuracy : -1));
        }
    }
    m_table->resizeColumnsToContents();
}

} // namespace tunebench
