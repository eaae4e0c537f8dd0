#include "widgets/window/StudyPanel.h"

#include "core/train/Trainer.h"
#include "core/tuning/StrategyInfo.h"
#include "widgets/window/ProgressBar.h"
#include "widgets/window/SeriesText.h"

#include <QCheckBox>
#include <QCoreApplication>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QSpinBox>
#include <QSplitter>
#include <QTableWidget>
#include <QVBoxLayout>

namespace tunebench {

StudyPanel::StudyPanel(JobHost* jobs, const QString& owner, const std::vector<std::string>& methods, const QString& seeds, QWidget* parent)
    : WorkbenchTab(parent)
    , m_jobs(jobs)
    , m_owner(owner)
{
    setObjectName(childName("Panel"));
    auto* layout = new QVBoxLayout(this);
    m_form = new QGridLayout;
    layout->addLayout(m_form);

    // The method check boxes, in rows of at most kMethodsPerRow, so that a long list does not widen the tab.
    constexpr std::size_t kMethodsPerRow = 7;
    m_methods = new QWidget(this);
    auto* methodRows = new QVBoxLayout(m_methods);
    methodRows->setContentsMargins(0, 0, 0, 0);
    for (std::size_t i = 0; i < methods.size(); ++i) {
        if (i % kMethodsPerRow == 0) {
            if (m_methodRow)
                m_methodRow->addStretch(1);
            m_methodRow = new QHBoxLayout;
            methodRows->addLayout(m_methodRow);
        }
        auto* box = new QCheckBox(m_methods);
        box->setObjectName(childName("Method_") + QString::fromStdString(methods[i]));
        box->setChecked(true);
        m_methodRow->addWidget(box);
        m_methodBoxes.emplace_back(QString::fromStdString(methods[i]), box);
        connect(box, &QCheckBox::toggled, this, &StudyPanel::updateControls);
    }
    if (!m_methodRow) {
        m_methodRow = new QHBoxLayout;
        methodRows->addLayout(m_methodRow);
    }
    m_methodRow->addStretch(1);
    m_seeds = new QLineEdit(seeds, this);
    m_seeds->setObjectName(childName("Seeds"));

    m_buttons = new QHBoxLayout;
    m_start = new QPushButton(this);
    m_start->setObjectName(childName("Start"));
    m_stop = new QPushButton(this);
    m_stop->setObjectName(childName("Stop"));
    m_progress = makeProgressBar(this);
    m_progress->setObjectName(childName("Progress"));
    m_progress->setRange(0, 1);
    m_progress->setValue(0);
    m_buttons->addWidget(m_start);
    m_buttons->addWidget(m_stop);
    m_buttons->addWidget(m_progress, 1);
    layout->addLayout(m_buttons);
    m_status = new QLabel(this);
    m_status->setObjectName(childName("Status"));
    m_status->setWordWrap(true);
    layout->addWidget(m_status);

    connect(m_seeds, &QLineEdit::textChanged, this, &StudyPanel::updateControls);
    connect(m_start, &QPushButton::clicked, this, &StudyPanel::start);
    connect(m_stop, &QPushButton::clicked, this, &StudyPanel::stop);
    connect(m_jobs, &JobHost::runningChanged, this, &StudyPanel::updateControls);
    followJobs(m_jobs, m_owner, this, m_progress, m_status, [this](bool completed, const QString& failure) { onJobEnd(completed, failure); });
}

StudyPanel::~StudyPanel() = default;

void StudyPanel::modelChanged(const LoadedModel& model)
{
    m_model = model;
    updateControls();
}

void StudyPanel::datasetChanged(const QString& pathOrName, const QString&)
{
    m_dataset = pathOrName;
    updateControls();
}

void StudyPanel::runsRootChanged(const QString& folder)
{
    m_runsRoot = folder;
}

void StudyPanel::deviceChanged(const QString& device)
{
    m_device = device;
}

bool StudyPanel::isRunning() const
{
    return m_jobs->owner() == m_owner;
}

QString StudyPanel::statusText() const
{
    return m_status->text();
}

void StudyPanel::setStatus(const QString& text)
{
    m_status->setText(text);
}

QWidget* StudyPanel::seedsField() const
{
    return m_seeds;
}

QStringList StudyPanel::chosenMethods() const
{
    QStringList methods;
    for (const auto& [method, box] : m_methodBoxes)
        if (box->isChecked())
            methods << method;
    return methods;
}

void StudyPanel::setChosenMethods(const QStringList& methods)
{
    for (const auto& [method, box] : m_methodBoxes)
        box->setChecked(methods.contains(method));
}

QString StudyPanel::modelRefusal(const QStringList& methods) const
{
    if (m_model.path.isEmpty())
        return {};
    for (const QString& method : methods) {
        const std::string refusal = strategyRefusal(findStrategy(method.toStdString()), m_model.spec);
        if (!refusal.empty())
            return QString::fromStdString(refusal);
    }
    return {};
}

QString StudyPanel::whyCannotStart() const
{
    // In the order a user would fix it.
    if (isRunning())
        return m_runningText;
    if (m_jobs->isRunning())
        return tr("Another job is running; one job runs at a time");
    if (const QString problem = settingsProblem(); !problem.isEmpty())
        return problem;
    if (!hasChosenRuns())
        return tr("Choose at least one method");
    return {};
}

void StudyPanel::updateControls()
{
    const bool running = isRunning();
    const QString why = whyCannotStart();
    // A refusal left in the status line would mislead once its reason is gone (the other job ended).
    if (!m_refusal.isEmpty() && why != m_refusalReason) {
        if (m_status->text() == m_refusal)
            m_status->clear();
        m_refusal.clear();
    }
    m_start->setEnabled(why.isEmpty());
    m_start->setToolTip(why.isEmpty() ? m_startToolTip : why);
    m_stop->setEnabled(running);
    for (QWidget* field : m_fields)
        field->setEnabled(!running);
    updateOwnControls(running);
}

bool StudyPanel::start()
{
    updateControls();
    if (!m_start->isEnabled()) {
        m_refusalReason = m_start->toolTip();
        m_refusal = tr("Cannot start: %1").arg(m_refusalReason);
        m_status->setText(m_refusal);
        return false;
    }
    QString bad;
    const QList<int> seeds = parseSeedList(m_seeds->text(), &bad);
    if (!bad.isEmpty()) {
        m_status->setText(tr("Cannot start: seed '%1' is not a whole number").arg(bad));
        return false;
    }
    if (seeds.isEmpty()) {
        m_status->setText(tr("Cannot start: give at least one seed"));
        return false;
    }
    m_progress->setRange(0, 1);
    m_progress->setValue(0);
    return m_jobs->submit(m_owner, prepareJob(seeds));
}

void StudyPanel::stop()
{
    if (!isRunning())
        return;
    m_jobs->requestStop();
    m_status->setText(tr("Stopping after the current step ..."));
}

void StudyPanel::onJobEnd(bool completed, const QString& failure)
{
    m_status->setText(completed ? finishedText() : tr("Not finished: %1").arg(failure.isEmpty() ? tr("stopped") : failure));
    updateControls();
    Q_EMIT studyFinished(completed);
}

QString StudyPanel::methodLabel(const StrategyInfo& info) const
{
    return QString::fromStdString(info.title);
}

void StudyPanel::addFormRow(std::initializer_list<Field> fields)
{
    int column = 0;
    for (const Field& field : fields) {
        auto* label = new QLabel(this);
        m_labels.emplace_back(label, field.label);
        m_form->addWidget(label, m_formRows, column);
        m_form->addWidget(field.widget, m_formRows, column + 1, 1, field.columns);
        m_fields.push_back(field.widget);
        column += 1 + field.columns;
    }
    ++m_formRows;
}

void StudyPanel::addToMethodRow(QWidget* widget)
{
    m_methodRow->insertWidget(m_methodRow->count() - 1, widget);  // before the stretch
}

void StudyPanel::addButton(QPushButton* button)
{
    m_buttons->insertWidget(m_buttons->indexOf(m_progress), button);
}

void StudyPanel::setViews(QWidget* views)
{
    static_cast<QVBoxLayout*>(layout())->addWidget(views, 1);
}

QSplitter* StudyPanel::makeSplitter(Qt::Orientation orientation, std::initializer_list<QWidget*> widgets)
{
    auto* splitter = new QSplitter(orientation, this);
    for (QWidget* widget : widgets)
        splitter->addWidget(widget);
    return splitter;
}

void StudyPanel::setStartTexts(const QString& label, const QString& toolTip, const QString& whileRunning)
{
    m_start->setText(label);
    m_startToolTip = toolTip;
    m_runningText = whileRunning;
}

QSpinBox* StudyPanel::makeSpinBox(const char* name, int minimum, int maximum, int value)
{
    auto* box = new QSpinBox(this);
    box->setObjectName(childName(name));
    box->setRange(minimum, maximum);
    box->setValue(value);
    return box;
}

QTableWidget* StudyPanel::makeSummaryTable(int columns)
{
    auto* table = new QTableWidget(0, columns, this);
    table->setObjectName(childName("Summary"));
    table->verticalHeader()->setVisible(false);
    table->horizontalHeader()->setStretchLastSection(true);
    table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    return table;
}

void StudyPanel::showRows(QTableWidget* table, const QList<QStringList>& rows)
{
    table->setRowCount(0);
    for (const QStringList& cells : rows) {
        const int row = table->rowCount();
        table->insertRow(row);
        for (int column = 0; column < cells.size(); ++column)
            table->setItem(row, column, new QTableWidgetItem(cells[column]));
    }
}

QString StudyPanel::stepLine(const QString& where, const StepReport& report)
{
    return tr("%1 · epoch %2/%3 · step %4/%5 · ETA %6")
        .arg(where)
        .arg(report.epoch + 1)
        .arg(report.epochs)
        .arg(report.step)
        .arg(report.totalSteps)
        .arg(formatEta(report.etaSeconds));
}

void StudyPanel::retranslate()
{
    // The form's labels were marked in the tab's code: translate them in its context.
    for (const auto& [label, text] : m_labels)
        label->setText(QCoreApplication::translate(metaObject()->className(), text));
    for (const auto& [method, box] : m_methodBoxes)
        box->setText(methodLabel(findStrategy(method.toStdString())));
    m_stop->setText(tr("Stop"));
    updateControls();
}

} // namespace tunebench
