#pragma once

#include "core/data/DatasetIndex.h"

#include <cstdint>
#include <string>
#include <vector>

namespace tunebench {

class PyRandom;

struct FewShotOptions
{
    int shots = 0;  // images per class; 0 = the whole train split
    std::uint64_t seed = 1;
};

// Dassl's generate_fewshot_dataset(samples, num_shots=K) with repeat=False, drawing from `rng`: group
// by label in order of first appearance (items keep list order); per label random.sample(items, K)
// when it has at least K items, else all of them; concatenate. K < 1 returns the samples unchanged.
std::vector<Sample> sampleFewShot(const std::vector<Sample>& samples, int shotsPerClass, PyRandom& rng);

// The CoOp few-shot split: after random.seed(seed) the train split gets K per class, then the same
// stream gives the val split min(K, 4) per class; test is untouched. shots == 0 returns a copy.
// Throws tunebench::Error for negative shots.
DatasetIndex applyFewShot(const DatasetIndex& dataset, const FewShotOptions& options);

enum class ClassSubset { All, Base, New };

// The labels CoOp's subsample_classes keeps, sorted: of the labels present in `train`, the first
// ceil(n / 2) for Base, the rest for New, all of them for All.
std::vector<int> selectClassLabels(const std::vector<Sample>& train, ClassSubset subset);

// CoOp's subsample_classes: keep the selected labels' samples in train, val and test and relabel them
// 0..|set|-1 in sorted order (class names follow). All returns the dataset unchanged.
DatasetIndex subsampleClasses(const DatasetIndex& dataset, ClassSubset subset);

// "all" | "base" | "new" (for flags and config files); parse throws tunebench::Error on other words.
std::string classSubsetName(ClassSubset subset);
ClassSubset parseClassSubset(const std::string& word);

} // namespace tunebench
