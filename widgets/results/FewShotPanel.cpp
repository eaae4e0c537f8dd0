#include "widgets/results/FewShotPanel.h"

#include "report/ShotCurvePlot.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QMap>
#include <QVBoxLayout>

namespace tunebench {

namespace {

// A run's value for `metric`, or -1 when it has none.
double scoreOf(const RunResults& run, FewShotPanel::Metric metric)
{
    switch (metric) {
    case FewShotPanel::Metric::Accuracy: return !run.baseNew && run.trainingClasses.valid ? run.trainingClasses.accuracy : -1;
    case FewShotPanel::Metric::Base: return run.baseNew && run.trainingClasses.valid ? run.trainingClasses.accuracy : -1;
    case FewShotPanel::Metric::New: return run.baseNew && run.novel.valid ? run.novel.accuracy : -1;
    case FewShotPanel::Metric::H: return run.baseNew ? run.harmonic : -1;
    case FewShotPanel::Metric::Auto: break;
    }
    return -1;
}

} // namespace

FewShotPanel::FewShotPanel(QWidget* parent)
    : WorkbenchTab(parent)
{
    setObjectName("fewShotPanel");
    m_metricBox = new QComboBox(this);
    m_metricBox->setObjectName("fewShotMetric");
    m_note = new QLabel(this);
    m_note->setWordWrap(true);
    m_plot = new ShotCurvePlot(this);
    m_plot->setObjectName("fewShotPlot");
    auto* controls = new QHBoxLayout;
    controls->addWidget(m_metricBox);
    controls->addWidget(m_note, 1);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(controls);
    layout->addWidget(m_plot, 1);
    connect(m_metricBox, &QComboBox::currentIndexChanged, this, [this](int index) { setMetric(static_cast<Metric>(std::max(0, index))); });
    retranslate();
}

QString FewShotPanel::tabTitle() const
{
    return tr("Few-shot curves");
}

void FewShotPanel::retranslate()
{
    const QSignalBlocker block(m_metricBox);
    m_metricBox->clear();
    m_metricBox->addItems({tr("H or accuracy"), tr("Accuracy"), tr("Base"), tr("New"), tr("H")});
    m_metricBox->setCurrentIndex(static_cast<int>(m_metric));
    m_metricBox->setToolTip(tr("The score drawn: H under base-to-new, else accuracy; or one of them"));
    rebuild();
}

void FewShotPanel::addResults(const RunResults& results)
{
    storeRun(m_runs, results);
    rebuild();
}

void FewShotPanel::clear()
{
    m_runs.clear();
    rebuild();
}

void FewShotPanel::setDataset(const QString& name)
{
    m_dataset = name;
    rebuild();
}

void FewShotPanel::setMetric(Metric metric)
{
    m_metric = metric;
    if (m_metricBox->currentIndex() != static_cast<int>(metric)) {
        const QSignalBlocker block(m_metricBox);
        m_metricBox->setCurrentIndex(static_cast<int>(metric));
    }
    rebuild();
}

QString FewShotPanel::shownDataset() const
{
    return m_dataset.isEmpty() && !m_runs.isEmpty() ? m_runs.back().dataset : m_dataset;
}

FewShotPanel::Metric FewShotPanel::effectiveMetric() const
{
    if (m_metric != Metric::Auto)
        return m_metric;
    const QString dataset = shownDataset();
    for (auto it = m_runs.rbegin(); it != m_runs.rend(); ++it)
        if (it->dataset == dataset)
            return it->baseNew ? Metric::H : Metric::Accuracy;
    return Metric::Accuracy;
}

std::vector<ShotCurve> FewShotPanel::curves() const
{
    const QString dataset = shownDataset();
    const Metric metric = effectiveMetric();
    // method -> shots -> (sum, count), in the order methods first appear.
    QStringList order;
    QMap<QString, QMap<int, QPair<double, int>>> sums;
    QMap<QString, bool> dashed;
    for (const RunResults& run : m_runs) {
        const double score = scoreOf(run, metric);
        if (run.dataset != dataset || run.status != "finished" || score < 0)
            continue;
        const QString method = run.methodTitle.isEmpty() ? run.method : run.methodTitle;
        if (!order.contains(method))
            order << method;
        auto& cell = sums[method][run.capabilities.usesTrainingImages ? run.shots : 0];
        cell.first += score;
        cell.second += 1;
        dashed[method] = !run.capabilities.usesPrompts;
    }
    std::vector<ShotCurve> out;
    for (const QString& method : order) {
        ShotCurve curve;
        curve.method = method.toStdString();
        curve.dashed = dashed[method];
        for (auto it = sums[method].begin(); it != sums[method].end(); ++it) {
            curve.shots.push_back(it.key());
            curve.values.push_back(it.value().first / it.value().second);
        }
        out.push_back(curve);
    }
    return out;
}

void FewShotPanel::rebuild()
{
    const std::vector<ShotCurve> shown = curves();
    const Metric metric = effectiveMetric();
    const QString label = metric == Metric::H ? tr("H (%)") : metric == Metric::Base ? tr("Base (%)")
                                              : metric == Metric::New ? tr("New (%)") : tr("Accuracy (%)");
    const QString dataset = shownDataset();
    m_plot->setCurves(shown, dataset, label);
    m_note->setText(shown.empty() ? tr("Finished runs on the open dataset appear here; run a method at several shot counts "
                                         "(1, 2, 4, 8, 16) to draw its curve. Means over seeds.")
                                    : tr("Means over seeds; zero-shot is the star at 0."));
}

} // namespace tunebench
