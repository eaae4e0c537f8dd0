#pragma once

#include <cstdint>
#include <string>
#include <vector>

// Plain values without LibTorch types, so that the workbench's headers can hold them; core/Device.h
// finds them.
namespace tunebench {

// A device this process can compute on.
struct DeviceInfo
{
    std::string id;                // "cpu", "cuda:0": what --device and RunSettings::device take
    int index = -1;                // the GPU's CUDA index; -1 for the CPU
    std::string name;              // the GPU's name; empty when the build cannot ask (see BuildInfo::cudaCompiled)
    std::int64_t memoryBytes = 0;  // the GPU's total memory, the machine's for the CPU; 0 when unknown
    int threads = 0;               // the CPU's LibTorch threads

    bool isGpu() const { return index >= 0; }
};

// The facts of `tunebench-cli --version` and the workbench's About box.
struct BuildInfo
{
    std::string tunebenchVersion;
    std::string libtorchVersion;     // TORCH_VERSION of the headers built against
    bool cudaCompiled = false;       // built for a CUDA LibTorch with CUDA's runtime headers (TUNEBENCH_WITH_CUDA)
    std::string cudaRuntimeVersion;  // "12.4" when cudaCompiled
    int cudaDevices = 0;             // usable now; LibTorch's CUDA libraries can see GPUs even when !cudaCompiled
    std::vector<DeviceInfo> devices; // the GPUs in index order, then the CPU
};

} // namespace tunebench
