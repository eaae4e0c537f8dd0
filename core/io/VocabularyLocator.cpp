// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/io/VocabularyLocator.h"

#include "core/Error.h"
#include "core/io/RegularFile.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <cctype>

namespace tunebench {

namespace {

namespace fs = std::filesystem;

const char* const kOpenAiFileName = "bpe_simple_vocab_16e6.txt.gz";

std::string environment(const char* name)
{
    const char* value = std::getenv(name);
    return value ? std::string(value) : std::string();
}

bool isFile(const fs::path& path)
{
    std::error_code error;
    return fs::is_regular_file(path, error);   // follows symlinks (Hugging Face snapshots link into blobs/)
}

bool isFolder(const fs::path& path)
{
    std::error_code error;
    return fs::is_directory(path, error);
}

bool holdsHuggingFacePair(const fs::path& folder)
{
    return isFile(folder / "vocab.json") && isFile(folder / "merges.txt");
}

// What ClipTokenizer::load() accepts: a file, or a folder with one of the two vocabulary forms.
bool isUsableLocation(const fs::path& path)
{
    if (isFolder(path))
        return holdsHuggingFacePair(path) || isFile(path / kOpenAiFileName);
    return isFile(path);
}

// Sorted subfolders of folder whose names start with prefix ("" = all); none if folder is missing.
std::vector<fs::path> subfolders(const fs::path& folder, const std::string& prefix)
{
    std::vector<fs::path> found;
    std::error_code error;
    fs::directory_iterator entries(folder, error);
    if (error)
        return found;
    for (const fs::directory_entry& entry : entries) {
        const std::string name = entry.path().filename().string();
        if (name.compare(0, prefix.size(), prefix) == 0 && isFolder(entry.path()))
            found.push_back(entry.path());
    }
    std::sort(found.begin(), found.end());
    return found;
}

std::string firstLineOf(const fs::path& path)
{
    std::ifstream stream(path);
    std::string line;
    std::getline(stream, line);
    return firstLine(line);  // trims the spaces and the '\r' a hand-edited ref may carry
}

class Search
{
public:
    VocabularySearch result;

    bool done() const { return !result.found.empty(); }

    void note(const std::string& place)
    {
        if (std::find(result.searched.begin(), result.searched.end(), place) == result.searched.end())
            result.searched.push_back(place);
    }

    // Looks for vocab.json + merges.txt, then the OpenAI file, in one folder (noting both places).
    void lookInFolder(const fs::path& folder)
    {
        if (done())
            return;
        note((folder / "vocab.json").string() + " + merges.txt");
        if (holdsHuggingFacePair(folder)) {
            result.found = (folder / "vocab.json").string();
            return;
        }
        note((folder / kOpenAiFileName).string());
        if (isFile(folder / kOpenAiFileName))
            result.found = (folder / kOpenAiFileName).string();
    }

    // site-packages folders: <prefix>/lib/python3.*/<packagesFolder>.
    void lookInPythonPrefix(const fs::path& prefix, const std::string& packagesFolder)
    {
        if (done())
            return;
        note((prefix / "lib" / "python3.*" / packagesFolder / "{clip,open_clip}" / kOpenAiFileName).string());
        for (const fs::path& pythonFolder : subfolders(prefix / "lib", "python3."))
            lookInSitePackages(pythonFolder / packagesFolder);
    }

    void lookInSitePackages(const fs::path& sitePackages)
    {
        for (const char* package : {"clip", "open_clip"}) {
            if (done())
                return;
            const fs::path candidate = sitePackages / package / kOpenAiFileName;
            if (isFile(candidate))
                result.found = candidate.string();
        }
    }

