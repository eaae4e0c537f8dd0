#include "core/io/Safetensors.h"

#include "core/Error.h"
#include "core/io/AtomicFile.h"
#include "core/io/RegularFile.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <numeric>
#include <system_error>
#include <utility>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace tunebench {
namespace {

// ordered_json keeps the keys in file order, so tensors() can report header order.
using Json = nlohmann::ordered_json;

constexpr std::uint64_t kMaxHeaderLength = 100000000;  // same limit as the reference Rust reader
constexpr std::uint64_t kMaxInt64 = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
const char* const kMetadataKey = "__metadata__";

struct DtypeFacts
{
    SafeDtype dtype;
    const char* name;
    int bits;
};

constexpr DtypeFacts kDtypes[] = {
    {SafeDtype::Bool, "BOOL", 8},          {SafeDtype::U8, "U8", 8},
    {SafeDtype::I8, "I8", 8},              {SafeDtype::I16, "I16", 16},
    {SafeDtype::U16, "U16", 16},           {SafeDtype::F16, "F16", 16},
    {SafeDtype::BF16, "BF16", 16},         {SafeDtype::I32, "I32", 32},
    {SafeDtype::U32, "U32", 32},           {SafeDtype::F32, "F32", 32},
    {SafeDtype::F64, "F64", 64},           {SafeDtype::I64, "I64", 64},
    {SafeDtype::U64, "U64", 64},           {SafeDtype::C64, "C64", 64},
    {SafeDtype::F8_E5M2, "F8_E5M2", 8},    {SafeDtype::F8_E4M3, "F8_E4M3", 8},
    {SafeDtype::F8_E8M0, "F8_E8M0", 8},    {SafeDtype::F8_E4M3FNUZ, "F8_E4M3FNUZ", 8},
    {SafeDtype::F8_E5M2FNUZ, "F8_E5M2FNUZ", 8}, {SafeDtype::F4, "F4", 4},
    {SafeDtype::F6_E2M3, "F6_E2M3", 6},    {SafeDtype::F6_E3M2, "F6_E3M2", 6},
};

const DtypeFacts& factsOf(SafeDtype dtype)
{
    for (const DtypeFacts& facts : kDtypes) {
        if (facts.dtype == dtype)
            return facts;
    }
    // Only reachable through a cast of an out-of-range integer.
    throw Error("invalid safetensors dtype value " + std::to_string(static_cast<int>(dtype)));
}

bool lookupDtype(const std::string& name, SafeDtype& dtype)
{
    for (const DtypeFacts& facts : kDtypes) {
        if (name == facts.name) {
            dtype = facts.dtype;
            return true;
        }
    }
    return false;
}

// ceil(numel * bits / 8); false when it does not fit in 64 bits.
bool byteSizeOf(std::uint64_t numel, int bits, std::uint64_t& bytes)
{
    const auto bitsPerElement = static_cast<std::uint64_t>(bits);
    if (numel > std::numeric_limits<std::uint64_t>::max() / bitsPerElement)
        return false;
    const std::uint64_t totalBits = numel * bitsPerElement;
    bytes = totalBits / 8 + (totalBits % 8 != 0 ? 1 : 0);
    return true;
}

// Offset of the first byte that breaks UTF-8 (overlong forms, surrogates and code points above U+10FFFF
// included), or npos when the text is valid.
std::size_t firstInvalidUtf8(const char* text, std::size_t length)
{
    const auto* bytes = reinterpret_cast<const unsigned char*>(text);
    std::size_t i = 0;
    while (i < length) {
        const unsigned char lead = bytes[i];
        if (lead < 0x80) {
            ++i;
            continue;
        }
        std::size_t continuationCount = 0;
        std::uint32_t codePoint = 0;
        std::uint32_t smallestAllowed = 0;
        if ((lead & 0xE0) == 0xC0) {
            continuationCount = 1;
            codePoint = lead & 0x1F;
            smallestAllowed = 0x80;
        } else if ((lead & 0xF0) == 0xE0) {
            continuationCount = 2;
            codePoint = lead & 0x0F;
            smallestAllowed = 0x800;
        } else if ((lead & 0xF8) == 0xF0) {
            continuationCount = 3;
            codePoint = lead & 0x07;
            smallestAllowed = 0x10000;
        } else {
            return i;
        }
        if (length - i <= continuationCount)
            return i;
        for (std::size_t k = 1; k <= continuationCount; ++k) {
            const unsigned char next = bytes[i + k];
            if ((next & 0xC0) != 0x80)
                return i;
            codePoint = (codePoint << 6) | (next & 0x3F);
        }
        if (codePoint < smallestAllowed || codePoint > 0x10FFFF || (codePoint >= 0xD800 && codePoint <= 0xDFFF))
            return i;
        i += continuationCount + 1;
    }
    return std::string::npos;
}

// A name inside single quotes, with control characters escaped so that messages stay on one line.
std::string quoted(const std::string& text)
{
    static const char* const kHex = "0123456789abcdef";
    std::string result = "'";
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte < 0x20 || byte == 0x7F) {
            result += "\\x";
            result += kHex[byte >> 4];
            result += kHex[byte & 0xF];
        } else {
            result += c;
        }
    }
    return result + "'";
}

