#include "core/data/PyRandom.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <unordered_set>

namespace tunebench {

namespace {

int bitLength(std::uint64_t value)
{
    int bits = 0;
    while (value) {
        ++bits;
        value >>= 1;
    }
    return bits;
}

} // namespace

PyRandom::PyRandom(std::uint64_t seed)
{
    this->seed(seed);
}

PyRandom PyRandom::fromSignedSeed(std::int64_t seed)
{
    // Negate in unsigned arithmetic so that INT64_MIN does not overflow.
    const std::uint64_t magnitude =
        seed < 0 ? std::uint64_t(0) - static_cast<std::uint64_t>(seed) : static_cast<std::uint64_t>(seed);
    return PyRandom(magnitude);
}

void PyRandom::seed(std::uint64_t seed)
{
    // CPython splits abs(seed) into little-endian 32-bit words; zero still gives one (zero) word.
    std::vector<std::uint32_t> key;
    do {
        key.push_back(static_cast<std::uint32_t>(seed & 0xffffffffu));
        seed >>= 32;
    } while (seed);
    initByArray(key);
}

void PyRandom::initGenrand(std::uint32_t seed)
{
    m_state[0] = seed;
    for (int i = 1; i < kStateSize; ++i)
        m_state[i] = 1812433253u * (m_state[i - 1] ^ (m_state[i - 1] >> 30)) + static_cast<std::uint32_t>(i);
    m_position = kStateSize;
}

void PyRandom::initByArray(const std::vector<std::uint32_t>& key)
{
    initGenrand(19650218u);
    int i = 1;
    std::size_t j = 0;
    const std::size_t keyLength = key.size();
    for (std::size_t k = std::max<std::size_t>(kStateSize, keyLength); k; --k) {
        m_state[i] = (m_state[i] ^ ((m_state[i - 1] ^ (m_state[i - 1] >> 30)) * 1664525u)) + key[j]
            + static_cast<std::uint32_t>(j);
        ++i;
        ++j;
        if (i >= kStateSize) {
            m_state[0] = m_state[kStateSize - 1];
            i = 1;
        }
        if (j >= keyLength)
            j = 0;
    }
    for (int k = kStateSize - 1; k; --k) {
        m_state[i] = (m_state[i] ^ ((m_state[i - 1] ^ (m_state[i - 1] >> 30)) * 1566083941u))
            - static_cast<std::uint32_t>(i);
        ++i;
        if (i >= kStateSize) {
            m_state[0] = m_state[kStateSize - 1];
            i = 1;
        }
    }
    m_state[0] = 0x80000000u;  // guarantees a non-zero initial state
    m_position = kStateSize;
}

void PyRandom::twist()
{
    constexpr int kShift = 397;
    constexpr std::uint32_t kMatrixA = 0x9908b0dfu;
    constexpr std::uint32_t kUpperMask = 0x80000000u;
    constexpr std::uint32_t kLowerMask = 0x7fffffffu;
    for (int k = 0; k < kStateSize; ++k) {
        const std::uint32_t y = (m_state[k] & kUpperMask) | (m_state[(k + 1) % kStateSize] & kLowerMask);
        m_state[k] = m_state[(k + kShift) % kStateSize] ^ (y >> 1) ^ ((y & 1u) ? kMatrixA : 0u);
    }
    m_position = 0;
}

std::uint32_t PyRandom::nextUint32()
{
    if (m_position >= kStateSize)
        twist();
    std::uint32_t y = m_state[m_position++];
    y ^= (y >> 11);
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= (y >> 18);
    return y;
}

std::uint64_t PyRandom::getrandbits(int bits)
{
    if (bits < 0 || bits > 64)
        throw std::invalid_argument("PyRandom::getrandbits: bits must be in 0..64");
    if (bits == 0)
        return 0;
    if (bits <= 32)
        return nextUint32() >> (32 - bits);
    // CPython fills 32-bit words from the least significant end; the last word keeps its top bits.
    std::uint64_t result = 0;
    int shift = 0;
    for (int remaining = bits; remaining > 0; remaining -= 32, shift += 32) {
        std::uint32_t word = nextUint32();
        if (remaining < 32)
            word >>= (32 - remaining);
        result |= static_cast<std::uint64_t>(word) << shift;
    }
    return result;
}

std::uint64_t PyRandom::randbelow(std::uint64_t n)
{
    if (n == 0)
        throw std::invalid_argument("PyRandom::randbelow: n must be positive");
    const int bits = bitLength(n);  // not (n - 1): n can be 1, which still consumes one word
    std::uint64_t value = getrandbits(bits);
    while (value >= n)
        value = getrandbits(bits);
    return value;
}

double PyRandom::random()
{
    const std::uint32_t high = nextUint32() >> 5;
    const std::uint32_t low = nextUint32() >> 6;
    return (high * 67108864.0 + low) * (1.0 / 9007199254740992.0);
}

std::vector<std::size_t> PyRandom::sampleIndices(std::size_t populationSize, std::size_t count)
{
    if (count > populationSize)
        throw std::invalid_argument("PyRandom::sample: sample larger than population");
    std::vector<std::size_t> result(count);
    // CPython picks the method by memory: a pool list when it is smaller than the selected-set's table.
    // The float log matches Python's math.log(k * 3, 4); 3k is never a power of 4, so no tie at ceil.
    std::size_t setSize = 21;
    if (count > 5)
        setSize += static_cast<std::size_t>(
            std::pow(4.0, std::ceil(std::log(static_cast<double>(count) * 3.0) / std::log(4.0))));
    if (populationSize <= setSize) {
        std::vector<std::size_t> pool(populationSize);
        for (std::size_t i = 0; i < populationSize; ++i)
            pool[i] = i;
        for (std::size_t i = 0; i < count; ++i) {
            const std::size_t j = static_cast<std::size_t>(randbelow(populationSize - i));
            result[i] = pool[j];
            pool[j] = pool[populationSize - i - 1];
        }
    } else {
        std::unordered_set<std::size_t> selected;
        for (std::size_t i = 0; i < count; ++i) {
            std::size_t j = static_cast<std::size_t>(randbelow(populationSize));
            while (selected.count(j))
                j = static_cast<std::size_t>(randbelow(populationSize));
            selected.insert(j);
            result[i] = j;
        }
    }
    return result;
}

std::vector<std::size_t> PyRandom::choiceIndices(std::size_t populationSize, std::size_t count)
{
    std::vector<std::size_t> result;
    if (count == 0)
        return result;
    if (populationSize == 0)
        throw std::invalid_argument("PyRandom::choices: empty population");
    result.reserve(count);
    const double size = static_cast<double>(populationSize);
    for (std::size_t i = 0; i < count; ++i)
        result.push_back(static_cast<std::size_t>(std::floor(random() * size)));
    return result;
}

} // namespace tunebench
