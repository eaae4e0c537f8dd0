#pragma once
// A run folder's tuned model written as one ONNX graph, for callers that keep LibTorch out of their
// translation units (the window). Defined with TunedModel (TunedModel.cpp).

#include "core/export/OnnxExport.h"

#include <nlohmann/json.hpp>

#include <string>

namespace tunebench {

// openTunedRun(runDir), then writeTunedOnnx; the summary writeOnnx returns. Error naming the problem.
nlohmann::json writeRunOnnx(const std::string& runDir, const std::string& path, const OnnxOptions& options, const std::string& device = "cpu");
// Whether this build has ONNX export (libonnx-dev was found at configure time).
bool onnxExportAvailable();

} // namespace tunebench
