// cache status | clear: the image-tower cache that compare, adapt and sweeps share.
#include "app/cli/Commands.h"

#include "core/Error.h"
#include "core/train/FeatureCache.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <iostream>

namespace tunebench::cli {

namespace {

int runCache(const CliArgs& args)
{
    if (args.positional().size() > 1)
        throw Error("cache: unexpected argument '" + args.positional()[1] + "'");
    const std::string action = args.positional().empty() ? "status" : args.positional()[0];
    if (action != "status" && action != "clear")
        throw Error("cache: unknown action '" + action + "' (status or clear)");
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

} // namespace

Command cacheCommand()
{
    return {"cache", "status|clear [--dir DIR]", "the image-tower cache: its views and size, or empty it",
            {{"dir", "DIR", "the cache's folder (default $TUNEBENCH_CACHE_DIR, else ~/.cache/tunebench/features)"}}, runCache, 1};
}

} // namespace tunebench::cli
