#include "widgets/continual/ContinualPanel.h"

#include "core/Device.h"
#include "core/Error.h"
#include "core/experiment/Caches.h"
#include "core/experiment/Experiment.h"
#include "core/io/CheckpointLoader.h"
#include "core/train/RunControl.h"
#include "core/train/Trainer.h"
#include "core/tuning/StrategyInfo.h"
#include "report/HeatMap.h"
#include "report/PlotStyle.h"
#include "widgets/window/BackgroundTasks.h"
#include "widgets/window/JobHost.h"
#include "widgets/window/ProgressBar.h"
#include "widgets/window/SeriesText.h"

#include <QCheckBox>
#include <QComboBox>
#include <QFile>
#include <QFileDialog>
#include <QFormLayout>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QPointer>
#include <QProgressBar>
#include <QPushButton>
#include <QSpinBox>
#include <QSplitter>
#include <QTableWidget>
#include <QVBoxLayout>

#include <filesystem>

namespace fs = std::filesystem;

namespace tunebench {

namespace {

const char* const kMethods[] = {"l2p", "seq-ft", "joint"};
const QString kOwner = QStringLiteral("continual");  // this panel's jobs on the JobHost

// Joint training has one row, trained on every task at once.
std::vector<std::string> jointRowLabel(const QString& method)
{
    return method == "joint" ? std::vector<std::string>{QObject::tr("joint").toStdString()} : std::vector<std::string>{};
}

} // namespace

// What the worker thread runs: a copy of the settings, so that the form may change meanwhile.
struct ContinualPanel::Job
{
    QString modelPath, dataset, runsRoot, device;
    bool classIncremental = true;
    int tasks = 5;
    QStringList domains, methods;
    QList<int> seeds;
    ContinualSettings base;
};

ContinualPanel::ContinualPanel(JobHost* jobs, QWidget* parent)
    : WorkbenchTab(parent)
    , m_jobs(jobs)
{
    setObjectName("continualPanel");
    auto* layout = new QVBoxLayout(this);

    // The stream and the methods.
    auto* form = new QGridLayout;
    m_protocol = new QComboBox(this);
    m_protocol->setObjectName("continualProtocol");
    m_protocol->addItem(QString(), "class");
    m_protocol->addItem(QString(), "domain");
    m_taskCount = new QSpinBox(this);
    m_taskCount->setObjectName("continualTasks");
    m_taskCount->setRange(2, 1000);
    m_taskCount->setValue(5);
    m_domains = new QLineEdit(this);
    m_domains->setObjectName("continualDomains");
    m_seeds = new QLineEdit("1,2,3", this);
    m_seeds->setObjectName("continualSeeds");
    m_epochs = new QSpinBox(this);
    m_epochs->setObjectName("continualEpochs");
    m_epochs->setRange(1, 1000);
    m_epochs->setValue(5);
    m_trainPerClass = new QSpinBox(this);
    m_trainPerClass->setObjectName("continualTrainPerClass");
    m_trainPerClass->setRange(0, 1000000);
    m_testPerClass = new QSpinBox(this);
    m_testPerClass->setObjectName("continualTestPerClass");
    m_testPerClass->setRange(0, 1000000);
    auto* methodRow = new QHBoxLayout;
    for (const char* method : kMethods) {
        auto* box = new QCheckBox(this);
        box->setObjectName(QString("continualMethod_") + method);
        box->setChecked(true);
        methodRow->addWidget(box);
        m_methodBoxes.insert(method, box);
        connect(box, &QCheckBox::toggled, this, &ContinualPanel::updateControls);
    }
    methodRow->addStretch(1);
    for (int i = 0; i < 8; ++i)
        m_labels[i] = new QLabel(this);
    form->addWidget(m_labels[0], 0, 0);
    form->addWidget(m_protocol, 0, 1);
    form->addWidget(m_labels[1], 0, 2);
    form->addWidget(m_taskCount, 0, 3);
    form->addWidget(m_labels[2], 0, 4);
    form->addWidget(m_domains, 0, 5, 1, 3);
    form->addWidget(m_labels[3], 1, 0);
    form->addLayout(methodRow, 1, 1, 1, 3);
    form->addWidget(m_labels[4], 1, 4);
    form->addWidget(m_seeds, 1, 5);
    form->addWidget(m_labels[5], 1, 6);
    form->addWidget(m_epochs, 1, 7);
    form->addWidget(m_labels[6], 2, 0);
    form->addWidget(m_trainPerClass, 2, 1);
    form->addWidget(m_labels[7], 2, 2);
    form->addWidget(m_testPerClass, 2, 3);
    layout->addLayout(form);

    auto* buttons = new QHBoxLayout;
    m_start = new QPushButton(this);
    m_start->setObjectName("continualStart");
    m_stop = new QPushButton(this);
    m_stop->setObjectName("continualStop");
    m_export = new QPushButton(this);
    m_export->setObjectName("continualExport");
    m_progress = makeProgressBar(this);
    m_progress->setObjectName("continualProgress");
    m_progress->setRange(0, 1);
    m_progress->setValue(0);
    buttons->addWidget(m_start);
    buttons->addWidget(m_stop);
    buttons->addWidget(m_export);
    buttons->addWidget(m_progress, 1);
    layout->addLayout(buttons);
    m_status = new QLabel(this);
    m_status->setObjectName("continualStatus");
    m_status->setWordWrap(true);
    layout->addWidget(m_status);

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
    m_summary = new QTableWidget(0, 4, this);
    m_summary->setObjectName("continualSummary");
    m_summary->verticalHeader()->setVisible(false);
    m_summary->horizontalHeader()->setStretchLastSection(true);
    m_summary->setEditTriggers(QAbstractItemView::NoEditTriggers);
    auto* side = new QWidget(this);
    auto* sideLayout = new QVBoxLayout(side);
    sideLayout->setContentsMargins(0, 0, 0, 0);
    sideLayout->addWidget(m_shownMethod);
    sideLayout->addWidget(m_summary, 1);
    auto* top = new QSplitter(Qt::Horizontal, this);
    top->addWidget(m_timeline);
    top->addWidget(side);
    auto* bottom = new QSplitter(Qt::Horizontal, this);
    bottom->addWidget(m_matrix);
    bottom->addWidget(m_selection);
    auto* views = new QSplitter(Qt::Vertical, this);
    views->addWidget(top);
    views->addWidget(bottom);
    layout->addWidget(views, 1);

    connect(m_protocol, &QComboBox::currentIndexChanged, this, &ContinualPanel::updateControls);
    connect(m_domains, &QLineEdit::textChanged, this, &ContinualPanel::updateControls);
    connect(m_seeds, &QLineEdit::textChanged, this, &ContinualPanel::updateControls);
    connect(m_start, &QPushButton::clicked, this, &ContinualPanel::start);
    connect(m_stop, &QPushButton::clicked, this, &ContinualPanel::stop);
    connect(m_export, &QPushButton::clicked, this, [this] {
        const QString folder = QFileDialog::getExistingDirectory(this, tr("Export the pool, keys and head to"));
        if (!folder.isEmpty())
            exportTo(folder);
    });
    connect(m_shownMethod, &QComboBox::currentTextChanged, this, &ContinualPanel::showMethod);
    connect(m_jobs, &JobHost::runningChanged, this, &ContinualPanel::updateControls);
    followJobs(m_jobs, kOwner, this, m_progress, m_status, [this](bool completed, const QString& failure) { onStreamEnd(completed, failure); });
    retranslate();
}

ContinualPanel::~ContinualPanel() = default;

bool ContinualPanel::isRunning() const
{
    return m_jobs->owner() == kOwner;
}

void ContinualPanel::modelChanged(const LoadedModel& model)
{
    m_modelPath = model.path;
    m_spec = model.spec;
    updateControls();
}

void ContinualPanel::datasetChanged(const QString& pathOrName, const QString&)
{
    m_dataset = pathOrName;
    updateControls();
}

void ContinualPanel::runsRootChanged(const QString& folder)
{
    m_runsRoot = folder;
}

void ContinualPanel::deviceChanged(const QString& device)
{
    m_device = device;
}

QStringList ContinualPanel::chosenMethods() const
{
    QStringList methods;
    for (const char* method : kMethods)
        if (m_methodBoxes.value(method)->isChecked())
            methods << method;
    return methods;
}

QString ContinualPanel::statusText() const
{
    return m_status->text();
}

void ContinualPanel::updateControls()
{
    const bool running = isRunning();
    const bool domain = m_protocol->currentData().toString() == "domain";
    m_taskCount->setEnabled(!domain && !running);
    m_domains->setEnabled(domain && !running);
    // Why Start cannot run, in the order a user would fix it.
    QString why;
    const std::string refusal = m_modelPath.isEmpty() ? std::string() : strategyRefusal(findStrategy("l2p"), m_spec);
    if (running)
        why = tr("A stream is running");
    else if (m_jobs->isRunning())
        why = tr("Another job is running; one job runs at a time");
    else if (m_modelPath.isEmpty())
        why = tr("Open a model with a ViT image tower first");
    else if (!refusal.empty())
        why = QString::fromStdString(refusal);
    else if (!domain && m_dataset.isEmpty())
        why = tr("Open a dataset: its classes are split into the tasks");
    else if (domain && m_domains->text().split(',', Qt::SkipEmptyParts).size() < 2)
        why = tr("Name at least two datasets with the same classes, separated by commas");
    else if (chosenMethods().isEmpty())
        why = tr("Choose at least one method");
    m_start->setEnabled(why.isEmpty());
    m_start->setToolTip(why.isEmpty() ? tr("Train the chosen methods on the stream, each seed in its own run folder") : why);
    m_stop->setEnabled(running);
    m_export->setEnabled(!running && m_lastRunFolder.contains(m_shownMethod->currentText()));
    for (QWidget* w : std::initializer_list<QWidget*>{m_protocol, m_seeds, m_epochs, m_trainPerClass, m_testPerClass})
        w->setEnabled(!running);
    for (auto* box : m_methodBoxes)
        box->setEnabled(!running);
}

bool ContinualPanel::start()
{
    updateControls();
    if (!m_start->isEnabled()) {
        m_status->setText(tr("Cannot start: %1").arg(m_start->toolTip()));
        return false;
    }
    auto job = std::make_shared<Job>();
    job->modelPath = m_modelPath;
    job->dataset = m_dataset;
    job->runsRoot = m_runsRoot;
    job->device = m_device;
    job->classIncremental = m_protocol->currentData().toString() == "class";
    job->tasks = m_taskCount->value();
    for (const QString& name : m_domains->text().split(',', Qt::SkipEmptyParts))
        job->domains << name.trimmed();
    job->methods = chosenMethods();
    QString bad;
    job->seeds = parseSeedList(m_seeds->text(), &bad);
    if (!bad.isEmpty()) {
        m_status->setText(tr("Cannot start: seed '%1' is not a whole number").arg(bad));
        return false;
    }
    if (job->seeds.isEmpty()) {
        m_status->setText(tr("Cannot start: give at least one seed"));
        return false;
    }
    job->base.epochsPerTask = m_epochs->value();
    job->base.trainPerClass = m_trainPerClass->value();
    job->base.testPerClass = m_testPerClass->value();

    m_results.clear();
    m_summaries.clear();
    m_lastRunFolder.clear();
    m_shownMethod->clear();
    m_summary->setRowCount(0);
    m_matrix->clear();
    m_selection->clear();
    m_timeline->clearGraphs();
    m_timeline->replot();
    m_progress->setRange(0, 1);
    m_progress->setValue(0);
    m_status->setText(tr("Preparing the stream ..."));

    QPointer<ContinualPanel> self(this);
    return m_jobs->submit(kOwner, [self, job](const JobHost::Context& context) {
        const Backbone backbone{job->modelPath.toStdString(), readCheckpoint(job->modelPath.toStdString()), nullptr,
                                chooseDevice(job->device.toStdString())};
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
        int total = 0;
        for (const QString& method : job->methods)
            total += static_cast<int>(job->seeds.size()) * (method == "joint" ? 1 : stagesPerRun);
        int stagesDone = 0;
        for (const QString& method : job->methods) {
            for (int seed : job->seeds) {
                ContinualSettings settings = job->base;
                settings.joint = method == "joint";
                settings.method = settings.joint ? "l2p" : method.toStdString();
                settings.seed = seed;
                if (!job->runsRoot.isEmpty())
                    settings.runFolder = (fs::path(job->runsRoot.toStdString()) / continualRunFolderName(stream, continualLabel(settings), seed)).string();
                ContinualCallbacks callbacks;
                std::int64_t stepsBefore = 0, lastStage = -1, lastStep = 0;
                callbacks.onStep = [&](int stage, const StepReport& report) {
                    if (stage != lastStage)
                        stepsBefore += lastStep, lastStage = stage;
                    lastStep = report.totalSteps;
                    context.progress(stagesDone + static_cast<double>(report.step) / std::max<std::int64_t>(1, report.totalSteps), total,
                                     QObject::tr("%1 seed %2 · task %3/%4 · epoch %5/%6 · step %7/%8 · ETA %9")
                                         .arg(method)
                                         .arg(seed)
                                         .arg(stage + 1)
                                         .arg(method == "joint" ? 1 : stagesPerRun)
                                         .arg(report.epoch + 1)
                                         .arg(report.epochs)
                                         .arg(report.step)
                                         .arg(report.totalSteps)
                                         .arg(formatEta(report.etaSeconds)));
                    const double x = static_cast<double>(stepsBefore + report.step);
                    const double loss = report.loss;
                    postToGui(self, [method, seed, stage, x, loss](ContinualPanel* panel) { panel->onStep(method, seed, stage, x, loss); });
                };
                callbacks.onTaskDone = [&](int stage, const std::vector<double>& row) {
                    ++stagesDone;
                    postToGui(self, [stage, row, stagesPerRun, method](ContinualPanel* panel) { panel->onRow(stage, row, stagesPerRun, method); });
                };
                const ContinualResult result = runContinual(backbone, tasks, settings, callbacks, &context.control());
                if (result.status != "finished")
                    throw Error(QObject::tr("stopped during %1 seed %2; Start continues from the last finished task").arg(method).arg(seed).toStdString());
                const QString folder = QString::fromStdString(settings.runFolder);
                postToGui(self, [result, folder, stagesPerRun](ContinualPanel* panel) { panel->onRunDone(result, folder, stagesPerRun); });
            }
        }
        return true;
    });
}

void ContinualPanel::stop()
{
    if (!isRunning())
        return;
    m_jobs->requestStop();
    m_status->setText(tr("Stopping after the current step ..."));
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
    m_matrix->setData(accuracyMatrixHeatMap(m_liveRows, tasks, jointRowLabel(method), tr("%1: accuracy % so far").arg(method).toStdString()));
}

void ContinualPanel::onRunDone(const ContinualResult& result, const QString& runFolder, int tasks)
{
    const QString method = QString::fromStdString(result.method);
    m_tasksInStream = tasks;
    m_results[method].push_back(result);
    m_summaries[method] = summariseContinualSeeds(m_results[method]);
    if (!runFolder.isEmpty())
        m_lastRunFolder[method] = runFolder;
    if (m_shownMethod->findText(method) < 0)
        m_shownMethod->addItem(method);
    // The table: one row per method, A_T and F_T over the seeds finished so far.
    m_summary->setRowCount(0);
    for (auto it = m_summaries.constBegin(); it != m_summaries.constEnd(); ++it) {
        const int row = m_summary->rowCount();
        m_summary->insertRow(row);
        m_summary->setItem(row, 0, new QTableWidgetItem(it.key()));
        m_summary->setItem(row, 1, new QTableWidgetItem(percentText(it->averageAccuracy)));
        m_summary->setItem(row, 2, new QTableWidgetItem(it->forgetting ? percentText(*it->forgetting) : QString("-")));
        m_summary->setItem(row, 3, new QTableWidgetItem(QString::number(it->seeds)));
    }
    m_shownMethod->setCurrentText(method);
    showMethod(method);
}

void ContinualPanel::showMethod(const QString& method)
{
    if (!m_summaries.contains(method))
        return;
    const ContinualSummary& summary = m_summaries[method];
    m_matrix->setData(accuracyMatrixHeatMap(summary.matrix, m_tasksInStream, jointRowLabel(method),
                                            tr("%1: accuracy % (mean of %2 seeds)").arg(method).arg(summary.seeds).toStdString()));
    if (summary.hasSelection())
        m_selection->setData(
            selectionHeatMap(summary.selection, tr("%1: prompts chosen for each task's test images (%)").arg(method).toStdString()));
    else
        m_selection->clear();
    updateControls();
}

void ContinualPanel::onStreamEnd(bool completed, const QString& message)
{
    if (completed) {
        QStringList parts;
        for (auto it = m_summaries.constBegin(); it != m_summaries.constEnd(); ++it)
            parts << tr("%1: A_T %2, F_T %3").arg(it.key(), percentText(it->averageAccuracy), it->forgetting ? percentText(*it->forgetting) : "-");
        m_status->setText(tr("Finished. %1").arg(parts.join("; ")));
    } else {
        m_status->setText(tr("Not finished: %1").arg(message.isEmpty() ? tr("stopped") : message));
    }
    updateControls();
    Q_EMIT streamFinished(completed);
}

bool ContinualPanel::exportTo(const QString& folder)
{
    const QString method = m_shownMethod->currentText();
    const QString run = m_lastRunFolder.value(method);
    if (run.isEmpty()) {
        m_status->setText(tr("Nothing to export: run a stream first"));
        return false;
    }
    for (const QString& name : {QString("export.safetensors"), QString("export.json")}) {
        const QString target = folder + "/" + method + "-" + name;
        QFile::remove(target);
        if (!QFile::copy(run + "/" + name, target)) {
            m_status->setText(tr("Could not write %1").arg(target));
            return false;
        }
    }
    m_status->setText(tr("Exported %1's pool, keys and head to %2").arg(method, folder));
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
    m_labels[0]->setText(tr("Protocol"));
    m_labels[1]->setText(tr("Tasks"));
    m_labels[2]->setText(tr("Domains"));
    m_labels[3]->setText(tr("Methods"));
    m_labels[4]->setText(tr("Seeds"));
    m_labels[5]->setText(tr("Epochs per task"));
    m_labels[6]->setText(tr("Training images per class"));
    m_labels[7]->setText(tr("Test images per class"));
    m_domains->setPlaceholderText(QStringLiteral("fashion-mnist,fashion-mnist:negative,fashion-mnist:blurred"));
    m_trainPerClass->setSpecialValueText(tr("all"));
    m_testPerClass->setSpecialValueText(tr("all"));
    m_methodBoxes.value("l2p")->setText(tr("L2P"));
    m_methodBoxes.value("seq-ft")->setText(tr("Sequential fine-tuning"));
    m_methodBoxes.value("joint")->setText(tr("Joint (upper bound)"));
    m_start->setText(tr("Start stream"));
    m_stop->setText(tr("Stop"));
    m_export->setText(tr("Export..."));
    m_summary->setHorizontalHeaderLabels({tr("Method"), tr("A_T (%)"), tr("F_T (%)"), tr("Seeds")});
    updateControls();
}

} // namespace tunebench
