#pragma once

#include "core/experiment/RunMistakes.h"
#include "widgets/results/RunResults.h"
#include "widgets/window/WorkbenchTab.h"

#include <QString>

#include <atomic>
#include <memory>
#include <optional>
#include <vector>

class QComboBox;
class QLabel;
class QListWidget;
class QProgressBar;
class QPushButton;
class QTableWidget;

namespace tunebench {

class BackgroundTasks;

// "Mistakes": the misclassified test images of the run selected in the Results table, as thumbnails with
// their true class, predicted class and confidence; filtered by true and predicted class (a cell of the
// confusion matrix sets both) and sorted by confidence either way. The test images are the run's own, or
// those of a target it scored (a domain-generalisation dataset; DAPL's target domain, whose prompts its
// export holds). Clicking one shows it larger with the
// tuned model's top 5 and, for a CLIP method that learns from images, the hand-crafted prompt's top 5 (what
// "Try it" computes). Finding them scores the run's test images again (RunMistakes) on a background task,
// with progress and a Cancel button; the run's image-tower cache spares the encoding where the method keeps
// the image tower frozen. Problems are one line in the panel.
class MistakesPanel : public WorkbenchTab
{
    Q_OBJECT

public:
    enum class Order { MostConfidentFirst, LeastConfidentFirst };

    explicit MistakesPanel(BackgroundTasks* tasks, QWidget* parent = nullptr);
    ~MistakesPanel() override;

    // The run whose mistakes to show (the Results table's selection); null: none. A new run's mistakes are
    // found when the panel is visible (or on findMistakes()).
    void setRun(const RunResults* run);
    QString runFolder() const { return m_runFolder; }
    // Finds the run's mistakes in the background: mistakesFound, or failed (also when cancelled).
    void findMistakes();
    void cancel();
    // Only the images of true class `trueLabel` predicted as `predictedLabel` (labels in the run's order,
    // -1 for any).
    void setFilter(int trueLabel, int predictedLabel);
    // A cell of the confusion matrix: its images, found first if need be.
    void showConfusionCell(int trueLabel, int predictedLabel);
    void setOrder(Order order);
    // Shows mistake `index` (of mistakes()->mistakes) larger with its scores: detailShown or failed follows.
    void openMistake(int index);

    // What is shown, for tests and the screenshot.
    std::shared_ptr<const RunMistakes> mistakes() const { return m_found; }
    std::vector<int> shownMistakes() const { return m_shown; }  // indices into mistakes()->mistakes, in display order
    const std::optional<ImageTrial>& detail() const { return m_detail; }
    int detailIndex() const { return m_detailIndex; }
    bool busy() const { return m_busy; }
    QString errorText() const { return m_error; }

    QString tabTitle() const override;
    void retranslate() override;
    void deviceChanged(const QString& device) override;

Q_SIGNALS:
    void mistakesFound();
    void detailShown();
    void failed(const QString& message);

protected:
    void showEvent(QShowEvent* event) override;

private:
    void showMistakes(std::shared_ptr<const RunMistakes> found);
    void showProgress(const QString& step, qint64 done, qint64 total);
    void showError(const QString& message);
    void showDetail(int index, const ImageTrial& trial);
    void clearDetail();
    void fillClassFilters(const QStringList& classNames);
    // The chooser's test sets (RunMistakes::testSets, known once a search has read the run), `current` chosen.
    void fillTestSets(const std::vector<std::string>& names, const QString& current = {});
    void applyFilter();  // fills the thumbnails from m_found, the filters and the order
    void updateControls();

    BackgroundTasks* m_tasks = nullptr;
    QLabel* m_runLabel = nullptr;
    QLabel* m_testSetLabel = nullptr;
    QComboBox* m_testSet = nullptr;  // the run's test images, or a target's (runMistakeTestSets)
    std::vector<std::string> m_testSetNames;
    QComboBox* m_trueClass = nullptr;
    QComboBox* m_predictedClass = nullptr;
    QComboBox* m_order = nullptr;
    QLabel* m_trueLabel = nullptr;
    QLabel* m_predictedLabel = nullptr;
    QLabel* m_orderLabel = nullptr;
    QPushButton* m_find = nullptr;
    QPushButton* m_cancel = nullptr;
    QProgressBar* m_progress = nullptr;
    QLabel* m_status = nullptr;  // what is happening, the summary, or the one-line error
    QListWidget* m_thumbnails = nullptr;
    QLabel* m_detailImage = nullptr;
    QLabel* m_detailCaption = nullptr;
    QLabel* m_tunedTitle = nullptr;
    QTableWidget* m_tuned = nullptr;
    QLabel* m_handcraftedTitle = nullptr;
    QTableWidget* m_handcrafted = nullptr;
    QLabel* m_handcraftedNote = nullptr;

    QString m_runFolder, m_runId, m_methodTitle, m_runDataset;
    QStringList m_classNames;
    QString m_device = "auto";
    QString m_error, m_progressText;
    bool m_busy = false;
    bool m_cancelled = false;
    std::shared_ptr<std::atomic<bool>> m_cancelRequest;
    std::shared_ptr<TunedClassifier> m_classifier;  // the run's model, kept for the detail view
    std::shared_ptr<const RunMistakes> m_found;
    std::vector<int> m_shown;
    std::optional<ImageTrial> m_detail;
    int m_detailIndex = -1;
    int m_request = 0;        // the latest search: older answers are dropped
    int m_detailRequest = 0;  // the latest detail
};

} // namespace tunebench
