#include "core/data/PetlBenchmarks.h"

#include "core/Error.h"
#include "core/Utf8Path.h"
#include "core/data/DatasetFiles.h"
#include "core/io/RegularFile.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <climits>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <sys/stat.h>

namespace tunebench {

namespace fs = std::filesystem;

namespace {

struct PetlTask
{
    const char* name;
    PetlFamily family;
    const char* group;
    int classCount;
    const char* title;
    // FGVC only: VPT's image root inside the dataset folder ("" = the folder itself), and other folder
    // names the dataset is stored under, normalised (see normalisedFolderName), '|' between them.
    const char* imageFolder;
    const char* otherFolders;
};

const std::vector<PetlTask>& taskTable()
{
    using F = PetlFamily;
    static const std::vector<PetlTask> table = {
        {"cifar", F::Vtab1k, "Natural", 100, "CIFAR-100", "", ""},
        {"caltech101", F::Vtab1k, "Natural", 102, "Caltech101", "", ""},
        {"dtd", F::Vtab1k, "Natural", 47, "DTD", "", ""},
        {"oxford_flowers102", F::Vtab1k, "Natural", 102, "Oxford Flowers102", "", ""},
        {"oxford_iiit_pet", F::Vtab1k, "Natural", 37, "Oxford-IIIT Pet", "", ""},
        {"svhn", F::Vtab1k, "Natural", 10, "SVHN", "", ""},
        {"sun397", F::Vtab1k, "Natural", 397, "SUN397", "", ""},
        {"patch_camelyon", F::Vtab1k, "Specialized", 2, "Patch Camelyon", "", ""},
        {"eurosat", F::Vtab1k, "Specialized", 10, "EuroSAT", "", ""},
        {"resisc45", F::Vtab1k, "Specialized", 45, "RESISC45", "", ""},
        {"diabetic_retinopathy", F::Vtab1k, "Specialized", 5, "Diabetic Retinopathy", "", ""},
        {"clevr_count", F::Vtab1k, "Structured", 8, "CLEVR count", "", ""},
        {"clevr_dist", F::Vtab1k, "Structured", 6, "CLEVR distance", "", ""},
        {"dmlab", F::Vtab1k, "Structured", 6, "DMLab", "", ""},
        {"kitti", F::Vtab1k, "Structured", 4, "KITTI distance", "", ""},
        {"dsprites_loc", F::Vtab1k, "Structured", 16, "dSprites location", "", ""},
        {"dsprites_ori", F::Vtab1k, "Structured", 16, "dSprites orientation", "", ""},
        {"smallnorb_azi", F::Vtab1k, "Structured", 18, "SmallNORB azimuth", "", ""},
        {"smallnorb_ele", F::Vtab1k, "Structured", 9, "SmallNORB elevation", "", ""},
        {"CUB_200_2011", F::Fgvc, "FGVC", 200, "CUB-200-2011", "images", "cub"},
        {"NABirds", F::Fgvc, "FGVC", 555, "NABirds", "images", ""},
        {"OxfordFlowers", F::Fgvc, "FGVC", 102, "Oxford Flowers", "", "oxfordflower|flowers"},
        {"StanfordDogs", F::Fgvc, "FGVC", 120, "Stanford Dogs", "Images", "dogs"},
        {"StanfordCars", F::Fgvc, "FGVC", 196, "Stanford Cars", "", "cars"},
    };
    return table;
}

const char* const kVtabLists[] = {"train800.txt", "val200.txt", "train800val200.txt", "test.txt"};
const char* const kFgvcFiles[] = {"train.json", "val.json", "test.json"};

// Folder names compare without case, '-', '_' or spaces: VPT leaves the folder to the user, and
// "Stanford-dogs", "stanford_dogs" and "StanfordDogs" all occur.
std::string normalisedFolderName(const std::string& name)
{
    std::string out;
    for (char c : name)
        if (c != '-' && c != '_' && c != ' ')
            out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

// Anything at that path, a FIFO included: the reader then refuses it by name instead of skipping it.
bool pathExists(const fs::path& path)
{
    std::error_code error;
    return fs::exists(path, error);
}

const PetlTask* findTask(const std::string& nameOrFolder, PetlFamily family)
{
    const std::string wanted = normalisedFolderName(nameOrFolder);
    for (const PetlTask& task : taskTable()) {
        if (task.family != family)
            continue;
        if (normalisedFolderName(task.name) == wanted)
            return &task;
        std::stringstream others(task.otherFolders);
        std::string other;
        while (std::getline(others, other, '|'))
            if (!other.empty() && other == wanted)
                return &task;
    }
    return nullptr;
}

// Checks the images a split file lists: absent or not a regular file is an error at the listing line
// (a split that silently shrank would no longer be the benchmark's); a file whose first bytes are no
// image format is kept and reported, as every layout does, and the loader skips it.
class ListedImageCheck
{
public:
    explicit ListedImageCheck(const DatasetProgress& progress) : m_progress(progress) {}

    void check(const fs::path& image, const std::string& where)
    {
        const std::string path = utf8(image);
        if (!m_checked.insert(path).second)
            return;  // train800val200 repeats train800 and val200
        struct stat status {};
        if (::stat(path.c_str(), &status) != 0)
            throw Error(where + ": image " + path + " is missing");
        if (!S_ISREG(status.st_mode))
            throw Error(where + ": image " + path + " is " + fileKindName(status.st_mode) + ", not a regular file");
        const ImageFileHead head = readImageFileHead(image);
        if (head == ImageFileHead::Unreadable)
            addProblem(path + ": empty or unreadable; training and evaluation will skip it");
        else if (head == ImageFileHead::NotAnImage)
            addProblem(path + ": not an image (its first bytes match no image format); training and evaluation will skip it");
        if (m_progress && m_checked.size() % kProgressEvery == 0)
            m_progress("checked " + std::to_string(m_checked.size()) + " images");
    }

    std::vector<std::string> problems() const { return m_problems.finish(); }

private:
    // One kind, so one cap for both messages: "... and N more: images that cannot be read".
    void addProblem(const std::string& line) { m_problems.add("images that cannot be read", line); }

    const DatasetProgress& m_progress;
    std::set<std::string> m_checked;
    ProblemLog m_problems;
};

bool allDigits(const std::string& text)
{
    return std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// A label as written in a split file: decimal digits only, at most INT_MAX. -1 when it is not.
long long parseLabel(const std::string& text)
{
    if (text.empty() || text.size() > 10 || !allDigits(text))
        return -1;
    const long long value = std::stoll(text);
    return value > INT_MAX ? -1 : value;
}

std::string readWholeFile(const fs::path& file, const std::string& what)
{
    const std::string name = utf8(file);
    if (!pathExists(file))
        throw Error(name + ": " + what + " is missing");
    requireRegularFile(name, what);
    std::ifstream in(file, std::ios::binary);
    if (!in)
        throw Error(name + ": cannot open " + what);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

// ---------------------------------------------------------------------------------------------------
// VTAB-1k

struct ListedSample
{
    fs::path image;
    long long label;
    std::string where;  // "FILE:LINE"
};

// One VTAB-1k split list: "relative/path label" per line, the path relative to the task folder. The path
// may hold spaces, so the label is what follows the last one. Blank lines are skipped.
std::vector<ListedSample> readVtabList(const fs::path& folder, const std::string& listName, const PetlTask* task)
{
    const fs::path file = folder / listName;
    if (!pathExists(file))
        throw Error(utf8(file) + ": split file is missing");
    const std::vector<std::string> lines = readLines(file, "split file");
    std::vector<ListedSample> samples;
    for (std::size_t i = 0; i < lines.size(); ++i) {
        std::string line = lines[i];
        while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back())))
            line.pop_back();
        if (line.find_first_not_of(" \t") == std::string::npos)
            continue;
        const std::string where = utf8(file) + ":" + std::to_string(i + 1);
        const auto space = line.find_last_of(" \t");
        const auto pathEnd = space == std::string::npos ? std::string::npos : line.find_last_not_of(" \t", space);
        if (pathEnd == std::string::npos)
            throw Error(where + ": expected 'relative/image/path label'");
        const std::string labelText = line.substr(space + 1);
        const long long label = parseLabel(labelText);
        if (label < 0)
            throw Error(where + ": the label '" + labelText + "' is not a non-negative integer");
        if (task && label >= task->classCount)
            throw Error(where + ": label " + std::to_string(label) + " is out of range (" + task->name + " has "
                        + std::to_string(task->classCount) + " classes, 0.." + std::to_string(task->classCount - 1) + ")");
        const std::string relative = line.substr(line.find_first_not_of(" \t"), pathEnd + 1 - line.find_first_not_of(" \t"));
        samples.push_back(ListedSample{folder / pathFromUtf8(relative), label, where});
    }
    if (samples.empty())
        throw Error(utf8(file) + ": lists no images");
    return samples;
}

std::vector<Sample> toSamples(const std::vector<ListedSample>& listed)
{
    std::vector<Sample> samples;
    samples.reserve(listed.size());
    for (const ListedSample& entry : listed)
        samples.push_back(Sample{utf8(entry.image), -1, static_cast<int>(entry.label)});
    return samples;
}

// ---------------------------------------------------------------------------------------------------
// FGVC

struct JsonEntry
{
    std::string relative;
    long long id;  // the label as the file writes it
    std::string where;  // "FILE:LINE: "path"" (no line when the key is not found verbatim in the text)
};

// The line of `"key"` in the file's text, 0 when the key is stored escaped. Only used for messages.
std::size_t lineOfKey(const std::string& text, const std::string& key)
{
    const auto at = text.find("\"" + key + "\"");
    return at == std::string::npos ? 0 : 1 + static_cast<std::size_t>(std::count(text.begin(), text.begin() + at, '\n'));
}

std::vector<JsonEntry> readFgvcJson(const fs::path& file)
{
    const std::string name = utf8(file);
    const std::string text = readWholeFile(file, "split file");
    nlohmann::ordered_json document;  // ordered: the file's order, as Python's json keeps it
    try {
        document = nlohmann::ordered_json::parse(text);
    } catch (const nlohmann::json::exception& error) {
        throw Error(name + ": invalid JSON (" + error.what() + ")");
    }
    if (!document.is_object())
        throw Error(name + ": expected an object mapping image paths to integer labels");
    std::vector<JsonEntry> entries;
    for (const auto& [key, value] : document.items()) {
        const std::size_t line = lineOfKey(text, key);
        const std::string where = name + (line > 0 ? ":" + std::to_string(line) : std::string()) + ": \"" + key + "\"";
        if (!value.is_number_integer() || (!value.is_number_unsigned() && value.get<long long>() < 0))
            throw Error(where + ": the label " + value.dump() + " is not a non-negative integer");
        const std::uint64_t id = value.get<std::uint64_t>();
        if (id > static_cast<std::uint64_t>(INT_MAX))
            throw Error(where + ": the label " + value.dump() + " is out of range");
        entries.push_back(JsonEntry{key, static_cast<long long>(id), where});
    }
    if (entries.empty())
        throw Error(name + ": lists no images");
    return entries;
}

// Class names from CUB's classes.txt ("1 001.Black_footed_Albatross"), line i naming label i, when it
// lists exactly `count` classes; empty otherwise.
std::vector<std::string> fgvcClassNames(const fs::path& folder, std::size_t count)
{
    const fs::path file = folder / "classes.txt";
    struct stat status {};
    if (::stat(utf8(file).c_str(), &status) != 0 || !S_ISREG(status.st_mode))
        return {};
    std::ifstream in(file, std::ios::binary);
    std::vector<std::string> names;
    std::string line;
    while (std::getline(in, line)) {
        while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back())))
            line.pop_back();
        if (line.empty())
            continue;
        const auto space = line.find(' ');
        if (space != std::string::npos && allDigits(line.substr(0, space)))
            line = line.substr(space + 1);
        const auto dot = line.find('.');
        if (dot != std::string::npos && dot > 0 && allDigits(line.substr(0, dot)))
            line = line.substr(dot + 1);
        names.push_back(promptClassName(line));
    }
    return names.size() == count ? names : std::vector<std::string>{};
}

} // namespace

