#pragma once

#include <filesystem>
#include <string>

namespace tunebench {

// The project passes paths as UTF-8 std::strings. These convert in C++17 and C++20 alike (C++20's
// path::u8string() returns std::u8string and deprecates u8path; LibTorch 2.13+ requires C++20).
inline std::filesystem::path pathFromUtf8(const std::string& text)
{
#if __cplusplus >= 202002L
    return std::filesystem::path(std::u8string(text.begin(), text.end()));
#else
    return std::filesystem::u8path(text);
#endif
}

inline std::string utf8(const std::filesystem::path& path)
{
#if __cplusplus >= 202002L
    const std::u8string text = path.u8string();
    return std::string(text.begin(), text.end());
#else
    return path.u8string();
#endif
}

} // namespace tunebench
