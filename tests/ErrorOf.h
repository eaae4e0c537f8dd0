#pragma once

#include "core/Error.h"

#include <functional>
#include <string>

namespace tunebench::test {

// The message of the tunebench::Error that `action` throws, or "(no error)". Any other exception escapes
// and fails the test: bad input must surface as an Error with a readable message.
inline std::string errorOf(const std::function<void()>& action)
{
    try {
        action();
    } catch (const Error& e) {
        return e.what();
    }
    return "(no error)";
}

} // namespace tunebench::test
