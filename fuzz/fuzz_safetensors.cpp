// The safetensors reader: header length, JSON header, offsets, dtypes and shapes; every tensor it accepts
// is read end to end, so that a view reaching past the file shows as a crash.
#include "core/io/Safetensors.h"
#include "fuzz/FuzzSupport.h"

using namespace tunebench;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string path = fuzz::writeInput("input.safetensors", data, size);
    fuzz::expectOnlyErrors([&] {
        SafetensorsFile file(path);
        unsigned checksum = 0;
        for (const SafetensorInfo& info : file.tensors()) {
            const std::uint8_t* bytes = file.data(info);
            for (std::uint64_t i = 0; i < info.byteSize(); ++i)
                checksum += bytes[i];
            if (info.numel() < 0)
                __builtin_trap();
        }
        for (const auto& [key, value] : file.metadata())
            checksum += static_cast<unsigned>(key.size() + value.size());
        (void)checksum;
    });
    return 0;
}
