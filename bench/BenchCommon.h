#pragma once

// Shared pieces of the engine benchmarks and the engine check: options, timing, model geometry,
// resident-memory readings. Header-only so that each benchmark stays one translation unit.

#include "core/Autocast.h"
#include "core/Device.h"
#include "core/Error.h"
#include "core/model/ModelSpec.h"
#include "core/tuning/ParameterBudget.h"

#include <c10/core/DeviceType.h>
#include <torch/version.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
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

// A field of /proc/self/status in bytes, and resetting VmHWM: core/Device.h's.
inline std::int64_t procStatusBytes(const std::string& field) { return processStatusBytes(field); }
inline bool resetPeakRss() { return resetPeakResident(); }

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

// --precision, checked: fp32, bf16 or fp16, and on the CPU bf16 only (its autocast has no fp16). What
// core/Autocast.h's AutocastScope then turns on, as the Trainer's mixed precision does.
inline const std::string& checkedPrecision(const std::string& precision, c10::DeviceType device)
{
    if (precision != "fp32" && precision != "bf16" && precision != "fp16")
        throw Error("--precision: expected fp32, bf16 or fp16, got '" + precision + "'");
    if (device == c10::DeviceType::CPU && precision == "fp16")
        throw Error("--precision fp16: the CPU autocasts to bf16 only");
    return precision;
}

} // namespace tunebench::bench
