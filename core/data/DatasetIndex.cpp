#include "core/data/DatasetIndex.h"

#include "core/Error.h"

#include <algorithm>
#include <cctype>
#include <set>

namespace tunebench {

const std::uint8_t* IdxImages::image(std::int64_t index) const
{
    if (index < 0 || index >= count)
        return nullptr;
    const std::size_t imageSize = static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols);
    const std::size_t offset = static_cast<std::size_t>(index) * imageSize;
    if (offset + imageSize > pixels.size())
        return nullptr;
    return pixels.data() + offset;
}

const std::vector<Sample>& DatasetIndex::split(DatasetSplit which) const
{
    switch (which) {
    case DatasetSplit::Train:
        return train;
    case DatasetSplit::Val:
        return val;
    case DatasetSplit::Test:
        break;
    }
    return test;
}

const IdxImages* DatasetIndex::idxImages(DatasetSplit which) const
{
    return which == DatasetSplit::Test ? idxTest.get() : idxTrain.get();
}

SplitCounts DatasetIndex::splitCounts() const
{
    return SplitCounts{train.size(), val.size(), test.size()};
}

std::vector<SplitCounts> DatasetIndex::perClassCounts() const
{
    std::vector<SplitCounts> counts(classNames.size());
    auto countInto = [&counts](const std::vector<Sample>& samples, std::size_t SplitCounts::*field) {
        for (const Sample& sample : samples)
            if (sample.label >= 0 && static_cast<std::size_t>(sample.label) < counts.size())
                ++(counts[static_cast<std::size_t>(sample.label)].*field);
    };
    countInto(train, &SplitCounts::train);
    countInto(val, &SplitCounts::val);
    countInto(test, &SplitCounts::test);
    return counts;
}

std::string promptClassName(const std::string& rawName)
{
    std::string name = rawName;
    std::replace(name.begin(), name.end(), '_', ' ');
    return name;
}

void requireSameClasses(const DatasetIndex& source, const DatasetIndex& target)
{
    if (source.classNames == target.classNames)
        return;
    auto listMissing = [](const std::vector<std::string>& names, const std::vector<std::string>& other) {
        const std::set<std::string> present(other.begin(), other.end());
        std::string list;
        for (const std::string& name : names)
            if (!present.count(name))
                list += (list.empty() ? "" : ", ") + name;
        return list;
    };
    const std::string onlySource = listMissing(source.classNames, target.classNames);
    const std::string onlyTarget = listMissing(target.classNames, source.classNames);
    std::string message = target.name + ": its classes differ from " + source.name + "'s";
    if (!onlySource.empty())
        message += "; only in " + source.name + ": " + onlySource;
    if (!onlyTarget.empty())
        message += "; only in " + target.name + ": " + onlyTarget;
    if (onlySource.empty() && onlyTarget.empty())
        message += " in order (labels would not match)";
    throw Error(message);
}

std::string normalisedClassName(const std::string& name)
{
    std::string key;
    for (char c : name)
        if (c != ' ' && c != '_' && c != '-' && c != '/')
            key += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return key;
}

DatasetIndex matchClasses(const DatasetIndex& source, const DatasetIndex& target, const std::map<std::string, std::string>& classMap)
{
    if (source.classNames == target.classNames && classMap.empty()) {
        DatasetIndex same = target;
        same.classPairs = nlohmann::json::array();
        return same;
    }
    const std::size_t n = target.classNames.size();
    // A name's class in `names`: exact first, else the one class of the same normalised name (-1: none,
    // -2: several).
    auto find = [](const std::vector<std::string>& names, const std::string& name, bool* exact) {
        const auto it = std::find(names.begin(), names.end(), name);
        *exact = it != names.end();
        if (*exact)
            return static_cast<int>(it - names.begin());
        int found = -1;
        for (std::size_t i = 0; i < names.size(); ++i)
            if (normalisedClassName(names[i]) == normalisedClassName(name))
                found = found == -1 ? static_cast<int>(i) : -2;
        return found;
    };
    std::vector<int> sourceOf(n, -1);
    std::vector<std::string> by(n);
    for (const auto& [targetName, sourceName] : classMap) {
        bool exact = false;
        const int t = find(target.classNames, targetName, &exact);
        const int s = find(source.classNames, sourceName, &exact);
        if (t < 0)
            throw Error("--class-map: \"" + targetName + "\" is " + (t == -2 ? "ambiguous among" : "not one of") + " " + target.name +
                        "'s classes");
        if (s < 0)
            throw Error("--class-map: \"" + sourceName + "\" is " + (s == -2 ? "ambiguous among" : "not one of") + " " + source.name +
                        "'s classes");
        sourceOf[size_t(t)] = s;
        by[size_t(t)] = "class map";
    }
    for (std::size_t t = 0; t < n; ++t) {
        if (sourceOf[t] != -1)
            continue;
        bool exact = false;
        const int s = find(source.classNames, target.classNames[t], &exact);
        if (s == -2)
            throw Error(target.name + ": class \"" + target.classNames[t] + "\" matches several of " + source.name +
                        "'s classes once case, spaces, '_', '-' and '/' are ignored; pair it with --class-map FILE");
        sourceOf[t] = s;
        by[t] = exact ? "name" : "normalised name";
    }
    // Every class paired, one to one; else the classes left over, as requireSameClasses names them.
    std::vector<int> targetOf(source.classNames.size(), -1);
    std::string onlySource, onlyTarget;
    for (std::size_t t = 0; t < n; ++t) {
        if (sourceOf[t] < 0) {
            onlyTarget += (onlyTarget.empty() ? "" : ", ") + target.classNames[t];
            continue;
        }
        int& taken = targetOf[size_t(sourceOf[t])];
        if (taken >= 0)
            throw Error(target.name + ": classes \"" + target.classNames[size_t(taken)] + "\" and \"" + target.classNames[t] +
                        "\" both pair with " + source.name + "'s \"" + source.classNames[size_t(sourceOf[t])] + "\"");
        taken = static_cast<int>(t);
    }
    for (std::size_t s = 0; s < source.classNames.size(); ++s)
        if (targetOf[s] < 0)
            onlySource += (onlySource.empty() ? "" : ", ") + source.classNames[s];
    if (!onlySource.empty() || !onlyTarget.empty())
        throw Error(target.name + ": its classes differ from " + source.name + "'s" + (onlySource.empty() ? "" : "; only in " + source.name + ": " + onlySource) +
                    (onlyTarget.empty() ? "" : "; only in " + target.name + ": " + onlyTarget) +
                    " (pair them with --class-map FILE, a JSON object of target name -> source name)");

    DatasetIndex matched = target;
    matched.classNames = source.classNames;
    for (std::vector<Sample>* split : {&matched.train, &matched.val, &matched.test})
        for (Sample& sample : *split)
            if (sample.label >= 0 && static_cast<std::size_t>(sample.label) < n)
                sample.label = sourceOf[size_t(sample.label)];
    matched.classPairs = nlohmann::json::array();
    for (std::size_t t = 0; t < n; ++t)
        if (by[t] != "name")
            matched.classPairs.push_back({{"target", target.classNames[t]}, {"source", source.classNames[size_t(sourceOf[t])]}, {"by", by[t]}});
    return matched;
}

} // namespace tunebench
