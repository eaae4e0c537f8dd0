#pragma once

// Shared pieces of the engine benchmarks and the engine check: options, timing, model geometry,
// resident-memory readings. Header-only so that each benchmark stays one translation unit.

#include "core/Error.h"
#include "core/model/ModelSpec.h"
#include "core/tuning/ParameterBudget.h"

#include <ATen/autocast_mode.h>
#include <c10/core/DeviceType.h>
#include <torch/version.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

namespace tunebench::bench {

// CLIP geometries: "b16" is ViT-B/16 (224 px, 12 x 768 image tower, 12 x 512 text tower); "small" keeps
// the architecture (patch 16, 77 positions, the real vocabulary) at widths a 2-core CPU runs in seconds.
// "rn50" is OpenAI's RN50 (ResNet image tower, 224 px, embedding 1024, 12 x 512 text tower).
// Heads are width / 64 (as OpenAI's build_model infers them, so the Python side rebuilds the same model)
// and MLPs 4 x width, as in every OpenAI CLIP.
inline ModelSpec clipGeometry(const std::string& name)
{
    struct Geometry
    {
        const char* name;
        int visionWidth, visionLayers, imageSize, textWidth, textLayers, outputDim;
    };
    if (name == "rn50")
        return modelGeometry("clip-rn50");
    static const Geometry geometries[] = {
        {"b16", 768, 12, 224, 512, 12, 512},
        {"small", 256, 4, 112, 256, 4, 256},
    };
    const auto* found = std::find_if(std::begin(geometries), std::end(geometries),
                                     [&](const Geometry& g) { return name == g.name; });
    if (found == std::end(geometries))
        throw Error("--geometry: unknown geometry '" + name + "' (use b16, small or rn50)");
    ModelSpec spec;
    spec.family = ModelSpec::Family::Clip;
    spec.vision.width = found->visionWidth;
    spec.vision.layers = found->visionLayers;
    spec.vision.mlpWidth = 4 * found->visionWidth;
    spec.vision.imageSize = found->imageSize;
    spec.vision.patchSize = 16;
    spec.vision.heads = found->visionWidth / 64;
    spec.vision.outputDim = found->outputDim;
    TextSpec text;
    text.width = found->textWidth;
    text.layers = found->textLayers;
    text.mlpWidth = 4 * found->textWidth;
    text.heads = found->textWidth / 64;
    text.outputDim = found->outputDim;
    spec.text = text;
    spec.name = "random CLIP (" + name + ")";
    return spec;
}

inline double median(std::vector<double> values)
{
    if (values.empty())
        return 0;
    std::sort(values.begin(), values.end());
    const size_t mid = values.size() / 2;
    return values.size() % 2 ? values[mid] : 0.5 * (values[mid - 1] + values[mid]);
}

// `warmup` untimed calls, then `repeats` timed ones; `sync` waits for queued device work.
inline std::vector<double> timeRuns(int warmup, int repeats, const std::function<void()>& run,
                                    const std::function<void()>& sync = {})
{
    for (int i = 0; i < warmup; ++i)
        run();
    if (sync)
        sync();
    std::vector<double> seconds;
    for (int i = 0; i < repeats; ++i) {
        const auto start = std::chrono::steady_clock::now();
        run();
        if (sync)
            sync();
        seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    return seconds;
}

// A field of /proc/self/status in bytes (VmRSS, VmHWM); 0 where there is no /proc.
inline std::int64_t procStatusBytes(const std::string& field)
{
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind(field + ":", 0) == 0)
            return std::stoll(line.substr(field.size() + 1)) * 1024;  // reported in kB
    }
    return 0;
}

// Resets VmHWM to the current RSS (Linux >= 4.0), so that a later VmHWM is the peak of one phase.
inline bool resetPeakRss()
{
    std::ofstream clear("/proc/self/clear_refs");
    clear << "5";
    return static_cast<bool>(clear);
}

// Multiply-adds x 2 of one image through a ViT image tower: patch embedding, per layer the QKV, attention
// (scores and weighted values), output and MLP products, then the pooled token's projection. Norms,
// softmax and activations are left out (under 1%), as FLOP counts of ViTs usually do. 0 for a ResNet tower.
inline double vitForwardFlops(const VisionSpec& vision)
{
    if (vision.isResNet() || vision.patchSize <= 0)
        return 0;
    const double patches = static_cast<double>(vision.gridSize()) * vision.gridSize();
    const double tokens = patches + 1, width = vision.width, mlp = vision.mlpWidth;
    const double patchEmbedding = 2 * patches * (3.0 * vision.patchSize * vision.patchSize) * width;
    const double perLayer = 2 * tokens * width * (3 * width)  // QKV
                            + 2 * 2 * tokens * tokens * width  // Q K^T and (softmax) V
                            + 2 * tokens * width * width       // output projection
                            + 2 * 2 * tokens * width * mlp;    // MLP in and out
    return patchEmbedding + vision.layers * perLayer + 2 * width * std::max(0, vision.outputDim);
}

// Autocast for the duration of a scope, as the Trainer's mixed precision does it (bf16 or fp16 matrix
// products, fp32 norms and reductions); fp32 is a no-op. On the CPU only bf16 is offered.
class AutocastScope
{
public:
    AutocastScope(const std::string& precision, c10::DeviceType device)
        : m_device(device)
        , m_enabled(precision != "fp32")
    {
        if (precision != "fp32" && precision != "bf16" && precision != "fp16")
            throw Error("--precision: expected fp32, bf16 or fp16, got '" + precision + "'");
        if (!m_enabled)
            return;
        if (device == c10::DeviceType::CPU && precision != "bf16")
            throw Error("--precision " + precision + ": the CPU autocasts to bf16 only");
        const auto dtype = precision == "bf16" ? at::kBFloat16 : at::kHalf;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
        at::autocast::set_autocast_dtype(device, dtype);
        at::autocast::set_autocast_enabled(device, true);
#else
        if (device == c10::DeviceType::CUDA) {
            at::autocast::set_autocast_gpu_dtype(dtype);
            at::autocast::set_enabled(true);
        } else {
            at::autocast::set_autocast_cpu_dtype(dtype);
            at::autocast::set_cpu_enabled(true);
        }
#endif
    }
    ~AutocastScope()
    {
        if (!m_enabled)
            return;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
        at::autocast::set_autocast_enabled(m_device, false);
#else
        if (m_device == c10::DeviceType::CUDA)
            at::autocast::set_enabled(false);
        else
            at::autocast::set_cpu_enabled(false);
#endif
        at::autocast::clear_cache();
    }
    AutocastScope(const AutocastScope&) = delete;
    AutocastScope& operator=(const AutocastScope&) = delete;

private:
    c10::DeviceType m_device;
    bool m_enabled;
};

} // namespace tunebench::bench
