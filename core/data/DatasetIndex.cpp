#include "core/data/DatasetIndex.h"

#include "core/Error.h"

#include <algorithm>
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

} // namespace tunebench
