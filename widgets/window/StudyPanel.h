#pragma once
// The base of the tabs that run a study as a job of the window's JobHost (continual learning, domain
// adaptation). It holds what they share: the methods to run (check boxes, from the list a tab gives) and
// the seeds, Start and Stop and why Start cannot run now, the progress bar and status line that follow the
// tab's jobs, and what the tab follows of the window (model, dataset, runs folder, device). A tab adds its
// own fields and views and says what its job runs.

#include "widgets/window/JobHost.h"
#include "widgets/window/WorkbenchTab.h"

#include <QList>
#include <QString>
#include <QStringList>
#include <QWidget>

#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

class QCheckBox;
class QGridLayout;
class QHBoxLayout;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QSplitter;
class QTableWidget;

namespace tunebench {

struct StepReport;
struct StrategyInfo;

class StudyPanel : public WorkbenchTab
{
    Q_OBJECT

public:
    ~StudyPanel() override;

    void modelChanged(const LoadedModel& model) override;
    void datasetChanged(const QString& pathOrName, const QString& name) override;
    void runsRootChanged(const QString& folder) override;
    void deviceChanged(const QString& device) override;
    void retranslate() override;  // a tab's override sets its own texts, then calls this

    // Starts the study of the current settings as a job; false (with the reason in the status line) when
    // it cannot start now.
    bool start();
    void stop();             // after the current step; finished runs stay in their folders
    bool isRunning() const;  // this tab's study is the running job
    QString statusText() const;

Q_SIGNALS:
    void studyFinished(bool completed);  // every run done, or stopped / failed

protected:
    // `owner` names the tab's jobs on the JobHost and starts its widgets' object names (continualPanel,
    // continualStart, continualMethod_l2p, ...). `methods` are the strategies it offers, in this order, all
    // checked; `seeds` is the seeds field's first text.
    StudyPanel(JobHost* jobs, const QString& owner, const std::vector<std::string>& methods, const QString& seeds, QWidget* parent);

    // What a tab says and does.
    virtual QString settingsProblem() const = 0;  // why its own settings cannot run, model first ("" when they can)
    // Copies the form for the worker thread, clears the views and returns the job.
    virtual JobHost::Work prepareJob(const QList<int>& seeds) = 0;
    virtual QString finishedText() const = 0;   // the status line after a completed job
    virtual QString methodLabel(const StrategyInfo& info) const;  // a method's check box: its title
    virtual bool hasChosenRuns() const { return !chosenMethods().isEmpty(); }
    virtual void updateOwnControls(bool running) {}

    // One field of the form: its label, marked in the tab with QT_TR_NOOP (retranslate translates it in the
    // tab's context), and the widget, `columns` wide. The methods and the seeds are fields too.
    struct Field
    {
        const char* label;
        QWidget* widget;
        int columns = 1;
    };
    void addFormRow(std::initializer_list<Field> fields);  // the next row, left to right
    QWidget* methodsField() const { return m_methods; }
    QWidget* seedsField() const;
    void addToMethodRow(QWidget* widget);  // after the method check boxes (in their last row)
    void addButton(QPushButton* button);   // after Stop
    void setViews(QWidget* views);         // under the status line, taking the rest of the height
    QSplitter* makeSplitter(Qt::Orientation orientation, std::initializer_list<QWidget*> widgets);
    // Start's label, its tooltip while it can start, and why it cannot while this tab's job runs.
    void setStartTexts(const QString& label, const QString& toolTip, const QString& whileRunning);

    QString childName(const char* part) const { return m_owner + part; }
    QSpinBox* makeSpinBox(const char* name, int minimum, int maximum, int value);
    QTableWidget* makeSummaryTable(int columns);  // read-only, one row per method
    static void showRows(QTableWidget* table, const QList<QStringList>& rows);
    // A training step as the progress line: `where` (method, seed, task), epoch, step and ETA.
    static QString stepLine(const QString& where, const StepReport& report);

    QStringList chosenMethods() const;
    void setChosenMethods(const QStringList& methods);  // checks these, unchecks the others
    // The first refusal of the open model for one of `methods` ("" when it runs them all, or no model is open).
    QString modelRefusal(const QStringList& methods) const;
    const LoadedModel& model() const { return m_model; }
    const QString& dataset() const { return m_dataset; }
    const QString& runsRoot() const { return m_runsRoot; }
    const QString& device() const { return m_device; }
    void setStatus(const QString& text);
    void updateControls();

private:
    QString whyCannotStart() const;
    void onJobEnd(bool completed, const QString& failure);

    JobHost* m_jobs = nullptr;
    QString m_owner;
    QGridLayout* m_form = nullptr;
    int m_formRows = 0;
    std::vector<std::pair<QLabel*, const char*>> m_labels;  // the form's labels and their source texts
    std::vector<QWidget*> m_fields;                          // disabled while the job runs
    QWidget* m_methods = nullptr;
    QHBoxLayout* m_methodRow = nullptr;
    std::vector<std::pair<QString, QCheckBox*>> m_methodBoxes;
    QLineEdit* m_seeds = nullptr;
    QHBoxLayout* m_buttons = nullptr;
    QPushButton* m_start = nullptr;
    QPushButton* m_stop = nullptr;
    QProgressBar* m_progress = nullptr;
    QLabel* m_status = nullptr;
    QString m_startToolTip, m_runningText;
    // The refusal Start last wrote in the status line and its reason: it goes once the reason does.
    QString m_refusal, m_refusalReason;

    LoadedModel m_model;
    QString m_dataset, m_runsRoot;
    QString m_device = QStringLiteral("auto");
};

} // namespace tunebench