// A JSON value as it would appear in the header, cut short so a hostile header cannot flood a message.
std::string shortJson(const Json& value)
{
    constexpr std::size_t kMaxLength = 60;
    std::string text = value.dump(-1, ' ', false, Json::error_handler_t::replace);
    if (text.size() > kMaxLength)
        text = text.substr(0, kMaxLength) + "...";
    return text;
}

std::string shapeText(const std::vector<std::int64_t>& shape)
{
    std::string text = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) {
        if (i > 0)
            text += ", ";
        text += std::to_string(shape[i]);
    }
    return text + "]";
}

std::string offsetsText(std::uint64_t begin, std::uint64_t end)
{
    return "[" + std::to_string(begin) + ", " + std::to_string(end) + "]";
}

std::string systemMessage(int errorNumber)
{
    return std::generic_category().message(errorNumber);
}

bool isValidUtf8(const std::string& text)
{
    return firstInvalidUtf8(text.data(), text.size()) == std::string::npos;
}

// Finds repeated keys while nlohmann parses: its DOM silently keeps only the last one, but the format
// forbids duplicate tensor names and a repeated field would hide a conflicting value.
class DuplicateKeyFinder
{
public:
    Json::parser_callback_t callback()
    {
        return [this](int, Json::parse_event_t event, Json& parsed) {
            switch (event) {
            case Json::parse_event_t::object_start:
                m_openObjects.emplace_back();
                break;
            case Json::parse_event_t::object_end:
                if (!m_openObjects.empty())
                    m_openObjects.pop_back();
                break;
            case Json::parse_event_t::key:
                noteKey(parsed.get<std::string>());
                break;
            default:
                break;
            }
            return true;
        };
    }

    bool found() const { return m_found; }
    std::string describe() const
    {
        if (m_duplicateAtTopLevel)
            return "duplicate tensor name " + quoted(m_duplicate);
        return "duplicate key " + quoted(m_duplicate) + " inside entry " + quoted(m_parentKey);
    }

private:
    void noteKey(const std::string& key)
    {
        if (m_openObjects.empty())
            return;
        const bool topLevel = m_openObjects.size() == 1;
        if (topLevel)
            m_currentTopLevelKey = key;
        if (!m_openObjects.back().insert(key).second && !found()) {
            m_found = true;
            m_duplicate = key;
            m_duplicateAtTopLevel = topLevel;
            m_parentKey = m_currentTopLevelKey;
        }
    }

    std::vector<std::set<std::string>> m_openObjects;
    std::string m_currentTopLevelKey;
    std::string m_duplicate;
    std::string m_parentKey;
    bool m_duplicateAtTopLevel = false;
    bool m_found = false;
};

// Reads a JSON value that must be a non-negative integer (nlohmann stores those as number_unsigned).
enum class UnsignedCheck { Ok, Negative, NotInteger, NotNumber };

