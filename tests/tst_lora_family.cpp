// SPDX-License-Identifier: GPL-3.0-or-later
// LoRA, DoRA, AdaptFormer and SSF on a ViT (issue 31), beyond what tst_petl checks for every classic method:
// the update against a hand computation, DoRA's magnitude and direction, dropout only in training, the
// merged weights computing what the hooks compute, AdaptFormer reading the residual stream, option errors;
// and CLIP-LoRA on both of CLIP's towers.
#include "core/Error.h"
#include "core/io/CheckpointLoader.h"
#include "core/tuning/LowRank.h"
#include "core/tuning/Strategy.h"
#include "core/tuning/classic/ClassicPetlStrategy.h"
#include "core/tuning/classic/LoraTuning.h"
#include "core/tuning/classic/SsfTuning.h"
#include "core/tuning/prompt/ClipLoraStrategy.h"
#include "core/io/ClipTokenizer.h"
#include "tests/ClipVocabulary.h"
#include "tests/ErrorOf.h"
#include "tests/ModelFixtures.h"

#include <QtTest>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

using namespace tunebench;
using nlohmann::json;

namespace {

ClipModel tinyModel(int seed)
{
    const ModelSpec spec = test::tinyTimmSpec();
    ClipModel model(spec);
    loadWeightsStrict(*model, test::randomWeights(spec, seed), "fixture");
    return model;
}

std::unique_ptr<Strategy> attached(const std::string& name, ClipModel model, const json& options = json::object())
{
    const StrategyInfo& info = findStrategy(name);
    auto strategy = info.create();
    TaskSetup setup;
    setup.classNames = {"a", "b", "c"};
    strategy->attach(model, setup, resolveParams(info.schema, options));
    return strategy;
}

// Moves every tensor of the method's own module off its initial value (B and the magnitudes included), so
// that an update that is dropped or applied twice shows.
void perturbMethod(ClassicPetlStrategy& strategy, const std::string& prefix)
{
    StateDict state = strategy.trainableState();
    torch::manual_seed(5);
    for (auto& [key, tensor] : state)
        if (key.rfind(prefix, 0) == 0)
            tensor = tensor + 0.05 * torch::randn_like(tensor);
    strategy.loadTrainableState(state);
}

bool mentions(const std::string& message, const std::string& part)
{
    if (message.find(part) != std::string::npos)
        return true;
    qWarning("\"%s\" does not mention \"%s\"", message.c_str(), part.c_str());
    return false;
}

// Moves every trainable tensor of a strategy off its initial value.
void perturbAll(Strategy& strategy)
{
    torch::manual_seed(9);
    torch::NoGradGuard noGrad;
    for (auto& p : strategy.trainableParameters())
        p.add_(0.05 * torch::randn_like(p));
}

double maxDifference(const torch::Tensor& a, const torch::Tensor& b)
{
    return (a - b).abs().max().item<double>();
}

// ln_post([CLS]) of a model run without any hooks.
torch::Tensor plainFeatures(ClipModel& model, const torch::Tensor& images)
{
    torch::NoGradGuard noGrad;
    auto& visual = model->visual;
    return visual->ln_post(visual->transformer(visual->embed(images), false).select(1, 0));
}

} // namespace

