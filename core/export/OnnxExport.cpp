#include "core/export/OnnxExport.h"

#include "core/Error.h"
#include "core/Version.h"
#include "core/export/OnnxGraph.h"
#include "core/tuning/ConditionalText.h"
#include "core/tuning/Strategy.h"

#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <optional>
#include <sstream>
#include <tuple>

namespace tunebench {

namespace {

constexpr std::int64_t kFloat32 = 1, kFloat16 = 10;  // ONNX TensorProto element types, for Cast

std::string blockLayerName(BlockLayer which)
{
    switch (which) {
    case BlockLayer::Norm1: return "ln_1";
    case BlockLayer::QkvProjection: return "attn.in_proj";
    case BlockLayer::OutProjection: return "attn.out_proj";
    case BlockLayer::Norm2: return "ln_2";
    case BlockLayer::MlpIn: return "mlp.c_fc";
    case BlockLayer::MlpOut: return "mlp.c_proj";
    }
    return "?";
}

bool close(const at::Tensor& a, const at::Tensor& b, double tolerance = 1e-4)
{
    const double scale = std::max(1.0, b.abs().max().item<double>());
    return a.sizes() == b.sizes() && (a - b).abs().max().item<double>() <= tolerance * scale;
}

// Writes the computation of a DeployableModel as ONNX nodes. The methods' hooks are not traced: what
// each one does is read off by calling it on probe inputs (the rows a token hook copies or inserts, the
// matrix an adapted linear layer applies) and checked on random inputs, so a hook that does something
// else is refused, not mis-written.
class Emitter
{
public:
    Emitter(OnnxGraph& graph, const DeployableModel& deployable, std::string method, bool half, const ConditionalTextModel* text = nullptr)
        : g(graph), d(deployable), m_method(std::move(method)), m_half(half), m_text(text)
    {
    }

    // images [N, 3, H, W] -> features [N, E], fp32. Inside the ViT the tokens are rows [N * L, W], reshaped to
    // [N, L, W] only where the sequence matters (attention, prompt rows): OpenCV 4.6 applies a per-channel
    // constant (a bias, a LayerNorm's weight) along axis 1, and only to the last axis of a 2-D tensor is
    // that the feature axis.
    std::string features(const std::string& images)
    {
        const std::string input = m_half ? g.op("Cast", {images}, {{"to", kFloat16}}) : images;
        std::string x = d.model->hasVitImageTower() ? vit(input) : resnet(input);
        if (d.sideNetwork)
            x = blendSideNetwork(x, input);
        return m_half ? g.op("Cast", {x}, {{"to", kFloat32}}) : x;
    }

    // features [N, E] -> logits [N, C], fp32.
    std::string head(std::string f)
    {
        if (d.featureAdapter) {
            const auto& a = *d.featureAdapter;
            auto adapted = g.op("Relu", {g.op("MatMul", {f, g.constant(a.down.t(), "adapter.down")})});
            adapted = g.op("Relu", {g.op("MatMul", {adapted, g.constant(a.up.t(), "adapter.up")})});
            f = g.op("Add", {g.op("Mul", {adapted, g.scalar(float(a.ratio))}), g.op("Mul", {f, g.scalar(float(1.0 - a.ratio))})},
                     {}, "adapted_features");
        }
        for (size_t i = 0; i < d.hiddenLayers.size(); ++i) {
            const auto& layer = d.hiddenLayers[i];
            const std::string name = "head.hidden." + std::to_string(i);
            f = g.op("Relu", {g.op("Add", {g.op("MatMul", {f, g.constant(layer.weight.t(), name + ".weight")}), g.constant(layer.bias, name + ".bias")})});
            f = g.op("Add", {g.op("Mul", {f, g.constant(layer.scale, name + ".norm_scale")}), g.constant(layer.shift, name + ".norm_shift")}, {}, name);
        }
        if (d.normalize)
            f = normalized(f, d.weight.size(1), "normalized_features");
        // The scale folded into the class matrix: one product.
        auto logits = g.op("MatMul", {f, g.constant((d.weight.to(torch::kFloat) * d.scale).t(), "class_weights")}, {}, "class_scores");
        if (d.bias.defined())
            logits = g.op("Add", {logits, g.constant(d.bias, "class_bias")});
        if (d.cache) {
            const auto& c = *d.cache;
            // alpha * exp(-beta (1 - f K^T)) V
            auto affinity = g.op("MatMul", {f, g.constant(c.keys.t(), "cache_keys")}, {}, "cache_affinity");
            auto weights = g.op("Exp", {g.op("Mul", {g.op("Sub", {affinity, g.scalar(1.f)}), g.scalar(float(c.beta))})});
            auto cached = g.op("MatMul", {weights, g.constant(c.values.to(torch::kFloat) * c.alpha, "cache_values")}, {}, "cache_scores");
            logits = g.op("Add", {logits, cached});
        }
        return logits;
    }

