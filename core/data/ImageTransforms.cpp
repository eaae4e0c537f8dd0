#include "core/data/ImageTransforms.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "core/Error.h"

// Fused multiply-add would change the last bits of the crop geometry between compilers; clang contracts
// by default, GCC does not in ISO mode.
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

namespace tunebench {

namespace {

constexpr double kLn2 = 0.69314718055994530942;
constexpr double kSqrtHalf = 0.70710678118654752440;

// std::log and std::exp may differ in the last bit between C libraries, which would move a rounded crop
// edge on another machine. These use only IEEE-754 basic operations (and exact frexp/ldexp), so every
// conforming platform gets the same bits.
double portableLog(double x)
{
    int exponent = 0;
    double mantissa = std::frexp(x, &exponent); // x = mantissa * 2^exponent, mantissa in [0.5, 1)
    if (mantissa < kSqrtHalf) {
        mantissa = mantissa * 2.0;
        exponent -= 1;
    }
    // log(m) = 2 atanh(s), s = (m - 1) / (m + 1), |s| < 0.172: the odd series converges fast.
    const double s = (mantissa - 1.0) / (mantissa + 1.0);
    const double s2 = s * s;
    double power = s;
    double sum = 0.0;
    for (int k = 1; k < 40; k += 2) {
        const double term = power / k;
        sum = sum + term;
        power = power * s2;
    }
    const double scaledExponent = exponent * kLn2;
    return 2.0 * sum + scaledExponent;
}

double portableExp(double x)
{
    const double k = std::round(x / kLn2);
    const double reduction = k * kLn2;
    const double r = x - reduction; // |r| <= ln(2) / 2
    double term = 1.0;
    double sum = 1.0;
    for (int n = 1; n < 30; ++n) {
        term = term * r;
        term = term / n;
        sum = sum + term;
    }
    return std::ldexp(sum, static_cast<int>(k));
}

int pythonRoundToInt(double value)
{
    return static_cast<int>(roundHalfToEven(value));
}

std::uint64_t splitmix64(std::uint64_t z)
{
    z += 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

} // namespace

AugmentRng::AugmentRng(std::uint64_t seed)
    : m_engine(seed)
{
}

std::uint64_t AugmentRng::next()
{
    return m_engine();
}

double AugmentRng::uniform()
{
    // 53 random bits scaled by 2^-53: exact, and identical on every platform.
    return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0);
}

double AugmentRng::uniform(double lo, double hi)
{
    const double offset = (hi - lo) * uniform();
    return lo + offset;
}

int AugmentRng::uniformInt(int lo, int hi)
{
    if (hi < lo)
        throw Error("AugmentRng::uniformInt: empty range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    const std::uint64_t span = static_cast<std::uint64_t>(static_cast<std::int64_t>(hi) - lo) + 1;
    // Reject the lowest (2^64 mod span) values so that every residue is equally likely.
    const std::uint64_t threshold = (0 - span) % span;
    std::uint64_t draw = next();
    while (draw < threshold)
        draw = next();
    return static_cast<int>(lo + static_cast<std::int64_t>(draw % span));
}

std::uint64_t sampleSeed(std::uint64_t runSeed, std::uint64_t epoch, std::uint64_t index)
{
    // Chained mixing: (epoch, index) and (index, epoch) give unrelated seeds.
    return splitmix64(splitmix64(splitmix64(runSeed) ^ epoch) ^ index);
}

CropBox TrainTransform::sampleCrop(int width, int height, AugmentRng& rng) const
{
    if (width <= 0 || height <= 0)
        throw Error("TrainTransform: empty image");
    if (!(scaleMin > 0.0) || !(scaleMax >= scaleMin) || !std::isfinite(scaleMax))
        throw Error("TrainTransform: scale range must satisfy 0 < min <= max, got [" + std::to_string(scaleMin) + ", "
                    + std::to_string(scaleMax) + "]");
    if (!(ratioMin > 0.0) || !(ratioMax >= ratioMin) || !std::isfinite(ratioMax))
        throw Error("TrainTransform: aspect-ratio range must satisfy 0 < min <= max, got [" + std::to_string(ratioMin)
                    + ", " + std::to_string(ratioMax) + "]");

    const double area = static_cast<double>(width) * height;
    const double logRatioMin = portableLog(ratioMin);
    const double logRatioMax = portableLog(ratioMax);
    for (int attempt = 0; attempt < 10; ++attempt) {
        const double targetArea = area * rng.uniform(scaleMin, scaleMax);
        const double aspect = portableExp(rng.uniform(logRatioMin, logRatioMax));
        const double cropWidth = roundHalfToEven(std::sqrt(targetArea * aspect));
        const double cropHeight = roundHalfToEven(std::sqrt(targetArea / aspect));
        if (cropWidth > 0 && cropWidth <= width && cropHeight > 0 && cropHeight <= height) {
            CropBox box;
            box.width = static_cast<int>(cropWidth);
            box.height = static_cast<int>(cropHeight);
            box.top = rng.uniformInt(0, height - box.height);
            box.left = rng.uniformInt(0, width - box.width);
            return box;
        }
    }

    // Ten misses: a central crop with the aspect ratio clamped to the allowed range.
    CropBox box;
    const double inputRatio = static_cast<double>(width) / height;
    if (inputRatio < ratioMin) {
        box.width = width;
        box.height = pythonRoundToInt(width / ratioMin);
    } else if (inputRatio > ratioMax) {
        box.height = height;
        box.width = pythonRoundToInt(height * ratioMax);
    } else {
        box.width = width;
        box.height = height;
    }
    // torchvision would fail later on a zero-sized crop; keep at least one pixel.
    box.width = std::clamp(box.width, 1, width);
    box.height = std::clamp(box.height, 1, height);
    box.top = (height - box.height) / 2;
    box.left = (width - box.width) / 2;
    return box;
}

void TrainTransform::apply(const cv::Mat& rgb, AugmentRng& rng, float* out) const
{
    if (rgb.empty() || rgb.type() != CV_8UC3)
        throw Error("TrainTransform: expected a non-empty 8-bit RGB image (CV_8UC3)");
    if (resolution <= 0)
        throw Error("TrainTransform: resolution must be positive, got " + std::to_string(resolution));
    if (out == nullptr)
        throw Error("TrainTransform: output buffer is null");

    const CropBox box = sampleCrop(rgb.cols, rgb.rows, rng);
    const cv::Mat crop = rgb(cv::Rect(box.left, box.top, box.width, box.height));
    const cv::Mat resized = (box.width == resolution && box.height == resolution)
                                ? crop
                                : resizePil(crop, resolution, resolution, filter);
    const bool mirrored = flip && rng.uniform() < 0.5;
    if (mirrored)
        toNormalizedChwFlipped(resized, norm, out);
    else
        toNormalizedChw(resized, norm, out);
}

} // namespace tunebench
