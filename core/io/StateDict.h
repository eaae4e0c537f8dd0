#pragma once

#include <ATen/core/Tensor.h>

#include <map>
#include <string>

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

} // namespace tunebench