std::vector<PetlBenchmarkInfo> petlBenchmarks()
{
    std::vector<PetlBenchmarkInfo> infos;
    for (const PetlTask& task : taskTable())
        infos.push_back({task.name, task.family, task.group, task.classCount, task.title});
    return infos;
}

const PetlBenchmarkInfo* findPetlBenchmark(const std::string& nameOrFolder, PetlFamily family)
{
    static const std::vector<PetlBenchmarkInfo> infos = petlBenchmarks();
    const PetlTask* task = findTask(nameOrFolder, family);
    return task ? &infos[static_cast<std::size_t>(task - taskTable().data())] : nullptr;
}

bool isVtabTaskFolder(const fs::path& folder)
{
    return pathExists(folder / kVtabLists[0]) || pathExists(folder / kVtabLists[1]) || pathExists(folder / kVtabLists[2]);
}

bool isFgvcFolder(const fs::path& folder)
{
    for (const char* file : kFgvcFiles)
        if (pathExists(folder / file))
            return true;
    return false;
}

DatasetIndex openVtabTask(const std::string& folderText, PetlProtocol protocol, const DatasetProgress& progress)
{
    const fs::path folder = pathFromUtf8(folderText);
    if (!isDirectory(folder))
        throw Error(folderText + ": not a folder");
    const std::string taskName = folderName(folder);
    const PetlTask* task = findTask(taskName, PetlFamily::Vtab1k);
    if (task && taskName != task->name)
        task = nullptr;  // VTAB-1k folder names are exact; "Cifar" is some other task

    // All four lists are read and checked, so that `dataset inspect` vouches for the whole task.
    std::vector<ListedSample> lists[4];
    ListedImageCheck images(progress);
    for (int i = 0; i < 4; ++i) {
        if (progress)
            progress("reading " + utf8(folder / kVtabLists[i]));
        lists[i] = readVtabList(folder, kVtabLists[i], task);
        for (const ListedSample& entry : lists[i])
            images.check(entry.image, entry.where);
    }

    DatasetIndex dataset;
    dataset.name = taskName;
    dataset.layout = "vtab-1k";
    dataset.root = utf8(folder);
    dataset.problems = images.problems();
    // VTAB-1k gives no class names: the label ids stand in for them. An unknown task folder still reads,
    // with as many classes as its largest label says.
    long long classCount = task ? task->classCount : 0;
    if (!task) {
        for (const auto& list : lists)
            for (const ListedSample& entry : list)
                classCount = std::max(classCount, entry.label + 1);
        dataset.problems.insert(dataset.problems.begin(), utf8(folder) + ": '" + taskName + "' is no VTAB-1k task; "
                                    + std::to_string(classCount) + " classes, from the largest label");
    }
    for (long long label = 0; label < classCount; ++label)
        dataset.classNames.push_back(std::to_string(label));
    if (protocol == PetlProtocol::Final) {
        dataset.train = toSamples(lists[2]);
    } else {
        dataset.train = toSamples(lists[0]);
        dataset.val = toSamples(lists[1]);
    }
    dataset.test = toSamples(lists[3]);
    dataset.description = std::string("VTAB-1k ") + (task ? std::string(task->group) + " task " + task->title : "task " + taskName)
                          + ", " + std::to_string(classCount) + " classes; "
                          + (protocol == PetlProtocol::Final ? "trains on train800val200, tests on test"
                                                             : "trains on train800, validates on val200, tests on test");
    return dataset;
}

