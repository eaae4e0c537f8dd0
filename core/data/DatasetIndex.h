#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace tunebench {

// One labelled image. For file-based layouts `path` is the image file (UTF-8); for IDX datasets it is
// the IDX images file and `idxIndex` the image's position in it.
struct Sample
{
    std::string path;
    std::int64_t idxIndex = -1;
    int label = 0;
    int domain = 0;  // the image domain it is rendered into (imageDomains(); 0 = as stored)
};

// The decoded pixels of one IDX images file (MNIST style): uint8, `count` images of rows x cols,
// row-major and contiguous.
struct IdxImages
{
    std::string path;
    std::int64_t count = 0;
    int rows = 0;
    int cols = 0;
    std::vector<std::uint8_t> pixels;

    // The first pixel of image `index`, or nullptr when `index` is out of range.
    const std::uint8_t* image(std::int64_t index) const;
};

enum class DatasetSplit { Train, Val, Test };

struct SplitCounts
{
    std::size_t train = 0;
    std::size_t val = 0;
    std::size_t test = 0;
};

// Recipe values that suit a dataset better than a method's general recipe, as Dassl's per-dataset configs
// do. A run's own settings override them; config.json records what was used.
struct DatasetRecipe
{
    // Random resized crop's smallest area fraction: torchvision's 0.08 for photos; 28-pixel images lose
    // their object in such crops and get 0.5.
    double cropScaleMin = 0.08;
};

// A dataset as a list of labelled samples per split, independent of how it is laid out on disk.
struct DatasetIndex
{
    std::string name;
    std::string layout;  // "folder" | "dassl" | "idx" | "vtab-1k" | "fgvc" | "list" | ...
    std::string root;
    std::vector<std::string> classNames;  // prompt names ('_' replaced by ' '); index = label
    std::vector<Sample> train, val, test;
    std::vector<std::string> problems;  // human-readable, each naming the file
    std::string promptTemplate = "a photo of a {}.";  // the dataset's hand-crafted template
    std::string description;  // one line for listings
    // The image domain of every sample: for NAME:DOMAIN variants the one they are rendered into; for
    // domain-adaptation benchmarks the domain the reader names (art, synthetic, clipart, ...).
    std::string domain;
    DatasetRecipe recipe;
    // IDX only (nullptr otherwise): train and val samples index idxTrain (val is held out of the train
    // file), test samples index idxTest.
    std::shared_ptr<const IdxImages> idxTrain, idxTest;
    // Set by matchClasses: its classes paired with a source's other than by the same name, as
    // {"target", "source", "by": "normalised name" | "class map"} (an empty array: all by name).
    nlohmann::json classPairs;

    const std::vector<Sample>& split(DatasetSplit which) const;
    const IdxImages* idxImages(DatasetSplit which) const;
    SplitCounts splitCounts() const;
    // One entry per class name (index = label); samples with labels outside that range are not counted.
    std::vector<SplitCounts> perClassCounts() const;
};

// Error, in one line naming what differs, unless `target` has the same class names in the same order as
// `source` (a domain-generalisation or adaptation target must).
void requireSameClasses(const DatasetIndex& source, const DatasetIndex& target);

// A class name as class matching compares it: lower case, without spaces, '_', '-' and '/' ("T-shirt/top"
// and "T-shirt top" are both "tshirttop"; no folder name can hold a '/').
std::string normalisedClassName(const std::string& name);

// `target` with its classes paired to `source`'s, its samples relabelled to the source's labels and its
// class names and order the source's (so that requireSameClasses holds). A target class pairs, in this
// order, as `classMap` (target name -> source name, either side matched by normalised name) says, with
// the source class of the same name, or of the same normalised name. Error naming both datasets when a
// class stays unpaired, a pairing is ambiguous or the map names a class neither has. The result's
// classPairs lists the pairs not made by the same name.
DatasetIndex matchClasses(const DatasetIndex& source, const DatasetIndex& target, const std::map<std::string, std::string>& classMap = {});

// The prompt form of a folder or split-file class name: CoOp replaces '_' by ' '.
std::string promptClassName(const std::string& rawName);

} // namespace tunebench
