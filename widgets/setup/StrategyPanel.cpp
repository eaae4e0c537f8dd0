#include "widgets/setup/StrategyPanel.h"

#include "widgets/setup/ParamForm.h"
#include "widgets/window/BackgroundTasks.h"

#include "core/experiment/Caches.h"
#include "core/io/CheckpointLoader.h"
#include "core/model/Checkpointing.h"
#include "core/train/GeneratorLock.h"
#include "core/tuning/MemoryPlan.h"

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QLabel>
#include <QLocale>
#include <QScrollArea>
#include <QSpinBox>
#include <QStandardItemModel>
#include <QTimer>
#include <QVBoxLayout>

namespace tunebench {

namespace {

constexpr int kStrategyNameRole = Qt::UserRole + 1;

} // namespace

StrategyPanel::StrategyPanel(BackgroundTasks* tasks, QWidget* parent)
    : QGroupBox(parent)
    , m_tasks(tasks)
{
    setObjectName("strategyPanel");
    auto* layout = new QVBoxLayout(this);
    m_combo = new QComboBox(this);
    m_combo->setObjectName("strategyCombo");
    m_combo->setModel(new QStandardItemModel(m_combo));
    m_description = new QLabel(this);
    m_description->setWordWrap(true);
    m_form = new ParamForm;
    m_form->setObjectName("strategyOptions");
    auto* scroll = new QScrollArea(this);
    scroll->setWidgetResizable(true);
    scroll->setWidget(m_form);
    scroll->setFrameShape(QFrame::NoFrame);
    m_countLabel = new QLabel(this);
    m_countLabel->setObjectName("parameterCount");
    QFont bold = m_countLabel->font();
    bold.setBold(true);
    m_countLabel->setFont(bold);

    m_overridesBox = new QGroupBox(this);
    m_overridesForm = new QFormLayout(m_overridesBox);
    m_epochs = new QSpinBox(m_overridesBox);
    m_epochs->setObjectName("epochs");
    m_epochs->setRange(0, 1000);  // 0: the recipe (a CoOp run on the demo model takes about 15 s on two CPU cores)
    m_lr = new QDoubleSpinBox(m_overridesBox);
    m_lr->setObjectName("learningRate");
    m_lr->setDecimals(5);
    m_lr->setRange(0, 10);
    m_lr->setSingleStep(0.001);
    m_batch = new QSpinBox(m_overridesBox);
    m_batch->setObjectName("batchSize");
    m_batch->setRange(0, 4096);
    m_maxSteps = new QSpinBox(m_overridesBox);
    m_maxSteps->setObjectName("maxSteps");
    m_maxSteps->setRange(0, 10000000);
    m_accumulate = new QSpinBox(m_overridesBox);
    m_accumulate->setObjectName("accumulate");
    m_accumulate->setRange(1, 1024);
    m_accumulate->setValue(1);
    m_checkpointing = new QComboBox(m_overridesBox);
    m_checkpointing->setObjectName("checkpointing");
    for (const std::string& name : checkpointingNames())
        m_checkpointing->addItem(QString(), QString::fromStdString(name));  // texts: retranslate()
    m_testImages = new QSpinBox(m_overridesBox);
    m_testImages->setObjectName("testImages");
    m_testImages->setRange(0, 10000000);
    m_testImages->setValue(1000);
    m_cropScale = new QDoubleSpinBox(m_overridesBox);
    m_cropScale->setObjectName("cropScaleMin");
    m_cropScale->setDecimals(2);
    m_cropScale->setRange(0, 1);
    m_cropScale->setSingleStep(0.05);
    for (QWidget* field :
         std::initializer_list<QWidget*>{m_epochs, m_lr, m_batch, m_accumulate, m_checkpointing, m_maxSteps, m_testImages, m_cropScale})
        m_overridesForm->addRow(new QLabel(m_overridesBox), field);

    layout->addWidget(m_combo);
    layout->addWidget(m_description);
    layout->addWidget(scroll, 1);
    layout->addWidget(m_countLabel);
    layout->addWidget(m_overridesBox);
    m_memoryLabel = new QLabel(this);
    m_memoryLabel->setObjectName("memoryPlan");
    m_memoryLabel->setWordWrap(true);
    m_memoryLabel->setTextInteractionFlags(Qt::TextSelectableByMouse);
    layout->addWidget(m_memoryLabel);

    m_countTimer = new QTimer(this);
    m_countTimer->setSingleShot(true);
    m_countTimer->setInterval(250);
    connect(m_countTimer, &QTimer::timeout, this, &StrategyPanel::count);
    m_planTimer = new QTimer(this);
    m_planTimer->setSingleShot(true);
    m_planTimer->setInterval(400);
    connect(m_planTimer, &QTimer::timeout, this, &StrategyPanel::plan);
    connect(m_batch, &QSpinBox::valueChanged, this, &StrategyPanel::schedulePlan);
    connect(m_checkpointing, &QComboBox::currentIndexChanged, this, &StrategyPanel::schedulePlan);
    connect(m_combo, &QComboBox::currentIndexChanged, this, [this] {
        rebuildForm();
        updateTrainingOverrides();
        scheduleCount();
        Q_EMIT strategyChanged(strategy());
    });
    connect(m_form, &ParamForm::changed, this, &StrategyPanel::scheduleCount);
    fillStrategyCombo();
}

void StrategyPanel::fillStrategyCombo()
{
    const QString current = strategy();
    auto* model = static_cast<QStandardItemModel*>(m_combo->model());
    const QSignalBlocker blocker(m_combo);
    model->clear();
    const bool loaded = !m_modelPath.isEmpty();
    const bool visionOnly = loaded && !m_modelSpec.text;
    for (StrategyFamily family : {StrategyFamily::PromptLearning, StrategyFamily::ClassicPetl, StrategyFamily::Continual}) {
        const QString title = family == StrategyFamily::PromptLearning ? tr("Prompt learning (CLIP)")
                              : family == StrategyFamily::ClassicPetl  ? tr("Classic tuning (ViT)")
                                                                       : tr("Continual learning (ViT)");
        auto* header = new QStandardItem(title);
        header->setFlags(Qt::NoItemFlags);
        QFont font = header->font();
        font.setBold(true);
        header->setFont(font);
        model->appendRow(header);
        for (const StrategyInfo& info : strategyRegistry()) {
            if (info.family != family)
                continue;
            auto* item = new QStandardItem("    " + QString::fromStdString(info.title));
            item->setData(QString::fromStdString(info.name), kStrategyNameRole);
            item->setToolTip(QString::fromStdString(info.description));
            const std::string refusal = loaded ? strategyRefusal(info, m_modelSpec) : std::string();
            if (!refusal.empty()) {
                item->setFlags(item->flags() & ~Qt::ItemIsEnabled);
                item->setToolTip(QString::fromStdString(refusal));
            } else if (info.capabilities.adaptsToTarget) {
                // A single run here has no target domain to adapt to.
                item->setFlags(item->flags() & ~Qt::ItemIsEnabled);
                item->setToolTip(tr("%1 adapts to an unlabelled target domain: run it in the Domain adaptation tab").arg(item->text().trimmed()));
            }
            model->appendRow(item);
        }
    }
    int index = m_combo->findData(current, kStrategyNameRole);
    if (index < 0 || !(model->item(index)->flags() & Qt::ItemIsEnabled)) {
        // Fall back to the first enabled strategy: CoOp for CLIP, linear for a vision-only model.
        index = m_combo->findData(visionOnly ? "linear" : "coop", kStrategyNameRole);
        for (int i = 0; index < 0 && i < model->rowCount(); ++i)
            if (model->item(i)->flags() & Qt::ItemIsEnabled)
                index = i;
    }
    m_combo->setCurrentIndex(index);
    if (strategy() != m_formStrategy)
        rebuildForm();
}

bool StrategyPanel::selectStrategy(const QString& name)
{
    const int index = m_combo->findData(name, kStrategyNameRole);
    if (index < 0)
        return false;
    auto* model = static_cast<QStandardItemModel*>(m_combo->model());
    if (!(model->item(index)->flags() & Qt::ItemIsEnabled))
        return false;
    m_combo->setCurrentIndex(index);
    return true;
}

QString StrategyPanel::strategy() const
{
    return m_combo->currentData(kStrategyNameRole).toString();
}

QString StrategyPanel::strategyTitle() const
{
    return m_combo->currentText().trimmed();
}

bool StrategyPanel::setOption(const QString& name, const nlohmann::json& value)
{
    return m_form->setValue(name, value);
}

void StrategyPanel::rebuildForm()
{
    // The options of the strategy being left are kept for when it is chosen again.
    if (!m_formStrategy.isEmpty())
        m_optionsByStrategy.insert(m_formStrategy, m_form->values());
    m_formStrategy = strategy();
    if (m_formStrategy.isEmpty()) {
        m_description->clear();
        m_form->setSchema({}, nlohmann::json::object());
        return;
    }
    const StrategyInfo& info = findStrategy(m_formStrategy.toStdString());
    showDescription();
    m_form->setSchema(info.schema, m_optionsByStrategy.value(m_formStrategy, nlohmann::json::object()));
}

void StrategyPanel::showDescription()
{
    if (m_formStrategy.isEmpty())
        return;
    const StrategyInfo& info = findStrategy(m_formStrategy.toStdString());
    QString description = QString::fromStdString(info.description);
    if (info.capabilities.imageConditioned)
        description += "\n" + tr("Its prompts depend on each image: the text tower runs per image, so steps are slower.");
    m_description->setText(description);
}

void StrategyPanel::fillSettings(RunSettings& settings) const
{
    settings.method = strategy().toStdString();
    settings.options = m_form->values();
    settings.epochs = m_epochs->value();
    settings.lr = m_lr->value();
    settings.batchSize = m_batch->value();
    settings.maxSteps = m_maxSteps->value();
    settings.accumulate = m_accumulate->value();
    settings.checkpointing = m_checkpointing->currentData().toString().toStdString();
    settings.maxTestImages = m_testImages->value();
    settings.cropScaleMin = m_cropScale->value();
}

void StrategyPanel::applySettings(const RunSettings& settings)
{
    m_epochs->setValue(settings.epochs);
    m_lr->setValue(settings.lr);
    m_batch->setValue(settings.batchSize);
    m_maxSteps->setValue(static_cast<int>(std::min<std::int64_t>(settings.maxSteps, m_maxSteps->maximum())));
    m_accumulate->setValue(settings.accumulate);
    m_checkpointing->setCurrentIndex(std::max(0, m_checkpointing->findData(QString::fromStdString(settings.checkpointing))));
    m_testImages->setValue(settings.maxTestImages);
    m_cropScale->setValue(settings.cropScaleMin);
    if (!settings.method.empty()) {
        const QString method = QString::fromStdString(settings.method);
        if (settings.options.is_object())
            m_optionsByStrategy.insert(method, settings.options);
        if (method == m_formStrategy)
            m_formStrategy.clear();  // rebuilt below with the given options, not the form's
        if (!selectStrategy(method) || m_formStrategy.isEmpty())
            rebuildForm();
    }
}

nlohmann::json StrategyPanel::rememberedOptions() const
{
    nlohmann::json out = nlohmann::json::object();
    for (auto it = m_optionsByStrategy.begin(); it != m_optionsByStrategy.end(); ++it)
        out[it.key().toStdString()] = it.value();
    if (!m_formStrategy.isEmpty())
        out[m_formStrategy.toStdString()] = m_form->values();
    return out;
}

void StrategyPanel::setRememberedOptions(const nlohmann::json& optionsByStrategy)
{
    if (!optionsByStrategy.is_object())
        return;
    for (const auto& [name, options] : optionsByStrategy.items())
        if (options.is_object())
            m_optionsByStrategy.insert(QString::fromStdString(name), options);
    m_formStrategy.clear();
    rebuildForm();
}

void StrategyPanel::setModel(const QString& modelPath, const QString& vocabularyPath, const ModelSpec& spec, bool usable)
{
    m_modelPath = modelPath;
    m_vocabularyPath = vocabularyPath;
    m_modelSpec = spec;
    m_modelUsable = usable;
    fillStrategyCombo();
    scheduleCount();
}

void StrategyPanel::setClasses(const QStringList& classNames, int shots)
{
    m_classNames = classNames;
    m_shots = shots;
    scheduleCount();
}

void StrategyPanel::setDatasetCropScale(double cropScaleMin)
{
    m_datasetCropScale = cropScaleMin;
    m_cropScale->setSpecialValueText(cropScaleMin > 0 ? tr("dataset: %1").arg(cropScaleMin) : tr("dataset"));
}

void StrategyPanel::scheduleCount()
{
    m_countLabel->setText(m_modelPath.isEmpty() ? tr("Trainable parameters: load a model") : tr("Trainable parameters: counting..."));
    if (!m_modelPath.isEmpty() && m_modelUsable)
        m_countTimer->start();
    schedulePlan();
}

void StrategyPanel::setMemoryTarget(const QString& deviceText, qint64 bytes, bool gpu)
{
    m_memoryDevice = deviceText;
    m_memoryBytes = bytes;
    m_memoryGpu = gpu;
    schedulePlan();
}

void StrategyPanel::schedulePlan()
{
    if (m_running)
        return;  // the estimate's copies would take the run's cores; it stays as it was at Start
    if (m_modelPath.isEmpty()) {
        m_memoryLabel->clear();
        return;
    }
    m_memoryLabel->setText(tr("Memory: estimating..."));
    ++m_planGeneration;  // an estimate still running is out of date
    m_planTimer->start();
}

void StrategyPanel::plan()
{
    if (m_modelPath.isEmpty() || strategy().isEmpty() || m_running)
        return;
    RunSettings settings;
    fillSettings(settings);
    const std::string model = m_modelPath.toStdString(), vocabulary = m_vocabularyPath.toStdString();
    const int classes = std::max<int>(2, static_cast<int>(m_classNames.size()));
    const int shots = m_shots;
    const qint64 available = m_memoryBytes;
    const bool gpu = m_memoryGpu;
    const QString device = m_memoryDevice;
    const int generation = ++m_planGeneration;
    QPointer<StrategyPanel> self(this);
    m_planInFlight = true;
    m_tasks->start("memory plan", [self, settings, model, vocabulary, classes, shots, available, gpu, device, generation](const TaskToken& token) {
        QString text, problem;
        try {
            const auto backbone = cachedBackbone(model, vocabulary);
            MemoryPlanRequest request;
            request.spec = backbone->checkpoint.spec;
            request.tokenizer = backbone->tokenizer;
            request.method = settings.method;
            request.options = settings.options;
            request.batchSize = settings.batchSize;
            request.classes = classes;
            request.shots = shots;
            request.precision = settings.precision;
            request.checkpointing = settings.checkpointing;
            // The copies draw random weights: not while a run does (GeneratorLock); a run started meanwhile
            // waits for this estimate to give up (setRunning cancels it).
            const GeneratorLock generator("the memory estimate", [&token] { return token.cancelled(); });
            const MemoryPlan plan = planMemory(request, [&token](int, int) {
                if (token.cancelled())
                    throw Error("superseded");  // settings changed: a newer estimate has started
            });
            const auto gib = [](std::int64_t bytes) { return QString::fromStdString(formatBytes(static_cast<double>(bytes))); };
            const QString needs = available > 0 ? tr("Memory: needs ~%1 of %2 on %3").arg(gib(plan.total()), gib(available), device)
                                                : tr("Memory: needs ~%1").arg(gib(plan.total()));
            const QString parts = plan.trains ? tr("weights %1, gradients and optimiser %2, activations %3, text side %4 at batch %5")
                                                    .arg(gib(plan.weights), gib(plan.gradients + plan.optimiserState), gib(plan.activations),
                                                         gib(plan.textSide))
                                                    .arg(plan.batchSize)
                                              : tr("the weights; this method trains nothing");
            text = needs + " (" + parts + ")";
            if (available > 0 && plan.total() > available) {
                QStringList advice;
                for (const std::string& line : memoryAdvice(request, plan, available, gpu))
                    advice << QString::fromStdString(line);
                text += "\n" + tr("Does not fit. Try %1").arg(advice.isEmpty() ? tr("a smaller model") : advice.join(tr("; or ")));
            } else if (available > 0 && plan.trains) {
                // A small model on a big device fits batches of six figures: true, and no help in choosing one.
                constexpr int kLargestBatchShown = 4096;
                const int largest = plan.largestBatch(available);
                text += "\n" + (largest > kLargestBatchShown ? tr("Fits: any batch up to %1, and more, here").arg(kLargestBatchShown)
                                                              : tr("Fits: up to batch %1 here").arg(largest));
            }
        } catch (const std::exception& e) {
            problem = firstLine(e);
        }
        postToGui(self, [text, problem, generation](StrategyPanel* panel) {
            if (generation != panel->m_planGeneration)
                return;  // the settings changed meanwhile; a newer estimate is on its way
            panel->m_planInFlight = false;
            panel->m_memoryEstimate = problem.isEmpty() ? text : tr("Memory: cannot estimate (%1)").arg(problem);
            panel->m_memoryLabel->setText(panel->m_memoryEstimate);
            panel->m_memoryLabel->setToolTip(tr("Estimated from the method's own training step on narrow copies of the model, "
                                                "on this machine's CPU kernels (tunebench-cli plan)"));
        });
    });
}

void StrategyPanel::count()
{
    if (m_modelPath.isEmpty() || strategy().isEmpty())
        return;
    RunSettings settings;
    fillSettings(settings);
    settings.model = m_modelPath.toStdString();
    settings.vocab = m_vocabularyPath.toStdString();
    settings.shots = m_shots;
    // The class count matters for class-specific methods; before a dataset is open, count for two classes.
    std::vector<std::string> classes;
    for (const QString& name : m_classNames.isEmpty() ? QStringList{"class a", "class b"} : m_classNames)
        classes.push_back(name.toStdString());
    const int generation = ++m_countGeneration;
    QPointer<StrategyPanel> self(this);
    m_tasks->start("count", [self, settings, classes, generation](const TaskToken& token) {
        qint64 count = -1;
        QString problem;
        try {
            // Attaching the method draws its initial values: not while a run does (GeneratorLock).
            const GeneratorLock generator("the parameter count", [&token] { return token.cancelled(); });
            count = countTrainableParameters(*cachedBackbone(settings.model, settings.vocab), settings, classes);
        } catch (const std::exception& e) {
            problem = firstLine(e);
        }
        postToGui(self, [count, problem, generation](StrategyPanel* panel) {
            if (generation != panel->m_countGeneration)
                return;  // options changed meanwhile; a newer count is on its way
            panel->m_count = count;
            panel->m_countLabel->setText(count >= 0 ? tr("Trainable parameters: %1").arg(QLocale().toString(count))
                                                    : tr("Options problem: %1").arg(problem));
            panel->m_countLabel->setToolTip(problem);
            Q_EMIT panel->parameterCountChanged(count);
        });
    });
}

void StrategyPanel::showParameterCount(qint64 count)
{
    m_count = count;
    m_countLabel->setText(tr("Trainable parameters: %1").arg(QLocale().toString(count)));
}

void StrategyPanel::setRunning(bool running)
{
    m_running = running;
    if (!running) {
        schedulePlan();
    } else {
        // The run waits for LibTorch's generator while an estimate holds it (GeneratorLock): the estimate
        // gives up at its next narrow copy.
        m_tasks->cancel("memory plan");
        if (m_planInFlight) {
            // The current settings' estimate is made when the run ends.
            ++m_planGeneration;
            m_planInFlight = false;
            m_memoryLabel->setText(tr("Memory: estimated when the run ends"));
        } else if (m_planTimer->isActive()) {
            // An estimate not yet started waits for the run's end; the last one stays in view meanwhile.
            m_memoryLabel->setText(m_memoryEstimate);
        }
        m_planTimer->stop();
    }
    for (QWidget* w : std::initializer_list<QWidget*>{m_combo, m_form, m_overridesBox})
        w->setEnabled(!running);
    updateTrainingOverrides();
}

void StrategyPanel::updateTrainingOverrides()
{
    // A method that trains nothing (zero-shot) ignores epochs, learning rate, batch, steps and the crop:
    // greyed out, saying so. The test-image limit still applies.
    bool trains = true;
    QString title;
    try {
        const StrategyInfo& info = findStrategy(strategy().toStdString());
        trains = info.capabilities.usesTrainingImages;
        title = QString::fromStdString(info.title);
    } catch (const std::exception&) {
        // no strategy chosen yet
    }
    for (QWidget* w : std::initializer_list<QWidget*>{m_epochs, m_lr, m_batch, m_accumulate, m_checkpointing, m_maxSteps, m_cropScale}) {
        w->setEnabled(!m_running && trains);
        // A method that trains shows the field's own tip (set by retranslate).
        w->setToolTip(trains ? w->property("fieldTip").toString() : tr("%1 trains nothing: this applies to methods that train").arg(title));
    }
}

void StrategyPanel::retranslate()
{
    m_combo->setToolTip(tr("Prompt learning needs a CLIP model with a text tower; classic tuning works on any vision tower"));
    m_epochs->setSpecialValueText(tr("recipe"));
    m_lr->setSpecialValueText(tr("recipe"));
    m_batch->setSpecialValueText(tr("recipe"));
    m_maxSteps->setSpecialValueText(tr("no limit"));
    m_testImages->setSpecialValueText(tr("all"));
    m_overridesBox->setTitle(tr("Training"));
    // The dataset's recipe value shows where the field is left at 0 (Dassl's per-dataset configs).
    setDatasetCropScale(m_datasetCropScale);
    // CheckpointTowers' order, as the combo box holds them.
    const QStringList towers = {tr("none"), tr("image tower"), tr("text tower"), tr("both towers")};
    for (int i = 0; i < m_checkpointing->count() && i < towers.size(); ++i)
        m_checkpointing->setItemText(i, towers[i]);
    const QStringList labels = {tr("Epochs"),        tr("Learning rate"), tr("Batch size"),  tr("Accumulate"),
                                tr("Checkpointing"), tr("Max steps"),     tr("Test images"), tr("Crop scale min")};
    const QStringList tips = {tr("Epochs to train; 'recipe' uses the method's published schedule"),
                              tr("Peak learning rate; 'recipe' uses the method's"),
                              tr("Images per step; 'recipe' uses the method's"),
                              tr("Micro-batches per optimiser step (gradient accumulation): the effective batch is this times the "
                                 "batch size, for a batch that does not fit in memory at once. Steps and the schedule count optimiser steps"),
                              tr("Gradient checkpointing: the chosen towers keep only each block's input and compute the block again "
                                 "in the backward pass. Less memory for about one more forward pass; the same gradients"),
                              tr("Stop training after this many steps (quick checks)"),
                              tr("Evaluate on a fixed random subset of each test split (quicker); 'all' uses every test image"),
                              tr("Smallest area fraction of the random resized crop; 'dataset' uses the dataset's recipe "
                                 "(0.5 for 28-pixel images, else torchvision's 0.08)")};
    for (int row = 0; row < m_overridesForm->rowCount() && row < labels.size(); ++row) {
        if (QLayoutItem* item = m_overridesForm->itemAt(row, QFormLayout::LabelRole))
            if (auto* label = qobject_cast<QLabel*>(item->widget()))
                label->setText(labels[row]);
        QWidget* field = m_overridesForm->itemAt(row, QFormLayout::FieldRole)->widget();
        field->setProperty("fieldTip", tips[row]);
        field->setToolTip(tips[row]);
    }
    updateTrainingOverrides();  // the tips of fields that a method which trains nothing ignores say so
    fillStrategyCombo();
    showDescription();
    m_form->retranslate();
    if (m_count < 0)
        scheduleCount();
    else
        showParameterCount(m_count);
}

} // namespace tunebench