    // CoCoOp (ConditionalTextModel): features [N, E] -> logits [N, C], fp32. The Meta-Net's bias per image,
    // the N x C prompts as token rows [N * C * L, D] (image-major, then class), the text tower's blocks with
    // the causal mask, each prompt's end-of-text row, ln_final, the projection, and per image the products of
    // its normalised feature with its C normalised text features. A text pass per (image, class) pair is what
    // CoCoOp is: the graph's cost grows with N x C.
    std::string conditionalHead(const std::string& features)
    {
        const ConditionalTextModel& m = *m_text;
        auto& text = d.model->text;
        const TextSpec& spec = text->spec();
        const std::int64_t embed = m.linear1Weight.size(1), width = spec.width, classes = m.suffixes.size(0);
        const std::int64_t contextLength = m.context.size(0), suffixLength = m.suffixes.size(1), length = 1 + contextLength + suffixLength;
        if (m.context.size(1) != width || m.linear2Weight.size(0) != width || length > spec.contextLength)
            throw Error(m_method + ": its prompts (" + std::to_string(length) + " tokens of width " + std::to_string(m.context.size(1)) +
                        ") do not fit the text tower");
        for (std::int64_t end : m.endPositions)
            if (end < 1 + contextLength || end >= length)
                throw Error(m_method + ": an end-of-text position (" + std::to_string(end) + ") lies outside its class's words");
        const auto fp32 = [](const at::Tensor& t) { return t.detach().to(torch::kCPU, torch::kFloat).contiguous(); };
        const auto positions = fp32(text->positional_embedding).narrow(0, 0, length);

        auto f = normalized(features, embed, "normalized_features");
        // The Meta-Net, in fp32.
        auto hidden = g.op("Relu", {g.op("Add", {g.op("MatMul", {f, g.constant(fp32(m.linear1Weight).t(), "meta_net.linear1.weight")}),
                                                  g.constant(fp32(m.linear1Bias), "meta_net.linear1.bias")})});
        auto bias = g.op("Add", {g.op("MatMul", {hidden, g.constant(fp32(m.linear2Weight).t(), "meta_net.linear2.weight")}),
                                 g.constant(fp32(m.linear2Bias), "meta_net.linear2.bias")},
                         {}, "meta_net_bias");  // [N, D]

        // The context rows of every (image, class) pair: the bias spread over C x M rows by a product with a row
        // of ones ([N, D, 1] x [1, C M], transposed), reshaped to [N C, M, D], plus the context and its
        // positions as one constant [M, D] (a constant of fewer axes, which OpenCV 4.6 broadcasts).
        auto spread = g.op("MatMul", {reshape(bias, {-1, width, 1}), g.constant(torch::ones({1, classes * contextLength}), "ones_row")});
        auto context = reshape(transpose(spread, {0, 2, 1}), {-1, contextLength, width});
        context = g.op("Add", {context, g.constant(fp32(m.context) + positions.narrow(0, 1, contextLength), "prompt_learner.ctx")}, {},
                       "conditional_context");
        // The frozen rows with their positions: the start token, the same for all, and each class's suffix, as a
        // one per image ([N, 1], from the bias) times the rows flattened (see batchRows).
        auto one = g.op("Add", {g.op("Mul", {slice(bias, 0, 1), g.scalar(0.f)}), g.scalar(1.f)});
        const auto startRows = (fp32(m.start) + positions.narrow(0, 0, 1)).reshape({1, -1}).repeat({1, classes});
        auto start = reshape(g.op("MatMul", {one, g.constant(startRows, "prompt_learner.token_prefix")}), {-1, 1, width});
        const auto suffixRows = (fp32(m.suffixes) + positions.narrow(0, 1 + contextLength, suffixLength).unsqueeze(0)).reshape({1, -1});
        auto suffix = reshape(g.op("MatMul", {one, g.constant(suffixRows, "prompt_learner.token_suffix")}), {-1, suffixLength, width});
        auto x = reshape(g.op("Concat", {start, context, suffix}, {{"axis", std::int64_t(1)}}, "prompts"), {-1, width});  // [N C L, D]
        if (m_half)
            x = g.op("Cast", {x}, {{"to", kFloat16}});

        // The text transformer: position i attends to positions <= i (an additive mask; -1e4 is far below any
        // score and exact zero after the softmax, in fp16 too).
        const auto mask = torch::full({length, length}, -1e4).triu(1);
        const std::string causal = g.constant(mask, "text.causal_mask", m_half);
        for (int layer = 0; layer < text->transformer->layers(); ++layer)
            x = residualBlock(x, text->transformer->block(layer), spec, "text.transformer.resblocks." + std::to_string(layer), layer, length,
                              false, causal);

        // Each prompt's end-of-text row (constant positions per class: a slice each), then ln_final, the projection.
        auto sequences = reshape(x, {-1, classes * length, width});
        std::vector<std::string> ends;
        for (std::int64_t c = 0; c < classes; ++c) {
            const std::int64_t row = c * length + m.endPositions[size_t(c)];
            ends.push_back(slice(sequences, row, row + 1));
        }
        auto pooled = reshape(ends.size() == 1 ? ends.front() : g.op("Concat", ends, {{"axis", std::int64_t(1)}}, "end_of_text"), {-1, width});
        pooled = layerNorm(pooled, text->ln_final->weight, text->ln_final->bias, spec.layerNormEps, "text.ln_final");
        auto textFeatures = g.op("MatMul", {pooled, constant(text->text_projection, "text.text_projection")});
        if (m_half)
            textFeatures = g.op("Cast", {textFeatures}, {{"to", kFloat32}});
        const std::int64_t outputs = text->text_projection.size(1);
        textFeatures = reshape(normalized(textFeatures, outputs, "text_features"), {-1, classes, outputs});  // [N, C, E]
        // logits[n, c] = scale * t[n, c] . f[n]: [N, C, E] x [N, E, 1].
        auto scaled = g.op("Mul", {f, g.scalar(float(m.scale))});
        return reshape(g.op("MatMul", {textFeatures, reshape(scaled, {-1, outputs, 1})}), {-1, classes});
    }

private:
    // x / |x| over the last axis of rows [R, width]: |x| repeated over the entries (see spreadMean; OpenCV 4.6
    // has no LpNormalization either).
    std::string normalized(const std::string& x, std::int64_t width, const std::string& hint)
    {
        auto squares = g.op("Mul", {spreadMean(g.op("Mul", {x, x}), width, "mean_square"), g.scalar(float(width))});
        return g.op("Div", {x, g.op("Sqrt", {squares})}, {}, hint);
    }

