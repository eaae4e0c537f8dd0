#include "widgets/setup/ModelPanel.h"

#include "widgets/window/BackgroundTasks.h"

#include "core/Device.h"
#include "core/experiment/Caches.h"
#include "core/io/CheckpointLoader.h"
#include "core/io/VocabularyLocator.h"

#include <QComboBox>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QLocale>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSignalBlocker>
#include <QVBoxLayout>

#include <nlohmann/json.hpp>

#include <algorithm>

namespace tunebench {

namespace {

QString humanCount(qint64 count)
{
    if (count >= 1000000)
        return QString::number(count / 1e6, 'f', 2) + " M";
    if (count >= 10000)
        return QString::number(count / 1e3, 'f', 1) + " k";
    return QString::number(count);
}

} // namespace

ModelPanel::ModelPanel(BackgroundTasks* tasks, QWidget* parent)
    : QGroupBox(parent)
    , m_tasks(tasks)
{
    setObjectName("modelPanel");
    auto* layout = new QVBoxLayout(this);
    m_title = new QLabel(this);
    m_title->setWordWrap(true);
    m_summary = new QPlainTextEdit(this);
    m_summary->setObjectName("modelSummary");
    m_summary->setReadOnly(true);
    m_summary->setMinimumHeight(90);
    m_vocabLabel = new QLabel(this);
    m_vocabLabel->setObjectName("vocabularyLabel");
    m_vocabLabel->setWordWrap(true);
    m_deviceTitle = new QLabel(this);
    m_deviceSelector = new QComboBox(this);
    m_deviceSelector->setObjectName("deviceSelector");
    // A long GPU name must not widen the dock.
    m_deviceSelector->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    m_deviceSelector->setMinimumContentsLength(16);
    m_deviceTitle->setBuddy(m_deviceSelector);
    m_deviceLabel = new QLabel(this);
    m_deviceLabel->setObjectName("deviceLabel");
    m_deviceLabel->setWordWrap(true);
    auto* deviceRow = new QHBoxLayout;
    deviceRow->addWidget(m_deviceTitle);
    deviceRow->addWidget(m_deviceSelector, 1);
    m_openButton = new QPushButton(this);
    m_openButton->setObjectName("openModelButton");
    m_vocabButton = new QPushButton(this);
    m_vocabButton->setObjectName("vocabularyButton");
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(m_openButton);
    buttons->addWidget(m_vocabButton);
    layout->addWidget(m_title);
    layout->addWidget(m_summary, 1);
    layout->addWidget(m_vocabLabel);
    layout->addLayout(deviceRow);
    layout->addWidget(m_deviceLabel);
    layout->addLayout(buttons);
    connect(m_openButton, &QPushButton::clicked, this, &ModelPanel::chooseCheckpoint);
    connect(m_vocabButton, &QPushButton::clicked, this, &ModelPanel::chooseVocabulary);
    // Filling the selector blocks its signals: only the user's choice is remembered.
    connect(m_deviceSelector, &QComboBox::currentIndexChanged, this, [this] { Q_EMIT deviceChosen(selectedDevice()); });
    showDevices(QStringLiteral("auto"));
}

void ModelPanel::chooseCheckpoint()
{
    const QString path = QFileDialog::getOpenFileName(this, tr("Open checkpoint"), QString(),
                                                      tr("Checkpoints (*.pt *.pth *.bin *.safetensors config.json);;All files (*)"));
    if (path.isEmpty())
        return;
    // A Hugging Face model is a folder: picking its config.json means the folder.
    open(QFileInfo(path).fileName() == "config.json" ? QFileInfo(path).absolutePath() : path);
}

void ModelPanel::chooseVocabulary()
{
    const QString path = QFileDialog::getOpenFileName(this, tr("Choose the CLIP vocabulary"), QString(),
                                                      tr("CLIP vocabulary (*.gz vocab.json);;All files (*)"));
    if (!path.isEmpty())
        setVocabulary(QFileInfo(path).fileName() == "vocab.json" ? QFileInfo(path).absolutePath() : path);
}

void ModelPanel::setVocabulary(const QString& path)
{
    m_vocabulary = path;
    if (!m_path.isEmpty())
        open(m_path);
}

void ModelPanel::open(const QString& path)
{
    m_loading = true;
    setRunning(m_running);
    Q_EMIT loadingStarted(path);
    QPointer<ModelPanel> self(this);
    const QString vocabulary = m_vocabulary;
    m_tasks->start("model", [self, path, vocabulary](const TaskToken&) {
        QString failure, vocabFound, vocabProblem;
        ModelSpec spec;
        try {
            // Read once into the cache that parameter counts and runs use; only when that fails is the
            // checkpoint read alone, to tell a model problem from a vocabulary problem.
            std::shared_ptr<const Backbone> backbone;
            try {
                backbone = cachedBackbone(path.toStdString(), vocabulary.toStdString());
            } catch (const std::exception&) {
                backbone = std::make_shared<const Backbone>(loadImageBackbone(path.toStdString(), "cpu"));
            }
            const Checkpoint& checkpoint = backbone->checkpoint;
            buildModel(checkpoint);
            spec = checkpoint.spec;
            if (checkpoint.spec.text) {
                try {
                    vocabFound = QString::fromStdString(locateVocabulary(vocabulary.toStdString(), path.toStdString()));
                } catch (const std::exception& e) {
                    vocabProblem = firstLine(e);
                }
            }
        } catch (const std::exception& e) {
            failure = firstLine(e);
        }
        postToGui(self, [path, spec, failure, vocabFound, vocabProblem](ModelPanel* panel) {
            panel->m_loading = false;
            panel->setRunning(panel->m_running);
            if (!failure.isEmpty()) {
                Q_EMIT panel->failed(failure);
                return;
            }
            panel->m_path = path;
            panel->showLoaded(spec, vocabFound, vocabProblem);
        });
    });
}

void ModelPanel::showLoaded(const ModelSpec& spec, const QString& vocabulary, const QString& vocabProblem)
{
    m_spec = spec;
    m_summaryJson = QString::fromStdString(spec.summary().dump(2));
    m_foundVocabulary = vocabulary;
    m_problem = vocabProblem;
    retranslate();
    setRunning(m_running);
    Q_EMIT loaded(m_summaryJson);
}

void ModelPanel::setBuildInfo(const BuildInfo& build, const QString& preferred)
{
    m_build = build;
    m_hasBuild = true;
    m_deviceProblem.clear();
    showDevices(QString::fromStdString(resolveDeviceChoice(build.devices, preferred.toStdString())));
}

void ModelPanel::setDeviceProblem(const QString& message)
{
    m_deviceProblem = message;
    showDevices(QStringLiteral("auto"));
}

QString ModelPanel::selectedDevice() const
{
    const QString id = m_deviceSelector->currentData().toString();
    return id.isEmpty() ? QStringLiteral("auto") : id;
}

QString ModelPanel::deviceText(const DeviceInfo& device)
{
    if (!device.isGpu())
        return tr("CPU (%1 threads)").arg(device.threads);
    if (device.name.empty())
        return tr("GPU %1").arg(device.index);
    return tr("GPU %1: %2 (%3 GiB)")
        .arg(device.index)
        .arg(QString::fromStdString(device.name))
        .arg(static_cast<double>(device.memoryBytes) / (1 << 30), 0, 'f', 1);
}

QString ModelPanel::cudaText(const BuildInfo& build)
{
    if (build.cudaCompiled && !build.cudaRuntimeVersion.empty())
        return tr("CUDA: compiled (runtime %1), usable GPUs: %2").arg(QString::fromStdString(build.cudaRuntimeVersion)).arg(build.cudaDevices);
    if (build.cudaCompiled)
        return tr("CUDA: compiled, usable GPUs: %1").arg(build.cudaDevices);
    if (build.cudaDevices > 0)
        return tr("CUDA: not compiled in; usable through LibTorch: %1 GPUs").arg(build.cudaDevices);
    return tr("CUDA: not compiled");
}

void ModelPanel::showDevices(const QString& selected)
{
    const QSignalBlocker blocker(m_deviceSelector);
    m_deviceSelector->clear();
    if (m_hasBuild) {
        for (const DeviceInfo& device : m_build.devices)
            m_deviceSelector->addItem(deviceText(device), QString::fromStdString(device.id));
    } else {
        m_deviceSelector->addItem(m_deviceProblem.isEmpty() ? tr("Probing devices...") : tr("Automatic"), QStringLiteral("auto"));
    }
    m_deviceSelector->setCurrentIndex(std::max(0, m_deviceSelector->findData(selected)));
    if (!m_deviceProblem.isEmpty()) {
        m_deviceLabel->setText(tr("Device: %1").arg(m_deviceProblem));
    } else if (!m_hasBuild) {
        m_deviceLabel->setText(tr("Device: probing..."));
    } else {
        // The CPU's thread count is LibTorch's, set at start (--threads, $TUNEBENCH_THREADS); CUDA gets a line
        // of its own, so that the narrow dock never breaks a fact in two.
        const auto cpu = std::find_if(m_build.devices.begin(), m_build.devices.end(), [](const DeviceInfo& d) { return !d.isGpu(); });
        const QString libtorch = QString::fromStdString(m_build.libtorchVersion);
        m_deviceLabel->setText((cpu == m_build.devices.end() ? tr("LibTorch %1").arg(libtorch) : tr("LibTorch %1 · %2").arg(libtorch, deviceText(*cpu))) +
                               QLatin1Char('\n') + cudaText(m_build));
    }
    setRunning(m_running);
}

void ModelPanel::setRunning(bool running)
{
    m_running = running;
    m_openButton->setEnabled(!running);
    m_deviceSelector->setEnabled(!running && m_hasBuild);
    m_deviceSelector->setToolTip(running ? tr("A run is in progress: its device is fixed until it ends")
                                         : tr("Where runs compute: the first GPU unless you choose another device; the choice is kept for the next start"));
    m_vocabButton->setEnabled(!running && m_spec.text.has_value());
    m_vocabButton->setToolTip(m_spec.text.has_value() ? tr("Choose the CLIP vocabulary (bpe_simple_vocab_16e6.txt.gz or a folder with vocab.json + merges.txt)")
                                        : tr("Only CLIP models with a text tower need a vocabulary"));
}

void ModelPanel::retranslate()
{
    m_summary->setPlaceholderText(tr("Model summary: family, towers, resolution, parameters, file hash"));
    m_openButton->setText(tr("Open..."));
    m_openButton->setToolTip(tr("Open a checkpoint: OpenAI .pt, .safetensors, or a Hugging Face folder"));
    m_vocabButton->setText(tr("Vocabulary..."));
    m_deviceTitle->setText(tr("&Device:"));
    showDevices(selectedDevice());
    if (m_summaryJson.isEmpty()) {
        m_title->setText(tr("No model loaded."));
        return;
    }
    const QString name = QString::fromStdString(m_spec.name);
    const QString hash = QString::fromStdString(m_spec.sha256);
    const VisionSpec& vision = m_spec.vision;
    QString tower;
    if (vision.isResNet()) {
        QStringList blocks;
        for (int count : vision.stageBlocks)
            blocks << QString::number(count);
        tower = tr("ResNet, blocks %1, width %2, embedding %3").arg(blocks.join("-")).arg(vision.width).arg(m_spec.embedDim());
    } else {
        tower = tr("ViT, %1 layers, width %2, patch %3").arg(vision.layers).arg(vision.width).arg(vision.patchSize);
    }
    const bool hasText = m_spec.text.has_value();
    m_summary->setPlainText(tr("Name: %1\nFamily: %2\nTowers: %3\nImage tower: %4\nResolution: %5 px\nParameters: %6 (%7)\nSHA-256: %8\nFormat: %9")
                                .arg(name, QString::fromStdString(m_spec.familyName()), hasText ? tr("image + text") : tr("image only"), tower)
                                .arg(vision.imageSize)
                                .arg(QLocale().toString(static_cast<qint64>(m_spec.parameterCount)), humanCount(m_spec.parameterCount),
                                     hash.isEmpty() ? tr("not computed") : hash.left(16) + "…", QString::fromStdString(m_spec.format)));
    m_summary->setToolTip(m_summaryJson);
    m_title->setText(tr("<b>%1</b>").arg(name.toHtmlEscaped()));
    if (!m_spec.text.has_value())
        m_vocabLabel->setText(tr("Vocabulary: not needed (vision-only model)"));
    else if (!m_problem.isEmpty())
        m_vocabLabel->setText(tr("<span style='color:#b00020'>Vocabulary missing: %1</span>").arg(m_problem.toHtmlEscaped()));
    else
        m_vocabLabel->setText(tr("Vocabulary: %1").arg(QDir::toNativeSeparators(m_foundVocabulary)));
    m_vocabLabel->setToolTip(m_problem);
}

} // namespace tunebench
