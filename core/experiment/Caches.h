#pragma once
// The last model and the last dataset opened, kept for the process (the workbench opens, counts and runs
// the same ones again and again). Keyed by content, not by name: a file or folder that changed on disk is
// read again. Thread-safe; the objects handed out are immutable and shared.

#include "core/data/DatasetLayouts.h"
#include "core/experiment/Experiment.h"

#include <memory>
#include <string>

namespace tunebench {

// The checkpoint and its vocabulary (loadBackbone on the CPU; a run sets its own device on a copy).
std::shared_ptr<const Backbone> cachedBackbone(const std::string& modelPath, const std::string& vocabulary);

// openDataset's result. `progress` reports only when the dataset is actually read.
std::shared_ptr<const DatasetIndex> cachedDataset(const std::string& pathOrName, const DatasetProgress& progress = {});

// What identifies a path's content cheaply: for a file its size and modification time; for a folder
// the modification times of it and of its folders down to `depth` levels (class folders of a split
// folder), which change whenever a file is added, removed or renamed there. Empty for a name that is
// not a path (the built-in datasets).
std::string contentSignature(const std::string& path, int depth);

} // namespace tunebench