UnsignedCheck checkUnsigned(const Json& value)
{
    if (value.is_number_unsigned())
        return UnsignedCheck::Ok;
    if (value.is_number_integer())
        return UnsignedCheck::Negative;
    if (value.is_number_float())
        return UnsignedCheck::NotInteger;
    return UnsignedCheck::NotNumber;
}

void writeAll(int fd, const void* data, std::size_t size)
{
    const auto* bytes = static_cast<const char*>(data);
    while (size > 0) {
        const ssize_t written = ::write(fd, bytes, size);
        if (written < 0) {
            if (errno == EINTR)
                continue;
            throw std::system_error(errno, std::generic_category());
        }
        bytes += written;
        size -= static_cast<std::size_t>(written);
    }
}

} // namespace

std::string dtypeName(SafeDtype dtype)
{
    return factsOf(dtype).name;
}

SafeDtype parseDtype(const std::string& name)
{
    SafeDtype dtype = SafeDtype::F32;
    if (!lookupDtype(name, dtype))
        throw Error("unknown safetensors dtype " + quoted(name));
    return dtype;
}

int bitsPerElement(SafeDtype dtype)
{
    return factsOf(dtype).bits;
}

std::size_t dtypeAlignment(SafeDtype dtype)
{
    const int bits = bitsPerElement(dtype);
    return bits >= 8 ? static_cast<std::size_t>(bits / 8) : 1;
}

std::uint64_t tensorByteSize(SafeDtype dtype, const std::vector<std::int64_t>& shape)
{
    std::uint64_t numel = 1;
    for (const std::int64_t dim : shape) {
        if (dim < 0)
            throw Error("shape " + shapeText(shape) + " has a negative dimension");
        const auto udim = static_cast<std::uint64_t>(dim);
        if (udim != 0 && numel > kMaxInt64 / udim)
            throw Error("shape " + shapeText(shape) + " has too many elements for 64 bits");
        numel *= udim;
    }
    std::uint64_t bytes = 0;
    if (!byteSizeOf(numel, bitsPerElement(dtype), bytes))
        throw Error("shape " + shapeText(shape) + " of " + dtypeName(dtype)
                    + " is too large (its byte size overflows 64 bits)");
    return bytes;
}

std::int64_t SafetensorInfo::numel() const
{
    std::int64_t count = 1;
    for (const std::int64_t dim : shape)
        count *= dim;  // validated against overflow when the file was read
    return count;
}

// ---------------------------------------------------------------------------------------------------
// SafetensorsFile

SafetensorsFile::SafetensorsFile(const std::string& path)
    : m_path(path)
{
    requireRegularFile(path);
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        throw Error(path + ": cannot open (" + systemMessage(errno) + ")");

    struct stat status {};
    if (::fstat(fd, &status) != 0) {
        const int errorNumber = errno;
        ::close(fd);
        throw Error(path + ": cannot stat (" + systemMessage(errorNumber) + ")");
    }
    if (!S_ISREG(status.st_mode)) {
        ::close(fd);
        throw Error(path + ": not a regular file");
    }
    m_fileSize = static_cast<std::uint64_t>(status.st_size);
    if (m_fileSize < 8) {
        ::close(fd);
        throw Error(path + ": file is " + std::to_string(m_fileSize)
                    + " bytes, shorter than the 8-byte header length field");
    }
    if (m_fileSize > std::numeric_limits<std::size_t>::max()) {
        ::close(fd);
        throw Error(path + ": file is too large to map into memory");
    }

    void* mapping = ::mmap(nullptr, static_cast<std::size_t>(m_fileSize), PROT_READ, MAP_PRIVATE, fd, 0);
    const int mapError = errno;
    ::close(fd);  // the mapping keeps its own reference to the file
    if (mapping == MAP_FAILED)
        throw Error(path + ": cannot memory-map (" + systemMessage(mapError) + ")");
    m_mapping = mapping;

    try {
        const auto* bytes = static_cast<const std::uint8_t*>(m_mapping);
        std::uint64_t headerLength = 0;
        for (int i = 0; i < 8; ++i)
            headerLength |= static_cast<std::uint64_t>(bytes[i]) << (8 * i);
        if (headerLength > kMaxHeaderLength)
            throw Error(path + ": header length " + std::to_string(headerLength) + " exceeds the limit of "
                        + std::to_string(kMaxHeaderLength) + " bytes");
        if (headerLength > m_fileSize - 8)
            throw Error(path + ": header length " + std::to_string(headerLength)
                        + " runs past the end of the file (" + std::to_string(m_fileSize) + " bytes)");
        m_dataAreaOffset = 8 + headerLength;
        parseHeader(reinterpret_cast<const char*>(bytes + 8), static_cast<std::size_t>(headerLength));
    } catch (...) {
        unmap();
        throw;
    }
}

