// A CoOp split file (split_zhou_*.json: train / val / test lists of [path, label, class name]) read as the
// Oxford Pets benchmark, then summarised as dataset inspect does.
#include "core/data/DatasetLayouts.h"
#include "fuzz/FuzzSupport.h"

using namespace tunebench;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string split = fuzz::writeInput("oxford_pets/split_zhou_OxfordPets.json", data, size);
    std::filesystem::create_directories(fuzz::scratchFolder() / "oxford_pets" / "images");
    fuzz::expectOnlyErrors([&] {
        const DatasetIndex dataset = openDasslDataset((fuzz::scratchFolder() / "oxford_pets").string());
        const SplitCounts counts = dataset.splitCounts();
        const std::vector<SplitCounts> perClass = dataset.perClassCounts();
        for (const auto* samples : {&dataset.train, &dataset.val, &dataset.test})
            for (const Sample& sample : *samples)
                if (sample.label < 0 || static_cast<std::size_t>(sample.label) >= dataset.classNames.size())
                    __builtin_trap();
        (void)counts;
        (void)perClass;
    });
    return 0;
}
