#include "core/data/DatasetLayouts.h"

#include "core/Error.h"
#include "core/Utf8Path.h"
#include "core/io/RegularFile.h"
#include "core/data/DatasetFiles.h"
#include "core/data/DomainAdaptationData.h"
#include "core/data/ImageDomains.h"
#include "core/data/IdxFile.h"
#include "core/data/PetlBenchmarks.h"
#include "core/data/PyRandom.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <climits>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

namespace tunebench {

namespace fs = std::filesystem;

namespace {

// Where Debian's dataset-fashion-mnist / dataset-mnist packages install their files.
const char* const kDebianDatasetDir = "/usr/share/datasets";

std::string lowercase(std::string text)
{
    for (char& c : text)
        if (c >= 'A' && c <= 'Z')
            c = static_cast<char>(c - 'A' + 'a');
    return text;
}

// Python's str.strip() for the ASCII whitespace that occurs in these text files.
std::string strip(const std::string& text)
{
    const char* whitespace = " \t\r\n\f\v";
    const auto first = text.find_first_not_of(whitespace);
    if (first == std::string::npos)
        return {};
    const auto last = text.find_last_not_of(whitespace);
    return text.substr(first, last - first + 1);
}

// Python's round() of a float: nearest, ties to even (Dassl uses it to size the folder splits).
long long pythonRound(double value)
{
    const double lower = std::floor(value);
    const double fraction = value - lower;
    long long result = static_cast<long long>(lower);
    if (fraction > 0.5 || (fraction == 0.5 && (result % 2 != 0)))
        ++result;
    return result;
}

struct DirectoryListing
{
    std::vector<std::string> folders;  // names, sorted by bytes
    std::vector<std::string> files;    // names, sorted by bytes
};

// Non-hidden entries of a folder (Dassl's listdir_nohidden), sorted so that the result does not depend
// on the file system's enumeration order.
DirectoryListing listFolder(const fs::path& folder)
{
    DirectoryListing listing;
    std::error_code error;
    fs::directory_iterator it(folder, error);
    if (error)
        throw Error(utf8(folder) + ": cannot list folder (" + error.message() + ")");
    for (; it != fs::directory_iterator(); it.increment(error)) {
        if (error)
            throw Error(utf8(folder) + ": cannot list folder (" + error.message() + ")");
        const std::string name = utf8(it->path().filename());
        if (name.empty() || name[0] == '.')
            continue;
        std::error_code statusError;
        if (it->is_directory(statusError))
            listing.folders.push_back(name);
        else
            listing.files.push_back(name);
    }
    std::sort(listing.folders.begin(), listing.folders.end());
    std::sort(listing.files.begin(), listing.files.end());
    return listing;
}

// The image files of one class folder, sorted by name. Only cheap checks here (extension, size, the
// first bytes): decoding failures are the loader's to count.
std::vector<std::string> listImages(const fs::path& classFolder, ProblemLog& problems)
{
    const DirectoryListing listing = listFolder(classFolder);
    for (const std::string& name : listing.folders)
        problems.add("nested folders skipped", utf8(classFolder / pathFromUtf8(name)) + ": nested folder skipped");
    std::vector<std::string> images;
    for (const std::string& name : listing.files) {
        const fs::path file = classFolder / pathFromUtf8(name);
        if (!isImageExtension(utf8(file.extension()))) {
            problems.add("files without an image extension skipped",
                         utf8(file) + ": not an image file (unknown extension), skipped");
            continue;
        }
        std::error_code error;
        const auto size = fs::file_size(file, error);
        if (error || size == 0) {
            problems.add("empty or unreadable image files skipped", utf8(file) + ": empty or unreadable, skipped");
            continue;
        }
        const ImageFileHead head = readImageFileHead(file);
        if (head == ImageFileHead::Unreadable) {
            problems.add("empty or unreadable image files skipped", utf8(file) + ": cannot be opened, skipped");
            continue;
        }
        // Listed all the same: the split must stay that of the reference implementations, which list by
        // name. The loader skips the file and reports it again.
        if (head == ImageFileHead::NotAnImage)
            problems.add("files that are not images", utf8(file) + ": not an image (its first bytes match no image format); "
                                                                  "training and evaluation will skip it");
        images.push_back(utf8(file));
    }
    return images;
}

// A one-name-per-line class list. Blank lines at the end are ignored; a blank line inside is an error,
// because it would shift every later label.
std::vector<std::string> readClassList(const fs::path& path)
{
    std::vector<std::string> lines = readLines(path);
    while (!lines.empty() && strip(lines.back()).empty())
        lines.pop_back();
    std::vector<std::string> names;
    std::set<std::string> seen;
    for (std::size_t i = 0; i < lines.size(); ++i) {
        const std::string name = strip(lines[i]);
        if (name.empty())
            throw Error(utf8(path) + ":" + std::to_string(i + 1) + ": empty class name");
        if (!seen.insert(name).second)
            throw Error(utf8(path) + ":" + std::to_string(i + 1) + ": class '" + name + "' is listed twice");
        names.push_back(name);
    }
    if (names.empty())
        throw Error(utf8(path) + ": lists no classes");
    return names;
}

void reportProgress(const DatasetProgress& progress, const std::string& message)
{
    if (progress)
        progress(message);
}

// Reports "indexed N images" every kProgressEvery images while class folders are scanned.
class ScanProgress
{
public:
    ScanProgress(const DatasetProgress& progress, std::string what) : m_progress(progress), m_what(std::move(what)) {}

