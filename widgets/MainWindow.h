#pragma once

#include <QMainWindow>

class QLabel;
class QPlainTextEdit;

namespace tunebench {

// The workbench window. For now: open a checkpoint (dialog, drag and drop or the recent list) and
// see what was loaded; loading runs off the GUI thread.
class MainWindow : public QMainWindow
{
    Q_OBJECT

public:
    explicit MainWindow(QWidget* parent = nullptr);

    // Starts loading `path` in a worker thread; modelLoaded or loadFailed follow.
    void openCheckpoint(const QString& path);
    QString summaryText() const;

Q_SIGNALS:
    void modelLoaded(const QString& summaryJson);
    void loadFailed(const QString& message);

protected:
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;
    void closeEvent(QCloseEvent* event) override;

private:
    void chooseCheckpoint();
    void showLoaded(const QString& summaryJson);
    void showFailure(const QString& message);
    void rememberRecent(const QString& path);
    void rebuildRecentMenu();

    QLabel* m_status = nullptr;
    QPlainTextEdit* m_summary = nullptr;
    class QMenu* m_recentMenu = nullptr;
};

} // namespace tunebench