    // One initializer per tensor, however often it is used (L2P's query pass runs the tower's blocks a second
    // time). The cache holds the tensors: no address it keys on is reused while the Emitter lives.
    std::string constant(const at::Tensor& t, const std::string& hint)
    {
        auto key = std::make_tuple(t.data_ptr(), t.sizes().vec(), t.strides().vec(), t.scalar_type());
        const auto found = m_constants.find(key);
        if (found != m_constants.end())
            return found->second.second;
        std::string name = g.constant(t, hint, m_half);
        m_constants.emplace(std::move(key), std::make_pair(t, name));
        return name;
    }

    std::string linear(const std::string& x, const at::Tensor& weight, const at::Tensor& bias, const std::string& hint)
    {
        auto y = g.op("MatMul", {x, constant(weight.t(), hint + ".weight")}, {}, hint);
        return bias.defined() ? g.op("Add", {y, constant(bias, hint + ".bias")}, {}, hint) : y;
    }

    // The mean over the last axis of x [..., W], repeated W times: [..., W]. Two thin products (with a column
    // of 1/W, then a row of ones) instead of ReduceMean and broadcasting: OpenCV 4.6's ReduceMean gives a 3-D
    // input a 4-D result, and its element-wise layers cannot broadcast a per-image [N, L, 1].
    std::string spreadMean(const std::string& x, std::int64_t width, const std::string& hint)
    {
        auto mean = g.op("MatMul", {x, g.constant(torch::full({width, 1}, 1.0 / double(width)), "mean_column")});
        return g.op("MatMul", {mean, g.constant(torch::ones({1, width}), "ones_row")}, {}, hint);
    }

    // LayerNorm over the last axis, written out in fp32 (OpenCV 4.6 has no LayerNormalization).
    std::string layerNorm(const std::string& input, const at::Tensor& weight, const at::Tensor& bias, double eps, const std::string& hint)
    {
        const std::int64_t width = weight.size(0);
        auto x = m_half ? g.op("Cast", {input}, {{"to", kFloat32}}) : input;
        auto centred = g.op("Sub", {x, spreadMean(x, width, "mean")});
        auto variance = spreadMean(g.op("Mul", {centred, centred}), width, "variance");
        auto y = g.op("Div", {centred, g.op("Sqrt", {g.op("Add", {variance, g.scalar(float(eps))})})});
        y = g.op("Add", {g.op("Mul", {y, g.constant(weight, hint + ".weight")}), g.constant(bias, hint + ".bias")}, {}, hint);
        return m_half ? g.op("Cast", {y}, {{"to", kFloat16}}) : y;
    }

    // `rows` [P, W] repeated over the batch of `like` [N, L, W]: a one per image ([N, 1, 1], made from `like`)
    // times the rows flattened, reshaped. No Shape/Expand and no broadcasting of a variable, which OpenCV
    // 4.6 cannot follow; 1 x v is exact.
    std::string batchRows(const std::string& like, const at::Tensor& rows, const std::string& hint)
    {
        auto corner = g.op("Slice", {like, g.ints({0, 0}, "start"), g.ints({1, 1}, "end"), g.ints({1, 2}, "axes")});
        auto one = g.op("Add", {g.op("Mul", {corner, g.scalar(0.f, m_half)}), g.scalar(1.f, m_half)});
        auto flat = g.op("MatMul", {one, constant(rows.reshape({1, -1}), hint)});
        return reshape(flat, {-1, rows.size(0), rows.size(1)});
    }

    std::string slice(const std::string& x, std::int64_t start, std::int64_t end)
    {
        return g.op("Slice", {x, g.ints({start}, "start"), g.ints({end}, "end"), g.ints({1}, "axis")});
    }

    std::string reshape(const std::string& x, const std::vector<std::int64_t>& shape)
    {
        return g.op("Reshape", {x, g.ints(shape, "shape")});
    }

    std::string transpose(const std::string& x, const std::vector<std::int64_t>& perm)
    {
        return g.op("Transpose", {x}, {{"perm", perm}});
    }

    std::string gelu(const std::string& x)
    {
        // Exact GELU: 0.5 x (1 + erf(x / sqrt 2)), as torch::gelu.
        auto erf = g.op("Erf", {g.op("Mul", {x, g.scalar(float(1.0 / std::sqrt(2.0)), m_half)})});
        return g.op("Mul", {g.op("Mul", {x, g.scalar(0.5f, m_half)}), g.op("Add", {erf, g.scalar(1.f, m_half)})}, {}, "gelu");
    }

    // ---- The ViT image tower -------------------------------------------------------------------------

