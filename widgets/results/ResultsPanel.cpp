#include "widgets/results/ResultsPanel.h"

#include <QHeaderView>
#include <QLabel>
#include <QPlainTextEdit>
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

// A vocabulary token as text a reader can see: quoted (so that empty and space tokens show), control
// bytes as \xNN, spaces as '␣' and undecodable byte pieces as '?'.
QString visibleToken(const QString& token)
{
    QString out = QStringLiteral("\"");
    for (const QChar c : token) {
        if (c == QChar(0xFFFD))
            out += '?';
        else if (c == ' ')
            out += QChar(0x2423);
        else if (!c.isPrint())
            out += QStringLiteral("\\x%1").arg(c.unicode(), 2, 16, QChar('0'));
        else
            out += c;
    }
    return out + '"';
}

} // namespace

ResultsPanel::ResultsPanel(QWidget* parent)
    : WorkbenchTab(parent)
{
    setObjectName("resultsPanel");
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
    m_promptPage = new QWidget(this);
    m_promptTable = new QTableWidget(0, 3, m_promptPage);
    m_promptTable->verticalHeader()->setVisible(false);
    m_promptTable->horizontalHeader()->setStretchLastSection(true);
    m_promptNote = new QLabel(m_promptPage);
    m_promptNote->setWordWrap(true);
    m_nearestWords = new QPlainTextEdit(m_promptPage);
    m_nearestWords->setReadOnly(true);
    m_nearestWords->setMaximumHeight(110);
    auto* promptLayout = new QVBoxLayout(m_promptPage);
    promptLayout->setContentsMargins(0, 0, 0, 0);
    promptLayout->addWidget(m_promptNote);
    promptLayout->addWidget(m_promptTable, 1);
    promptLayout->addWidget(m_nearestWords);
    m_detailTabs->addTab(m_promptPage, QString());
    m_note = new QLabel(this);
    m_note->setWordWrap(true);

    auto* splitter = new QSplitter(Qt::Vertical, this);
    splitter->addWidget(m_summary);
    splitter->addWidget(m_detailTabs);
    splitter->setStretchFactor(0, 1);  // the run table holds a few rows; the per-class views need the room
    splitter->setStretchFactor(1, 2);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(splitter, 1);
    layout->addWidget(m_note);
    connect(m_confusion, &QTableWidget::cellClicked, this, [this](int trueLabel, int predictedLabel) {
        if (trueLabel != predictedLabel && selectedRun())
            Q_EMIT confusionCellClicked(trueLabel, predictedLabel);
    });
    connect(m_summary, &QTableWidget::currentCellChanged, this, [this](int row) {
        showDetails(row);
        Q_EMIT selectedRunChanged();
    });
    retranslate();
}

QString ResultsPanel::tabTitle() const
{
    return tr("Results");
}

void ResultsPanel::retranslate()
{
    m_summary->setHorizontalHeaderLabels({tr("Run"), tr("Method"), tr("Dataset"), tr("Base"), tr("New"), tr("H"), tr("Trainable"),
                                          tr("Status")});
    m_summary->setToolTip(tr("Accuracy (%) on the base classes, the new classes and their harmonic mean H, as in the CoCoOp paper; "
                             "vision-only methods have one accuracy over all classes (shown under Base), an adapted run (DAPL) its target's"));
    m_perClass->setHorizontalHeaderLabels({tr("Class"), tr("Split"), tr("Learned (%)"), tr("Hand-crafted (%)"), tr("Test images")});
    m_perClass->setToolTip(tr("Per-class accuracy of the tuned method next to the dataset's hand-crafted prompt (zero-shot CLIP) "
                              "on the same test images; the better of the two is highlighted"));
    m_detailTabs->setTabText(0, tr("Per-class accuracy"));
    m_detailTabs->setTabText(1, tr("Confusion matrix"));
    m_detailTabs->setTabText(2, tr("Prompt comparison"));
    m_promptTable->setToolTip(tr("Per-class accuracy of the dataset's hand-crafted prompt and of the learned contexts of the latest "
                                 "finished run of each prompt learner on the same dataset; the best prompt of each class is highlighted"));
    m_nearestWords->setPlaceholderText(tr("The nearest vocabulary words of each learned context vector appear here after a prompt learner's run (CoOp, CoCoOp, KgCoOp ...)."));
    m_nearestWords->setToolTip(tr("For each learned context vector, the vocabulary words whose embeddings are nearest (Euclidean distance), as in CoOp's paper"));
    m_confusion->setToolTip(tr("Rows: true class; columns: predicted class. Click a cell off the diagonal to see its images in the Mistakes tab"));
    for (int row = 0; row < m_results.size(); ++row)
        fillSummaryRow(row);
    showDetails(m_summary->currentRow());
    updatePromptComparison();
}

