// The figure files both programs write (report/): whole or not at all, also when the disk fills up.
#include "report/Figures.h"

#include <QtTest>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <sys/resource.h>

namespace fs = std::filesystem;
using namespace tunebench;

namespace {

// While alive, no file of this process may grow past `bytes`: a write beyond fails with EFBIG, as a full
// disk fails with ENOSPC, without needing a small file system.
class FileSizeLimit
{
public:
    explicit FileSizeLimit(rlim_t bytes)
    {
        m_previousSignal = std::signal(SIGXFSZ, SIG_IGN);  // the write fails instead of the process dying
        getrlimit(RLIMIT_FSIZE, &m_previous);
        rlimit limited = m_previous;
        limited.rlim_cur = bytes;
        setrlimit(RLIMIT_FSIZE, &limited);
    }
    ~FileSizeLimit()
    {
        setrlimit(RLIMIT_FSIZE, &m_previous);
        std::signal(SIGXFSZ, m_previousSignal);
    }

private:
    rlimit m_previous{};
    void (*m_previousSignal)(int) = nullptr;
};

std::string contentOf(const fs::path& path)
{
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

} // namespace

class TestFigures : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    // A write that fails part-way (a full disk) is an error naming each file, and leaves neither a
    // truncated figure under its final name nor a temporary beside it.
    void aFailedWriteLeavesNoTruncatedFigure()
    {
        QTemporaryDir dir;
        const fs::path folder = dir.path().toStdString();
        const std::string png = (folder / "curve.png").string(), pdf = (folder / "curve.pdf").string();
        const std::vector<ShotCurve> curves = {{"coop", {1, 2, 4}, {0.5, 0.6, 0.7}, false}, {"zeroshot", {0}, {0.4}, false}};

        QCOMPARE(writeShotCurveFigure(curves, "toys", "Accuracy (%)", png, pdf), std::string());
        const std::string whole = contentOf(pdf);
        QVERIFY(whole.rfind("%PDF", 0) == 0 && whole.find("%%EOF") != std::string::npos);
        QVERIFY(contentOf(png).substr(1, 3) == "PNG");
        const auto limit = std::min(fs::file_size(png), fs::file_size(pdf)) / 2;
        QVERIFY(limit > 512);
        fs::remove(png);
        fs::remove(pdf);

        std::string problem;
        {
            const FileSizeLimit full(limit);
            problem = writeShotCurveFigure(curves, "toys", "Accuracy (%)", png, pdf);
        }
        QVERIFY2(problem.find(png) != std::string::npos && problem.find(pdf) != std::string::npos, problem.c_str());
        QVERIFY2(!fs::exists(png), "a truncated curve.png was left");
        QVERIFY2(!fs::exists(pdf), "a truncated curve.pdf was left");
        for (const auto& entry : fs::directory_iterator(folder))
            QVERIFY2(false, ("left behind: " + entry.path().filename().string()).c_str());
    }
};

QTEST_APPLESS_MAIN(TestFigures)
#include "tst_figures.moc"
