#include "core/experiment/Caches.h"

#include "core/Utf8Path.h"

#include <filesystem>
#include <mutex>

namespace fs = std::filesystem;

namespace tunebench {

namespace {

std::string timeText(fs::file_time_type time)
{
    return std::to_string(time.time_since_epoch().count());
}

void appendFolderTimes(const fs::path& folder, int depth, std::string& out)
{
    std::error_code error;
    out += "|" + timeText(fs::last_write_time(folder, error));
    if (depth <= 0)
        return;
    for (fs::directory_iterator it(folder, error), end; !error && it != end; it.increment(error)) {
        std::error_code statusError;
        if (it->is_directory(statusError))
            appendFolderTimes(it->path(), depth - 1, out);
    }
}

// One entry per kind: the key it was read for and what was read.
template <typename Value>
class SingleEntryCache
{
public:
    template <typename Load>
    std::shared_ptr<const Value> get(const std::string& key, Load&& load)
    {
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            if (m_value && m_key == key)
                return m_value;
        }
        auto value = std::make_shared<const Value>(load());  // outside the lock: reading may take long
        std::lock_guard<std::mutex> lock(m_mutex);
        m_key = key;
        m_value = value;
        return value;
    }

private:
    std::mutex m_mutex;
    std::string m_key;
    std::shared_ptr<const Value> m_value;
};

} // namespace

std::string contentSignature(const std::string& path, int depth)
{
    const fs::path p = pathFromUtf8(path);
    std::error_code error;
    const fs::file_status status = fs::status(p, error);
    if (error || !fs::exists(status))
        return {};
    if (fs::is_directory(status)) {
        std::string out = "dir";
        appendFolderTimes(p, depth, out);
        return out;
    }
    return "file|" + std::to_string(fs::file_size(p, error)) + "|" + timeText(fs::last_write_time(p, error));
}

std::shared_ptr<const Backbone> cachedBackbone(const std::string& modelPath, const std::string& vocabulary)
{
    static SingleEntryCache<Backbone> cache;
    std::string key = modelPath + "\n" + vocabulary + "\n" + contentSignature(modelPath, 0) + "\n" + contentSignature(vocabulary, 0);
    // A Hugging Face model is a folder of a few files, any of which may be replaced in place.
    std::error_code error;
    for (fs::directory_iterator it(pathFromUtf8(modelPath), error), end; !error && it != end; it.increment(error))
        key += "\n" + utf8(it->path().filename()) + contentSignature(utf8(it->path()), 0);
    return cache.get(key, [&] { return loadBackbone(modelPath, vocabulary, "cpu"); });
}

std::shared_ptr<const DatasetIndex> cachedDataset(const std::string& pathOrName, const DatasetProgress& progress)
{
    static SingleEntryCache<DatasetIndex> cache;
    // NAME:DOMAIN variants of a folder: the signature is the folder's.
    std::string folder = pathOrName;
    if (contentSignature(folder, 0).empty())
        if (const std::size_t colon = pathOrName.rfind(':'); colon != std::string::npos)
            folder = pathOrName.substr(0, colon);
    const std::string key = pathOrName + "\n" + contentSignature(folder, 2);
    return cache.get(key, [&] { return openDataset(pathOrName, {}, progress); });
}

} // namespace tunebench
