#pragma once

#include "core/model/ModelSpec.h"

#include <QGroupBox>
#include <QString>

class QLabel;
class QPlainTextEdit;
class QPushButton;

namespace tunebench {

class BackgroundTasks;

// The loaded checkpoint: its summary (family, towers, resolution, parameters, hash), the vocabulary it
// uses and the compute device. Opening reads the checkpoint off the GUI thread into the shared cache.
class ModelPanel : public QGroupBox
{
    Q_OBJECT

public:
    ModelPanel(BackgroundTasks* tasks, QWidget* parent = nullptr);

    // Starts loading `path` (a checkpoint file or a Hugging Face folder); loaded or failed follow.
    void open(const QString& path);
    // Uses this vocabulary from now on (empty: search beside the checkpoint); reopens the model.
    void setVocabulary(const QString& path);
    // File dialogs (the panel's buttons and the File menu).
    void chooseCheckpoint();
    void chooseVocabulary();

    QString modelPath() const { return m_path; }          // empty until a model has loaded
    QString vocabularyPath() const { return m_vocabulary; }
    QString problem() const { return m_problem; }          // why runs cannot use it (a missing vocabulary)
    bool hasTextTower() const { return m_spec.text.has_value(); }
    const tunebench::ModelSpec& spec() const { return m_spec; }  // of the loaded model
    bool isLoading() const { return m_loading; }
    void setDeviceLine(const QString& line);
    void setRunning(bool running);
    void retranslate();

Q_SIGNALS:
    void loadingStarted(const QString& path);
    void loaded(const QString& summaryJson);
    void failed(const QString& message);

private:
    void showLoaded(const tunebench::ModelSpec& spec, const QString& vocabulary, const QString& vocabProblem);

    BackgroundTasks* m_tasks = nullptr;
    QLabel* m_title = nullptr;
    QPlainTextEdit* m_summary = nullptr;
    QLabel* m_vocabLabel = nullptr;
    QLabel* m_deviceLabel = nullptr;
    QPushButton* m_openButton = nullptr;
    QPushButton* m_vocabButton = nullptr;

    QString m_path, m_vocabulary, m_problem, m_summaryJson, m_foundVocabulary;
    QString m_device;  // the probed device, once known
    tunebench::ModelSpec m_spec;
    bool m_loading = false;
    bool m_running = false;
};

} // namespace tunebench