SafetensorsFile::~SafetensorsFile()
{
    unmap();
}

SafetensorsFile::SafetensorsFile(SafetensorsFile&& other) noexcept
    : m_path(std::move(other.m_path))
    , m_tensors(std::move(other.m_tensors))
    , m_indexByName(std::move(other.m_indexByName))
    , m_metadata(std::move(other.m_metadata))
    , m_mapping(std::exchange(other.m_mapping, nullptr))
    , m_fileSize(std::exchange(other.m_fileSize, 0))
    , m_dataAreaOffset(std::exchange(other.m_dataAreaOffset, 0))
{
}

SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&& other) noexcept
{
    if (this != &other) {
        unmap();
        m_path = std::move(other.m_path);
        m_tensors = std::move(other.m_tensors);
        m_indexByName = std::move(other.m_indexByName);
        m_metadata = std::move(other.m_metadata);
        m_mapping = std::exchange(other.m_mapping, nullptr);
        m_fileSize = std::exchange(other.m_fileSize, 0);
        m_dataAreaOffset = std::exchange(other.m_dataAreaOffset, 0);
    }
    return *this;
}

void SafetensorsFile::unmap()
{
    if (m_mapping) {
        ::munmap(m_mapping, static_cast<std::size_t>(m_fileSize));
        m_mapping = nullptr;
    }
}

const SafetensorInfo* SafetensorsFile::find(const std::string& name) const
{
    const auto it = m_indexByName.find(name);
    return it == m_indexByName.end() ? nullptr : &m_tensors[it->second];
}

const std::uint8_t* SafetensorsFile::data(const SafetensorInfo& info) const
{
    if (!m_mapping)
        throw Error(m_path + ": file is no longer open");
    const std::uint64_t dataAreaSize = m_fileSize - m_dataAreaOffset;
    if (info.begin > info.end || info.end > dataAreaSize)
        throw Error(m_path + ": tensor " + quoted(info.name) + " data_offsets " + offsetsText(info.begin, info.end)
                    + " do not lie inside this file's data area (" + std::to_string(dataAreaSize) + " bytes)");
    return static_cast<const std::uint8_t*>(m_mapping) + m_dataAreaOffset + info.begin;
}

