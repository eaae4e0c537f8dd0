#include "widgets/inspect/MistakesPanel.h"

#include "core/experiment/TunedModel.h"
#include "core/train/GeneratorLock.h"
#include "widgets/inspect/ScoreTable.h"
#include "widgets/window/BackgroundTasks.h"

#include <QComboBox>
#include <QDir>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QImage>
#include <QLabel>
#include <QListWidget>
#include <QPixmap>
#include <QPointer>
#include <QProgressBar>
#include <QPushButton>
#include <QSplitter>
#include <QStyle>
#include <QTableWidget>
#include <QVBoxLayout>

#include <algorithm>

namespace tunebench {

namespace {

constexpr int kTop = 5;
constexpr int kThumbnailSide = 96;  // on screen
constexpr int kMaxListed = 1000;  // thumbnails in the list at once: the rest are reached by the filters and the order
constexpr int kDetailSide = 192;  // leaves the two top-5 tables their rows in a window of 1000 pixels

// Small crops (a 28-pixel model) are drawn as pixels, larger ones smoothed.
QPixmap scaledPixmap(const std::uint8_t* rgb, int width, int height, int side)
{
    if (width <= 0 || height <= 0)
        return QPixmap();
    const QImage image = QImage(rgb, width, height, 3 * width, QImage::Format_RGB888).copy();
    const auto mode = width * 2 <= side ? Qt::FastTransformation : Qt::SmoothTransformation;
    return QPixmap::fromImage(image.scaled(side, side, Qt::KeepAspectRatio, mode));
}

} // namespace

MistakesPanel::MistakesPanel(BackgroundTasks* tasks, QWidget* parent)
    : WorkbenchTab(parent), m_tasks(tasks)
{
    setObjectName("mistakesPanel");
    m_runLabel = new QLabel(this);
    m_runLabel->setObjectName("mistakesRun");
    m_runLabel->setWordWrap(true);
    m_runLabel->setTextInteractionFlags(Qt::TextSelectableByMouse);

    m_testSetLabel = new QLabel(this);
    m_testSet = new QComboBox(this);
    m_testSet->setObjectName("mistakesTestSet");
    connect(m_testSet, &QComboBox::currentIndexChanged, this, [this] {
        m_found.reset();
        clearDetail();
        applyFilter();
        if (isVisible() && !m_runFolder.isEmpty())
            findMistakes();
    });
    m_trueLabel = new QLabel(this);
    m_trueClass = new QComboBox(this);
    m_trueClass->setObjectName("mistakesTrueClass");
    m_predictedLabel = new QLabel(this);
    m_predictedClass = new QComboBox(this);
    m_predictedClass->setObjectName("mistakesPredictedClass");
    m_orderLabel = new QLabel(this);
    m_order = new QComboBox(this);
    m_order->setObjectName("mistakesOrder");
    m_order->addItems({QString(), QString()});
    for (QComboBox* box : {m_trueClass, m_predictedClass, m_order})
        connect(box, &QComboBox::currentIndexChanged, this, &MistakesPanel::applyFilter);
    m_find = new QPushButton(this);
    m_find->setObjectName("mistakesFind");
    connect(m_find, &QPushButton::clicked, this, &MistakesPanel::findMistakes);
    m_cancel = new QPushButton(this);
    m_cancel->setObjectName("mistakesCancel");
    connect(m_cancel, &QPushButton::clicked, this, &MistakesPanel::cancel);
    m_progress = new QProgressBar(this);
    m_progress->setObjectName("mistakesProgress");
    m_status = new QLabel(this);
    m_status->setObjectName("mistakesStatus");
    m_status->setWordWrap(true);
    m_status->setTextInteractionFlags(Qt::TextSelectableByMouse);

    m_thumbnails = new QListWidget(this);
    m_thumbnails->setObjectName("mistakesThumbnails");
    m_thumbnails->setViewMode(QListView::IconMode);
    m_thumbnails->setIconSize(QSize(kThumbnailSide, kThumbnailSide));
    m_thumbnails->setGridSize(QSize(kThumbnailSide + 56, kThumbnailSide + 48));
    m_thumbnails->setResizeMode(QListView::Adjust);
    m_thumbnails->setMovement(QListView::Static);
    m_thumbnails->setUniformItemSizes(true);
    m_thumbnails->setWordWrap(true);
    m_thumbnails->setSelectionMode(QAbstractItemView::SingleSelection);
    // At least two columns of thumbnails beside the detail.
    m_thumbnails->setMinimumWidth(2 * m_thumbnails->gridSize().width() + m_thumbnails->style()->pixelMetric(QStyle::PM_ScrollBarExtent) + 12);
    connect(m_thumbnails, &QListWidget::itemClicked, this, [this](QListWidgetItem* item) { openMistake(item->data(Qt::UserRole).toInt()); });

    auto* detail = new QWidget(this);
    m_detailImage = new QLabel(detail);
    m_detailImage->setObjectName("mistakesDetailImage");
    m_detailImage->setFixedSize(kDetailSide, kDetailSide);
    m_detailImage->setAlignment(Qt::AlignCenter);
    m_detailImage->setFrameShape(QFrame::StyledPanel);
    m_detailCaption = new QLabel(detail);
    m_detailCaption->setObjectName("mistakesDetailCaption");
    m_detailCaption->setWordWrap(true);
    m_detailCaption->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_tunedTitle = new QLabel(detail);
    m_tuned = makeScoreTable(detail, "mistakesTuned");
    m_handcraftedTitle = new QLabel(detail);
    m_handcrafted = makeScoreTable(detail, "mistakesHandcrafted");
    m_handcraftedNote = new QLabel(detail);
    m_handcraftedNote->setObjectName("mistakesHandcraftedNote");
    m_handcraftedNote->setWordWrap(true);
    // Room for the whole top 5 in each table, side by side under the image.
    for (QTableWidget* table : {m_tuned, m_handcrafted})
        table->setMinimumHeight(table->horizontalHeader()->sizeHint().height() + kTop * table->verticalHeader()->defaultSectionSize() +
                                2 * table->frameWidth() + 2);
    auto* tunedColumn = new QVBoxLayout;
    tunedColumn->addWidget(m_tunedTitle);
    tunedColumn->addWidget(m_tuned, 1);
    auto* handcraftedColumn = new QVBoxLayout;
    handcraftedColumn->addWidget(m_handcraftedTitle);
    handcraftedColumn->addWidget(m_handcrafted, 1);
    handcraftedColumn->addWidget(m_handcraftedNote);
    handcraftedColumn->addStretch(0);
    auto* scores = new QHBoxLayout;
    scores->addLayout(tunedColumn, 1);
    scores->addLayout(handcraftedColumn, 1);
    auto* detailLayout = new QVBoxLayout(detail);
    detailLayout->setContentsMargins(0, 0, 0, 0);
    detailLayout->addWidget(m_detailImage, 0, Qt::AlignHCenter);
    detailLayout->addWidget(m_detailCaption);
    detailLayout->addLayout(scores, 1);

    auto* controls = new QHBoxLayout;
    controls->addWidget(m_testSetLabel);
    controls->addWidget(m_testSet);
    controls->addWidget(m_trueLabel);
    controls->addWidget(m_trueClass);
    controls->addWidget(m_predictedLabel);
    controls->addWidget(m_predictedClass);
    controls->addWidget(m_orderLabel);
    controls->addWidget(m_order);
    controls->addStretch(1);
    controls->addWidget(m_find);
    controls->addWidget(m_cancel);
    auto* splitter = new QSplitter(Qt::Horizontal, this);
    splitter->addWidget(m_thumbnails);
    splitter->addWidget(detail);
    splitter->setStretchFactor(0, 1);
    splitter->setStretchFactor(1, 1);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(m_runLabel);
    layout->addLayout(controls);
    layout->addWidget(m_progress);
    layout->addWidget(m_status);
    layout->addWidget(splitter, 1);

    fillClassFilters({});
    retranslate();
    clearDetail();
}

MistakesPanel::~MistakesPanel() = default;

QString MistakesPanel::tabTitle() const
{
    return tr("Mistakes");
}

void MistakesPanel::retranslate()
{
    m_testSetLabel->setText(tr("Test images:"));
    m_testSet->setToolTip(tr("The run's own test images, or those of a target it was scored on"));
    fillTestSets(m_testSetNames, m_testSet->currentData().toString());
    m_trueLabel->setText(tr("True class:"));
    m_predictedLabel->setText(tr("Predicted:"));
    m_orderLabel->setText(tr("Order:"));
    m_order->setItemText(0, tr("Most confident first"));
    m_order->setItemText(1, tr("Least confident first"));
    m_order->setToolTip(tr("Sort by the confidence of the wrong prediction"));
    if (m_trueClass->count() > 0)
        m_trueClass->setItemText(0, tr("any"));
    if (m_predictedClass->count() > 0)
        m_predictedClass->setItemText(0, tr("any"));
    m_find->setText(tr("Find mistakes"));
    m_find->setToolTip(tr("Score the run's test images again with its tuned model and show the misclassified ones"));
    m_cancel->setText(tr("Cancel"));
    for (QTableWidget* table : {m_tuned, m_handcrafted})
        table->setHorizontalHeaderLabels({tr("Class"), tr("Probability")});
    m_handcraftedTitle->setText(tr("Hand-crafted prompt (zero-shot CLIP)"));
    applyFilter();
}

void MistakesPanel::deviceChanged(const QString& device)
{
    if (device == m_device)
        return;
    m_device = device;
    m_classifier.reset();  // opened on the other device: the next search or detail opens it again
}

void MistakesPanel::setRun(const RunResults* run)
{
    const QString folder = run ? run->runFolder : QString();
    m_runId = !run ? QString() : !run->runId.isEmpty() ? run->runId : QFileInfo(QDir::cleanPath(folder)).fileName();
    m_methodTitle = run ? run->methodTitle : QString();
    if (folder != m_runFolder) {
        cancel();
        ++m_request;  // an answer for the previous run is dropped
        m_busy = false;
        m_cancelled = false;
        m_runFolder = folder;
        m_classifier.reset();
        m_found.reset();
        m_error.clear();
        m_runDataset = run ? run->dataset : QString();
        fillClassFilters(run ? run->trainingClasses.classNames : QStringList());
        fillTestSets({});  // the search reads which the run has
        clearDetail();
        applyFilter();
        if (isVisible() && !m_runFolder.isEmpty())
            findMistakes();
    }
    updateControls();
}

void MistakesPanel::showEvent(QShowEvent* event)
{
    WorkbenchTab::showEvent(event);
    if (!m_runFolder.isEmpty() && !m_found && !m_busy && m_error.isEmpty() && !m_cancelled)
        findMistakes();
}

void MistakesPanel::fillClassFilters(const QStringList& classNames)
{
    m_classNames = classNames;
    for (QComboBox* box : {m_trueClass, m_predictedClass}) {
        const QSignalBlocker block(box);
        box->clear();
        box->addItem(tr("any"), -1);
        for (int label = 0; label < classNames.size(); ++label)
            box->addItem(classNames[label], label);
    }
}

void MistakesPanel::fillTestSets(const std::vector<std::string>& names, const QString& current)
{
    m_testSetNames = names;
    const QSignalBlocker block(m_testSet);
    m_testSet->clear();
    for (const std::string& name : names)
        m_testSet->addItem(name.empty() ? tr("the run's (%1)").arg(m_runDataset) : QString::fromStdString(name), QString::fromStdString(name));
    m_testSet->setCurrentIndex(std::max(0, m_testSet->findData(current)));
}

void MistakesPanel::setFilter(int trueLabel, int predictedLabel)
{
    {
        const QSignalBlocker blockTrue(m_trueClass), blockPredicted(m_predictedClass);
        m_trueClass->setCurrentIndex(std::max(0, m_trueClass->findData(trueLabel)));
        m_predictedClass->setCurrentIndex(std::max(0, m_predictedClass->findData(predictedLabel)));
    }
    applyFilter();
}

void MistakesPanel::setOrder(Order order)
{
    m_order->setCurrentIndex(order == Order::MostConfidentFirst ? 0 : 1);
}

void MistakesPanel::showConfusionCell(int trueLabel, int predictedLabel)
{
    // The Results tab's matrix is of the run's own test images.
    bool switched = false;
    if (const int own = m_testSet->findData(QString()); own >= 0 && own != m_testSet->currentIndex()) {
        const QSignalBlocker block(m_testSet);
        m_testSet->setCurrentIndex(own);
        m_found.reset();
        clearDetail();
        switched = true;
    }
    setFilter(trueLabel, predictedLabel);
    if ((switched || (!m_found && !m_busy)) && !m_runFolder.isEmpty())
        findMistakes();
}

void MistakesPanel::findMistakes()
{
    if (m_runFolder.isEmpty()) {
        showError(tr("Select a finished run in the Results table (or open one from the History tab) to see its mistakes"));
        return;
    }
    cancel();
    const int request = ++m_request;
    m_busy = true;
    m_cancelled = false;
    m_error.clear();
    m_found.reset();
    m_progressText = m_classifier                     ? QString()
                     : GeneratorLock::heldElsewhere() ? tr("Opening the tuned model of %1 once the run in progress lets go of LibTorch's "
                                                           "random numbers (building a model draws them) ...")
                                                            .arg(m_runId)
                                                      : tr("Opening the tuned model of %1 ...").arg(m_runId);
    m_progress->setRange(0, 0);
    clearDetail();
    applyFilter();
    auto cancelRequest = std::make_shared<std::atomic<bool>>(false);
    m_cancelRequest = cancelRequest;
    QPointer<MistakesPanel> self(this);
    const std::shared_ptr<TunedClassifier> model = m_classifier;
    const std::string folder = m_runFolder.toStdString(), device = m_device.toStdString();
    const std::string testSet = m_testSet->currentData().toString().toStdString();
    // Opening the model takes seconds, scoring the test images up to minutes: both off the GUI thread. A
    // newer search, another run, Cancel or closing the window ends this one between batches.
    m_tasks->start("mistakes", [self, request, model, folder, device, testSet, cancelRequest](const TaskToken& token) {
        const auto cancelled = [token, cancelRequest] { return token.cancelled() || cancelRequest->load(); };
        std::shared_ptr<TunedClassifier> classifier = model;
        std::shared_ptr<const RunMistakes> found;
        QString error;
        try {
            if (!classifier)
                classifier = std::make_shared<TunedClassifier>(folder, device);
            MistakeSearch search;
            search.cancelled = cancelled;
            search.testSetName = testSet;
            search.progress = [self, request](const std::string& step, std::int64_t done, std::int64_t total) {
                postToGui(self, [request, step, done, total](MistakesPanel* panel) {
                    if (request == panel->m_request)
                        panel->showProgress(QString::fromStdString(step), done, total);
                });
            };
            if (cancelled())
                throw Error("cancelled");
            classifier->withModel([&](TunedModel& tuned) { found = std::make_shared<const RunMistakes>(findRunMistakes(folder, tuned, search)); });
        } catch (const std::exception& e) {
            error = firstLine(e);
        }
        postToGui(self, [request, classifier, folder, device, found, error, cancelRequest](MistakesPanel* panel) {
            // Keep the opened model while its run and device are still the chosen ones (the detail view uses it).
            if (classifier && panel->m_runFolder.toStdString() == folder && panel->m_device.toStdString() == device)
                panel->m_classifier = classifier;
            if (request != panel->m_request)
                return;
            panel->m_busy = false;
            if (found) {
                panel->showMistakes(found);
            } else if (cancelRequest->load()) {
                panel->m_cancelled = true;
                panel->updateControls();
                Q_EMIT panel->failed(panel->m_status->text());
            } else {
                panel->showError(error);
            }
        });
    });
    updateControls();
}

void MistakesPanel::cancel()
{
    if (m_cancelRequest)
        m_cancelRequest->store(true);
}

void MistakesPanel::showProgress(const QString& step, qint64 done, qint64 total)
{
    if (step == "encoding")
        m_progressText = tr("Encoding the test images with the image tower (kept in the image-tower cache for next time) ...");
    else if (step == "scoring")
        m_progressText = tr("Scoring the test images: %1 of %2").arg(done).arg(total);
    else
        m_progressText = tr("Drawing the thumbnails: %1 of %2").arg(done).arg(total);
    if (total > 0) {
        m_progress->setRange(0, static_cast<int>(std::min<qint64>(total, 1 << 30)));
        m_progress->setValue(static_cast<int>(std::min(done, total)));
    } else {
        m_progress->setRange(0, 0);  // busy: the cache's encoding reports no count
    }
    updateControls();
}

void MistakesPanel::showMistakes(std::shared_ptr<const RunMistakes> found)
{
    m_found = std::move(found);
    m_error.clear();
    fillTestSets(m_found->testSets, QString::fromStdString(m_found->testSetName));
    // The engine's classes are results.json's, the filters' the Results table's: the same list, unless an
    // older results file named them otherwise.
    QStringList names;
    for (const std::string& name : m_found->classNames)
        names << QString::fromStdString(name);
    if (names != m_classNames) {
        const int trueLabel = m_trueClass->currentData().toInt(), predictedLabel = m_predictedClass->currentData().toInt();
        fillClassFilters(names);
        setFilter(trueLabel, predictedLabel);
    }
    applyFilter();
    updateControls();
    Q_EMIT mistakesFound();
}

void MistakesPanel::applyFilter()
{
    m_shown.clear();
    m_thumbnails->clear();
    if (m_found) {
        const int trueLabel = m_trueClass->currentData().toInt(), predictedLabel = m_predictedClass->currentData().toInt();
        const auto& mistakes = m_found->mistakes;
        for (int i = 0; i < static_cast<int>(mistakes.size()); ++i) {
            const Mistake& mistake = mistakes[static_cast<size_t>(i)];
            if ((trueLabel < 0 || mistake.trueLabel == trueLabel) && (predictedLabel < 0 || mistake.predictedLabel == predictedLabel))
                m_shown.push_back(i);
        }
        const bool mostConfidentFirst = m_order->currentIndex() == 0;
        std::stable_sort(m_shown.begin(), m_shown.end(), [&](int a, int b) {
            const double ca = mistakes[static_cast<size_t>(a)].confidence, cb = mistakes[static_cast<size_t>(b)].confidence;
            return mostConfidentFirst ? ca > cb : ca < cb;
        });
        const auto className = [this](int label) { return QString::fromStdString(m_found->classNames.at(static_cast<size_t>(label))); };
        for (size_t position = 0; position < m_shown.size() && position < static_cast<size_t>(kMaxListed); ++position) {
            const int index = m_shown[position];
            const Mistake& mistake = mistakes[static_cast<size_t>(index)];
            auto* item = new QListWidgetItem(QIcon(scaledPixmap(mistake.thumbnail.pixels.data(), mistake.thumbnail.width, mistake.thumbnail.height,
                                                                kThumbnailSide)),
                                             tr("%1 → %2\n%3").arg(className(mistake.trueLabel), className(mistake.predictedLabel),
                                                                   probabilityText(mistake.confidence)));
            item->setData(Qt::UserRole, index);
            item->setToolTip(tr("%1\ntrue: %2, predicted: %3 (%4)")
                                 .arg(QString::fromStdString(mistake.source), className(mistake.trueLabel), className(mistake.predictedLabel),
                                      probabilityText(mistake.confidence)));
            m_thumbnails->addItem(item);
        }
    }
    updateControls();
}

void MistakesPanel::openMistake(int index)
{
    if (!m_found || index < 0 || index >= static_cast<int>(m_found->mistakes.size()))
        return;
    const int request = ++m_detailRequest;
    QPointer<MistakesPanel> self(this);
    const std::shared_ptr<TunedClassifier> model = m_classifier;
    const std::shared_ptr<const RunMistakes> found = m_found;
    const std::string folder = m_runFolder.toStdString(), device = m_device.toStdString();
    // "Try it"'s scoring of one image (the tuned top 5 and the hand-crafted prompt's), off the GUI thread.
    m_tasks->start("mistake-detail", [self, request, model, found, index, folder, device](const TaskToken&) {
        std::shared_ptr<TunedClassifier> classifier = model;
        std::optional<ImageTrial> trial;
        QString error;
        try {
            if (!classifier)
                classifier = std::make_shared<TunedClassifier>(folder, device);
            const Mistake& mistake = found->mistakes.at(static_cast<size_t>(index));
            trial = classifier->classify(mistakeImage(*found, mistake), mistake.source, kTop);
        } catch (const std::exception& e) {
            error = firstLine(e);
        }
        postToGui(self, [request, index, classifier, folder, device, trial, error](MistakesPanel* panel) {
            if (classifier && panel->m_runFolder.toStdString() == folder && panel->m_device.toStdString() == device)
                panel->m_classifier = classifier;
            if (request != panel->m_detailRequest)
                return;
            if (trial)
                panel->showDetail(index, *trial);
            else
                panel->showError(error);
        });
    });
}

void MistakesPanel::showDetail(int index, const ImageTrial& trial)
{
    m_detail = trial;
    m_detailIndex = index;
    const Mistake& mistake = m_found->mistakes.at(static_cast<size_t>(index));
    m_detailImage->setPixmap(scaledPixmap(trial.rgb.data(), trial.resolution, trial.resolution, kDetailSide));
    m_detailCaption->setText(tr("True class: %1, predicted: %2 (%3)\n%4")
                                 .arg(QString::fromStdString(m_found->classNames.at(static_cast<size_t>(mistake.trueLabel))),
                                      QString::fromStdString(m_found->classNames.at(static_cast<size_t>(mistake.predictedLabel))),
                                      probabilityText(mistake.confidence), QString::fromStdString(mistake.source)));
    fillScoreTable(m_tuned, trial.top);
    fillScoreTable(m_handcrafted, trial.handcrafted);
    updateControls();
    Q_EMIT detailShown();
}

void MistakesPanel::clearDetail()
{
    m_detail.reset();
    m_detailIndex = -1;
    ++m_detailRequest;
    m_detailImage->setPixmap(QPixmap());
    m_detailCaption->clear();
    fillScoreTable(m_tuned, {});
    fillScoreTable(m_handcrafted, {});
    updateControls();
}

void MistakesPanel::showError(const QString& message)
{
    m_busy = false;
    m_error = message;
    updateControls();
    Q_EMIT failed(message);
}

void MistakesPanel::updateControls()
{
    if (m_runFolder.isEmpty())
        m_runLabel->setText(tr("Run: none. Select a finished run in the Results table, or open one from the History tab."));
    else
        m_runLabel->setText(tr("Run: %1 (%2), %3").arg(m_runId, m_methodTitle, m_runFolder));
    m_find->setEnabled(!m_runFolder.isEmpty() && !m_busy);
    m_cancel->setEnabled(m_busy);
    m_progress->setVisible(m_busy);
    for (QComboBox* box : {m_trueClass, m_predictedClass})
        box->setEnabled(m_classNames.size() > 0);
    // The choice is shown where there is one, or where the only test images are a target's (DAPL).
    const bool choice = m_testSet->count() > 1 || (m_testSet->count() == 1 && !m_testSet->itemData(0).toString().isEmpty());
    m_testSetLabel->setVisible(choice);
    m_testSet->setVisible(choice);
    m_testSet->setEnabled(m_testSet->count() > 1);

    if (!m_error.isEmpty()) {
        m_status->setStyleSheet("color: #b00020;");
        m_status->setText(m_error);
    } else {
        m_status->setStyleSheet(QString());
        if (m_busy) {
            m_status->setText(m_progressText);
        } else if (m_cancelled) {
            m_status->setText(tr("Cancelled: press Find mistakes to start again."));
        } else if (m_found) {
            QString text = tr("%1 of %2 test images of %3 misclassified; %4 shown.")
                               .arg(m_found->mistakes.size())
                               .arg(m_found->scoredImages)
                               .arg(QString::fromStdString(m_found->dataset))
                               .arg(m_shown.size());
            if (m_shown.size() > static_cast<size_t>(kMaxListed))
                text += ' ' + tr("The list holds the first %1 in this order: choose a class to see the others.").arg(kMaxListed);
            if (!m_found->cacheApplies)
                text += ' ' + tr("The images were encoded again: %1 tunes the image tower, so its features cannot be cached.").arg(m_methodTitle);
            else if (m_found->featuresFromCache)
                text += ' ' + tr("Image features read from the image-tower cache.");
            else
                text += ' ' + tr("Image features computed and kept in the image-tower cache.");
            if (!m_found->agreesWithRun())
                text += ' ' + tr("These differ from the run's confusion matrix: its model changed after its evaluation (a stopped run's later checkpoint).");
            if (!m_found->problems.empty())
                text += ' ' + tr("%n unreadable image(s) left out, as the run left them.", nullptr, static_cast<int>(m_found->problems.size()));
            m_status->setText(text);
        } else if (!m_runFolder.isEmpty()) {
            m_status->setText(tr("Press Find mistakes, or click a cell of the Results tab's confusion matrix."));
        } else {
            m_status->clear();
        }
    }

    const bool hasHandcrafted = m_detail && !m_detail->handcrafted.empty();
    m_tunedTitle->setText(m_methodTitle.isEmpty() ? tr("Tuned model") : tr("Tuned model: %1").arg(m_methodTitle));
    m_tunedTitle->setVisible(m_detail.has_value());
    m_tuned->setVisible(m_detail.has_value());
    m_handcraftedTitle->setVisible(hasHandcrafted);
    m_handcrafted->setVisible(hasHandcrafted);
    m_handcraftedNote->setVisible(m_detail && !hasHandcrafted);
    m_handcraftedNote->setText(tr("%1 has no hand-crafted prompt to compare with.").arg(m_methodTitle));
    if (!m_detail && m_found && !m_busy)
        m_detailCaption->setText(tr("Click an image to see it larger with its scores."));
}

} // namespace tunebench
