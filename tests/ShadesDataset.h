// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// A dataset tiny models can learn, for tests that train through the CLI. Header-only, no OpenCV.

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>

namespace tunebench::test {

// An IDX dataset (the Fashion-MNIST layout) of `classes` shades, 12x12 pixels: each class a grey level
// plus noise; class names "shade 0", "shade 1", ...
inline void writeShadesDataset(const std::filesystem::path& folder, int classes, int trainPerClass, int testPerClass)
{
    const auto bigEndian = [](std::ofstream& out, std::uint32_t value) {
        const char bytes[] = {char(value >> 24), char(value >> 16), char(value >> 8), char(value)};
        out.write(bytes, 4);
    };
    const int side = 12;
    std::mt19937 noise(5);
    const auto write = [&](const char* images, const char* labels, int perClass) {
        std::ofstream imageFile(folder / images, std::ios::binary);
        std::ofstream labelFile(folder / labels, std::ios::binary);
        const auto count = static_cast<std::uint32_t>(classes * perClass);
        bigEndian(imageFile, 0x00000803);
        bigEndian(imageFile, count);
        bigEndian(imageFile, side);
        bigEndian(imageFile, side);
        bigEndian(labelFile, 0x00000801);
        bigEndian(labelFile, count);
        for (int i = 0; i < perClass; ++i)
            for (int c = 0; c < classes; ++c) {
                for (int p = 0; p < side * side; ++p)
                    imageFile.put(static_cast<char>(std::clamp<int>(40 + 80 * c + static_cast<int>(noise() % 30), 0, 255)));
                labelFile.put(static_cast<char>(c));
            }
    };
    std::filesystem::create_directories(folder);
    write("train-images-idx3-ubyte", "train-labels-idx1-ubyte", trainPerClass);
    write("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", testPerClass);
    std::ofstream names(folder / "classes.txt");
    for (int c = 0; c < classes; ++c)
        names << "shade " << c << "\n";
}

} // namespace tunebench::test