    std::string vit(const std::string& images)
    {
        auto& visual = d.model->visual;
        const VisionSpec& spec = visual->spec();
        const std::int64_t width = spec.width, grid = spec.gridSize();
        std::vector<std::string> convInputs = {images, constant(visual->conv1->weight, "visual.conv1.weight")};
        if (visual->conv1->bias.defined())
            convInputs.push_back(constant(visual->conv1->bias, "visual.conv1.bias"));
        const std::vector<std::int64_t> patch = {spec.patchSize, spec.patchSize};
        auto patches = g.op("Conv", convInputs, {{"kernel_shape", patch}, {"strides", patch}}, "patch_embedding");
        patches = transpose(reshape(patches, {-1, width, grid * grid}), {0, 2, 1});  // [N, grid^2, width], row-major
        auto x = g.op("Concat", {batchRows(patches, visual->class_embedding.view({1, width}), "visual.class_embedding"), patches},
                      {{"axis", std::int64_t(1)}});
        // [L, W], without a batch axis: OpenCV 4.6 broadcasts a constant of fewer axes, not one of batch 1.
        x = g.op("Add", {x, constant(visual->positional_embedding, "visual.positional_embedding")});
        std::int64_t length = 1 + grid * grid;
        x = reshape(x, {-1, width});  // token rows from here on (see features())
        if (spec.preNorm)
            x = layerNorm(x, visual->ln_pre->weight, visual->ln_pre->bias, spec.layerNormEps, "visual.ln_pre");
        if (d.appendedTokens.defined()) {
            auto tokens = reshape(x, {-1, length, width});
            tokens = g.op("Concat", {tokens, batchRows(tokens, d.appendedTokens, "visual.prompts")}, {{"axis", std::int64_t(1)}});
            length += d.appendedTokens.size(0);
            x = reshape(tokens, {-1, width});
        }
        if (d.promptPool)
            x = poolPrompts(x, length);
        for (int layer = 0; layer < visual->transformer->layers(); ++layer) {
            if (d.hooks)
                x = tokenHook(x, layer, length);
            x = block(x, layer, length);
        }
        // ln_post over every token, then the pooled rows: the same numbers.
        auto normed = layerNorm(x, visual->ln_post->weight, visual->ln_post->bias, spec.layerNormEps, "visual.ln_post");
        const auto& rows = d.pooledRows;
        if (rows.first < 0 || rows.count < 1 || rows.first + rows.count > length)
            throw Error(m_method + ": the pooled token rows [" + std::to_string(rows.first) + ", " + std::to_string(rows.first + rows.count) +
                        ") are outside the tower's " + std::to_string(length) + " tokens");
        auto picked = slice(reshape(normed, {-1, length, width}), rows.first, rows.first + rows.count);
        std::string pooled;  // [N, W]
        if (rows.count == 1) {
            pooled = reshape(picked, {-1, width});
        } else {
            // The mean over the rows as a product with a column of 1/count (see spreadMean): [N, W, 1].
            const auto column = torch::full({rows.count, 1}, 1.0 / double(rows.count));
            pooled = reshape(g.op("MatMul", {transpose(picked, {0, 2, 1}), constant(column, "mean_column")}), {-1, width});
        }
        if (d.project && visual->proj.defined())
            pooled = g.op("MatMul", {pooled, constant(visual->proj, "visual.proj")}, {}, "image_features");
        return pooled;
    }

    // L2P with batchwise false: each image's query (ln_post([CLS]) of the same blocks without hooks) picks its
    // topK prompts from the pool, whose rows go in after [CLS] (the description's promptPool; choosePoolPrompts is the engine's).
    // OpenCV 4.6 has no TopK and gathers only by constant indices, so the choice is written as topK rounds
    // of a one-hot row of each image's best remaining prompt (1 - Sign(max - score), the max taken by a
    // MaxPool across the row, which OpenCV 4.6 reads where its ReduceMax is not, and spread over the row by
    // a product with a row of ones), and the chosen rows as that one-hot times the pool's [M, L x W] table. The
    // query is not normalised: a positive factor per image leaves its order of keys as it is. Two prompts of
    // exactly equal similarity would both be taken, where the engine takes one.
    std::string poolPrompts(const std::string& embedded, std::int64_t& length)
    {
        if (d.hooks || d.appendedTokens.defined())
            throw Error(m_method + ": a prompt pool beside other prompt tokens or hooks is not written to a graph");
        const auto& pool = *d.promptPool;
        if (pool.batchwise)
            throw Error(m_method + ": its batch-wise prompt choice (option batchwise, the default) makes an image's scores depend on its "
                        "batch; the batch's vote is not written to a graph that OpenCV 4.6 runs (a run with batchwise false exports)");
        auto& visual = d.model->visual;
        const VisionSpec& spec = visual->spec();
        const std::int64_t width = spec.width, size = pool.prompts.size(0), promptRows = pool.prompts.size(1);
        std::string x = embedded;
        for (int layer = 0; layer < visual->transformer->layers(); ++layer)
            x = block(x, layer, length);
        auto query = reshape(slice(reshape(x, {-1, length, width}), 0, 1), {-1, width});
        query = layerNorm(query, visual->ln_post->weight, visual->ln_post->bias, spec.layerNormEps, "prompt_pool.query");
        if (m_half)
            query = g.op("Cast", {query}, {{"to", kFloat32}});
        const auto keys = l2Normalize(pool.keys.to(torch::kCPU, torch::kFloat));
        auto scores = g.op("MatMul", {query, g.constant(keys.t().contiguous(), "prompt_pool.keys")}, {}, "prompt_similarity");  // [N, M]
        auto picks = bestRounds(scores, size, pool.topK);
        auto tokens = reshape(embedded, {-1, length, width});
        std::vector<std::string> parts = {slice(tokens, 0, 1)};
        const auto table = pool.prompts.reshape({size, promptRows * width});
        for (const auto& pick : picks) {
            auto rows = g.op("MatMul", {m_half ? g.op("Cast", {pick}, {{"to", kFloat16}}) : pick, constant(table, "prompt_pool.prompts")});
            parts.push_back(reshape(rows, {-1, promptRows, width}));
        }
        parts.push_back(slice(tokens, 1, length));
        length += pool.topK * promptRows;
        return reshape(g.op("Concat", parts, {{"axis", std::int64_t(1)}}, "tokens"), {-1, width});
    }

    // `rounds` one-hot rows [N, M] (fp32): each row's best entry of `scores` [N, M], then the best of the rest, ...
    std::vector<std::string> bestRounds(std::string scores, std::int64_t size, std::int64_t rounds)
    {
        std::vector<std::string> picks;
        for (std::int64_t round = 0; round < rounds; ++round) {
            auto max = reshape(g.op("MaxPool", {reshape(scores, {-1, 1, 1, size})}, {{"kernel_shape", std::vector<std::int64_t>{1, size}}}), {-1, 1});
            auto spread = g.op("MatMul", {max, g.constant(torch::ones({1, size}), "ones_row")});
            auto below = g.op("Sign", {g.op("Sub", {spread, scores})});  // 0 at the max, 1 elsewhere
            picks.push_back(g.op("Add", {g.op("Mul", {below, g.scalar(-1.f)}), g.scalar(1.f)}, {}, "prompt_pick"));
            // Taken entries sink far below any score (scores of the others are left exactly as they were).
            scores = g.op("Sub", {scores, g.op("Mul", {picks.back(), g.scalar(1e9f)})});
        }
        return picks;
    }

