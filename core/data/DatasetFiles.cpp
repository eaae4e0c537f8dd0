#include "core/data/DatasetFiles.h"

#include "core/Error.h"
#include "core/Utf8Path.h"
#include "core/data/DatasetLayouts.h"
#include "core/io/RegularFile.h"

#include <fstream>

namespace tunebench {

namespace fs = std::filesystem;

bool isDirectory(const fs::path& path)
{
    std::error_code error;
    return fs::is_directory(path, error);
}

bool isRegularFile(const fs::path& path)
{
    std::error_code error;
    return fs::is_regular_file(path, error);
}

std::string folderName(const fs::path& folder)
{
    fs::path normal = folder.lexically_normal();
    if (normal.filename().empty())
        normal = normal.parent_path();
    return utf8(normal.filename());
}

std::vector<std::string> readLines(const fs::path& path, const std::string& what)
{
    requireRegularFile(utf8(path), what);
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw Error(utf8(path) + ": cannot open " + (what.empty() ? "file" : what));
    std::vector<std::string> lines;
    std::string line;
    while (std::getline(in, line)) {
        if (lines.empty() && line.compare(0, 3, "\xEF\xBB\xBF") == 0)
            line.erase(0, 3);
        if (!line.empty() && line.back() == '\r')
            line.pop_back();
        lines.push_back(line);
    }
    return lines;
}

ImageFileHead readImageFileHead(const fs::path& file)
{
    std::ifstream probe(file, std::ios::binary);
    char head[kImageSignatureBytes] = {};
    probe.read(head, sizeof head);
    const auto size = static_cast<std::size_t>(probe.gcount());
    if (size == 0)
        return ImageFileHead::Unreadable;  // empty, or it could not be opened
    return hasImageSignature(head, size) ? ImageFileHead::Image : ImageFileHead::NotAnImage;
}

void ProblemLog::add(const std::string& kind, const std::string& message)
{
    std::size_t& seen = m_counts[kind];
    ++seen;
    if (seen <= kMaxPerKind)
        m_lines.push_back(message);
}

std::vector<std::string> ProblemLog::finish() const
{
    std::vector<std::string> lines = m_lines;
    for (const auto& [kind, count] : m_counts)
        if (count > kMaxPerKind)
            lines.push_back("... and " + std::to_string(count - kMaxPerKind) + " more: " + kind);
    return lines;
}

} // namespace tunebench
