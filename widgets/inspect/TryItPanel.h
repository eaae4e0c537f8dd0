#pragma once

#include "core/experiment/TunedClassifier.h"
#include "widgets/results/RunResults.h"
#include "widgets/window/WorkbenchTab.h"

#include <QElapsedTimer>
#include <QImage>
#include <QString>
#include <QStringList>

#include <atomic>
#include <memory>
#include <optional>

class QCheckBox;
class QLabel;
class QProgressBar;
class QPushButton;
class QTableWidget;

namespace tunebench {

class BackgroundTasks;

// "Try it": the user's own image through a finished run's tuned model. It follows the run selected in the
// Results table (a run opened from the history is selected there too) and shows the image as the model saw
// it (resized and centre-cropped), the tuned model's top 5 with probabilities and, for a CLIP prompt learner,
// the hand-crafted prompt's top 5 beside them; "Where it looks" overlays the image tower's attention as a
// heat map, naming how it was computed. A folder (or several images dropped together) is listed with each
// image's best class, scored as predict --folder scores it, with progress and Cancel; clicking a row shows
// that image as above, and the list saves as predict's CSV. The run's model is opened once (kept until
// another run or device is chosen) and the images classified on background tasks; problems are one line in
// the panel, and an unreadable image of a list is marked in its row.
class TryItPanel : public WorkbenchTab
{
    Q_OBJECT

public:
    explicit TryItPanel(BackgroundTasks* tasks, QWidget* parent = nullptr);
    ~TryItPanel() override;

    // The run to try images with (the Results table's selection); null: none. Classifies the current image
    // again with the new run.
    void setRun(const RunResults* run);
    QString runFolder() const { return m_runFolder; }
    // Classifies `path` in the background: classified or failed follows.
    void classifyImage(const QString& path);
    // Classifies every image file in `folder` (imageFilesInFolder), or the files `paths`, in the background and
    // lists them: listClassified or failed follows (also when cancelled). The first readable image is then
    // shown as classifyImage shows it.
    void classifyFolder(const QString& folder);
    void classifyFiles(const QStringList& paths);
    void cancelList();
    // Writes the list's predictions as predict --csv does; false (and the error shown) when it cannot.
    bool saveListCsv(const QString& path);

    // What is shown, for tests and the screenshot.
    const std::optional<ImageTrial>& trial() const { return m_trial; }
    QString errorText() const;
    QImage overlayImage() const { return m_overlay; }  // the heat map over the cropped image; null when none
    std::shared_ptr<const ImagePredictions> listPredictions() const { return m_list; }
    QStringList listPaths() const { return m_listPaths; }
    bool listBusy() const { return m_listBusy; }

    QString tabTitle() const override;
    void retranslate() override;
    void deviceChanged(const QString& device) override;

Q_SIGNALS:
    void classified();
    void listClassified();
    void failed(const QString& message);

protected:
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;

private:
    void openImage();
    void openFolder();
    void saveList();
    void startList(const QStringList& paths, const QString& title);
    void showListProgress(const QString& step, qint64 done, qint64 total);
    void showList(std::shared_ptr<const ImagePredictions> predictions);
    void abandonList();  // stops the list's scoring and drops its result; the rows stay
    void clearList();
    void resetListRows();  // the list's images, without classes
    void showTrial(const ImageTrial& trial);
    void showError(const QString& message);
    void showImage();  // the cropped image, with the heat map when "Where it looks" is on
    void updateControls();

    BackgroundTasks* m_tasks = nullptr;
    QLabel* m_runLabel = nullptr;
    QPushButton* m_open = nullptr;
    QPushButton* m_openFolder = nullptr;
    QPushButton* m_cancelList = nullptr;
    QPushButton* m_saveList = nullptr;
    QProgressBar* m_listProgress = nullptr;
    QLabel* m_listStatus = nullptr;  // the list's progress or summary
    QTableWidget* m_listTable = nullptr;
    QWidget* m_listBox = nullptr;  // the list with its controls, shown once there is a list
    QCheckBox* m_whereItLooks = nullptr;
    QLabel* m_status = nullptr;       // what is happening, or the one-line error
    QLabel* m_image = nullptr;
    QLabel* m_attentionMethod = nullptr;
    QLabel* m_tunedTitle = nullptr;
    QTableWidget* m_tuned = nullptr;
    QLabel* m_handcraftedTitle = nullptr;
    QTableWidget* m_handcrafted = nullptr;
    QLabel* m_handcraftedNote = nullptr;  // why there is no hand-crafted column

    QString m_runFolder, m_runId, m_methodTitle;
    QString m_device = "auto";
    QString m_imagePath;
    QString m_error;
    bool m_busy = false;
    std::shared_ptr<TunedClassifier> m_model;  // the open run's model, reused for each image
    std::optional<ImageTrial> m_trial;
    QImage m_base, m_overlay;
    int m_request = 0;  // the latest classification: older answers are dropped

    // The list of images (a folder, or files dropped together).
    QStringList m_listPaths;
    QString m_listTitle;
    std::shared_ptr<const ImagePredictions> m_list;
    bool m_listBusy = false;
    std::shared_ptr<std::atomic<bool>> m_listCancel;
    QElapsedTimer m_listClock;
    int m_listRequest = 0;
};

} // namespace tunebench