    // Side-tune: f = blend * f + (1 - blend) * projection(pool(relu(conv ... relu(conv(images))))).
    std::string blendSideNetwork(const std::string& features, const std::string& images)
    {
        const auto& side = *d.sideNetwork;
        std::int64_t size = d.model->spec().vision.imageSize, channels = 3;
        std::string x = images;
        for (size_t i = 0; i < side.convolutions.size(); ++i) {
            const auto& conv = side.convolutions[i];
            const std::string name = "side.features." + std::to_string(i);
            const std::int64_t kernel = conv.weight.size(2), stride = conv.stride, pad = conv.padding;
            std::vector<std::string> inputs = {x, constant(conv.weight, name + ".weight")};
            if (conv.bias.defined())
                inputs.push_back(constant(conv.bias, name + ".bias"));
            x = g.op("Relu", {g.op("Conv", inputs,
                                   {{"kernel_shape", std::vector<std::int64_t>{kernel, kernel}},
                                    {"strides", std::vector<std::int64_t>{stride, stride}},
                                    {"pads", std::vector<std::int64_t>{pad, pad, pad, pad}}},
                                   name)});
            size = (size + 2 * pad - kernel) / stride + 1;
            channels = conv.weight.size(0);
        }
        const std::int64_t out = side.pooledSize;
        if (size % out == 0) {
            if (size != out)
                x = averagePool(x, size / out);
        } else {
            // AdaptiveAvgPool2d's uneven, overlapping windows (e.g. 42 -> 4 at 336 pixels) as one product with
            // their weights, [N, C, size^2] x [size^2, out^2].
            x = g.op("MatMul", {reshape(x, {-1, channels, size * size}), constant(adaptivePoolMatrix(size, out), "side.pool")});
        }
        auto projected = g.op("MatMul", {reshape(x, {-1, channels * out * out}), constant(side.projection.t(), "side.projection")}, {},
                              "side_features");
        return g.op("Add", {g.op("Mul", {features, g.scalar(float(side.blend), m_half)}),
                            g.op("Mul", {projected, g.scalar(float(1.0 - side.blend), m_half)})},
                    {}, "blended_features");
    }

    // [size^2, out^2]: entry (y size + x, i out + j) weighs pixel (y, x) in output cell (i, j), as
    // AdaptiveAvgPool2d's windows [floor(i size / out), ceil((i + 1) size / out)) do.
    static at::Tensor adaptivePoolMatrix(std::int64_t size, std::int64_t out)
    {
        auto windows = torch::zeros({out, size});
        for (std::int64_t i = 0; i < out; ++i) {
            const std::int64_t start = (i * size) / out, end = ((i + 1) * size + out - 1) / out;
            windows[i].narrow(0, start, end - start).fill_(1.0 / double(end - start));
        }
        return torch::kron(windows, windows).t().contiguous();
    }

    // beforeBlock(layer) as Concat of slices of its input and constant rows, read off from a probe of
    // random tokens (two images, so that rows copied per image are told from constants).
    std::string tokenHook(const std::string& rows, int layer, std::int64_t& length)
    {
        const std::int64_t width = d.model->visual->spec().width;
        const auto options = d.model->visual->conv1->weight.options();
        const auto probe = torch::randn({2, length, width}, options);
        const auto out = d.hooks->beforeBlock(layer, probe).to(torch::kFloat);
        if (out.sizes() == probe.sizes() && out.equal(probe.to(torch::kFloat)))
            return rows;
        const auto x = reshape(rows, {-1, length, width});
        const auto second = d.hooks->beforeBlock(layer, torch::randn({2, length, width}, options)).to(torch::kFloat);
        const auto first = probe[0].to(torch::kFloat);
        struct Run
        {
            bool copied;
            std::int64_t from, count;
        };
        std::vector<Run> runs;
        for (std::int64_t row = 0; row < out.size(1); ++row) {
            const auto same = (first == out[0][row]).all(1).nonzero();  // input rows equal to this one
            const std::int64_t source = same.size(0) > 0 ? same[0][0].item<std::int64_t>() : -1;
            const bool copied = source >= 0 && out[1][row].equal(probe[1][source].to(torch::kFloat));
            if (!copied && !(out[0][row].equal(out[1][row]) && out[0][row].equal(second[0][row])))
                throw Error(m_method + ": the tokens it puts before block " + std::to_string(layer) +
                            " depend on the image; they cannot be a constant of the graph");
            const std::int64_t from = copied ? source : row;
            if (!runs.empty() && runs.back().copied == copied && runs.back().from + runs.back().count == from)
                ++runs.back().count;
            else
                runs.push_back({copied, from, 1});
        }
        std::vector<std::string> parts;
        for (const Run& run : runs)
            parts.push_back(run.copied ? slice(x, run.from, run.from + run.count)
                                       : batchRows(x, out[0].narrow(0, run.from, run.count), "visual.prompts." + std::to_string(layer)));
        length = out.size(1);
        return reshape(parts.size() == 1 ? parts.front() : g.op("Concat", parts, {{"axis", std::int64_t(1)}}, "tokens"), {-1, width});
    }

