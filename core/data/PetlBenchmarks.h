#pragma once
// The PETL benchmarks of the VPT table (methods-3.md §3): the 19 VTAB-1k tasks as the PETL repositories
// (NOAH, SSF, ...) store them, and the five FGVC datasets in VPT's layout.

#include "core/data/DatasetIndex.h"
#include "core/data/DatasetLayouts.h"

#include <filesystem>
#include <string>
#include <vector>

namespace tunebench {

enum class PetlFamily { Vtab1k, Fgvc };

// One task of the table. `name` is the VTAB-1k task folder (cifar, ...) or the FGVC dataset
// (CUB_200_2011, ...); `group` is Natural / Specialized / Structured for VTAB-1k and "FGVC" for FGVC.
struct PetlBenchmarkInfo
{
    std::string name;
    PetlFamily family;
    std::string group;
    int classCount;
    std::string title;  // the dataset people know it as ("CIFAR-100")
};

// The 24 tasks: the 19 of VTAB-1k in the order of the VPT table, then the 5 of FGVC.
std::vector<PetlBenchmarkInfo> petlBenchmarks();
// The task named `nameOrFolder`: a VTAB-1k task folder name, or an FGVC dataset's name or one of its
// usual folder names (case, '-', '_' and spaces ignored: "Stanford-dogs", "OxfordFlower"). Null if none.
const PetlBenchmarkInfo* findPetlBenchmark(const std::string& nameOrFolder, PetlFamily family);

// Which splits a reader returns. Final (the protocol the papers report): VTAB-1k trains on
// train800val200 and FGVC on train + val, no val split, test on test. Tuning (for choosing
// hyper-parameters): VTAB-1k train800 / val200 / test, FGVC train / val / test.
enum class PetlProtocol { Final, Tuning };

// A VTAB-1k task folder is one holding train800.txt, val200.txt or train800val200.txt (test.txt alone is
// too common a name); an FGVC folder is one holding train.json, val.json or test.json. Either way the
// other split files are then required, so that a missing one is named rather than the folder misread.
bool isVtabTaskFolder(const std::filesystem::path& folder);
bool isFgvcFolder(const std::filesystem::path& folder);

// Every split list is read and checked whichever protocol is asked for. Errors (one line, naming the
// file and line): a missing split file, a line that is not "path label", a label out of range, a listed
// image that is absent or not a regular file. Images whose first bytes are no image format are listed in
// `problems` (training skips them).
DatasetIndex openVtabTask(const std::string& folder, PetlProtocol protocol = PetlProtocol::Final,
                          const DatasetProgress& progress = {});
DatasetIndex openFgvcDataset(const std::string& folder, PetlProtocol protocol = PetlProtocol::Final,
                             const DatasetProgress& progress = {});

// The VTAB-1k task and FGVC folders directly under `root`, `root/vtab-1k` and `root/fgvc` (the PETL
// repositories' data folders), sorted within each.
std::vector<std::string> petlBenchmarkFolders(const std::string& root);

} // namespace tunebench
