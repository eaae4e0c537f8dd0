#pragma once

#include <cstdint>
#include <random>

#include <opencv2/core.hpp>

#include "core/data/ImagePreprocess.h"

// Training-time augmentation (torchvision's RandomResizedCrop + RandomHorizontalFlip) made reproducible:
// the same seed gives the same bytes on every machine and compiler.

namespace tunebench {

// Random numbers built only from std::mt19937_64's raw outputs, whose sequence the C++ standard fixes.
// std::*_distribution is implementation-defined and therefore never used.
class AugmentRng
{
public:
    explicit AugmentRng(std::uint64_t seed);

    std::uint64_t next();
    double uniform();                     // [0, 1) from the top 53 bits
    double uniform(double lo, double hi); // [lo, hi)
    // Uniform integer in [lo, hi] (both inclusive, like Python's randint), without modulo bias.
    int uniformInt(int lo, int hi);

private:
    std::mt19937_64 m_engine;
};

// A per-sample seed that depends only on (runSeed, epoch, index), so loader threads may process samples
// in any order and still produce identical batches.
std::uint64_t sampleSeed(std::uint64_t runSeed, std::uint64_t epoch, std::uint64_t index);

struct CropBox
{
    int left = 0;
    int top = 0;
    int width = 0;
    int height = 0;
};

struct TrainTransform
{
    int resolution = 224;
    double scaleMin = 0.08;
    double scaleMax = 1.0;
    double ratioMin = 3.0 / 4.0;
    double ratioMax = 4.0 / 3.0;
    bool flip = true;
    ResizeFilter filter = ResizeFilter::Bicubic;
    Normalization norm = Normalization::clip();

    // RandomResizedCrop.get_params for an image of width x height.
    CropBox sampleCrop(int width, int height, AugmentRng& rng) const;

    // Crop, Pillow resize to resolution x resolution, flip with probability 1/2, normalise.
    // `out` receives 3 * resolution * resolution floats.
    void apply(const cv::Mat& rgb, AugmentRng& rng, float* out) const;
};

} // namespace tunebench
