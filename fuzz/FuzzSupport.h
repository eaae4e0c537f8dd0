#pragma once
// What every fuzz target shares: the input as a file (the parsers read files, as they do for users) and
// the rule that tunebench::Error is the only acceptable way to refuse an input. Any other exception
// escapes the target, and libFuzzer reports it as a crash: it would reach the user without naming the
// file.

#include "core/Error.h"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

namespace tunebench::fuzz {

// A folder of this process's own under /dev/shm (memory) when there is one, else the temporary folder.
inline const std::filesystem::path& scratchFolder()
{
    static const std::filesystem::path folder = [] {
        std::error_code error;
        const std::filesystem::path base =
            std::filesystem::is_directory("/dev/shm", error) ? std::filesystem::path("/dev/shm") : std::filesystem::temp_directory_path();
        std::filesystem::path own = base / ("tunebench-fuzz-" + std::to_string(::getpid()));
        std::filesystem::create_directories(own);
        return own;
    }();
    // Removed when the process ends normally (a crash leaves it, with the input that caused it).
    static const struct Cleanup {
        ~Cleanup()
        {
            std::error_code ignored;
            std::filesystem::remove_all(folder, ignored);
        }
    } cleanup;
    return folder;
}

// Writes `size` bytes to scratchFolder()/name (replacing it) and returns the path.
inline std::string writeInput(const std::string& name, const std::uint8_t* data, std::size_t size)
{
    const std::filesystem::path path = scratchFolder() / name;
    std::filesystem::create_directories(path.parent_path());
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    return path.string();
}

// Runs `parse`; an Error is a refusal, which is fine.
template <typename Parse>
void expectOnlyErrors(Parse&& parse)
{
    try {
        parse();
    } catch (const Error&) {
    }
}

} // namespace tunebench::fuzz
