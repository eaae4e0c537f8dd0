#pragma once
// A tab of the window's result area. The window keeps its tabs in one list and tells each what changed
// (the model, the dataset, the runs folder, the device, the language, a finished run); a tab overrides what
// it follows. Adding a tab is its class and one line in MainWindow. Long work goes to the JobHost, so a tab
// has nothing of its own to abort when the window closes.

#include "core/model/ModelSpec.h"
#include "widgets/results/RunResults.h"

#include <QString>
#include <QWidget>

namespace tunebench {

// The loaded model, as the tabs need it.
struct LoadedModel
{
    QString path;         // empty: none
    QString vocabulary;
    ModelSpec spec;
    bool usable = false;  // its vocabulary was found: methods with prompts can run
};

class WorkbenchTab : public QWidget
{
    Q_OBJECT

public:
    using QWidget::QWidget;

    virtual QString tabTitle() const = 0;  // in the current language
    virtual void retranslate() = 0;
    virtual void modelChanged(const LoadedModel& model) {}
    virtual void datasetChanged(const QString& pathOrName, const QString& name) {}
    virtual void runsRootChanged(const QString& folder) {}
    virtual void deviceChanged(const QString& device) {}  // "auto", "cpu", "cuda:N": for jobs started from now on
    virtual void runFinished(const RunResults& results) {}
};

} // namespace tunebench