void SafetensorsFile::parseHeader(const char* header, std::size_t headerLength)
{
    const std::string& path = m_path;
    if (headerLength == 0 || header[0] != '{')
        throw Error(path + ": header does not start with '{' (it must be a JSON object)");

    const std::size_t invalidAt = firstInvalidUtf8(header, headerLength);
    if (invalidAt != std::string::npos)
        throw Error(path + ": header is not valid UTF-8 (byte " + std::to_string(8 + invalidAt) + " of the file)");

    // nlohmann stops at a NUL byte as if the input ended there, so "{...}\0garbage" would pass. A raw NUL
    // is never valid JSON (inside strings it must be escaped), so refuse it up front.
    const void* nul = std::memchr(header, '\0', headerLength);
    if (nul)
        throw Error(path + ": header is not valid JSON (NUL byte at byte "
                    + std::to_string(8 + (static_cast<const char*>(nul) - header)) + " of the file)");

    DuplicateKeyFinder duplicates;
    Json root;
    try {
        root = Json::parse(header, header + headerLength, duplicates.callback());
    } catch (const Json::exception& error) {
        // Drop nlohmann's "[json.exception.parse_error.101] " prefix; the rest says where and why.
        std::string reason = error.what();
        const std::size_t prefixEnd = reason.find("] ");
        if (prefixEnd != std::string::npos)
            reason = reason.substr(prefixEnd + 2);
        throw Error(path + ": header is not valid JSON (" + reason + ")");
    }
    if (!root.is_object())
        throw Error(path + ": header is not a JSON object");
    if (duplicates.found())
        throw Error(path + ": header has a " + duplicates.describe());

    const std::uint64_t dataAreaSize = m_fileSize - m_dataAreaOffset;
    for (auto item = root.begin(); item != root.end(); ++item) {
        const std::string& name = item.key();
        const Json& entry = item.value();

        if (name == kMetadataKey) {
            if (!entry.is_object())
                throw Error(path + ": __metadata__ is " + shortJson(entry) + ", not an object of strings");
            for (auto field = entry.begin(); field != entry.end(); ++field) {
                if (!field.value().is_string())
                    throw Error(path + ": __metadata__ value of " + quoted(field.key()) + " is "
                                + shortJson(field.value()) + ", not a string");
                m_metadata[field.key()] = field.value().get<std::string>();
            }
            continue;
        }

        const std::string where = path + ": tensor " + quoted(name);
        if (!entry.is_object())
            throw Error(where + " is " + shortJson(entry) + ", not an object");

        // dtype
        const auto dtypeField = entry.find("dtype");
        if (dtypeField == entry.end())
            throw Error(where + " has no \"dtype\"");
        if (!dtypeField->is_string())
            throw Error(where + " \"dtype\" is " + shortJson(*dtypeField) + ", not a string");
        SafeDtype dtype = SafeDtype::F32;
        if (!lookupDtype(dtypeField->get<std::string>(), dtype))
            throw Error(where + " has unknown dtype " + quoted(dtypeField->get<std::string>()));

        // shape
        const auto shapeField = entry.find("shape");
        if (shapeField == entry.end())
            throw Error(where + " has no \"shape\"");
        if (!shapeField->is_array())
            throw Error(where + " \"shape\" is " + shortJson(*shapeField) + ", not an array");
        std::vector<std::int64_t> shape;
        shape.reserve(shapeField->size());
        std::uint64_t numel = 1;
        for (const Json& dim : *shapeField) {
            switch (checkUnsigned(dim)) {
            case UnsignedCheck::Ok:
                break;
            case UnsignedCheck::Negative:
                throw Error(where + " shape " + shortJson(*shapeField) + " has a negative dimension");
            case UnsignedCheck::NotInteger:
                throw Error(where + " shape " + shortJson(*shapeField) + " has a non-integer dimension");
            case UnsignedCheck::NotNumber:
                throw Error(where + " shape " + shortJson(*shapeField) + " has a dimension that is not a number");
            }
            const auto udim = dim.get<std::uint64_t>();
            if (udim > kMaxInt64 || (udim != 0 && numel > kMaxInt64 / udim))
                throw Error(where + " shape " + shortJson(*shapeField)
                            + " has too many elements (the count overflows 64 bits)");
            numel *= udim;
            shape.push_back(static_cast<std::int64_t>(udim));
        }

        // data_offsets
        const auto offsetsField = entry.find("data_offsets");
        if (offsetsField == entry.end())
            throw Error(where + " has no \"data_offsets\"");
        if (!offsetsField->is_array() || offsetsField->size() != 2)
            throw Error(where + " \"data_offsets\" is " + shortJson(*offsetsField)
                        + ", not an array of two offsets");
        for (const Json& offset : *offsetsField) {
            if (checkUnsigned(offset) != UnsignedCheck::Ok)
                throw Error(where + " \"data_offsets\" " + shortJson(*offsetsField)
                            + " are not two non-negative integers");
        }
        const auto begin = (*offsetsField)[0].get<std::uint64_t>();
        const auto end = (*offsetsField)[1].get<std::uint64_t>();
        if (begin > end)
            throw Error(where + " data_offsets " + offsetsText(begin, end) + " begin after they end");
        if (end > dataAreaSize)
            throw Error(where + " data_offsets " + offsetsText(begin, end) + " end beyond the data area ("
                        + std::to_string(dataAreaSize) + " bytes)");

        std::uint64_t expectedBytes = 0;
        if (!byteSizeOf(numel, factsOf(dtype).bits, expectedBytes))
            throw Error(where + " shape " + shapeText(shape) + " of " + dtypeName(dtype)
                        + " is too large (its byte size overflows 64 bits)");
        if (end - begin != expectedBytes)
            throw Error(where + " data_offsets " + offsetsText(begin, end) + " do not match shape " + shapeText(shape)
                        + " of " + dtypeName(dtype) + " (" + std::to_string(expectedBytes) + " bytes)");

        m_indexByName[name] = m_tensors.size();
        m_tensors.push_back(SafetensorInfo{name, dtype, std::move(shape), begin, end});
    }

    // Coverage: sorted by offset, the tensors must tile the data area exactly, as the Rust reader demands.
    std::vector<std::size_t> byOffset(m_tensors.size());
    std::iota(byOffset.begin(), byOffset.end(), std::size_t{0});
    std::sort(byOffset.begin(), byOffset.end(), [this](std::size_t a, std::size_t b) {
        const SafetensorInfo& left = m_tensors[a];
        const SafetensorInfo& right = m_tensors[b];
        if (left.begin != right.begin)
            return left.begin < right.begin;
        if (left.end != right.end)
            return left.end < right.end;
        return a < b;  // header order breaks ties, so messages are deterministic
    });
    std::uint64_t covered = 0;
    const SafetensorInfo* previous = nullptr;
    for (const std::size_t index : byOffset) {
        const SafetensorInfo& tensor = m_tensors[index];
        if (tensor.begin < covered)
            throw Error(path + ": tensors " + quoted(previous->name) + " " + offsetsText(previous->begin, previous->end)
                        + " and " + quoted(tensor.name) + " " + offsetsText(tensor.begin, tensor.end) + " overlap");
        if (tensor.begin > covered) {
            // Half-open byte ranges, [first, last + 1), as the offsets themselves are.
            const std::string gap = "[" + std::to_string(covered) + ", " + std::to_string(tensor.begin) + ")";
            if (!previous)
                throw Error(path + ": hole in the data area: bytes " + gap + " before the first tensor "
                            + quoted(tensor.name) + " belong to no tensor");
            throw Error(path + ": hole in the data area: bytes " + gap
                        + " between tensors " + quoted(previous->name) + " and " + quoted(tensor.name)
                        + " belong to no tensor");
        }
        covered = tensor.end;
        previous = &tensor;
    }
    if (covered != dataAreaSize)
        throw Error(path + ": data area is " + std::to_string(dataAreaSize) + " bytes but the tensors cover only "
                    + std::to_string(covered) + " (trailing bytes after the last tensor)");
}

