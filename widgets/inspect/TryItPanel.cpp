#include "widgets/inspect/TryItPanel.h"

#include "widgets/inspect/ScoreTable.h"
#include "widgets/window/BackgroundTasks.h"

#include "core/io/AtomicFile.h"
#include "core/train/GeneratorLock.h"

#include <QCheckBox>
#include <QColor>
#include <QDir>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QMimeData>
#include <QPainter>
#include <QPixmap>
#include <QPointer>
#include <QProgressBar>
#include <QPushButton>
#include <QSettings>
#include <QSignalBlocker>
#include <QSplitter>
#include <QTableWidget>
#include <QUrl>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

namespace tunebench {

namespace {

constexpr int kTop = 5;
constexpr int kDisplaySize = 320;  // the image's side on screen: a 224-pixel crop drawn a little larger

// Blue (looked at least) to red (most), more opaque where the model looks more, so the image stays visible
// where it does not.
QColor heatColour(float value)
{
    const float v = std::clamp(value, 0.0f, 1.0f);
    return QColor::fromHsvF((1.0f - v) * 240.0f / 360.0f, 1.0f, 1.0f, 0.1f + 0.45f * v);
}

// The list's columns: the image, then the best class and its probability for the tuned model and for the
// hand-crafted prompt.
enum ListColumn { ImageColumn, TunedClassColumn, TunedProbabilityColumn, HandcraftedClassColumn, HandcraftedProbabilityColumn, ListColumns };

} // namespace

TryItPanel::TryItPanel(BackgroundTasks* tasks, QWidget* parent)
    : WorkbenchTab(parent), m_tasks(tasks)
{
    setObjectName("tryItPanel");
    setAcceptDrops(true);  // an image dropped here is classified (the window takes checkpoints elsewhere)

    m_runLabel = new QLabel(this);
    m_runLabel->setObjectName("tryItRun");
    m_runLabel->setWordWrap(true);
    m_runLabel->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_open = new QPushButton(this);
    m_open->setObjectName("tryItOpen");
    connect(m_open, &QPushButton::clicked, this, &TryItPanel::openImage);
    m_openFolder = new QPushButton(this);
    m_openFolder->setObjectName("tryItOpenFolder");
    connect(m_openFolder, &QPushButton::clicked, this, &TryItPanel::openFolder);
    m_cancelList = new QPushButton(this);
    m_cancelList->setObjectName("tryItCancelList");
    connect(m_cancelList, &QPushButton::clicked, this, &TryItPanel::cancelList);
    m_saveList = new QPushButton(this);
    m_saveList->setObjectName("tryItSaveList");
    connect(m_saveList, &QPushButton::clicked, this, &TryItPanel::saveList);
    m_whereItLooks = new QCheckBox(this);
    m_whereItLooks->setObjectName("tryItWhereItLooks");
    connect(m_whereItLooks, &QCheckBox::toggled, this, [this] {
        showImage();
        updateControls();
    });
    m_status = new QLabel(this);
    m_status->setObjectName("tryItStatus");
    m_status->setWordWrap(true);
    m_status->setTextInteractionFlags(Qt::TextSelectableByMouse);

    m_image = new QLabel(this);
    m_image->setObjectName("tryItImage");
    m_image->setFixedSize(kDisplaySize, kDisplaySize);
    m_image->setAlignment(Qt::AlignCenter);
    m_image->setFrameShape(QFrame::StyledPanel);
    m_attentionMethod = new QLabel(this);
    m_attentionMethod->setObjectName("tryItAttentionMethod");
    m_attentionMethod->setWordWrap(true);
    m_attentionMethod->setMaximumWidth(kDisplaySize);

    m_tunedTitle = new QLabel(this);
    m_tunedTitle->setObjectName("tryItTunedTitle");
    m_tuned = makeScoreTable(this, "tryItTuned");
    m_handcraftedTitle = new QLabel(this);
    m_handcraftedTitle->setObjectName("tryItHandcraftedTitle");
    m_handcrafted = makeScoreTable(this, "tryItHandcrafted");
    m_handcraftedNote = new QLabel(this);
    m_handcraftedNote->setObjectName("tryItHandcraftedNote");
    m_handcraftedNote->setWordWrap(true);

    m_listProgress = new QProgressBar(this);
    m_listProgress->setObjectName("tryItListProgress");
    m_listStatus = new QLabel(this);
    m_listStatus->setObjectName("tryItListStatus");
    m_listStatus->setWordWrap(true);
    m_listStatus->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_listTable = new QTableWidget(0, ListColumns, this);
    m_listTable->setObjectName("tryItList");
    m_listTable->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_listTable->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_listTable->setSelectionMode(QAbstractItemView::SingleSelection);
    m_listTable->verticalHeader()->setVisible(false);
    m_listTable->horizontalHeader()->setSectionResizeMode(ImageColumn, QHeaderView::Stretch);
    for (int column = TunedClassColumn; column < ListColumns; ++column)
        m_listTable->horizontalHeader()->setSectionResizeMode(column, QHeaderView::ResizeToContents);
    // The row chosen is shown as one image is: larger, with both top 5s and where it looks.
    connect(m_listTable, &QTableWidget::currentCellChanged, this, [this](int row) {
        if (row >= 0 && row < m_listPaths.size() && m_listPaths[row] != m_imagePath)
            classifyImage(m_listPaths[row]);
    });

    auto* controls = new QHBoxLayout;
    controls->addWidget(m_open);
    controls->addWidget(m_openFolder);
    controls->addWidget(m_whereItLooks);
    controls->addStretch(1);
    auto* listControls = new QHBoxLayout;
    listControls->addWidget(m_listStatus, 1);
    listControls->addWidget(m_listProgress);
    listControls->addWidget(m_cancelList);
    listControls->addWidget(m_saveList);
    auto* listBox = new QWidget(this);
    auto* listLayout = new QVBoxLayout(listBox);
    listLayout->setContentsMargins(0, 0, 0, 0);
    listLayout->addLayout(listControls);
    listLayout->addWidget(m_listTable, 1);
    m_listBox = listBox;
    auto* imageColumn = new QVBoxLayout;
    imageColumn->addWidget(m_image);
    imageColumn->addWidget(m_attentionMethod);
    imageColumn->addStretch(1);
    auto* tunedColumn = new QVBoxLayout;
    tunedColumn->addWidget(m_tunedTitle);
    tunedColumn->addWidget(m_tuned, 1);
    auto* handcraftedColumn = new QVBoxLayout;
    handcraftedColumn->addWidget(m_handcraftedTitle);
    handcraftedColumn->addWidget(m_handcrafted, 1);
    handcraftedColumn->addWidget(m_handcraftedNote);
    auto* bodyBox = new QWidget(this);
    auto* body = new QHBoxLayout(bodyBox);
    body->setContentsMargins(0, 0, 0, 0);
    body->addLayout(imageColumn);
    body->addLayout(tunedColumn, 1);
    body->addLayout(handcraftedColumn, 1);
    auto* splitter = new QSplitter(Qt::Vertical, this);
    splitter->addWidget(listBox);
    splitter->addWidget(bodyBox);
    splitter->setStretchFactor(1, 1);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(m_runLabel);
    layout->addLayout(controls);
    layout->addWidget(m_status);
    layout->addWidget(splitter, 1);

    retranslate();
}

TryItPanel::~TryItPanel() = default;

QString TryItPanel::tabTitle() const
{
    return tr("Try it");
}

void TryItPanel::retranslate()
{
    m_open->setText(tr("Open image..."));
    m_openFolder->setText(tr("Open folder..."));
    m_cancelList->setText(tr("Cancel"));
    m_saveList->setText(tr("Save as CSV..."));
    m_listTable->setHorizontalHeaderLabels({tr("Image"), tr("Tuned model"), tr("Probability"), tr("Hand-crafted prompt"), tr("Probability")});
    m_whereItLooks->setText(tr("Where it looks"));
    for (QTableWidget* table : {m_tuned, m_handcrafted})
        table->setHorizontalHeaderLabels({tr("Class"), tr("Probability")});
    m_handcraftedTitle->setText(tr("Hand-crafted prompt (zero-shot CLIP)"));
    updateControls();
}

void TryItPanel::deviceChanged(const QString& device)
{
    if (device == m_device)
        return;
    m_device = device;
    m_model.reset();  // opened on the other device: the next image opens it again
}

void TryItPanel::setRun(const RunResults* run)
{
    const QString folder = run ? run->runFolder : QString();
    // A row without an id (a folder opened by a path ending in '/') is named by its folder.
    m_runId = !run ? QString() : !run->runId.isEmpty() ? run->runId : QFileInfo(QDir::cleanPath(folder)).fileName();
    m_methodTitle = run ? run->methodTitle : QString();
    if (folder != m_runFolder) {
        m_runFolder = folder;
        m_model.reset();
        m_trial.reset();
        m_error.clear();
        m_base = m_overlay = QImage();
        fillScoreTable(m_tuned, {});
        fillScoreTable(m_handcrafted, {});
        showImage();
        // The list and the image shown stay: they are tried again with the new run.
        if (!m_listPaths.isEmpty() && !m_runFolder.isEmpty())
            startList(m_listPaths, m_listTitle);
        else if (!m_imagePath.isEmpty() && !m_runFolder.isEmpty())
            classifyImage(m_imagePath);
        else if (!m_listPaths.isEmpty()) {
            abandonList();
            resetListRows();  // the names stay, without the last run's classes
        }
    }
    updateControls();
}

void TryItPanel::openImage()
{
    QSettings settings;
    const QString start = m_imagePath.isEmpty() ? settings.value("tryIt/folder").toString() : QFileInfo(m_imagePath).absolutePath();
    const QString path = QFileDialog::getOpenFileName(this, tr("Open an image to classify"), start,
                                                      tr("Images (*.png *.jpg *.jpeg *.bmp *.tif *.tiff *.webp *.ppm *.pgm);;All files (*)"));
    if (path.isEmpty())
        return;
    settings.setValue("tryIt/folder", QFileInfo(path).absolutePath());
    clearList();
    classifyImage(path);
}

void TryItPanel::classifyImage(const QString& path)
{
    m_imagePath = path;
    if (m_runFolder.isEmpty()) {
        showError(tr("Select a finished run in the Results table (or open one from the History tab) to try %1 with").arg(path));
        return;
    }
    const int request = ++m_request;
    m_busy = true;
    m_error.clear();
    updateControls();
    QPointer<TryItPanel> self(this);
    std::shared_ptr<TunedClassifier> model = m_model;
    const std::string folder = m_runFolder.toStdString(), device = m_device.toStdString(), image = path.toStdString();
    // Opening the run's model takes seconds and classifying a fraction of one: both off the GUI thread. A
    // newer request cancels this one's answer, not its work (neither step can be interrupted).
    m_tasks->start("try-it", [self, request, model, folder, device, image](const TaskToken&) {
        std::shared_ptr<TunedClassifier> classifier = model;
        std::optional<ImageTrial> trial;
        QString error;
        try {
            if (!classifier)
                classifier = std::make_shared<TunedClassifier>(folder, device);
            trial = classifier->classify(image, kTop);
        } catch (const std::exception& e) {
            error = firstLine(e);
        }
        postToGui(self, [request, classifier, folder, device, trial, error](TryItPanel* panel) {
            // Keep the opened model while its run and device are still the chosen ones, even if this
            // image's answer came too late.
            if (classifier && panel->m_runFolder.toStdString() == folder && panel->m_device.toStdString() == device)
                panel->m_model = classifier;
            if (request != panel->m_request)
                return;
            panel->m_busy = false;
            if (trial)
                panel->showTrial(*trial);
            else
                panel->showError(error);
        });
    });
}

void TryItPanel::openFolder()
{
    QSettings settings;
    const QString start = m_imagePath.isEmpty() ? settings.value("tryIt/folder").toString() : QFileInfo(m_imagePath).absolutePath();
    const QString folder = QFileDialog::getExistingDirectory(this, tr("Open a folder of images to classify"), start);
    if (folder.isEmpty())
        return;
    settings.setValue("tryIt/folder", folder);
    classifyFolder(folder);
}

void TryItPanel::classifyFolder(const QString& folder)
{
    std::vector<std::string> files;
    try {
        files = imageFilesInFolder(folder.toStdString());
    } catch (const std::exception& e) {
        showError(firstLine(e));
        return;
    }
    QStringList paths;
    for (const std::string& file : files)
        paths << QString::fromStdString(file);
    startList(paths, QDir::toNativeSeparators(folder));
}

void TryItPanel::classifyFiles(const QStringList& paths)
{
    startList(paths, tr("%n dropped image(s)", nullptr, static_cast<int>(paths.size())));
}

void TryItPanel::startList(const QStringList& paths, const QString& title)
{
    m_listPaths = paths;
    m_listTitle = title;
    resetListRows();
    if (m_runFolder.isEmpty()) {
        showError(tr("Select a finished run in the Results table (or open one from the History tab) to try %1 with").arg(title));
        return;
    }
    const int request = ++m_listRequest;
    m_listBusy = true;
    m_error.clear();
    m_listClock.start();
    m_listProgress->setRange(0, 0);
    m_listStatus->setText(m_model ? tr("Classifying %1 ...").arg(title) : tr("Opening the tuned model of %1 and classifying %2 ...").arg(m_runId, title));
    if (m_listCancel)
        m_listCancel->store(true);  // an older list gives up between batches
    auto cancelRequest = std::make_shared<std::atomic<bool>>(false);
    m_listCancel = cancelRequest;
    updateControls();

    QPointer<TryItPanel> self(this);
    std::shared_ptr<TunedClassifier> model = m_model;
    const std::string folder = m_runFolder.toStdString(), device = m_device.toStdString();
    std::vector<std::string> files;
    for (const QString& path : paths)
        files.push_back(path.toStdString());
    // Opening the model takes seconds and a folder may take minutes: off the GUI thread, with progress. A newer
    // list, another run, Cancel or closing the window ends it between batches.
    m_tasks->start("try-it-list", [self, request, model, folder, device, files, cancelRequest](const TaskToken& token) {
        std::shared_ptr<TunedClassifier> classifier = model;
        std::shared_ptr<const ImagePredictions> predictions;
        QString error;
        try {
            if (!classifier)
                classifier = std::make_shared<TunedClassifier>(folder, device);
            PredictionOptions options;
            options.top = kTop;
            options.cancelled = [token, cancelRequest] { return token.cancelled() || cancelRequest->load(); };
            options.progress = [self, request](const std::string& step, std::int64_t done, std::int64_t total) {
                postToGui(self, [request, step, done, total](TryItPanel* panel) {
                    if (request == panel->m_listRequest)
                        panel->showListProgress(QString::fromStdString(step), done, total);
                });
            };
            if (options.cancelled())
                throw Error("cancelled");
            predictions = std::make_shared<const ImagePredictions>(classifier->classifyAll(files, options));
        } catch (const std::exception& e) {
            error = firstLine(e);
        }
        postToGui(self, [request, classifier, folder, device, predictions, error, cancelRequest](TryItPanel* panel) {
            if (classifier && panel->m_runFolder.toStdString() == folder && panel->m_device.toStdString() == device)
                panel->m_model = classifier;
            if (request != panel->m_listRequest)
                return;
            panel->m_listBusy = false;
            if (predictions) {
                panel->showList(predictions);
            } else if (cancelRequest->load()) {
                panel->m_listStatus->setText(tr("%1: cancelled; nothing was kept.").arg(panel->m_listTitle));
                panel->updateControls();
                Q_EMIT panel->failed(panel->m_listStatus->text());
            } else {
                panel->m_listStatus->clear();
                panel->showError(error);
            }
        });
    });
}

void TryItPanel::resetListRows()
{
    m_list.reset();
    m_listTable->clearContents();
    m_listTable->setRowCount(static_cast<int>(m_listPaths.size()));
    for (int row = 0; row < m_listPaths.size(); ++row) {
        auto* item = new QTableWidgetItem(QFileInfo(m_listPaths[row]).fileName());
        item->setToolTip(m_listPaths[row]);
        m_listTable->setItem(row, ImageColumn, item);
    }
    m_listStatus->clear();
    updateControls();
}

void TryItPanel::cancelList()
{
    if (m_listCancel)
        m_listCancel->store(true);
}

void TryItPanel::showListProgress(const QString& step, qint64 done, qint64 total)
{
    if (total <= 0)
        return;
    m_listProgress->setRange(0, static_cast<int>(std::min<qint64>(total, 1 << 30)));
    m_listProgress->setValue(static_cast<int>(std::min(done, total)));
    // The time left, from the pace so far (the first batch also pays for opening the model).
    QString left;
    if (done > 0 && done < total) {
        const double seconds = double(m_listClock.elapsed()) / 1000.0 * double(total - done) / double(done);
        left = tr(", about %1 s left").arg(std::max(1.0, std::round(seconds)));
    }
    m_listStatus->setText(step == "encoding" ? tr("%1: encoding %2 of %3 images with the image tower (kept in the image-tower cache)%4")
                                                   .arg(m_listTitle)
                                                   .arg(done)
                                                   .arg(total)
                                                   .arg(left)
                                             : tr("%1: classifying %2 of %3 images%4").arg(m_listTitle).arg(done).arg(total).arg(left));
}

void TryItPanel::showList(std::shared_ptr<const ImagePredictions> predictions)
{
    m_list = std::move(predictions);
    const bool hasHandcrafted = std::any_of(m_list->images.begin(), m_list->images.end(),
                                            [](const auto& image) { return image && !image->handcrafted.empty(); });
    m_listTable->setColumnHidden(HandcraftedClassColumn, !hasHandcrafted);
    m_listTable->setColumnHidden(HandcraftedProbabilityColumn, !hasHandcrafted);
    int firstRead = -1, current = -1;
    for (int row = 0; row < m_listTable->rowCount() && row < static_cast<int>(m_list->images.size()); ++row) {
        const auto& image = m_list->images[static_cast<size_t>(row)];
        const auto put = [this, row](int column, const QString& text, const QVariant& exact = {}) {
            auto* item = new QTableWidgetItem(text);
            if (exact.isValid())
                item->setData(Qt::UserRole, exact);  // the exact probability, for tests; the cell shows it rounded
            m_listTable->setItem(row, column, item);
        };
        if (!image) {
            // The loader's reason, as predict prints it under "skipped:".
            put(TunedClassColumn, tr("unreadable: %1").arg(QString::fromStdString(m_list->unreadable[static_cast<size_t>(row)])));
            m_listTable->item(row, TunedClassColumn)->setForeground(QColor("#b00020"));
            continue;
        }
        if (firstRead < 0)
            firstRead = row;
        if (m_listPaths[row] == m_imagePath)
            current = row;
        if (!image->top.empty()) {
            put(TunedClassColumn, QString::fromStdString(image->top.front().className));
            put(TunedProbabilityColumn, probabilityText(image->top.front().probability), image->top.front().probability);
        }
        if (!image->handcrafted.empty()) {
            put(HandcraftedClassColumn, QString::fromStdString(image->handcrafted.front().className));
            put(HandcraftedProbabilityColumn, probabilityText(image->handcrafted.front().probability), image->handcrafted.front().probability);
        }
    }
    const qint64 total = m_listPaths.size(), read = m_list->predicted();
    m_listStatus->setText(read == total ? tr("%1: %2 images classified; choose one to see its top 5 and where it looks").arg(m_listTitle).arg(total)
                                        : tr("%1: %2 of %3 images classified, %4 unreadable (marked in the list); choose one to see its top 5 "
                                             "and where it looks")
                                              .arg(m_listTitle)
                                              .arg(read)
                                              .arg(total)
                                              .arg(total - read));
    // The image shown stays shown (tried again with this run), else the list's first readable one.
    const int row = current >= 0 ? current : firstRead;
    if (row >= 0) {
        {
            const QSignalBlocker blocker(m_listTable);
            m_listTable->setCurrentCell(row, ImageColumn);
        }
        classifyImage(m_listPaths[row]);
    }
    updateControls();
    Q_EMIT listClassified();
}

void TryItPanel::abandonList()
{
    cancelList();
    ++m_listRequest;  // a result still on its way is dropped
    m_listBusy = false;
}

void TryItPanel::clearList()
{
    abandonList();
    m_listPaths.clear();
    m_listTitle.clear();
    resetListRows();
}

void TryItPanel::saveList()
{
    QSettings settings;
    const QString start = settings.value("tryIt/csvFolder", QDir::homePath()).toString();
    const QString path = QFileDialog::getSaveFileName(this, tr("Save the predictions as CSV"), start + "/predictions.csv", tr("CSV files (*.csv)"));
    if (path.isEmpty())
        return;
    settings.setValue("tryIt/csvFolder", QFileInfo(path).absolutePath());
    saveListCsv(path);
}

bool TryItPanel::saveListCsv(const QString& path)
{
    if (!m_list)
        return false;
    try {
        writeFileAtomically(path.toStdString(), predictionsCsv(*m_list));
    } catch (const std::exception& e) {
        showError(firstLine(e));
        return false;
    }
    m_listStatus->setText(tr("%1: saved as %2").arg(m_listTitle, QDir::toNativeSeparators(path)));
    return true;
}

void TryItPanel::showTrial(const ImageTrial& trial)
{
    m_trial = trial;
    m_error.clear();
    m_base = QImage(trial.rgb.data(), trial.resolution, trial.resolution, 3 * trial.resolution, QImage::Format_RGB888)
                 .copy()
                 .scaled(kDisplaySize, kDisplaySize, Qt::KeepAspectRatio, Qt::SmoothTransformation);
    m_overlay = QImage();
    if (!trial.attention.empty()) {
        // The grid of attention drawn over the whole crop, smoothed between patch centres.
        QImage heat(trial.grid, trial.grid, QImage::Format_ARGB32);
        for (int y = 0; y < trial.grid; ++y)
            for (int x = 0; x < trial.grid; ++x)
                heat.setPixelColor(x, y, heatColour(trial.attention[static_cast<size_t>(y * trial.grid + x)]));
        m_overlay = m_base.convertToFormat(QImage::Format_ARGB32);
        QPainter painter(&m_overlay);
        painter.drawImage(m_overlay.rect(), heat.scaled(m_overlay.size(), Qt::IgnoreAspectRatio, Qt::SmoothTransformation));
    }
    fillScoreTable(m_tuned, trial.top);
    fillScoreTable(m_handcrafted, trial.handcrafted);
    showImage();
    updateControls();
    Q_EMIT classified();
}

void TryItPanel::showError(const QString& message)
{
    m_busy = false;
    m_error = message;
    updateControls();
    Q_EMIT failed(message);
}

QString TryItPanel::errorText() const
{
    return m_error;
}

void TryItPanel::showImage()
{
    const QImage& shown = m_whereItLooks->isChecked() && !m_overlay.isNull() ? m_overlay : m_base;
    if (shown.isNull())
        m_image->setPixmap(QPixmap());
    else
        m_image->setPixmap(QPixmap::fromImage(shown));
}

void TryItPanel::updateControls()
{
    // The run, and why nothing can be tried without one.
    if (m_runFolder.isEmpty()) {
        m_runLabel->setText(tr("Run: none. Select a finished run in the Results table, or open one from the History tab."));
        m_open->setEnabled(false);
        m_open->setToolTip(tr("Select a finished run in the Results table first (the hand-crafted baseline rows have no tuned model)"));
    } else {
        m_runLabel->setText(tr("Run: %1 (%2), %3").arg(m_runId, m_methodTitle, m_runFolder));
        m_open->setEnabled(true);
        m_open->setToolTip(tr("Classify an image with the tuned model of %1; you can also drop an image file on this tab").arg(m_runId));
    }
    m_openFolder->setEnabled(!m_runFolder.isEmpty());
    m_openFolder->setToolTip(m_runFolder.isEmpty() ? m_open->toolTip()
                                                   : tr("Classify every image in a folder with the tuned model of %1, as tunebench-cli predict --folder "
                                                        "does; you can also drop a folder or several images on this tab")
                                                         .arg(m_runId));
    m_listBox->setVisible(!m_listPaths.isEmpty());
    m_listProgress->setVisible(m_listBusy);
    m_cancelList->setVisible(m_listBusy);
    m_saveList->setEnabled(m_list != nullptr && !m_listBusy);
    m_saveList->setToolTip(m_list ? tr("Save every image's top %1 as tunebench-cli predict --csv writes them").arg(kTop) : tr("Classify a folder first"));
    m_tunedTitle->setText(m_methodTitle.isEmpty() ? tr("Tuned model") : tr("Tuned model: %1").arg(m_methodTitle));

    const QString image = QFileInfo(m_imagePath).fileName();
    if (!m_error.isEmpty()) {
        m_status->setStyleSheet("color: #b00020;");
        m_status->setText(m_error);
    } else {
        m_status->setStyleSheet(QString());
        if (m_busy)
            m_status->setText(m_model                          ? tr("Classifying %1 ...").arg(image)
                              : GeneratorLock::heldElsewhere() ? tr("Opening the tuned model of %1 and classifying %2 once the run in progress "
                                                                    "lets go of LibTorch's random numbers (building a model draws them) ...")
                                                                     .arg(m_runId, image)
                                                               : tr("Opening the tuned model of %1 and classifying %2 ...").arg(m_runId, image));
        else if (m_trial)
            m_status->setText(tr("%1, as the model sees it (resized and centre-cropped to %2 x %2)").arg(m_imagePath).arg(m_trial->resolution));
        else if (!m_runFolder.isEmpty())
            m_status->setText(tr("Open an image, or drop one on this tab."));
        else
            m_status->clear();
    }

    // The hand-crafted prompt's column only where the method compares with one.
    const bool hasHandcrafted = m_trial && !m_trial->handcrafted.empty();
    m_handcraftedTitle->setVisible(hasHandcrafted);
    m_handcrafted->setVisible(hasHandcrafted);
    m_handcraftedNote->setVisible(m_trial && !hasHandcrafted);
    m_handcraftedNote->setText(tr("%1 has no hand-crafted prompt to compare with: only CLIP methods that learn from images (the prompt learners, "
                                  "adapters, Tip-Adapter, the linear probe) are compared with one.")
                                   .arg(m_methodTitle));

    const bool hasMap = m_trial && !m_trial->attention.empty();
    m_whereItLooks->setEnabled(hasMap);
    m_whereItLooks->setToolTip(hasMap ? tr("Overlay where the image tower looks: %1").arg(QString::fromStdString(m_trial->attentionMethod))
                               : m_trial ? tr("No attention map for this model: %1").arg(QString::fromStdString(m_trial->attentionProblem))
                                         : tr("Classify an image first"));
    if (!m_trial)
        m_attentionMethod->clear();
    else if (!hasMap)
        m_attentionMethod->setText(tr("Where it looks: not available (%1)").arg(QString::fromStdString(m_trial->attentionProblem)));
    else if (m_whereItLooks->isChecked())
        m_attentionMethod->setText(tr("Where it looks: %1 (red: most attention, blue: least)").arg(QString::fromStdString(m_trial->attentionMethod)));
    else
        m_attentionMethod->setText(tr("Where it looks: %1 (tick the box to overlay it)").arg(QString::fromStdString(m_trial->attentionMethod)));
}

void TryItPanel::dragEnterEvent(QDragEnterEvent* event)
{
    const QList<QUrl> urls = event->mimeData()->urls();
    if (!urls.isEmpty() && urls.front().isLocalFile())
        event->acceptProposedAction();
}

void TryItPanel::dropEvent(QDropEvent* event)
{
    const QList<QUrl> urls = event->mimeData()->urls();
    if (urls.isEmpty() || !urls.front().isLocalFile())
        return;
    event->acceptProposedAction();
    // A folder, or several files, is listed; one file is shown as an image.
    QStringList paths;
    for (const QUrl& url : urls)
        if (url.isLocalFile())
            paths << url.toLocalFile();
    if (paths.size() == 1 && QFileInfo(paths.front()).isDir()) {
        classifyFolder(paths.front());
    } else if (paths.size() > 1) {
        classifyFiles(paths);
    } else {
        clearList();
        classifyImage(paths.front());
    }
}

} // namespace tunebench
