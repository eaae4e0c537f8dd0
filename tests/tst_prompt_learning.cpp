// Prompt learning strategies for CLIP: shapes, which tensors train, parameter counts, CoCoOp's batched
// path, the base/new rule, KgCoOp's loss, Tip-Adapter's formula and the linear probe.
#include "core/Error.h"
#include "core/data/FewShot.h"
#include "core/io/CheckpointLoader.h"
#include "core/io/ClipTokenizer.h"
#include "core/train/Evaluator.h"
#include "core/train/Trainer.h"
#include "core/tuning/prompt/ClipAdapterStrategy.h"
#include "core/tuning/prompt/ClipStrategy.h"
#include "core/tuning/prompt/CocoopStrategy.h"
#include "core/tuning/prompt/CoopStrategy.h"
#include "core/tuning/prompt/KgCoopStrategy.h"
#include "core/tuning/prompt/LinearProbeStrategy.h"
#include "core/tuning/prompt/MapleStrategy.h"
#include "core/tuning/prompt/PrefixTuningStrategy.h"
#include "core/tuning/prompt/PromptLearner.h"
#include "core/tuning/prompt/PromptSrcStrategy.h"
#include "core/tuning/prompt/PromptTemplates.h"
#include "core/tuning/prompt/TipAdapterStrategy.h"
#include "core/tuning/prompt/ZeroShotStrategy.h"
#include "tests/ClipVocabulary.h"
#include "tests/ModelFixtures.h"

#include <QtTest>

#include <torch/torch.h>

#include <set>

using namespace tunebench;

namespace {

ClipModel tinyModel(int seed = 3)
{
    Checkpoint checkpoint{test::tinyClipSpec(), test::randomWeights(test::tinyClipSpec(), seed)};
    return buildModel(checkpoint);
}

// A CLIP whose text tower has CLIP ViT-B's width (512) but one layer, for the recipe's parameter counts.
ClipModel wideTextModel()
{
    ModelSpec spec = test::tinyClipSpec();
    spec.vision.width = 64;
    spec.vision.layers = 1;
    spec.vision.heads = 1;
    spec.vision.mlpWidth = 128;
    spec.vision.outputDim = 512;
    spec.text->width = 512;
    spec.text->layers = 1;
    spec.text->heads = 8;
    spec.text->mlpWidth = 256;
    spec.text->outputDim = 512;
    torch::manual_seed(11);
    return ClipModel(spec);
}

// The demo model's vocabulary: these tests tokenize prompts but need none of OpenAI's ids.
std::shared_ptr<const ClipTokenizer> vocabulary()
{
    static auto tokenizer = std::make_shared<const ClipTokenizer>(ClipTokenizer::load(test::demoVocabularyPath()));
    return tokenizer;
}

TaskSetup task(std::vector<std::string> classes = {"cat", "dog", "golden retriever"})
{
    TaskSetup setup;
    setup.classNames = std::move(classes);
    setup.promptTemplate = "a photo of a {}.";
    setup.datasetName = "toy";
    setup.tokenizer = vocabulary();
    setup.domainNames = {"photo", "sketch"};  // read only by the methods that adapt (DAPL)
    return setup;
}

std::unique_ptr<Strategy> attached(const std::string& method, ClipModel model, const nlohmann::json& params = {},
                                   const TaskSetup& setup = task())
{
    auto strategy = findStrategy(method).create();
    strategy->attach(model, setup, params);
    return strategy;
}

torch::Tensor tokensOf(const std::string& text, int contextLength = 77)
{
    const auto ids = vocabulary()->tokenizeToContext(text, contextLength);
    return torch::tensor(std::vector<int64_t>(ids.begin(), ids.end()), torch::kLong).unsqueeze(0);
}

StateDict snapshot(ClipModel model)
{
    StateDict out;
    for (const auto& item : model->named_parameters())
        out[item.key()] = item.value().detach().clone();
    return out;
}

} // namespace

