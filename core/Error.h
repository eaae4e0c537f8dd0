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

} // namespace tunebench
