#pragma once

#include "core/io/StateDict.h"

#include <string>

// Files written by Python's torch.save: `pytorch_model.bin`, `open_clip_pytorch_model.bin`, timm and
// DeiT `.pth` checkpoints. LibTorch's own pickle_load stops at the `collections.OrderedDict` every state
// dict is, so this is a small unpickler of our own for what torch.save writes. It never runs anything from
// the file: globals outside the few it knows (tensor rebuilds, storages, OrderedDict) become opaque values.

namespace tunebench {

enum class TorchSaveKind { NotTorchSave, Zip, Legacy };

// Zip: the PyTorch archive layout without TorchScript code (a `code/` folder); Legacy: the format before
// PyTorch 1.6 (a pickled magic number first). Error when a zip record claims more bytes than the file holds.
TorchSaveKind torchSaveKind(const std::string& path);

// Every tensor of the file, CPU, in its stored dtype. When the top-level object is a training checkpoint
// (a dict that also holds non-tensors), the tensors of its `state_dict`, `model`, `module` or
// `model_state` entry; nested dicts give dotted names. Errors name the file and the problem.
StateDict readTorchSave(const std::string& path);

} // namespace tunebench
