#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <opencv2/core.hpp>

// Image decoding and the evaluation-time preprocessing of CLIP / timm models. Everything here works on
// CV_8UC3 images in RGB order and reproduces the Python reference (PIL + torchvision) bit for bit, so
// features computed here match features computed by the original repositories.

namespace tunebench {

// Pillow's separable resampling filters (the 8-bit, fixed-point path of Image.resize).
enum class ResizeFilter
{
    Bilinear, // triangle, support 1
    Bicubic,  // cubic convolution a = -0.5, support 2
};

// Decoding costs memory in proportion to an image's pixels, not its file size (a 1 MB PNG can hold
// 20000 x 20000 pixels): images above this many pixels are refused from their header, before decoding.
constexpr std::int64_t kDefaultMaxImagePixels = 50'000'000;
// The limit decodeImage applies from now on, in this process (0 = the default).
void setMaxImagePixels(std::int64_t pixels);
std::int64_t maxImagePixels();
// Width and height as the header of a format OpenCV decodes gives them (PNG, JPEG, BMP, WebP, TIFF, Netpbm,
// PAM, PFM, Radiance HDR, Sun raster, JPEG 2000, OpenEXR); nullopt for other formats or a header cut short,
// which decodeImage then refuses without decoding.
std::optional<std::pair<std::int64_t, std::int64_t>> imageHeaderSize(const std::vector<std::uint8_t>& bytes);

// Reads the file's bytes and decodes them with OpenCV. Grayscale becomes RGB, alpha is dropped, 16-bit
// samples keep their high byte, EXIF orientation is ignored (PIL does not rotate either). Throws Error
// naming the path when the file is missing, not a regular file (a FIFO would block the read), unreadable,
// corrupt, truncated, without a size in its header or over maxImagePixels().
cv::Mat decodeImage(const std::string& path);
cv::Mat decodeImage(const std::vector<std::uint8_t>& bytes, const std::string& nameForErrors);

// Pillow-exact resize of an RGB image to width x height (a copy when the size is unchanged).
cv::Mat resizePil(const cv::Mat& rgb, int width, int height, ResizeFilter filter = ResizeFilter::Bicubic);

// torchvision Resize(int): the shorter side becomes `size`, the longer int(size * long / short).
// Returns a copy of the input when its shorter side already equals `size`.
cv::Mat resizeShorterSide(const cv::Mat& rgb, int size, ResizeFilter filter = ResizeFilter::Bicubic);

// The output size resizeShorterSide would produce for a width x height input.
cv::Size shorterSideSize(int width, int height, int size);

// torchvision CenterCrop(size): offsets int(round((dim - size) / 2)) with round-half-to-even; an image
// smaller than `size` is first zero-padded (left/top get the floor half of the padding). Always a copy.
cv::Mat centerCrop(const cv::Mat& rgb, int size);

// Python's round() for doubles: half to even.
double roundHalfToEven(double value);

struct Normalization
{
    std::array<float, 3> mean{};
    std::array<float, 3> std{};

    static Normalization clip();     // OpenAI CLIP
    static Normalization imagenet(); // torchvision / timm ImageNet defaults
    static Normalization half();     // mean 0.5, std 0.5 (timm augreg ViTs)
};

// Writes 3 x H x W floats (channel-major) computed exactly as torchvision does in float32:
// (float(u8) / 255 - mean) / std.
void toNormalizedChw(const cv::Mat& rgb, const Normalization& norm, float* out);

// Same, mirrored left-right (the training flip, fused into the copy).
void toNormalizedChwFlipped(const cv::Mat& rgb, const Normalization& norm, float* out);

// The evaluation pipeline: resize the shorter side to int(resolution / cropFraction), centre-crop
// resolution x resolution, normalise. cropFraction = 1 is CLIP's `_transform`; timm uses its crop_pct.
struct EvalTransform
{
    int resolution = 224;
    double cropFraction = 1.0;
    ResizeFilter filter = ResizeFilter::Bicubic;
    Normalization norm = Normalization::clip();

    int resizeSize() const;
    // `out` receives 3 * resolution * resolution floats.
    void apply(const cv::Mat& rgb, float* out) const;
};

} // namespace tunebench
