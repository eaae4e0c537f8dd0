#include "core/data/IdxFile.h"

#include "core/Error.h"
#include "core/io/RegularFile.h"

#include <zlib.h>

#include <algorithm>
#include <array>

namespace tunebench {

namespace {

// Sanity limits: far above any IDX dataset, low enough that a corrupt header cannot overflow sizes.
constexpr std::uint32_t kMaxSide = 1u << 16;
constexpr std::uint64_t kMaxPayloadBytes = std::uint64_t(1) << 36;

// zlib's gz* functions read gzipped and plain files alike.
class GzReader
{
public:
    explicit GzReader(const std::string& path) : m_path(path), m_file((requireRegularFile(path), gzopen(path.c_str(), "rb")))
    {
        if (!m_file)
            throw Error(path + ": cannot open file");
        gzbuffer(m_file, 1u << 17);
    }
    ~GzReader() { gzclose(m_file); }
    GzReader(const GzReader&) = delete;
    GzReader& operator=(const GzReader&) = delete;

    // Reads up to `size` bytes; fewer only at the end of the data.
    std::size_t readSome(std::uint8_t* target, std::size_t size)
    {
        std::size_t done = 0;
        while (done < size) {
            const unsigned chunk = static_cast<unsigned>(std::min<std::size_t>(size - done, 1u << 20));
            const int got = gzread(m_file, target + done, chunk);
            if (got < 0) {
                int code = 0;
                const char* message = gzerror(m_file, &code);
                std::string detail = message ? message : "unknown error";
                // zlib prefixes its message with the path; keep the path once.
                if (detail.compare(0, m_path.size() + 2, m_path + ": ") == 0)
                    detail = detail.substr(m_path.size() + 2);
                throw Error(m_path + ": read error (" + detail + ")");
            }
            if (got == 0)
                break;
            done += static_cast<std::size_t>(got);
        }
        return done;
    }

    void readExact(std::uint8_t* target, std::size_t size, const std::string& what)
    {
        if (readSome(target, size) != size)
            throw Error(m_path + ": file is truncated (" + what + ")");
    }

    bool atEnd()
    {
        std::uint8_t extra = 0;
        return readSome(&extra, 1) == 0;
    }

private:
    std::string m_path;
    gzFile m_file;
};

std::uint32_t bigEndian32(const std::uint8_t* bytes)
{
    return (std::uint32_t(bytes[0]) << 24) | (std::uint32_t(bytes[1]) << 16) | (std::uint32_t(bytes[2]) << 8)
        | std::uint32_t(bytes[3]);
}

std::string hex32(std::uint32_t value)
{
    static const char* digits = "0123456789abcdef";
    std::string text = "0x";
    for (int shift = 28; shift >= 0; shift -= 4)
        text += digits[(value >> shift) & 0xf];
    return text;
}

// Reads the magic and the dimension sizes, checking for ubyte data with `expectedDims` dimensions.
std::vector<std::uint32_t> readHeader(GzReader& reader, const std::string& path, int expectedDims)
{
    std::array<std::uint8_t, 4> magicBytes{};
    reader.readExact(magicBytes.data(), 4, "no IDX header");
    const std::uint32_t magic = bigEndian32(magicBytes.data());
    const std::uint32_t expectedMagic = 0x00000800u | static_cast<std::uint32_t>(expectedDims);
    if (magic != expectedMagic)
        throw Error(path + ": bad IDX magic number " + hex32(magic) + ", expected " + hex32(expectedMagic)
                    + (expectedDims == 3 ? " (unsigned-byte images)" : " (unsigned-byte labels)"));
    std::vector<std::uint32_t> dims(static_cast<std::size_t>(expectedDims));
    for (auto& dim : dims) {
        std::array<std::uint8_t, 4> bytes{};
        reader.readExact(bytes.data(), 4, "incomplete IDX header");
        dim = bigEndian32(bytes.data());
    }
    return dims;
}

void readPayload(GzReader& reader, const std::string& path, std::uint64_t size, std::vector<std::uint8_t>& out,
                 const std::string& what)
{
    // Grow with the data actually read, so a header that lies about its size cannot make us allocate
    // far more memory than the file holds.
    // Chunks start small and double, so that a lying header costs little before the data runs out.
    out.clear();
    std::uint64_t done = 0;
    std::uint64_t chunkLimit = 1u << 16;
    while (done < size) {
        const std::size_t chunk = static_cast<std::size_t>(std::min<std::uint64_t>(size - done, chunkLimit));
        chunkLimit = std::min<std::uint64_t>(chunkLimit * 2, 1u << 24);
        out.resize(static_cast<std::size_t>(done) + chunk);
        const std::size_t got = reader.readSome(out.data() + done, chunk);
        done += got;
        if (got < chunk)
            throw Error(path + ": file is truncated: the header announces " + what + " but only "
                        + std::to_string(done) + " of " + std::to_string(size) + " data bytes are present");
    }
    if (!reader.atEnd())
        throw Error(path + ": unexpected bytes after the " + what + " announced by the header");
}

} // namespace

IdxImages readIdxImages(const std::string& path)
{
    GzReader reader(path);
    const std::vector<std::uint32_t> dims = readHeader(reader, path, 3);
    const std::uint32_t count = dims[0], rows = dims[1], cols = dims[2];
    if (count == 0)
        throw Error(path + ": holds no images");
    if (rows == 0 || cols == 0 || rows > kMaxSide || cols > kMaxSide)
        throw Error(path + ": implausible image size " + std::to_string(rows) + "x" + std::to_string(cols));
    const std::uint64_t payload = std::uint64_t(count) * rows * cols;
    if (payload > kMaxPayloadBytes)
        throw Error(path + ": implausible image count " + std::to_string(count));

    IdxImages images;
    images.path = path;
    images.count = count;
    images.rows = static_cast<int>(rows);
    images.cols = static_cast<int>(cols);
    readPayload(reader, path, payload, images.pixels,
                std::to_string(count) + " images of " + std::to_string(rows) + "x" + std::to_string(cols));
    return images;
}

std::vector<std::uint8_t> readIdxLabels(const std::string& path)
{
    GzReader reader(path);
    const std::vector<std::uint32_t> dims = readHeader(reader, path, 1);
    if (dims[0] == 0)
        throw Error(path + ": holds no labels");
    std::vector<std::uint8_t> labels;
    readPayload(reader, path, dims[0], labels, std::to_string(dims[0]) + " labels");
    return labels;
}

} // namespace tunebench
