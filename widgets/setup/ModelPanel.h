#pragma once

#include "core/DeviceInfo.h"
#include "core/model/ModelSpec.h"

#include <QGroupBox>
#include <QString>

class QComboBox;
class QLabel;
class QPlainTextEdit;
class QPushButton;

namespace tunebench {

class BackgroundTasks;

// The loaded checkpoint: its summary (family, towers, resolution, parameters, hash), the vocabulary it
// uses, and the compute device: a selector (each GPU, the CPU) above a line with LibTorch's version and
// whether CUDA is compiled in. Opening reads the checkpoint off the GUI thread into the shared cache.
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
    // The probed devices and build facts; selects `preferred` ("cpu", "cuda:N"), else (also when that
    // device is gone) the first GPU, else the CPU.
    void setBuildInfo(const tunebench::BuildInfo& build, const QString& preferred);
    void setDeviceProblem(const QString& message);  // the probe failed: runs keep "auto"
    bool hasBuildInfo() const { return m_hasBuild; }
    const tunebench::BuildInfo& buildInfo() const { return m_build; }
    QString selectedDevice() const;  // "cpu" or "cuda:N"; "auto" until the devices are known
    // In the interface language: "CPU (16 threads)", "GPU 0: NVIDIA H100 (79.2 GiB)"; "CUDA: compiled ...".
    static QString deviceText(const tunebench::DeviceInfo& device);
    static QString cudaText(const tunebench::BuildInfo& build);
    void setRunning(bool running);
    void retranslate();

Q_SIGNALS:
    void loadingStarted(const QString& path);
    void loaded(const QString& summaryJson);
    void failed(const QString& message);
    void deviceChosen(const QString& id);  // by the user, in the selector

private:
    void showDevices(const QString& selected);  // refills the selector and the device line

    void showLoaded(const tunebench::ModelSpec& spec, const QString& vocabulary, const QString& vocabProblem);

    BackgroundTasks* m_tasks = nullptr;
    QLabel* m_title = nullptr;
    QPlainTextEdit* m_summary = nullptr;
    QLabel* m_vocabLabel = nullptr;
    QLabel* m_deviceTitle = nullptr;
    QComboBox* m_deviceSelector = nullptr;
    QLabel* m_deviceLabel = nullptr;  // the build facts
    QPushButton* m_openButton = nullptr;
    QPushButton* m_vocabButton = nullptr;

    QString m_path, m_vocabulary, m_problem, m_summaryJson, m_foundVocabulary;
    tunebench::BuildInfo m_build;
    bool m_hasBuild = false;
    QString m_deviceProblem;
    tunebench::ModelSpec m_spec;
    bool m_loading = false;
    bool m_running = false;
};

} // namespace tunebench
