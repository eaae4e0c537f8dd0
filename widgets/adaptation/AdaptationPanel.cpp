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
#include "widgets/window/SeriesText.h"

#include <QComboBox>
#include <QPointer>
#include <QSpinBox>
#include <QTableWidget>

namespace tunebench {

namespace {

const char* const kCoverage = "pseudo_label_coverage";

// The protocol's source-only baselines (its default methods that do not adapt), then every method that
// adapts to the target.
std::vector<std::string> adaptationMethods()
{
    std::vector<std::string> methods;
    for (const std::string& method : AdaptationSettings().methods)
        if (!findStrategy(method).capabilities.adaptsToTarget)
            methods.push_back(method);
    for (const StrategyInfo& info : strategyRegistry())
        if (info.capabilities.adaptsToTarget)
            methods.push_back(info.name);
    return methods;
}

// The legend in a row under the plot, where it hides no data.
void legendBelow(QCustomPlot* plot)
{
    plot->legend->setVisible(true);
    plot->plotLayout()->addElement(1, 0, plot->legend);
    plot->plotLayout()->setRowStretchFactor(1, 0.001);
    plot->legend->setFillOrder(QCPLayoutGrid::foColumnsFirst);
}

// What the worker thread runs: a copy of the settings, so that the form may change meanwhile.
struct Job
{
    QString modelPath, vocabulary;
    AdaptationSettings settings;
};

} // namespace

AdaptationPanel::AdaptationPanel(JobHost* jobs, QWidget* parent)
    : StudyPanel(jobs, QStringLiteral("adaptation"), adaptationMethods(), QStringLiteral("1"), parent)
{
    // The two domains and the schedule, around the methods and seeds.
    QStringList known = {"fashion-mnist"};
    for (const std::string& domain : datasetVariantDomains())
        known << QString::fromStdString("fashion-mnist:" + domain);
    auto domainBox = [&](const char* name, const QString& current) {
        auto* box = new QComboBox(this);
        box->setObjectName(childName(name));
        box->setEditable(true);
        box->addItems(known);
        box->setCurrentText(current);
        connect(box, &QComboBox::currentTextChanged, this, &AdaptationPanel::updateControls);
        return box;
    };
    m_source = domainBox("Source", "fashion-mnist");
    m_target = domainBox("Target", "fashion-mnist:negative");
    m_shots = makeSpinBox("Shots", 0, 100000, 16);
    m_epochs = makeSpinBox("Epochs", 0, 10000, 0);
    m_testImages = makeSpinBox("TestImages", 0, 10000000, 0);
    addFormRow({{QT_TR_NOOP("Source (labelled)"), m_source, 3}, {QT_TR_NOOP("Target (unlabelled)"), m_target, 3}});
    addFormRow({{QT_TR_NOOP("Methods"), methodsField(), 3}, {QT_TR_NOOP("Source shots"), m_shots}, {QT_TR_NOOP("Seeds"), seedsField()}});
    addFormRow({{QT_TR_NOOP("Epochs"), m_epochs}, {QT_TR_NOOP("Test images"), m_testImages}});

    // The live curves (loss, and DAPL's pseudo-label coverage on the right axis), the per-class bars, the table.
    m_curves = new QCustomPlot(this);
    m_curves->setObjectName("adaptationCurves");
    m_curves->setMinimumHeight(160);
    m_curves->addGraph(m_curves->xAxis, m_curves->yAxis)->setPen(QPen(plotColour(0), 1.5));
    m_curves->addGraph(m_curves->xAxis, m_curves->yAxis2)->setPen(QPen(plotColour(1), 1.5));
    m_curves->yAxis2->setVisible(true);
    m_curves->yAxis2->setRange(0, 100);
    legendBelow(m_curves);
    m_perClass = new QCustomPlot(this);
    m_perClass->setObjectName("adaptationPerClass");
    m_perClass->setMinimumHeight(240);  // room for the axis title
    legendBelow(m_perClass);
    m_summary = makeSummaryTable(4);
    setViews(makeSplitter(Qt::Vertical, {makeSplitter(Qt::Horizontal, {m_curves, m_summary}), m_perClass}));
    retranslate();
}

AdaptationPanel::~AdaptationPanel() = default;

void AdaptationPanel::datasetChanged(const QString& pathOrName, const QString& name)
{
    if (!isRunning() && !pathOrName.isEmpty() && pathOrName != dataset())
        m_source->setCurrentText(pathOrName);
    StudyPanel::datasetChanged(pathOrName, name);
}

QString AdaptationPanel::methodLabel(const StrategyInfo& info) const
{
    // A baseline that trains sees the source alone.
    const QString title = QString::fromStdString(info.title);
    return info.capabilities.usesTrainingImages && !info.capabilities.adaptsToTarget ? tr("%1 (source only)").arg(title) : title;
}

QMap<QString, double> AdaptationPanel::targetAccuracies() const
{
    QMap<QString, double> accuracies;
    for (auto it = m_methodSummaries.constBegin(); it != m_methodSummaries.constEnd(); ++it)
        accuracies[it.key()] = it->targetAccuracy;
    return accuracies;
}

QString AdaptationPanel::settingsProblem() const
{
    const QString source = m_source->currentText().trimmed(), target = m_target->currentText().trimmed();
    if (model().path.isEmpty())
        return tr("Open a CLIP model first");
    if (!model().usable)
        return tr("The model's vocabulary is missing (File > Choose vocabulary)");
    if (source.isEmpty() || target.isEmpty())
        return tr("Choose a source and a target domain with the same classes");
    if (source == target)
        return tr("The source and the target are the same dataset");
    return modelRefusal(chosenMethods());
}

JobHost::Work AdaptationPanel::prepareJob(const QList<int>& seeds)
{
    auto job = std::make_shared<Job>();
    job->modelPath = model().path;
    job->vocabulary = model().vocabulary;
    AdaptationSettings& settings = job->settings;
    settings.base.model = model().path.toStdString();
    settings.base.dataset = m_source->currentText().trimmed().toStdString();
    settings.base.shots = m_shots->value();
    settings.base.epochs = m_epochs->value();
    settings.base.maxTestImages = m_testImages->value();
    settings.target = m_target->currentText().trimmed().toStdString();
    settings.runsRoot = runsRoot().toStdString();
    settings.base.device = device().toStdString();
    settings.methods.clear();
    for (const QString& method : chosenMethods())
        settings.methods.push_back(method.toStdString());
    settings.seeds.assign(seeds.begin(), seeds.end());

    m_methodSummaries.clear();
    m_methodOrder = chosenMethods();
    m_classNames.clear();
    showRows(m_summary, {});
    m_perClass->clearPlottables();
    m_perClass->replot();
    for (int g = 0; g < m_curves->graphCount(); ++g)
        m_curves->graph(g)->data()->clear();
    m_curves->replot();
    int runsTotal = 0;
    for (const std::string& method : settings.methods)
        runsTotal += seedMatters(findStrategy(method), settings.base) ? static_cast<int>(settings.seeds.size()) : 1;
    setStatus(tr("Opening the source and target domains ..."));

    QPointer<AdaptationPanel> self(this);
    return [self, job, runsTotal](const JobHost::Context& context) {
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
                             runsTotal, stepLine(tr("%1 seed %2").arg(QString::fromStdString(method)).arg(seed), report));
            const double step = static_cast<double>(report.step), loss = report.loss;
            postToGui(self, [step, loss, covered](AdaptationPanel* panel) { panel->onStep(step, loss, covered); });
        };
        callbacks.onRunDone = [&](const AdaptationRun& run) {
            ++runsDone;
            context.progress(runsDone, runsTotal, QObject::tr("%1 seed %2: %3").arg(QString::fromStdString(run.method)).arg(run.seed).arg(QString::fromStdString(run.status)));
            postToGui(self, [run](AdaptationPanel* panel) { panel->onRunDone(run); });
        };
        const AdaptationReport report = runAdaptation(backbone, source, target, job->settings, callbacks, &context.control());
        return !report.stopped && report.methods.size() == job->settings.methods.size();
    };
}

