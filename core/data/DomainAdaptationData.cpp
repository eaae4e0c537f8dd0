#include "core/data/DomainAdaptationData.h"

#include "core/Error.h"
#include "core/Utf8Path.h"
#include "core/data/DatasetFiles.h"

#include <algorithm>
#include <map>

namespace fs = std::filesystem;

namespace tunebench {

namespace {

const char* const kImageList = "image_list.txt";
const char* const kDomainNetSplits = "splits_mini";

// A folder path without "." or ".." parts and without a trailing slash ("a/b/" -> "a/b").
fs::path cleanFolder(const fs::path& folder)
{
    fs::path clean = fs::absolute(folder).lexically_normal();
    return clean.filename().empty() ? clean.parent_path() : clean;
}

// Reads "<relative path> <label>" lines into samples under `base`; the class name of each label comes
// from path component `nameComponent`. Errors name the file and line.
void readLabelledList(const fs::path& list, const fs::path& base, std::size_t nameComponent, std::vector<Sample>& samples,
                      std::map<int, std::string>& nameOfLabel)
{
    const std::vector<std::string> lines = readLines(list, "image list");
    for (std::size_t i = 0; i < lines.size(); ++i) {
        const std::string& line = lines[i];
        if (line.find_first_not_of(" \t") == std::string::npos)
            continue;
        const std::string where = utf8(list) + ":" + std::to_string(i + 1);
        const auto space = line.find_last_of(' ');
        if (space == std::string::npos || space == 0)
            throw Error(where + ": expected '<path> <label>'");
        const std::string relative = line.substr(0, space);
        int label = -1;
        try {
            std::size_t used = 0;
            label = std::stoi(line.substr(space + 1), &used);
            if (used != line.size() - space - 1)
                label = -1;
        } catch (const std::exception&) {
            label = -1;
        }
        if (label < 0)
            throw Error(where + ": the label '" + line.substr(space + 1) + "' is not a non-negative integer");
        std::vector<std::string> parts;
        for (const auto& part : pathFromUtf8(relative))
            parts.push_back(utf8(part));
        if (parts.size() <= nameComponent + 1)
            throw Error(where + ": '" + relative + "' has no class folder at path component " + std::to_string(nameComponent + 1));
        const std::string name = promptClassName(parts[nameComponent]);
        auto [known, inserted] = nameOfLabel.emplace(label, name);
        if (!inserted && known->second != name)
            throw Error(where + ": label " + std::to_string(label) + " is '" + name + "' here but '" + known->second + "' earlier");
        samples.push_back(Sample{utf8(base / pathFromUtf8(relative)), -1, label});
    }
}

// Class names in label order; Error when a label between 0 and the largest is never used.
std::vector<std::string> classNamesOf(const std::map<int, std::string>& nameOfLabel, const std::string& where)
{
    if (nameOfLabel.empty())
        throw Error(where + ": lists no images");
    std::vector<std::string> names;
    for (const auto& [label, name] : nameOfLabel) {
        if (label != static_cast<int>(names.size()))
            throw Error(where + ": no image has label " + std::to_string(names.size()) + " (labels must run from 0 without gaps)");
        names.push_back(name);
    }
    return names;
}

} // namespace

bool isImageListFolder(const fs::path& folder)
{
    return isRegularFile(folder / kImageList);
}

DatasetIndex openImageListDataset(const std::string& folderText, const DatasetProgress& progress)
{
    const fs::path folder = pathFromUtf8(folderText);
    const fs::path list = folder / kImageList;
    if (progress)
        progress("reading " + utf8(list));
    DatasetIndex dataset;
    std::map<int, std::string> nameOfLabel;
    readLabelledList(list, folder, 0, dataset.train, nameOfLabel);
    dataset.classNames = classNamesOf(nameOfLabel, utf8(list));
    dataset.test = dataset.train;  // transductive, as DAPL evaluates VisDA-2017
    const fs::path clean = cleanFolder(folder);
    const std::string split = utf8(clean.filename());
    dataset.domain = split == "train" ? "synthetic" : (split == "validation" || split == "test") ? "real" : split;
    dataset.name = utf8(clean.parent_path().filename()) + "-" + dataset.domain;
    dataset.layout = "list";
    dataset.root = utf8(folder);
    dataset.description = std::to_string(dataset.classNames.size()) + " classes, " + std::to_string(dataset.train.size()) +
                          " images listed in " + kImageList + " (trained and tested on, transductively)";
    return dataset;
}

bool isDomainNetDomainFolder(const fs::path& folder)
{
    const fs::path clean = cleanFolder(folder);
    return isRegularFile(clean.parent_path() / kDomainNetSplits / (utf8(clean.filename()) + "_train.txt"));
}

DatasetIndex openDomainNetDomain(const std::string& domainFolder, const DatasetProgress& progress)
{
    const fs::path folder = cleanFolder(pathFromUtf8(domainFolder));
    const std::string domain = utf8(folder.filename());
    const fs::path root = folder.parent_path();
    DatasetIndex dataset;
    std::map<int, std::string> nameOfLabel;
    const std::pair<const char*, std::vector<Sample>*> splits[] = {{"train", &dataset.train}, {"test", &dataset.test}};
    for (const auto& [split, samples] : splits) {
        const fs::path list = root / kDomainNetSplits / (domain + "_" + split + ".txt");
        if (!isRegularFile(list))
            throw Error(utf8(list) + ": split file is missing (mini-DomainNet needs " + domain + "_train.txt and " + domain + "_test.txt)");
        if (progress)
            progress("reading " + utf8(list));
        readLabelledList(list, root, 1, *samples, nameOfLabel);
    }
    dataset.classNames = classNamesOf(nameOfLabel, utf8(root / kDomainNetSplits / (domain + "_{train,test}.txt")));
    dataset.domain = domain;
    dataset.name = "domainnet-" + domain;
    dataset.layout = "split-list";
    dataset.root = utf8(root);
    dataset.description = std::to_string(dataset.classNames.size()) + " classes, " + std::to_string(dataset.train.size()) + " train / " +
                          std::to_string(dataset.test.size()) + " test images (mini-DomainNet splits)";
    return dataset;
}

DatasetIndex openAdaptationDomain(const std::string& pathOrName, const DatasetProgress& progress)
{
    FolderSplitOptions whole;
    whole.trainFraction = 1.0;
    whole.valFraction = 0.0;
    DatasetIndex dataset = openDataset(pathOrName, whole, progress);
    if (dataset.layout == "folder" && !isDirectory(pathFromUtf8(dataset.root) / "train")) {
        // Dassl's Office-Home reader: the whole domain, for training and testing alike, in path order.
        std::vector<Sample> all = dataset.train;
        std::sort(all.begin(), all.end(), [](const Sample& a, const Sample& b) { return a.path < b.path; });
        dataset.train = all;
        dataset.val.clear();
        dataset.test = std::move(all);
        dataset.description = std::to_string(dataset.classNames.size()) + " classes, " + std::to_string(dataset.train.size()) +
                              " images (the whole domain, trained and tested on, transductively)";
    }
    if (dataset.domain.empty())
        dataset.domain = adaptationDomainName(dataset);
    return dataset;
}

std::string adaptationDomainName(const DatasetIndex& dataset)
{
    if (!dataset.domain.empty())
        return dataset.domain;
    if (dataset.layout == "idx")
        return "photo";
    return dataset.name;
}

std::vector<Sample> withoutLabels(const std::vector<Sample>& samples)
{
    std::vector<Sample> unlabelled = samples;
    for (Sample& sample : unlabelled)
        sample.label = -1;
    return unlabelled;
}

} // namespace tunebench
