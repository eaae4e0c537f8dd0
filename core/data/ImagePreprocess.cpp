#include "core/data/ImagePreprocess.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "core/Error.h"
#include "core/Utf8Path.h"
#include "core/io/RegularFile.h"

namespace tunebench {

namespace {

// Pillow keeps 22 fractional bits so that 8-bit samples times weights (which may exceed 1 in sum of
// magnitudes) still fit a signed 32-bit accumulator.
constexpr int kPrecisionBits = 32 - 8 - 2;

double bilinearWeight(double x)
{
    if (x < 0.0)
        x = -x;
    if (x < 1.0)
        return 1.0 - x;
    return 0.0;
}

// Cubic convolution with a = -0.5, written in the same operation order as Pillow so that the double
// weights (and hence their fixed-point rounding) come out identical.
double bicubicWeight(double x)
{
    constexpr double a = -0.5;
    if (x < 0.0)
        x = -x;
    if (x < 1.0)
        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0)
        return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

// Fixed-point weights of one resampling axis: output i reads `count[i]` inputs from `first[i]`.
struct AxisCoefficients
{
    int taps = 0; // stride of `weights` per output sample
    std::vector<int> first;
    std::vector<int> count;
    std::vector<std::int32_t> weights;
};

AxisCoefficients computeAxisCoefficients(int inSize, int outSize, ResizeFilter filter)
{
    const bool cubic = filter == ResizeFilter::Bicubic;
    const double filterSupport = cubic ? 2.0 : 1.0;

    // Pillow passes the box edges as floats; the span of a whole axis is exact in float below 2^24.
    const double scale = static_cast<double>(static_cast<float>(inSize) - 0.0f) / outSize;
    // Shrinking widens the kernel (antialiasing); enlarging keeps it at its natural width.
    const double filterScale = std::max(scale, 1.0);
    const double support = filterSupport * filterScale;
    const double inverseFilterScale = 1.0 / filterScale;

    AxisCoefficients axis;
    axis.taps = static_cast<int>(std::ceil(support)) * 2 + 1;
    axis.first.resize(static_cast<std::size_t>(outSize));
    axis.count.resize(static_cast<std::size_t>(outSize));
    axis.weights.assign(static_cast<std::size_t>(outSize) * static_cast<std::size_t>(axis.taps), 0);

    std::vector<double> raw(static_cast<std::size_t>(axis.taps));
    for (int i = 0; i < outSize; ++i) {
        const double center = (i + 0.5) * scale;
        int lo = static_cast<int>(center - support + 0.5);
        lo = std::max(lo, 0);
        int hi = static_cast<int>(center + support + 0.5);
        hi = std::min(hi, inSize);
        const int n = std::clamp(hi - lo, 0, axis.taps);

        double total = 0.0;
        for (int t = 0; t < n; ++t) {
            const double x = (t + lo - center + 0.5) * inverseFilterScale;
            const double w = cubic ? bicubicWeight(x) : bilinearWeight(x);
            raw[static_cast<std::size_t>(t)] = w;
            total += w;
        }
        std::int32_t* fixed = &axis.weights[static_cast<std::size_t>(i) * static_cast<std::size_t>(axis.taps)];
        for (int t = 0; t < n; ++t) {
            double w = raw[static_cast<std::size_t>(t)];
            if (total != 0.0)
                w /= total;
            // Round half away from zero, as Pillow does.
            const double scaled = w * (1 << kPrecisionBits);
            fixed[t] = static_cast<std::int32_t>(w < 0 ? -0.5 + scaled : 0.5 + scaled);
        }
        axis.first[static_cast<std::size_t>(i)] = lo;
        axis.count[static_cast<std::size_t>(i)] = n;
    }
    return axis;
}

inline std::uint8_t clipFixedPoint(std::int32_t accumulator)
{
    if (accumulator < 0)
        return 0;
    const std::int32_t value = accumulator >> kPrecisionBits;
    return static_cast<std::uint8_t>(value > 255 ? 255 : value);
}

// Resamples rows [rowBegin, rowEnd) of `in` horizontally into `out` (rowEnd - rowBegin rows).
void resampleHorizontal(const cv::Mat& in, int rowBegin, int rowEnd, const AxisCoefficients& axis, cv::Mat& out)
{
    const int outWidth = out.cols;
    constexpr std::int32_t half = 1 << (kPrecisionBits - 1);
    for (int y = rowBegin; y < rowEnd; ++y) {
        const std::uint8_t* src = in.ptr<std::uint8_t>(y);
        std::uint8_t* dst = out.ptr<std::uint8_t>(y - rowBegin);
        for (int x = 0; x < outWidth; ++x) {
            const std::int32_t* k = &axis.weights[static_cast<std::size_t>(x) * static_cast<std::size_t>(axis.taps)];
            const std::uint8_t* p = src + static_cast<std::ptrdiff_t>(axis.first[static_cast<std::size_t>(x)]) * 3;
            const int n = axis.count[static_cast<std::size_t>(x)];
            std::int32_t r = half, g = half, b = half;
            for (int t = 0; t < n; ++t, p += 3) {
                r += p[0] * k[t];
                g += p[1] * k[t];
                b += p[2] * k[t];
            }
            dst[3 * x + 0] = clipFixedPoint(r);
            dst[3 * x + 1] = clipFixedPoint(g);
            dst[3 * x + 2] = clipFixedPoint(b);
        }
    }
}

// Resamples `in` vertically; row indices of `axis` are shifted by `rowOffset` (the first row that `in`
// holds). Accumulating whole rows keeps the inner loop contiguous; integer sums do not depend on order.
void resampleVertical(const cv::Mat& in, int rowOffset, const AxisCoefficients& axis, cv::Mat& out)
{
    const int rowLength = out.cols * 3;
    constexpr std::int32_t half = 1 << (kPrecisionBits - 1);
    std::vector<std::int32_t> accumulator(static_cast<std::size_t>(rowLength));
    for (int y = 0; y < out.rows; ++y) {
        std::fill(accumulator.begin(), accumulator.end(), half);
        const std::int32_t* k = &axis.weights[static_cast<std::size_t>(y) * static_cast<std::size_t>(axis.taps)];
        const int first = axis.first[static_cast<std::size_t>(y)] - rowOffset;
        const int n = axis.count[static_cast<std::size_t>(y)];
        std::int32_t* acc = accumulator.data();
        for (int t = 0; t < n; ++t) {
            const std::uint8_t* src = in.ptr<std::uint8_t>(first + t);
            const std::int32_t w = k[t];
            for (int j = 0; j < rowLength; ++j)
                acc[j] += src[j] * w;
        }
        std::uint8_t* dst = out.ptr<std::uint8_t>(y);
        for (int j = 0; j < rowLength; ++j)
            dst[j] = clipFixedPoint(acc[j]);
    }
}

void requireRgb(const cv::Mat& rgb, const char* function)
{
    if (rgb.empty() || rgb.type() != CV_8UC3)
        throw Error(std::string(function) + ": expected a non-empty 8-bit RGB image (CV_8UC3), got "
                    + std::to_string(rgb.cols) + "x" + std::to_string(rgb.rows) + " of type "
                    + std::to_string(rgb.type()));
}

// resizeShorterSide without the defensive copy when nothing changes.
cv::Mat resizeShorterSideShared(const cv::Mat& rgb, int size, ResizeFilter filter)
{
    requireRgb(rgb, "resizeShorterSide");
    const cv::Size target = shorterSideSize(rgb.cols, rgb.rows, size);
    if (target.width == rgb.cols && target.height == rgb.rows)
        return rgb;
    return resizePil(rgb, target.width, target.height, filter);
}

// centerCrop that returns a view into `rgb` when no padding is needed.
cv::Mat centerCropShared(const cv::Mat& rgb, int size)
{
    requireRgb(rgb, "centerCrop");
    if (size <= 0)
        throw Error("centerCrop: crop size must be positive, got " + std::to_string(size));
    cv::Mat image = rgb;
    if (size > image.cols || size > image.rows) {
        const int padX = std::max(size - image.cols, 0);
        const int padY = std::max(size - image.rows, 0);
        cv::copyMakeBorder(image, image, padY / 2, (padY + 1) / 2, padX / 2, (padX + 1) / 2, cv::BORDER_CONSTANT,
                           cv::Scalar::all(0));
        if (image.cols == size && image.rows == size)
            return image;
    }
    const int top = static_cast<int>(roundHalfToEven((image.rows - size) / 2.0));
    const int left = static_cast<int>(roundHalfToEven((image.cols - size) / 2.0));
    return image(cv::Rect(left, top, size, size));
}

template<bool Mirrored>
void normalizeInto(const cv::Mat& rgb, const Normalization& norm, float* out)
{
    requireRgb(rgb, "toNormalizedChw");
    if (out == nullptr)
        throw Error("toNormalizedChw: output buffer is null");
    // 768 values cover every input; each is computed with torchvision's float32 operation order.
    float table[3][256];
    for (int c = 0; c < 3; ++c) {
        for (int v = 0; v < 256; ++v) {
            const float scaled = static_cast<float>(v) / 255.0f;
            const float centered = scaled - norm.mean[static_cast<std::size_t>(c)];
            table[c][v] = centered / norm.std[static_cast<std::size_t>(c)];
        }
    }
    const std::size_t plane = static_cast<std::size_t>(rgb.rows) * static_cast<std::size_t>(rgb.cols);
    float* red = out;
    float* green = out + plane;
    float* blue = out + 2 * plane;
    const int width = rgb.cols;
    for (int y = 0; y < rgb.rows; ++y) {
        const std::uint8_t* src = rgb.ptr<std::uint8_t>(y);
        const std::size_t rowStart = static_cast<std::size_t>(y) * static_cast<std::size_t>(width);
        for (int x = 0; x < width; ++x) {
            const int sourceX = Mirrored ? width - 1 - x : x;
            const std::uint8_t* p = src + 3 * sourceX;
            red[rowStart + x] = table[0][p[0]];
            green[rowStart + x] = table[1][p[1]];
            blue[rowStart + x] = table[2][p[2]];
        }
    }
}

// A JPEG is complete when its marker structure reaches EOI. libjpeg silently pads truncated files with
// grey, whereas PIL refuses them ("image file is truncated"); this restores PIL's verdict.
bool jpegReachesEndMarker(const std::vector<std::uint8_t>& bytes)
{
    const std::size_t n = bytes.size();
    std::size_t i = 2; // past SOI
    while (i + 1 < n) {
        if (bytes[i] != 0xFF) { // stray bytes between segments: libjpeg skips them too
            ++i;
            continue;
        }
        const std::uint8_t marker = bytes[i + 1];
        if (marker == 0xFF) { // fill byte
            ++i;
            continue;
        }
        if (marker == 0xD9)
            return true;
        if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) { // markers without a length
            i += 2;
            continue;
        }
        if (i + 3 >= n)
            return false;
        const std::size_t length = (static_cast<std::size_t>(bytes[i + 2]) << 8) | bytes[i + 3];
        if (length < 2)
            return false;
        i += 2 + length;
        if (marker == 0xDA) {
            // Entropy-coded data: 0xFF is followed by a stuffed 0x00 or a restart marker until the
            // next real marker.
            while (i + 1 < n) {
                if (bytes[i] == 0xFF && bytes[i + 1] != 0x00 && !(bytes[i + 1] >= 0xD0 && bytes[i + 1] <= 0xD7)
                    && bytes[i + 1] != 0xFF)
                    break;
                ++i;
            }
        }
    }
    return false;
}

std::string quoted(const std::string& name)
{
    return "'" + name + "'";
}

std::atomic<std::int64_t> g_maxImagePixels{kDefaultMaxImagePixels};

std::uint32_t bigEndian32(const std::uint8_t* p)
{
    return (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) | p[3];
}

std::uint32_t littleEndian(const std::uint8_t* p, int bytes)
{
    std::uint32_t value = 0;
    for (int i = bytes - 1; i >= 0; --i)
        value = (value << 8) | p[i];
    return value;
}

std::uint64_t readUnsigned(const std::uint8_t* p, int bytes, bool bigEndian)
{
    std::uint64_t value = 0;
    for (int i = 0; i < bytes; ++i)
        value = (value << 8) | p[bigEndian ? i : bytes - 1 - i];
    return value;
}

using HeaderSize = std::optional<std::pair<std::int64_t, std::int64_t>>;

// TIFF (classic and BigTIFF): ImageWidth and ImageLength of the first IFD, the page OpenCV decodes.
HeaderSize tiffSize(const std::uint8_t* b, std::size_t n)
{
    if (n < 8 || !((b[0] == 'I' && b[1] == 'I') || (b[0] == 'M' && b[1] == 'M')))
        return std::nullopt;
    const bool big = b[0] == 'M';
    const std::uint64_t version = readUnsigned(b + 2, 2, big);
    if (version != 42 && version != 43)
        return std::nullopt;
    const bool bigTiff = version == 43;
    if (bigTiff && n < 16)
        return std::nullopt;
    const int countBytes = bigTiff ? 8 : 2, entryBytes = bigTiff ? 20 : 12, valueBytes = bigTiff ? 8 : 4;
    const std::uint64_t ifd = bigTiff ? readUnsigned(b + 8, 8, big) : readUnsigned(b + 4, 4, big);
    if (ifd >= n || n - ifd < std::uint64_t(countBytes))
        return std::nullopt;
    const std::uint64_t entries = readUnsigned(b + ifd, countBytes, big);
    std::int64_t width = -1, height = -1;
    for (std::uint64_t e = 0; e < entries; ++e) {
        const std::uint64_t at = ifd + countBytes + e * entryBytes;
        if (at + entryBytes > n)
            break;
        const std::uint64_t tag = readUnsigned(b + at, 2, big), type = readUnsigned(b + at + 2, 2, big);
        // SHORT, LONG or LONG8; a value that fits is stored left-aligned in the value field.
        const int size = type == 3 ? 2 : type == 4 ? 4 : type == 16 ? 8 : 0;
        if ((tag != 256 && tag != 257) || size == 0 || size > valueBytes)
            continue;
        const auto value = static_cast<std::int64_t>(readUnsigned(b + at + entryBytes - valueBytes, size, big) & 0x7FFFFFFFFFFFFFFF);
        (tag == 256 ? width : height) = value;
    }
    if (width < 0 || height < 0)
        return std::nullopt;
    return std::make_pair(width, height);
}

// The text headers of Netpbm (P1-P6: width height), PFM (PF/Pf: width height) and PAM (P7: WIDTH/HEIGHT lines).
HeaderSize netpbmSize(const std::uint8_t* b, std::size_t n)
{
    if (n < 3 || b[0] != 'P' || !((b[1] >= '1' && b[1] <= '7') || b[1] == 'F' || b[1] == 'f'))
        return std::nullopt;
    std::size_t i = 2;
    // The next whitespace-separated word; '#' starts a comment up to the end of the line (not in PFM, harmless).
    auto word = [&]() -> std::string {
        for (;;) {
            while (i < n && std::isspace(b[i]))
                ++i;
            if (i < n && b[i] == '#') {
                while (i < n && b[i] != '\n')
                    ++i;
                continue;
            }
            break;
        }
        std::string out;
        while (i < n && !std::isspace(b[i]) && out.size() < 32)
            out += static_cast<char>(b[i++]);
        return out;
    };
    auto number = [](const std::string& text) -> std::int64_t {
        if (text.empty() || text.size() > 18 || !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
            return -1;
        return std::stoll(text);
    };
    if (b[1] != '7') {
        const std::int64_t width = number(word()), height = number(word());
        if (width < 0 || height < 0)
            return std::nullopt;
        return std::make_pair(width, height);
    }
    std::int64_t width = -1, height = -1;
    for (int words = 0; words < 64; ++words) {
        const std::string key = word();
        if (key.empty() || key == "ENDHDR")
            break;
        if (key == "WIDTH")
            width = number(word());
        else if (key == "HEIGHT")
            height = number(word());
    }
    if (width < 0 || height < 0)
        return std::nullopt;
    return std::make_pair(width, height);
}

// Radiance HDR: "#?RADIANCE" (or "#?RGBE"), header lines, an empty line, then "-Y H +X W" (either axis first).
HeaderSize radianceSize(const std::uint8_t* b, std::size_t n)
{
    const std::string head(reinterpret_cast<const char*>(b), std::min<std::size_t>(n, 64 * 1024));
    if (head.rfind("#?", 0) != 0)
        return std::nullopt;
    const auto blank = head.find("\n\n");
    if (blank == std::string::npos)
        return std::nullopt;
    std::istringstream line(head.substr(blank + 2, head.find('\n', blank + 2) - blank - 2));
    std::string firstAxis, secondAxis;
    std::int64_t first = -1, second = -1;
    if (!(line >> firstAxis >> first >> secondAxis >> second) || firstAxis.size() != 2 || secondAxis.size() != 2 || first < 0 || second < 0)
        return std::nullopt;
    return firstAxis[1] == 'Y' ? std::make_pair(second, first) : std::make_pair(first, second);
}

// JPEG 2000: a bare codestream's SIZ marker, or the ihdr box inside a JP2 file's jp2h box.
HeaderSize jpeg2000Size(const std::uint8_t* b, std::size_t n)
{
    if (n >= 24 && b[0] == 0xFF && b[1] == 0x4F && b[2] == 0xFF && b[3] == 0x51) {
        const auto width = std::int64_t(bigEndian32(b + 8)) - bigEndian32(b + 16);
        const auto height = std::int64_t(bigEndian32(b + 12)) - bigEndian32(b + 20);
        if (width < 0 || height < 0)
            return std::nullopt;
        return std::make_pair(width, height);
    }
    static const std::uint8_t jp2Signature[] = {0, 0, 0, 0x0C, 'j', 'P', ' ', ' ', 0x0D, 0x0A, 0x87, 0x0A};
    if (n < 12 || !std::equal(jp2Signature, jp2Signature + 12, b))
        return std::nullopt;
    // Boxes: length (0: to the end; 1: a 64-bit length follows), type, content.
    std::size_t at = 0, end = n;
    while (at + 8 <= end) {
        std::uint64_t length = bigEndian32(b + at);
        std::size_t headerBytes = 8;
        if (length == 1) {
            if (at + 16 > end)
                break;
            length = readUnsigned(b + at + 8, 8, true);
            headerBytes = 16;
        } else if (length == 0) {
            length = end - at;
        }
        if (length < headerBytes || length > end - at)
            break;
        if (std::equal(b + at + 4, b + at + 8, "jp2h")) {
            end = at + length;  // the superbox: walk its boxes
            at += headerBytes;
            continue;
        }
        if (std::equal(b + at + 4, b + at + 8, "ihdr") && length >= headerBytes + 8)
            return std::make_pair<std::int64_t, std::int64_t>(bigEndian32(b + at + headerBytes + 4), bigEndian32(b + at + headerBytes));
        at += length;
    }
    return std::nullopt;
}

// OpenEXR: the dataWindow attribute (box2i: xMin, yMin, xMax, yMax) of the first header.
HeaderSize openExrSize(const std::uint8_t* b, std::size_t n)
{
    if (n < 8 || !(b[0] == 0x76 && b[1] == 0x2F && b[2] == 0x31 && b[3] == 0x01))
        return std::nullopt;
    std::size_t at = 8;
    auto cString = [&]() -> std::string {
        std::string out;
        while (at < n && b[at] != 0 && out.size() < 256)
            out += static_cast<char>(b[at++]);
        ++at;  // the terminating zero
        return out;
    };
    while (at < n) {
        const std::string name = cString();
        if (name.empty())
            break;
        const std::string type = cString();
        if (at + 4 > n)
            break;
        const std::uint64_t size = littleEndian(b + at, 4);
        at += 4;
        if (size > n - at)
            break;
        if (name == "dataWindow" && type == "box2i" && size == 16) {
            const auto coordinate = [&](int k) { return std::int64_t(static_cast<std::int32_t>(littleEndian(b + at + 4 * k, 4))); };
            const std::int64_t width = coordinate(2) - coordinate(0) + 1, height = coordinate(3) - coordinate(1) + 1;
            if (width < 0 || height < 0)
                return std::nullopt;
            return std::make_pair(width, height);
        }
        at += size;
    }
    return std::nullopt;
}

// Sun raster: the magic number, then width and height (big-endian).
HeaderSize sunRasterSize(const std::uint8_t* b, std::size_t n)
{
    if (n < 32 || bigEndian32(b) != 0x59A66A95)
        return std::nullopt;
    return std::make_pair<std::int64_t, std::int64_t>(bigEndian32(b + 4), bigEndian32(b + 8));
}

} // namespace

void setMaxImagePixels(std::int64_t pixels)
{
    g_maxImagePixels = pixels > 0 ? pixels : kDefaultMaxImagePixels;
}

std::int64_t maxImagePixels()
{
    return g_maxImagePixels;
}

std::optional<std::pair<std::int64_t, std::int64_t>> imageHeaderSize(const std::vector<std::uint8_t>& bytes)
{
    const std::size_t n = bytes.size();
    const std::uint8_t* b = bytes.data();
    // PNG: the signature, then IHDR's width and height.
    static const std::uint8_t pngSignature[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    if (n >= 24 && std::equal(b, b + 8, pngSignature) && std::equal(b + 12, b + 16, "IHDR"))
        return std::make_pair<std::int64_t, std::int64_t>(bigEndian32(b + 16), bigEndian32(b + 20));
    // BMP: BITMAPINFOHEADER's width and height (negative height: top-down rows); the old core header has 16-bit fields.
    if (n >= 26 && b[0] == 'B' && b[1] == 'M') {
        if (littleEndian(b + 14, 4) == 12)
            return std::make_pair<std::int64_t, std::int64_t>(littleEndian(b + 18, 2), littleEndian(b + 20, 2));
        const auto width = static_cast<std::int32_t>(littleEndian(b + 18, 4));
        const auto height = static_cast<std::int32_t>(littleEndian(b + 22, 4));
        return std::make_pair(std::abs(std::int64_t(width)), std::abs(std::int64_t(height)));
    }
    // WebP: RIFF....WEBP, then a VP8 (lossy), VP8L (lossless) or VP8X (extended) chunk.
    if (n >= 30 && std::equal(b, b + 4, "RIFF") && std::equal(b + 8, b + 12, "WEBP")) {
        if (std::equal(b + 12, b + 16, "VP8 "))
            return std::make_pair<std::int64_t, std::int64_t>(littleEndian(b + 26, 2) & 0x3FFF, littleEndian(b + 28, 2) & 0x3FFF);
        if (std::equal(b + 12, b + 16, "VP8L")) {
            const std::uint32_t bits = littleEndian(b + 21, 4);
            return std::make_pair<std::int64_t, std::int64_t>((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1);
        }
        if (std::equal(b + 12, b + 16, "VP8X"))
            return std::make_pair<std::int64_t, std::int64_t>(littleEndian(b + 24, 3) + 1, littleEndian(b + 27, 3) + 1);
        return std::nullopt;
    }
    // JPEG: the first start-of-frame marker (SOF0-SOF15 but DHT, JPG and DAC) holds height and width.
    if (n >= 4 && b[0] == 0xFF && b[1] == 0xD8) {
        std::size_t i = 2;
        while (i + 9 < n) {
            if (b[i] != 0xFF) {
                ++i;
                continue;
            }
            const std::uint8_t marker = b[i + 1];
            if (marker == 0xFF || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) {
                i += marker == 0xFF ? 1 : 2;
                continue;
            }
            if (marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC)
                return std::make_pair<std::int64_t, std::int64_t>((b[i + 7] << 8) | b[i + 8], (b[i + 5] << 8) | b[i + 6]);
            if (marker == 0xDA || marker == 0xD9)
                return std::nullopt;  // no frame header before the scan: a broken file, for the decoder to refuse
            i += 2 + ((std::size_t(b[i + 2]) << 8) | b[i + 3]);
        }
        return std::nullopt;
    }
    // The other formats OpenCV 4.6 decodes here (DICOM, through GDCM, has no reader: refused before decoding).
    for (const auto reader : {tiffSize, netpbmSize, radianceSize, jpeg2000Size, openExrSize, sunRasterSize})
        if (const HeaderSize size = reader(b, n))
            return size;
    return std::nullopt;
}

double roundHalfToEven(double value)
{
    const double lower = std::floor(value);
    const double fraction = value - lower; // exact for every finite double
    if (fraction > 0.5)
        return lower + 1.0;
    if (fraction < 0.5)
        return lower;
    return std::fmod(lower, 2.0) == 0.0 ? lower : lower + 1.0;
}

cv::Mat decodeImage(const std::string& path)
{
    namespace fs = std::filesystem;
    const fs::path filePath = pathFromUtf8(path);
    std::error_code ec;
    const fs::file_status status = fs::status(filePath, ec);
    if (!fs::exists(status))
        throw Error("cannot read image " + quoted(path) + ": file not found");
    // Opening a FIFO would block until a writer comes and a device never ends: refuse all but regular files.
    if (!fs::is_regular_file(status)) {
        struct stat info {};
        const bool known = ::stat(path.c_str(), &info) == 0;
        throw Error("cannot read image " + quoted(path) + ": it is " + (known ? fileKindName(info.st_mode) : "not a regular file") +
                    (known ? ", not a regular file" : ""));
    }

    std::ifstream file(filePath, std::ios::binary);
    if (!file)
        throw Error("cannot read image " + quoted(path) + ": cannot open the file");
    file.seekg(0, std::ios::end);
    const std::streamoff size = file.tellg();
    if (size < 0)
        throw Error("cannot read image " + quoted(path) + ": cannot determine the file size");
    file.seekg(0, std::ios::beg);
    std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
    if (size > 0 && !file.read(reinterpret_cast<char*>(bytes.data()), size))
        throw Error("cannot read image " + quoted(path) + ": read error");
    return decodeImage(bytes, path);
}

cv::Mat decodeImage(const std::vector<std::uint8_t>& bytes, const std::string& nameForErrors)
{
    const std::string prefix = "cannot decode image " + quoted(nameForErrors) + ": ";
    if (bytes.empty())
        throw Error(prefix + "the file is empty");

    const bool isJpeg = bytes.size() >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF;
    if (isJpeg && !jpegReachesEndMarker(bytes))
        throw Error(prefix + "the JPEG data is truncated (no end-of-image marker)");

    if (bytes.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()))
        throw Error(prefix + "the file is larger than 2 GiB");
    // Decoding is only trusted with the size known from the header: OpenCV's own pixel limit is read once
    // per process from OPENCV_IO_MAX_IMAGE_PIXELS (default 2^30), so it cannot follow --max-image-pixels.
    const auto size = imageHeaderSize(bytes);
    if (!size)
        throw Error(prefix + "unknown format or corrupt data (its header gives no image size)");
    const std::int64_t limit = maxImagePixels();
    // Divided rather than multiplied: a TIFF or PAM header can claim sides whose product overflows.
    if (size->first > 0 && size->second > limit / size->first)
        throw Error(prefix + std::to_string(size->first) + " x " + std::to_string(size->second) + " pixels, over the limit of " +
                    std::to_string(limit) + " (--max-image-pixels); skipped");

    cv::Mat decoded;
    try {
        // IMREAD_UNCHANGED keeps depth and alpha so the conversions below are ours, and (like PIL) applies
        // no EXIF rotation.
        const cv::Mat buffer(1, static_cast<int>(bytes.size()), CV_8UC1, const_cast<std::uint8_t*>(bytes.data()));
        decoded = cv::imdecode(buffer, cv::IMREAD_UNCHANGED);
    } catch (const cv::Exception& e) {
        throw Error(prefix + "OpenCV failed: " + e.err);
    }
    if (decoded.empty() || decoded.dims != 2)
        throw Error(prefix + "unknown format or corrupt data");

    cv::Mat eightBit;
    switch (decoded.depth()) {
    case CV_8U:
        eightBit = decoded;
        break;
    case CV_16U: {
        // Keep the high byte, as PIL does when it reads 16-bit colour PNGs.
        eightBit.create(decoded.rows, decoded.cols, CV_MAKETYPE(CV_8U, decoded.channels()));
        const int rowLength = decoded.cols * decoded.channels();
        for (int y = 0; y < decoded.rows; ++y) {
            const std::uint16_t* src = decoded.ptr<std::uint16_t>(y);
            std::uint8_t* dst = eightBit.ptr<std::uint8_t>(y);
            for (int j = 0; j < rowLength; ++j)
                dst[j] = static_cast<std::uint8_t>(src[j] >> 8);
        }
        break;
    }
    case CV_32F:
    case CV_64F:
        decoded.convertTo(eightBit, CV_MAKETYPE(CV_8U, decoded.channels()), 255.0); // [0, 1] floats
        break;
    default:
        throw Error(prefix + "unsupported sample depth (OpenCV depth " + std::to_string(decoded.depth()) + ")");
    }

    cv::Mat rgb;
    switch (eightBit.channels()) {
    case 1:
        cv::cvtColor(eightBit, rgb, cv::COLOR_GRAY2RGB);
        break;
    case 2: { // grey + alpha
        cv::Mat gray;
        cv::extractChannel(eightBit, gray, 0);
        cv::cvtColor(gray, rgb, cv::COLOR_GRAY2RGB);
        break;
    }
    case 3:
        cv::cvtColor(eightBit, rgb, cv::COLOR_BGR2RGB);
        break;
    case 4:
        cv::cvtColor(eightBit, rgb, cv::COLOR_BGRA2RGB);
        break;
    default:
        throw Error(prefix + "unsupported channel count " + std::to_string(eightBit.channels()));
    }
    return rgb;
}

cv::Mat resizePil(const cv::Mat& rgb, int width, int height, ResizeFilter filter)
{
    requireRgb(rgb, "resizePil");
    if (width <= 0 || height <= 0)
        throw Error("resizePil: target size must be positive, got " + std::to_string(width) + "x"
                    + std::to_string(height));
    if (width == rgb.cols && height == rgb.rows)
        return rgb.clone();

    const bool horizontal = width != rgb.cols;
    const bool vertical = height != rgb.rows;
    const AxisCoefficients columns = horizontal ? computeAxisCoefficients(rgb.cols, width, filter) : AxisCoefficients();
    const AxisCoefficients rows = vertical ? computeAxisCoefficients(rgb.rows, height, filter) : AxisCoefficients();

    if (!vertical) {
        cv::Mat out(height, width, CV_8UC3);
        resampleHorizontal(rgb, 0, rgb.rows, columns, out);
        return out;
    }

    cv::Mat source = rgb;
    int rowOffset = 0;
    if (horizontal) {
        // Only the rows the vertical pass will read need the horizontal pass.
        const int firstRow = rows.first.front();
        const int endRow = rows.first.back() + rows.count.back();
        cv::Mat intermediate(endRow - firstRow, width, CV_8UC3);
        resampleHorizontal(rgb, firstRow, endRow, columns, intermediate);
        source = intermediate;
        rowOffset = firstRow;
    }
    cv::Mat out(height, width, CV_8UC3);
    resampleVertical(source, rowOffset, rows, out);
    return out;
}

cv::Size shorterSideSize(int width, int height, int size)
{
    if (size <= 0)
        throw Error("resizeShorterSide: size must be positive, got " + std::to_string(size));
    if (width <= 0 || height <= 0)
        throw Error("resizeShorterSide: empty image");
    const int shorter = std::min(width, height);
    const int longer = std::max(width, height);
    // Python: int(size * long / short); the product is exact, the division correctly rounded.
    const double longSide = static_cast<double>(static_cast<std::int64_t>(size) * longer) / shorter;
    if (longSide >= static_cast<double>(std::numeric_limits<int>::max()))
        throw Error("resizeShorterSide: the resized image would be too large");
    const int newLong = static_cast<int>(longSide);
    return width <= height ? cv::Size(size, newLong) : cv::Size(newLong, size);
}

cv::Mat resizeShorterSide(const cv::Mat& rgb, int size, ResizeFilter filter)
{
    cv::Mat result = resizeShorterSideShared(rgb, size, filter);
    return result.data == rgb.data ? rgb.clone() : result;
}

cv::Mat centerCrop(const cv::Mat& rgb, int size)
{
    return centerCropShared(rgb, size).clone();
}

Normalization Normalization::clip()
{
    // The Python constants are doubles that torch rounds to float32; cast the same doubles.
    Normalization n;
    n.mean = {static_cast<float>(0.48145466), static_cast<float>(0.4578275), static_cast<float>(0.40821073)};
    n.std = {static_cast<float>(0.26862954), static_cast<float>(0.26130258), static_cast<float>(0.27577711)};
    return n;
}

Normalization Normalization::imagenet()
{
    Normalization n;
    n.mean = {static_cast<float>(0.485), static_cast<float>(0.456), static_cast<float>(0.406)};
    n.std = {static_cast<float>(0.229), static_cast<float>(0.224), static_cast<float>(0.225)};
    return n;
}

Normalization Normalization::half()
{
    Normalization n;
    n.mean = {0.5f, 0.5f, 0.5f};
    n.std = {0.5f, 0.5f, 0.5f};
    return n;
}

void toNormalizedChw(const cv::Mat& rgb, const Normalization& norm, float* out)
{
    normalizeInto<false>(rgb, norm, out);
}

void toNormalizedChwFlipped(const cv::Mat& rgb, const Normalization& norm, float* out)
{
    normalizeInto<true>(rgb, norm, out);
}

int EvalTransform::resizeSize() const
{
    if (resolution <= 0)
        throw Error("EvalTransform: resolution must be positive, got " + std::to_string(resolution));
    if (!(cropFraction > 0.0) || !std::isfinite(cropFraction))
        throw Error("EvalTransform: crop fraction must be positive, got " + std::to_string(cropFraction));
    // timm: math.floor(img_size / crop_pct)
    const double size = std::floor(resolution / cropFraction);
    if (size < 1.0 || size > 1e6)
        throw Error("EvalTransform: crop fraction " + std::to_string(cropFraction) + " gives an unusable resize size");
    return static_cast<int>(size);
}

void EvalTransform::apply(const cv::Mat& rgb, float* out) const
{
    const cv::Mat resized = resizeShorterSideShared(rgb, resizeSize(), filter);
    toNormalizedChw(centerCropShared(resized, resolution), norm, out);
}

} // namespace tunebench
