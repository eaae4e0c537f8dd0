// The CLIP/ViT towers against the reference architecture: parameter counts and key shapes of the
// released geometries, and forward passes against an independent re-computation from raw tensors.
#include "core/Error.h"
#include "core/io/CheckpointLoader.h"
#include "core/io/KeyMaps.h"
#include "core/model/AttentionRollout.h"
#include "core/model/ClipModel.h"
#include "core/model/ModifiedResNet.h"
#include "core/tuning/ParameterBudget.h"
#include "tests/ModelFixtures.h"

#include <QtTest>

#include <torch/torch.h>

using namespace tunebench;

namespace {

// The OpenAI key list of a ViT CLIP (checkpoint-formats.md 2.5) with the shapes of one geometry,
// as zero-strided tensors so that even ViT-L/14 costs no memory.
StateDict releaseShapes(int64_t visionWidth, int64_t visionLayers, int64_t patch, int64_t grid, int64_t textWidth,
                        int64_t embed)
{
    StateDict sd;
    auto add = [&](const std::string& key, std::vector<int64_t> shape) {
        sd[key] = shape.empty() ? torch::zeros({}) : torch::zeros({1}).expand(shape);
    };
    auto block = [&](const std::string& p, int64_t d) {
        add(p + "attn.in_proj_weight", {3 * d, d});
        add(p + "attn.in_proj_bias", {3 * d});
        add(p + "attn.out_proj.weight", {d, d});
        add(p + "attn.out_proj.bias", {d});
        add(p + "ln_1.weight", {d});
        add(p + "ln_1.bias", {d});
        add(p + "mlp.c_fc.weight", {4 * d, d});
        add(p + "mlp.c_fc.bias", {4 * d});
        add(p + "mlp.c_proj.weight", {d, 4 * d});
        add(p + "mlp.c_proj.bias", {d});
        add(p + "ln_2.weight", {d});
        add(p + "ln_2.bias", {d});
    };
    add("positional_embedding", {77, textWidth});
    add("text_projection", {textWidth, embed});
    add("logit_scale", {});
    add("visual.class_embedding", {visionWidth});
    add("visual.positional_embedding", {grid * grid + 1, visionWidth});
    add("visual.proj", {visionWidth, embed});
    add("visual.conv1.weight", {visionWidth, 3, patch, patch});
    add("visual.ln_pre.weight", {visionWidth});
    add("visual.ln_pre.bias", {visionWidth});
    add("visual.ln_post.weight", {visionWidth});
    add("visual.ln_post.bias", {visionWidth});
    for (int64_t i = 0; i < visionLayers; ++i)
        block("visual.transformer.resblocks." + std::to_string(i) + ".", visionWidth);
    for (int64_t i = 0; i < 12; ++i)
        block("transformer.resblocks." + std::to_string(i) + ".", textWidth);
    add("token_embedding.weight", {49408, textWidth});
    add("ln_final.weight", {textWidth});
    add("ln_final.bias", {textWidth});
    return sd;
}

int64_t elementCount(const StateDict& sd)
{
    int64_t total = 0;
    for (const auto& [key, tensor] : sd)
        total += tensor.numel();
    return total;
}

torch::Tensor refLayerNorm(const torch::Tensor& x, const StateDict& w, const std::string& p, double eps)
{
    auto mean = x.mean(-1, true);
    auto var = (x - mean).pow(2).mean(-1, true);
    return (x - mean) / torch::sqrt(var + eps) * w.at(p + ".weight") + w.at(p + ".bias");
}

// Sequence-first [L, N, D] block with an explicit loop over heads, written from the reference's
// description rather than from the model code.
// `attention`, when given, receives each head's softmax weights, [heads][N, L, L].
torch::Tensor refBlock(torch::Tensor x, const StateDict& w, const std::string& p, int heads, bool causal, bool quickGelu,
                       double eps, std::vector<torch::Tensor>* attention = nullptr)
{
    const int64_t L = x.size(0), D = x.size(2), hd = D / heads;
    auto h = refLayerNorm(x, w, p + "ln_1", eps);
    auto qkv = torch::matmul(h, w.at(p + "attn.in_proj_weight").t()) + w.at(p + "attn.in_proj_bias");
    auto q = qkv.slice(2, 0, D), k = qkv.slice(2, D, 2 * D), v = qkv.slice(2, 2 * D, 3 * D);
    std::vector<torch::Tensor> outs;
    for (int head = 0; head < heads; ++head) {
        auto qh = q.slice(2, head * hd, (head + 1) * hd).permute({1, 0, 2});
        auto kh = k.slice(2, head * hd, (head + 1) * hd).permute({1, 0, 2});
        auto vh = v.slice(2, head * hd, (head + 1) * hd).permute({1, 0, 2});
        auto scores = torch::bmm(qh / std::sqrt(static_cast<double>(hd)), kh.transpose(1, 2));
        if (causal) {
            auto mask = torch::zeros({L, L});
            for (int64_t i = 0; i < L; ++i)
                for (int64_t j = i + 1; j < L; ++j)
                    mask[i][j] = -INFINITY;
            scores = scores + mask;
        }
        if (attention)
            attention->push_back(torch::softmax(scores, -1));
        outs.push_back(torch::bmm(torch::softmax(scores, -1), vh).permute({1, 0, 2}));
    }
    auto attn = torch::matmul(torch::cat(outs, 2), w.at(p + "attn.out_proj.weight").t()) + w.at(p + "attn.out_proj.bias");
    x = x + attn;
    auto m = torch::matmul(refLayerNorm(x, w, p + "ln_2", eps), w.at(p + "mlp.c_fc.weight").t()) + w.at(p + "mlp.c_fc.bias");
    m = quickGelu ? m * torch::sigmoid(1.702 * m) : 0.5 * m * (1 + torch::erf(m / std::sqrt(2.0)));
    m = torch::matmul(m, w.at(p + "mlp.c_proj.weight").t()) + w.at(p + "mlp.c_proj.bias");
    return x + m;
}

// `attention`, when given, receives each layer's heads' softmax weights, [layer][head][N, L, L].
torch::Tensor refImageFeatures(const torch::Tensor& images, const StateDict& w, const ModelSpec& spec,
                               std::vector<std::vector<torch::Tensor>>* attention = nullptr)
{
    const auto& v = spec.vision;
    auto patches = torch::conv2d(images, w.at("visual.conv1.weight"), {}, v.patchSize);  // [N, D, g, g]
    auto x = patches.reshape({images.size(0), v.width, -1}).permute({2, 0, 1});          // [g*g, N, D]
    auto cls = w.at("visual.class_embedding").view({1, 1, -1}).expand({1, images.size(0), v.width});
    x = torch::cat({cls, x}, 0) + w.at("visual.positional_embedding").unsqueeze(1);
    x = refLayerNorm(x, w, "visual.ln_pre", v.layerNormEps);
    for (int i = 0; i < v.layers; ++i) {
        std::vector<torch::Tensor>* heads = nullptr;
        if (attention)
            heads = &attention->emplace_back();
        x = refBlock(x, w, "visual.transformer.resblocks." + std::to_string(i) + ".", v.heads, false, true, v.layerNormEps, heads);
    }
    return torch::matmul(refLayerNorm(x[0], w, "visual.ln_post", v.layerNormEps), w.at("visual.proj"));
}

torch::Tensor refTextFeatures(const torch::Tensor& tokens, const StateDict& w, const ModelSpec& spec)
{
    const auto& t = *spec.text;
    auto x = torch::embedding(w.at("text.token_embedding.weight"), tokens) + w.at("text.positional_embedding");
    x = x.permute({1, 0, 2});
    for (int i = 0; i < t.layers; ++i)
        x = refBlock(x, w, "text.transformer.resblocks." + std::to_string(i) + ".", t.heads, true, true, t.layerNormEps);
    x = refLayerNorm(x.permute({1, 0, 2}), w, "text.ln_final", t.layerNormEps);
    auto eot = tokens.argmax(-1);
    return torch::matmul(x.index({torch::arange(tokens.size(0)), eot}), w.at("text.text_projection"));
}

// Token rows in the reference packing (start, ids, end, zero padding) with end positions 3, 9 and 20.
torch::Tensor sampleTokens()
{
    auto tokens = torch::zeros({3, 77}, torch::kLong);
    const std::vector<std::vector<int64_t>> rows = {{49406, 320, 1929, 49407},
                                                    {49406, 320, 1125, 539, 320, 2368, 269, 5, 9, 49407},
                                                    {49406, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 49407}};
    for (size_t r = 0; r < rows.size(); ++r)
        for (size_t c = 0; c < rows[r].size(); ++c)
            tokens[r][c] = rows[r][c];
    return tokens;
}

class CountingHooks : public TransformerHooks
{
public:
    int before = 0, after = 0;
    torch::Tensor beforeBlock(int, const torch::Tensor& x) override { ++before; return x; }
    torch::Tensor afterMlp(int, const torch::Tensor& out, const torch::Tensor&, const torch::Tensor&) override { ++after; return out; }
};

// VPT-style: p extra tokens after [CLS] at the first block.
class InsertTokens : public TransformerHooks
{
public:
    torch::Tensor prompts;
    torch::Tensor beforeBlock(int layer, const torch::Tensor& x) override
    {
        if (layer != 0)
            return x;
        auto p = prompts.unsqueeze(0).expand({x.size(0), prompts.size(0), x.size(2)});
        return torch::cat({x.narrow(1, 0, 1), p, x.narrow(1, 1, x.size(1) - 1)}, 1);
    }
};

} // namespace

