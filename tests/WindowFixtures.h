#pragma once
// What the window tests share: widgets found by their object names, as a user finds them by their labels,
// and a window with the tiny CLIP and the colour dataset open.

#include "tests/GuiFixtures.h"
#include "widgets/setup/StrategyPanel.h"
#include "widgets/window/MainWindow.h"

#include <QDoubleSpinBox>
#include <QSignalSpy>
#include <QSpinBox>

#include <memory>

namespace tunebench::test {

template <typename T>
T* child(QObject& window, const char* name)
{
    T* found = window.findChild<T*>(name);
    if (!found)
        qFatal("the window has no %s named '%s'", T::staticMetaObject.className(), name);
    return found;
}
template <typename T>
T* child(const std::unique_ptr<MainWindow>& window, const char* name)
{
    return child<T>(*window, name);
}

// The training overrides of the strategy panel (0 = the recipe's).
template <typename W>
void setTraining(W& window, int epochs, double lr, int batchSize)
{
    child<QSpinBox>(window, "epochs")->setValue(epochs);
    child<QDoubleSpinBox>(window, "learningRate")->setValue(lr);
    child<QSpinBox>(window, "batchSize")->setValue(batchSize);
}

// A window with the tiny CLIP and the colour dataset open and a short CoOp run configured, its runs under
// `runsRoot`; null when loading failed.
inline std::unique_ptr<MainWindow> tinyWindow(const QString& runsRoot, const GuiFixtureFiles& files)
{
    auto window = std::make_unique<MainWindow>();
    window->setRunsRoot(runsRoot);
    window->show();
    QSignalSpy loaded(window.get(), &MainWindow::modelLoaded);
    QSignalSpy datasetLoaded(window.get(), &MainWindow::datasetLoaded);
    window->setVocabulary(files.vocabulary);
    window->openCheckpoint(files.clipFolder);
    window->openDatasetPath(files.datasetFolder);
    if (!loaded.wait(30000) && loaded.isEmpty())
        return nullptr;
    if (datasetLoaded.isEmpty() && !datasetLoaded.wait(30000))
        return nullptr;
    auto* strategy = child<StrategyPanel>(window, "strategyPanel");
    if (!strategy->selectStrategy("coop") || !strategy->setOption("n_ctx", 4))
        return nullptr;
    child<QSpinBox>(window, "shots")->setValue(2);
    setTraining(window, 2, 0, 2);
    child<QSpinBox>(window, "testImages")->setValue(0);
    return window;
}

} // namespace tunebench::test
