#include "widgets/petl/PetlTablePanel.h"

#include "core/Device.h"
#include "core/Error.h"
#include "core/experiment/Caches.h"
#include "core/experiment/PetlStudy.h"
#include "core/experiment/Protocol.h"
#include "core/io/CommaList.h"
#include "core/io/FolderLock.h"
#include "core/train/RunControl.h"
#include "core/train/RunStore.h"
#include "core/train/Trainer.h"
#include "core/tuning/StrategyInfo.h"
#include "report/PlotStyle.h"
#include "widgets/window/BackgroundTasks.h"
#include "widgets/window/SeriesText.h"

#include <QComboBox>
#include <QFileDialog>
#include <QHeaderView>
#include <QLineEdit>
#include <QPointer>
#include <QPushButton>
#include <QSpinBox>
#include <QTableWidget>

#include <filesystem>

namespace fs = std::filesystem;

namespace tunebench {

namespace {

// The demo's tasks: Fashion-MNIST and two of its domain variants (docs/petl-parameters.md).
const char* const kDemoTasks = "fashion-mnist,fashion-mnist:sketch,fashion-mnist:tinted";

// The classic family (the VPT paper's nine and today's PETL methods), in the registry's order.
std::vector<std::string> classicMethods()
{
    std::vector<std::string> methods;
    for (const StrategyInfo& info : strategyRegistry())
        if (info.family == StrategyFamily::ClassicPetl)
            methods.push_back(info.name);
    return methods;
}

QString methodTitle(const std::string& method)
{
    return QString::fromStdString(findStrategy(method).title);
}

QTableWidget* makeTable(QWidget* parent, const char* name)
{
    auto* table = new QTableWidget(0, 0, parent);
    table->setObjectName(name);
    table->verticalHeader()->setVisible(false);
    table->verticalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);  // a table's 13 rows fit without scrolling
    table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    return table;
}

// What the worker thread runs: a copy of the form, so that it may change meanwhile.
struct Job
{
    QString modelPath, vocabulary, runsRoot;
    std::vector<std::string> benchmark, methods;
    std::string group;
    std::vector<int> seeds;
    RunSettings settings;
};

} // namespace

PetlTablePanel::PetlTablePanel(JobHost* jobs, QWidget* parent)
    : StudyPanel(jobs, QStringLiteral("petl"), classicMethods(), QStringLiteral("1"), parent)
{
    m_tasks = new QComboBox(this);
    m_tasks->setObjectName("petlTasks");
    m_tasks->setEditable(true);
    m_tasks->addItems({kDemoTasks, "vtab-1k", "fgvc"});
    m_tasks->setCurrentText(kDemoTasks);
    connect(m_tasks, &QComboBox::currentTextChanged, this, &PetlTablePanel::updateControls);
    m_group = new QLineEdit(QStringLiteral("Demo"), this);
    m_group->setObjectName("petlGroup");
    // The documented demo table's schedule (docs/petl-parameters.md); 0 gives each method's recipe.
    m_epochs = makeSpinBox("Epochs", 0, 10000, 1);
    m_maxSteps = makeSpinBox("MaxSteps", 0, 100000000, 300);
    m_testImages = makeSpinBox("TestImages", 0, 10000000, 2000);
    addFormRow({{QT_TR_NOOP("Tasks"), m_tasks, 5}, {QT_TR_NOOP("Group"), m_group}});
    addFormRow({{QT_TR_NOOP("Methods"), methodsField(), 5}, {QT_TR_NOOP("Seeds"), seedsField()}});
    addFormRow({{QT_TR_NOOP("Epochs"), m_epochs}, {QT_TR_NOOP("Steps at most"), m_maxSteps}, {QT_TR_NOOP("Test images"), m_testImages}});
    setChosenMethods({"full", "linear", "vpt-deep", "lora", "adaptformer", "ssf"});
    m_open = new QPushButton(this);
    m_open->setObjectName("petlOpen");
    addButton(m_open);
    connect(m_open, &QPushButton::clicked, this, [this] {
        const QString folder = QFileDialog::getExistingDirectory(this, tr("Open a PETL table folder (tunebench-cli petl-table)"), runsRoot());
        if (!folder.isEmpty())
            openTable(folder);
    });

    // The current cell's loss beside the table over each task's accuracies.
    m_curves = new QCustomPlot(this);
    m_curves->setObjectName("petlCurves");
    m_curves->setMinimumHeight(160);
    m_curves->addGraph()->setPen(QPen(plotColour(0), 1.5));
    m_groupTable = makeTable(this, "petlTable");
    m_taskTable = makeTable(this, "petlTaskTable");
    setViews(makeSplitter(Qt::Horizontal, {m_curves, makeSplitter(Qt::Vertical, {m_groupTable, m_taskTable})}));
    retranslate();
}

PetlTablePanel::~PetlTablePanel() = default;