    // The weight and bias a block's linear layer applies with the method's adaptation (LoRA, DoRA, SSF):
    // the hook's output for the identity rows and for zero, checked on random rows.
    std::pair<at::Tensor, at::Tensor> adaptedLinear(int layer, BlockLayer which, const at::Tensor& weight, const at::Tensor& bias)
    {
        if (!d.hooks || !d.hooks->adaptsLayers())
            return {weight, bias};
        const std::int64_t in = weight.size(1);
        auto probe = torch::cat({torch::eye(in, weight.options()), torch::zeros({1, in}, weight.options())}).unsqueeze(0);
        const auto out = d.hooks->linear(layer, which, probe, weight, bias)[0];  // [in + 1, out]
        const auto effectiveBias = out[in];
        const auto effectiveWeight = (out.narrow(0, 0, in) - effectiveBias).t().contiguous();  // [out, in]
        const auto check = torch::randn({1, 3, in}, weight.options());
        if (!close(torch::linear(check, effectiveWeight, effectiveBias), d.hooks->linear(layer, which, check, weight, bias)))
            throw Error(m_method + ": its change to block " + std::to_string(layer) + "'s " + blockLayerName(which) +
                        " is not a linear layer; it cannot be folded into the graph's weights");
        return {effectiveWeight, effectiveBias};
    }

    // A LayerNorm with the method's scale and shift after it (SSF) folded into its weight and bias.
    std::pair<at::Tensor, at::Tensor> adaptedNorm(int layer, BlockLayer which, const at::Tensor& weight, const at::Tensor& bias)
    {
        if (!d.hooks || !d.hooks->adaptsLayers())
            return {weight, bias};
        const std::int64_t w = weight.size(0);
        auto probe = torch::cat({torch::eye(w, weight.options()), torch::zeros({1, w}, weight.options())}).unsqueeze(0);
        const auto out = d.hooks->afterNorm(layer, which, probe)[0];
        const auto shift = out[w];
        const auto matrix = out.narrow(0, 0, w) - shift;
        const auto scale = matrix.diagonal();
        if (!close(matrix, torch::diag(scale), 1e-6))
            throw Error(m_method + ": what it does after block " + std::to_string(layer) + "'s " + blockLayerName(which) +
                        " mixes channels; only a per-channel scale and shift folds into the graph");
        return {weight * scale, bias * scale + shift};
    }

    std::string block(const std::string& input, int layer, std::int64_t length)
    {
        auto& visual = d.model->visual;
        return residualBlock(input, visual->transformer->block(layer), visual->spec(), "visual.transformer.resblocks." + std::to_string(layer),
                             layer, length, true, {});
    }

    // One pre-norm block on token rows [N * length, width]. `hooked`: the method's hooks apply (the image
    // tower's); `mask`: an additive [length, length] constant on the attention scores, or none.
    std::string residualBlock(const std::string& input, const ResidualAttentionBlock& blk, const TowerSpec& spec, const std::string& name,
                              int layer, std::int64_t length, bool hooked, const std::string& mask)
    {
        const std::int64_t width = spec.width, heads = spec.heads, headDim = width / heads;
        if (hooked && d.hooks && !d.hooks->keyValuePrefix(layer).empty())
            throw Error(m_method + ": key/value prefixes in the image tower are not written to a graph yet");
        using Pair = std::pair<at::Tensor, at::Tensor>;
        const auto norm = [&](BlockLayer which, const at::Tensor& w, const at::Tensor& b) {
            return hooked ? adaptedNorm(layer, which, w, b) : Pair{w, b};
        };
        const auto adapted = [&](BlockLayer which, const at::Tensor& w, const at::Tensor& b) {
            return hooked ? adaptedLinear(layer, which, w, b) : Pair{w, b};
        };

        // Attention.
        auto [n1w, n1b] = norm(BlockLayer::Norm1, blk->ln_1->weight, blk->ln_1->bias);
        auto h = layerNorm(input, n1w, n1b, spec.layerNormEps, name + ".ln_1");
        auto [qkvW, qkvB] = adapted(BlockLayer::QkvProjection, blk->attn->in_proj_weight, blk->attn->in_proj_bias);
        auto headsOf = [&](int part, const std::vector<std::int64_t>& perm, const char* label) {
            auto y = linear(h, qkvW.narrow(0, part * width, width), qkvB.narrow(0, part * width, width), name + ".attn." + label);
            return transpose(reshape(y, {-1, length, heads, headDim}), perm);
        };
        auto q = g.op("Mul", {headsOf(0, {0, 2, 1, 3}, "q"), g.scalar(float(1.0 / std::sqrt(double(headDim))), m_half)});
        auto kT = headsOf(1, {0, 2, 3, 1}, "k");  // [N, H, d, L]
        auto v = headsOf(2, {0, 2, 1, 3}, "v");
        auto scores = g.op("MatMul", {q, kT});
        if (!mask.empty())
            scores = g.op("Add", {scores, mask});  // [L, L] on [N, H, L, L]: a constant of fewer axes
        auto weights = g.op("Softmax", {scores}, {{"axis", std::int64_t(-1)}}, name + ".attention");
        auto context = reshape(transpose(g.op("MatMul", {weights, v}), {0, 2, 1, 3}), {-1, width});
        auto [outW, outB] = adapted(BlockLayer::OutProjection, blk->attn->out_proj->weight, blk->attn->out_proj->bias);
        auto stream = g.op("Add", {input, linear(context, outW, outB, name + ".attn.out_proj")}, {}, name + ".attention_residual");

        // MLP, and the method's branch beside it.
        auto [n2w, n2b] = norm(BlockLayer::Norm2, blk->ln_2->weight, blk->ln_2->bias);
        auto mlpInput = layerNorm(stream, n2w, n2b, spec.layerNormEps, name + ".ln_2");
        auto [fcW, fcB] = adapted(BlockLayer::MlpIn, blk->mlp->c_fc->weight, blk->mlp->c_fc->bias);
        auto hidden = linear(mlpInput, fcW, fcB, name + ".mlp.c_fc");
        hidden = spec.activation == Activation::QuickGelu
                     ? g.op("Mul", {hidden, g.op("Sigmoid", {g.op("Mul", {hidden, g.scalar(1.702f, m_half)})})}, {}, "quick_gelu")
                     : gelu(hidden);
        auto [projW, projB] = adapted(BlockLayer::MlpOut, blk->mlp->c_proj->weight, blk->mlp->c_proj->bias);
        auto mlpOutput = linear(hidden, projW, projB, name + ".mlp.c_proj");
        if (hooked && d.hooks)
            mlpOutput = mlpHook(layer, mlpOutput, stream);
        return g.op("Add", {stream, mlpOutput}, {}, name);
    }

