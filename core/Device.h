#pragma once

#include <c10/core/Device.h>

#include <string>

namespace tunebench {

// "auto" (CUDA when available, else CPU), "cpu", "cuda" or "cuda:N". Error when CUDA is asked for
// and this LibTorch build or machine has none.
c10::Device chooseDevice(const std::string& request = "auto");

// One line for logs and the GUI: "CUDA 0: NVIDIA H100 (79.2 GiB)" or "CPU (16 threads)".
std::string describeDevice(const c10::Device& device);

// LibTorch's intra-op thread count: `requested` > 0, else $TUNEBENCH_THREADS, else all cores. Also keeps
// large freed blocks in the heap: returning every activation buffer to the kernel and faulting it back
// in made element-wise ops several times slower than the arithmetic (measured on this VM).
void configureThreads(int requested = 0);

} // namespace tunebench
