#pragma once

#include "widgets/results/RunResults.h"

#include <QWidget>

class QLabel;
class QProgressBar;
class QPushButton;

namespace tunebench {

// Start, Pause and Stop, the progress bar (epoch, step, speed, ETA), the run's stage and, on CUDA, the
// device memory in use.
class RunBar : public QWidget
{
    Q_OBJECT

public:
    explicit RunBar(QWidget* parent = nullptr);

    // Whether Start can be pressed, and if not, why (its tooltip).
    void setStartable(bool startable, const QString& why);
    void setRunning(bool running);
    void showStarting();
    void showProgress(const RunProgress& progress);
    void showStage(const QString& stage);
    void showStopping();
    void showPaused(bool paused);
    void showFinished(const QString& text);
    void showFailed();
    void retranslate();

Q_SIGNALS:
    void startClicked();
    void pauseToggled(bool paused);
    void stopClicked();

private:
    QPushButton* m_start = nullptr;
    QPushButton* m_pause = nullptr;
    QPushButton* m_stop = nullptr;
    QProgressBar* m_progress = nullptr;
    QLabel* m_stage = nullptr;
    QLabel* m_memory = nullptr;  // hidden on the CPU
    bool m_running = false;
    QString m_finishedText;      // kept across language switches
};

} // namespace tunebench
