#include "core/data/ImageDomains.h"

#include "core/Error.h"
#include "core/data/DatasetIndex.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <array>

namespace tunebench {

namespace {

enum DomainIndex { Photo, Negative, Sketch, Blurred, UpsideDown, Tinted };

std::uint64_t mix(std::uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

// Pencil lines: the Sobel gradient magnitude, scaled by the image's own strongest edge, dark on white.
void sketch(cv::Mat& rgb)
{
    cv::Mat gray, dx, dy, magnitude;
    cv::cvtColor(rgb, gray, cv::COLOR_RGB2GRAY);
    gray.convertTo(gray, CV_32F);
    cv::Sobel(gray, dx, CV_32F, 1, 0, 3, 1, 0, cv::BORDER_REPLICATE);
    cv::Sobel(gray, dy, CV_32F, 0, 1, 3, 1, 0, cv::BORDER_REPLICATE);
    cv::magnitude(dx, dy, magnitude);
    double strongest = 0;
    cv::minMaxLoc(magnitude, nullptr, &strongest);
    const double scale = strongest > 0 ? 255.0 / strongest : 0.0;
    cv::Mat lines;
    magnitude.convertTo(lines, CV_8U, -scale, 255.0);  // saturates: 255 - scaled magnitude
    cv::cvtColor(lines, rgb, cv::COLOR_GRAY2RGB);
}

// A Gaussian blur whose strength follows the image size (sigma 1.4 on a 28-pixel image).
void blur(cv::Mat& rgb)
{
    const double sigma = std::max(1.0, std::min(rgb.rows, rgb.cols) / 20.0);
    cv::GaussianBlur(rgb, rgb, cv::Size(0, 0), sigma, sigma, cv::BORDER_REPLICATE);
}

// The image seen through a coloured filter, one of six colours picked by the image's key.
void tint(cv::Mat& rgb, std::uint64_t key)
{
    static const std::array<cv::Scalar, 6> filters = {
        cv::Scalar(1.0, 0.25, 0.25), cv::Scalar(0.25, 1.0, 0.25), cv::Scalar(0.3, 0.3, 1.0),
        cv::Scalar(1.0, 0.9, 0.2),   cv::Scalar(1.0, 0.3, 1.0),   cv::Scalar(0.2, 1.0, 1.0)};
    cv::multiply(rgb, filters[mix(key) % filters.size()], rgb);
}

} // namespace

const std::vector<ImageDomain>& imageDomains()
{
    static const std::vector<ImageDomain> domains = {
        {"photo", "the images as stored", true,
         {"a photo of a {}.", "a photo of the {}.", "a product photo of a {}.", "a catalog picture of a {}.",
          "a close-up photo of the {}.", "a {} on a black background.", "an image of a {}.", "a picture of my {}."}},
        {"negative", "photographic negative: every pixel inverted (255 - value)", true,
         {"a negative of a {}.", "an inverted image of a {}.", "a photo negative of the {}.", "a {} with inverted colours.",
          "a negative picture of a {}.", "the negative of my {}."}},
        {"sketch", "pencil sketch: Sobel edge strength drawn dark on white; never seen in pretraining", false,
         {"a sketch of a {}.", "a pencil drawing of the {}."}},
        {"blurred", "Gaussian blur, sigma = max(1, side / 20) (1.4 pixels on Fashion-MNIST)", true,
         {"a blurry photo of a {}.", "an out of focus picture of the {}.", "a blurred image of a {}.", "a soft, blurry {}.",
          "a fuzzy photo of my {}."}},
        {"upside-down", "turned upside down (flipped vertically)", true,
         {"an upside-down photo of a {}.", "a {} turned upside down.", "a flipped picture of the {}.",
          "an upside-down {}.", "a photo of a {}, upside down."}},
        {"tinted", "seen through one of six colour filters (red, green, blue, yellow, magenta, cyan) chosen per image", true,
         {"a tinted photo of a {}.", "a colourful picture of the {}.", "a photo of a {} in coloured light.",
          "a {} under a colour filter.", "a tinted image of my {}."}},
    };
    return domains;
}

int findImageDomain(const std::string& name)
{
    const auto& domains = imageDomains();
    for (std::size_t i = 0; i < domains.size(); ++i)
        if (domains[i].name == name)
            return static_cast<int>(i);
    return -1;
}

std::vector<std::string> datasetVariantDomains()
{
    std::vector<std::string> names;
    for (const ImageDomain& domain : imageDomains())
        if (domain.name != "photo")
            names.push_back(domain.name);
    return names;
}

void renderImageDomain(int domain, cv::Mat& rgb, std::uint64_t key)
{
    if (rgb.type() != CV_8UC3)
        throw Error("image domains render 8-bit RGB images");
    switch (domain) {
    case Photo:
        return;
    case Negative:
        cv::bitwise_not(rgb, rgb);
        return;
    case Sketch:
        sketch(rgb);
        return;
    case Blurred:
        blur(rgb);
        return;
    case UpsideDown:
        cv::flip(rgb, rgb, 0);
        return;
    case Tinted:
        tint(rgb, key);
        return;
    default:
        throw Error("unknown image domain " + std::to_string(domain));
    }
}

std::uint64_t sampleImageKey(const Sample& sample)
{
    // The file name, not the whole path, so that a dataset installed elsewhere renders the same.
    const std::size_t slash = sample.path.find_last_of("/\\");
    const std::string name = slash == std::string::npos ? sample.path : sample.path.substr(slash + 1);
    std::uint64_t hash = 0xcbf29ce484222325ull;  // FNV-1a
    for (unsigned char c : name)
        hash = (hash ^ c) * 0x100000001b3ull;
    return mix(hash ^ static_cast<std::uint64_t>(sample.idxIndex));
}

} // namespace tunebench
