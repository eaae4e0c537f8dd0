#pragma once
// How much memory a training run needs, known before it starts: `tunebench-cli plan` and the window's
// estimate under the Training box. No LibTorch in this header.
//
// The estimate runs the method's own training step (its prompts, hooks, towers and options, the precision
// and the checkpointing asked for) on narrow copies of the model: the same layers, tokens and resolution,
// the widths and heads at a quarter and a half, two small batches and class counts in the run's proportion.
// A counting allocator gives each copy's bytes exactly, on this machine's CPU kernels. A step's memory is
// linear in the width (heads narrowing with it), the batch and the classes, so the copies determine it at
// the real size; the weights (width x width) come from three narrower copies without a step.

#include "core/model/ModelSpec.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace tunebench {

class ClipTokenizer;

struct MemoryPlanRequest
{
    ModelSpec spec;                      // the model's geometry (a checkpoint's or a named one's)
    std::string method;
    nlohmann::json options = nlohmann::json::object();  // the method's options (resolved here)
    int batchSize = 0;                   // images per micro-batch; 0 = the recipe's
    int classes = 100;
    int shots = 16;
    std::string precision = "fp32";      // fp32 | bf16 | fp16 (the last two as CUDA's autocast computes them)
    std::string checkpointing = "none";  // none | image | text | both
    std::shared_ptr<const ClipTokenizer> tokenizer;  // for methods that use the text tower
};

// Bytes, at the request's batch size.
struct MemoryPlan
{
    std::string method, optimiser, precision, checkpointing;
    int batchSize = 0, classes = 0;
    bool trains = true;              // false: a training-free method (zero-shot) needs the weights only
    std::int64_t trainable = 0;      // parameters
    std::int64_t weights = 0;        // the model and the method's own tensors, fp32
    std::int64_t gradients = 0;      // one fp32 gradient per trainable parameter
    std::int64_t optimiserState = 0; // SGD's momentum or AdamW's two moments
    std::int64_t activations = 0;    // kept for the backward pass, and the step's transients
    std::int64_t textSide = 0;       // the part of the step that grows with the classes (the text tower's prompts)
    double perImage = 0;             // what one more image in the batch adds (activations and text side)

    std::int64_t total() const { return weights + gradients + optimiserState + activations + textSide; }
    // The total at another batch size (the per-image growth is linear).
    std::int64_t totalAt(int batchSize) const;
    // The largest batch whose total fits in `bytes`; 0 when not even one image fits.
    int largestBatch(std::int64_t bytes) const;
    nlohmann::json toJson() const;
};

// Error naming the method when it cannot be planned (it refuses the model, an option is invalid, or its
// step needs data a plan does not have). Seconds for a ViT-B, minutes for a ViT-L at 336 pixels (its
// copies run the real attention over 577 tokens); `progress` hears after each copy.
MemoryPlan planMemory(const MemoryPlanRequest& request, const std::function<void(int done, int total)>& progress = {});

// One training step of the request, run here on the CPU on a model of its geometry with random weights (the
// gradients already exist, as after a first step): how far the resident memory rose above what was resident
// before it, and the peak of the tensors it allocated. What `plan --measure` prints beside the plan's
// activations + textSide, and what its test compares. Slow: a real step of the real size. Leaves glibc
// returning large blocks to the kernel at once, which costs speed: for a process that measures and ends.
struct MeasuredStep
{
    std::int64_t residentGrowth = 0;
    std::int64_t allocatedPeak = 0;
    bool peakReset = false;  // false: VmHWM could not be reset, and the growth may include earlier peaks
    double seconds = 0;
};
MeasuredStep measureTrainingStep(const MemoryPlanRequest& request);

// "9.8 GiB"
std::string formatBytes(double bytes);

// What to change when `plan` does not fit in `available` bytes: a batch that fits (and the --accumulate that
// keeps the effective batch), the checkpointing and the precision that would fit, each with its total.
// Plans again for the other checkpointing and precision choices. Empty when it fits.
std::vector<std::string> memoryAdvice(const MemoryPlanRequest& request, const MemoryPlan& plan, std::int64_t available, bool cuda);

} // namespace tunebench
