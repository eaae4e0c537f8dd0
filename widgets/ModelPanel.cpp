#include "widgets/ModelPanel.h"

#include "widgets/BackgroundTasks.h"

#include "core/experiment/Caches.h"
#include "core/io/CheckpointLoader.h"
#include "core/io/VocabularyLocator.h"

#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QLocale>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QVBoxLayout>

#include <nlohmann/json.hpp>

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
    m_deviceLabel = new QLabel(this);
    m_deviceLabel->setObjectName("deviceLabel");
    m_deviceLabel->setWordWrap(true);
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
    layout->addWidget(m_deviceLabel);
    layout->addLayout(buttons);
    connect(m_openButton, &QPushButton::clicked, this, &ModelPanel::chooseCheckpoint);
    connect(m_vocabButton, &QPushButton::clicked, this, &ModelPanel::chooseVocabulary);
    setRunning(false);
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
                backbone = std::make_shared<const Backbone>(Backbone{path.toStdString(), readCheckpoint(path.toStdString()), nullptr, c10::kCPU});
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

void ModelPanel::setDeviceLine(const QString& line)
{
    m_device = line;
    m_deviceLabel->setText(tr("Device: %1").arg(line));
}

void ModelPanel::setRunning(bool running)
{
    m_running = running;
    m_openButton->setEnabled(!running);
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
    m_deviceLabel->setText(m_device.isEmpty() ? tr("Device: probing...") : tr("Device: %1").arg(m_device));
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