class TestPromptLearning : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        torch::set_num_threads(2);
    }

    void templateLists()
    {
        const auto& all = PromptTemplates::imagenet80();
        QCOMPARE(all.size(), size_t(80));
        QCOMPARE(std::set<std::string>(all.begin(), all.end()).size(), size_t(80));
        for (const auto& t : PromptTemplates::imagenet7())
            QVERIFY2(std::find(all.begin(), all.end(), t) != all.end(), t.c_str());
        QCOMPARE(PromptTemplates::imagenet7().size(), size_t(7));
        QCOMPARE(PromptTemplates::fill("a {} in a video game.", "car"), std::string("a car in a video game."));
        QCOMPARE(PromptTemplates::splitList(" a {}. | |the {}."), (std::vector<std::string>{"a {}.", "the {}."}));
        QVERIFY_THROWS_EXCEPTION(Error, PromptTemplates::fill("no slot", "car"));
    }

    void zeroShotEnsembleAveragesNormalisedFeatures()
    {
        auto model = tinyModel();
        auto strategy = attached("zeroshot", model, {{"mode", "ensemble7"}});
        auto* zeroShot = dynamic_cast<ZeroShotStrategy*>(strategy.get());
        torch::NoGradGuard noGrad;
        torch::Tensor sum = torch::zeros({3, 48});
        for (const auto& templ : PromptTemplates::imagenet7())
            for (int c = 0; c < 3; ++c)
                sum[c] += l2Normalize(model->encodeText(tokensOf(PromptTemplates::fill(templ, task().classNames[size_t(c)]))))[0];
        QVERIFY(torch::allclose(zeroShot->classTextFeatures(), l2Normalize(sum / 7.0), 1e-5, 1e-6));
        QVERIFY(!strategy->needsTraining());
        QCOMPARE(strategy->trainableParameterCount(), int64_t(0));
        auto images = torch::randn({2, 3, 32, 32});
        auto expected = model->logits(model->encodeImage(images), zeroShot->classTextFeatures());
        QVERIFY(torch::allclose(strategy->logits(images), expected, 1e-4, 1e-5));
    }

    void coopParameterCountsMatchTheRecipe()
    {
        auto model = wideTextModel();
        QCOMPARE(attached("coop", model)->trainableParameterCount(), int64_t(8192));
        QCOMPARE(attached("coop", model, {{"ctx_init", "a photo of a"}})->trainableParameterCount(), int64_t(2048));
        QCOMPARE(attached("coop", model, {{"csc", true}})->trainableParameterCount(), int64_t(8192 * 3));
        QCOMPARE(attached("kgcoop", model)->trainableParameterCount(), int64_t(2048));
        QCOMPARE(attached("cocoop", model)->trainableParameterCount(), int64_t(35360));
        QCOMPARE(attached("clip-adapter", model)->trainableParameterCount(), int64_t(131072));
    }

    // With the context set to the words of "a photo of a", CoOp's prompt is exactly the hand-crafted one,
    // in each class-token position.
    void coopPromptLayoutMatchesTheTokenizedText_data()
    {
        QTest::addColumn<QString>("position");
        QTest::addColumn<QString>("pattern");
        QTest::newRow("end") << "end" << "a photo of a %1.";
        QTest::newRow("middle") << "middle" << "a photo %1 of a.";
        QTest::newRow("front") << "front" << "%1 a photo of a.";
    }
    void coopPromptLayoutMatchesTheTokenizedText()
    {
        QFETCH(QString, position);
        QFETCH(QString, pattern);
        auto model = tinyModel();
        auto strategy = attached("coop", model, {{"ctx_init", "a photo of a"}, {"class_token_position", position.toStdString()}});
        auto& coop = dynamic_cast<CoopStrategy&>(*strategy);
        QCOMPARE(coop.learner().contextLength(), 4);
        torch::NoGradGuard noGrad;
        const auto learned = coop.learner().encode();
        for (int c = 0; c < 3; ++c) {
            const auto text = pattern.arg(QString::fromStdString(task().classNames[size_t(c)])).toStdString();
            QVERIFY2(torch::allclose(learned[c], model->encodeText(tokensOf(text))[0], 1e-4, 1e-5), text.c_str());
        }
    }

    void coopTrainsOnlyTheContext()
    {
        auto model = tinyModel();
        const StateDict before = snapshot(model);
        torch::manual_seed(1);
        auto strategy = attached("coop", model, {{"n_ctx", 4}});
        const auto ctxBefore = strategy->trainableParameters().front().detach().clone();
        QCOMPARE(strategy->trainableParameters().front().sizes().vec(), (std::vector<int64_t>{4, 64}));
        // Random init N(0, 0.02).
        QVERIFY(std::abs(ctxBefore.std().item<double>() - 0.02) < 0.006);
        auto images = torch::randn({12, 3, 32, 32});
        auto labels = torch::arange(12) % 3;
        TensorBatchSource data(images, labels, 4, true, 1);
        TrainerConfig config = strategy->defaultTrainerConfig(16);
        config.epochs = 2;
        config.warmupEpochs = 0;
        config.lr = 0.01;
        QCOMPARE(config.optimizer, std::string("sgd"));
        QCOMPARE(strategy->defaultTrainerConfig(16).epochs, 200);
        QCOMPARE(strategy->defaultTrainerConfig(1).epochs, 50);
        const auto result = Trainer(config).fit(*strategy, data);
        QCOMPARE(result.steps, int64_t(6));
        QVERIFY(!torch::equal(strategy->trainableParameters().front(), ctxBefore));
        for (const auto& item : model->named_parameters()) {
            QVERIFY2(torch::equal(item.value(), before.at(item.key())), item.key().c_str());
            QVERIFY(!item.value().grad().defined() || item.value().grad().abs().sum().item<double>() == 0);
        }
        QCOMPARE(strategy->logits(images).sizes().vec(), (std::vector<int64_t>{12, 3}));
    }

    void sharedPrefixEqualsThePlainTower()
    {
        // Three text layers, so that the prefix's hidden states travel through several blocks.
        ModelSpec spec = test::tinyClipSpec();
        spec.text->layers = 3;
        auto model = buildModel(Checkpoint{spec, test::randomWeights(spec, 21)});
        const std::vector<std::string> classes = {"cat", "dog", "golden retriever", "a very long class name with many words"};
        PromptLearnerOptions options;
        options.contextLength = 5;
        torch::manual_seed(4);
        PromptLearner shared(model, vocabulary(), options, classes);
        options.sharePrefix = false;
        PromptLearner plain(model, vocabulary(), options, classes);
        plain.context().data().copy_(shared.context().data());

        auto features = shared.encode();
        auto expected = plain.encode();
        QCOMPARE(features.sizes().vec(), expected.sizes().vec());
        QVERIFY(torch::allclose(features, expected, 1e-4, 1e-5));
        auto weights = torch::randn_like(expected);
        (features * weights).sum().backward();
        (expected * weights).sum().backward();
        QVERIFY(shared.context().grad().abs().sum().item<double>() > 0);
        // Float rounding differs with the order of the sums: compare against the gradient's scale.
        const double scale = plain.context().grad().abs().max().item<double>();
        QVERIFY(scale > 0);
        QVERIFY((shared.context().grad() - plain.context().grad()).abs().max().item<double>() < 1e-5 * scale);

        // CoCoOp's per-image contexts: one prefix per image.
        auto bias = torch::randn({3, shared.context().size(1)}) * 0.1;
        auto perImage = shared.encodeWithBias(bias);
        QCOMPARE(perImage.sizes().vec(), (std::vector<int64_t>{3, 4, spec.text->outputDim}));
        QVERIFY(torch::allclose(perImage, plain.encodeWithBias(bias), 1e-4, 1e-5));
        QVERIFY(!torch::allclose(perImage[0], perImage[1], 1e-4, 1e-5));
    }

    // Key/value prefixes against attention written out by hand, head by head: the prefix rows are seen by
    // every position, the tokens causally.
    void keyValuePrefixMatchesAttentionByHand()
    {
        torch::manual_seed(8);
        const int64_t width = 16, heads = 2, headDim = width / heads, batch = 2, length = 5, extra = 3;
        SelfAttention attention(width, heads);
        auto x = torch::randn({batch, length, width});
        KeyValuePrefix prefix{torch::randn({extra, width}), torch::randn({extra, width})};
        torch::NoGradGuard noGrad;
        auto got = attention->forward(x, true, prefix);

        auto w = attention->in_proj_weight, b = attention->in_proj_bias;
        auto q = torch::linear(x, w.narrow(0, 0, width), b.narrow(0, 0, width));
        auto k = torch::linear(x, w.narrow(0, width, width), b.narrow(0, width, width));
        auto v = torch::linear(x, w.narrow(0, 2 * width, width), b.narrow(0, 2 * width, width));
        auto expected = torch::zeros({batch, length, width});
        for (int64_t n = 0; n < batch; ++n)
            for (int64_t h = 0; h < heads; ++h) {
                auto cols = torch::indexing::Slice(h * headDim, (h + 1) * headDim);
                for (int64_t i = 0; i < length; ++i) {
                    // Keys: the prefix rows, then the tokens 0..i.
                    auto keys = torch::cat({prefix.keys.index({torch::indexing::Slice(), cols}), k[n].index({torch::indexing::Slice(0, i + 1), cols})});
                    auto values = torch::cat({prefix.values.index({torch::indexing::Slice(), cols}), v[n].index({torch::indexing::Slice(0, i + 1), cols})});
                    auto weights = torch::softmax(torch::mv(keys, q[n][i].index({cols})) / std::sqrt(double(headDim)), 0);
                    expected[n][i].index_put_({cols}, torch::mv(values.t(), weights));
                }
            }
        expected = attention->out_proj(expected);
        QVERIFY(torch::allclose(got, expected, 1e-5, 1e-6));
    }

    // The shared-prefix pass with hooks (key/value prefixes and a deep prompt replacing rows inside the
    // prefix at a deeper layer) equals the plain pass over every full sequence.
    void sharedPrefixWithDeepPromptsEqualsThePlainTower()
    {
        ModelSpec spec = test::tinyClipSpec();
        spec.text->layers = 3;
        auto model = buildModel(Checkpoint{spec, test::randomWeights(spec, 22)});
        const int64_t width = spec.text->width;
        struct Hooks : TransformerHooks
        {
            at::Tensor keys, values, deep;  // [layers, 2, width], [layers, 2, width], [2, width]
            torch::Tensor beforeBlock(int layer, const torch::Tensor& tokens) override
            {
                if (layer != 2)
                    return tokens;
                auto rows = deep.unsqueeze(0).expand({tokens.size(0), -1, -1});
                return torch::cat({tokens.narrow(1, 0, 1), rows, tokens.narrow(1, 3, tokens.size(1) - 3)}, 1);
            }
            KeyValuePrefix keyValuePrefix(int layer) override { return {keys[layer], values[layer]}; }
        } hooks;
        torch::manual_seed(5);
        hooks.keys = torch::randn({3, 2, width});
        hooks.values = torch::randn({3, 2, width});
        hooks.deep = torch::randn({2, width}) * 0.1;
        auto tokens = torch::empty({3, spec.text->contextLength}, torch::kLong);
        const std::vector<std::string> prompts = {"a photo of a cat.", "a photo of a dog.", "a photo of a golden retriever."};
        for (int c = 0; c < 3; ++c) {
            const auto ids = vocabulary()->tokenizeToContext(prompts[c], spec.text->contextLength);
            std::copy(ids.begin(), ids.end(), tokens[c].data_ptr<int64_t>());
        }
        torch::NoGradGuard noGrad;
        auto shared = model->text->encodeTokensSharingPrefix(tokens, &hooks);
        auto plain = model->text->encodeEmbeddings(model->text->embedTokens(tokens), model->text->endPositions(tokens), &hooks);
        QVERIFY(torch::allclose(shared, plain, 1e-4, 1e-5));
        // The hooks change the features (they are not ignored by either path).
        QVERIFY(!torch::allclose(plain, model->text->forward(tokens), 1e-3, 1e-3));
    }

    // Prefix-tuning trains through its MLP; the exported plain prefixes give the same class features and
    // logits, and only the method's tensors get gradients.
    void prefixTuningExportEqualsTheReparameterisedForm()
    {
        auto model = tinyModel();
        auto trained = attached("prefix-tuning", model, {{"prefix_length", 3}, {"mid_dim", 8}});
        const auto& text = *model->spec().text;
        // The reference's count: p*d + (d*m + m) + (m*2Ld + 2Ld).
        const int64_t p = 3, d = text.width, m = 8, twoLd = 2 * text.layers * d;
        QCOMPARE(trained->trainableParameterCount(), p * d + (d * m + m) + (m * twoLd + twoLd));
        auto images = torch::randn({2, 3, 32, 32});
        trained->setTraining(true);
        Batch batch;
        batch.inputs = images;
        batch.labels = torch::tensor({0, 1}, torch::kLong);
        auto step = trained->trainStep(batch);
        step.loss.backward();
        for (const auto& tensor : trained->trainableParameters())
            QVERIFY(tensor.grad().defined() && tensor.grad().abs().sum().item<double>() > 0);
        for (const auto& parameter : model->parameters())
            QVERIFY(!parameter.grad().defined());
        trained->setTraining(false);

        StateDict exported = trained->exportTensors();
        QCOMPARE(exported["prefix_keys"].sizes().vec(), (std::vector<int64_t>{text.layers, p, d}));
        exported.erase("class_text_features");
        auto plain = attached("prefix-tuning", tinyModel(), {{"prefix_length", 3}, {"mid_dim", 8}});
        plain->loadTrainableState(exported);
        QCOMPARE(plain->trainableParameterCount(), 2 * text.layers * p * d);
        auto* trainedClip = dynamic_cast<ClipStrategy*>(trained.get());
        auto* plainClip = dynamic_cast<ClipStrategy*>(plain.get());
        QVERIFY(torch::allclose(trainedClip->classTextFeatures(), plainClip->classTextFeatures(), 1e-5, 1e-6));
        QVERIFY(torch::allclose(trained->logits(images), plain->logits(images), 1e-4, 1e-5));
        // The prefixes matter: without them the features are the hand-crafted ones.
        auto zeroshot = attached("zeroshot", tinyModel());
        QVERIFY(!torch::allclose(trained->logits(images), zeroshot->logits(images), 1e-3, 1e-3));

        // P-Tuning v2 trains the prefixes themselves: 2 * L * p * d.
        auto v2 = attached("p-tuning-v2", tinyModel(), {{"prefix_length", 4}});
        QCOMPARE(v2->trainableParameterCount(), int64_t(2 * text.layers * 4 * d));
    }

    // P-Tuning's encoder has the reference's shape (bi-LSTM, d/2 units, 2 layers; a 2-layer MLP); its exported
    // outputs, imported as a fixed context, give the same class features.
    void pTuningEncoderCountsAndExport()
    {
        auto model = tinyModel();
        auto strategy = attached("p-tuning", model, {{"n_ctx", 3}});
        const int64_t p = 3, d = model->spec().text->width, h = d / 2;
        const int64_t lstm = 2 * 2 * (4 * h * (d + h) + 8 * h);  // layers x directions x (weights + two biases)
        QCOMPARE(strategy->trainableParameterCount(), p * d + lstm + 2 * (d * d + d));
        auto images = torch::randn({2, 3, 32, 32});
        strategy->setTraining(true);
        Batch batch;
        batch.inputs = images;
        batch.labels = torch::tensor({0, 2}, torch::kLong);
        strategy->trainStep(batch).loss.backward();
        for (const auto& tensor : strategy->trainableParameters())
            QVERIFY(tensor.grad().defined());
        strategy->setTraining(false);
        StateDict exported = strategy->exportTensors();
        QCOMPARE(exported["ctx"].sizes().vec(), (std::vector<int64_t>{p, d}));
        exported.erase("class_text_features");
        auto imported = attached("p-tuning", tinyModel(), {{"n_ctx", 3}});
        imported->loadTrainableState(exported);
        QCOMPARE(imported->trainableParameterCount(), p * d);
        QVERIFY(torch::allclose(strategy->logits(images), imported->logits(images), 1e-4, 1e-5));
    }

    // MaPLe's towers against a forward written out layer by layer: the text prompts replace rows 1..n at
    // each deeper layer's input, the vision prompts (the couplers' outputs) are appended after the patches
    // before ln_pre and replace the last n rows at each deeper layer.
    void mapleDeepPromptsMatchALayerByLayerForward()
    {
        auto model = tinyModel();
        torch::manual_seed(6);
        auto strategy = attached("maple", model, {{"n_ctx", 2}, {"depth", 2}});
        auto* maple = dynamic_cast<MapleStrategy*>(strategy.get());
        QVERIFY(maple);
        QCOMPARE(maple->textDepth(), 2);
        QCOMPARE(maple->visionDepth(), 2);
        const StateDict state = maple->trainableState();
        const auto& text = *model->spec().text;
        const int64_t vision = model->spec().vision.width;
        // ctx + one deeper text prompt + two couplers.
        QCOMPARE(strategy->trainableParameterCount(), int64_t(2 * text.width + 2 * text.width + 2 * (vision * text.width + vision)));
        torch::NoGradGuard noGrad;

        // Text: "a photo of a {class}." with "a photo" as the learned context (MaPLe's initialisation).
        const std::vector<std::string> classes = task().classNames;
        auto tokens = torch::empty({int64_t(classes.size()), text.contextLength}, torch::kLong);
        for (size_t c = 0; c < classes.size(); ++c) {
            const auto ids = vocabulary()->tokenizeToContext("a photo of a " + classes[c] + ".", text.contextLength);
            std::copy(ids.begin(), ids.end(), tokens[int64_t(c)].data_ptr<int64_t>());
        }
        auto x = model->text->embedTokens(tokens);
        x.narrow(1, 1, 2).copy_(state.at("ctx").unsqueeze(0).expand({x.size(0), 2, text.width}));
        x = x + model->text->positional_embedding;
        for (int layer = 0; layer < text.layers; ++layer) {
            if (layer == 1)
                x.narrow(1, 1, 2).copy_(state.at("text_prompts.1").unsqueeze(0).expand({x.size(0), 2, text.width}));
            x = model->text->transformer->block(layer)->forward(x, true, layer, nullptr);
        }
        auto ends = model->text->endPositions(tokens);
        auto pooled = model->text->ln_final(x).index({torch::arange(x.size(0)), ends});
        auto expectedText = torch::matmul(pooled, model->text->text_projection);
        QVERIFY(torch::allclose(maple->textFeatures(), expectedText, 1e-4, 1e-5));

        // Image.
        auto images = torch::randn({2, 3, 32, 32});
        auto& visual = model->visual;
        auto prompt0 = torch::linear(state.at("ctx"), state.at("couplers.0.weight"), state.at("couplers.0.bias"));
        auto prompt1 = torch::linear(state.at("text_prompts.1"), state.at("couplers.1.weight"), state.at("couplers.1.bias"));
        auto patches = visual->conv1(images).flatten(2).transpose(1, 2);
        auto cls = visual->class_embedding.view({1, 1, -1}).expand({2, 1, vision});
        auto y = torch::cat({cls, patches}, 1) + visual->positional_embedding;
        y = visual->ln_pre(torch::cat({y, prompt0.unsqueeze(0).expand({2, 2, vision})}, 1));
        for (int layer = 0; layer < model->spec().vision.layers; ++layer) {
            if (layer == 1)
                y.narrow(1, y.size(1) - 2, 2).copy_(prompt1.unsqueeze(0).expand({2, 2, vision}));
            y = visual->transformer->block(layer)->forward(y, false, layer, nullptr);
        }
        auto expectedImage = torch::matmul(visual->ln_post(y.select(1, 0)), visual->proj);
        QVERIFY(torch::allclose(maple->promptedImageFeatures(images), expectedImage, 1e-4, 1e-5));
    }

    // Gradients of MaPLe's and PromptSRC's losses reach every trainable tensor and nothing of the backbone.
    void multiModalGradientsReachOnlyThePrompts()
    {
        for (const char* method : {"maple", "ivlp", "promptsrc"}) {
            auto model = tinyModel();
            auto strategy = attached(method, model);
            strategy->setTraining(true);
            Batch batch;
            batch.inputs = torch::randn({2, 3, 32, 32});
            batch.labels = torch::tensor({0, 1}, torch::kLong);
            auto step = strategy->trainStep(batch);
            QVERIFY2(std::isfinite(step.loss.item<double>()), method);
            step.loss.backward();
            for (const auto& tensor : strategy->trainableParameters())
                QVERIFY2(tensor.grad().defined() && tensor.grad().abs().sum().item<double>() > 0, method);
            for (const auto& parameter : model->parameters())
                QVERIFY2(!parameter.grad().defined(), method);
        }
    }

    // PromptSRC's aggregate is the Gaussian-weighted average of the prompts after each epoch.
    void promptSrcAggregateIsTheGaussianAverage()
    {
        const int epochs = 5;
        const double mean = 3.5, stddev = 1.5;
        auto strategy = attached("promptsrc", tinyModel(), {{"gpa_mean", mean}, {"gpa_std", stddev}});
        auto* src = dynamic_cast<PromptSrcStrategy*>(strategy.get());
        std::vector<double> gauss;
        for (int e = 1; e <= epochs; ++e)
            gauss.push_back(std::exp(-(e - mean) * (e - mean) / (2 * stddev * stddev)));
        double sum = 0;
        for (double g : gauss)
            sum += g;
        std::vector<StateDict> perEpoch;
        for (int e = 0; e < epochs; ++e) {
            // "Training" moves every prompt to new values.
            {
                torch::NoGradGuard noGrad;
                for (auto& tensor : strategy->trainableParameters())
                    tensor.copy_(torch::randn_like(tensor));
            }
            perEpoch.push_back(src->trainableState());
            src->afterEpoch(e, epochs);
        }
        const StateDict aggregated = src->trainableState();
        for (const auto& [key, tensor] : perEpoch.front()) {
            auto expected = torch::zeros_like(tensor);
            for (int e = 0; e < epochs; ++e)
                expected += perEpoch[size_t(e)].at(key) * (gauss[size_t(e)] / sum);
            QVERIFY2(torch::allclose(aggregated.at(key), expected, 1e-5, 1e-6), key.c_str());
        }
        QVERIFY(!aggregated.count("aggregate.ctx"));  // the aggregate is applied and gone
    }

    // Prompt Tuning's vectors start as rows of the vocabulary's embedding table.
    void promptTuningStartsFromVocabularyRows()
    {
        auto model = tinyModel();
        torch::manual_seed(3);
        auto strategy = attached("prompt-tuning", model, {{"n_ctx", 4}});
        auto* clip = dynamic_cast<ClipStrategy*>(strategy.get());
        auto context = clip->contextVectors();
        QCOMPARE(context.sizes().vec(), (std::vector<int64_t>{4, model->spec().text->width}));
        auto table = model->text->token_embedding->weight.detach().narrow(0, 0, std::min<int64_t>(5000, model->spec().text->vocabSize));
        for (int64_t i = 0; i < 4; ++i)
            QCOMPARE((table - context[i]).abs().sum(1).min().item<double>(), 0.0);
        QCOMPARE(strategy->trainableParameterCount(), int64_t(4 * model->spec().text->width));
    }

    void cocoopBatchedEqualsPerImageLoop()
    {
        auto model = tinyModel();
        torch::manual_seed(2);
        auto strategy = attached("cocoop", model);
        auto& cocoop = dynamic_cast<CocoopStrategy&>(*strategy);
        QCOMPARE(strategy->defaultBatchSize(16), 1);
        QCOMPARE(strategy->defaultTrainerConfig(16).epochs, 10);
        auto images = torch::randn({5, 3, 32, 32});
        const auto batched = strategy->logits(images);
        QCOMPARE(batched.sizes().vec(), (std::vector<int64_t>{5, 3}));
        QVERIFY(torch::allclose(batched, cocoop.logitsPerImageLoop(images), 1e-4, 1e-5));
        // The bias depends on the image: two images get different class text features.
        QVERIFY(!torch::allclose(batched[0] - batched[0].mean(), batched[1] - batched[1].mean()));

        // Gradients reach ctx and the Meta-Net, nothing else.
        const StateDict before = snapshot(model);
        TensorBatchSource data(images, torch::tensor({0, 1, 2, 0, 1}), 5, false);
        TrainerConfig config;
        config.epochs = 2;
        config.warmupEpochs = 0;
        config.lr = 0.05;
        std::vector<torch::Tensor> paramsBefore;
        for (auto& p : strategy->trainableParameters())
            paramsBefore.push_back(p.detach().clone());
        Trainer(config).fit(*strategy, data);
        const auto params = strategy->trainableParameters();
        for (size_t i = 0; i < params.size(); ++i)
            QVERIFY2(!torch::equal(params[i], paramsBefore[i]), std::to_string(i).c_str());
        for (const auto& item : model->named_parameters())
            QVERIFY2(torch::equal(item.value(), before.at(item.key())), item.key().c_str());
    }

    void classSpecificContextRefusesOtherClasses()
    {
        auto model = tinyModel();
        auto csc = attached("coop", model, {{"csc", true}, {"n_ctx", 2}});
        QCOMPARE(csc->trainableParameters().front().sizes().vec(), (std::vector<int64_t>{3, 2, 64}));
        try {
            csc->setClasses({"bird", "horse"});
            QFAIL("class-specific contexts accepted unseen classes");
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find("class-specific") != std::string::npos, e.what());
        }
        auto unified = attached("coop", model, {{"n_ctx", 2}});
        unified->setClasses({"bird", "horse"});
        QCOMPARE(unified->logits(torch::randn({2, 3, 32, 32})).sizes().vec(), (std::vector<int64_t>{2, 2}));
        // The linear probe's classifier belongs to its classes too.
        auto probe = attached("linear-probe", model);
        auto& lp = dynamic_cast<LinearProbeStrategy&>(*probe);
        lp.fit(torch::randn({6, 48}), torch::tensor({0, 1, 2, 0, 1, 2}), 1.0);
        QVERIFY_THROWS_EXCEPTION(Error, probe->setClasses({"bird", "horse"}));
    }

    void baseNewRuleAndHarmonicMean()
    {
        std::vector<Sample> train;
        for (int label : {4, 0, 2, 1, 3, 2})
            train.push_back({"x", -1, label});
        QCOMPARE(selectClassLabels(train, ClassSubset::Base), (std::vector<int>{0, 1, 2}));
        QCOMPARE(selectClassLabels(train, ClassSubset::New), (std::vector<int>{3, 4}));
        QCOMPARE(harmonicMean(0.8, 0.6), 2 * 0.8 * 0.6 / 1.4);
        QCOMPARE(harmonicMean(0, 0), 0.0);
        // Seed-averaged B and N, then H of the averages, differs from the mean of per-seed H.
        const double b = (0.9 + 0.7) / 2, n = (0.3 + 0.7) / 2;
        QVERIFY(std::abs(harmonicMean(b, n) - (harmonicMean(0.9, 0.3) + harmonicMean(0.7, 0.7)) / 2) > 0.01);
    }

    void kgcoopAddsTheKnowledgeTerm()
    {
        auto model = tinyModel();
        auto strategy = attached("kgcoop", model);
        auto& kg = dynamic_cast<KgCoopStrategy&>(*strategy);
        QCOMPARE(strategy->defaultBatchSize(16), 128);
        QCOMPARE(strategy->defaultTrainerConfig(16).epochs, 100);
        // The reference code's term, computed here independently of the strategy: 1 - mean over classes of the
        // cosine between the learned class features and zero-shot CLIP's (the same template).
        auto zeroShot = attached("zeroshot", model);
        const at::Tensor teacher = dynamic_cast<ClipStrategy&>(*zeroShot).classTextFeatures();
        const auto knowledgeDistance = [&] {
            torch::NoGradGuard noGrad;
            return 1.0 - torch::cosine_similarity(l2Normalize(kg.learner().encode()), teacher, 1).mean().item<double>();
        };
        // Initialised from "a photo of a" with the same template: the learned prompt is the teacher.
        QVERIFY(std::abs(knowledgeDistance()) < 1e-5);
        {
            torch::NoGradGuard noGrad;
            kg.learner().context().add_(0.5 * torch::randn_like(kg.learner().context()));
        }
        const double distance = knowledgeDistance();
        QVERIFY(distance > 1e-3);
        auto images = torch::randn({4, 3, 32, 32});
        auto labels = torch::tensor({0, 1, 2, 0});
        const auto out = strategy->trainStep({images, labels, {}});
        const double ce = torch::nn::functional::cross_entropy(out.logits, labels).item<double>();
        QVERIFY(std::abs(out.loss.item<double>() - (ce + 8.0 * distance)) < 1e-4);
    }

    void tipAdapterLogitsFollowTheFormula()
    {
        auto model = tinyModel();
        auto strategy = attached("tip-adapter", model);
        auto& tip = dynamic_cast<TipAdapterStrategy&>(*strategy);
        QCOMPARE(tip.alpha(), 1.17);
        QCOMPARE(tip.beta(), 1.0);
        auto keys = l2Normalize(torch::randn({6, 48}));
        auto values = torch::one_hot(torch::tensor({0, 1, 2, 0, 1, 2}), 3).to(torch::kFloat);
        tip.setCache(keys, values);
        auto f = l2Normalize(torch::randn({4, 48}));
        const auto text = tip.classTextFeatures();
        auto expected = 100.0 * f.matmul(text.t()) + 2.0 * torch::exp(-5.5 * (1 - f.matmul(keys.t()))).matmul(values);
        torch::NoGradGuard noGrad;
        QVERIFY(torch::allclose(tip.logitsFromFeatures(f, 2.0, 5.5), expected, 1e-4, 1e-5));
        QCOMPARE(strategy->trainableParameterCount(), int64_t(0));
        // Tip-Adapter-F trains the keys: N x D parameters.
        auto tipF = attached("tip-adapter-f", model);
        dynamic_cast<TipAdapterStrategy&>(*tipF).setCache(keys, values);
        QCOMPARE(tipF->trainableParameterCount(), int64_t(6 * 48));
        const auto config = tipF->defaultTrainerConfig(16);
        QCOMPARE(config.optimizer, std::string("adamw"));
        QCOMPARE(config.adamEps, 1e-4);
        QVERIFY(config.cosinePerStep);
        QCOMPARE(config.epochs, 20);
        QCOMPARE(tipF->defaultBatchSize(16), 256);
        // On other classes only the zero-shot part remains.
        tip.setClasses({"bird", "horse"});
        QVERIFY(torch::allclose(tip.logitsFromFeatures(f, 2.0, 5.5), 100.0 * f.matmul(tip.classTextFeatures().t()), 1e-4, 1e-5));
    }

    void tipAdapterBuildsItsCacheFromAugmentedPasses()
    {
        auto model = tinyModel();
        auto strategy = attached("tip-adapter", model, {{"augment_passes", 2}});
        auto images = torch::randn({6, 3, 32, 32});
        TensorBatchSource data(images, torch::tensor({0, 1, 2, 2, 1, 0}), 4, true, 3);
        strategy->prepare(data);
        const auto state = strategy->trainableState();
        torch::NoGradGuard noGrad;
        // Same images in both passes here, so the keys are the normalised features in sample order.
        QVERIFY(torch::allclose(state.at("cache_keys"), l2Normalize(model->encodeImage(images)), 1e-4, 1e-5));
        QVERIFY(torch::equal(state.at("cache_values").argmax(1).to(torch::kLong), torch::tensor({0, 1, 2, 2, 1, 0}, torch::kLong)));
    }

    void linearProbeSeparatesSeparableFeatures()
    {
        auto model = tinyModel();
        auto strategy = attached("linear-probe", model);
        auto& probe = dynamic_cast<LinearProbeStrategy&>(*strategy);
        torch::manual_seed(5);
        auto centres = 3.0 * torch::randn({3, 48});
        auto labels = torch::arange(60) % 3;
        auto features = centres.index_select(0, labels) + torch::randn({60, 48});
        probe.fit(features.narrow(0, 0, 30), labels.narrow(0, 0, 30), 1.0);
        torch::NoGradGuard noGrad;
        const double accuracy =
            (probe.logitsFromFeatures(features.narrow(0, 30, 30)).argmax(1) == labels.narrow(0, 30, 30)).to(torch::kDouble).mean().item<double>();
        QVERIFY2(accuracy > 0.9, std::to_string(accuracy).c_str());
        // Stronger regularisation shrinks the weights.
        const double normLoose = probe.trainableState().at("classifier.weight").norm().item<double>();
        probe.fit(features.narrow(0, 0, 30), labels.narrow(0, 0, 30), 1e-4);
        QVERIFY(probe.trainableState().at("classifier.weight").norm().item<double>() < normLoose * 0.5);
    }

    void clipAdapterWithZeroRatioIsZeroShot()
    {
        auto model = tinyModel();
        auto adapter = attached("clip-adapter", model, {{"ratio", 0.0}});
        auto zeroShot = attached("zeroshot", model);
        auto images = torch::randn({3, 3, 32, 32});
        QVERIFY(torch::allclose(adapter->logits(images), zeroShot->logits(images), 1e-4, 1e-5));
        QCOMPARE(adapter->trainableParameterCount(), int64_t(2 * 48 * 12));
        QCOMPARE(adapter->defaultTrainerConfig(16).epochs, 200);
    }

    void registryAndSchemas()
    {
        for (const char* name : {"zeroshot", "coop", "cocoop", "kgcoop", "clip-adapter", "tip-adapter", "tip-adapter-f", "linear-probe"}) {
            const auto& info = findStrategy(name);
            QCOMPARE(info.name, std::string(name));
            resolveParams(info.schema, {});
        }
        const auto coop = resolveParams(findStrategy("coop").schema, {});
        QCOMPARE(coop["n_ctx"].get<int>(), 16);
        QCOMPARE(coop["ctx_init"].get<std::string>(), std::string());
        QCOMPARE(coop["class_token_position"].get<std::string>(), std::string("end"));
        QCOMPARE(coop["csc"].get<bool>(), false);
        QCOMPARE(resolveParams(findStrategy("kgcoop").schema, {})["lambda"].get<double>(), 8.0);
        QCOMPARE(resolveParams(findStrategy("cocoop").schema, {})["ctx_init"].get<std::string>(), std::string("a photo of a"));
        QVERIFY_THROWS_EXCEPTION(Error, resolveParams(findStrategy("coop").schema, {{"class_token_position", "left"}}));
        // Vision-only models are refused with a message.
        Checkpoint timm{test::tinyTimmSpec(), test::randomWeights(test::tinyTimmSpec(), 2)};
        QVERIFY_THROWS_EXCEPTION(Error, attached("coop", buildModel(timm)));
    }

    // What StrategyInfo says a strategy is matches what it does once attached: the views and the experiment
    // layer rely on the capabilities instead of names.
    void capabilitiesMatchWhatEachStrategyDoes()
    {
        int promptLearners = 0;
        for (const StrategyInfo& info : strategyRegistry()) {
            const StrategyCapabilities& can = info.capabilities;
            const char* name = info.name.c_str();
            QVERIFY2(can.needsTextTower == (info.family == StrategyFamily::PromptLearning), name);
            if (!can.needsTextTower) {
                QVERIFY2(!can.learnsPromptContext && !can.imageConditioned && !can.validationTuned, name);
                continue;
            }
            QVERIFY2(!can.imageConditioned || can.learnsPromptContext, name);
            auto strategy = attached(info.name, tinyModel());
            auto* clip = dynamic_cast<ClipStrategy*>(strategy.get());
            QVERIFY2(clip, name);  // the prompt export and the hand-crafted comparison need one
            QVERIFY2(clip->contextVectors().defined() == can.learnsPromptContext, name);
            QVERIFY2(can.usesTrainingImages || !strategy->needsTraining(), name);  // zero-shot: nothing to train
            promptLearners += can.learnsPromptContext ? 1 : 0;
        }
        QVERIFY(promptLearners >= 3);  // CoOp, CoCoOp, KgCoOp at least
        QVERIFY(findStrategy("kgcoop").capabilities.learnsPromptContext);
        QVERIFY(findStrategy("cocoop").capabilities.imageConditioned);
        QVERIFY(!findStrategy("zeroshot").capabilities.comparesWithHandcrafted());
    }
};

QTEST_APPLESS_MAIN(TestPromptLearning)
#include "tst_prompt_learning.moc"