DatasetIndex openFgvcDataset(const std::string& folderText, PetlProtocol protocol, const DatasetProgress& progress)
{
    const fs::path folder = pathFromUtf8(folderText);
    if (!isDirectory(folder))
        throw Error(folderText + ": not a folder");
    const PetlTask* task = findTask(folderName(folder), PetlFamily::Fgvc);
    // VPT's image root per dataset; a folder of another name uses images/ when it has one.
    fs::path imageRoot = folder;
    if (task && *task->imageFolder)
        imageRoot = folder / task->imageFolder;
    else if (!task && isDirectory(folder / "images"))
        imageRoot = folder / "images";
    if (!isDirectory(imageRoot))
        throw Error(utf8(imageRoot) + ": image folder is missing");

    std::vector<JsonEntry> splits[3];
    for (int i = 0; i < 3; ++i) {
        if (progress)
            progress("reading " + utf8(folder / kFgvcFiles[i]));
        splits[i] = readFgvcJson(folder / kFgvcFiles[i]);
    }
    // VPT maps the label ids, sorted, onto 0..C-1 (NABirds keeps its own sparse ids). Labels are checked
    // before images so that a bad label is named even when images are missing too.
    std::set<long long> idSet;
    for (const auto& split : splits)
        for (const JsonEntry& entry : split)
            idSet.insert(entry.id);
    const std::vector<long long> ids(idSet.begin(), idSet.end());
    if (task && ids.size() > static_cast<std::size_t>(task->classCount)) {
        const long long firstTooMany = ids[static_cast<std::size_t>(task->classCount)];
        for (const auto& split : splits)
            for (const JsonEntry& entry : split)
                if (entry.id >= firstTooMany)
                    throw Error(entry.where + ": label " + std::to_string(entry.id) + " is out of range (" + task->name + " has "
                                + std::to_string(task->classCount) + " classes, and the split files use "
                                + std::to_string(ids.size()) + " different labels)");
    }
    std::map<long long, int> labelOf;
    for (std::size_t i = 0; i < ids.size(); ++i)
        labelOf[ids[i]] = static_cast<int>(i);

    ListedImageCheck images(progress);
    std::vector<Sample> samples[3];
    for (int i = 0; i < 3; ++i)
        for (const JsonEntry& entry : splits[i]) {
            const fs::path image = imageRoot / pathFromUtf8(entry.relative);
            images.check(image, entry.where);
            samples[i].push_back(Sample{utf8(image), -1, labelOf.at(entry.id)});
        }

    DatasetIndex dataset;
    dataset.name = task ? task->name : folderName(folder);
    dataset.layout = "fgvc";
    dataset.root = utf8(folder);
    dataset.problems = images.problems();
    if (task && ids.size() < static_cast<std::size_t>(task->classCount))
        dataset.problems.insert(dataset.problems.begin(), utf8(folder) + ": the split files use " + std::to_string(ids.size())
                                    + " of the " + std::to_string(task->classCount) + " classes of " + task->name);
    dataset.classNames = fgvcClassNames(folder, ids.size());
    if (dataset.classNames.empty())
        for (long long id : ids)
            dataset.classNames.push_back(std::to_string(id));
    dataset.train = std::move(samples[0]);
    if (protocol == PetlProtocol::Final)
        dataset.train.insert(dataset.train.end(), samples[1].begin(), samples[1].end());
    else
        dataset.val = std::move(samples[1]);
    dataset.test = std::move(samples[2]);
    dataset.description = std::string("FGVC ") + (task ? task->title : dataset.name) + " in VPT's layout, "
                          + std::to_string(ids.size()) + " classes; "
                          + (protocol == PetlProtocol::Final ? "trains on train + val, tests on test"
                                                             : "trains on train, validates on val, tests on test");
    return dataset;
}

std::vector<std::string> petlBenchmarkFolders(const std::string& rootText)
{
    const fs::path root = pathFromUtf8(rootText);
    std::vector<std::string> found;
    for (const fs::path& base : {root, root / "vtab-1k", root / "fgvc"}) {
        if (!isDirectory(base))
            continue;
        std::vector<fs::path> folders;
        std::error_code error;
        for (fs::directory_iterator it(base, error), end; !error && it != end; it.increment(error)) {
            const std::string name = utf8(it->path().filename());
            std::error_code statusError;
            if (!name.empty() && name[0] != '.' && it->is_directory(statusError))
                folders.push_back(it->path());
        }
        std::sort(folders.begin(), folders.end());
        for (const fs::path& folder : folders)
            if (isVtabTaskFolder(folder) || isFgvcFolder(folder))
                found.push_back(utf8(folder));
    }
    return found;
}

} // namespace tunebench
