#include "widgets/setup/DatasetPanel.h"

#include "widgets/window/BackgroundTasks.h"

#include "core/Error.h"
#include "core/data/ImageDomains.h"
#include "core/experiment/Caches.h"

#include <QCheckBox>
#include <QComboBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPushButton>
#include <QSpinBox>
#include <QTreeWidget>
#include <QVBoxLayout>

namespace tunebench {

DatasetPanel::DatasetPanel(BackgroundTasks* tasks, QWidget* parent)
    : QGroupBox(parent)
    , m_tasks(tasks)
{
    setObjectName("datasetPanel");
    auto* layout = new QVBoxLayout(this);
    m_combo = new QComboBox(this);
    m_combo->setObjectName("datasetPath");
    m_combo->setEditable(true);
    m_combo->addItem("fashion-mnist");
    for (const std::string& domain : datasetVariantDomains())
        m_combo->addItem(QString::fromStdString("fashion-mnist:" + domain));
    m_combo->setCurrentText(QString());
    m_folderButton = new QPushButton(this);
    m_folderButton->setObjectName("datasetFolderButton");
    auto* pathRow = new QHBoxLayout;
    pathRow->addWidget(m_combo, 1);
    pathRow->addWidget(m_folderButton);
    layout->addLayout(pathRow);

    auto* form = new QFormLayout;
    m_shots = new QSpinBox(this);
    m_shots->setObjectName("shots");
    m_shots->setRange(0, 10000);
    m_shots->setValue(16);
    m_seed = new QSpinBox(this);
    m_seed->setObjectName("seed");
    m_seed->setRange(0, 1000000);
    m_seed->setValue(1);
    m_baseNew = new QCheckBox(this);
    m_baseNew->setObjectName("baseNew");
    m_baseNew->setChecked(true);
    m_shotsLabel = new QLabel(this);
    m_seedLabel = new QLabel(this);
    m_evalDatasets = new QLineEdit(this);
    m_evalDatasets->setObjectName("evalDatasets");
    m_evalLabel = new QLabel(this);
    form->addRow(m_shotsLabel, m_shots);
    form->addRow(m_seedLabel, m_seed);
    form->addRow(m_baseNew);
    form->addRow(m_evalLabel, m_evalDatasets);
    layout->addLayout(form);

    m_classTree = new QTreeWidget(this);
    m_classTree->setObjectName("classTree");
    m_classTree->setColumnCount(4);
    m_classTree->setRootIsDecorated(false);
    m_classTree->setMinimumHeight(120);
    layout->addWidget(m_classTree, 2);
    m_problemsLabel = new QLabel(this);
    m_problemList = new QListWidget(this);
    m_problemList->setObjectName("problemList");
    m_problemList->setMaximumHeight(70);
    layout->addWidget(m_problemsLabel);
    layout->addWidget(m_problemList);

    connect(m_folderButton, &QPushButton::clicked, this, &DatasetPanel::chooseFolder);
    connect(m_combo, &QComboBox::activated, this, [this](int index) { open(m_combo->itemText(index)); });
    connect(m_combo->lineEdit(), &QLineEdit::returnPressed, this, [this] { open(m_combo->currentText()); });
    connect(m_baseNew, &QCheckBox::toggled, this, [this](bool checked) {
        if (m_baseNewApplies)
            m_baseNewChoice = checked;  // the user's choice, kept while a method it cannot apply to is chosen
        fillClassTree();
        Q_EMIT samplingChanged();
    });
    connect(m_shots, &QSpinBox::valueChanged, this, &DatasetPanel::samplingChanged);
}

void DatasetPanel::chooseFolder()
{
    const QString folder = QFileDialog::getExistingDirectory(this, tr("Open dataset folder"));
    if (!folder.isEmpty())
        open(folder);
}

void DatasetPanel::open(const QString& pathOrName)
{
    if (pathOrName.trimmed().isEmpty())
        return;
    m_loading = true;
    const bool newEntry = m_combo->findText(pathOrName) < 0;
    if (m_combo->currentText() != pathOrName)
        m_combo->setCurrentText(pathOrName);
    Q_EMIT loadingStarted(pathOrName);
    QPointer<DatasetPanel> self(this);
    m_tasks->start("dataset", [self, pathOrName, newEntry](const TaskToken& token) {
        QString failure, name;
        QStringList classes, problems;
        QVector<qint64> trainCounts, testCounts;
        double cropScale = 0;
        try {
            // Into the cache that runs use; a closing window or a newer request cancels a long open.
            const auto opened = cachedDataset(pathOrName.toStdString(), [&token](const std::string&) {
                if (token.cancelled())
                    throw Error("cancelled");
            });
            const DatasetIndex& dataset = *opened;
            name = QString::fromStdString(dataset.name);
            cropScale = dataset.recipe.cropScaleMin;
            for (const auto& c : dataset.classNames)
                classes << QString::fromStdString(c);
            for (const auto& counts : dataset.perClassCounts()) {
                trainCounts << static_cast<qint64>(counts.train);
                testCounts << static_cast<qint64>(counts.test);
            }
            for (const auto& p : dataset.problems)
                problems << QString::fromStdString(p);
            if (dataset.train.empty() && dataset.test.empty())
                failure = tr("%1: no images found").arg(pathOrName);
        } catch (const std::exception& e) {
            failure = firstLine(e);
        }
        if (token.cancelled())
            return;  // a newer request or a closing window
        postToGui(self, [=](DatasetPanel* panel) {
            panel->m_loading = false;
            if (!failure.isEmpty()) {
                // The picker goes back to the dataset that stays open (the class list and the next Start use it).
                if (const int added = panel->m_combo->findText(pathOrName); newEntry && added >= 0)
                    panel->m_combo->removeItem(added);
                panel->m_combo->setCurrentText(panel->m_path);
                Q_EMIT panel->failed(failure);
                return;
            }
            panel->m_path = pathOrName;
            panel->m_cropScale = cropScale;
            panel->showDataset(name, classes, trainCounts, testCounts, problems);
        });
    });
}

int DatasetPanel::shots() const
{
    return m_shots->value();
}

void DatasetPanel::showDataset(const QString& name, const QStringList& classes, const QVector<qint64>& trainCounts,
                               const QVector<qint64>& testCounts, const QStringList& problems)
{
    m_classNames = classes;
    m_trainCounts = trainCounts;
    m_testCounts = testCounts;
    m_problems = problems;
    showProblems(problems);
    fillClassTree();
    qint64 train = 0, test = 0;
    for (qint64 v : trainCounts)
        train += v;
    for (qint64 v : testCounts)
        test += v;
    Q_EMIT loaded(name, static_cast<int>(train), static_cast<int>(test));
}

void DatasetPanel::showRunProblems(const QStringList& runProblems)
{
    QStringList problems = m_problems;
    for (const QString& problem : runProblems)
        problems << tr("skipped by the run: %1").arg(problem);
    showProblems(problems);
}

void DatasetPanel::showProblems(const QStringList& problems)
{
    m_problemList->clear();
    m_problemList->addItems(problems);
    m_problemsShown = true;
    m_problemsLabel->setText(problems.isEmpty() ? tr("Problems: none") : tr("Problems: %1").arg(problems.size()));
}

void DatasetPanel::fillClassTree()
{
    m_classTree->clear();
    // CoOp's subsample_classes: the first ceil(n/2) labels are base, the rest new.
    const int baseCount = (m_classNames.size() + 1) / 2;
    const bool split = m_baseNew->isChecked();
    for (int c = 0; c < m_classNames.size(); ++c) {
        auto* item = new QTreeWidgetItem(m_classTree);
        item->setText(0, m_classNames[c]);
        item->setText(1, QString::number(c < m_trainCounts.size() ? m_trainCounts[c] : 0));
        item->setText(2, QString::number(c < m_testCounts.size() ? m_testCounts[c] : 0));
        item->setText(3, split ? (c < baseCount ? tr("base") : tr("new")) : tr("all"));
        item->setTextAlignment(1, Qt::AlignRight);
        item->setTextAlignment(2, Qt::AlignRight);
        if (split && c >= baseCount)
            item->setForeground(3, QColor(148, 103, 189));
    }
    for (int i = 0; i < 4; ++i)
        m_classTree->resizeColumnToContents(i);
}

void DatasetPanel::fillSettings(RunSettings& settings) const
{
    settings.dataset = m_path.toStdString();
    settings.shots = m_shots->value();
    settings.seed = m_seed->value();
    settings.baseNew = m_baseNew->isChecked();
    settings.evalDatasets.clear();
    for (const QString& name : m_evalDatasets->text().split(',', Qt::SkipEmptyParts))
        if (!name.trimmed().isEmpty())
            settings.evalDatasets.push_back(name.trimmed().toStdString());
}

void DatasetPanel::applySettings(const RunSettings& settings)
{
    m_shots->setValue(settings.shots);
    m_seed->setValue(settings.seed);
    m_baseNewChoice = settings.baseNew;
    m_baseNew->setChecked(settings.baseNew && m_baseNewApplies);
    QStringList targets;
    for (const std::string& name : settings.evalDatasets)
        targets << QString::fromStdString(name);
    m_evalDatasets->setText(targets.join(','));
}

void DatasetPanel::setRunning(bool running)
{
    m_running = running;
    for (QWidget* w : std::initializer_list<QWidget*>{m_folderButton, m_combo, m_shots, m_seed, m_evalDatasets})
        w->setEnabled(!running);
    m_baseNew->setEnabled(!running && m_baseNewApplies);
}

void DatasetPanel::setBaseNewApplies(bool applies, const QString& why)
{
    m_baseNewApplies = applies;
    m_baseNewWhy = why;
    m_baseNew->setChecked(applies && m_baseNewChoice);
    m_baseNew->setEnabled(!m_running && applies);
    m_baseNew->setToolTip(applies ? baseNewToolTip() : why);
}

QString DatasetPanel::baseNewToolTip() const
{
    return tr("Train on the first half of the classes and test on both halves (CoCoOp's protocol); "
              "only for methods that use the text tower");
}

void DatasetPanel::retranslate()
{
    m_combo->setToolTip(tr("A dataset folder (class sub-folders, a CoOp benchmark folder or IDX files) or fashion-mnist"));
    m_combo->lineEdit()->setPlaceholderText(tr("Dataset folder or fashion-mnist"));
    m_folderButton->setText(tr("Folder..."));
    m_folderButton->setToolTip(tr("Choose a dataset folder"));
    m_shotsLabel->setText(tr("Shots per class"));
    m_shots->setToolTip(tr("Training images per class (CoOp's few-shot sampling); 0 uses the whole training split"));
    m_shots->setSpecialValueText(tr("all"));
    m_seedLabel->setText(tr("Seed"));
    m_seed->setToolTip(tr("Seed of the few-shot sampling, the shuffling and the initialisation"));
    m_baseNew->setText(tr("Base-to-new split"));
    m_baseNew->setToolTip(m_baseNewApplies ? baseNewToolTip() : m_baseNewWhy);
    m_evalLabel->setText(tr("Evaluate also on"));
    m_evalDatasets->setPlaceholderText(tr("e.g. fashion-mnist,fashion-mnist:sketch"));
    m_evalDatasets->setToolTip(tr("Domain generalisation: datasets with the same classes, separated by commas; every run is "
                                  "also scored on their test images (the Domain generalisation tab)"));
    m_classTree->setHeaderLabels({tr("Class"), tr("Train"), tr("Test"), tr("Split")});
    fillClassTree();  // its base / new / all column is translated text
    const int count = m_problemList->count();
    m_problemsLabel->setText(!m_problemsShown ? tr("Problems") : count == 0 ? tr("Problems: none") : tr("Problems: %1").arg(count));
}

} // namespace tunebench
