#pragma once

#include <QApplication>

#include <memory>

namespace tunebench {

// While alive, guarantees a QApplication for drawing plots into files: the process's own, or (in a
// headless process such as the CLI) an offscreen one that never opens a window and keeps the platform's
// start-up notes (no XDG_RUNTIME_DIR, ...) off the user's terminal.
class HeadlessApplication
{
public:
    HeadlessApplication()
    {
        if (QApplication::instance())
            return;
        static int argc = 1;
        static char name[] = "tunebench-cli";
        static char* argv[] = {name, nullptr};
        qputenv("QT_QPA_PLATFORM", "offscreen");
        m_previousHandler = qInstallMessageHandler([](QtMsgType, const QMessageLogContext&, const QString&) {});
        m_application = std::make_unique<QApplication>(argc, argv);
    }
    ~HeadlessApplication()
    {
        if (m_application) {
            m_application.reset();
            qInstallMessageHandler(m_previousHandler);
        }
    }
    HeadlessApplication(const HeadlessApplication&) = delete;
    HeadlessApplication& operator=(const HeadlessApplication&) = delete;

private:
    std::unique_ptr<QApplication> m_application;
    QtMessageHandler m_previousHandler = nullptr;
};

} // namespace tunebench
