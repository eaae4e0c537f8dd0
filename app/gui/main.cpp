#include "widgets/MainWindow.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QTimer>

int main(int argc, char** argv)
{
    QApplication app(argc, argv);
    QApplication::setOrganizationName("Tunebench");
    QApplication::setApplicationName("Tunebench");
    QApplication::setApplicationVersion(TUNEBENCH_VERSION);

    QCommandLineParser parser;
    parser.setApplicationDescription("Parameter-efficient tuning workbench for CLIP and ViT models");
    parser.addHelpOption();
    parser.addVersionOption();
    parser.addPositionalArgument("checkpoint", "A checkpoint to open at start.");
    QCommandLineOption quitAfter("quit-after", "Quit after MS milliseconds (for smoke tests).", "ms");
    parser.addOption(quitAfter);
    parser.process(app);

    tunebench::MainWindow window;
    window.show();
    // The demo model and fashion-mnist by default, so that the first Start trains something.
    window.openDefaults(parser.positionalArguments().value(0));
    if (parser.isSet(quitAfter))
        QTimer::singleShot(parser.value(quitAfter).toInt(), &app, &QApplication::quit);
    return app.exec();
}
