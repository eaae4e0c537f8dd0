#include "widgets/window/RunBar.h"

#include "widgets/window/ProgressBar.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QProgressBar>
#include <QPushButton>

#include <algorithm>

namespace tunebench {

namespace {

QString formatDuration(double seconds)
{
    const qint64 total = static_cast<qint64>(std::max(0.0, seconds) + 0.5);
    if (total >= 3600)
        return QString("%1:%2:%3").arg(total / 3600).arg((total / 60) % 60, 2, 10, QChar('0')).arg(total % 60, 2, 10, QChar('0'));
    return QString("%1:%2").arg(total / 60).arg(total % 60, 2, 10, QChar('0'));
}

} // namespace

RunBar::RunBar(QWidget* parent)
    : QWidget(parent)
{
    setObjectName("runBar");
    auto* layout = new QHBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    m_start = new QPushButton(this);
    m_start->setObjectName("startButton");
    m_pause = new QPushButton(this);
    m_pause->setObjectName("pauseButton");
    m_pause->setCheckable(true);
    m_stop = new QPushButton(this);
    m_stop->setObjectName("stopButton");
    m_progress = makeProgressBar(this);
    m_progress->setObjectName("runProgress");
    m_progress->setRange(0, 1);
    m_progress->setValue(0);
    m_progress->setTextVisible(true);
    m_progress->setMinimumWidth(360);
    m_stage = new QLabel(this);
    m_stage->setObjectName("stageLabel");
    m_memory = new QLabel(this);
    m_memory->setObjectName("memoryLabel");
    m_memory->setVisible(false);
    layout->addWidget(m_start);
    layout->addWidget(m_pause);
    layout->addWidget(m_stop);
    layout->addWidget(m_progress, 1);
    layout->addWidget(m_stage);
    layout->addWidget(m_memory);
    connect(m_start, &QPushButton::clicked, this, &RunBar::startClicked);
    connect(m_pause, &QPushButton::toggled, this, &RunBar::pauseToggled);
    connect(m_stop, &QPushButton::clicked, this, &RunBar::stopClicked);
    setRunning(false);
}

void RunBar::setStartable(bool startable, const QString& why)
{
    m_start->setEnabled(startable);
    m_start->setToolTip(startable ? tr("Train the selected strategy on the dataset") : why);
}

void RunBar::setRunning(bool running)
{
    m_running = running;
    m_pause->setEnabled(running);
    m_pause->setToolTip(running ? tr("Pause or resume training after the current step") : tr("No run in progress"));
    m_stop->setEnabled(running);
    m_stop->setToolTip(running ? tr("Stop training after the current step; a second press also ends the evaluation")
                               : tr("No run in progress"));
    if (!running)
        showPaused(false);
}

void RunBar::showStarting()
{
    m_finishedText.clear();
    m_memory->clear();
    m_memory->setVisible(false);
    showPaused(false);
    m_progress->setRange(0, 0);  // busy until the first step reports the total
    m_progress->setFormat(tr("Starting..."));
}

void RunBar::showProgress(const RunProgress& p)
{
    m_progress->setRange(0, static_cast<int>(std::max<qint64>(1, p.totalSteps)));
    m_progress->setValue(static_cast<int>(p.step));
    m_progress->setFormat(tr("Epoch %1/%2 · step %3/%4 · %5 img/s · ETA %6")
                              .arg(p.epoch + 1)
                              .arg(p.epochs)
                              .arg(p.step)
                              .arg(p.totalSteps)
                              .arg(p.imagesPerSecond, 0, 'f', 1)
                              .arg(formatDuration(p.etaSeconds)));
    if (!p.memory.isEmpty()) {
        m_memory->setText(tr("GPU memory: %1").arg(p.memory));
        m_memory->setVisible(true);
    }
}

void RunBar::showStage(const QString& stage)
{
    m_stage->setText(stage);
}

void RunBar::showStopping()
{
    m_stage->setText(tr("Stopping..."));
}

void RunBar::showPaused(bool paused)
{
    if (m_pause->isChecked() != paused) {
        const QSignalBlocker blocker(m_pause);
        m_pause->setChecked(paused);
    }
    m_pause->setText(paused ? tr("Resume") : tr("Pause"));
    if (m_running)
        m_stage->setText(paused ? tr("Paused") : tr("Training"));
}

void RunBar::showFinished(const QString& text)
{
    m_finishedText = text;
    m_progress->setRange(0, 1);
    m_progress->setValue(1);
    m_progress->setFormat(text);
    m_stage->clear();
}

void RunBar::showFailed()
{
    m_finishedText.clear();
    m_progress->setRange(0, 1);
    m_progress->setValue(0);
    m_progress->setFormat(tr("Failed"));
    m_stage->clear();
}

void RunBar::retranslate()
{
    m_start->setText(tr("Start"));
    m_pause->setText(m_pause->isChecked() ? tr("Resume") : tr("Pause"));
    m_stop->setText(tr("Stop"));
    if (!m_running && m_finishedText.isEmpty() && m_progress->value() == 0)
        m_progress->setFormat(tr("Idle"));
    setRunning(m_running);
}

} // namespace tunebench
