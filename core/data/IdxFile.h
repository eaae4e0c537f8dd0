#pragma once

#include "core/data/DatasetIndex.h"

#include <cstdint>
#include <string>
#include <vector>

namespace tunebench {

// Readers for IDX files (the MNIST container: big-endian header, uint8 payload), plain or gzipped.
// Every malformed input (magic, type, dimensions, truncation, trailing bytes, gzip damage) throws
// tunebench::Error naming the file.

// An idx3-ubyte file (magic 0x00000803): N x rows x cols images.
IdxImages readIdxImages(const std::string& path);

// An idx1-ubyte file (magic 0x00000801): N labels.
std::vector<std::uint8_t> readIdxLabels(const std::string& path);

} // namespace tunebench
