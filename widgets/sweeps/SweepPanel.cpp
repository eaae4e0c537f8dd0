#include "widgets/sweeps/SweepPanel.h"

#include "core/Error.h"
#include "core/tuning/StrategyInfo.h"
#include "report/ShotCurvePlot.h"
#include "widgets/window/BackgroundTasks.h"
#include "widgets/window/ProgressBar.h"
#include "widgets/window/SeriesText.h"

#include <QComboBox>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPointer>
#include <QProgressBar>
#include <QPushButton>
#include <QSplitter>
#include <QTableWidget>
#include <QTimer>
#include <QVBoxLayout>

namespace tunebench {

namespace {

constexpr int kRefreshMs = 5000;

// The method's title, with its point of the sweep's option grid where it has one: "CoOp (lr=0.002 n_ctx=4)".
QString methodText(const SweepCell& cell)
{
    const std::string point = gridPointLabel(cell.options);
    return QString::fromStdString(findStrategy(cell.method).title + (point.empty() ? "" : " (" + point + ")"));
}

} // namespace

SweepPanel::SweepPanel(BackgroundTasks* tasks, QWidget* parent)
    : WorkbenchTab(parent)
    , m_tasks(tasks)
{
    setObjectName("sweepPanel");
    auto* layout = new QVBoxLayout(this);
    auto* top = new QHBoxLayout;
    m_open = new QPushButton(this);
    m_open->setObjectName("sweepOpen");
    m_refresh = new QPushButton(this);
    m_refresh->setObjectName("sweepRefresh");
    m_folder = new QLabel(this);
    m_folder->setObjectName("sweepFolder");
    m_folder->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_progress = makeProgressBar(this);
    m_progress->setObjectName("sweepProgress");
    m_progress->setRange(0, 1);
    m_progress->setValue(0);
    top->addWidget(m_open);
    top->addWidget(m_refresh);
    top->addWidget(m_folder, 1);
    top->addWidget(m_progress, 1);
    layout->addLayout(top);
    m_status = new QLabel(this);
    m_status->setObjectName("sweepStatus");
    m_status->setWordWrap(true);
    layout->addWidget(m_status);

    m_table = new QTableWidget(0, 8, this);
    m_table->setObjectName("sweepTable");
    m_table->verticalHeader()->setVisible(false);
    m_table->horizontalHeader()->setStretchLastSection(true);
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    auto* side = new QWidget(this);
    auto* sideLayout = new QVBoxLayout(side);
    sideLayout->setContentsMargins(0, 0, 0, 0);
    auto* datasetRow = new QHBoxLayout;
    m_datasetLabel = new QLabel(side);
    m_dataset = new QComboBox(side);
    m_dataset->setObjectName("sweepDataset");
    datasetRow->addWidget(m_datasetLabel);
    datasetRow->addWidget(m_dataset, 1);
    sideLayout->addLayout(datasetRow);
    m_curves = new ShotCurvePlot(side);
    m_curves->setObjectName("sweepCurves");
    sideLayout->addWidget(m_curves, 1);
    auto* views = new QSplitter(Qt::Horizontal, this);
    views->addWidget(m_table);
    views->addWidget(side);
    layout->addWidget(views, 1);

    m_timer = new QTimer(this);
    m_timer->setInterval(kRefreshMs);
    connect(m_timer, &QTimer::timeout, this, &SweepPanel::refresh);
    connect(m_refresh, &QPushButton::clicked, this, &SweepPanel::refresh);
    connect(m_open, &QPushButton::clicked, this, [this] {
        const QString folder = QFileDialog::getExistingDirectory(this, tr("Open a sweep folder (tunebench-cli sweep --out)"));
        if (!folder.isEmpty())
            openSweep(folder);
    });
    connect(m_dataset, &QComboBox::currentTextChanged, this, &SweepPanel::showCurves);
    retranslate();
}

bool SweepPanel::openSweep(const QString& folder)
{
    try {
        m_plan = readSweepPlan(folder.toStdString());
    } catch (const std::exception& e) {
        m_status->setText(tr("Cannot open the sweep: %1").arg(firstLine(e)));
        return false;
    }
    m_path = folder;
    m_folder->setText(folder);
    {
        const QSignalBlocker blocker(m_dataset);
        m_dataset->clear();
        for (const std::string& dataset : m_plan->datasets)
            m_dataset->addItem(QString::fromStdString(dataset));
    }
    refresh();
    return true;
}

void SweepPanel::refresh()
{
    if (!m_plan)
        return;
    // squeue and every run folder's results.json: off the GUI thread, a cluster's file system may be slow.
    QPointer<SweepPanel> self(this);
    const SweepPlan plan = *m_plan;
    m_tasks->start("sweep-refresh", [self, plan](const TaskToken& token) {
        SweepCounts counts;
        std::vector<SweepCell> cells;
        QString problem;
        try {
            counts = countStates(sweepStates(plan));
            cells = collectSweep(plan);
        } catch (const std::exception& e) {
            problem = firstLine(e);
        }
        if (token.cancelled())
            return;
        postToGui(self, [folder = plan.folder, counts, cells, problem](SweepPanel* panel) { panel->showState(folder, counts, cells, problem); });
    });
}

void SweepPanel::showState(const std::string& folder, const SweepCounts& counts, const std::vector<SweepCell>& cells, const QString& problem)
{
    if (!m_plan || m_plan->folder != folder)
        return;  // read for a sweep that is no longer open
    if (!problem.isEmpty()) {
        m_status->setText(tr("Cannot read the sweep: %1").arg(problem));
        return;
    }
    m_counts = counts;
    m_cells = cells;
    m_progress->setRange(0, std::max(1, m_counts.total));
    m_progress->setValue(m_counts.finished);
    m_status->setText(tr("%1 runs: %2 finished, %3 running, %4 pending, %5 failed")
                          .arg(m_counts.total)
                          .arg(m_counts.finished)
                          .arg(m_counts.running)
                          .arg(m_counts.pending)
                          .arg(m_counts.failed));
    // Unfinished runs may still finish (here or on the cluster): keep reading the folder until they have.
    if (m_counts.finished + m_counts.failed < m_counts.total)
        m_timer->start();
    else
        m_timer->stop();

    m_table->setRowCount(0);
    for (const SweepCell& cell : m_cells) {
        const int row = m_table->rowCount();
        m_table->insertRow(row);
        auto cellText = [&](const char* metric) {
            return cell.mean.count(metric) ? QString("%1 ± %2").arg(percentText(cell.mean.at(metric)), percentText(cell.stdev.at(metric)))
                                           : QString("-");
        };
        const QStringList texts = {QString::fromStdString(cell.dataset), methodText(cell),
                                   QString::number(cell.shots), QString::number(cell.seeds), cellText("accuracy"),
                                   cellText("base"), cellText("new"), cellText("h")};
        for (int column = 0; column < texts.size(); ++column)
            m_table->setItem(row, column, new QTableWidgetItem(texts[column]));
    }
    for (int column = 5; column < 8; ++column)  // Base, New and H exist only under base-to-new
        m_table->setColumnHidden(column, !m_plan->base.baseNew);
    m_table->resizeColumnsToContents();
    showCurves();
}

void SweepPanel::showCurves()
{
    if (!m_plan || m_dataset->currentText().isEmpty())
        return;
    const std::string dataset = m_dataset->currentText().toStdString();
    std::string metric;
    const std::vector<ShotCurve> curves = sweepCurves(*m_plan, m_cells, dataset, &metric);
    m_curves->setCurves(curves, QString::fromStdString(dataset), metric == "h" ? tr("H (%)") : tr("Accuracy (%)"));
}

QString SweepPanel::statusText() const
{
    return m_status->text();
}

QString SweepPanel::tabTitle() const
{
    return tr("Sweeps");
}

void SweepPanel::retranslate()
{
    m_open->setText(tr("Open sweep..."));
    m_open->setToolTip(tr("A folder written by tunebench-cli sweep --out (local or Slurm)"));
    m_refresh->setText(tr("Refresh"));
    m_datasetLabel->setText(tr("Dataset"));
    m_table->setHorizontalHeaderLabels(
        {tr("Dataset"), tr("Method"), tr("Shots"), tr("Seeds"), tr("Accuracy (%)"), tr("Base (%)"), tr("New (%)"), tr("H (%)")});
    if (!m_plan)
        m_status->setText(tr("Open a sweep folder to follow its runs and table (tunebench-cli sweep, docs/sweeps.md)."));
    else
        showCurves();
}

} // namespace tunebench
