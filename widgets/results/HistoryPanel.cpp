#include "widgets/results/HistoryPanel.h"

#include "widgets/results/RunResults.h"
#include "widgets/window/BackgroundTasks.h"

#include "core/experiment/PetlStudy.h"
#include "core/experiment/RunOutcome.h"
#include "core/experiment/RunSettings.h"
#include "core/train/RunStore.h"

#include <QDir>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QMessageBox>
#include <QPushButton>
#include <QTreeWidget>
#include <QVBoxLayout>

#include <nlohmann/json.hpp>

namespace tunebench {

HistoryPanel::HistoryPanel(QWidget* parent)
    : WorkbenchTab(parent)
{
    setObjectName("historyPanel");
    auto* layout = new QVBoxLayout(this);
    m_rootLabel = new QLabel(this);
    m_rootLabel->setWordWrap(true);
    m_tree = new QTreeWidget(this);
    m_tree->setObjectName("historyTree");
    m_tree->setColumnCount(5);
    m_tree->setRootIsDecorated(false);
    m_tree->setSelectionMode(QAbstractItemView::ExtendedSelection);
    m_refresh = new QPushButton(this);
    m_refresh->setObjectName("historyRefresh");
    m_open = new QPushButton(this);
    m_open->setObjectName("historyOpen");
    m_delete = new QPushButton(this);
    m_delete->setObjectName("historyDelete");
    m_continue = new QPushButton(this);
    m_continue->setObjectName("historyContinue");
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(m_refresh);
    buttons->addWidget(m_open);
    buttons->addWidget(m_continue);
    buttons->addWidget(m_delete);
    buttons->addStretch(1);
    layout->addWidget(m_rootLabel);
    layout->addWidget(m_tree, 1);
    layout->addLayout(buttons);
    connect(m_refresh, &QPushButton::clicked, this, &HistoryPanel::refresh);
    connect(m_open, &QPushButton::clicked, this, &HistoryPanel::openSelected);
    connect(m_delete, &QPushButton::clicked, this, &HistoryPanel::deleteSelected);
    connect(m_continue, &QPushButton::clicked, this, [this] {
        if (const auto items = m_tree->selectedItems(); items.size() == 1)
            Q_EMIT continueRequested(items.front()->data(0, Qt::UserRole).toString());
    });
    connect(m_tree, &QTreeWidget::itemSelectionChanged, this, &HistoryPanel::updateButtons);
    connect(m_tree, &QTreeWidget::itemDoubleClicked, this, &HistoryPanel::openSelected);
    updateButtons();
}

void HistoryPanel::setRunsRoot(const QString& folder)
{
    m_root = folder;
    m_rootLabel->setText(tr("Runs are stored in %1").arg(QDir::toNativeSeparators(m_root)));
    refresh();
}

void HistoryPanel::setActiveRun(const QString& runId, bool running)
{
    m_activeRunId = runId;
    m_running = running;
    updateButtons();
}

void HistoryPanel::refresh()
{
    m_tree->clear();
    std::vector<RunSummary> runs;
    try {
        runs = listRuns(m_root.toStdString());
    } catch (const std::exception& e) {
        Q_EMIT problem(tr("Could not list the runs in %1: %2").arg(m_root, firstLine(e)));
    }
    for (const RunSummary& run : runs) {
        auto* item = new QTreeWidgetItem(m_tree);
        item->setText(0, QString::fromStdString(run.id));
        item->setText(1, QString::fromStdString(run.method));
        item->setText(2, QString::fromStdString(run.dataset));
        item->setText(3, runStatusText(run.status));
        QString result;
        if (run.results.is_object()) {
            try {
                // The run's headline figure, as every result view reads it (RunOutcome).
                const RunOutcome outcome = RunOutcome::fromJson(run.results, run.folder + "/results.json");
                const auto headline = outcome.headline();
                const auto percent = [](double value) { return QString::number(value * 100, 'f', 2); };
                if (!headline)
                    result = QString::fromStdString(outcome.message);  // why a failed run ended
                else if (headline->name == "H")
                    result = tr("H %1%").arg(percent(headline->value));
                else if (headline->name == "target")
                    result = tr("target %1%").arg(percent(headline->value));
                else if (headline->name == "A_T")
                    result = tr("A_T %1%").arg(percent(headline->value)) +
                             (outcome.forgetting ? tr(", F_T %1%").arg(percent(*outcome.forgetting)) : QString());
                else
                    result = tr("accuracy %1%").arg(percent(headline->value));
            } catch (const std::exception& e) {
                result = firstLine(e);
            }
        }
        item->setText(4, result);
        item->setData(0, Qt::UserRole, QString::fromStdString(run.folder));
        // Why Continue run does not take this run ("" when it does), by the rule the run controller applies.
        QString noContinue;
        try {
            noContinue = QString::fromStdString(
                whyNotContinuedInWindow(RunSettings::fromJson(run.settings.is_object() ? run.settings : nlohmann::json::object(), run.folder + "/config.json"),
                                        run.status, run.folder));
        } catch (const std::exception& e) {
            noContinue = firstLine(e);
        }
        item->setData(3, Qt::UserRole, noContinue);
        item->setToolTip(0, QString::fromStdString(run.folder));
    }
    for (int i = 0; i < 5; ++i)
        m_tree->resizeColumnToContents(i);
    updateButtons();
}

void HistoryPanel::openSelected()
{
    for (QTreeWidgetItem* item : m_tree->selectedItems()) {
        const QString folder = item->data(0, Qt::UserRole).toString();
        try {
            if (isPetlStudyFolder(folder.toStdString()))
                Q_EMIT petlTableOpened(folder);
            else if (RunStore::open(folder.toStdString()).readResults().value("protocol", "") == "continual")
                Q_EMIT continualRunOpened(folder);
            else
                Q_EMIT runOpened(readRunFolder(folder));
        } catch (const std::exception& e) {
            Q_EMIT problem(tr("Could not open run %1: %2").arg(item->text(0), firstLine(e)));
        }
    }
}

void HistoryPanel::deleteSelected()
{
    const auto items = m_tree->selectedItems();
    if (items.isEmpty())
        return;
    if (QMessageBox::question(this, tr("Delete runs"), tr("Delete %n run folder(s) from disk?", nullptr, items.size())) != QMessageBox::Yes)
        return;
    QStringList kept;
    for (QTreeWidgetItem* item : items) {
        const QString folder = item->data(0, Qt::UserRole).toString();
        // The run in progress writes into its folder (a run being set up has no results.json yet).
        const bool active = m_running && (QFileInfo(folder).fileName() == m_activeRunId || !QFileInfo::exists(folder + "/results.json"));
        if (active)
            kept << item->text(0);
        else
            QDir(folder).removeRecursively();
    }
    refresh();
    if (!kept.isEmpty())
        Q_EMIT problem(tr("Not deleted, in progress: %1. Stop the run first.").arg(kept.join(", ")));
}

void HistoryPanel::updateButtons()
{
    const bool selection = !m_tree->selectedItems().isEmpty();
    m_open->setEnabled(selection);
    m_delete->setEnabled(selection);
    const auto selected = m_tree->selectedItems();
    const QString noContinue = selected.size() == 1 ? selected.front()->data(3, Qt::UserRole).toString() : QString();
    m_continue->setEnabled(!m_running && selected.size() == 1 && noContinue.isEmpty());
    // A disabled button says why, for the one run selected.
    m_continue->setToolTip(noContinue.isEmpty() ? m_continueHelp : tr("Cannot continue: %1").arg(noContinue));
}

QString HistoryPanel::tabTitle() const
{
    return tr("Run history");
}

void HistoryPanel::retranslate()
{
    m_tree->setHeaderLabels({tr("Run"), tr("Method"), tr("Dataset"), tr("Status"), tr("Result")});
    m_refresh->setText(tr("Refresh"));
    m_open->setText(tr("Show results"));
    m_open->setToolTip(tr("Add the selected runs to the results table, to compare them"));
    m_delete->setText(tr("Delete"));
    m_delete->setToolTip(tr("Delete the selected run folders from disk"));
    m_continue->setText(tr("Continue run"));
    m_continueHelp = tr("Train the selected stopped run on from its last finished epoch, in its own folder and with its own "
                        "settings (tunebench-cli train --resume)");
    m_rootLabel->setText(tr("Runs are stored in %1").arg(QDir::toNativeSeparators(m_root)));
    updateButtons();
}

} // namespace tunebench