QString PetlTablePanel::settingsProblem() const
{
    if (model().path.isEmpty())
        return tr("Open a model first (a ViT, or a CLIP model for its image tower)");
    if (splitCommaList(m_tasks->currentText().toStdString()).empty())
        return tr("Name the tasks: vtab-1k, fgvc, task folders or datasets, separated by commas");
    return modelRefusal(chosenMethods());
}

JobHost::Work PetlTablePanel::prepareJob(const QList<int>& seeds)
{
    auto job = std::make_shared<Job>();
    job->modelPath = model().path;
    job->vocabulary = model().vocabulary;
    job->runsRoot = runsRoot().isEmpty() ? QString::fromStdString(RunStore::defaultRoot()) : runsRoot();
    job->benchmark = splitCommaList(m_tasks->currentText().toStdString());
    job->group = m_group->text().trimmed().isEmpty() ? "Other" : m_group->text().trimmed().toStdString();
    for (const QString& method : chosenMethods())
        job->methods.push_back(method.toStdString());
    job->seeds.assign(seeds.begin(), seeds.end());
    RunSettings& settings = job->settings;
    settings.model = job->modelPath.toStdString();
    settings.vocab = job->vocabulary.toStdString();
    settings.device = device().toStdString();
    settings.epochs = m_epochs->value();
    settings.maxSteps = m_maxSteps->value();
    settings.maxTestImages = m_testImages->value();

    showTable(PetlTable{}, QString());
    m_curves->graph(0)->data()->clear();
    m_curves->replot();
    setStatus(tr("Opening the tasks ..."));

    QPointer<PetlTablePanel> self(this);
    return [self, job](const JobHost::Context& context) {
        const std::vector<PetlStudyTask> tasks =
            resolvePetlTasks(job->benchmark, job->group, [&](const std::string& line) { context.progress(0, 1, QString::fromStdString(line)); });
        const RunStore store = RunStore::create(job->runsRoot.toStdString(), "petl-table", petlStudyLabel(job->benchmark, tasks.size()));
        RunSettings settings = job->settings;
        // The methods with a frozen tower (linear, mlp-3) share one image-tower pass per task, as the CLI's do.
        settings.featureCache = (fs::path(store.folder()) / "feature-cache").string();
        const PetlStudy study = planPetlStudy(store.folder(), settings, job->benchmark, tasks, job->methods, job->seeds);
        writePetlStudy(store, study);  // under the folder's lock, as the CLI's does
        const FolderLock lock = store.lock();  // then held while this job runs the cells and writes the table
        const QString folder = QString::fromStdString(store.folder());
        postToGui(self, [table = petlStudyTable(study), folder](PetlTablePanel* panel) { panel->showTable(table, folder); });

        std::vector<StudyCell> cells;
        for (const SweepRun& run : study.plan.runs)
            cells.push_back({runSettingsOf(study.plan, run), run.folder});
        // The window's loaded model serves every cell.
        Backbone backbone = *cachedBackbone(job->modelPath.toStdString(), job->vocabulary.toStdString());
        backbone.device = chooseDevice(settings.device);
        CellBackbones backbones;
        backbones.add(cells.front().settings, backbone);

        const std::map<std::string, std::string> taskOf = study.taskOfDataset();
        auto cellName = [&](std::size_t i) {
            const SweepRun& run = study.plan.runs[i];
            return QObject::tr("%1 on %2 seed %3").arg(methodTitle(run.method), QString::fromStdString(taskOf.at(run.dataset))).arg(run.seed);
        };
        const double total = static_cast<double>(cells.size());
        double done = 0;
        CellsHereCallbacks callbacks;
        callbacks.onStart = [&](std::size_t i) {
            postToGui(self, [name = cellName(i)](PetlTablePanel* panel) { panel->onCellStart(name); });
        };
        callbacks.onStep = [&](std::size_t i, const StepReport& report) {
            context.progress(done + std::min(0.99, static_cast<double>(report.step) / std::max<std::int64_t>(1, report.totalSteps)), total,
                             stepLine(cellName(i), report));
            postToGui(self, [step = static_cast<double>(report.step), loss = report.loss](PetlTablePanel* panel) { panel->onStep(step, loss); });
        };
        callbacks.onDone = [&](std::size_t i, const nlohmann::json& results) {
            ++done;
            context.progress(done, total, QObject::tr("%1: %2").arg(cellName(i), QString::fromStdString(results.value("status", ""))));
            postToGui(self, [table = petlStudyTable(study), folder](PetlTablePanel* panel) { panel->showTable(table, folder); });
        };
        runCellsHere(cells, callbacks, &context.control(), &backbones);

        const SweepCounts counts = countStates(sweepStates(study.plan));
        const PetlTable table = petlStudyTable(study);
        writePetlTableFiles(study, table, counts);
        postToGui(self, [table, folder](PetlTablePanel* panel) { panel->showTable(table, folder); });
        return counts.finished == counts.total;
    };
}

