#pragma once

#include <stdexcept>
#include <string>

namespace tunebench {

// An error caused by input the user can fix (a file, a key, a flag). Its message is one line that names
// the offending file/key/value; front-ends print it as is, without a stack trace.
class Error : public std::runtime_error
{
public:
    using std::runtime_error::runtime_error;
};

// The first line of `text` without the spaces around it: how every front-end shows an error message
// (LibTorch appends a C++ stack trace to its messages).
inline std::string firstLine(const std::string& text)
{
    const std::string line = text.substr(0, text.find('\n'));
    const char* const space = " \t\r\f\v";
    const auto begin = line.find_first_not_of(space);
    if (begin == std::string::npos)
        return {};
    return line.substr(begin, line.find_last_not_of(space) - begin + 1);
}

} // namespace tunebench
