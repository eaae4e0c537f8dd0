#include "widgets/SweepPanel.h"

#include "core/Error.h"
#include "core/tuning/StrategyInfo.h"
#include "widgets/SeriesText.h"
#include "widgets/ShotCurvePlot.h"

#include <QComboBox>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QProgressBar>
#include <QPushButton>
#include <QSplitter>
#include <QTableWidget>
#include <QTimer>
#include <QVBoxLayout>

namespace tunebench {

namespace {
constexpr int kRefreshMs = 5000;
}

QVector<ShotCurve> sweepCurves(const SweepPlan& plan, const std::vector<SweepCell>& cells, const std::string& dataset, std::string* metric)
{
    *metric = plan.base.baseNew ? "h" : "accuracy";
    QVector<ShotCurve> curves;
    for (const std::string& method : plan.methods) {
        const StrategyInfo& info = findStrategy(method);
        ShotCurve curve;
        curve.method = QString::fromStdString(info.title);
        curve.dashed = !info.capabilities.usesPrompts;
        for (const SweepCell& cell : cells)
            if (cell.dataset == dataset && cell.method == method && cell.mean.count(*metric)) {
                curve.shots << (info.capabilities.usesTrainingImages ? cell.shots : 0);
                curve.values << cell.mean.at(*metric);
            }
        if (!curve.values.isEmpty())
            curves << curve;
    }
    return curves;
}

SweepPanel::SweepPanel(QWidget* parent)
    : QWidget(parent)
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
    m_progress = new QProgressBar(this);
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
        m_status->setText(tr("Cannot open the sweep: %1").arg(QString::fromStdString(e.what()).section('\n', 0, 0)));
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
    try {
        m_counts = countStates(sweepStates(*m_plan));
        m_cells = collectSweep(*m_plan);
    } catch (const std::exception& e) {
        m_status->setText(tr("Cannot read the sweep: %1").arg(QString::fromStdString(e.what()).section('\n', 0, 0)));
        return;
    }
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
        const QStringList texts = {QString::fromStdString(cell.dataset), QString::fromStdString(findStrategy(cell.method).title),
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
    const QVector<ShotCurve> curves = sweepCurves(*m_plan, m_cells, dataset, &metric);
    m_curves->setCurves(curves, QString::fromStdString(dataset), metric == "h" ? tr("H (%)") : tr("Accuracy (%)"));
}

QString SweepPanel::statusText() const
{
    return m_status->text();
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
