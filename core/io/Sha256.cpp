#include "core/io/Sha256.h"

#include "core/Error.h"
#include "core/io/RegularFile.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

namespace tunebench {
namespace {

// FIPS 180-4 section 4.2.2: first 32 bits of the fractional parts of the cube roots of the first 64 primes.
constexpr std::uint32_t kRoundConstants[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

// Section 5.3.3: first 32 bits of the fractional parts of the square roots of the first 8 primes.
constexpr std::array<std::uint32_t, 8> kInitialState = {
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

constexpr std::uint32_t rotateRight(std::uint32_t value, int bits)
{
    return (value >> bits) | (value << (32 - bits));
}

} // namespace

Sha256::Sha256()
{
    reset();
}

void Sha256::reset()
{
    m_state = kInitialState;
    m_pendingSize = 0;
    m_totalBytes = 0;
}

void Sha256::processBlock(const std::uint8_t* block)
{
    std::uint32_t schedule[64];
    for (int t = 0; t < 16; ++t) {
        schedule[t] = (static_cast<std::uint32_t>(block[4 * t]) << 24)
                      | (static_cast<std::uint32_t>(block[4 * t + 1]) << 16)
                      | (static_cast<std::uint32_t>(block[4 * t + 2]) << 8)
                      | static_cast<std::uint32_t>(block[4 * t + 3]);
    }
    for (int t = 16; t < 64; ++t) {
        const std::uint32_t sigma0 = rotateRight(schedule[t - 15], 7) ^ rotateRight(schedule[t - 15], 18)
                                     ^ (schedule[t - 15] >> 3);
        const std::uint32_t sigma1 = rotateRight(schedule[t - 2], 17) ^ rotateRight(schedule[t - 2], 19)
                                     ^ (schedule[t - 2] >> 10);
        schedule[t] = schedule[t - 16] + sigma0 + schedule[t - 7] + sigma1;
    }

    std::uint32_t a = m_state[0], b = m_state[1], c = m_state[2], d = m_state[3];
    std::uint32_t e = m_state[4], f = m_state[5], g = m_state[6], h = m_state[7];
    for (int t = 0; t < 64; ++t) {
        const std::uint32_t bigSigma1 = rotateRight(e, 6) ^ rotateRight(e, 11) ^ rotateRight(e, 25);
        const std::uint32_t choose = (e & f) ^ (~e & g);
        const std::uint32_t temp1 = h + bigSigma1 + choose + kRoundConstants[t] + schedule[t];
        const std::uint32_t bigSigma0 = rotateRight(a, 2) ^ rotateRight(a, 13) ^ rotateRight(a, 22);
        const std::uint32_t majority = (a & b) ^ (a & c) ^ (b & c);
        const std::uint32_t temp2 = bigSigma0 + majority;
        h = g;
        g = f;
        f = e;
        e = d + temp1;
        d = c;
        c = b;
        b = a;
        a = temp1 + temp2;
    }
    m_state[0] += a;
    m_state[1] += b;
    m_state[2] += c;
    m_state[3] += d;
    m_state[4] += e;
    m_state[5] += f;
    m_state[6] += g;
    m_state[7] += h;
}

void Sha256::update(const void* data, std::size_t size)
{
    if (size == 0)
        return;
    const auto* bytes = static_cast<const std::uint8_t*>(data);
    m_totalBytes += size;

    if (m_pendingSize > 0) {
        const std::size_t take = std::min(size, m_pending.size() - m_pendingSize);
        std::memcpy(m_pending.data() + m_pendingSize, bytes, take);
        m_pendingSize += take;
        bytes += take;
        size -= take;
        if (m_pendingSize < m_pending.size())
            return;
        processBlock(m_pending.data());
        m_pendingSize = 0;
    }
    // Whole blocks straight from the caller's buffer, without copying.
    while (size >= 64) {
        processBlock(bytes);
        bytes += 64;
        size -= 64;
    }
    std::memcpy(m_pending.data(), bytes, size);
    m_pendingSize = size;
}

std::array<std::uint8_t, 32> Sha256::digest()
{
    // Padding (section 5.1.1): a 1 bit, zeros up to 56 mod 64 bytes, then the message length in bits.
    const std::uint64_t messageBits = m_totalBytes * 8;
    m_pending[m_pendingSize++] = 0x80;
    if (m_pendingSize > 56) {
        std::memset(m_pending.data() + m_pendingSize, 0, m_pending.size() - m_pendingSize);
        processBlock(m_pending.data());
        m_pendingSize = 0;
    }
    std::memset(m_pending.data() + m_pendingSize, 0, 56 - m_pendingSize);
    for (int i = 0; i < 8; ++i)
        m_pending[56 + i] = static_cast<std::uint8_t>(messageBits >> (56 - 8 * i));
    processBlock(m_pending.data());

    std::array<std::uint8_t, 32> result{};
    for (int word = 0; word < 8; ++word) {
        for (int i = 0; i < 4; ++i)
            result[4 * word + i] = static_cast<std::uint8_t>(m_state[word] >> (24 - 8 * i));
    }
    reset();
    return result;
}

std::string Sha256::hexDigest()
{
    static const char* const kHex = "0123456789abcdef";
    const std::array<std::uint8_t, 32> bytes = digest();
    std::string text;
    text.reserve(64);
    for (const std::uint8_t byte : bytes) {
        text += kHex[byte >> 4];
        text += kHex[byte & 0xF];
    }
    return text;
}

std::string sha256Hex(const void* data, std::size_t size)
{
    Sha256 hash;
    hash.update(data, size);
    return hash.hexDigest();
}

std::string sha256File(const std::string& path)
{
    std::vector<std::uint8_t> chunk(1 << 20);  // allocated first so nothing can throw while fd is open
    Sha256 hash;
    requireRegularFile(path);
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        throw Error(path + ": cannot read (" + std::generic_category().message(errno) + ")");
    while (true) {
        const ssize_t got = ::read(fd, chunk.data(), chunk.size());
        if (got == 0)
            break;
        if (got < 0) {
            if (errno == EINTR)
                continue;
            const int errorNumber = errno;
            ::close(fd);
            throw Error(path + ": cannot read (" + std::generic_category().message(errorNumber) + ")");
        }
        hash.update(chunk.data(), static_cast<std::size_t>(got));
    }
    ::close(fd);
    return hash.hexDigest();
}

} // namespace tunebench
