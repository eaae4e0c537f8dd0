#pragma once
// Domains of unsupervised domain-adaptation benchmarks, as the Dassl readers that DAPL uses see them
// (methods-next.md 1.4), and the target's training images without their labels.

#include "core/data/DatasetIndex.h"
#include "core/data/DatasetLayouts.h"

#include <filesystem>
#include <string>
#include <vector>

namespace tunebench {

// VisDA-2017 style: a folder holding image_list.txt, one "<class>/<file> <label>" per line with paths
// relative to the folder. Every listed image is both trained and tested on (VisDA is evaluated
// transductively); the class name is the path's first component. The domain is "synthetic" for a folder
// named train, "real" for validation or test, otherwise the folder's name.
bool isImageListFolder(const std::filesystem::path& folder);
DatasetIndex openImageListDataset(const std::string& folder, const DatasetProgress& progress = {});

// mini-DomainNet: ROOT/<domain>/<class>/<file>, with ROOT/splits_mini/<domain>_{train,test}.txt listing
// "<domain>/<class>/<file> <label>". `domainFolder` is ROOT/<domain>; the class name is the second path
// component.
bool isDomainNetDomainFolder(const std::filesystem::path& folder);
DatasetIndex openDomainNetDomain(const std::string& domainFolder, const DatasetProgress& progress = {});

// One domain of an adaptation task: openDataset, except that a class-per-folder tree without
// train/val/test folders (an Office-Home domain, ROOT/<class>/<images>) is used whole, for training and
// for testing, as Dassl's Office-Home reader does. The domain word is set (DatasetIndex::domain).
DatasetIndex openAdaptationDomain(const std::string& pathOrName, const DatasetProgress& progress = {});

// The word for the domain in DAPL's prompts: DatasetIndex::domain, "photo" for an IDX dataset as stored,
// otherwise the dataset's name.
std::string adaptationDomainName(const DatasetIndex& dataset);

// What an adapting method sees of the target's training images: the images, every label -1.
std::vector<Sample> withoutLabels(const std::vector<Sample>& samples);

} // namespace tunebench