    void lookInHuggingFaceCache(const fs::path& cache)
    {
        if (done())
            return;
        note((cache / "models--openai--clip-vit-*" / "snapshots" / "*" / "vocab.json").string() + " + merges.txt");
        for (const fs::path& model : subfolders(cache, "models--openai--clip-vit-")) {
            // The snapshot refs/main names is the one the Hugging Face libraries would use.
            const std::string mainCommit = firstLineOf(model / "refs" / "main");
            const bool safeName = !mainCommit.empty()
                                  && std::all_of(mainCommit.begin(), mainCommit.end(), [](unsigned char c) { return std::isalnum(c); });
            if (safeName && holdsHuggingFacePair(model / "snapshots" / mainCommit)) {
                result.found = (model / "snapshots" / mainCommit / "vocab.json").string();
                return;
            }
            for (const fs::path& snapshot : subfolders(model / "snapshots", "")) {
                if (holdsHuggingFacePair(snapshot)) {
                    result.found = (snapshot / "vocab.json").string();
                    return;
                }
            }
        }
    }
};

std::mutex& systemRootMutex()
{
    static std::mutex mutex;
    return mutex;
}

std::string& systemRootValue()
{
    static std::string root = "/";
    return root;
}

fs::path systemRoot()
{
    std::lock_guard<std::mutex> lock(systemRootMutex());
    return systemRootValue();
}

} // namespace

VocabularySearch searchVocabulary(const std::string& explicitPath, const std::string& checkpointPath)
{
    Search search;
    if (!explicitPath.empty()) {
        search.note(explicitPath);
        std::error_code error;
        if (!fs::exists(explicitPath, error))
            throw Error("vocabulary '" + explicitPath + "' does not exist");
        if (!isFolder(explicitPath))
            requireRegularFile(explicitPath, "vocabulary");
        if (!isUsableLocation(explicitPath))
            throw Error("folder '" + explicitPath + "' holds neither vocab.json + merges.txt nor " + kOpenAiFileName);
        search.result.found = explicitPath;
        return search.result;
    }

    if (!checkpointPath.empty()) {
        fs::path folder(checkpointPath);
        if (!isFolder(folder))
            folder = folder.parent_path().empty() ? fs::path(".") : folder.parent_path();
        search.lookInFolder(folder);
    }

    const std::string configured = environment("TUNEBENCH_CLIP_VOCAB");
    if (!search.done() && !configured.empty()) {
        search.note(configured);
        if (isUsableLocation(configured))
            search.result.found = configured;
    }

    const std::string home = environment("HOME");
    const std::string virtualEnv = environment("VIRTUAL_ENV");
    const std::string condaPrefix = environment("CONDA_PREFIX");
    if (!virtualEnv.empty())
        search.lookInPythonPrefix(virtualEnv, "site-packages");
    if (!condaPrefix.empty()) {
        search.lookInPythonPrefix(condaPrefix, "site-packages");
        if (!search.done()) {
            search.note((fs::path(condaPrefix) / "envs" / "*" / "lib" / "python3.*" / "site-packages" / "{clip,open_clip}" / kOpenAiFileName).string());
            for (const fs::path& env : subfolders(fs::path(condaPrefix) / "envs", ""))
                for (const fs::path& pythonFolder : subfolders(env / "lib", "python3."))
                    if (!search.done())
                        search.lookInSitePackages(pythonFolder / "site-packages");
        }
    }
    if (!home.empty())
        search.lookInPythonPrefix(fs::path(home) / ".local", "site-packages");
    const fs::path root = systemRoot();
    if (!search.done()) {
        search.note((root / "usr/lib/python3/dist-packages/{clip,open_clip}" / kOpenAiFileName).string());
        search.lookInSitePackages(root / "usr/lib/python3/dist-packages");
    }
    search.lookInPythonPrefix(root / "usr/local", "dist-packages");
    // Fedora, Arch and from-source Pythons use site-packages under /usr and /usr/local.
    search.lookInPythonPrefix(root / "usr", "site-packages");
    search.lookInPythonPrefix(root / "usr/local", "site-packages");
    // Conda installations that are not activated in this shell.
    if (!home.empty()) {
        for (const char* distribution : {"miniconda3", "anaconda3", "miniforge3", "mambaforge"}) {
            const fs::path prefix = fs::path(home) / distribution;
            if (isFolder(prefix))
                search.lookInPythonPrefix(prefix, "site-packages");
        }
    }

    std::vector<fs::path> caches;
    if (const std::string hubCache = environment("HF_HUB_CACHE"); !hubCache.empty())
        caches.emplace_back(hubCache);
    if (const std::string hfHome = environment("HF_HOME"); !hfHome.empty())
        caches.push_back(fs::path(hfHome) / "hub");
    if (const std::string xdgCache = environment("XDG_CACHE_HOME"); !xdgCache.empty())
        caches.push_back(fs::path(xdgCache) / "huggingface" / "hub");
    if (!home.empty())
        caches.push_back(fs::path(home) / ".cache" / "huggingface" / "hub");
    for (const fs::path& cache : caches)
        search.lookInHuggingFaceCache(cache.lexically_normal());

    return search.result;
}

void setVocabularySystemRoot(const std::string& root)
{
    std::lock_guard<std::mutex> lock(systemRootMutex());
    systemRootValue() = root.empty() ? "/" : root;
}

std::string locateVocabulary(const std::string& explicitPath, const std::string& checkpointPath)
{
    VocabularySearch search = searchVocabulary(explicitPath, checkpointPath);
    if (!search.found.empty())
        return search.found;
    std::string places;
    for (const std::string& place : search.searched)
        places += (places.empty() ? "" : ", ") + place;
    throw Error("no CLIP vocabulary found; looked in: " + places + " (pass --vocab FILE or set TUNEBENCH_CLIP_VOCAB)");
}

} // namespace tunebench
