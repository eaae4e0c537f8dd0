// A VTAB-1k split list (the same bytes as all four lists of a eurosat task folder) and an FGVC split file
// (the same bytes as train/val/test.json of a CUB_200_2011 folder), each read as dataset inspect reads it.
#include "core/data/PetlBenchmarks.h"
#include "fuzz/FuzzSupport.h"

using namespace tunebench;

namespace {

void requireLabelsInRange(const DatasetIndex& dataset)
{
    for (const auto* samples : {&dataset.train, &dataset.val, &dataset.test})
        for (const Sample& sample : *samples)
            if (sample.label < 0 || static_cast<std::size_t>(sample.label) >= dataset.classNames.size())
                __builtin_trap();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    for (const char* list : {"train800.txt", "val200.txt", "train800val200.txt", "test.txt"})
        fuzz::writeInput(std::string("eurosat/") + list, data, size);
    std::filesystem::create_directories(fuzz::scratchFolder() / "eurosat" / "images");
    fuzz::expectOnlyErrors([&] { requireLabelsInRange(openVtabTask((fuzz::scratchFolder() / "eurosat").string())); });

    for (const char* split : {"train.json", "val.json", "test.json"})
        fuzz::writeInput(std::string("CUB_200_2011/") + split, data, size);
    std::filesystem::create_directories(fuzz::scratchFolder() / "CUB_200_2011" / "images");
    fuzz::expectOnlyErrors([&] { requireLabelsInRange(openFgvcDataset((fuzz::scratchFolder() / "CUB_200_2011").string())); });
    return 0;
}
