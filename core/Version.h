#pragma once

namespace tunebench {

// Tunebench's version: the CMake project version, written into the build folder's Version.cpp so that
// CMakeLists.txt stays the one place that names it.
const char* tunebenchVersion();

} // namespace tunebench
