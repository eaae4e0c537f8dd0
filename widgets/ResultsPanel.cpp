#include "widgets/ResultsPanel.h"

#include <QHeaderView>
#include <QLabel>
#include <QSplitter>
#include <QTabWidget>
#include <QTableWidget>
#include <QVBoxLayout>

#include <algorithm>

namespace tunebench {

namespace {

QString percent(double fraction)
{
    return fraction < 0 ? QStringLiteral("–") : QString::number(fraction * 100.0, 'f', 2);
}

QTableWidgetItem* readOnlyItem(const QString& text, Qt::Alignment alignment = Qt::AlignRight | Qt::AlignVCenter)
{
    auto* item = new QTableWidgetItem(text);
    item->setFlags(item->flags() & ~Qt::ItemIsEditable);
    item->setTextAlignment(alignment);
    return item;
}

} // namespace

ResultsPanel::ResultsPanel(QWidget* parent)
    : QWidget(parent)
{
    m_summary = new QTableWidget(0, 8, this);
    m_summary->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_summary->setSelectionMode(QAbstractItemView::SingleSelection);
    m_summary->verticalHeader()->setVisible(false);
    m_summary->horizontalHeader()->setStretchLastSection(true);
    m_perClass = new QTableWidget(0, 5, this);
    m_perClass->verticalHeader()->setVisible(false);
    m_perClass->horizontalHeader()->setStretchLastSection(true);
    m_confusion = new QTableWidget(this);
    m_confusion->horizontalHeader()->setDefaultSectionSize(44);
    m_detailTabs = new QTabWidget(this);
    m_detailTabs->addTab(m_perClass, QString());
    m_detailTabs->addTab(m_confusion, QString());
    m_note = new QLabel(this);
    m_note->setWordWrap(true);

    auto* splitter = new QSplitter(Qt::Vertical, this);
    splitter->addWidget(m_summary);
    splitter->addWidget(m_detailTabs);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(splitter, 1);
    layout->addWidget(m_note);
    connect(m_summary, &QTableWidget::currentCellChanged, this, [this](int row) { showDetails(row); });
    retranslate();
}

void ResultsPanel::retranslate()
{
    m_summary->setHorizontalHeaderLabels({tr("Run"), tr("Method"), tr("Dataset"), tr("Base"), tr("New"), tr("H"), tr("Trainable"),
                                          tr("Status")});
    m_summary->setToolTip(tr("Accuracy (%) on the base classes, the new classes and their harmonic mean H, as in the CoCoOp paper; "
                             "vision-only methods have one accuracy over all classes (shown under Base)"));
    m_perClass->setHorizontalHeaderLabels({tr("Class"), tr("Split"), tr("Learned (%)"), tr("Hand-crafted (%)"), tr("Test images")});
    m_perClass->setToolTip(tr("Per-class accuracy of the tuned method next to the dataset's hand-crafted prompt (zero-shot CLIP) "
                              "on the same test images; the better of the two is highlighted"));
    m_detailTabs->setTabText(0, tr("Per-class accuracy"));
    m_detailTabs->setTabText(1, tr("Confusion matrix"));
    m_confusion->setToolTip(tr("Rows: true class; columns: predicted class"));
    for (int row = 0; row < m_results.size(); ++row)
        fillSummaryRow(row);
    showDetails(m_summary->currentRow());
}

void ResultsPanel::addResults(const RunResults& results)
{
    int row = -1;
    for (int i = 0; i < m_results.size(); ++i)
        if (m_results[i].runId == results.runId && !results.runId.isEmpty())
            row = i;
    if (row < 0) {
        row = m_results.size();
        m_results.append(results);
        m_summary->insertRow(row);
    } else {
        m_results[row] = results;
    }
    fillSummaryRow(row);
    m_summary->setCurrentCell(row, 0);
    showDetails(row);
}

void ResultsPanel::clear()
{
    m_results.clear();
    m_summary->setRowCount(0);
    showDetails(-1);
}

void ResultsPanel::fillSummaryRow(int row)
{
    const RunResults& r = m_results[row];
    m_summary->setItem(row, 0, readOnlyItem(r.runId, Qt::AlignLeft | Qt::AlignVCenter));
    m_summary->setItem(row, 1, readOnlyItem(r.methodTitle.isEmpty() ? r.method : r.methodTitle, Qt::AlignLeft | Qt::AlignVCenter));
    m_summary->setItem(row, 2, readOnlyItem(r.dataset, Qt::AlignLeft | Qt::AlignVCenter));
    m_summary->setItem(row, 3, readOnlyItem(r.first.valid ? percent(r.first.accuracy) : percent(-1)));
    m_summary->setItem(row, 4, readOnlyItem(r.novel.valid ? percent(r.novel.accuracy) : percent(-1)));
    auto* h = readOnlyItem(percent(r.harmonic));
    QFont bold = h->font();
    bold.setBold(true);
    h->setFont(bold);
    m_summary->setItem(row, 5, h);
    m_summary->setItem(row, 6, readOnlyItem(QLocale().toString(r.trainableParameters)));
    const QString status = r.status == "finished" ? tr("finished") : r.status == "stopped" ? tr("stopped") : r.status == "diverged" ? tr("diverged") : r.status;
    auto* statusItem = readOnlyItem(status, Qt::AlignLeft | Qt::AlignVCenter);
    statusItem->setToolTip(r.message.isEmpty() ? r.novelMessage : r.message);
    m_summary->setItem(row, 7, statusItem);
    m_summary->resizeColumnsToContents();
}

void ResultsPanel::showDetails(int row)
{
    m_perClass->setRowCount(0);
    m_confusion->clear();
    m_confusion->setRowCount(0);
    m_confusion->setColumnCount(0);
    if (row < 0 || row >= m_results.size()) {
        m_note->setText(tr("Results appear here when a run ends."));
        return;
    }
    const RunResults& r = m_results[row];
    auto addSplit = [this](const RunEvaluation& evaluation, const RunEvaluation& handcrafted, const QString& split) {
        if (!evaluation.valid)
            return;
        const QColor winner(198, 239, 206);
        for (int c = 0; c < evaluation.classNames.size(); ++c) {
            const int line = m_perClass->rowCount();
            m_perClass->insertRow(line);
            m_perClass->setItem(line, 0, readOnlyItem(evaluation.classNames[c], Qt::AlignLeft | Qt::AlignVCenter));
            m_perClass->setItem(line, 1, readOnlyItem(split, Qt::AlignLeft | Qt::AlignVCenter));
            const double learned = c < evaluation.perClass.size() ? evaluation.perClass[c] : -1;
            const double baseline = handcrafted.valid && c < handcrafted.perClass.size() ? handcrafted.perClass[c] : -1;
            auto* learnedItem = readOnlyItem(percent(learned));
            auto* baselineItem = readOnlyItem(percent(baseline));
            if (learned >= 0 && baseline >= 0 && learned != baseline)
                (learned > baseline ? learnedItem : baselineItem)->setBackground(winner);
            m_perClass->setItem(line, 2, learnedItem);
            m_perClass->setItem(line, 3, baselineItem);
            m_perClass->setItem(line, 4, readOnlyItem(QString::number(c < evaluation.support.size() ? evaluation.support[c] : 0)));
        }
    };
    addSplit(r.first, r.handcraftedFirst, r.baseNew ? tr("base") : tr("all"));
    addSplit(r.novel, r.handcraftedNovel, tr("new"));
    m_perClass->resizeColumnsToContents();

    // The confusion matrix of the first split, shaded by row share so that errors stand out.
    const RunEvaluation& e = r.first;
    const int n = e.classNames.size();
    m_confusion->setRowCount(n);
    m_confusion->setColumnCount(n);
    m_confusion->setVerticalHeaderLabels(e.classNames);
    QStringList columns;
    for (int c = 0; c < n; ++c)
        columns << QString::number(c);
    m_confusion->setHorizontalHeaderLabels(columns);
    for (int t = 0; t < n && t < e.confusion.size(); ++t) {
        qint64 rowTotal = 0;
        for (qint64 v : e.confusion[t])
            rowTotal += v;
        for (int p = 0; p < n && p < e.confusion[t].size(); ++p) {
            const qint64 v = e.confusion[t][p];
            auto* item = readOnlyItem(QString::number(v), Qt::AlignCenter);
            item->setToolTip(tr("true %1, predicted %2").arg(e.classNames[t], e.classNames[p]));
            const double share = rowTotal > 0 ? double(v) / double(rowTotal) : 0.0;
            const QColor shade = t == p ? QColor(44, 160, 44) : QColor(214, 39, 40);
            QColor background = shade;
            background.setAlphaF(std::min(0.85, 0.1 + share * 0.75));
            if (v > 0)
                item->setBackground(background);
            m_confusion->setItem(t, p, item);
        }
    }
    QString note = tr("%1: %2 s, %3 trainable parameters.").arg(r.runId).arg(r.seconds, 0, 'f', 1).arg(QLocale().toString(r.trainableParameters));
    if (r.handcraftedFirst.valid)
        note += ' ' + tr("Hand-crafted prompt: %1% (learned %2%)").arg(percent(r.handcraftedFirst.accuracy), percent(r.first.accuracy));
    if (!r.novelMessage.isEmpty())
        note += ' ' + tr("New classes: %1").arg(r.novelMessage);
    if (!r.message.isEmpty())
        note += ' ' + r.message;
    m_note->setText(note);
}

} // namespace tunebench
