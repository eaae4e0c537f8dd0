#pragma once

#include <nlohmann/json.hpp>

#include <array>
#include <string>
#include <vector>

namespace tunebench {

class Strategy;

struct OnnxOptions
{
    int opset = 17;     // 13 .. 17: the operators used here are the same across them
    bool fp16 = false;  // the image tower's weights and arithmetic in fp16 (LayerNorm in fp32, as the engine); the head in fp32
};

// What the graph expects its input to have gone through, written into its metadata.
struct OnnxPreprocessing
{
    int resolution = 224;  // centre crop, and the input's height and width
    int resizeSize = 224;  // the shorter side is resized to this first
    std::string filter = "bicubic";
    std::array<float, 3> mean{}, std{};
};

// Writes a tuned model as one ONNX graph: "images" [N, 3, H, W] (RGB, normalised as `preprocessing` says)
// -> "logits" [N, C] and "probabilities" [N, C]. The graph is the method's Strategy::deployable(): the image
// tower with the method's prompt tokens (L2P's chosen per image from its pool), adapted layers (folded into
// the weights) and adapter branches, pooled at [CLS] or over the prompt tokens (Seq-FT, L2P), Side-tune's
// side network blended in, then its head (fixed class text features as a [C, E] constant, CLIP-Adapter,
// Tip-Adapter's cache, a probe's or a classic method's linear head). Metadata: class names, preprocessing, method, model hash.
// A method that cannot be written is an Error naming it and why; nothing is written then.
// Returns a summary: nodes, initializers, the classes and the file's size.
nlohmann::json writeOnnx(Strategy& strategy, const OnnxPreprocessing& preprocessing, const std::string& path,
                         const OnnxOptions& options = {});

} // namespace tunebench
