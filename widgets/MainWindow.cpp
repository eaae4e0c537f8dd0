#include "widgets/MainWindow.h"

#include "core/io/CheckpointLoader.h"

#include <QAction>
#include <QCloseEvent>
#include <QDragEnterEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QLabel>
#include <QMenu>
#include <QMenuBar>
#include <QMimeData>
#include <QPlainTextEdit>
#include <QPointer>
#include <QSettings>
#include <QStatusBar>
#include <QThread>
#include <QVBoxLayout>

#include <nlohmann/json.hpp>

namespace tunebench {

namespace {
constexpr int kMaxRecent = 8;
}

MainWindow::MainWindow(QWidget* parent)
    : QMainWindow(parent)
{
    setWindowTitle(tr("Tunebench"));
    setAcceptDrops(true);

    auto* central = new QWidget(this);
    auto* layout = new QVBoxLayout(central);
    m_status = new QLabel(tr("Open a checkpoint (File > Open, or drop it here) to begin."), central);
    m_summary = new QPlainTextEdit(central);
    m_summary->setReadOnly(true);
    m_summary->setPlaceholderText(tr("Model summary"));
    layout->addWidget(m_status);
    layout->addWidget(m_summary);
    setCentralWidget(central);

    QMenu* file = menuBar()->addMenu(tr("&File"));
    QAction* open = file->addAction(tr("&Open checkpoint..."), this, &MainWindow::chooseCheckpoint);
    open->setShortcut(QKeySequence::Open);
    m_recentMenu = file->addMenu(tr("Open &recent"));
    file->addSeparator();
    file->addAction(tr("&Quit"), this, &QWidget::close)->setShortcut(QKeySequence::Quit);
    rebuildRecentMenu();

    connect(this, &MainWindow::modelLoaded, this, &MainWindow::showLoaded);
    connect(this, &MainWindow::loadFailed, this, &MainWindow::showFailure);

    QSettings settings;
    restoreGeometry(settings.value("window/geometry").toByteArray());
    if (!settings.contains("window/geometry"))
        resize(900, 600);
    statusBar()->showMessage(tr("Ready"));
}

void MainWindow::chooseCheckpoint()
{
    const QString path = QFileDialog::getOpenFileName(this, tr("Open checkpoint"), QString(),
                                                      tr("Checkpoints (*.pt *.safetensors config.json);;All files (*)"));
    if (path.isEmpty())
        return;
    // A Hugging Face model is a folder: picking its config.json means the folder.
    openCheckpoint(QFileInfo(path).fileName() == "config.json" ? QFileInfo(path).absolutePath() : path);
}

void MainWindow::openCheckpoint(const QString& path)
{
    m_status->setText(tr("Loading %1 ...").arg(path));
    QPointer<MainWindow> self(this);
    QThread* worker = QThread::create([self, path] {
        QString summary, failure;
        try {
            const Checkpoint checkpoint = readCheckpoint(path.toStdString());
            buildModel(checkpoint);
            summary = QString::fromStdString(checkpoint.spec.summary().dump(2));
        } catch (const std::exception& e) {
            failure = QString::fromStdString(e.what()).section('\n', 0, 0);
        }
        if (!self)
            return;
        if (failure.isEmpty())
            Q_EMIT self->modelLoaded(summary);
        else
            Q_EMIT self->loadFailed(failure);
    });
    connect(worker, &QThread::finished, worker, &QObject::deleteLater);
    worker->start();
    rememberRecent(path);
}

QString MainWindow::summaryText() const
{
    return m_summary->toPlainText();
}

void MainWindow::showLoaded(const QString& summaryJson)
{
    m_summary->setPlainText(summaryJson);
    const auto summary = nlohmann::json::parse(summaryJson.toStdString());
    m_status->setText(tr("Loaded %1: %2, %3 parameters")
                          .arg(QString::fromStdString(summary.value("name", "")))
                          .arg(QString::fromStdString(summary.value("family", "")))
                          .arg(summary.value("parameters", 0LL)));
}

void MainWindow::showFailure(const QString& message)
{
    m_status->setText(tr("Could not load: %1").arg(message));
    statusBar()->showMessage(tr("Loading failed"), 5000);
}

void MainWindow::rememberRecent(const QString& path)
{
    QSettings settings;
    QStringList recent = settings.value("recentCheckpoints").toStringList();
    recent.removeAll(path);
    recent.prepend(path);
    while (recent.size() > kMaxRecent)
        recent.removeLast();
    settings.setValue("recentCheckpoints", recent);
    rebuildRecentMenu();
}

void MainWindow::rebuildRecentMenu()
{
    m_recentMenu->clear();
    const QStringList recent = QSettings().value("recentCheckpoints").toStringList();
    for (const QString& path : recent)
        m_recentMenu->addAction(path, this, [this, path] { openCheckpoint(path); });
    m_recentMenu->setEnabled(!recent.isEmpty());
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event)
{
    if (event->mimeData()->hasUrls())
        event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* event)
{
    const auto urls = event->mimeData()->urls();
    if (!urls.isEmpty() && urls.first().isLocalFile())
        openCheckpoint(urls.first().toLocalFile());
}

void MainWindow::closeEvent(QCloseEvent* event)
{
    QSettings().setValue("window/geometry", saveGeometry());
    QMainWindow::closeEvent(event);
}

} // namespace tunebench
