// cache status | clear: the image-tower cache that compare, adapt and sweeps share.
#include "app/cli/Commands.h"

#include "core/Error.h"
#include "core/train/FeatureCache.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <iostream>

namespace tunebench::cli {

int runCache(const std::vector<std::string>& words)
{
    const std::string action = words.empty() ? "status" : words[0];
    if (action != "status" && action != "clear")
        throw Error("cache: unknown action '" + action + "' (status or clear)");
    const CliArgs args(std::vector<std::string>(words.begin() + (words.empty() ? 0 : 1), words.end()), {});
    args.requireKnown({"dir"});
    const std::string folder = args.value("dir", FeatureCache::defaultFolder());
    FeatureCache cache(folder);
    nlohmann::json out = {{"folder", std::filesystem::absolute(folder).lexically_normal().string()}, {"limit_bytes", cache.limit()}};
    if (action == "clear") {
        const FeatureCache::Usage removed = cache.clear();
        out["removed_files"] = removed.files;
        out["removed_bytes"] = removed.bytes;
        std::cerr << "cache: removed " << removed.files << " files (" << FeatureCache::sizeText(removed.bytes) << ") from " << folder << "\n";
    }
    const FeatureCache::Usage usage = cache.usage();
    out["files"] = usage.files;
    out["bytes"] = usage.bytes;
    if (action == "status")
        std::cerr << "cache " << folder << ": " << usage.files << " views, " << FeatureCache::sizeText(usage.bytes) << " of "
                  << FeatureCache::sizeText(cache.limit()) << "\n";
    std::cout << out.dump() << std::endl;
    return 0;
}

} // namespace tunebench::cli
