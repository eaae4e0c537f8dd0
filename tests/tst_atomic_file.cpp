// The one file writer: whole or not at all, at each step where a write can fail.
#include "core/Error.h"
#include "core/io/AtomicFile.h"

#include <QtTest>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

using namespace tunebench;
namespace fs = std::filesystem;

namespace {

std::string contentOf(const fs::path& path)
{
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

int entriesIn(const fs::path& folder)
{
    int count = 0;
    for ([[maybe_unused]] const auto& entry : fs::directory_iterator(folder))
        ++count;
    return count;
}

} // namespace

class TestAtomicFile : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void cleanup() { setAtomicWriteFaultForTesting({}); }

    void writesAndReplaces()
    {
        QTemporaryDir dir;
        const fs::path path = fs::path(dir.path().toStdString()) / "a.json";
        writeFileAtomically(path.string(), "first");
        QCOMPARE(contentOf(path), std::string("first"));
        writeFileAtomically(path.string(), std::string("second\0with a zero", 18));
        QCOMPARE(contentOf(path), std::string("second\0with a zero", 18));
        QCOMPARE(entriesIn(dir.path().toStdString()), 1);  // no temporary left behind
    }

    void failureAtEachStepKeepsTheOldContent_data()
    {
        QTest::addColumn<int>("step");
        QTest::addColumn<bool>("replaced");
        QTest::newRow("write") << int(AtomicWriteStep::Write) << false;
        QTest::newRow("sync") << int(AtomicWriteStep::Sync) << false;
        QTest::newRow("rename") << int(AtomicWriteStep::Rename) << false;
        QTest::newRow("sync-folder") << int(AtomicWriteStep::SyncFolder) << true;  // after the rename
    }

    void failureAtEachStepKeepsTheOldContent()
    {
        QFETCH(int, step);
        QFETCH(bool, replaced);
        QTemporaryDir dir;
        const fs::path path = fs::path(dir.path().toStdString()) / "results.json";
        writeFileAtomically(path.string(), "old");
        setAtomicWriteFaultForTesting([&](const std::string& target, AtomicWriteStep at) {
            QCOMPARE(target, path.string());
            if (int(at) == step)
                throw std::runtime_error("disk full (injected)");
        });
        try {
            writeFileAtomically(path.string(), "new");
            QFAIL("the injected failure did not surface");
        } catch (const Error& e) {
            const std::string message = e.what();
            QVERIFY2(message.find(path.string()) != std::string::npos, message.c_str());
            QVERIFY2(message.find("disk full (injected)") != std::string::npos, message.c_str());
        }
        QCOMPARE(contentOf(path), std::string(replaced ? "new" : "old"));
        QCOMPARE(entriesIn(dir.path().toStdString()), 1);
    }

    void producerErrorsNameTheFile()
    {
        QTemporaryDir dir;
        const std::string path = dir.path().toStdString() + "/archive.pt";
        try {
            replaceFileAtomically(path, [](const std::string& temporary) {
                std::ofstream(temporary) << "half";
                throw std::runtime_error("serialiser failed");
            });
            QFAIL("no error");
        } catch (const Error& e) {
            QVERIFY(std::string(e.what()).find(path) != std::string::npos);
            QVERIFY(std::string(e.what()).find("serialiser failed") != std::string::npos);
        }
        QVERIFY(!fs::exists(path));
        QCOMPARE(entriesIn(dir.path().toStdString()), 0);
    }

    void missingFolderIsAnError()
    {
        QTemporaryDir dir;
        const std::string path = dir.path().toStdString() + "/no/such/folder/x.json";
        QVERIFY_THROWS_EXCEPTION(Error, writeFileAtomically(path, "x"));
    }
};

QTEST_APPLESS_MAIN(TestAtomicFile)
#include "tst_atomic_file.moc"