bool PetlTablePanel::openTable(const QString& folder)
{
    try {
        const PetlStudy study = readPetlStudy(folder.toStdString());
        showTable(petlStudyTable(study), QString::fromStdString(study.plan.folder));
        const SweepCounts counts = countStates(sweepStates(study.plan));
        setStatus(tr("%1: %2 of %3 runs finished").arg(folder).arg(counts.finished).arg(counts.total));
        return true;
    } catch (const std::exception& e) {
        setStatus(tr("Cannot open the table: %1").arg(firstLine(e)));
        return false;
    }
}

void PetlTablePanel::onCellStart(const QString& cell)
{
    m_curves->graph(0)->data()->clear();
    m_curves->xAxis->setLabel(tr("Step (%1)").arg(cell));
    m_curves->replot(QCustomPlot::rpQueuedReplot);
}

void PetlTablePanel::onStep(double step, double loss)
{
    m_curves->graph(0)->addData(step, loss);
    m_curves->graph(0)->rescaleAxes();
    m_curves->replot(QCustomPlot::rpQueuedReplot);
}

void PetlTablePanel::showTable(const PetlTable& table, const QString& folder)
{
    m_table = table;
    m_folder = folder;
    // The paper's layout: a method per row; per group its mean accuracy, the wins against Full in
    // parentheses; the storage multiplier over the tasks.
    QStringList header = {tr("Method")};
    for (const std::string& group : table.groups) {
        int tasks = 0;
        for (const PetlTableTask& task : table.tasks)
            tasks += task.group == group;
        const QString name = QString::fromStdString(group);
        header << (tasks == 1 ? tr("%1 (1 task)").arg(name) : tr("%1 (%2 tasks)").arg(name).arg(tasks));
    }
    header << tr("Total params");
    QList<QStringList> rows;
    for (const PetlTableRow& row : table.rows) {
        QStringList cells = {methodTitle(row.method)};
        for (const PetlGroupCell& cell : row.groups)
            cells << (!cell.mean ? QStringLiteral("-")
                      : cell.wins ? QStringLiteral("%1 (%2)").arg(percentText(*cell.mean)).arg(*cell.wins)
                                  : percentText(*cell.mean));
        cells << (row.multiplier ? QStringLiteral("%1x").arg(*row.multiplier, 0, 'f', 2) : QStringLiteral("-"));
        rows.push_back(cells);
    }
    m_groupTable->setColumnCount(static_cast<int>(header.size()));
    m_groupTable->setHorizontalHeaderLabels(header);
    showRows(m_groupTable, rows);
    m_groupTable->resizeColumnsToContents();

    // Each task's accuracy, the figures the groups average.
    header = QStringList{tr("Method")};
    for (const PetlTableTask& task : table.tasks)
        header << QString::fromStdString(task.name);
    rows.clear();
    for (const PetlTableRow& row : table.rows) {
        QStringList cells = {methodTitle(row.method)};
        for (const PetlTableTask& task : table.tasks) {
            const auto it = row.accuracies.find(task.name);
            cells << (it == row.accuracies.end() ? QStringLiteral("-") : percentText(it->second));
        }
        rows.push_back(cells);
    }
    m_taskTable->setColumnCount(static_cast<int>(header.size()));
    m_taskTable->setHorizontalHeaderLabels(header);
    showRows(m_taskTable, rows);
    m_taskTable->resizeColumnsToContents();
}

QString PetlTablePanel::finishedText() const
{
    return tr("Finished. The table is in %1 (table.csv, table.json, tasks.csv)").arg(m_folder);
}

QString PetlTablePanel::tabTitle() const
{
    return tr("PETL table");
}

void PetlTablePanel::retranslate()
{
    m_tasks->setToolTip(tr("The table's tasks, separated by commas: vtab-1k or fgvc (every task folder under $TUNEBENCH_DATA), task "
                           "folders, a folder holding them, or datasets standing in for tasks (the demo: Fashion-MNIST and two of its "
                           "domain variants)"));
    m_group->setToolTip(tr("The group of the tasks that are not VTAB-1k or FGVC tasks (VTAB-1k's and FGVC's own groups are known)"));
    m_epochs->setSpecialValueText(tr("recipe"));
    m_epochs->setToolTip(tr("Epochs of every cell; 0 = each method's recipe (the demo's table: 1 epoch of at most 300 steps)"));
    m_maxSteps->setSpecialValueText(tr("no limit"));
    m_maxSteps->setToolTip(tr("Each cell stops after this many steps (a quick look; 0 = no limit)"));
    m_testImages->setSpecialValueText(tr("all"));
    m_testImages->setToolTip(tr("A fixed subset of each task's test split, for a quick look (0 = every test image)"));
    m_open->setText(tr("Open table..."));
    m_open->setToolTip(tr("Show a table folder made by tunebench-cli petl-table (here, with --local or on a Slurm cluster)"));
    setStartTexts(tr("Start"), tr("Train every method on every task (all its training images) and test it: one run folder per cell"),
                  tr("A table is running"));
    m_curves->graph(0)->setName(tr("Training loss"));
    m_curves->yAxis->setLabel(tr("Loss"));
    showTable(m_table, m_folder);
    StudyPanel::retranslate();
}

} // namespace tunebench
