#pragma once

#include "core/data/DatasetIndex.h"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace tunebench {

// How a class-per-folder tree without train/val/test subfolders is split (Dassl read_and_split_data
// defaults). The seed is fixed per dataset, not the run seed, so the test set stays the same across the
// seeds of a few-shot experiment.
struct FolderSplitOptions
{
    std::uint64_t seed = 1;
    double trainFraction = 0.5;  // 1 with valFraction 0: every image in train, none tested
    double valFraction = 0.2;
};

// Receives one-line progress messages during long scans (the CLI prints them on stderr).
using DatasetProgress = std::function<void(const std::string& message)>;

// Opens a dataset, detecting its layout:
//  - "idx": a folder with train-images-idx3-ubyte[.gz] and friends, or the names `fashion-mnist` /
//    `mnist` (Debian's /usr/share/datasets/<name>);
//  - "dassl": a CoOp benchmark folder (e.g. oxford_pets/ with split_zhou_OxfordPets.json) or a parent
//    folder holding exactly one of them;
//  - "vtab-1k" / "fgvc": a VTAB-1k task folder or an FGVC dataset in VPT's layout (PetlBenchmarks.h),
//    final protocol, or a data root holding exactly one;
//  - "folder": ROOT/{train,val,test}/<class>/<images> or ROOT/<class>/<images> (seeded split);
//  - NAME:DOMAIN: any of the above with its images rendered into an image domain (fashion-mnist:sketch).
// Throws tunebench::Error naming the path and the problem; recoverable oddities land in `problems`.
DatasetIndex openDataset(const std::string& pathOrName, const FolderSplitOptions& split = {},
                         const DatasetProgress& progress = {});

// Every image of `dataset` rendered into an image domain (ImageDomains.h): NAME:DOMAIN. Error naming the
// known domains when `domain` is not one of them.
DatasetIndex renderedInDomain(DatasetIndex dataset, const std::string& domain);

DatasetIndex openFolderDataset(const std::string& root, const FolderSplitOptions& split = {},
                               const DatasetProgress& progress = {});
// `folder` is the benchmark's own folder (oxford_pets/, imagenet/, ...); `benchmark` its CoOp name
// (OxfordPets, ImageNet, ...) or empty to recognise it from the folder's contents and name.
DatasetIndex openDasslDataset(const std::string& folder, const std::string& benchmark = {},
                              const DatasetProgress& progress = {});
DatasetIndex openIdxDataset(const std::string& folder, const DatasetProgress& progress = {});

// The CoOp benchmarks this reader knows: {name, standard folder name, hand-crafted template}.
struct DasslBenchmarkInfo
{
    std::string name;
    std::string folder;
    std::string promptTemplate;
};
std::vector<DasslBenchmarkInfo> dasslBenchmarks();

// True for the file extensions indexed as images (case-insensitive, with the dot: ".jpg").
// Whether a file's first bytes (up to kImageSignatureBytes of them) are those of a format the loader
// decodes (JPEG, PNG, BMP, TIFF, WebP, Netpbm), whatever the file's extension says.
constexpr std::size_t kImageSignatureBytes = 12;
bool hasImageSignature(const char* head, std::size_t size);
bool isImageExtension(const std::string& extension);

} // namespace tunebench
