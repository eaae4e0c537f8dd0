#pragma once

#include "core/DeviceInfo.h"
#include "core/Error.h"

#include <c10/core/Device.h>

#include <cstdint>
#include <exception>
#include <string>
#include <utility>
#include <vector>

namespace tunebench {

// "auto" (CUDA when available, else CPU), "cpu", "cuda" or "cuda:N". Error when CUDA is asked for
// and this LibTorch build or machine has none.
c10::Device chooseDevice(const std::string& request = "auto");

// One line for logs and the GUI: "CUDA 0: NVIDIA H100 (79.2 GiB)" or "CPU (16 threads)". Feature-cache
// keys hold it: keep its wording.
std::string describeDevice(const c10::Device& device);
std::string describeDevice(const DeviceInfo& device);

// Every device this process can compute on: the GPUs in index order (each one's name and memory where the
// build has CUDA's headers), then the CPU with LibTorch's thread count. Initialises CUDA: seconds, at first.
std::vector<DeviceInfo> availableDevices();
// This build's version, LibTorch's, whether CUDA is compiled in and usable, and availableDevices().
BuildInfo buildInfo();
// The text of `tunebench-cli --version`: a fact a line, then a device a line, the one that `request`
// (--device's value) picks marked.
std::string describeBuild(const BuildInfo& build, const std::string& request = "auto");
// The id among `devices` that `preferred` names ("cpu", "cuda:1"; "cuda" is "cuda:0"). "auto", empty or a
// device that is gone (a saved choice on another machine): the first GPU, else the CPU, as chooseDevice.
std::string resolveDeviceChoice(const std::vector<DeviceInfo>& devices, const std::string& preferred);

// LibTorch's intra-op thread count: `requested` > 0, else $TUNEBENCH_THREADS (Error when it is set but no
// count), else all cores. Also keeps
// large freed blocks in the heap: returning every activation buffer to the kernel and faulting it back
// in made element-wise ops several times slower than the arithmetic (measured on this VM).
void configureThreads(int requested = 0);

// A field of /proc/self/status in bytes (VmRSS, VmHWM); 0 where there is no /proc.
std::int64_t processStatusBytes(const std::string& field);
// Resets VmHWM to the current RSS (Linux >= 4.0), so that a later VmHWM is the peak of one phase; false
// where the kernel does not let it.
bool resetPeakResident();

// CUDA caching-allocator statistics and the device's capacity, in bytes, for logs and the GUI.
struct DeviceMemory
{
    bool available = false;  // false on the CPU and with a LibTorch built without CUDA
    std::int64_t allocated = 0, reserved = 0, peakAllocated = 0, total = 0;
};

DeviceMemory deviceMemory(const c10::Device& device);
// "1.2 GiB allocated, 3.0 GiB reserved of 79.2 GiB"; "no device memory statistics" when unavailable.
std::string describeMemory(const DeviceMemory& memory);
// Clears the allocator's peak counter (benchmarks measure one phase at a time); no-op without CUDA.
void resetPeakMemory(const c10::Device& device);
// What a run that ran out of memory was using: the basis of the options that would use less.
struct MemorySettings
{
    int batchSize = 0;          // the micro-batch's images (0: unknown)
    int accumulate = 1;         // micro-batches per optimiser step
    std::string checkpointing = "none";
    std::string precision = "fp32";
    bool cuda = false;          // bf16 autocast only applies on CUDA
};
// The flags that would use less memory, most effective first: half the batch accumulated twice as often
// (the same effective batch), gradient checkpointing in both towers, bf16 on CUDA. Empty when none is left.
std::vector<std::string> lessMemoryOptions(const MemorySettings& settings);
// One line for a failed allocation: what ran out, with what batch, the memory state, and the options of
// lessMemoryOptions ("try --batch-size 16 --accumulate 2 (the same effective batch), ...").
std::string explainOutOfMemory(const std::string& what, const MemorySettings& settings);
// A run that ran out of memory: it stopped at its last checkpoint, and `options` (lessMemoryOptions) are
// what the line that says how to continue suggests.
class OutOfMemory : public Error
{
public:
    OutOfMemory(const std::string& message, std::vector<std::string> options)
        : Error(message)
        , options(std::move(options))
    {
    }
    std::vector<std::string> options;
};
// Whether `e` is LibTorch's out-of-memory error (CUDA or a failed CPU allocation).
bool isOutOfMemory(const std::exception& e);

} // namespace tunebench
