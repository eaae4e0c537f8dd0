#pragma once
// Helpers shared by tst_datasets, tst_dataset_protocols and tst_petl_benchmarks: the message of a thrown
// tunebench::Error, small files and images, the labels of a split, and a tiny IDX dataset written from bytes.

#include "core/Error.h"
#include "core/Utf8Path.h"
#include "core/data/DatasetIndex.h"

#include <QtTest>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace tunebench::test {

// The message of the tunebench::Error that `action` throws, or an empty string if it throws none (unlike
// ErrorOf.h's errorOf(): a QString, and no "(no error)").
template <typename Action>
QString errorOf(Action&& action)
{
    try {
        action();
    } catch (const Error& error) {
        return QString::fromStdString(error.what());
    }
    return {};
}

inline void writeText(const std::filesystem::path& file, const std::string& text)
{
    std::filesystem::create_directories(file.parent_path());
    std::ofstream out(file, std::ios::binary);
    out << text;
}

// A small colour image; `seed` sets its first channel, so that images written with different seeds differ.
inline void writeImage(const std::filesystem::path& file, int seed = 0)
{
    std::filesystem::create_directories(file.parent_path());
    cv::Mat image(8, 6, CV_8UC3, cv::Scalar(seed * 10 % 256, 40, 200));
    QVERIFY2(cv::imwrite(utf8(file), image), utf8(file).c_str());
}

inline std::vector<int> labelsOf(const std::vector<Sample>& samples)
{
    std::vector<int> labels;
    for (const Sample& sample : samples)
        labels.push_back(sample.label);
    return labels;
}

inline void writeBigEndian32(std::string& out, std::uint32_t value)
{
    out += char((value >> 24) & 0xff);
    out += char((value >> 16) & 0xff);
    out += char((value >> 8) & 0xff);
    out += char(value & 0xff);
}

inline std::string idxImagesBytes(std::uint32_t count, std::uint32_t rows, std::uint32_t cols, int pixelOffset = 0)
{
    std::string bytes;
    writeBigEndian32(bytes, 0x00000803);
    writeBigEndian32(bytes, count);
    writeBigEndian32(bytes, rows);
    writeBigEndian32(bytes, cols);
    for (std::uint32_t i = 0; i < count * rows * cols; ++i)
        bytes += char((i + pixelOffset) % 251);
    return bytes;
}

inline std::string idxLabelsBytes(const std::vector<int>& labels)
{
    std::string bytes;
    writeBigEndian32(bytes, 0x00000801);
    writeBigEndian32(bytes, static_cast<std::uint32_t>(labels.size()));
    for (int label : labels)
        bytes += char(label);
    return bytes;
}

inline void writeGzip(const std::filesystem::path& file, const std::string& bytes)
{
    gzFile out = gzopen(file.c_str(), "wb");
    QVERIFY(out);
    QCOMPARE(gzwrite(out, bytes.data(), static_cast<unsigned>(bytes.size())), int(bytes.size()));
    QCOMPARE(gzclose(out), Z_OK);
}

// A small IDX dataset: 50 train images (4x3, labels i % 3), 10 test images; train images gzipped.
inline void writeIdxDataset(const std::filesystem::path& folder)
{
    std::filesystem::create_directories(folder);
    std::vector<int> trainLabels, testLabels;
    for (int i = 0; i < 50; ++i)
        trainLabels.push_back(i % 3);
    for (int i = 0; i < 10; ++i)
        testLabels.push_back((i + 1) % 3);
    writeGzip(folder / "train-images-idx3-ubyte.gz", idxImagesBytes(50, 4, 3));
    writeText(folder / "train-labels-idx1-ubyte", idxLabelsBytes(trainLabels));
    writeText(folder / "t10k-images-idx3-ubyte", idxImagesBytes(10, 4, 3, 7));
    writeGzip(folder / "t10k-labels-idx1-ubyte.gz", idxLabelsBytes(testLabels));
    writeText(folder / "classes.txt", "zero\nfirst_class\ntwo\n\n");
}

} // namespace tunebench::test
