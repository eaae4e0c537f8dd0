#pragma once

#include "core/model/ModelSpec.h"
#include "core/tuning/Strategy.h"

#include <cstdint>
#include <string>
#include <vector>

namespace tunebench {

// Storage for N tasks relative to one backbone, as the VPT paper's "total params" column:
// (shared + N x per-task) / backbone, per-task = the strategy's trainable parameters (its K-class
// head included). shared = one pre-trained backbone, except for strategies that store a whole
// backbone per task (Full), where nothing is shared: that gives the paper's 24.02x, not 25.02x.
struct ParameterBudget
{
    std::int64_t trainable = 0;  // per task
    std::int64_t backbone = 0;
    std::int64_t shared = 0;
    int tasks = 1;
    double multiplier = 1.0;
};

// For an attached strategy. Classic PETL strategies count the image tower the feature uses; other
// strategies count every parameter of `model`.
ParameterBudget parameterBudget(Strategy& strategy, const ClipModel& model, int tasks);

// Random-weight geometries by name, so that parameter counts can be checked without a file:
// vit-s16, vit-b16, vit-b32, vit-l16 (timm naming and layout, no classifier head), and OpenAI's CLIP
// releases clip-vit-b16, clip-vit-b32, clip-vit-l14, clip-rn50, clip-rn101, clip-rn50x4, clip-rn50x16,
// clip-rn50x64.
std::vector<std::string> geometryNames();
bool isGeometryName(const std::string& name);
ModelSpec modelGeometry(const std::string& name);  // Error listing the known names

} // namespace tunebench
