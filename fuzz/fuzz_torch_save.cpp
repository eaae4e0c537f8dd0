// The torch.save reader: zip archives and the legacy format, through the restricted unpickler, the storage
// table and the tensor views (offsets, sizes, strides) it builds.
#include "core/io/TorchSave.h"
#include "fuzz/FuzzSupport.h"

#include <torch/torch.h>

using namespace tunebench;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string path = fuzz::writeInput("input.pt", data, size);
    fuzz::expectOnlyErrors([&] {
        const StateDict weights = readTorchSave(path);
        double sum = 0;
        for (const auto& [name, tensor] : weights)
            sum += tensor.to(torch::kDouble).sum().item<double>();  // touches every element of every view
        (void)sum;
    });
    return 0;
}
