#include "core/Device.h"

#include "core/Error.h"

#include <torch/cuda.h>
#include <torch/torch.h>

#include <cstdlib>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <thread>

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

std::string describeDevice(const c10::Device& device)
{
    if (device.is_cuda())
        return "CUDA " + std::to_string(device.index());
    return "CPU (" + std::to_string(torch::get_num_threads()) + " threads)";
}

void configureThreads(int requested)
{
    int threads = requested;
    if (threads <= 0) {
        if (const char* env = std::getenv("TUNEBENCH_THREADS"))
            threads = std::atoi(env);
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

} // namespace tunebench