// ---------------------------------------------------------------------------------------------------
// SafetensorsWriter

void SafetensorsWriter::add(const std::string& name, SafeDtype dtype, std::vector<std::int64_t> shape,
                            const void* data, std::size_t bytes)
{
    const std::string where = "safetensors writer: tensor " + quoted(name);
    if (name == kMetadataKey)
        throw Error(where + ": the name is reserved for metadata");
    if (!isValidUtf8(name))
        throw Error(where + ": the name is not valid UTF-8");
    if (m_names.count(name) != 0)
        throw Error(where + " was added twice (duplicate name)");

    std::uint64_t expectedBytes = 0;
    try {
        expectedBytes = tensorByteSize(dtype, shape);
    } catch (const Error& error) {
        throw Error(where + ": " + error.what());
    }
    if (expectedBytes != bytes)
        throw Error(where + " has " + std::to_string(bytes) + " bytes but shape " + shapeText(shape) + " of "
                    + dtypeName(dtype) + " needs " + std::to_string(expectedBytes));
    if (bytes > 0 && !data)
        throw Error(where + ": data pointer is null");

    const auto* begin = static_cast<const std::uint8_t*>(data);
    PendingTensor tensor{name, dtype, std::move(shape), std::vector<std::uint8_t>(begin, begin + bytes)};
    m_tensors.push_back(std::move(tensor));
    m_names.insert(name);
}

