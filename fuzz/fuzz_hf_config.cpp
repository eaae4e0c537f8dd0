// A Hugging Face CLIP config.json applied to a model spec (heads, activations, eps, end-of-text id).
#include "core/model/ModelSpec.h"
#include "fuzz/FuzzSupport.h"

#include <nlohmann/json.hpp>

using namespace tunebench;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const nlohmann::json config = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
    if (config.is_discarded())
        return 0;  // not JSON: the loader's JSON reader refuses it before this step
    fuzz::expectOnlyErrors([&] {
        ModelSpec spec;
        spec.vision.width = 768;
        spec.vision.heads = 12;
        spec.text = TextSpec{};
        spec.text->width = 512;
        spec.text->heads = 8;
        applyHuggingFaceConfig(config, spec, "config.json");
        if (spec.vision.heads <= 0 || spec.vision.width % spec.vision.heads != 0 || spec.text->endOfTextId < 0 ||
            spec.text->endOfTextId >= spec.text->vocabSize)
            __builtin_trap();  // accepted, but unusable
    });
    return 0;
}
