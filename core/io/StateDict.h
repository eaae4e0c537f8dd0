#pragma once

#include <ATen/core/Tensor.h>

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace tunebench {

// Named tensors, ordered by name. What every checkpoint reader returns and every writer takes.
using StateDict = std::map<std::string, at::Tensor>;

// All tensors of a safetensors file as CPU tensors in their stored dtype (copied out of the mapping,
// since the file's data need not be aligned). Throws Error naming the file, the tensor and the problem.
StateDict readSafetensors(const std::string& path, std::map<std::string, std::string>* metadata = nullptr);

// Writes atomically (temporary file, then rename). Tensors are made contiguous CPU copies first.
void writeSafetensors(const StateDict& tensors, const std::string& path,
                      const std::map<std::string, std::string>& metadata = {});

// "[768, 512]"
std::string shapeString(at::IntArrayRef shape);

// Copies each target's tensor of `state` into it (onto its device, in its dtype), without gradient.
// Errors, prefixed with "`owner`: ": a target the state lacks, a tensor of another shape, a state tensor
// that is neither a target nor `ignored`.
void loadStateInto(const std::vector<std::pair<std::string, at::Tensor>>& targets, const StateDict& state,
                   const std::string& owner, const std::set<std::string>& ignored = {});

} // namespace tunebench