    void add(std::size_t images)
    {
        const std::size_t before = m_images / kProgressEvery;
        m_images += images;
        if (m_images / kProgressEvery != before)
            reportProgress(m_progress, "indexed " + std::to_string(m_images) + " images of " + m_what);
    }

private:
    const DatasetProgress& m_progress;
    std::string m_what;
    std::size_t m_images = 0;
};

// ---------------------------------------------------------------------------------------------------
// CoOp benchmark folders

enum class DasslKind { SplitJson, Aircraft, ImageNet };

struct DasslBenchmark
{
    const char* name;
    const char* folder;       // the standard folder name under the data root
    const char* imageFolder;  // relative to `folder`; empty = `folder` itself
    const char* markerFile;   // the split file / class list that identifies the benchmark
    const char* promptTemplate;
    DasslKind kind;
};

const std::vector<DasslBenchmark>& benchmarkTable()
{
    static const std::vector<DasslBenchmark> table = {
        {"Caltech101", "caltech-101", "101_ObjectCategories", "split_zhou_Caltech101.json", "a photo of a {}.",
         DasslKind::SplitJson},
        {"OxfordPets", "oxford_pets", "images", "split_zhou_OxfordPets.json", "a photo of a {}, a type of pet.",
         DasslKind::SplitJson},
        {"StanfordCars", "stanford_cars", "", "split_zhou_StanfordCars.json", "a photo of a {}.",
         DasslKind::SplitJson},
        {"OxfordFlowers", "oxford_flowers", "jpg", "split_zhou_OxfordFlowers.json",
         "a photo of a {}, a type of flower.", DasslKind::SplitJson},
        {"Food101", "food-101", "images", "split_zhou_Food101.json", "a photo of {}, a type of food.",
         DasslKind::SplitJson},
        {"SUN397", "sun397", "SUN397", "split_zhou_SUN397.json", "a photo of a {}.", DasslKind::SplitJson},
        {"DescribableTextures", "dtd", "images", "split_zhou_DescribableTextures.json", "{} texture.",
         DasslKind::SplitJson},
        {"EuroSAT", "eurosat", "2750", "split_zhou_EuroSAT.json", "a centered satellite photo of {}.",
         DasslKind::SplitJson},
        {"UCF101", "ucf101", "UCF-101-midframes", "split_zhou_UCF101.json", "a photo of a person doing {}.",
         DasslKind::SplitJson},
        {"FGVCAircraft", "fgvc_aircraft", "images", "variants.txt", "a photo of a {}, a type of aircraft.",
         DasslKind::Aircraft},
        {"ImageNet", "imagenet", "images", "classnames.txt", "a photo of a {}.", DasslKind::ImageNet},
    };
    return table;
}

const DasslBenchmark* findBenchmark(const std::string& nameOrFolder)
{
    const std::string wanted = lowercase(nameOrFolder);
    for (const DasslBenchmark& benchmark : benchmarkTable())
        if (lowercase(benchmark.name) == wanted || benchmark.folder == wanted)
            return &benchmark;
    return nullptr;
}

fs::path imageFolderOf(const DasslBenchmark& benchmark, const fs::path& folder)
{
    return std::string(benchmark.imageFolder).empty() ? folder : folder / benchmark.imageFolder;
}

bool hasMarker(const DasslBenchmark& benchmark, const fs::path& folder)
{
    if (!isRegularFile(folder / benchmark.markerFile))
        return false;
    // classnames.txt alone is too common a name; ImageNet also needs its image tree.
    return benchmark.kind != DasslKind::ImageNet || isDirectory(folder / benchmark.imageFolder);
}

// The benchmark whose folder `folder` is: by its marker file, else by its standard name together with
// its image folder (so that a missing split file is reported rather than the folder read as classes).
const DasslBenchmark* benchmarkOwning(const fs::path& folder)
{
    for (const DasslBenchmark& benchmark : benchmarkTable())
        if (hasMarker(benchmark, folder))
            return &benchmark;
    const std::string name = folderName(folder);
    for (const DasslBenchmark& benchmark : benchmarkTable())
        if (name == benchmark.folder && *benchmark.imageFolder && isDirectory(folder / benchmark.imageFolder))
            return &benchmark;
    return nullptr;
}

class MissingImageCheck
{
public:
    MissingImageCheck(ProblemLog& problems, const DatasetProgress& progress, std::string listFile)
        : m_problems(problems), m_progress(progress), m_listFile(std::move(listFile))
    {
    }

