#pragma once
// What the dataset layout readers (DatasetLayouts, PetlBenchmarks, DomainAdaptationData) share about the
// files they read: checks that never throw, a folder's own name, the lines of a small text file, a first
// look at an image file, and the capped list of problems a dataset reports. Internal to core/data.

#include <cstddef>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace tunebench {

// How many images a reader checks or indexes between two progress messages.
constexpr std::size_t kProgressEvery = 20000;

// False, not an exception, for what cannot be examined: the reader then says what it expected instead.
bool isDirectory(const std::filesystem::path& path);
bool isRegularFile(const std::filesystem::path& path);

// The folder's own name, also for "root/" with a trailing separator.
std::string folderName(const std::filesystem::path& folder);

// The lines of a small text file (class lists, split lists, image lists), without line ends or a UTF-8 BOM.
// `what` names the file in the errors ("split file"); a FIFO or a folder is refused before it is opened.
std::vector<std::string> readLines(const std::filesystem::path& path, const std::string& what = {});

// What an image file's first bytes say, without decoding it: decoding failures are the loader's to count.
enum class ImageFileHead { Unreadable, NotAnImage, Image };
ImageFileHead readImageFileHead(const std::filesystem::path& file);

// Collects recoverable problems. Repetitive kinds (thousands of stray files) are capped so that the
// list stays readable; the remainder is summarised with its count.
class ProblemLog
{
public:
    void add(const std::string& kind, const std::string& message);
    std::vector<std::string> finish() const;

private:
    static constexpr std::size_t kMaxPerKind = 20;
    std::vector<std::string> m_lines;
    std::map<std::string, std::size_t> m_counts;
};

} // namespace tunebench