void SafetensorsWriter::setMetadata(const std::string& key, const std::string& value)
{
    if (!isValidUtf8(key) || !isValidUtf8(value))
        throw Error("safetensors writer: metadata " + quoted(key) + " is not valid UTF-8");
    m_metadata[key] = value;
}

std::vector<const SafetensorsWriter::PendingTensor*> SafetensorsWriter::fileOrder() const
{
    std::vector<const PendingTensor*> order;
    order.reserve(m_tensors.size());
    for (const PendingTensor& tensor : m_tensors)
        order.push_back(&tensor);
    // Widest alignment first: every tensor's size is a multiple of its element size, so each group starts
    // where the wider group before it ended, on a boundary that suits it.
    std::sort(order.begin(), order.end(), [](const PendingTensor* a, const PendingTensor* b) {
        const std::size_t alignA = dtypeAlignment(a->dtype);
        const std::size_t alignB = dtypeAlignment(b->dtype);
        return alignA != alignB ? alignA > alignB : a->name < b->name;
    });
    return order;
}

std::string SafetensorsWriter::paddedHeader(const std::vector<const PendingTensor*>& order) const
{
    Json header = Json::object();
    if (!m_metadata.empty()) {
        Json metadata = Json::object();
        for (const auto& [key, value] : m_metadata)
            metadata[key] = value;
        header[kMetadataKey] = std::move(metadata);
    }
    std::uint64_t offset = 0;
    for (const PendingTensor* tensor : order) {
        const std::uint64_t end = offset + tensor->bytes.size();
        Json entry = Json::object();
        entry["dtype"] = dtypeName(tensor->dtype);
        entry["shape"] = tensor->shape;
        entry["data_offsets"] = Json::array({offset, end});
        header[tensor->name] = std::move(entry);
        offset = end;
    }
    std::string text = header.dump();
    // The data area then starts at a multiple of 8, which keeps 8-byte elements aligned in the file.
    text.append((8 - text.size() % 8) % 8, ' ');
    return text;
}

std::vector<std::uint8_t> SafetensorsWriter::serialize() const
{
    const std::vector<const PendingTensor*> order = fileOrder();
    const std::string header = paddedHeader(order);
    std::size_t total = 8 + header.size();
    for (const PendingTensor* tensor : order)
        total += tensor->bytes.size();

    std::vector<std::uint8_t> bytes;
    bytes.reserve(total);
    const std::uint64_t headerLength = header.size();
    for (int i = 0; i < 8; ++i)
        bytes.push_back(static_cast<std::uint8_t>(headerLength >> (8 * i)));
    bytes.insert(bytes.end(), header.begin(), header.end());
    for (const PendingTensor* tensor : order)
        bytes.insert(bytes.end(), tensor->bytes.begin(), tensor->bytes.end());
    return bytes;
}

void SafetensorsWriter::write(const std::string& path) const
{
    const std::vector<const PendingTensor*> order = fileOrder();
    const std::string header = paddedHeader(order);
    // Streamed into the temporary file: no second copy of the tensors in memory.
    replaceFileAtomically(path, [&](const std::string& temporaryPath) {
        const int fd = ::open(temporaryPath.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0)
            throw Error(systemMessage(errno));
        try {
            std::uint8_t lengthField[8];
            const std::uint64_t headerLength = header.size();
            for (int i = 0; i < 8; ++i)
                lengthField[i] = static_cast<std::uint8_t>(headerLength >> (8 * i));
            writeAll(fd, lengthField, sizeof(lengthField));
            writeAll(fd, header.data(), header.size());
            for (const PendingTensor* tensor : order)
                writeAll(fd, tensor->bytes.data(), tensor->bytes.size());
        } catch (const std::system_error& error) {
            ::close(fd);
            throw Error(systemMessage(error.code().value()));
        }
        if (::close(fd) != 0)
            throw Error(systemMessage(errno));
    });
}

} // namespace tunebench