void AdaptationPanel::onRunStart(const QString& method, int seed)
{
    for (int g = 0; g < m_curves->graphCount(); ++g)
        m_curves->graph(g)->data()->clear();
    m_curves->xAxis->setLabel(tr("Step (%1 seed %2)").arg(method).arg(seed));
    m_curves->replot(QCustomPlot::rpQueuedReplot);
    setStatus(tr("%1 seed %2 ...").arg(method).arg(seed));
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
    QList<QStringList> rows;
    for (const QString& name : m_methodOrder) {
        if (!m_methodSummaries.contains(name))
            continue;
        const AdaptationSummary& summary = m_methodSummaries[name];
        rows.push_back({QString::fromStdString(findStrategy(name.toStdString()).title), percentText(summary.targetAccuracy),
                        percentText(summary.sourceAccuracy), QString::number(summary.runs.size())});
    }
    showRows(m_summary, rows);
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

QString AdaptationPanel::finishedText() const
{
    QStringList parts;
    const auto accuracies = targetAccuracies();
    for (const QString& method : m_methodOrder)
        if (accuracies.contains(method))
            parts << tr("%1 %2%").arg(QString::fromStdString(findStrategy(method.toStdString()).title), percentText(accuracies[method]));
    return tr("Finished. Target accuracy: %1").arg(parts.join(", "));
}

QString AdaptationPanel::tabTitle() const
{
    return tr("Domain adaptation");
}

void AdaptationPanel::retranslate()
{
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
    setStartTexts(tr("Start"), tr("Train each method on the source (DAPL also on the unlabelled target images) and score the target"),
                  tr("A series is running"));
    m_curves->graph(0)->setName(tr("Training loss"));
    m_curves->graph(1)->setName(tr("Pseudo-label coverage (%)"));
    m_curves->yAxis->setLabel(tr("Loss"));
    m_curves->yAxis2->setLabel(tr("Coverage (%)"));
    m_perClass->yAxis->setLabel(tr("Target accuracy (%)"));
    m_summary->setHorizontalHeaderLabels({tr("Method"), tr("Target (%)"), tr("Source (%)"), tr("Seeds")});
    StudyPanel::retranslate();
}

} // namespace tunebench
