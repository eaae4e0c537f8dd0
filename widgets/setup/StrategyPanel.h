#pragma once

#include "core/model/ModelSpec.h"

#include "core/experiment/RunSettings.h"

#include <QGroupBox>
#include <QHash>
#include <QStringList>

class QComboBox;
class QDoubleSpinBox;
class QFormLayout;
class QLabel;
class QSpinBox;
class QTimer;

namespace tunebench {

class BackgroundTasks;
class ParamForm;

// The strategy list (grouped, methods the loaded model cannot run disabled), the chosen strategy's option
// form, its live trainable-parameter count and the training overrides (epochs, learning rate, ...).
class StrategyPanel : public QGroupBox
{
    Q_OBJECT

public:
    StrategyPanel(BackgroundTasks* tasks, QWidget* parent = nullptr);

    // What the count is for: the model (empty path: none loaded) and its spec, which also says which
    // strategies apply (the others are greyed out, with the reason as their tooltip); the classes.
    void setModel(const QString& modelPath, const QString& vocabularyPath, const tunebench::ModelSpec& spec, bool usable);
    void setClasses(const QStringList& classNames, int shots);
    void setDatasetCropScale(double cropScaleMin);  // shown where the crop override is left at 0
    // Selects a strategy by registry key; false when unknown or not available for the loaded model.
    bool selectStrategy(const QString& name);
    QString strategy() const;
    QString strategyTitle() const;
    // Sets an option of the current strategy's form; false when it has no such option or the value does not fit.
    bool setOption(const QString& name, const nlohmann::json& value);

    // The method, its options and the training overrides into `settings`, and back.
    void fillSettings(RunSettings& settings) const;
    void applySettings(const RunSettings& settings);
    // Each strategy's last options, by registry key (kept across strategy switches and sessions).
    nlohmann::json rememberedOptions() const;
    void setRememberedOptions(const nlohmann::json& optionsByStrategy);

    // Where a run would train: the memory estimate under the Training box compares with `bytes` (0: unknown).
    void setMemoryTarget(const QString& deviceText, qint64 bytes, bool gpu);
    QLabel* memoryLabel() const { return m_memoryLabel; }

    // The run's own count once it starts.
    void showParameterCount(qint64 count);
    qint64 parameterCount() const { return m_count; }  // -1 while unknown
    void setRunning(bool running);
    void retranslate();

Q_SIGNALS:
    void parameterCountChanged(qint64 count);  // -1: the options cannot be used with this model
    void strategyChanged(const QString& name);

private:
    void fillStrategyCombo();
    void rebuildForm();
    void updateTrainingOverrides();  // editable only for methods that train
    void showDescription();
    void scheduleCount();
    void count();
    void schedulePlan();
    void plan();  // the memory plan (core/tuning/MemoryPlan.h), off the GUI thread

    BackgroundTasks* m_tasks = nullptr;
    QComboBox* m_combo = nullptr;
    QLabel* m_description = nullptr;
    ParamForm* m_form = nullptr;
    QLabel* m_countLabel = nullptr;
    QLabel* m_memoryLabel = nullptr;
    QTimer* m_planTimer = nullptr;
    int m_planGeneration = 0;
    bool m_planInFlight = false;  // an estimate of the current generation is being computed
    QString m_memoryDevice;
    QString m_memoryEstimate;  // the last estimate shown
    qint64 m_memoryBytes = 0;
    bool m_memoryGpu = false;
    QGroupBox* m_overridesBox = nullptr;
    QFormLayout* m_overridesForm = nullptr;
    QSpinBox* m_epochs = nullptr;
    QDoubleSpinBox* m_lr = nullptr;
    QSpinBox* m_batch = nullptr;
    QSpinBox* m_maxSteps = nullptr;
    QSpinBox* m_accumulate = nullptr;
    QComboBox* m_checkpointing = nullptr;  // data: none, image, text, both
    QSpinBox* m_testImages = nullptr;
    QDoubleSpinBox* m_cropScale = nullptr;
    QTimer* m_countTimer = nullptr;

    QString m_formStrategy;               // whose options the form shows
    QHash<QString, nlohmann::json> m_optionsByStrategy;
    QString m_modelPath, m_vocabularyPath;
    tunebench::ModelSpec m_modelSpec;
    bool m_modelUsable = false;
    bool m_running = false;
    QStringList m_classNames;
    int m_shots = 16;
    double m_datasetCropScale = 0;
    qint64 m_count = -1;
    int m_countGeneration = 0;
};

} // namespace tunebench
