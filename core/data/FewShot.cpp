#include "core/data/FewShot.h"

#include "core/Error.h"
#include "core/data/PyRandom.h"

#include <algorithm>
#include <map>
#include <set>

namespace tunebench {

std::vector<Sample> sampleFewShot(const std::vector<Sample>& samples, int shotsPerClass, PyRandom& rng)
{
    if (shotsPerClass < 1)
        return samples;
    // Python's dict keeps insertion order, so labels are visited in order of first appearance.
    std::vector<int> labelOrder;
    std::map<int, std::vector<std::size_t>> positionsByLabel;
    for (std::size_t i = 0; i < samples.size(); ++i) {
        auto& positions = positionsByLabel[samples[i].label];
        if (positions.empty())
            labelOrder.push_back(samples[i].label);
        positions.push_back(i);
    }
    const std::size_t shots = static_cast<std::size_t>(shotsPerClass);
    std::vector<Sample> picked;
    for (int label : labelOrder) {
        const std::vector<std::size_t>& positions = positionsByLabel[label];
        if (positions.size() >= shots) {
            for (std::size_t chosen : rng.sampleIndices(positions.size(), shots))
                picked.push_back(samples[positions[chosen]]);
        } else {
            // repeat=False in every CoOp dataset: a short class keeps all its items, no draws made.
            for (std::size_t position : positions)
                picked.push_back(samples[position]);
        }
    }
    return picked;
}

DatasetIndex applyFewShot(const DatasetIndex& dataset, const FewShotOptions& options)
{
    if (options.shots < 0)
        throw Error("few-shot: the number of shots must be >= 0, got " + std::to_string(options.shots));
    DatasetIndex result = dataset;
    if (options.shots == 0)
        return result;
    PyRandom rng(options.seed);
    result.train = sampleFewShot(dataset.train, options.shots, rng);
    result.val = sampleFewShot(dataset.val, std::min(options.shots, 4), rng);
    return result;
}

std::vector<int> selectClassLabels(const std::vector<Sample>& train, ClassSubset subset)
{
    std::set<int> present;
    for (const Sample& sample : train)
        present.insert(sample.label);
    std::vector<int> labels(present.begin(), present.end());
    const std::size_t baseCount = (labels.size() + 1) / 2;  // ceil(n / 2)
    switch (subset) {
    case ClassSubset::All:
        return labels;
    case ClassSubset::Base:
        return std::vector<int>(labels.begin(), labels.begin() + static_cast<std::ptrdiff_t>(baseCount));
    case ClassSubset::New:
        break;
    }
    return std::vector<int>(labels.begin() + static_cast<std::ptrdiff_t>(baseCount), labels.end());
}

DatasetIndex subsampleClasses(const DatasetIndex& dataset, ClassSubset subset)
{
    if (subset == ClassSubset::All)
        return dataset;
    const std::vector<int> selected = selectClassLabels(dataset.train, subset);
    std::map<int, int> newLabelOf;
    for (std::size_t i = 0; i < selected.size(); ++i)
        newLabelOf[selected[i]] = static_cast<int>(i);

    DatasetIndex result = dataset;
    result.classNames.clear();
    for (int label : selected) {
        const bool known = label >= 0 && static_cast<std::size_t>(label) < dataset.classNames.size();
        result.classNames.push_back(known ? dataset.classNames[static_cast<std::size_t>(label)]
                                          : std::to_string(label));
    }
    auto filter = [&newLabelOf](const std::vector<Sample>& samples) {
        std::vector<Sample> kept;
        for (const Sample& sample : samples) {
            auto it = newLabelOf.find(sample.label);
            if (it == newLabelOf.end())
                continue;
            Sample relabelled = sample;
            relabelled.label = it->second;
            kept.push_back(std::move(relabelled));
        }
        return kept;
    };
    result.train = filter(dataset.train);
    result.val = filter(dataset.val);
    result.test = filter(dataset.test);
    return result;
}

std::string classSubsetName(ClassSubset subset)
{
    switch (subset) {
    case ClassSubset::All:
        return "all";
    case ClassSubset::Base:
        return "base";
    case ClassSubset::New:
        break;
    }
    return "new";
}

ClassSubset parseClassSubset(const std::string& word)
{
    if (word == "all")
        return ClassSubset::All;
    if (word == "base")
        return ClassSubset::Base;
    if (word == "new")
        return ClassSubset::New;
    throw Error("class subset must be all, base or new, got '" + word + "'");
}

} // namespace tunebench
