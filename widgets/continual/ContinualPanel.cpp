#include "widgets/continual/ContinualPanel.h"

#include "core/Error.h"
#include "core/experiment/Caches.h"
#include "core/experiment/Experiment.h"
#include "core/train/RunControl.h"
#include "core/train/RunStore.h"
#include "core/train/Trainer.h"
#include "core/tuning/StrategyInfo.h"
#include "report/HeatMap.h"
#include "report/PlotStyle.h"
#include "widgets/window/BackgroundTasks.h"
#include "widgets/window/SeriesText.h"

#include <QCheckBox>
#include <QComboBox>
#include <QFile>
#include <QFileDialog>
#include <QLineEdit>
#include <QPointer>
#include <QPushButton>
#include <QSpinBox>
#include <QTableWidget>
#include <QVBoxLayout>

#include <algorithm>
#include <filesystem>

namespace fs = std::filesystem;

namespace tunebench {

namespace {

// The registry's methods that learn a stream of tasks, in its order.
std::vector<std::string> continualMethods()
{
    std::vector<std::string> methods;
    for (const StrategyInfo& info : strategyRegistry())
        if (info.capabilities.continual)
            methods.push_back(info.name);
    return methods;
}

// The protocol's joint training, with its default method.
ContinualSettings jointTraining()
{
    ContinualSettings joint;
    joint.joint = true;
    return joint;
}

// The rows of a method's matrix: the joint training has one, trained on every task at once.
std::vector<std::string> rowLabels(const QString& method)
{
    if (method != QString::fromStdString(continualLabel(jointTraining())))
        return {};
    return {QObject::tr("joint").toStdString()};
}

// What the worker thread runs: a copy of the settings, so that the form may change meanwhile.
struct Job
{
    QString dataset, runsRoot;
    bool classIncremental = true;
    int tasks = 5;
    QStringList domains;
    // The continual protocol's cell of each chosen method, then of the joint training (what its config.json
    // records, as the CLI's would); the seed is set per run.
    std::vector<RunSettings> runs;
    QList<int> seeds;
};

} // namespace

ContinualPanel::ContinualPanel(JobHost* jobs, QWidget* parent)
    : StudyPanel(jobs, QStringLiteral("continual"), continualMethods(), QStringLiteral("1,2,3"), parent)
{
    // The stream, the methods (and the joint training) and the schedule.
    m_protocol = new QComboBox(this);
    m_protocol->setObjectName("continualProtocol");
    m_protocol->addItem(QString(), "class");
    m_protocol->addItem(QString(), "domain");
    m_taskCount = makeSpinBox("Tasks", 2, 1000, 5);
    m_domains = new QLineEdit(this);
    m_domains->setObjectName("continualDomains");
    m_joint = new QCheckBox(this);
    m_joint->setObjectName("continualJoint");
    m_joint->setChecked(true);
    addToMethodRow(m_joint);
    m_epochs = makeSpinBox("Epochs", 1, 1000, 5);
    m_trainPerClass = makeSpinBox("TrainPerClass", 0, 1000000, 0);
    m_testPerClass = makeSpinBox("TestPerClass", 0, 1000000, 0);
    addFormRow({{QT_TR_NOOP("Protocol"), m_protocol}, {QT_TR_NOOP("Tasks"), m_taskCount}, {QT_TR_NOOP("Domains"), m_domains, 3}});
    addFormRow({{QT_TR_NOOP("Methods"), methodsField(), 3}, {QT_TR_NOOP("Seeds"), seedsField()}, {QT_TR_NOOP("Epochs per task"), m_epochs}});
    addFormRow({{QT_TR_NOOP("Training images per class"), m_trainPerClass}, {QT_TR_NOOP("Test images per class"), m_testPerClass}});
    m_export = new QPushButton(this);
    m_export->setObjectName("continualExport");
    addButton(m_export);

    // The views: the task timeline, the matrix, the summary and the selection histogram.
    m_timeline = new QCustomPlot(this);
    m_timeline->setObjectName("continualTimeline");
    m_timeline->setMinimumHeight(160);
    m_matrix = new HeatMap(this);
    m_matrix->setObjectName("continualMatrix");
    m_selection = new HeatMap(this);
    m_selection->setObjectName("continualSelection");
    m_shownMethod = new QComboBox(this);
    m_shownMethod->setObjectName("continualShownMethod");
    m_summary = makeSummaryTable(4);
    auto* side = new QWidget(this);
    auto* sideLayout = new QVBoxLayout(side);
    sideLayout->setContentsMargins(0, 0, 0, 0);
    sideLayout->addWidget(m_shownMethod);
    sideLayout->addWidget(m_summary, 1);
    auto* top = makeSplitter(Qt::Horizontal, {m_timeline, side});
    setViews(makeSplitter(Qt::Vertical, {top, makeSplitter(Qt::Horizontal, {m_matrix, m_selection})}));

    connect(m_protocol, &QComboBox::currentIndexChanged, this, &ContinualPanel::updateControls);
    connect(m_domains, &QLineEdit::textChanged, this, &ContinualPanel::updateControls);
    connect(m_joint, &QCheckBox::toggled, this, &ContinualPanel::updateControls);
    connect(m_export, &QPushButton::clicked, this, [this] {
        const QString folder = QFileDialog::getExistingDirectory(this, tr("Export the pool, keys and head to"));
        if (!folder.isEmpty())
            exportTo(folder);
    });
    connect(m_shownMethod, &QComboBox::currentTextChanged, this, &ContinualPanel::showMethod);
    retranslate();
}

ContinualPanel::~ContinualPanel() = default;

bool ContinualPanel::hasChosenRuns() const
{
    return m_joint->isChecked() || StudyPanel::hasChosenRuns();
}

QString ContinualPanel::settingsProblem() const
{
    const bool domain = m_protocol->currentData().toString() == "domain";
    QStringList methods = chosenMethods();
    if (m_joint->isChecked())
        methods << QString::fromStdString(jointTraining().method);
    if (model().path.isEmpty())
        return tr("Open a model with a ViT image tower first");
    if (const QString refusal = modelRefusal(methods); !refusal.isEmpty())
        return refusal;
    if (!domain && dataset().isEmpty())
        return tr("Open a dataset: its classes are split into the tasks");
    if (domain && m_domains->text().split(',', Qt::SkipEmptyParts).size() < 2)
        return tr("Name at least two datasets with the same classes, separated by commas");
    return {};
}

void ContinualPanel::updateOwnControls(bool running)
{
    const bool domain = m_protocol->currentData().toString() == "domain";
    m_taskCount->setEnabled(!domain && !running);
    m_domains->setEnabled(domain && !running);
    m_export->setEnabled(!running && m_lastRunFolder.contains(m_shownMethod->currentText()));
}

JobHost::Work ContinualPanel::prepareJob(const QList<int>& seeds)
{
    auto job = std::make_shared<Job>();
    job->dataset = dataset();
    job->runsRoot = runsRoot();
    job->classIncremental = m_protocol->currentData().toString() == "class";
    job->tasks = m_taskCount->value();
    for (const QString& name : m_domains->text().split(',', Qt::SkipEmptyParts))
        job->domains << name.trimmed();
    RunSettings stream;  // what the cells share
    stream.model = model().path.toStdString();
    stream.device = device().toStdString();
    stream.epochs = m_epochs->value();
    stream.shots = m_trainPerClass->value();
    stream.protocolOptions = {{"stream", job->classIncremental ? "class" : "domain"},
                              {"test_per_class", m_testPerClass->value()},
                              {"order_seed", seeds.front()}};  // every seed sees the same stream
    if (job->classIncremental) {
        stream.dataset = job->dataset.toStdString();
        stream.protocolOptions["tasks"] = job->tasks;
    } else {
        std::vector<std::string> names;
        for (const QString& name : job->domains)
            names.push_back(name.toStdString());
        stream.protocolOptions["datasets"] = names;
    }
    for (const QString& method : chosenMethods())
        job->runs.push_back(continualCell(stream, method.toStdString(), false, seeds.front()));
    if (m_joint->isChecked())
        job->runs.push_back(continualCell(stream, jointTraining().method, true, seeds.front()));
    job->seeds = seeds;

    m_results.clear();
    m_summaries.clear();
    m_lastRunFolder.clear();
    m_shownMethod->clear();
    showRows(m_summary, {});
    m_matrix->clear();
    m_selection->clear();
    m_timeline->clearGraphs();
    m_timeline->replot();
    setStatus(tr("Preparing the stream ..."));

    QPointer<ContinualPanel> self(this);
    return [self, job](const JobHost::Context& context) {
        const RunSettings& first = job->runs.front();
        const Backbone backbone = loadImageBackbone(first.model, first.device);
        std::vector<ContinualTask> tasks;
        if (job->classIncremental) {
            tasks = classIncrementalTasks(*cachedDataset(job->dataset.toStdString()), job->tasks, static_cast<std::uint64_t>(job->seeds.front()));
        } else {
            std::vector<DatasetIndex> domains;
            for (const QString& name : job->domains)
                domains.push_back(*cachedDataset(name.toStdString()));
            tasks = domainIncrementalTasks(domains);
        }
        const std::string stream = continualStreamName(tasks, job->classIncremental, job->dataset.toStdString());
        const int stagesPerRun = static_cast<int>(tasks.size());
        // The joint training is one stage on every task at once.
        auto stagesOf = [stagesPerRun](const RunSettings& run) { return continualSettingsOf(run).joint ? 1 : stagesPerRun; };
        int total = 0;
        for (const RunSettings& run : job->runs)
            total += static_cast<int>(job->seeds.size()) * stagesOf(run);
        int stagesDone = 0;
        for (const RunSettings& run : job->runs) {
            const QString method = QString::fromStdString(continualLabel(continualSettingsOf(run)));
            for (int seed : job->seeds) {
                RunSettings cell = run;
                cell.seed = seed;
                ContinualCallbacks callbacks;
                std::int64_t stepsBefore = 0, lastStage = -1, lastStep = 0;
                callbacks.onStep = [&](int stage, const StepReport& report) {
                    if (stage != lastStage)
                        stepsBefore += lastStep, lastStage = stage;
                    lastStep = report.totalSteps;
                    const QString where = tr("%1 seed %2 · task %3/%4").arg(method).arg(seed).arg(stage + 1).arg(stagesOf(run));
                    context.progress(stagesDone + static_cast<double>(report.step) / std::max<std::int64_t>(1, report.totalSteps), total,
                                     stepLine(where, report));
                    const double x = static_cast<double>(stepsBefore + report.step);
                    const double loss = report.loss;
                    postToGui(self, [method, seed, stage, x, loss](ContinualPanel* panel) { panel->onStep(method, seed, stage, x, loss); });
                };
                callbacks.onTaskDone = [&](int stage, const std::vector<double>& row) {
                    ++stagesDone;
                    postToGui(self, [stage, row, stagesPerRun, method](ContinualPanel* panel) { panel->onRow(stage, row, stagesPerRun, method); });
                };
                // With a runs folder, a cell of the continual protocol: an ordinary run folder that the run
                // history lists and `tunebench-cli continual` resumes (and the other way round).
                QString folder;
                ContinualResult result;
                if (job->runsRoot.isEmpty()) {
                    result = runContinual(backbone, tasks, continualSettingsOf(cell), callbacks, &context.control());
                } else {
                    RunStore store = RunStore::at(
                        (fs::path(job->runsRoot.toStdString()) / continualRunFolderName(stream, method.toStdString(), seed)).string());
                    const FolderLock lock = store.lock();  // one writer per run folder, as the CLI's
                    folder = QString::fromStdString(store.folder());
                    result = runContinualCell(cell, backbone, tasks, stream, store, callbacks, &context.control());
                }
                if (result.status != "finished")
                    throw Error(QObject::tr("stopped during %1 seed %2; Start continues from the last finished task").arg(method).arg(seed).toStdString());
                postToGui(self, [result, folder, stagesPerRun](ContinualPanel* panel) { panel->onRunDone(result, folder, stagesPerRun); });
            }
        }
        return true;
    };
}

void ContinualPanel::onStep(const QString& method, int seed, int stage, double step, double loss)
{
    // One graph per task of the current run; a new run starts a new timeline.
    const QString title = QString("%1 seed %2").arg(method).arg(seed);
    if (m_timeline->property("run").toString() != title) {
        m_timeline->clearGraphs();
        m_timeline->setProperty("run", title);
        m_timeline->xAxis->setLabel(tr("Step (%1)").arg(title));
        m_timeline->yAxis->setLabel(tr("Training loss"));
    }
    while (m_timeline->graphCount() <= stage) {
        QCPGraph* graph = m_timeline->addGraph();
        graph->setPen(QPen(plotColour(m_timeline->graphCount() - 1), 1.5));
        graph->setName(tr("task %1").arg(m_timeline->graphCount()));
    }
    m_timeline->graph(stage)->addData(step, loss);
    m_timeline->rescaleAxes();
    m_timeline->replot(QCustomPlot::rpQueuedReplot);
}

void ContinualPanel::onRow(int stage, const std::vector<double>& row, int tasks, const QString& method)
{
    // The current run's matrix so far.
    if (stage == 0)
        m_liveRows.clear();
    m_liveRows.push_back(row);
    m_matrix->setData(accuracyMatrixHeatMap(m_liveRows, tasks, rowLabels(method), tr("%1: accuracy % so far").arg(method).toStdString()));
}

void ContinualPanel::showRunFolder(const QString& folder)
{
    const std::string path = folder.toStdString() + "/results.json";
    const ContinualResult result = ContinualResult::fromJson(RunStore::readJsonFile(path), path);
    if (result.matrix.empty())
        throw Error(path + ": the stream has no finished task");
    onRunDone(result, folder, static_cast<int>(result.matrix.back().size()));
}

void ContinualPanel::onRunDone(const ContinualResult& result, const QString& runFolder, int tasks)
{
    const QString method = QString::fromStdString(result.method);
    m_tasksInStream = tasks;
    // A seed shown again (a run reopened from the history) replaces its first showing.
    std::vector<ContinualResult>& runs = m_results[method];
    const auto same = std::find_if(runs.begin(), runs.end(), [&](const ContinualResult& shown) { return shown.seed == result.seed; });
    if (same != runs.end())
        *same = result;
    else
        runs.push_back(result);
    m_summaries[method] = summariseContinualSeeds(m_results[method]);
    if (!runFolder.isEmpty())
        m_lastRunFolder[method] = runFolder;
    if (m_shownMethod->findText(method) < 0)
        m_shownMethod->addItem(method);
    // The table: one row per method, A_T and F_T over the seeds finished so far.
    QList<QStringList> rows;
    for (auto it = m_summaries.constBegin(); it != m_summaries.constEnd(); ++it)
        rows.push_back({it.key(), percentText(it->averageAccuracy), it->forgetting ? percentText(*it->forgetting) : QString("-"),
                        QString::number(it->seeds)});
    showRows(m_summary, rows);
    m_shownMethod->setCurrentText(method);
    showMethod(method);
}

void ContinualPanel::showMethod(const QString& method)
{
    if (!m_summaries.contains(method))
        return;
    const ContinualSummary& summary = m_summaries[method];
    m_matrix->setData(accuracyMatrixHeatMap(summary.matrix, m_tasksInStream, rowLabels(method),
                                            (summary.seeds == 1 ? tr("%1: accuracy % (one seed)").arg(method)
                                                               : tr("%1: accuracy % (mean of %2 seeds)").arg(method).arg(summary.seeds))
                                              .toStdString()));
    if (summary.hasSelection())
        m_selection->setData(
            selectionHeatMap(summary.selection, tr("%1: prompts chosen for each task's test images (%)").arg(method).toStdString()));
    else
        m_selection->clear();
    updateControls();
}

QString ContinualPanel::finishedText() const
{
    QStringList parts;
    for (auto it = m_summaries.constBegin(); it != m_summaries.constEnd(); ++it)
        parts << tr("%1: A_T %2, F_T %3").arg(it.key(), percentText(it->averageAccuracy), it->forgetting ? percentText(*it->forgetting) : "-");
    return tr("Finished. %1").arg(parts.join("; "));
}

bool ContinualPanel::exportTo(const QString& folder)
{
    const QString method = m_shownMethod->currentText();
    const QString run = m_lastRunFolder.value(method);
    if (run.isEmpty()) {
        setStatus(tr("Nothing to export: run a stream first"));
        return false;
    }
    for (const QString& name : {QString("export.safetensors"), QString("export.json")}) {
        const QString target = folder + "/" + method + "-" + name;
        QFile::remove(target);
        if (!QFile::copy(run + "/" + name, target)) {
            setStatus(tr("Could not write %1").arg(target));
            return false;
        }
    }
    setStatus(tr("Exported %1's pool, keys and head to %2").arg(method, folder));
    return true;
}

QString ContinualPanel::tabTitle() const
{
    return tr("Continual learning");
}

void ContinualPanel::retranslate()
{
    m_protocol->setItemText(0, tr("Class-incremental"));
    m_protocol->setItemText(1, tr("Domain-incremental"));
    m_domains->setPlaceholderText(QStringLiteral("fashion-mnist,fashion-mnist:negative,fashion-mnist:blurred"));
    m_trainPerClass->setSpecialValueText(tr("all"));
    m_testPerClass->setSpecialValueText(tr("all"));
    m_joint->setText(tr("Joint training (upper bound)"));
    m_joint->setToolTip(tr("Also train %1 on every task's images together, in one stage: the ceiling, with no forgetting")
                            .arg(QString::fromStdString(findStrategy(jointTraining().method).title)));
    setStartTexts(tr("Start stream"), tr("Train the chosen methods on the stream, each seed in its own run folder"), tr("A stream is running"));
    m_export->setText(tr("Export..."));
    m_summary->setHorizontalHeaderLabels({tr("Method"), tr("A_T (%)"), tr("F_T (%)"), tr("Seeds")});
    StudyPanel::retranslate();
}

} // namespace tunebench
