#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

// Reader and writer for the safetensors format (huggingface/safetensors): an 8-byte little-endian header
// length N, N bytes of UTF-8 JSON describing every tensor, then the raw row-major little-endian data.
// Deliberately free of any tensor library: the LibTorch glue lives in the engine on top of this API.

namespace tunebench {

// Element types of the format, in the spelling of the file ("BOOL", "F32", ...).
enum class SafeDtype {
    Bool, U8, I8, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64, C64,
    F8_E5M2, F8_E4M3, F8_E8M0, F8_E4M3FNUZ, F8_E5M2FNUZ, F4, F6_E2M3, F6_E3M2
};

std::string dtypeName(SafeDtype dtype);
// Throws Error "unknown safetensors dtype 'NAME'" for a name the format does not define.
SafeDtype parseDtype(const std::string& name);
// BOOL/U8/I8/F8_* = 8, F16/BF16/I16/U16 = 16, F32/I32/U32 = 32, F64/I64/U64/C64 = 64, F6_* = 6, F4 = 4.
int bitsPerElement(SafeDtype dtype);
// Natural alignment of one element in bytes (1 for the packed sub-byte types).
std::size_t dtypeAlignment(SafeDtype dtype);
// Bytes that a tensor of this dtype and shape occupies: ceil(numel * bits / 8). Throws Error on a negative
// dimension or when the size does not fit in 64 bits.
std::uint64_t tensorByteSize(SafeDtype dtype, const std::vector<std::int64_t>& shape);

struct SafetensorInfo
{
    std::string name;
    SafeDtype dtype = SafeDtype::F32;
    std::vector<std::int64_t> shape;
    // Offsets relative to the start of the data area; end is exclusive.
    std::uint64_t begin = 0;
    std::uint64_t end = 0;

    std::int64_t numel() const;  // 1 for a 0-rank tensor, 0 for an empty one
    std::uint64_t byteSize() const { return end - begin; }
};

// A read-only memory map of one .safetensors file. Everything is validated in the constructor, so every
// SafetensorInfo it hands out describes bytes that lie inside the file.
class SafetensorsFile
{
public:
    // Throws Error "PATH: problem" when the file cannot be opened or breaks any rule of the format.
    explicit SafetensorsFile(const std::string& path);
    ~SafetensorsFile();

    SafetensorsFile(SafetensorsFile&& other) noexcept;
    SafetensorsFile& operator=(SafetensorsFile&& other) noexcept;
    SafetensorsFile(const SafetensorsFile&) = delete;
    SafetensorsFile& operator=(const SafetensorsFile&) = delete;

    const std::string& path() const { return m_path; }
    const std::vector<SafetensorInfo>& tensors() const { return m_tensors; }  // header order
    const SafetensorInfo* find(const std::string& name) const;                // nullptr if absent
    // Points into the mapping. Files from other writers need not be aligned: copy (memcpy) before
    // reinterpreting as anything wider than a byte. Throws Error if info does not fit this file.
    const std::uint8_t* data(const SafetensorInfo& info) const;
    const std::map<std::string, std::string>& metadata() const { return m_metadata; }
    std::uint64_t fileSize() const { return m_fileSize; }
    // File offset of the data area (8 + header length).
    std::uint64_t dataAreaOffset() const { return m_dataAreaOffset; }

private:
    void unmap();
    void parseHeader(const char* header, std::size_t headerLength);

    std::string m_path;
    std::vector<SafetensorInfo> m_tensors;
    std::map<std::string, std::size_t> m_indexByName;
    std::map<std::string, std::string> m_metadata;
    void* m_mapping = nullptr;
    std::uint64_t m_fileSize = 0;
    std::uint64_t m_dataAreaOffset = 0;
};

// Collects tensors in memory and writes them as one .safetensors file, laid out like the reference Rust
// writer: header padded with spaces to a multiple of 8, tensors ordered by alignment (largest first)
// then by name, so every tensor's data is naturally aligned in the file.
class SafetensorsWriter
{
public:
    // Copies the bytes. Throws Error on a duplicate or reserved name, a negative dimension, or when
    // `bytes` differs from what the dtype and shape require.
    void add(const std::string& name, SafeDtype dtype, std::vector<std::int64_t> shape, const void* data,
             std::size_t bytes);
    void setMetadata(const std::string& key, const std::string& value);

    // Atomic: writes PATH.tmp-PID-N in the same folder, fsyncs it and renames it over PATH.
    // Throws Error naming the path on failure and leaves no temporary file behind.
    void write(const std::string& path) const;
    // The exact bytes write() produces.
    std::vector<std::uint8_t> serialize() const;

    std::size_t size() const { return m_tensors.size(); }

private:
    struct PendingTensor
    {
        std::string name;
        SafeDtype dtype;
        std::vector<std::int64_t> shape;
        std::vector<std::uint8_t> bytes;
    };

    // The file order of m_tensors and the padded header that describes it.
    std::vector<const PendingTensor*> fileOrder() const;
    std::string paddedHeader(const std::vector<const PendingTensor*>& order) const;

    std::vector<PendingTensor> m_tensors;
    std::set<std::string> m_names;
    std::map<std::string, std::string> m_metadata;
};

} // namespace tunebench
