// A domain-adaptation image list (VisDA-2017's image_list.txt: "<class>/<file> <label>" per line), read as
// `adapt --source visda17/train` would, then checked: every label indexes a class name.
#include "core/data/DomainAdaptationData.h"
#include "fuzz/FuzzSupport.h"

using namespace tunebench;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    fuzz::writeInput("visda17/train/image_list.txt", data, size);
    fuzz::expectOnlyErrors([&] {
        const DatasetIndex dataset = openImageListDataset((fuzz::scratchFolder() / "visda17" / "train").string());
        for (const Sample& sample : dataset.train)
            if (sample.label < 0 || static_cast<std::size_t>(sample.label) >= dataset.classNames.size())
                __builtin_trap();
        if (dataset.test.size() != dataset.train.size() || dataset.domain != "synthetic")
            __builtin_trap();
    });
    return 0;
}
