#pragma once
// What the window tests share: widgets found by their object names, as a user finds them by their labels,
// a window with the tiny CLIP and the colour dataset open, and the bodies of their fixture slots.

#include "core/io/VocabularyLocator.h"
#include "tests/GuiFixtures.h"
#include "tests/ScopedEnvironment.h"
#include "widgets/setup/StrategyPanel.h"
#include "widgets/window/MainWindow.h"

#include <QCoreApplication>
#include <QDoubleSpinBox>
#include <QSettings>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTemporaryDir>
#include <QtTest>

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

// A window test's own folder, settings and fixtures. The test class derives from it after QObject and
// calls these from its initTestCase(), init() and cleanup() slots (the slots themselves must be its own
// for moc to see them).
class WindowTestCase
{
protected:
    // initTestCase(): the window's stored settings go to this test's own folder, never the user's.
    void setUpTestCase(const char* applicationName)
    {
        QVERIFY(m_dir.isValid());
        qputenv("XDG_CONFIG_HOME", (m_dir.path() + "/config").toUtf8());
        QCoreApplication::setOrganizationName("TunebenchTests");
        QCoreApplication::setApplicationName(applicationName);
        m_files = writeGuiFixtures(m_dir.path());
    }

    // init() and cleanup(): each test starts from no stored settings and the environment it found, and
    // leaves them so.
    void setUpTest()
    {
        QSettings().clear();
        m_environment = std::make_unique<ScopedEnvironment>();
    }
    void tearDownTest()
    {
        m_environment.reset();
        setVocabularySystemRoot("/");
        QSettings().clear();
    }

    std::unique_ptr<MainWindow> tinyWindow() { return test::tinyWindow(m_dir.path() + "/runs", m_files); }

    QTemporaryDir m_dir;
    GuiFixtureFiles m_files;
    std::unique_ptr<ScopedEnvironment> m_environment;
};

} // namespace tunebench::test
