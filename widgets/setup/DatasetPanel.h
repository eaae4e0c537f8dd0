#pragma once

#include "core/experiment/RunSettings.h"

#include <QGroupBox>
#include <QStringList>
#include <QVector>

class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QListWidget;
class QPushButton;
class QSpinBox;
class QTreeWidget;

namespace tunebench {

class BackgroundTasks;

// The dataset: its path, the few-shot sampling (shots, seed, base-to-new), the datasets a run is also
// scored on, the classes with their image counts and split, and the problems found in it.
class DatasetPanel : public QGroupBox
{
    Q_OBJECT

public:
    DatasetPanel(BackgroundTasks* tasks, QWidget* parent = nullptr);

    // A dataset folder or a built-in name such as "fashion-mnist"; loaded or failed follow.
    void open(const QString& pathOrName);
    void chooseFolder();

    QString datasetPath() const { return m_path; }  // empty until a dataset has opened
    QStringList classNames() const { return m_classNames; }
    QStringList problems() const { return m_problems; }
    bool isLoading() const { return m_loading; }
    double recipeCropScale() const { return m_cropScale; }  // the dataset's random-resized-crop minimum
    int shots() const;
    // The dataset, sampling and evaluation targets into `settings`, and back.
    void fillSettings(RunSettings& settings) const;
    void applySettings(const RunSettings& settings);
    // The dataset's own problems, then those of the last run (images it skipped).
    void showRunProblems(const QStringList& runProblems);
    void setRunning(bool running);
    // Base-to-new needs a CLIP model's text tower and a method that uses it. Where it cannot apply, the box
    // is unticked and greyed out with `why` as its tooltip; the user's choice comes back when it applies.
    void setBaseNewApplies(bool applies, const QString& why = {});
    void retranslate();

Q_SIGNALS:
    void loadingStarted(const QString& pathOrName);
    void loaded(const QString& name, int trainImages, int testImages);
    void failed(const QString& message);
    void samplingChanged();  // shots or the base-to-new split

private:
    void showDataset(const QString& name, const QStringList& classes, const QVector<qint64>& trainCounts,
                     const QVector<qint64>& testCounts, const QStringList& problems);
    void showProblems(const QStringList& problems);
    void fillClassTree();
    QString baseNewToolTip() const;

    BackgroundTasks* m_tasks = nullptr;
    QComboBox* m_combo = nullptr;
    QPushButton* m_folderButton = nullptr;
    QSpinBox* m_shots = nullptr;
    QSpinBox* m_seed = nullptr;
    QCheckBox* m_baseNew = nullptr;
    QLabel* m_shotsLabel = nullptr;
    QLabel* m_seedLabel = nullptr;
    QLabel* m_evalLabel = nullptr;
    QLineEdit* m_evalDatasets = nullptr;
    QTreeWidget* m_classTree = nullptr;
    QLabel* m_problemsLabel = nullptr;
    QListWidget* m_problemList = nullptr;

    QString m_path;
    QStringList m_classNames, m_problems;
    QVector<qint64> m_trainCounts, m_testCounts;
    double m_cropScale = 0;
    bool m_problemsShown = false;  // false until a dataset has been checked
    bool m_loading = false;
    bool m_running = false;
    bool m_baseNewApplies = true;
    bool m_baseNewChoice = true;
    QString m_baseNewWhy;
};

} // namespace tunebench
