#include "core/Device.h"

#include "core/Error.h"
#include "core/Version.h"

#include <torch/cuda.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <new>
#include <thread>

#if defined(TUNEBENCH_WITH_CUDA)
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <cuda_runtime_api.h>
#endif
#if TORCH_VERSION_MAJOR >= 2
#include <c10/util/Exception.h>
#endif

namespace tunebench {

c10::Device chooseDevice(const std::string& request)
{
    if (request.empty() || request == "auto")
        return torch::cuda::is_available() ? c10::Device(c10::kCUDA, 0) : c10::Device(c10::kCPU);
    if (request == "cpu")
        return c10::Device(c10::kCPU);
    if (request.rfind("cuda", 0) == 0) {
        if (!torch::cuda::is_available())
            throw Error("device '" + request + "' requested, but no CUDA device is available to this build");
        c10::Device device(c10::kCUDA, 0);
        try {
            device = c10::Device(request);
        } catch (const c10::Error&) {
            throw Error("invalid device '" + request + "' (use auto, cpu, cuda or cuda:N)");
        }
        if (device.index() >= static_cast<int>(torch::cuda::device_count()))
            throw Error("device '" + request + "' does not exist (" + std::to_string(torch::cuda::device_count()) + " CUDA devices)");
        return device;
    }
    throw Error("invalid device '" + request + "' (use auto, cpu, cuda or cuda:N)");
}

namespace {

std::string gibibytes(std::int64_t bytes)
{
    char text[32];
    std::snprintf(text, sizeof text, "%.1f GiB", static_cast<double>(bytes) / (1u << 30));
    return text;
}

// The machine's memory: MemTotal of /proc/meminfo; 0 where there is none.
std::int64_t systemMemoryBytes()
{
    std::ifstream meminfo("/proc/meminfo");
    std::string name, unit;
    std::int64_t kib = 0;
    while (meminfo >> name >> kib >> unit)
        if (name == "MemTotal:")
            return kib * 1024;
    return 0;
}

DeviceInfo cpuInfo()
{
    DeviceInfo cpu;
    cpu.id = "cpu";
    cpu.threads = torch::get_num_threads();
    cpu.memoryBytes = systemMemoryBytes();
    return cpu;
}

DeviceInfo gpuInfo(int index)
{
    DeviceInfo gpu;
    gpu.id = "cuda:" + std::to_string(index);
    gpu.index = index;
#if defined(TUNEBENCH_WITH_CUDA)
    cudaDeviceProp properties{};
    if (cudaGetDeviceProperties(&properties, index) == cudaSuccess) {
        gpu.name = properties.name;
        gpu.memoryBytes = static_cast<std::int64_t>(properties.totalGlobalMem);
    }
#endif
    return gpu;
}

} // namespace

std::string describeDevice(const c10::Device& device)
{
    return describeDevice(device.is_cuda() ? gpuInfo(std::max<int>(0, device.index())) : cpuInfo());
}

std::string describeDevice(const DeviceInfo& device)
{
    if (!device.isGpu())
        return "CPU (" + std::to_string(device.threads) + " threads)";
    std::string text = "CUDA " + std::to_string(device.index);
    if (!device.name.empty())
        text += ": " + device.name + " (" + gibibytes(device.memoryBytes) + ")";
    return text;
}

std::vector<DeviceInfo> availableDevices()
{
    std::vector<DeviceInfo> devices;
    if (torch::cuda::is_available())
        for (int index = 0; index < static_cast<int>(torch::cuda::device_count()); ++index)
            devices.push_back(gpuInfo(index));
    devices.push_back(cpuInfo());
    return devices;
}

BuildInfo buildInfo()
{
    BuildInfo build;
    build.tunebenchVersion = tunebenchVersion();
    build.libtorchVersion = TORCH_VERSION;
#if defined(TUNEBENCH_WITH_CUDA)
    build.cudaCompiled = true;
    int runtime = 0;  // 1000 x major + 10 x minor
    if (cudaRuntimeGetVersion(&runtime) == cudaSuccess)
        build.cudaRuntimeVersion = std::to_string(runtime / 1000) + "." + std::to_string(runtime % 1000 / 10);
#endif
    build.devices = availableDevices();
    build.cudaDevices = static_cast<int>(std::count_if(build.devices.begin(), build.devices.end(), [](const DeviceInfo& d) { return d.isGpu(); }));
    return build;
}

std::string describeBuild(const BuildInfo& build, const std::string& request)
{
    const std::string chosen = resolveDeviceChoice(build.devices, request);
    std::string text = "Tunebench " + build.tunebenchVersion + "\n";
    text += "LibTorch " + build.libtorchVersion + "\n";
    const std::string usable = "usable GPUs: " + std::to_string(build.cudaDevices);
    if (build.cudaCompiled)
        text += "CUDA: compiled" + (build.cudaRuntimeVersion.empty() ? "" : " (runtime " + build.cudaRuntimeVersion + ")") + ", " + usable + "\n";
    else if (build.cudaDevices > 0)
        // A CUDA LibTorch linked without CUDA's runtime headers (cmake/TunebenchTorchRoot.cmake): it runs,
        // but this build cannot ask for the GPUs' names and memory.
        text += "CUDA: not compiled into Tunebench; LibTorch's CUDA libraries are linked, " + usable + "\n";
    else
        text += "CUDA: not compiled\n";
    text += "Devices (* = --device " + (request.empty() ? std::string("auto") : request) + "):\n";
    for (const DeviceInfo& device : build.devices) {
        std::string line = device.id == chosen ? "* " : "  ";
        line += device.id + std::string(device.id.size() < 8 ? 8 - device.id.size() : 1, ' ');
        if (!device.isGpu())
            line += "CPU, " + std::to_string(device.threads) + (device.threads == 1 ? " thread" : " threads");
        else if (device.name.empty())
            line += "GPU " + std::to_string(device.index) + " (name and memory unknown to this build)";
        else
            line += device.name + ", " + gibibytes(device.memoryBytes);
        text += line + "\n";
    }
    return text;
}

std::string resolveDeviceChoice(const std::vector<DeviceInfo>& devices, const std::string& preferred)
{
    const std::string wanted = preferred == "cuda" ? "cuda:0" : preferred;
    for (const DeviceInfo& device : devices)
        if (device.id == wanted)
            return device.id;
    for (const DeviceInfo& device : devices)
        if (device.isGpu())
            return device.id;
    return "cpu";
}

void configureThreads(int requested)
{
    int threads = requested;
    if (threads <= 0) {
        if (const char* env = std::getenv("TUNEBENCH_THREADS"); env && *env) {
            // A value that is not a count is refused, not read as "all cores".
            char* end = nullptr;
            const long value = std::strtol(env, &end, 10);
            if (*end != '\0' || value < 1 || value > 4096)
                throw Error(std::string("$TUNEBENCH_THREADS: '") + env + "' is not a thread count (a whole number from 1 to 4096)");
            threads = static_cast<int>(value);
        }
    }
    if (threads <= 0)
        threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    torch::set_num_threads(threads);
#ifdef __GLIBC__
    mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc's largest allowed value
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    mallopt(M_TOP_PAD, 64 << 20);
#endif
}

std::int64_t processStatusBytes(const std::string& field)
{
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind(field + ":", 0) == 0)
            return std::stoll(line.substr(field.size() + 1)) * 1024;  // reported in kB
    }
    return 0;
}

