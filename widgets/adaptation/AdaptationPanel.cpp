#include "widgets/adaptation/AdaptationPanel.h"

#include "core/Device.h"
#include "core/Error.h"
#include "core/data/DomainAdaptationData.h"
#include "core/data/ImageDomains.h"
#include "core/experiment/Caches.h"
#include "core/experiment/Experiment.h"
#include "core/train/RunControl.h"
#include "core/train/Trainer.h"
#include "core/tuning/StrategyInfo.h"
#include "report/PlotStyle.h"
#include "widgets/window/BackgroundTasks.h"
#include "widgets/window/JobHost.h"
#include "widgets/window/ProgressBar.h"
#include "widgets/window/SeriesText.h"

#include <QCheckBox>
#include <QComboBox>
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

namespace tunebench {

namespace {

const char* const kMethods[] = {"zeroshot", "coop", "dapl"};
const char* const kCoverage = "pseudo_label_coverage";

} // namespace

const QString kOwner = QStringLiteral("adaptation");  // this panel's jobs on the JobHost

// What the worker thread runs: a copy of the settings, so that the form may change meanwhile.
struct AdaptationPanel::Job
{
    QString modelPath, vocabulary;
    AdaptationSettings settings;
};

AdaptationPanel::AdaptationPanel(JobHost* jobs, QWidget* parent)
    : WorkbenchTab(parent)
    , m_jobs(jobs)
{
    setObjectName("adaptationPanel");
    auto* layout = new QVBoxLayout(this);

    // The two domains, the methods and the schedule.
    QStringList known = {"fashion-mnist"};
    for (const std::string& domain : datasetVariantDomains())
        known << QString::fromStdString("fashion-mnist:" + domain);
    m_source = new QComboBox(this);
    m_source->setObjectName("adaptationSource");
    m_source->setEditable(true);
    m_source->addItems(known);
    m_source->setCurrentText("fashion-mnist");
    m_target = new QComboBox(this);
    m_target->setObjectName("adaptationTarget");
    m_target->setEditable(true);
    m_target->addItems(known);
    m_target->setCurrentText("fashion-mnist:negative");
    auto* methodRow = new QHBoxLayout;
    for (const char* method : kMethods) {
        auto* box = new QCheckBox(this);
        box->setObjectName(QString("adaptationMethod_") + method);
        box->setChecked(true);
        methodRow->addWidget(box);
        m_methodBoxes.insert(method, box);
        connect(box, &QCheckBox::toggled, this, &AdaptationPanel::updateControls);
    }
    methodRow->addStretch(1);
    m_shots = new QSpinBox(this);
    m_shots->setObjectName("adaptationShots");
    m_shots->setRange(0, 100000);
    m_shots->setValue(16);
    m_seeds = new QLineEdit("1", this);
    m_seeds->setObjectName("adaptationSeeds");
    m_epochs = new QSpinBox(this);
    m_epochs->setObjectName("adaptationEpochs");
    m_epochs->setRange(0, 10000);
    m_testImages = new QSpinBox(this);
    m_testImages->setObjectName("adaptationTestImages");
    m_testImages->setRange(0, 10000000);
    for (auto*& label : m_labels)
        label = new QLabel(this);
    auto* form = new QGridLayout;
    form->addWidget(m_labels[0], 0, 0);
    form->addWidget(m_source, 0, 1, 1, 3);
    form->addWidget(m_labels[1], 0, 4);
    form->addWidget(m_target, 0, 5, 1, 3);
    form->addWidget(m_labels[2], 1, 0);
    form->addLayout(methodRow, 1, 1, 1, 3);
    form->addWidget(m_labels[3], 1, 4);
    form->addWidget(m_shots, 1, 5);
    form->addWidget(m_labels[4], 1, 6);
    form->addWidget(m_seeds, 1, 7);
    form->addWidget(m_labels[5], 2, 0);
    form->addWidget(m_epochs, 2, 1);
    auto* testLabel = new QLabel(this);
    testLabel->setObjectName("adaptationTestImagesLabel");
    form->addWidget(testLabel, 2, 2);
    form->addWidget(m_testImages, 2, 3);
    layout->addLayout(form);

    auto* buttons = new QHBoxLayout;
    m_start = new QPushButton(this);
    m_start->setObjectName("adaptationStart");
    m_stop = new QPushButton(this);
    m_stop->setObjectName("adaptationStop");
    m_progress = makeProgressBar(this);
    m_progress->setObjectName("adaptationProgress");
    m_progress->setRange(0, 1);
    m_progress->setValue(0);
    buttons->addWidget(m_start);
    buttons->addWidget(m_stop);
    buttons->addWidget(m_progress, 1);
    layout->addLayout(buttons);
    m_status = new QLabel(this);
    m_status->setObjectName("adaptationStatus");
    m_status->setWordWrap(true);
    layout->addWidget(m_status);

    // The live curves (loss, and DAPL's pseudo-label coverage on the right axis), the per-class bars, the table.
    m_curves = new QCustomPlot(this);
    m_curves->setObjectName("adaptationCurves");
    m_curves->setMinimumHeight(160);
    m_curves->addGraph(m_curves->xAxis, m_curves->yAxis)->setPen(QPen(plotColour(0), 1.5));
    m_curves->addGraph(m_curves->xAxis, m_curves->yAxis2)->setPen(QPen(plotColour(1), 1.5));
    m_curves->yAxis2->setVisible(true);
    m_curves->yAxis2->setRange(0, 100);
    // Legends in a row under the plots, where they hide no data.
    m_curves->legend->setVisible(true);
    m_curves->plotLayout()->addElement(1, 0, m_curves->legend);
    m_curves->plotLayout()->setRowStretchFactor(1, 0.001);
    m_curves->legend->setFillOrder(QCPLayoutGrid::foColumnsFirst);
    m_perClass = new QCustomPlot(this);
    m_perClass->setObjectName("adaptationPerClass");
    m_perClass->setMinimumHeight(160);
    m_perClass->legend->setVisible(true);
    m_perClass->plotLayout()->addElement(1, 0, m_perClass->legend);
    m_perClass->plotLayout()->setRowStretchFactor(1, 0.001);
    m_perClass->legend->setFillOrder(QCPLayoutGrid::foColumnsFirst);
    m_summary = new QTableWidget(0, 4, this);
    m_summary->setObjectName("adaptationSummary");
    m_summary->verticalHeader()->setVisible(false);
    m_summary->horizontalHeader()->setStretchLastSection(true);
    m_summary->setEditTriggers(QAbstractItemView::NoEditTriggers);
    auto* top = new QSplitter(Qt::Horizontal, this);
    top->addWidget(m_curves);
    top->addWidget(m_summary);
    auto* views = new QSplitter(Qt::Vertical, this);
    views->addWidget(top);
    views->addWidget(m_perClass);
    layout->addWidget(views, 1);

    connect(m_source, &QComboBox::currentTextChanged, this, &AdaptationPanel::updateControls);
    connect(m_target, &QComboBox::currentTextChanged, this, &AdaptationPanel::updateControls);
    connect(m_seeds, &QLineEdit::textChanged, this, &AdaptationPanel::updateControls);
    connect(m_start, &QPushButton::clicked, this, &AdaptationPanel::start);
    connect(m_stop, &QPushButton::clicked, this, &AdaptationPanel::stop);
    connect(m_jobs, &JobHost::runningChanged, this, &AdaptationPanel::updateControls);
    followJobs(m_jobs, kOwner, this, m_progress, m_status, [this](bool completed, const QString& failure) { onSeriesEnd(completed, failure); });
    retranslate();
}

AdaptationPanel::~AdaptationPanel() = default;

bool AdaptationPanel::isRunning() const
{
    return m_jobs->owner() == kOwner;
}

void AdaptationPanel::modelChanged(const LoadedModel& model)
{
    m_modelPath = model.path;
    m_vocabulary = model.vocabulary;
    m_spec = model.spec;
    m_modelUsable = model.usable;
    updateControls();
}

void AdaptationPanel::datasetChanged(const QString& pathOrName, const QString&)
{
    if (!isRunning() && !pathOrName.isEmpty() && pathOrName != m_dataset)
        m_source->setCurrentText(pathOrName);
    m_dataset = pathOrName;
}

void AdaptationPanel::runsRootChanged(const QString& folder)
{
    m_runsRoot = folder;
}

void AdaptationPanel::deviceChanged(const QString& device)
{
    m_device = device;
}

QStringList AdaptationPanel::chosenMethods() const
{
    QStringList methods;
    for (const char* method : kMethods)
        if (m_methodBoxes.value(method)->isChecked())
            methods << method;
    return methods;
}

QString AdaptationPanel::statusText() const
{
    return m_status->text();
}

QMap<QString, double> AdaptationPanel::targetAccuracies() const
{
    QMap<QString, double> accuracies;
    for (auto it = m_methodSummaries.constBegin(); it != m_methodSummaries.constEnd(); ++it)
        accuracies[it.key()] = it->targetAccuracy;
    return accuracies;
}

void AdaptationPanel::updateControls()
{
    // Why Start cannot run, in the order a user would fix it.
    const bool running = isRunning();
    QString why;
    const QString source = m_source->currentText().trimmed(), target = m_target->currentText().trimmed();
    if (running)
        why = tr("A series is running");
    else if (m_jobs->isRunning())
        why = tr("Another job is running; one job runs at a time");
    else if (m_modelPath.isEmpty())
        why = tr("Open a CLIP model first");
    else if (!m_modelUsable)
        why = tr("The model's vocabulary is missing (File > Choose vocabulary)");
    else if (source.isEmpty() || target.isEmpty())
        why = tr("Choose a source and a target domain with the same classes");
    else if (source == target)
        why = tr("The source and the target are the same dataset");
    else if (chosenMethods().isEmpty())
        why = tr("Choose at least one method");
    for (const QString& method : chosenMethods())
        if (why.isEmpty() && !m_modelPath.isEmpty())
            why = QString::fromStdString(strategyRefusal(findStrategy(method.toStdString()), m_spec));
    m_start->setEnabled(why.isEmpty());
    m_start->setToolTip(why.isEmpty() ? tr("Train each method on the source (DAPL also on the unlabelled target images) and score the target") : why);
    m_stop->setEnabled(running);
    for (QWidget* w : std::initializer_list<QWidget*>{m_source, m_target, m_shots, m_seeds, m_epochs, m_testImages})
        w->setEnabled(!running);
    for (auto* box : m_methodBoxes)
        box->setEnabled(!running);
}

bool AdaptationPanel::start()
{
    updateControls();
    if (!m_start->isEnabled()) {
        m_status->setText(tr("Cannot start: %1").arg(m_start->toolTip()));
        return false;
    }
    auto job = std::make_shared<Job>();
    job->modelPath = m_modelPath;
    job->vocabulary = m_vocabulary;
    AdaptationSettings& settings = job->settings;
    settings.base.model = m_modelPath.toStdString();
    settings.base.dataset = m_source->currentText().trimmed().toStdString();
    settings.base.shots = m_shots->value();
    settings.base.epochs = m_epochs->value();
    settings.base.maxTestImages = m_testImages->value();
    settings.target = m_target->currentText().trimmed().toStdString();
    settings.runsRoot = m_runsRoot.toStdString();
    settings.base.device = m_device.toStdString();
    settings.methods.clear();
    for (const QString& method : chosenMethods())
        settings.methods.push_back(method.toStdString());
    QString bad;
    const QList<int> seeds = parseSeedList(m_seeds->text(), &bad);
    if (!bad.isEmpty()) {
        m_status->setText(tr("Cannot start: seed '%1' is not a whole number").arg(bad));
        return false;
    }
    settings.seeds.assign(seeds.begin(), seeds.end());
    if (settings.seeds.empty()) {
        m_status->setText(tr("Cannot start: give at least one seed"));
        return false;
    }

    m_methodSummaries.clear();
    m_methodOrder = chosenMethods();
    m_classNames.clear();
    m_summary->setRowCount(0);
    m_perClass->clearPlottables();
    m_perClass->replot();
    for (int g = 0; g < m_curves->graphCount(); ++g)
        m_curves->graph(g)->data()->clear();
    m_curves->replot();
    int runsTotal = 0;
    for (const std::string& method : settings.methods)
        runsTotal += findStrategy(method).capabilities.usesTrainingImages ? static_cast<int>(settings.seeds.size()) : 1;
    m_progress->setRange(0, 1);
    m_progress->setValue(0);
    m_status->setText(tr("Opening the source and target domains ..."));

    QPointer<AdaptationPanel> self(this);
    return m_jobs->submit(kOwner, [self, job, runsTotal](const JobHost::Context& context) {
        Backbone backbone = *cachedBackbone(job->modelPath.toStdString(), job->vocabulary.toStdString());
        backbone.device = chooseDevice(job->settings.base.device);
        const DatasetIndex source = openAdaptationDomain(job->settings.base.dataset);
        const DatasetIndex target = openAdaptationDomain(job->settings.target);
        requireSameClasses(source, target);
        QStringList classes;
        for (const std::string& name : source.classNames)
            classes << QString::fromStdString(name);
        postToGui(self, [classes](AdaptationPanel* panel) { panel->m_classNames = classes; });
        int runsDone = 0;
        AdaptationCallbacks callbacks;
        callbacks.onRunStart = [&](const std::string& method, int seed) {
            const QString name = QString::fromStdString(method);
            postToGui(self, [name, seed](AdaptationPanel* panel) { panel->onRunStart(name, seed); });
        };
        callbacks.onStep = [&](const std::string& method, int seed, const StepReport& report) {
            const auto coverage = report.metrics.find(kCoverage);
            const double covered = coverage == report.metrics.end() ? -1 : coverage->second;
            context.progress(runsDone + std::min(0.99, static_cast<double>(report.step) / std::max<std::int64_t>(1, report.totalSteps)),
                             runsTotal,
                             QObject::tr("%1 seed %2 · epoch %3/%4 · step %5/%6 · ETA %7")
                                 .arg(QString::fromStdString(method))
                                 .arg(seed)
                                 .arg(report.epoch + 1)
                                 .arg(report.epochs)
                                 .arg(report.step)
                                 .arg(report.totalSteps)
                                 .arg(formatEta(report.etaSeconds)));
            const double step = static_cast<double>(report.step), loss = report.loss;
            postToGui(self, [step, loss, covered](AdaptationPanel* panel) { panel->onStep(step, loss, covered); });
        };
        callbacks.onRunDone = [&](const AdaptationRun& run) {
            ++runsDone;
            context.progress(runsDone, runsTotal, QObject::tr("%1 seed %2: %3").arg(QString::fromStdString(run.method)).arg(run.seed).arg(QString::fromStdString(run.status)));
            postToGui(self, [run](AdaptationPanel* panel) { panel->onRunDone(run); });
        };
        const AdaptationReport report = runAdaptation(backbone, source, target, job->settings, callbacks, &context.control());
        return report.methods.size() == job->settings.methods.size();
    });
}

void AdaptationPanel::stop()
{
    if (!isRunning())
        return;
    m_jobs->requestStop();
    m_status->setText(tr("Stopping after the current step ..."));
}

void AdaptationPanel::onRunStart(const QString& method, int seed)
{
    for (int g = 0; g < m_curves->graphCount(); ++g)
        m_curves->graph(g)->data()->clear();
    m_curves->xAxis->setLabel(tr("Step (%1 seed %2)").arg(method).arg(seed));
    m_curves->replot(QCustomPlot::rpQueuedReplot);
    m_status->setText(tr("%1 seed %2 ...").arg(method).arg(seed));
}

void AdaptationPanel::onStep(double step, double loss, double coverage)
{
    m_curves->graph(0)->addData(step, loss);
    if (coverage >= 0)
        m_curves->graph(1)->addData(step, 100.0 * coverage);
    m_curves->graph(0)->rescaleAxes();
    m_curves->yAxis2->setRange(0, 100);
    m_curves->replot(QCustomPlot::rpQueuedReplot);
}

void AdaptationPanel::onRunDone(const AdaptationRun& run)
{
    if (run.status != "finished")
        return;
    const QString method = QString::fromStdString(run.method);
    // The figures core's report will hold, from the runs finished so far.
    std::vector<AdaptationRun> runs = m_methodSummaries.value(method).runs;
    runs.push_back(run);
    m_methodSummaries[method] = summariseAdaptationSeeds(run.method, runs);
    m_summary->setRowCount(0);
    for (const QString& name : m_methodOrder) {
        if (!m_methodSummaries.contains(name))
            continue;
        const AdaptationSummary& summary = m_methodSummaries[name];
        const int row = m_summary->rowCount();
        m_summary->insertRow(row);
        m_summary->setItem(row, 0, new QTableWidgetItem(QString::fromStdString(findStrategy(name.toStdString()).title)));
        m_summary->setItem(row, 1, new QTableWidgetItem(percentText(summary.targetAccuracy)));
        m_summary->setItem(row, 2, new QTableWidgetItem(percentText(summary.sourceAccuracy)));
        m_summary->setItem(row, 3, new QTableWidgetItem(QString::number(summary.runs.size())));
    }
    showPerClass();
}

void AdaptationPanel::showPerClass()
{
    m_perClass->clearPlottables();
    auto* group = new QCPBarsGroup(m_perClass);
    int colour = 0;
    for (const QString& method : m_methodOrder) {
        if (!m_methodSummaries.contains(method))
            continue;
        const std::vector<double>& perClass = m_methodSummaries[method].targetPerClass;
        auto* bars = new QCPBars(m_perClass->xAxis, m_perClass->yAxis);
        bars->setName(QString::fromStdString(findStrategy(method.toStdString()).title));
        bars->setPen(Qt::NoPen);
        bars->setBrush(plotColour(colour++));
        bars->setWidth(0.8 / std::max<qsizetype>(1, m_methodOrder.size()));
        bars->setBarsGroup(group);
        for (std::size_t c = 0; c < perClass.size(); ++c)
            bars->addData(static_cast<double>(c), std::max(0.0, 100.0 * perClass[c]));
    }
    QSharedPointer<QCPAxisTickerText> ticker(new QCPAxisTickerText);
    for (int c = 0; c < m_classNames.size(); ++c)
        ticker->addTick(c, m_classNames[c]);
    m_perClass->xAxis->setTicker(ticker);
    m_perClass->xAxis->setTickLabelRotation(m_classNames.size() > 6 ? 40 : 0);
    m_perClass->xAxis->setRange(-0.6, std::max(1, static_cast<int>(m_classNames.size())) - 0.4);
    m_perClass->yAxis->setRange(0, 100);
    m_perClass->replot(QCustomPlot::rpQueuedReplot);
}

void AdaptationPanel::onSeriesEnd(bool completed, const QString& message)
{
    if (completed) {
        QStringList parts;
        const auto accuracies = targetAccuracies();
        for (const QString& method : m_methodOrder)
            if (accuracies.contains(method))
                parts << tr("%1 %2%").arg(QString::fromStdString(findStrategy(method.toStdString()).title), percentText(accuracies[method]));
        m_status->setText(tr("Finished. Target accuracy: %1").arg(parts.join(", ")));
    } else {
        m_status->setText(tr("Not finished: %1").arg(message.isEmpty() ? tr("stopped") : message));
    }
    updateControls();
    Q_EMIT seriesFinished(completed);
}

QString AdaptationPanel::tabTitle() const
{
    return tr("Domain adaptation");
}

void AdaptationPanel::retranslate()
{
    m_labels[0]->setText(tr("Source (labelled)"));
    m_labels[1]->setText(tr("Target (unlabelled)"));
    m_labels[2]->setText(tr("Methods"));
    m_labels[3]->setText(tr("Source shots"));
    m_labels[4]->setText(tr("Seeds"));
    m_labels[5]->setText(tr("Epochs"));
    findChild<QLabel*>("adaptationTestImagesLabel")->setText(tr("Test images"));
    m_source->setToolTip(tr("A dataset with labels: a name such as fashion-mnist, or a folder (an Office-Home domain, a VisDA-2017 "
                            "image-list folder, a mini-DomainNet domain)"));
    m_target->setToolTip(tr("The domain to adapt to, with the same classes: DAPL sees its training images without labels; every "
                            "method is scored on its test images"));
    m_shots->setSpecialValueText(tr("all"));
    m_shots->setToolTip(tr("Labelled source images per class (0 = all)"));
    m_epochs->setSpecialValueText(tr("recipe"));
    m_epochs->setToolTip(tr("0 = each method's recipe (CoOp 200 epochs at 16 shots, DAPL 25)"));
    m_testImages->setSpecialValueText(tr("all"));
    m_testImages->setToolTip(tr("A fixed subset of each test split, for a quick look (0 = every test image)"));
    m_methodBoxes.value("zeroshot")->setText(tr("Zero-shot"));
    m_methodBoxes.value("coop")->setText(tr("CoOp (source only)"));
    m_methodBoxes.value("dapl")->setText(tr("DAPL"));
    m_start->setText(tr("Start"));
    m_stop->setText(tr("Stop"));
    m_curves->graph(0)->setName(tr("Training loss"));
    m_curves->graph(1)->setName(tr("Pseudo-label coverage (%)"));
    m_curves->yAxis->setLabel(tr("Loss"));
    m_curves->yAxis2->setLabel(tr("Coverage (%)"));
    m_perClass->yAxis->setLabel(tr("Target accuracy (%)"));
    m_summary->setHorizontalHeaderLabels({tr("Method"), tr("Target (%)"), tr("Source (%)"), tr("Seeds")});
    updateControls();
}

} // namespace tunebench