void ResultsPanel::addResults(const RunResults& results)
{
    const int row = storeRun(m_results, results);
    if (row == m_summary->rowCount())
        m_summary->insertRow(row);
    fillSummaryRow(row);
    m_summary->setCurrentCell(row, 0);
    showDetails(row);
    updatePromptComparison();
    Q_EMIT selectedRunChanged();  // a replaced row keeps its place: the selection's content changed
}

void ResultsPanel::clear()
{
    m_results.clear();
    m_summary->setRowCount(0);
    showDetails(-1);
    updatePromptComparison();
    Q_EMIT selectedRunChanged();
}

const RunResults* ResultsPanel::selectedRun() const
{
    const int row = m_summary->currentRow();
    return row >= 0 && row < m_results.size() ? &m_results[row] : nullptr;
}

void ResultsPanel::fillSummaryRow(int row)
{
    const RunResults& r = m_results[row];
    m_summary->setItem(row, 0, readOnlyItem(r.runId, Qt::AlignLeft | Qt::AlignVCenter));
    m_summary->setItem(row, 1, readOnlyItem(r.methodTitle.isEmpty() ? r.method : r.methodTitle, Qt::AlignLeft | Qt::AlignVCenter));
    m_summary->setItem(row, 2, readOnlyItem(r.dataset, Qt::AlignLeft | Qt::AlignVCenter));
    const double first = r.firstAccuracy >= 0 ? r.firstAccuracy : r.trainingClasses.valid ? r.trainingClasses.accuracy : -1;
    auto* firstItem = readOnlyItem(percent(first));
    if (r.firstAccuracyKind == "target")
        firstItem->setToolTip(tr("Accuracy on the target domain's test images (source: %1%)").arg(percent(r.trainingClasses.accuracy)));
    m_summary->setItem(row, 3, firstItem);
    m_summary->setItem(row, 4, readOnlyItem(r.novel.valid ? percent(r.novel.accuracy) : percent(-1)));
    auto* h = readOnlyItem(percent(r.harmonic));
    QFont bold = h->font();
    bold.setBold(true);
    h->setFont(bold);
    m_summary->setItem(row, 5, h);
    m_summary->setItem(row, 6, readOnlyItem(QLocale().toString(r.trainableParameters)));
    auto* statusItem = readOnlyItem(runStatusText(r.status.toStdString()), Qt::AlignLeft | Qt::AlignVCenter);
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
    addSplit(r.trainingClasses, r.handcraftedTrainingClasses, r.baseNew ? tr("base") : tr("all"));
    addSplit(r.novel, r.handcraftedNovel, tr("new"));
    m_perClass->resizeColumnsToContents();

    // The confusion matrix of the first split, shaded by row share so that errors stand out.
    const RunEvaluation& e = r.trainingClasses;
    const int n = e.classNames.size();
    m_confusion->setRowCount(n);
    m_confusion->setColumnCount(n);
    m_confusion->setVerticalHeaderLabels(e.classNames);
    m_confusion->setHorizontalHeaderLabels(e.classNames);  // predicted class, named as the rows are
    for (int t = 0; t < n && t < e.confusion.size(); ++t) {
        qint64 rowTotal = 0;
        for (qint64 v : e.confusion[t])
            rowTotal += v;
        for (int p = 0; p < n && p < e.confusion[t].size(); ++p) {
            const qint64 v = e.confusion[t][p];
            auto* item = readOnlyItem(QString::number(v), Qt::AlignCenter);
            item->setToolTip(t == p ? tr("true %1, predicted %2").arg(e.classNames[t], e.classNames[p])
                                    : tr("true %1, predicted %2: click to see these images in the Mistakes tab").arg(e.classNames[t], e.classNames[p]));
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
    if (r.handcraftedTrainingClasses.valid)
        note += ' ' + tr("Hand-crafted prompt: %1% (learned %2%)").arg(percent(r.handcraftedTrainingClasses.accuracy), percent(r.trainingClasses.accuracy));
    if (!r.novelMessage.isEmpty())
        note += ' ' + tr("New classes: %1").arg(r.novelMessage);
    if (r.status == "stopped")
        note += ' ' + tr("Stopped by request.");  // the engine's message, in the window's language
    else if (!r.message.isEmpty())
        note += ' ' + r.message;
    m_note->setText(note);
}

QString ResultsPanel::nearestWordsText() const
{
    return m_nearestWords->toPlainText();
}

void ResultsPanel::updatePromptComparison()
{
    m_promptTable->setRowCount(0);
    m_nearestWords->clear();
    // The dataset of the latest finished prompt learner's run, then the latest finished run of each prompt
    // learner on it, one column each in the order they were first trained.
    auto isLearnedPrompt = [](const RunResults& r) { return r.status == "finished" && r.capabilities.learnsPromptContext; };
    QString dataset;
    for (int i = m_results.size() - 1; i >= 0 && dataset.isEmpty(); --i)
        if (isLearnedPrompt(m_results[i]))
            dataset = m_results[i].dataset;
    m_promptTable->setColumnCount(3);
    m_promptTable->setHorizontalHeaderLabels({tr("Class"), tr("Split"), tr("Hand-crafted (%)")});
    if (dataset.isEmpty()) {
        m_promptNote->setText(tr("Train a prompt learner such as CoOp, CoCoOp or KgCoOp (or reopen such runs from the history) to compare "
                                 "learned prompts with the hand-crafted one."));
        return;
    }
    QVector<const RunResults*> columns;  // the latest run of each method
    for (const RunResults& r : m_results) {
        if (!isLearnedPrompt(r) || r.dataset != dataset)
            continue;
        auto same = std::find_if(columns.begin(), columns.end(), [&](const RunResults* c) { return c->method == r.method; });
        if (same != columns.end())
            *same = &r;
        else
            columns << &r;
    }

    // Rows: the classes in the runs' label order (base, then new); values looked up by class name.
    // values[0] is the hand-crafted prompt, values[1 + c] column c's method.
    struct Row
    {
        QString className, split;
        QVector<double> values;
    };
    const int valueCount = 1 + columns.size();
    QVector<Row> rows;
    auto rowOf = [&](const QString& name, const QString& split) -> Row& {
        for (Row& row : rows)
            if (row.className == name)
                return row;
        rows.append(Row{name, split, QVector<double>(valueCount, -1.0)});
        return rows.last();
    };
    auto addEvaluation = [&](const RunEvaluation& e, const QString& split, int value) {
        if (!e.valid)
            return;
        for (int c = 0; c < e.classNames.size(); ++c) {
            Row& row = rowOf(e.classNames[c], split);
            if (row.values[value] < 0 && c < e.perClass.size())
                row.values[value] = e.perClass[c];
        }
    };
    QStringList headers = {tr("Class"), tr("Split"), tr("Hand-crafted (%)")};
    QStringList runNames;
    for (int column = 0; column < columns.size(); ++column) {
        const RunResults* r = columns[column];
        const QString trainingSplit = r->baseNew ? tr("base") : tr("all");
        addEvaluation(r->trainingClasses, trainingSplit, column + 1);
        addEvaluation(r->novel, tr("new"), column + 1);
        addEvaluation(r->handcraftedTrainingClasses, trainingSplit, 0);
        addEvaluation(r->handcraftedNovel, tr("new"), 0);
        headers << tr("%1 (%)").arg(r->methodTitle);
        runNames << tr("%1: %2").arg(r->methodTitle, r->runId);
    }
    m_promptTable->setColumnCount(headers.size());
    m_promptTable->setHorizontalHeaderLabels(headers);

    const QColor winner(198, 239, 206);
    for (const Row& row : rows) {
        const int line = m_promptTable->rowCount();
        m_promptTable->insertRow(line);
        m_promptTable->setItem(line, 0, readOnlyItem(row.className, Qt::AlignLeft | Qt::AlignVCenter));
        m_promptTable->setItem(line, 1, readOnlyItem(row.split, Qt::AlignLeft | Qt::AlignVCenter));
        double best = -1;
        int known = 0;
        for (double v : row.values) {
            best = std::max(best, v);
            known += v >= 0 ? 1 : 0;
        }
        for (int value = 0; value < row.values.size(); ++value) {
            auto* item = readOnlyItem(percent(row.values[value]));
            // The winner only where there is something to beat; ties all count as winners.
            if (known >= 2 && row.values[value] >= 0 && row.values[value] == best)
                item->setBackground(winner);
            m_promptTable->setItem(line, value + 2, item);
        }
    }
    m_promptTable->resizeColumnsToContents();

    QStringList lines;
    for (const RunResults* r : columns) {
        if (r->nearestWords.isEmpty())
            lines << tr("%1 (%2): no nearest words were recorded").arg(r->methodTitle, r->runId);
        // Image-conditioned contexts are shown before the image's shift (CoCoOp's Meta-Net adds it per image).
        const QString shared = r->capabilities.imageConditioned ? tr(" (before the per-image shift)") : QString();
        for (int v = 0; v < r->nearestWords.size(); ++v) {
            QStringList words;
            for (const QString& word : r->nearestWords[v])
                words << visibleToken(word);
            lines << tr("%1 context %2%3: %4").arg(r->methodTitle).arg(v + 1).arg(shared, words.join(", "));
        }
    }
    m_nearestWords->setPlainText(lines.join('\n'));
    m_promptNote->setText(tr("Dataset %1. %2.").arg(dataset, runNames.join("; ")));
}

} // namespace tunebench