bool resetPeakResident()
{
    std::ofstream clear("/proc/self/clear_refs");
    clear << "5";
    clear.flush();
    return static_cast<bool>(clear);
}

DeviceMemory deviceMemory(const c10::Device& device)
{
    DeviceMemory memory;
#if defined(TUNEBENCH_WITH_CUDA)
    if (!device.is_cuda() || !torch::cuda::is_available())
        return memory;
    const auto index = static_cast<c10::DeviceIndex>(std::max<int>(0, device.index()));
    // Index 0 of each statistic array is the aggregate over small and large pools.
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(index);
    memory.allocated = stats.allocated_bytes[0].current;
    memory.reserved = stats.reserved_bytes[0].current;
    memory.peakAllocated = stats.allocated_bytes[0].peak;
    c10::cuda::CUDAGuard guard(index);
    size_t freeBytes = 0, totalBytes = 0;
    if (cudaMemGetInfo(&freeBytes, &totalBytes) == cudaSuccess)
        memory.total = static_cast<std::int64_t>(totalBytes);
    memory.available = true;
#else
    (void)device;
#endif
    return memory;
}

std::string describeMemory(const DeviceMemory& memory)
{
    if (!memory.available)
        return "no device memory statistics";
    std::string text = gibibytes(memory.allocated) + " allocated, " + gibibytes(memory.reserved) + " reserved";
    if (memory.total > 0)
        text += " of " + gibibytes(memory.total);
    return text;
}

void resetPeakMemory(const c10::Device& device)
{
#if defined(TUNEBENCH_WITH_CUDA)
    if (device.is_cuda() && torch::cuda::is_available())
        c10::cuda::CUDACachingAllocator::resetPeakStats(static_cast<c10::DeviceIndex>(std::max<int>(0, device.index())));
#else
    (void)device;
#endif
}

std::vector<std::string> lessMemoryOptions(const MemorySettings& settings)
{
    std::vector<std::string> options;
    if (settings.batchSize > 1)
        options.push_back("--batch-size " + std::to_string(settings.batchSize / 2) + " --accumulate " +
                          std::to_string(std::max(1, settings.accumulate) * 2));
    if (settings.checkpointing != "both")
        options.push_back("--checkpointing both");
    if (settings.cuda && settings.precision == "fp32")
        options.push_back("--precision bf16");
    return options;
}

std::string explainOutOfMemory(const std::string& what, const MemorySettings& settings)
{
    std::string text = "out of memory during " + what;
    if (settings.batchSize > 0)
        text += " with batch size " + std::to_string(settings.batchSize);
    if (settings.cuda && torch::cuda::is_available()) {
        const DeviceMemory memory = deviceMemory(c10::Device(c10::kCUDA, 0));
        if (memory.available)
            text += " (" + describeMemory(memory) + ")";
    }
    const std::vector<std::string> options = lessMemoryOptions(settings);
    if (options.empty())
        return text + "; nothing in the run's settings is left to lower: try a smaller model or image size";
    text += "; try ";
    for (size_t i = 0; i < options.size(); ++i) {
        text += (i == 0 ? "" : i + 1 == options.size() ? " or " : ", ") + options[i];
        // Halving the batch and accumulating twice as many keeps the recipe's step.
        if (i == 0 && settings.batchSize > 1)
            text += " (the same effective batch)";
    }
    return text;
}

bool isOutOfMemory(const std::exception& e)
{
#if TORCH_VERSION_MAJOR >= 2
    if (dynamic_cast<const c10::OutOfMemoryError*>(&e))
        return true;
#endif
    if (dynamic_cast<const std::bad_alloc*>(&e))
        return true;
    // 1.x raises a plain c10::Error for CUDA; a failed CPU allocation is a plain c10::Error in every version,
    // saying "can't allocate memory" (1.x) or "not enough memory" (2.x).
    const std::string message = e.what();
    return message.find("out of memory") != std::string::npos || message.find("can't allocate memory") != std::string::npos ||
           message.find("DefaultCPUAllocator: not enough memory") != std::string::npos;
}

} // namespace tunebench