    std::string mlpHook(int layer, const std::string& mlpOutput, const std::string& stream)
    {
        const std::int64_t width = d.model->visual->spec().width;
        const auto options = d.model->visual->conv1->weight.options();
        const auto output = torch::randn({1, 3, width}, options), input = torch::randn({1, 3, width}, options),
                   residual = torch::randn({1, 3, width}, options);
        const auto changed = d.hooks->afterMlp(layer, output, input, residual);
        if (changed.equal(output))
            return mlpOutput;
        const auto branch = d.hooks->mlpBranch(layer);
        auto branchOf = [&](const at::Tensor& source) {
            auto down = torch::linear(source, branch->downWeight, branch->downBias);
            down = branch->nonlinearity == MlpBranch::Nonlinearity::Relu ? torch::relu(down) : torch::gelu(down);
            return output + branch->scale * torch::linear(down, branch->upWeight, branch->upBias);
        };
        const bool fromStream = branch && branch->source == MlpBranch::Source::Stream;
        if (!branch || !close(branchOf(fromStream ? residual : output), changed))
            throw Error(m_method + ": what it adds to block " + std::to_string(layer) + "'s MLP is not an adapter branch the graph writer knows");
        const std::string name = "visual.adapters." + std::to_string(layer);
        auto down = linear(fromStream ? stream : mlpOutput, branch->downWeight, branch->downBias, name + ".down");
        down = branch->nonlinearity == MlpBranch::Nonlinearity::Relu ? g.op("Relu", {down}) : gelu(down);
        auto up = linear(down, branch->upWeight, branch->upBias, name + ".up");
        if (branch->scale != 1.0)
            up = g.op("Mul", {up, g.scalar(float(branch->scale), m_half)});
        return g.op("Add", {mlpOutput, up}, {}, name);
    }

    // ---- OpenAI's modified ResNet --------------------------------------------------------------------

    // A convolution followed by a frozen BatchNorm, folded into one convolution.
    std::string convNorm(const std::string& x, const torch::nn::Conv2d& conv, const FrozenBatchNorm2d& norm, const std::string& hint)
    {
        const auto scale = norm->weight / torch::sqrt(norm->running_var + norm->eps());
        const auto weight = conv->weight * scale.view({-1, 1, 1, 1});
        const auto bias = norm->bias - norm->running_mean * scale;
        const auto& options = conv->options;
        const std::int64_t kernel = (*options.kernel_size())[0], stride = (*options.stride())[0];
        const std::int64_t pad = kernel / 2;  // every convolution of OpenAI's ResNet pads by half its kernel
        return g.op("Conv", {x, constant(weight, hint + ".weight"), constant(bias, hint + ".bias")},
                    {{"kernel_shape", std::vector<std::int64_t>{kernel, kernel}},
                     {"strides", std::vector<std::int64_t>{stride, stride}},
                     {"pads", std::vector<std::int64_t>{pad, pad, pad, pad}}},
                    hint);
    }

    std::string averagePool(const std::string& x, std::int64_t size)
    {
        const std::vector<std::int64_t> window = {size, size};
        return g.op("AveragePool", {x}, {{"kernel_shape", window}, {"strides", window}});
    }

    std::string resnet(const std::string& images)
    {
        if (d.hooks || d.appendedTokens.defined())
            throw Error(m_method + ": a ResNet image tower takes no prompt tokens or hooks");
        auto& r = d.model->resnet;
        auto x = g.op("Relu", {convNorm(images, r->conv1, r->bn1, "visual.conv1")});
        x = g.op("Relu", {convNorm(x, r->conv2, r->bn2, "visual.conv2")});
        x = g.op("Relu", {convNorm(x, r->conv3, r->bn3, "visual.conv3")});
        x = averagePool(x, 2);
        for (size_t stage = 0; stage < r->stages.size(); ++stage) {
            for (size_t i = 0; i < r->stages[stage]->size(); ++i) {
                auto b = r->stages[stage]->ptr<ClipBottleneckImpl>(i);
                const std::string name = "visual.layer" + std::to_string(stage + 1) + "." + std::to_string(i);
                auto out = g.op("Relu", {convNorm(x, b->conv1, b->bn1, name + ".conv1")});
                out = g.op("Relu", {convNorm(out, b->conv2, b->bn2, name + ".conv2")});
                if (b->stride() > 1)
                    out = averagePool(out, b->stride());
                out = convNorm(out, b->conv3, b->bn3, name + ".conv3");
                std::string identity = x;
                if (b->downsampleConv)
                    identity = convNorm(b->stride() > 1 ? averagePool(x, b->stride()) : x, b->downsampleConv, b->downsampleNorm,
                                        name + ".downsample");
                x = g.op("Relu", {g.op("Add", {out, identity})}, {}, name);
            }
        }
        return attentionPool(x);
    }