    void check(const fs::path& image)
    {
        if (!isRegularFile(image))
            m_problems.add("images referenced by " + m_listFile + " missing",
                           utf8(image) + ": image referenced by " + m_listFile + " is missing");
        if (++m_checked % kProgressEvery == 0)
            reportProgress(m_progress, "checked " + std::to_string(m_checked) + " images of " + m_listFile);
    }

private:
    ProblemLog& m_problems;
    const DatasetProgress& m_progress;
    std::string m_listFile;
    std::size_t m_checked = 0;
};

void readSplitJson(DatasetIndex& dataset, const fs::path& splitFile, const fs::path& imageFolder,
                   ProblemLog& problems, const DatasetProgress& progress)
{
    const std::string fileName = utf8(splitFile);
    requireRegularFile(fileName, "split file");
    std::ifstream in(splitFile, std::ios::binary);
    if (!in)
        throw Error(fileName + ": cannot open split file");
    nlohmann::json document;
    try {
        document = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& error) {
        throw Error(fileName + ": invalid JSON (" + error.what() + ")");
    }
    if (!document.is_object())
        throw Error(fileName + ": expected an object with \"train\", \"val\" and \"test\" lists");

    std::map<long long, std::string> nameOfLabel;
    const char* keys[] = {"train", "val", "test"};
    std::vector<Sample>* targets[] = {&dataset.train, &dataset.val, &dataset.test};
    MissingImageCheck missing(problems, progress, fileName);
    for (int split = 0; split < 3; ++split) {
        const std::string key = keys[split];
        auto list = document.find(key);
        if (list == document.end() || !list->is_array())
            throw Error(fileName + ": missing the \"" + key + "\" list");
        std::vector<Sample>& samples = *targets[split];
        samples.reserve(list->size());
        for (std::size_t i = 0; i < list->size(); ++i) {
            const nlohmann::json& entry = (*list)[i];
            const std::string where = fileName + ": " + key + "[" + std::to_string(i) + "]";
            if (!entry.is_array() || entry.size() != 3 || !entry[0].is_string() || !entry[1].is_number_integer()
                || !entry[2].is_string())
                throw Error(where + ": expected [relative image path, integer label, class name]");
            const long long label =
                entry[1].is_number_unsigned()
                    ? static_cast<long long>(std::min<std::uint64_t>(entry[1].get<std::uint64_t>(), LLONG_MAX))
                    : entry[1].get<long long>();
            if (label < 0 || label > INT_MAX)
                throw Error(where + ": label " + std::to_string(label) + " is out of range");
            const std::string className = entry[2].get<std::string>();
            auto known = nameOfLabel.emplace(label, className);
            if (!known.second && known.first->second != className)
                throw Error(where + ": class name '" + className + "' for label " + std::to_string(label)
                            + " differs from '" + known.first->second + "' given earlier");
            const fs::path image = imageFolder / pathFromUtf8(entry[0].get<std::string>());
            // A missing image stays in the split: dropping it would change the reference few-shot draw.
            missing.check(image);
            samples.push_back(Sample{utf8(image), -1, static_cast<int>(label)});
        }
    }

    // Labels must be exactly 0..n-1: report the first entry that breaks that.
    const long long classCount = static_cast<long long>(nameOfLabel.size());
    for (int split = 0; split < 3; ++split)
        for (std::size_t i = 0; i < targets[split]->size(); ++i) {
            const int label = (*targets[split])[i].label;
            if (label >= classCount)
                throw Error(fileName + ": " + keys[split] + "[" + std::to_string(i) + "]: label "
                            + std::to_string(label) + " is out of range (the file names " + std::to_string(classCount)
                            + " classes, so labels must be 0.." + std::to_string(classCount - 1) + ")");
        }
    for (const auto& [label, name] : nameOfLabel)
        dataset.classNames.push_back(promptClassName(name));
}

void readAircraft(DatasetIndex& dataset, const fs::path& folder, const fs::path& imageFolder, ProblemLog& problems,
                  const DatasetProgress& progress)
{
    const fs::path variantsFile = folder / "variants.txt";
    const std::vector<std::string> variants = readClassList(variantsFile);
    std::map<std::string, int> labelOf;
    for (std::size_t i = 0; i < variants.size(); ++i)
        labelOf[variants[i]] = static_cast<int>(i);

    const char* splitNames[] = {"train", "val", "test"};
    std::vector<Sample>* targets[] = {&dataset.train, &dataset.val, &dataset.test};
    for (int split = 0; split < 3; ++split) {
        const fs::path listFile = folder / (std::string("images_variant_") + splitNames[split] + ".txt");
        const std::string listName = utf8(listFile);
        if (!isRegularFile(listFile))
            throw Error(listName + ": split file is missing");
        const std::vector<std::string> lines = readLines(listFile);
        MissingImageCheck missing(problems, progress, listName);
        for (std::size_t i = 0; i < lines.size(); ++i) {
            const std::string line = strip(lines[i]);
            if (line.empty())
                continue;
            const std::string where = listName + ":" + std::to_string(i + 1);
            const auto space = line.find(' ');
            if (space == std::string::npos)
                throw Error(where + ": expected 'IMAGEID variant name'");
            const std::string variant = line.substr(space + 1);
            auto label = labelOf.find(variant);
            if (label == labelOf.end())
                throw Error(where + ": variant '" + variant + "' is not listed in " + utf8(variantsFile));
            const fs::path image = imageFolder / pathFromUtf8(line.substr(0, space) + ".jpg");
            missing.check(image);
            targets[split]->push_back(Sample{utf8(image), -1, label->second});
        }
    }
    for (const std::string& name : variants)
        dataset.classNames.push_back(promptClassName(name));
}

void readImageNet(DatasetIndex& dataset, const fs::path& folder, const fs::path& imageFolder, ProblemLog& problems,
                  const DatasetProgress& progress)
{
    const fs::path classFile = folder / "classnames.txt";
    const std::vector<std::string> lines = readLines(classFile);
    std::map<std::string, int> labelOfFolder;
    for (std::size_t i = 0; i < lines.size(); ++i) {
        const std::string line = strip(lines[i]);
        if (line.empty())
            continue;
        const std::string where = utf8(classFile) + ":" + std::to_string(i + 1);
        const auto space = line.find(' ');
        if (space == std::string::npos)
            throw Error(where + ": expected 'WNID class name'");
        const std::string wnid = line.substr(0, space);
        if (labelOfFolder.count(wnid))
            throw Error(where + ": folder '" + wnid + "' is listed twice");
        labelOfFolder[wnid] = static_cast<int>(dataset.classNames.size());
        dataset.classNames.push_back(promptClassName(strip(line.substr(space + 1))));
    }
    if (dataset.classNames.empty())
        throw Error(utf8(classFile) + ": lists no classes");

    // CoOp evaluates ImageNet on its val folder and keeps no separate val split.
    const std::pair<const char*, std::vector<Sample>*> splits[] = {{"train", &dataset.train}, {"val", &dataset.test}};
    for (const auto& [splitFolderName, samples] : splits) {
        const fs::path splitFolder = imageFolder / splitFolderName;
        if (!isDirectory(splitFolder))
            throw Error(utf8(splitFolder) + ": image folder is missing");
        reportProgress(progress, "scanning " + utf8(splitFolder));
        ScanProgress scanned(progress, utf8(splitFolder));
        for (const std::string& wnid : listFolder(splitFolder).folders) {
            const fs::path classFolder = splitFolder / pathFromUtf8(wnid);
            auto label = labelOfFolder.find(wnid);
            if (label == labelOfFolder.end())
                throw Error(utf8(classFolder) + ": folder is not listed in " + utf8(classFile));
            const std::vector<std::string> images = listImages(classFolder, problems);
            if (images.empty())
                throw Error(utf8(classFolder) + ": class folder holds no images");
            for (const std::string& image : images)
                samples->push_back(Sample{image, -1, label->second});
            scanned.add(images.size());
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// IDX (MNIST-style) folders

const char* const kIdxTrainImages = "train-images-idx3-ubyte";
const char* const kIdxTrainLabels = "train-labels-idx1-ubyte";
const char* const kIdxTestImages = "t10k-images-idx3-ubyte";
const char* const kIdxTestLabels = "t10k-labels-idx1-ubyte";

// `folder/stem` or `folder/stem.gz`, whichever exists; empty when neither does.
fs::path findIdxFile(const fs::path& folder, const std::string& stem)
{
    if (isRegularFile(folder / stem))
        return folder / stem;
    if (isRegularFile(folder / (stem + ".gz")))
        return folder / (stem + ".gz");
    return {};
}

fs::path requireIdxFile(const fs::path& folder, const std::string& stem)
{
    fs::path file = findIdxFile(folder, stem);
    if (file.empty())
        throw Error(utf8(folder / stem) + "[.gz]: IDX file is missing");
    return file;
}

std::vector<std::string> builtInIdxClassNames(const std::string& datasetName)
{
    const std::string name = lowercase(datasetName);
    if (name == "fashion-mnist" || name == "fashion_mnist" || name == "fashionmnist")
        return {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                "Ankle boot"};
    if (name == "mnist")
        return {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
    return {};
}

} // namespace

bool hasImageSignature(const char* head, std::size_t size)
{
    const auto starts = [&](const char* magic, std::size_t length, std::size_t at = 0) {
        return size >= at + length && std::memcmp(head + at, magic, length) == 0;
    };
    // TIFF and BigTIFF ("+" for "*"), little- and big-endian.
    if (starts("\xFF\xD8\xFF", 3) || starts("\x89PNG\r\n\x1A\n", 8) || starts("BM", 2) || starts("II*\0", 4) ||
        starts("MM\0*", 4) || starts("II+\0", 4) || starts("MM\0+", 4) || (starts("RIFF", 4) && starts("WEBP", 4, 8)))
        return true;
    // Netpbm: P1 to P6, then white space.
    return size >= 3 && head[0] == 'P' && head[1] >= '1' && head[1] <= '6' && std::isspace(static_cast<unsigned char>(head[2]));
}

bool isImageExtension(const std::string& extension)
{
    // What OpenCV 4.6's imread decodes on Debian; GIF is not among them.
    static const std::set<std::string> known = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff",
                                                ".webp", ".pgm", ".ppm", ".pbm", ".pnm"};
    return known.count(lowercase(extension)) > 0;
}

std::vector<DasslBenchmarkInfo> dasslBenchmarks()
{
    std::vector<DasslBenchmarkInfo> infos;
    for (const DasslBenchmark& benchmark : benchmarkTable())
        infos.push_back({benchmark.name, benchmark.folder, benchmark.promptTemplate});
    return infos;
}

DatasetIndex openFolderDataset(const std::string& rootText, const FolderSplitOptions& split,
                               const DatasetProgress& progress)
{
    const fs::path root = pathFromUtf8(rootText);
    if (!isDirectory(root))
        throw Error(rootText + ": not a folder");
    DatasetIndex dataset;
    dataset.name = folderName(root);
    dataset.layout = "folder";
    dataset.root = utf8(root);
    ProblemLog problems;

    const bool hasSplitFolders = isDirectory(root / "train");
    if (hasSplitFolders) {
        // ROOT/{train,val,test}/<class>: the class list comes from train.
        if (!isDirectory(root / "test"))
            throw Error(utf8(root / "test") + ": folder is missing (" + utf8(root / "train")
                        + " exists, so ROOT/{train,val,test}/<class> is expected)");
        const DirectoryListing top = listFolder(root);
        for (const std::string& name : top.folders)
            if (name != "train" && name != "val" && name != "test")
                problems.add("unexpected folders skipped", utf8(root / pathFromUtf8(name)) + ": not train/val/test, skipped");
        const std::vector<std::string> classFolders = listFolder(root / "train").folders;
        if (classFolders.empty())
            throw Error(utf8(root / "train") + ": holds no class folders");
        std::map<std::string, int> labelOf;
        for (std::size_t i = 0; i < classFolders.size(); ++i) {
            labelOf[classFolders[i]] = static_cast<int>(i);
            dataset.classNames.push_back(promptClassName(classFolders[i]));
        }
        const std::pair<const char*, std::vector<Sample>*> splits[] = {
            {"train", &dataset.train}, {"val", &dataset.val}, {"test", &dataset.test}};
        for (const auto& [splitName, samples] : splits) {
            const fs::path splitFolder = root / splitName;
            if (!isDirectory(splitFolder))
                continue;  // only val is optional; train and test were checked above
            reportProgress(progress, "scanning " + utf8(splitFolder));
            ScanProgress scanned(progress, utf8(splitFolder));
            const DirectoryListing listing = listFolder(splitFolder);
            for (const std::string& name : listing.files)
                problems.add("files outside class folders skipped",
                             utf8(splitFolder / pathFromUtf8(name)) + ": file outside a class folder, skipped");
            for (const std::string& classFolderName : listing.folders) {
                const fs::path classFolder = splitFolder / pathFromUtf8(classFolderName);
                auto label = labelOf.find(classFolderName);
                if (label == labelOf.end())
                    throw Error(utf8(classFolder) + ": class folder has no counterpart in " + utf8(root / "train"));
                const std::vector<std::string> images = listImages(classFolder, problems);
                if (images.empty())
                    throw Error(utf8(classFolder) + ": class folder holds no images");
                for (const std::string& image : images)
                    samples->push_back(Sample{image, -1, label->second});
                scanned.add(images.size());
            }
        }
    } else {
        // ROOT/<class>: Dassl's read_and_split_data with sorted file names; a train fraction of 1 keeps
        // every image in train (a domain-adaptation domain, used whole).
        const bool whole = split.trainFraction == 1.0 && split.valFraction == 0.0;
        if (!whole && !(split.trainFraction > 0.0 && split.valFraction >= 0.0
              && split.trainFraction + split.valFraction < 1.0))
            throw Error(rootText + ": invalid split fractions (train " + std::to_string(split.trainFraction) + ", val "
                        + std::to_string(split.valFraction) + "); need train > 0, val >= 0, train + val < 1");
        const DirectoryListing top = listFolder(root);
        for (const std::string& name : top.files)
            problems.add("files outside class folders skipped",
                         utf8(root / pathFromUtf8(name)) + ": file outside a class folder, skipped");
        if (top.folders.empty())
            throw Error(rootText + ": holds no class folders");
        reportProgress(progress, "scanning " + utf8(root) + " (" + std::to_string(top.folders.size()) + " classes)");
        ScanProgress scanned(progress, utf8(root));
        PyRandom rng(split.seed);
        for (std::size_t label = 0; label < top.folders.size(); ++label) {
            const fs::path classFolder = root / pathFromUtf8(top.folders[label]);
            std::vector<std::string> images = listImages(classFolder, problems);
            scanned.add(images.size());
            if (images.empty())
                throw Error(utf8(classFolder) + ": class folder holds no images");
            rng.shuffle(images);
            const long long total = static_cast<long long>(images.size());
            const long long trainCount = pythonRound(static_cast<double>(total) * split.trainFraction);
            const long long valCount = pythonRound(static_cast<double>(total) * split.valFraction);
            const long long testCount = total - trainCount - valCount;
            if (!whole && (trainCount < 1 || testCount < 1 || (split.valFraction > 0.0 && valCount < 1)))
                throw Error(utf8(classFolder) + ": " + std::to_string(total) + " images leave a split empty (train "
                            + std::to_string(trainCount) + ", val " + std::to_string(valCount) + ", test "
                            + std::to_string(testCount) + "); add images or use train/val/test folders");
            dataset.classNames.push_back(promptClassName(top.folders[label]));
            for (long long i = 0; i < total; ++i) {
                std::vector<Sample>& target =
                    i < trainCount ? dataset.train : (i < trainCount + valCount ? dataset.val : dataset.test);
                target.push_back(Sample{images[static_cast<std::size_t>(i)], -1, static_cast<int>(label)});
            }
        }
    }
    dataset.problems = problems.finish();
    return dataset;
}

DatasetIndex openDasslDataset(const std::string& folderText, const std::string& benchmarkName,
                              const DatasetProgress& progress)
{
    const fs::path folder = pathFromUtf8(folderText);
    if (!isDirectory(folder))
        throw Error(folderText + ": not a folder");
    const DasslBenchmark* benchmark = benchmarkName.empty() ? benchmarkOwning(folder) : findBenchmark(benchmarkName);
    if (!benchmark)
        throw Error(benchmarkName.empty() ? folderText + ": not a CoOp benchmark folder"
                                          : "unknown CoOp benchmark '" + benchmarkName + "'");
    const fs::path marker = folder / benchmark->markerFile;
    if (!isRegularFile(marker))
        throw Error(utf8(marker) + ": " + std::string(benchmark->kind == DasslKind::SplitJson ? "split" : "class list")
                    + " file is missing");
    const fs::path imageFolder = imageFolderOf(*benchmark, folder);
    if (!isDirectory(imageFolder))
        throw Error(utf8(imageFolder) + ": image folder is missing");

    DatasetIndex dataset;
    dataset.name = benchmark->name;
    dataset.layout = "dassl";
    dataset.root = utf8(folder);
    dataset.promptTemplate = benchmark->promptTemplate;
    ProblemLog problems;
    reportProgress(progress, "reading " + utf8(marker));
    switch (benchmark->kind) {
    case DasslKind::SplitJson:
        readSplitJson(dataset, marker, imageFolder, problems, progress);
        break;
    case DasslKind::Aircraft:
        readAircraft(dataset, folder, imageFolder, problems, progress);
        break;
    case DasslKind::ImageNet:
        readImageNet(dataset, folder, imageFolder, problems, progress);
        break;
    }
    dataset.problems = problems.finish();
    return dataset;
}

DatasetIndex openIdxDataset(const std::string& folderText, const DatasetProgress& progress)
{
    const fs::path folder = pathFromUtf8(folderText);
    if (!isDirectory(folder))
        throw Error(folderText + ": not a folder");
    const fs::path trainImagesFile = requireIdxFile(folder, kIdxTrainImages);
    const fs::path trainLabelsFile = requireIdxFile(folder, kIdxTrainLabels);
    const fs::path testImagesFile = requireIdxFile(folder, kIdxTestImages);
    const fs::path testLabelsFile = requireIdxFile(folder, kIdxTestLabels);

    DatasetIndex dataset;
    dataset.name = folderName(folder);
    dataset.layout = "idx";
    dataset.root = utf8(folder);
    std::vector<std::string> problems;

    reportProgress(progress, "reading " + utf8(trainImagesFile));
    auto trainImages = std::make_shared<IdxImages>(readIdxImages(utf8(trainImagesFile)));
    const std::vector<std::uint8_t> trainLabels = readIdxLabels(utf8(trainLabelsFile));
    reportProgress(progress, "reading " + utf8(testImagesFile));
    auto testImages = std::make_shared<IdxImages>(readIdxImages(utf8(testImagesFile)));
    const std::vector<std::uint8_t> testLabels = readIdxLabels(utf8(testLabelsFile));
    if (static_cast<std::int64_t>(trainLabels.size()) != trainImages->count)
        throw Error(utf8(trainLabelsFile) + ": holds " + std::to_string(trainLabels.size()) + " labels but "
                    + utf8(trainImagesFile) + " holds " + std::to_string(trainImages->count) + " images");
    if (static_cast<std::int64_t>(testLabels.size()) != testImages->count)
        throw Error(utf8(testLabelsFile) + ": holds " + std::to_string(testLabels.size()) + " labels but "
                    + utf8(testImagesFile) + " holds " + std::to_string(testImages->count) + " images");
    if (testImages->rows != trainImages->rows || testImages->cols != trainImages->cols)
        throw Error(utf8(testImagesFile) + ": images are " + std::to_string(testImages->rows) + "x"
                    + std::to_string(testImages->cols) + " but the train images are "
                    + std::to_string(trainImages->rows) + "x" + std::to_string(trainImages->cols));

    // Class names: a list next to the files, else the built-in names of a known dataset.
    fs::path classFile;
    for (const char* candidate : {"classes.txt", "classnames.txt"})
        if (isRegularFile(folder / candidate)) {
            classFile = folder / candidate;
            break;
        }
    std::vector<std::string> names =
        classFile.empty() ? builtInIdxClassNames(dataset.name) : readClassList(classFile);
    const std::string namesSource = classFile.empty() ? "the built-in class names of " + dataset.name : utf8(classFile);
    int maxLabel = 0;
    for (const auto& [labels, labelsFile] : {std::pair{&trainLabels, &trainLabelsFile}, std::pair{&testLabels, &testLabelsFile}})
        for (std::size_t i = 0; i < labels->size(); ++i) {
            const int label = (*labels)[i];
            if (!names.empty() && static_cast<std::size_t>(label) >= names.size())
                throw Error(utf8(*labelsFile) + ": label " + std::to_string(label) + " of item " + std::to_string(i)
                            + " is out of range for the " + std::to_string(names.size()) + " classes of "
                            + namesSource);
            maxLabel = std::max(maxLabel, label);
        }
    if (names.empty()) {
        for (int label = 0; label <= maxLabel; ++label)
            names.push_back(std::to_string(label));
        problems.push_back(utf8(folder) + ": no classes.txt or classnames.txt; class names are the label numbers");
    } else if (!classFile.empty() && names.size() != static_cast<std::size_t>(maxLabel) + 1) {
        throw Error(utf8(classFile) + ": lists " + std::to_string(names.size()) + " classes but the labels go up to "
                    + std::to_string(maxLabel) + " (" + std::to_string(maxLabel + 1) + " classes)");
    }
    for (const std::string& name : names)
        dataset.classNames.push_back(promptClassName(name));

    // IDX has no val file: hold out a fixed 10% of train. The permutation uses seed 0, not the run seed,
    // so that every run sees the same val images; both parts keep file order.
    const std::size_t trainCount = trainLabels.size();
    std::vector<std::size_t> order(trainCount);
    for (std::size_t i = 0; i < trainCount; ++i)
        order[i] = i;
    PyRandom(0).shuffle(order);
    std::vector<bool> heldOut(trainCount, false);
    for (std::size_t i = 0; i < trainCount / 10; ++i)
        heldOut[order[i]] = true;
    const std::string trainPath = utf8(trainImagesFile);
    for (std::size_t i = 0; i < trainCount; ++i)
        (heldOut[i] ? dataset.val : dataset.train)
            .push_back(Sample{trainPath, static_cast<std::int64_t>(i), trainLabels[i]});
    const std::string testPath = utf8(testImagesFile);
    for (std::size_t i = 0; i < testLabels.size(); ++i)
        dataset.test.push_back(Sample{testPath, static_cast<std::int64_t>(i), testLabels[i]});

    dataset.description = std::to_string(trainImages->rows) + "x" + std::to_string(trainImages->cols) + " grayscale images of "
                          + std::to_string(dataset.classNames.size()) + " classes (IDX files in " + utf8(folder) + ")";
    if (std::min(trainImages->rows, trainImages->cols) <= 64)
        dataset.recipe.cropScaleMin = 0.5;
    dataset.idxTrain = std::move(trainImages);
    dataset.idxTest = std::move(testImages);
    dataset.problems = std::move(problems);
    return dataset;
}

DatasetIndex renderedInDomain(DatasetIndex dataset, const std::string& domainName)
{
    const int domain = findImageDomain(domainName);
    if (domain <= 0) {
        std::string known;
        for (const std::string& name : datasetVariantDomains())
            known += (known.empty() ? "" : ", ") + name;
        throw Error(dataset.name + ":" + domainName + ": unknown image domain '" + domainName + "' (known: " + known + ")");
    }
    if (!dataset.domain.empty())
        throw Error(dataset.name + ":" + domainName + ": " + dataset.name + " is already rendered as " + dataset.domain);
    for (auto* split : {&dataset.train, &dataset.val, &dataset.test})
        for (Sample& sample : *split)
            sample.domain = domain;
    const ImageDomain& info = imageDomains()[static_cast<std::size_t>(domain)];
    dataset.name += ":" + domainName;
    dataset.domain = domainName;
    dataset.description = info.description + "; " + dataset.description;
    return dataset;
}

DatasetIndex openDataset(const std::string& pathOrName, const FolderSplitOptions& split,
                         const DatasetProgress& progress)
{
    fs::path path = pathFromUtf8(pathOrName);
    std::error_code error;
    // NAME:DOMAIN, unless a file or folder has exactly that name.
    if (const auto colon = pathOrName.rfind(':'); colon != std::string::npos && colon > 0 && !fs::exists(path, error))
        return renderedInDomain(openDataset(pathOrName.substr(0, colon), split, progress), pathOrName.substr(colon + 1));
    if (!fs::exists(path, error)) {
        // Bare names of the Debian-packaged IDX datasets.
        const std::string name = lowercase(pathOrName);
        if (name == "fashion-mnist" || name == "mnist") {
            const fs::path installed = fs::path(kDebianDatasetDir) / name;
            if (!isDirectory(installed))
                throw Error(pathOrName + ": dataset not found (" + utf8(installed)
                            + " does not exist; install Debian's dataset-" + name + ")");
            DatasetIndex dataset = openIdxDataset(utf8(installed), progress);
            dataset.description = (name == "mnist" ? "MNIST: handwritten digits, " : "Fashion-MNIST: photos of clothing, ")
                                  + dataset.description + " from Debian's dataset-" + name;
            return dataset;
        }
        throw Error(pathOrName + ": no such file or folder");
    }
    if (!isDirectory(path))
        throw Error(pathOrName + ": not a folder (a dataset is opened from its folder)");
    if (!findIdxFile(path, kIdxTrainImages).empty())
        return openIdxDataset(pathOrName, progress);
    // Recognised by their split files, which no other layout has (test.txt alone does not count).
    if (isVtabTaskFolder(path))
        return openVtabTask(pathOrName, PetlProtocol::Final, progress);
    if (isFgvcFolder(path))
        return openFgvcDataset(pathOrName, PetlProtocol::Final, progress);
    if (const DasslBenchmark* own = benchmarkOwning(path))
        return openDasslDataset(pathOrName, own->name, progress);

    // A data root holding the standard benchmark folders (CoOp's DATASET.ROOT, the PETL repositories'
    // data/ with vtab-1k/ and the FGVC folders).
    std::vector<const DasslBenchmark*> found;
    for (const DasslBenchmark& benchmark : benchmarkTable()) {
        const fs::path candidate = path / benchmark.folder;
        if (isDirectory(candidate) && benchmarkOwning(candidate) == &benchmark)
            found.push_back(&benchmark);
    }
    const std::vector<std::string> petlFolders = petlBenchmarkFolders(pathOrName);
    if (found.size() == 1 && petlFolders.empty())
        return openDasslDataset(utf8(path / found.front()->folder), found.front()->name, progress);
    if (found.empty() && petlFolders.size() == 1)
        return openDataset(petlFolders.front(), split, progress);
    if (found.size() + petlFolders.size() > 1) {
        std::string names;
        for (const DasslBenchmark* benchmark : found)
            names += (names.empty() ? "" : ", ") + std::string(benchmark->folder);
        for (const std::string& folder : petlFolders)
            names += (names.empty() ? "" : ", ") + utf8(pathFromUtf8(folder).lexically_relative(path));
        throw Error(pathOrName + ": holds several benchmarks (" + names + "); pass one of their folders");
    }
    // Domain-adaptation benchmarks: VisDA-2017's image lists, mini-DomainNet's split files.
    if (isImageListFolder(path))
        return openImageListDataset(pathOrName, progress);
    if (isDomainNetDomainFolder(path))
        return openDomainNetDomain(pathOrName, progress);
    return openFolderDataset(pathOrName, split, progress);
}

} // namespace tunebench