class TestClipModel : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() { torch::set_num_threads(2); }

    void releaseGeometries_data()
    {
        QTest::addColumn<int>("visionWidth");
        QTest::addColumn<int>("visionLayers");
        QTest::addColumn<int>("patch");
        QTest::addColumn<int>("grid");
        QTest::addColumn<int>("textWidth");
        QTest::addColumn<int>("embed");
        QTest::addColumn<qint64>("elements");
        QTest::addColumn<int>("keys");
        QTest::addColumn<QString>("geometry");  // `params --model NAME`'s random-weight model of the release
        // Element counts from checkpoint-formats.md 1.1 (they include logit_scale).
        QTest::newRow("ViT-B/32") << 768 << 12 << 32 << 7 << 512 << 512 << qint64(151277313) << 302 << "clip-vit-b32";
        QTest::newRow("ViT-B/16") << 768 << 12 << 16 << 14 << 512 << 512 << qint64(149620737) << 302 << "clip-vit-b16";
        QTest::newRow("ViT-L/14") << 1024 << 24 << 14 << 16 << 768 << 768 << qint64(427616513) << 446 << "clip-vit-l14";
        QTest::newRow("ViT-L/14@336") << 1024 << 24 << 14 << 24 << 768 << 768 << qint64(427944193) << 446 << "clip-vit-l14-336";
    }

    void releaseGeometries()
    {
        QFETCH(int, visionWidth);
        QFETCH(int, visionLayers);
        QFETCH(int, patch);
        QFETCH(int, grid);
        QFETCH(int, textWidth);
        QFETCH(int, embed);
        QFETCH(qint64, elements);
        QFETCH(int, keys);
        QFETCH(QString, geometry);
        const StateDict openAi = releaseShapes(visionWidth, visionLayers, patch, grid, textWidth, embed);
        QCOMPARE(int(openAi.size()), keys);
        QCOMPARE(elementCount(openAi), elements);

        const ModelSpec spec = inferSpec(canonicalFromOpenAi(openAi));
        QCOMPARE(spec.vision.width, visionWidth);
        QCOMPARE(spec.vision.layers, visionLayers);
        QCOMPARE(spec.vision.heads, visionWidth / 64);
        QCOMPARE(spec.vision.patchSize, patch);
        QCOMPARE(spec.vision.imageSize, patch * grid);
        QCOMPARE(spec.vision.outputDim, embed);
        QVERIFY(spec.text.has_value());
        QCOMPARE(spec.text->width, textWidth);
        QCOMPARE(spec.text->heads, textWidth / 64);
        QCOMPARE(spec.text->layers, 12);
        QCOMPARE(spec.text->contextLength, 77);
        QCOMPARE(spec.text->vocabSize, 49408);
        // The named geometry is the same model, so that params and plan count what the release holds.
        const ModelSpec named = modelGeometry(geometry.toStdString());
        QCOMPARE(named.vision.width, spec.vision.width);
        QCOMPARE(named.vision.layers, spec.vision.layers);
        QCOMPARE(named.vision.heads, spec.vision.heads);
        QCOMPARE(named.vision.patchSize, spec.vision.patchSize);
        QCOMPARE(named.vision.imageSize, spec.vision.imageSize);
        QCOMPARE(named.vision.mlpWidth, spec.vision.mlpWidth);
        QCOMPARE(named.vision.outputDim, spec.vision.outputDim);
        QCOMPARE(named.text->width, spec.text->width);
        QCOMPARE(named.text->heads, spec.text->heads);
        QCOMPARE(named.text->outputDim, spec.text->outputDim);

        // The module built from that spec has exactly the reference's keys and shapes (the B models
        // are cheap enough to instantiate here).
        if (visionWidth == 768) {
            ClipModel model(spec);
            const StateDict ours = openAiFromCanonical([&] {
                StateDict sd;
                for (const auto& item : model->named_parameters(true))
                    sd[item.key()] = item.value();
                return sd;
            }());
            QCOMPARE(ours.size(), openAi.size());
            for (const auto& [key, tensor] : openAi) {
                QVERIFY2(ours.count(key), key.c_str());
                QVERIFY2(ours.at(key).sizes() == tensor.sizes(), key.c_str());
            }
        }
    }

    void imageTowerMatchesIndependentComputation()
    {
        const ModelSpec spec = test::tinyClipSpec();
        const StateDict weights = test::randomWeights(spec, 1);
        ClipModel model(spec);
        loadWeightsStrict(*model, weights, "fixture");
        model->eval();
        torch::NoGradGuard noGrad;
        auto images = torch::randn({3, 3, 32, 32});
        auto ours = model->encodeImage(images);
        auto reference = refImageFeatures(images, weights, spec);
        QCOMPARE(ours.sizes().vec(), (std::vector<int64_t>{3, 48}));
        QVERIFY2(torch::allclose(ours, reference, 1e-4, 1e-5), "image features differ from the reference computation");
    }

    // "Where it looks" on a ViT: the rollout of the attention recorded while the tower ran equals one made by
    // hand, in plain loops, from the reference computation's softmax weights (issue 29, methods-3.md 5).
    void attentionRolloutMatchesHandComputation()
    {
        const ModelSpec spec = test::tinyClipSpec();
        const StateDict weights = test::randomWeights(spec, 5);
        ClipModel model(spec);
        loadWeightsStrict(*model, weights, "fixture");
        model->eval();
        torch::NoGradGuard noGrad;
        auto images = torch::randn({2, 3, 32, 32});
        const int64_t grid = spec.vision.imageSize / spec.vision.patchSize, length = grid * grid + 1;
        std::vector<std::vector<torch::Tensor>> reference;
        refImageFeatures(images, weights, spec, &reference);
        AttentionMap map;
        {
            AttentionRecorder recorder;
            model->encodeImage(images);
            QCOMPARE(int(recorder.layers().size()), spec.vision.layers);
            map = attentionMap(recorder, grid);
        }
        QVERIFY(!AttentionRecorder::active());
        QCOMPARE(map.method, "attention rollout over " + std::to_string(spec.vision.layers) + " layers");
        QCOMPARE(map.map.sizes().vec(), (std::vector<int64_t>{2, grid, grid}));
        for (int64_t n = 0; n < 2; ++n) {
            // R = (A_L + I)' ... (A_1 + I)', each factor's rows renormalised; A = the heads' mean.
            std::vector<std::vector<double>> rollout(length, std::vector<double>(length, 0.0));
            for (int64_t i = 0; i < length; ++i)
                rollout[i][i] = 1.0;
            for (const auto& heads : reference) {
                std::vector<std::vector<double>> layer(length, std::vector<double>(length, 0.0));
                for (int64_t i = 0; i < length; ++i) {
                    double sum = 0;
                    for (int64_t j = 0; j < length; ++j) {
                        double a = 0;
                        for (const auto& head : heads)
                            a += head[n][i][j].item<double>();
                        layer[i][j] = a / double(heads.size()) + (i == j ? 1.0 : 0.0);
                        sum += layer[i][j];
                    }
                    for (int64_t j = 0; j < length; ++j)
                        layer[i][j] /= sum;
                }
                std::vector<std::vector<double>> next(length, std::vector<double>(length, 0.0));
                for (int64_t i = 0; i < length; ++i)
                    for (int64_t j = 0; j < length; ++j)
                        for (int64_t k = 0; k < length; ++k)
                            next[i][j] += layer[i][k] * rollout[k][j];
                rollout = next;
            }
            double peak = 0;
            for (int64_t p = 1; p < length; ++p)
                peak = std::max(peak, rollout[0][p]);
            for (int64_t p = 1; p < length; ++p) {
                const double ours = map.map[n][(p - 1) / grid][(p - 1) % grid].item<double>();
                QVERIFY2(std::abs(ours - rollout[0][p] / peak) < 1e-5, qPrintable(QString("image %1 patch %2: %3 vs %4").arg(n).arg(p).arg(ours).arg(rollout[0][p] / peak)));
            }
        }
        // Without a recorder nothing is kept, and a recorder that saw no tower says so.
        AttentionRecorder empty;
        QVERIFY(empty.layers().empty());
        QVERIFY_THROWS_EXCEPTION(Error, attentionMap(empty, grid));
    }

    // A ResNet CLIP looks through its attention pool: the recorded weights are the mean token's softmax over
    // [itself, positions], computed here by hand, averaged over heads.
    void attentionPoolWeightsAreRecorded()
    {
        torch::manual_seed(6);
        const int grid = 3, channels = 16, heads = 4;
        AttentionPool2d pool(grid, channels, heads, 8);
        torch::NoGradGuard noGrad;
        auto features = torch::randn({2, channels, grid, grid});
        AttentionRecorder recorder;
        pool->forward(features);
        QVERIFY(recorder.layers().empty());
        QCOMPARE(recorder.pool().sizes().vec(), (std::vector<int64_t>{2, grid * grid + 1}));
        auto tokens = features.flatten(2).transpose(1, 2);
        tokens = torch::cat({tokens.mean(1, true), tokens}, 1) + pool->positional_embedding;
        const int headDim = channels / heads;
        for (int64_t n = 0; n < 2; ++n) {
            auto expected = torch::zeros({grid * grid + 1}, torch::kDouble);
            for (int h = 0; h < heads; ++h) {
                auto q = torch::linear(tokens[n][0], pool->q_proj->weight, pool->q_proj->bias).narrow(0, h * headDim, headDim);
                auto k = torch::linear(tokens[n], pool->k_proj->weight, pool->k_proj->bias).narrow(1, h * headDim, headDim);
                expected += torch::softmax(torch::matmul(k, q) / std::sqrt(double(headDim)), 0).to(torch::kDouble) / heads;
            }
            QVERIFY(torch::allclose(recorder.pool()[n].to(torch::kDouble), expected, 1e-5, 1e-6));
        }
        const AttentionMap map = attentionMap(recorder, grid);
        QCOMPARE(map.method, std::string("attention pool (mean-token query)"));
        QVERIFY(torch::allclose(map.map[1].flatten(), recorder.pool()[1].narrow(0, 1, grid * grid) / recorder.pool()[1].narrow(0, 1, grid * grid).max()));
    }

    void textTowerMatchesIndependentComputation()
    {
        const ModelSpec spec = test::tinyClipSpec();
        const StateDict weights = test::randomWeights(spec, 2);
        ClipModel model(spec);
        loadWeightsStrict(*model, weights, "fixture");
        torch::NoGradGuard noGrad;
        const auto tokens = sampleTokens();
        // The reference runs all 77 positions; ours stops after the last end-of-text token.
        auto ours = model->encodeText(tokens);
        auto reference = refTextFeatures(tokens, weights, spec);
        QVERIFY2(torch::allclose(ours, reference, 1e-4, 1e-5), "text features differ from the reference computation");
        // Padding after the end token cannot matter (causal mask): the same row alone gives the same feature.
        auto alone = model->encodeText(tokens.narrow(0, 0, 1));
        QVERIFY(torch::allclose(alone[0], ours[0], 1e-5, 1e-6));
    }

    void logitsAreScaledCosines()
    {
        const ModelSpec spec = test::tinyClipSpec();
        ClipModel model(spec);
        loadWeightsStrict(*model, test::randomWeights(spec, 3), "fixture");
        torch::NoGradGuard noGrad;
        auto a = torch::randn({2, 48}), b = torch::randn({4, 48});
        auto logits = model->logits(a, b);
        const double cosine = (a[1] / a[1].norm()).dot(b[2] / b[2].norm()).item<double>();
        QVERIFY(std::abs(logits[1][2].item<double>() - 100.0 * cosine) < 1e-3);
    }

    void hooksSeeEveryLayerAndCanInsertTokens()
    {
        const ModelSpec spec = test::tinyClipSpec();
        ClipModel model(spec);
        loadWeightsStrict(*model, test::randomWeights(spec, 4), "fixture");
        torch::NoGradGuard noGrad;
        auto images = torch::randn({2, 3, 32, 32});
        auto plain = model->encodeImage(images);

        CountingHooks counting;
        auto counted = model->encodeImage(images, &counting);
        QCOMPARE(counting.before, spec.vision.layers);
        QCOMPARE(counting.after, spec.vision.layers);
        QVERIFY(torch::equal(counted, plain));

        InsertTokens insert;
        insert.prompts = torch::randn({5, spec.vision.width});
        auto prompted = model->encodeImage(images, &insert);
        QCOMPARE(prompted.sizes(), plain.sizes());
        QVERIFY(!torch::allclose(prompted, plain));
        insert.prompts = insert.prompts.narrow(0, 0, 0);  // zero tokens: nothing changes
        QVERIFY(torch::allclose(model->encodeImage(images, &insert), plain, 1e-5, 1e-6));
    }
};

QTEST_APPLESS_MAIN(TestClipModel)
#include "tst_clip_model.moc"
