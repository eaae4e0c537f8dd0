#pragma once
// A device too small for a batch, on the CPU. While a MemoryCeiling lives, the CPU allocations of the thread
// that made it (the training thread: loader threads are the host's, not the device's) that are larger than its
// block size fail the way LibTorch's own CPU allocator fails when memory runs out, with this build's c10::Error
// and message, from inside the real forward and backward passes. Every other allocation goes to the allocator
// it replaced, unchanged. It also records the largest block its thread asked for, so that a test can measure
// a step before it chooses a ceiling.

#include <c10/core/CPUAllocator.h>
#include <c10/util/Exception.h>
#include <torch/version.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <thread>

namespace tunebench::test {

class MemoryCeiling final : public c10::Allocator
{
public:
    explicit MemoryCeiling(std::size_t largestBlock = std::numeric_limits<std::size_t>::max())
        : m_largestBlock(largestBlock)
        , m_base(c10::GetCPUAllocator())
    {
        c10::SetCPUAllocator(this, kPriority);
    }
    ~MemoryCeiling() override { c10::SetCPUAllocator(m_base, kPriority); }
    MemoryCeiling(const MemoryCeiling&) = delete;
    MemoryCeiling& operator=(const MemoryCeiling&) = delete;

    // The largest block the thread asked for so far, whether it was given or not.
    std::size_t largestAsked() const { return m_largestAsked; }

#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 3)
    c10::DataPtr allocate(std::size_t bytes) override { return checked(bytes); }
    void copy_data(void* dest, const void* src, std::size_t count) const override { default_copy_data(dest, src, count); }
#else
    c10::DataPtr allocate(std::size_t bytes) const override { return checked(bytes); }
#endif
    // The blocks are the base allocator's own, so they go back to it.
    c10::DeleterFnPtr raw_deleter() const override { return m_base->raw_deleter(); }

private:
    // Above the default's 0, so that setting this one and putting the previous one back both take effect; the
    // memory plan's counting allocator (core/tuning/MemoryPlan.cpp) uses the same, so neither locks out the other.
    static constexpr std::uint8_t kPriority = 100;

    c10::DataPtr checked(std::size_t bytes) const
    {
        if (std::this_thread::get_id() == m_thread) {
            m_largestAsked = std::max<std::size_t>(m_largestAsked, bytes);
#if TORCH_VERSION_MAJOR >= 2
            TORCH_CHECK(bytes <= m_largestBlock, "DefaultCPUAllocator: not enough memory: you tried to allocate ", bytes, " bytes.");
#else
            TORCH_CHECK(bytes <= m_largestBlock, "DefaultCPUAllocator: can't allocate memory: you tried to allocate ", bytes, " bytes.");
#endif
        }
        return m_base->allocate(bytes);
    }

    std::size_t m_largestBlock;
    c10::Allocator* m_base;
    std::thread::id m_thread = std::this_thread::get_id();
    mutable std::atomic<std::size_t> m_largestAsked{0};
};

} // namespace tunebench::test
