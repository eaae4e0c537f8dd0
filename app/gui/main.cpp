#include "core/Device.h"
#include "core/Version.h"
#include "widgets/window/MainWindow.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QTimer>

#include <cstdio>

int main(int argc, char** argv)
{
    QApplication app(argc, argv);
    QApplication::setOrganizationName("Tunebench");
    QApplication::setApplicationName("Tunebench");
    QApplication::setApplicationVersion(tunebench::tunebenchVersion());

    QCommandLineParser parser;
    parser.setApplicationDescription("Parameter-efficient tuning workbench for CLIP and ViT models");
    parser.addHelpOption();
    parser.addVersionOption();
    parser.addPositionalArgument("checkpoint", "A checkpoint to open at start.");
    QCommandLineOption quitAfter("quit-after", "Quit after MS milliseconds (for smoke tests).", "ms");
    parser.addOption(quitAfter);
    QCommandLineOption threads("threads", "CPU threads for LibTorch (default: $TUNEBENCH_THREADS, else all cores).", "n", "0");
    parser.addOption(threads);
    parser.process(app);
    bool threadsValid = false;
    const int threadCount = parser.value(threads).toInt(&threadsValid);
    if (!threadsValid || threadCount < 0) {
        std::fprintf(stderr, "tunebench: --threads must be a whole number >= 0, got '%s'\n", qPrintable(parser.value(threads)));
        return 2;
    }
    // As the CLI does: the window's device line shows the count in use.
    try {
        tunebench::configureThreads(threadCount);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "tunebench: %s\n", e.what());
        return 2;
    }

    tunebench::MainWindow window;
    window.show();
    // The demo model and fashion-mnist by default, so that the first Start trains something.
    window.openDefaults(parser.positionalArguments().value(0));
    if (parser.isSet(quitAfter))
        QTimer::singleShot(parser.value(quitAfter).toInt(), &app, &QApplication::quit);
    return app.exec();
}
