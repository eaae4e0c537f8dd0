// IDX files (MNIST's container), plain or gzipped: images when the input's first byte is even, labels
// otherwise (that byte is dropped).
#include "core/data/IdxFile.h"
#include "fuzz/FuzzSupport.h"

using namespace tunebench;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size == 0)
        return 0;
    const bool images = data[0] % 2 == 0;
    const std::string path = fuzz::writeInput(images ? "input-images-idx3-ubyte" : "input-labels-idx1-ubyte", data + 1, size - 1);
    fuzz::expectOnlyErrors([&] {
        if (images) {
            const IdxImages read = readIdxImages(path);
            unsigned sum = 0;
            for (std::int64_t i = 0; i < read.count; ++i)
                if (const std::uint8_t* pixels = read.image(i))
                    sum += pixels[0] + pixels[static_cast<std::size_t>(read.rows) * read.cols - 1];
            (void)sum;
        } else {
            const std::vector<std::uint8_t> labels = readIdxLabels(path);
            (void)labels;
        }
    });
    return 0;
}
