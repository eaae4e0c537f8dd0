#pragma once
// One field of a CSV line (RFC 4180): as it is, or quoted, with quotes doubled, when it holds a comma, a
// quote or a line break.

#include <string>

namespace tunebench {

inline std::string csvField(const std::string& text)
{
    if (text.find_first_of(",\"\r\n") == std::string::npos)
        return text;
    std::string out = "\"";
    for (char c : text)
        out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
}

} // namespace tunebench