class TestLoraFamily : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() { torch::set_num_threads(2); }

    void loraUpdatesOnlyTheTargetedRows()
    {
        TransformerImpl tower(test::tinyTimmSpec().vision);
        const TowerSpec& spec = test::tinyTimmSpec().vision;
        LowRankOptions options;
        options.targets = {"q", "v"};
        options.rank = 2;
        options.alpha = 3;
        LowRankAdapters adapters(spec, options, tower);
        StateDict named;
        for (const auto& item : adapters->named_parameters(true))
            named[item.key()] = item.value();
        QCOMPARE(named.size(), std::size_t(4 * spec.layers));
        QCOMPARE(named.at("0.q.lora_A").sizes().vec(), (std::vector<int64_t>{2, spec.width}));
        QCOMPARE(named.at("0.v.lora_B").sizes().vec(), (std::vector<int64_t>{spec.width, 2}));
        QCOMPARE(named.at("0.q.lora_B").abs().sum().item<double>(), 0.0);  // starts as the pre-trained tower
        {
            torch::NoGradGuard noGrad;
            named.at("0.q.lora_B").normal_();
            named.at("0.v.lora_B").normal_();
        }
        const auto& weight = tower.block(0)->attn->in_proj_weight;
        const auto& bias = tower.block(0)->attn->in_proj_bias;
        torch::manual_seed(3);
        const auto x = torch::randn({2, 5, spec.width});
        adapters->eval();
        const auto out = adapters->linear(0, BlockLayer::QkvProjection, x, weight, bias);
        // By hand: x W^T + b, plus (alpha / r) x A^T B^T in the q rows and in the v rows.
        const int64_t w = spec.width;
        auto expected = torch::linear(x, weight, bias).clone();
        for (const auto& [target, first] : {std::pair<std::string, int64_t>{"q", 0}, {"v", 2 * w}})
            expected.narrow(-1, first, w).add_(1.5 * torch::matmul(torch::matmul(x, named.at("0." + target + ".lora_A").t()),
                                                                  named.at("0." + target + ".lora_B").t()));
        QVERIFY2(maxDifference(out, expected) < 1e-5, qPrintable(QString::number(maxDifference(out, expected))));
        // The k rows are the pre-trained ones; other layers and the MLP are not touched.
        QVERIFY(torch::equal(out.narrow(-1, w, w), torch::linear(x, weight, bias).narrow(-1, w, w)));
        QVERIFY(!adapters->adapts(BlockLayer::MlpIn));

        // Dropout on the update's input only while training: two training calls differ, evaluation is exact.
        options.dropout = 0.5;
        LowRankAdapters dropped(spec, options, tower);
        {
            torch::NoGradGuard noGrad;
            for (auto& p : dropped->parameters())
                if (p.size(-1) == 2)
                    p.normal_();  // the B matrices
        }
        dropped->train();
        const auto first = dropped->linear(0, BlockLayer::QkvProjection, x, weight, bias);
        const auto second = dropped->linear(0, BlockLayer::QkvProjection, x, weight, bias);
        QVERIFY(!torch::allclose(first, second));
        QVERIFY(torch::equal(first.narrow(-1, w, w), second.narrow(-1, w, w)));  // no update, no dropout in k
        dropped->eval();
        QVERIFY(torch::allclose(dropped->linear(0, BlockLayer::QkvProjection, x, weight, bias),
                                torch::linear(x, dropped->effectiveWeight(0, BlockLayer::QkvProjection, weight), bias)));
    }

    void doraSplitsMagnitudeAndDirection()
    {
        TransformerImpl tower(test::tinyTimmSpec().vision);
        const TowerSpec& spec = test::tinyTimmSpec().vision;
        LowRankOptions options;
        options.targets = {"qkv", "fc2"};
        options.magnitude = true;
        LowRankAdapters adapters(spec, options, tower);
        StateDict named;
        for (const auto& item : adapters->named_parameters(true))
            named[item.key()] = item.value();
        const auto& weight = tower.block(1)->attn->in_proj_weight;
        // The magnitudes start at the norms of the pre-trained rows: the tower starts unchanged.
        QVERIFY(torch::allclose(named.at("1.qkv.magnitude"), weight.norm(2, {1})));
        QVERIFY(torch::allclose(adapters->effectiveWeight(1, BlockLayer::QkvProjection, weight), weight, 1e-6, 1e-6));
        torch::NoGradGuard noGrad;
        named.at("1.qkv.lora_B").normal_();
        named.at("1.qkv.magnitude").uniform_(0.5, 2.0);
        // Each adapted row has the learned magnitude as its norm and the updated weight's direction.
        const auto adapted = adapters->effectiveWeight(1, BlockLayer::QkvProjection, weight);
        QVERIFY(torch::allclose(adapted.norm(2, {1}), named.at("1.qkv.magnitude"), 1e-5, 1e-5));
        const auto direction = weight + options.scale() * torch::matmul(named.at("1.qkv.lora_B"), named.at("1.qkv.lora_A"));
        QVERIFY(torch::allclose(adapted / adapted.norm(2, {1}, true), direction / direction.norm(2, {1}, true), 1e-5, 1e-6));
    }

    void mergedWeightsComputeWhatTheHooksCompute_data()
    {
        QTest::addColumn<QString>("method");
        QTest::addColumn<QString>("targets");
        QTest::newRow("lora q,v") << "lora" << "q,v";
        QTest::newRow("lora k,o,fc1,fc2") << "lora" << "k,o,fc1,fc2";
        QTest::newRow("dora qkv") << "dora" << "qkv";
        QTest::newRow("dora v,fc1") << "dora" << "v,fc1";
        QTest::newRow("ssf") << "ssf" << "";
    }

    void mergedWeightsComputeWhatTheHooksCompute()
    {
        QFETCH(QString, method);
        QFETCH(QString, targets);
        const std::string name = method.toStdString();
        ClipModel model = tinyModel(21);
        const json options = targets.isEmpty() ? json::object() : json{{"targets", targets.toStdString()}};
        auto strategy = attached(name, model, options);
        auto& classic = dynamic_cast<ClassicPetlStrategy&>(*strategy);
        perturbMethod(classic, name == "ssf" ? "ssf." : "lora.");
        const StateDict merged = name == "ssf" ? dynamic_cast<SsfTuning&>(classic).mergedBackbone()
                                               : dynamic_cast<LoraTuning&>(classic).mergedBackbone();
        QVERIFY(!merged.empty());

        torch::manual_seed(8);
        const int side = model->spec().vision.imageSize;
        const auto images = torch::randn({3, 3, side, side});
        torch::Tensor hooked;
        {
            torch::NoGradGuard noGrad;
            classic.setTraining(false);
            hooked = classic.features(images);
        }
        ClipModel copy = copyModel(model);
        {
            torch::NoGradGuard noGrad;
            auto parameters = copy->named_parameters(true);
            for (const auto& [key, tensor] : merged)
                parameters[key].copy_(tensor);
        }
        const auto plain = plainFeatures(copy, images);
        QVERIFY2(maxDifference(hooked, plain) < 1e-5, qPrintable(QString::number(maxDifference(hooked, plain))));
        // And the perturbation changed the function: without the merge the features differ.
        QVERIFY(maxDifference(hooked, plainFeatures(model, images)) > 1e-3);
    }

    void adaptFormerReadsTheResidualStream()
    {
        // With an up-projection at zero the model is unchanged; with a non-zero one, the branch's output
        // differs from what the same adapter applied to ln_2's output would give.
        ClipModel model = tinyModel(4);
        auto strategy = attached("adaptformer", model, {{"dropout", 0.0}});
        auto& classic = dynamic_cast<ClassicPetlStrategy&>(*strategy);
        const int side = model->spec().vision.imageSize;
        torch::manual_seed(2);
        const auto images = torch::randn({2, 3, side, side});
        torch::NoGradGuard noGrad;
        QVERIFY(maxDifference(classic.features(images), plainFeatures(model, images)) < 1e-6);
        perturbMethod(classic, "adaptformer.");
        QVERIFY(maxDifference(classic.features(images), plainFeatures(model, images)) > 1e-4);

        // One block by hand: h + mlp(ln_2(h)) + 0.1 * up(relu(down(h))).
        auto block = model->visual->transformer->block(0);
        const auto h = torch::randn({2, 4, model->spec().vision.width});
        StateDict own = classic.trainableState();
        const auto adapter = torch::linear(torch::relu(torch::linear(h, own.at("adaptformer.0.down.weight"), own.at("adaptformer.0.down.bias"))),
                                           own.at("adaptformer.0.up.weight"), own.at("adaptformer.0.up.bias"));
        const auto mlpInput = block->ln_2(h);
        const auto hooked = classic.hooks()->afterMlp(0, block->mlp->forward(mlpInput), mlpInput, h);
        QVERIFY(torch::allclose(hooked, block->mlp->forward(mlpInput) + 0.1 * adapter, 1e-5, 1e-6));
    }

    void clipLoraAdaptsBothTowers()
    {
        Checkpoint checkpoint{test::tinyClipSpec(), test::randomWeights(test::tinyClipSpec(), 6)};
        ClipModel model = buildModel(checkpoint);
        const auto before = model->named_parameters(true);
        StateDict original;
        for (const auto& item : before)
            original[item.key()] = item.value().detach().clone();
        TaskSetup setup;
        setup.classNames = {"cat", "dog", "golden retriever"};
        setup.promptTemplate = "a photo of a {}.";
        setup.tokenizer = std::make_shared<const ClipTokenizer>(ClipTokenizer::load(test::demoVocabularyPath()));
        auto lora = findStrategy("clip-lora").create();
        lora->attach(model, setup, json::object());
        auto zeroShot = findStrategy("zeroshot").create();
        zeroShot->attach(model, setup, json::object());
        auto& clip = dynamic_cast<ClipLoraStrategy&>(*lora);

        // Rank 2 on q, k and v of every block of both towers: 3 x 2 x (r x width) per block.
        const ModelSpec& spec = model->spec();
        QCOMPARE(lora->trainableParameterCount(),
                 std::int64_t(3 * 2 * 2 * (spec.vision.layers * spec.vision.width + spec.text->layers * spec.text->width)));
        const auto config = lora->defaultTrainerConfig(16);
        QCOMPARE(config.optimizer, std::string("adamw"));
        QCOMPARE(config.epochs * 2, 500 * 16);  // 48 images: 2 steps of 32 per epoch, 8,000 steps
        const int side = spec.vision.imageSize;
        torch::manual_seed(4);
        const auto images = torch::randn({4, 3, side, side});
        // B at zero: the hand-crafted prompt's zero-shot classifier.
        QVERIFY(torch::allclose(lora->logits(images), zeroShot->logits(images), 1e-4, 1e-5));

        // One step reaches only the updates: B first (A sits behind B's zeros), the backbone never.
        lora->setTraining(true);
        auto out = lora->trainStep({images, torch::tensor({0, 1, 2, 1}), {}});
        out.loss.backward();
        std::int64_t reached = 0;
        for (const auto& [name, tensor] : clip.trainableState())
            reached += name.find("lora_B") != std::string::npos;
        std::int64_t nonZero = 0;
        for (const auto& p : lora->trainableParameters())
            nonZero += p.grad().defined() && p.grad().abs().sum().item<double>() > 0;
        QCOMPARE(nonZero, reached);
        for (const auto& item : model->named_parameters(true))
            QVERIFY2(!item.value().grad().defined() && torch::equal(item.value(), original.at(item.key())), item.key().c_str());
        lora->setTraining(false);

        // Moved updates change the scores; merged into a copy, the zero-shot classifier gives them.
        perturbAll(*lora);
        const auto tuned = lora->logits(images);
        QVERIFY(maxDifference(tuned, zeroShot->logits(images)) > 1e-3);
        ClipModel merged = copyModel(model);
        {
            torch::NoGradGuard noGrad;
            auto parameters = merged->named_parameters(true);
            const StateDict weights = clip.mergedWeights();
            QVERIFY(std::any_of(weights.begin(), weights.end(), [](const auto& w) { return w.first.rfind("visual.", 0) == 0; }));
            QVERIFY(std::any_of(weights.begin(), weights.end(), [](const auto& w) { return w.first.rfind("text.transformer.", 0) == 0; }));
            for (const auto& [key, tensor] : weights)
                parameters[key].copy_(tensor);
        }
        auto mergedZeroShot = findStrategy("zeroshot").create();
        mergedZeroShot->attach(merged, setup, json::object());
        QVERIFY2(maxDifference(tuned, mergedZeroShot->logits(images)) < 1e-4,
                 qPrintable(QString::number(maxDifference(tuned, mergedZeroShot->logits(images)))));

        // New classes (base-to-new): their prompts go through the adapted text tower.
        lora->setClasses({"bird", "car"});
        QCOMPARE(lora->logits(images).size(1), int64_t(2));
        // A ResNet image tower is refused by name.
        QVERIFY(mentions(strategyRefusal(findStrategy("clip-lora"), test::tinyResNetClipSpec()), "CLIP-LoRA needs a ViT image tower"));
    }

    void optionErrorsNameTheOption()
    {
        ClipModel model = tinyModel(1);
        QVERIFY(mentions(test::errorOf([&] { attached("lora", model, {{"targets", "q,x"}}); }), "option 'targets': unknown target 'x'"));
        QVERIFY(mentions(test::errorOf([&] { attached("lora", model, {{"targets", "qkv,v"}}); }), "qkv already covers q, k and v"));
        QVERIFY(mentions(test::errorOf([&] { attached("dora", model, {{"targets", "q,q"}}); }), "target 'q' is named twice"));
        QVERIFY(mentions(test::errorOf([&] { attached("lora", model, {{"rank", 0}}); }), "rank"));
    }
};

QTEST_GUILESS_MAIN(TestLoraFamily)
#include "tst_lora_family.moc"
