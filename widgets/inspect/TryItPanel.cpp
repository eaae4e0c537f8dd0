#include "widgets/inspect/TryItPanel.h"

#include "widgets/inspect/ScoreTable.h"
#include "widgets/window/BackgroundTasks.h"

#include "core/train/GeneratorLock.h"

#include <QCheckBox>
#include <QColor>
#include <QDir>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QMimeData>
#include <QPainter>
#include <QPixmap>
#include <QPointer>
#include <QPushButton>
#include <QSettings>
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

    auto* controls = new QHBoxLayout;
    controls->addWidget(m_open);
    controls->addWidget(m_whereItLooks);
    controls->addStretch(1);
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
    auto* body = new QHBoxLayout;
    body->addLayout(imageColumn);
    body->addLayout(tunedColumn, 1);
    body->addLayout(handcraftedColumn, 1);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(m_runLabel);
    layout->addLayout(controls);
    layout->addWidget(m_status);
    layout->addLayout(body, 1);

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
        // The image shown stays: it is tried again with the new run.
        if (!m_imagePath.isEmpty() && !m_runFolder.isEmpty())
            classifyImage(m_imagePath);
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
    classifyImage(urls.front().toLocalFile());
}

} // namespace tunebench