    std::string attentionPool(const std::string& map)
    {
        auto& pool = d.model->resnet->attnpool;
        const std::int64_t channels = pool->q_proj->weight.size(1), heads = pool->heads(), headDim = channels / heads;
        const std::int64_t positions = pool->positional_embedding.size(0) - 1, length = positions + 1;
        auto flat = reshape(map, {-1, channels, positions});
        auto tokens = transpose(flat, {0, 2, 1});  // [N, HW, C]
        // The mean over positions as a product with a column of 1/HW (see layerNorm), [N, 1, C].
        auto mean = transpose(g.op("MatMul", {flat, constant(torch::full({positions, 1}, 1.0 / double(positions)), "mean_column")}), {0, 2, 1});
        tokens = g.op("Concat", {mean, tokens}, {{"axis", std::int64_t(1)}});
        tokens = g.op("Add", {tokens, constant(pool->positional_embedding, "visual.attnpool.positional_embedding")});
        auto first = reshape(slice(tokens, 0, 1), {-1, channels});  // [N, C]
        auto rows = reshape(tokens, {-1, channels});                    // [N * L, C], as in features()
        auto q = linear(first, pool->q_proj->weight, pool->q_proj->bias, "visual.attnpool.q_proj");
        q = g.op("Mul", {reshape(q, {-1, heads, 1, headDim}), g.scalar(float(1.0 / std::sqrt(double(headDim))), m_half)});
        auto k = transpose(reshape(linear(rows, pool->k_proj->weight, pool->k_proj->bias, "visual.attnpool.k_proj"), {-1, length, heads, headDim}),
                           {0, 2, 3, 1});
        auto v = transpose(reshape(linear(rows, pool->v_proj->weight, pool->v_proj->bias, "visual.attnpool.v_proj"), {-1, length, heads, headDim}),
                           {0, 2, 1, 3});
        auto weights = g.op("Softmax", {g.op("MatMul", {q, k})}, {{"axis", std::int64_t(-1)}}, "visual.attnpool.attention");
        auto pooled = reshape(g.op("MatMul", {weights, v}), {-1, channels});
        return linear(pooled, pool->c_proj->weight, pool->c_proj->bias, "visual.attnpool.c_proj");
    }

    OnnxGraph& g;
    const DeployableModel& d;
    std::string m_method;
    bool m_half;
    const ConditionalTextModel* m_text;  // CoCoOp's text side, or null
    std::map<std::tuple<void*, std::vector<std::int64_t>, std::vector<std::int64_t>, at::ScalarType>, std::pair<at::Tensor, std::string>> m_constants;
};

std::string json(const nlohmann::json& value)
{
    return value.dump();
}

} // namespace

nlohmann::json writeOnnx(Strategy& strategy, const OnnxPreprocessing& preprocessing, const std::string& path, const OnnxOptions& options)
{
    const std::string method = strategy.name();
    if (options.opset < 13 || options.opset > 17)
        throw Error("--opset " + std::to_string(options.opset) + ": the graph writer emits opsets 13 to 17");
    // A method whose class text depends on the image (CoCoOp) is described with its text tower.
    auto* conditional = dynamic_cast<ConditionalTextStrategy*>(&strategy);
    const std::optional<ConditionalTextModel> text = conditional ? std::optional<ConditionalTextModel>(conditional->conditionalText()) : std::nullopt;
    const DeployableModel deployable = text ? text->image : strategy.deployable();
    const ModelSpec& spec = deployable.model->spec();

    // The description must compute what the method computes: checked on two random images before writing.
    torch::NoGradGuard noGrad;
    const auto probe = torch::randn({2, 3, spec.vision.imageSize, spec.vision.imageSize}, torch::TensorOptions(deployable.model->device()));
    const auto own = strategy.logits(probe).to(torch::kCPU, torch::kFloat);
    const auto described = (text ? runConditionalText(*text, probe) : runDeployable(deployable, probe)).to(torch::kCPU, torch::kFloat);
    if (!close(described, own))
        throw Error(method + ": its graph description differs from its own scores (by " +
                    std::to_string((described - own).abs().max().item<double>()) + "); not exported");

    OnnxGraph graph("tunebench_" + method);
    const std::int64_t size = spec.vision.imageSize, classes = own.size(1);
    graph.addInput("images", {-1, 3, size, size});
    Emitter emitter(graph, deployable, method, options.fp16, text ? &*text : nullptr);
    const std::string features = emitter.features("images");
    const std::string logits = text ? emitter.conditionalHead(features) : emitter.head(features);
    graph.rename(logits, "logits");
    graph.rename(graph.op("Softmax", {logits}, {{"axis", std::int64_t(-1)}}), "probabilities");
    graph.addOutput("logits", {-1, classes});
    graph.addOutput("probabilities", {-1, classes});

    const nlohmann::json manifest = strategy.exportManifest();
    graph.setMetadata("tunebench.method", method);
    graph.setMetadata("tunebench.class_names", json(manifest.value("class_names", nlohmann::json::array())));
    graph.setMetadata("tunebench.model", json({{"name", spec.name}, {"format", spec.format}, {"family", spec.familyName()}, {"sha256", spec.sha256}}));
    graph.setMetadata("tunebench.preprocessing",
                      json({{"input", "RGB, float32 in [0, 1], then (x - mean) / std, channels first"},
                            {"resize_shorter_side", preprocessing.resizeSize},
                            {"filter", preprocessing.filter},
                            {"center_crop", preprocessing.resolution},
                            {"mean", preprocessing.mean},
                            {"std", preprocessing.std}}));
    graph.setMetadata("tunebench.precision", !options.fp16 ? "fp32"
                                             : text        ? "fp16 image and text towers, fp32 head and Meta-Net"
                                                           : "fp16 image tower, fp32 head");
    graph.write(path, options.opset, tunebenchVersion());
    return {{"onnx", path},
            {"method", method},
            {"classes", classes},
            {"opset", options.opset},
            {"precision", options.fp16 ? "fp16" : "fp32"},
            {"nodes", graph.nodeCount()},
            {"initializers", graph.initializerCount()},
            {"bytes", static_cast<std::int64_t>(std::filesystem::file_size(path))}};
}

} // namespace tunebench
