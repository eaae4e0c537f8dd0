// A run's config.json: its "settings" back into RunSettings, and out again unchanged.
#include "core/experiment/RunSettings.h"
#include "fuzz/FuzzSupport.h"

using namespace tunebench;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const nlohmann::json config = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
    if (config.is_discarded())
        return 0;
    fuzz::expectOnlyErrors([&] {
        const nlohmann::json settings = config.is_object() && config.contains("settings") ? config["settings"] : config;
        const RunSettings read = RunSettings::fromJson(settings);
        if (RunSettings::fromJson(read.toJson()).toJson() != read.toJson())
            __builtin_trap();  // a round trip must be stable
    });
    return 0;
}
