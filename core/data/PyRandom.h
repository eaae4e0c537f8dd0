#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace tunebench {

// Bit-exact re-implementation of CPython's `random.Random` (MT19937 with CPython's integer seeding and
// its sampling algorithms). CoOp/Dassl draw few-shot sets with Python's `random`, so reproducing a
// published split on any machine and compiler needs exactly this stream, not std::mt19937's seeding or
// libstdc++'s distributions. Verified against CPython 3.11 (see tests/tst_dataset_protocols.cpp).
class PyRandom
{
public:
    // random.seed(seed) for a non-negative int.
    explicit PyRandom(std::uint64_t seed = 0);
    // random.seed(seed) for any int: CPython seeds with abs(seed).
    static PyRandom fromSignedSeed(std::int64_t seed);

    void seed(std::uint64_t seed);

    // The next raw 32-bit MT19937 output (genrand_uint32).
    std::uint32_t nextUint32();
    // random.getrandbits(bits), 0 <= bits <= 64.
    std::uint64_t getrandbits(int bits);
    // random._randbelow(n) (the getrandbits rejection method), n >= 1.
    std::uint64_t randbelow(std::uint64_t n);
    // random.random(): 53-bit float in [0, 1).
    double random();

    // random.shuffle(items), in place.
    template <typename T>
    void shuffle(std::vector<T>& items)
    {
        for (std::size_t i = items.size(); i-- > 1;) {
            const std::size_t j = static_cast<std::size_t>(randbelow(i + 1));
            std::swap(items[i], items[j]);
        }
    }

    // random.sample(range(populationSize), count): positions in selection order. sample(population, k)
    // equals [population[i] for i in sampleIndices(len(population), k)]. Throws std::invalid_argument
    // when count > populationSize, as Python raises ValueError.
    std::vector<std::size_t> sampleIndices(std::size_t populationSize, std::size_t count);

    template <typename T>
    std::vector<T> sample(const std::vector<T>& population, std::size_t count)
    {
        std::vector<T> picked;
        picked.reserve(count);
        for (std::size_t index : sampleIndices(population.size(), count))
            picked.push_back(population[index]);
        return picked;
    }

    // random.choices(range(populationSize), k=count) (uniform, with replacement).
    std::vector<std::size_t> choiceIndices(std::size_t populationSize, std::size_t count);

private:
    static constexpr int kStateSize = 624;

    void initGenrand(std::uint32_t seed);
    void initByArray(const std::vector<std::uint32_t>& key);
    void twist();

    std::array<std::uint32_t, kStateSize> m_state{};
    int m_position = kStateSize + 1;
};

} // namespace tunebench
