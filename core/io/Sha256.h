#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace tunebench {

// SHA-256 as specified in FIPS 180-4, used to fingerprint checkpoints and exported files.
class Sha256
{
public:
    Sha256();

    void update(const void* data, std::size_t size);
    // Both finalise the hash and reset the object, so it can hash the next message.
    std::array<std::uint8_t, 32> digest();
    std::string hexDigest();  // 64 lowercase hex digits
    void reset();

private:
    void processBlock(const std::uint8_t* block);

    std::array<std::uint32_t, 8> m_state{};
    std::array<std::uint8_t, 64> m_pending{};
    std::size_t m_pendingSize = 0;
    std::uint64_t m_totalBytes = 0;
};

std::string sha256Hex(const void* data, std::size_t size);
// Streams the file in chunks. Throws Error "PATH: cannot read (...)" when it cannot be read.
std::string sha256File(const std::string& path);

} // namespace tunebench
