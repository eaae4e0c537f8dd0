// The classic PETL strategies of the VPT paper: which tensors train, that nothing else moves, the
// parameter counts on a ViT-B/16 geometry (methods.md 1.10, 1.12), both backbones end to end, VPT-deep's
// prompt replacement, the adapter's zero init, and the `params` command.
#include "core/Error.h"
#include "core/io/CheckpointLoader.h"
#include "core/io/CheckpointWriter.h"
#include "core/train/Evaluator.h"
#include "core/tuning/ParameterBudget.h"
#include "core/tuning/classic/AdapterTuning.h"
#include "core/tuning/classic/ClassicPetlStrategy.h"
#include "core/tuning/classic/SideTuning.h"
#include "core/tuning/classic/VisualPromptTuning.h"
#include "tests/ModelFixtures.h"
#include "tests/ShadesDataset.h"

#include <QtTest>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <random>
#include <set>

using namespace tunebench;
using nlohmann::json;

namespace {

constexpr int kClasses = 3;

ClipModel modelFromWeights(const ModelSpec& spec, int seed)
{
    ClipModel model(spec);
    loadWeightsStrict(*model, test::randomWeights(spec, seed), "fixture");
    return model;
}

std::map<std::string, torch::Tensor> snapshot(const ClipModel& model)
{
    std::map<std::string, torch::Tensor> out;
    for (const auto& item : model->named_parameters(true))
        out[item.key()] = item.value().detach().clone();
    return out;
}

std::unique_ptr<Strategy> attached(const std::string& name, ClipModel model, const json& options = json::object(),
                                   int classes = kClasses)
{
    const StrategyInfo& info = findStrategy(name);
    auto strategy = info.create();
    TaskSetup setup;
    for (int i = 0; i < classes; ++i)
        setup.classNames.push_back("class " + std::to_string(i));
    strategy->attach(model, setup, resolveParams(info.schema, options));
    return strategy;
}

ClassicPetlStrategy& classic(Strategy& strategy)
{
    auto* out = dynamic_cast<ClassicPetlStrategy*>(&strategy);
    if (!out)
        throw std::runtime_error(strategy.name() + " is not a classic PETL strategy");
    return *out;
}

// Three classes that differ by a brightness offset in one colour channel, so a head can learn them.
std::pair<torch::Tensor, torch::Tensor> toyImages(int perClass, int side, int seed)
{
    torch::manual_seed(seed);
    auto images = torch::randn({kClasses * perClass, 3, side, side}) * 0.5;
    auto labels = torch::arange(kClasses).repeat_interleave(perClass);
    for (int64_t i = 0; i < images.size(0); ++i)
        images[i][labels[i].item<int64_t>()] += 1.5;
    return {images, labels};
}

bool isTrainableName(const std::string& strategy, const std::string& name, int layers)
{
    if (name.rfind("visual.", 0) != 0)
        return true;  // head.*, prompt.*, adapters.*, side.*
    if (strategy == "full")
        return name != "visual.proj";
    if (strategy == "bias")
        return name.find("bias") != std::string::npos;
    if (strategy == "partial-1")
        return name.rfind("visual.ln_post.", 0) == 0 ||
               name.rfind("visual.transformer.resblocks." + std::to_string(layers - 1) + ".", 0) == 0;
    return false;
}

std::set<std::string> methodPrefixes(const std::string& strategy)
{
    if (strategy == "adapter")
        return {"adapters."};
    if (strategy == "vpt-shallow" || strategy == "vpt-deep")
        return {"prompt."};
    if (strategy == "sidetune")
        return {"side."};
    if (strategy == "lora" || strategy == "dora")
        return {"lora."};
    if (strategy == "adaptformer")
        return {"adaptformer."};
    if (strategy == "ssf")
        return {"ssf."};
    return {};
}

// The binary built with the tests; $TUNEBENCH_CLI points elsewhere (a build in another folder).
QString cliPath()
{
    return qEnvironmentVariable("TUNEBENCH_CLI", QStringLiteral(TUNEBENCH_CLI_PATH));
}

// Observes the token sequence each block receives, delegating to the strategy's own hooks.
class TokenRecorder : public TransformerHooks
{
public:
    explicit TokenRecorder(TransformerHooks* inner) : m_inner(inner) {}
    torch::Tensor beforeBlock(int layer, const torch::Tensor& tokens) override
    {
        auto out = m_inner ? m_inner->beforeBlock(layer, tokens) : tokens;
        blockInputs.push_back(out.detach().clone());
        return out;
    }
    torch::Tensor afterMlp(int layer, const torch::Tensor& mlpOutput, const torch::Tensor& mlpInput, const torch::Tensor& stream) override
    {
        return m_inner ? m_inner->afterMlp(layer, mlpOutput, mlpInput, stream) : mlpOutput;
    }
    bool adaptsLayers() const override { return m_inner && m_inner->adaptsLayers(); }
    torch::Tensor linear(int layer, BlockLayer which, const torch::Tensor& input, const torch::Tensor& weight,
                         const torch::Tensor& bias) override
    {
        return m_inner ? m_inner->linear(layer, which, input, weight, bias) : TransformerHooks::linear(layer, which, input, weight, bias);
    }
    torch::Tensor afterNorm(int layer, BlockLayer which, const torch::Tensor& output) override
    {
        return m_inner ? m_inner->afterNorm(layer, which, output) : output;
    }
    std::vector<torch::Tensor> blockInputs;

private:
    TransformerHooks* m_inner;
};

} // namespace

class TestPetl : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        torch::set_num_threads(2);
        QVERIFY(m_dir.isValid());
    }

    void registryHasTheNineStrategies()
    {
        for (const std::string name : {"full", "linear", "partial", "mlp", "sidetune", "bias", "adapter", "vpt-shallow", "vpt-deep"}) {
            const StrategyInfo& info = findStrategy(name);
            QCOMPARE(info.name, name);
            QVERIFY(info.family == StrategyFamily::ClassicPetl);
            QCOMPARE(info.create()->name(), name);
        }
        // The paper's names select the k option's default.
        const StrategyInfo& partial2 = findStrategy("partial-2");
        QCOMPARE(partial2.name, std::string("partial-2"));
        QCOMPARE(partial2.title, std::string("Partial-2"));
        QCOMPARE(resolveParams(partial2.schema, json::object())["k"].get<int>(), 2);
        QCOMPARE(resolveParams(findStrategy("mlp-3").schema, json::object())["k"].get<int>(), 3);
        QCOMPARE(&findStrategy("mlp-3"), &findStrategy("mlp-3"));
        // Also when a caller passes its options unresolved to attach().
        {
            auto strategy = findStrategy("mlp-2").create();
            TaskSetup setup;
            setup.classNames = {"a", "b"};
            strategy->attach(ClipModel(test::tinyTimmSpec()), setup, json::object());
            QCOMPARE(classic(*strategy).head()->hiddenLayers(), 1);
            QCOMPARE(classic(*strategy).params()["k"].get<int>(), 2);
        }
        bool threw = false;
        try {
            findStrategy("bias-2");  // bias has no k option
        } catch (const Error& e) {
            threw = std::string(e.what()).find("bias-2") != std::string::npos;
        }
        QVERIFY(threw);
    }

    void trainsExactlyWhatTheRecipeTrains_data()
    {
        QTest::addColumn<QString>("strategy");
        for (const char* name : {"full", "linear", "partial-1", "mlp-3", "sidetune", "bias", "adapter", "vpt-shallow", "vpt-deep",
                                 "lora", "dora", "adaptformer", "ssf"})
            QTest::newRow(name) << QString(name);
    }

    void trainsExactlyWhatTheRecipeTrains()
    {
        QFETCH(QString, strategy);
        const std::string name = strategy.toStdString();
        const ModelSpec spec = test::tinyTimmSpec();
        ClipModel callerModel = modelFromWeights(spec, 11);
        const auto before = snapshot(callerModel);
        json options = json::object();
        if (name == "vpt-shallow" || name == "vpt-deep")
            options = {{"prompt_tokens", 3}};
        auto strategyPtr = attached(name, callerModel, options);
        ClassicPetlStrategy& s = classic(*strategyPtr);

        // The trainable set, by name.
        const StateDict state = s.trainableState();
        std::set<std::string> trainable;
        for (const auto& [key, tensor] : state)
            trainable.insert(key);
        std::int64_t expectedBackbone = 0, foundBackbone = 0;
        for (const auto& item : s.model()->named_parameters(true)) {
            const bool expected = item.key().rfind("visual.", 0) == 0 && isTrainableName(name, item.key(), spec.vision.layers);
            QVERIFY2(expected == (trainable.count(item.key()) > 0), item.key().c_str());
            QCOMPARE(item.value().requires_grad(), expected);
            expectedBackbone += expected ? 1 : 0;
        }
        for (const auto& key : trainable) {
            if (key.rfind("visual.", 0) == 0) {
                ++foundBackbone;
                continue;
            }
            bool known = key.rfind("head.", 0) == 0;
            for (const auto& prefix : methodPrefixes(name))
                known = known || key.rfind(prefix, 0) == 0;
            QVERIFY2(known, key.c_str());
        }
        QCOMPARE(foundBackbone, expectedBackbone);
        if (name == "full" || name == "partial-1" || name == "bias")
            QVERIFY(expectedBackbone > 0);
        else
            QCOMPARE(expectedBackbone, std::int64_t(0));
        if (!methodPrefixes(name).empty())
            QVERIFY(std::any_of(trainable.begin(), trainable.end(),
                                [&](const std::string& k) { return k.rfind(*methodPrefixes(name).begin(), 0) == 0; }));

        // One step by hand: which tensors receive a gradient.
        auto [images, labels] = toyImages(4, spec.vision.imageSize, 3);
        s.setTraining(true);
        auto out = s.trainStep({images, labels, {}});
        QCOMPARE(out.logits.sizes(), (torch::IntArrayRef{images.size(0), kClasses}));
        out.loss.backward();
        std::map<std::string, torch::Tensor> gradients;
        for (const auto& item : s.model()->named_parameters(true)) {
            if (!item.value().requires_grad())
                QVERIFY2(!item.value().grad().defined(), item.key().c_str());
            else
                gradients[item.key()] = item.value().grad();
        }
        for (const auto& p : s.trainableParameters())
            QVERIFY(p.grad().defined());
        // Every trainable tensor gets a non-zero gradient, except the reference adapter's quirk: with
        // both Linears at zero only the up-projection bias (and the head) can; and behind a zero matrix
        // (LoRA's B, AdaptFormer's up-projection) the first step reaches nothing.
        std::int64_t nonZero = 0, zero = 0;
        for (const auto& p : s.trainableParameters())
            (p.grad().abs().sum().item<double>() > 0 ? nonZero : zero) += 1;
        std::int64_t behindZero = 0;
        for (const auto& item : state) {
            const std::string& key = item.first;
            behindZero += ((name == "lora" || name == "dora") && key.find(".lora_A") != std::string::npos) ||
                          (name == "adaptformer" && key.find(".down.") != std::string::npos);
        }
        for (const auto& [key, g] : gradients)
            QVERIFY2(g.abs().sum().item<double>() > 0, key.c_str());
        if (name == "adapter") {
            // head (2) + per layer up.bias (2) non-zero; down.weight, down.bias, up.weight zero (3 x 2).
            QCOMPARE(nonZero, std::int64_t(2 + spec.vision.layers));
            QCOMPARE(zero, std::int64_t(3 * spec.vision.layers));
        } else {
            QCOMPARE(zero, behindZero);
        }
        for (auto& p : s.trainableParameters())
            p.mutable_grad() = torch::Tensor();

        // A few steps through the trainer: frozen tensors stay bit-identical, trained ones move.
        TrainerConfig config = s.defaultTrainerConfig(4);
        config.epochs = 2;
        config.warmupEpochs = 0;
        config.lr = config.optimizer == "adamw" ? 1e-3 : 0.05;
        TensorBatchSource data(images, labels, 6, true, 1);
        const TrainResult result = Trainer(config).fit(s, data);
        QVERIFY(result.status == TrainResult::Status::Finished);
        QCOMPARE(result.steps, std::int64_t(4));
        const StateDict after = s.trainableState();
        for (const auto& item : s.model()->named_parameters(true)) {
            const auto& original = before.at(item.key());
            if (trainable.count(item.key()))
                QVERIFY2(!torch::equal(item.value(), original), item.key().c_str());
            else
                QVERIFY2(torch::equal(item.value(), original), item.key().c_str());
        }
        for (const auto& [key, tensor] : after) {
            if (key.rfind("visual.", 0) == 0 || key.find("running_") != std::string::npos || key.find("num_batches") != std::string::npos)
                continue;
            const bool stuckAtZero = name == "adapter" && key.find("up.bias") == std::string::npos && key.rfind("adapters.", 0) == 0;
            if (stuckAtZero)
                QVERIFY2(tensor.abs().sum().item<double>() == 0, key.c_str());
            else
                QVERIFY2(!torch::equal(tensor, state.at(key)), key.c_str());
        }
        // The caller's model is untouched, also by the strategies that train backbone weights.
        for (const auto& item : callerModel->named_parameters(true))
            QVERIFY2(torch::equal(item.value(), before.at(item.key())), item.key().c_str());
        QCOMPARE(callerModel.ptr() == s.model().ptr(), name != "full" && name != "partial-1" && name != "bias");
    }

    void vitB16ParameterCounts()
    {
        // Random weights in the timm ViT-B/16 geometry; attach only (no forward pass at 224).
        ClipModel model(modelGeometry("vit-b16"));
        const int classes = 100;
        const std::int64_t head = 768 * classes + classes;
        const std::int64_t backbone = 85'798'656;
        const std::map<std::string, std::pair<json, std::int64_t>> expected = {
            {"linear", {json::object(), 0}},
            {"mlp-3", {json::object(), 2 * 592'128}},
            {"partial-1", {json::object(), 7'089'408}},
            {"partial-4", {json::object(), 28'353'024}},
            {"bias", {json::object(), 102'912}},
            {"adapter", {json::object(), 1'779'840}},
            {"vpt-shallow", {{{"prompt_tokens", 10}}, 7'680}},
            {"vpt-deep", {{{"prompt_tokens", 10}}, 92'160}},
            {"sidetune", {json::object(), 1'667'649}},
            {"full", {json::object(), backbone}},
            // methods-3.md §2: LoRA r = 8 on q and v, 2 x (768 x 8 + 8 x 768) per block; PEFT's form on the
            // packed qkv, 768 x 8 + 8 x 2304, is as many; DoRA adds a magnitude per adapted row (2 x 768).
            {"lora", {json::object(), 294'912}},
            {"lora-qkv", {{{"targets", "qkv"}}, 294'912}},
            {"dora", {json::object(), 294'912 + 12 * 2 * 768}},
            // (768 x 64 + 64) + (64 x 768 + 768) per block.
            {"adaptformer", {json::object(), 1'189'632}},
            // Per block a scale and a shift for ln_1 (768), qkv (2304), proj (768), ln_2 (768), fc1 (3072),
            // fc2 (768); then ln_post's pair.
            {"ssf", {json::object(), 12 * 2 * (768 + 2304 + 768 + 768 + 3072 + 768) + 2 * 768}},
        };
        for (const auto& [row, item] : expected) {
            const std::string name = row == "lora-qkv" ? "lora" : row;
            auto strategy = attached(name, model, item.first, classes);
            const ParameterBudget budget = parameterBudget(*strategy, model, 24);
            QVERIFY2(budget.trainable == item.second + head,
                     qPrintable(QString::fromStdString(name) + ": " + QString::number(budget.trainable)));
            QCOMPARE(budget.backbone, backbone);
            const double shared = name == "full" ? 0.0 : double(backbone);
            QVERIFY(std::abs(budget.multiplier - (shared + 24.0 * double(item.second + head)) / double(backbone)) < 1e-12);
        }
        // The table's anchors that do not depend on per-task choices: Full 24.02x (24 backbones + heads,
        // no shared copy), Partial-1 3.00x and Linear 1.02x with about 100 classes per task.
        auto full = attached("full", model, json::object(), classes);
        QCOMPARE(QString::number(parameterBudget(*full, model, 24).multiplier, 'f', 2), QString("24.02"));
        auto partial = attached("partial-1", model, json::object(), classes);
        QCOMPARE(QString::number(parameterBudget(*partial, model, 24).multiplier, 'f', 2), QString("3.00"));
        auto linear = attached("linear", model, json::object(), classes);
        QCOMPARE(QString::number(parameterBudget(*linear, model, 24).multiplier, 'f', 2), QString("1.02"));

        // VPT's init bound v = sqrt(6 / (3 * 16^2 + 768)) = 0.0625 and the head's init.
        QCOMPARE(VisualPromptTuning::initBound(16, 768), 0.0625);
        auto deep = attached("vpt-deep", model, {{"prompt_tokens", 10}}, classes);
        auto prompts = dynamic_cast<VisualPromptTuning&>(*deep).prompts();
        QCOMPARE(prompts.sizes(), (torch::IntArrayRef{12, 10, 768}));
        QVERIFY(prompts.abs().max().item<double>() <= 0.0625);
        QVERIFY(prompts.abs().max().item<double>() > 0.06);
        VptHead vptHead = classic(*deep).head();
        QVERIFY(torch::allclose(vptHead->last_layer->bias, torch::full({classes}, -std::log(99.0))));
        // Kaiming normal, fan-out: std = sqrt(2 / classes).
        const double std = vptHead->last_layer->weight.std().item<double>();
        QVERIFY2(std::abs(std - std::sqrt(2.0 / classes)) < 0.01 * std::sqrt(2.0 / classes) * 5, qPrintable(QString::number(std)));
    }

    void timmCheckpointEndToEnd()
    {
        const ModelSpec spec = test::tinyTimmSpec();
        const std::string path = (m_dir.path() + "/tiny-timm.safetensors").toStdString();
        writeTimmSafetensors(test::randomWeights(spec, 21), path);
        ClipModel model = loadModel(path);
        QVERIFY(model->spec().family == ModelSpec::Family::Vit);

        auto [images, labels] = toyImages(8, spec.vision.imageSize, 5);
        // The head sees exactly the tower's own pooled feature (timm: no projection).
        auto linear = attached("linear", model);
        {
            torch::NoGradGuard noGrad;
            QVERIFY(torch::equal(classic(*linear).features(images), model->visual(images)));
        }

        auto strategy = attached("vpt-deep", model, {{"prompt_tokens", 4}, {"prompt_dropout", 0.1}});
        TrainerConfig config = strategy->defaultTrainerConfig(8);
        QCOMPARE(config.optimizer, std::string("sgd"));
        QCOMPARE(config.weightDecay, 1e-4);
        QCOMPARE(config.warmupEpochs, 10);
        QCOMPARE(config.epochs, 100);
        config.epochs = 8;
        config.warmupEpochs = 0;
        config.lr = 0.1;
        std::vector<double> losses;
        TrainerCallbacks callbacks;
        callbacks.onEpoch = [&](const EpochReport& report) { losses.push_back(report.loss); };
        TensorBatchSource train(images, labels, 8, true, 2);
        const TrainResult result = Trainer(config).fit(*strategy, train, callbacks);
        QVERIFY(result.status == TrainResult::Status::Finished);
        QCOMPARE(int(losses.size()), 8);
        QVERIFY2(losses.back() < 0.7 * losses.front(), qPrintable(QString::number(losses.front()) + " -> " + QString::number(losses.back())));

        TensorBatchSource test(images, labels, 16, false);
        const Evaluation evaluation =
            evaluate([&](const at::Tensor& x) { return strategy->logits(x); }, test, kClasses);
        QCOMPARE(evaluation.n, images.size(0));
        QVERIFY2(evaluation.accuracy > 0.6, qPrintable(QString::number(evaluation.accuracy)));
        // Evaluation is deterministic: dropout off, whatever mode training left behind.
        QVERIFY(torch::equal(strategy->logits(images), strategy->logits(images)));
    }

    void clipImageTowerEndToEnd()
    {
        const ModelSpec spec = test::tinyClipSpec();
        ClipModel model = modelFromWeights(spec, 31);
        auto [images, labels] = toyImages(4, spec.vision.imageSize, 7);
        for (const std::string name : {"adapter", "mlp-3", "vpt-shallow"}) {
            auto strategy = attached(name, model);
            auto& s = classic(*strategy);
            {
                torch::NoGradGuard noGrad;
                // The feature is the tower's width (128), before CLIP's projection (48).
                QCOMPARE(s.features(images).sizes(), (torch::IntArrayRef{images.size(0), spec.vision.width}));
            }
            // CLIP's projection and text tower are not part of the backbone.
            std::int64_t visualWithoutProjection = 0;
            for (const auto& item : model->named_parameters(true))
                if (item.key().rfind("visual.", 0) == 0 && item.key() != "visual.proj")
                    visualWithoutProjection += item.value().numel();
            QCOMPARE(s.backboneParameterCount(), visualWithoutProjection);

            TrainerConfig config = strategy->defaultTrainerConfig(4);
            config.epochs = 2;
            config.warmupEpochs = 0;
            TensorBatchSource train(images, labels, 4, true, 3);
            QVERIFY(Trainer(config).fit(*strategy, train).status == TrainResult::Status::Finished);
            const auto logits = strategy->logits(images);
            QCOMPARE(logits.sizes(), (torch::IntArrayRef{images.size(0), kClasses}));

            // The trained state restores into a fresh attach, with the same outputs.
            const StateDict state = strategy->trainableState();
            auto restored = attached(name, model);
            restored->loadTrainableState(state);
            QVERIFY(torch::equal(restored->logits(images), logits));
            const json manifest = strategy->exportManifest();
            QCOMPARE(manifest["method"].get<std::string>(), name.substr(0, name.find("-3")));
            QCOMPARE(manifest["trainable_parameters"].get<std::int64_t>(), strategy->trainableParameterCount());
            QCOMPARE(strategy->exportTensors().size(), state.size());
        }
    }

    void loadingAWrongStateNamesTheTensor()
    {
        ClipModel model = modelFromWeights(test::tinyTimmSpec(), 41);
        auto strategy = attached("adapter", model);
        StateDict state = strategy->trainableState();
        state["head.last_layer.weight"] = torch::zeros({2, 2});
        try {
            strategy->loadTrainableState(state);
            QFAIL("a wrong shape was accepted");
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find("head.last_layer.weight") != std::string::npos, e.what());
        }
    }

    void vptDeepReplacesPromptsAtEveryLayer()
    {
        const ModelSpec spec = test::tinyTimmSpec();
        ClipModel model = modelFromWeights(spec, 51);
        const int p = 3;
        const int64_t patches = spec.vision.gridSize() * spec.vision.gridSize();
        auto [images, labels] = toyImages(1, spec.vision.imageSize, 9);
        for (const bool deep : {true, false}) {
            auto strategy = attached(deep ? "vpt-deep" : "vpt-shallow", model, {{"prompt_tokens", p}});
            auto& s = classic(*strategy);
            s.setTraining(false);
            TokenRecorder recorder(s.hooks());
            torch::NoGradGuard noGrad;
            auto embedded = model->visual->embed(images);
            model->visual->transformer(embedded, false, &recorder);
            const auto prompts = dynamic_cast<VisualPromptTuning&>(*strategy).prompts();
            QCOMPARE(int(recorder.blockInputs.size()), spec.vision.layers);
            for (int layer = 0; layer < spec.vision.layers; ++layer) {
                const auto& tokens = recorder.blockInputs[layer];
                QCOMPARE(tokens.size(1), 1 + p + patches);
                const auto promptSlots = tokens.narrow(1, 1, p);
                const bool isFreshPrompt = torch::equal(promptSlots, prompts[deep ? layer : 0].unsqueeze(0).expand_as(promptSlots));
                // Deep: every block gets its own fresh prompts; shallow: only block 0.
                QCOMPARE(isFreshPrompt, deep || layer == 0);
                if (layer == 0) {
                    QVERIFY(torch::equal(tokens.narrow(1, 0, 1), embedded.narrow(1, 0, 1)));
                    QVERIFY(torch::equal(tokens.narrow(1, 1 + p, patches), embedded.narrow(1, 1, patches)));
                }
            }
        }
    }

    void adapterZeroInitLeavesOutputsUnchanged()
    {
        for (const ModelSpec& spec : {test::tinyTimmSpec(), test::tinyClipSpec()}) {
            ClipModel model = modelFromWeights(spec, 61);
            auto [images, labels] = toyImages(2, spec.vision.imageSize, 11);
            auto adapter = attached("adapter", model, {{"reduction", 4}});
            torch::NoGradGuard noGrad;
            auto plain = model->visual->ln_post(model->visual->transformer(model->visual->embed(images), false).select(1, 0));
            QVERIFY(torch::equal(classic(*adapter).features(images), plain));
            // The other init really changes nothing either at step 0 (up-projection at zero) ...
            auto randomDown = attached("adapter", model, {{"init", "random-down"}});
            QVERIFY(torch::equal(classic(*randomDown).features(images), plain));
        }
        // ... but the adapter is in the forward pass: a non-zero up-projection bias moves the feature.
        ClipModel model = modelFromWeights(test::tinyTimmSpec(), 62);
        auto adapter = attached("adapter", model);
        auto [images, labels] = toyImages(1, 32, 12);
        torch::NoGradGuard noGrad;
        const auto before = classic(*adapter).features(images);
        StateDict state = adapter->trainableState();
        state["adapters.1.up.bias"] = torch::full({128}, 0.5);
        adapter->loadTrainableState(state);
        QVERIFY(!torch::equal(classic(*adapter).features(images), before));
    }

    void sidetuneBlendsHalfAndHalfAtInit()
    {
        ClipModel model = modelFromWeights(test::tinyTimmSpec(), 71);
        auto strategy = attached("sidetune", model);
        QCOMPARE(dynamic_cast<SideTuning&>(*strategy).blendWeight(), 0.5);
    }

    void headsCannotTakeNewClasses()
    {
        ClipModel model = modelFromWeights(test::tinyTimmSpec(), 81);
        for (const std::string name : {"linear", "vpt-deep"}) {
            auto strategy = attached(name, model);
            bool threw = false;
            try {
                strategy->setClasses({"a", "b", "c", "d"});
            } catch (const Error& e) {
                threw = std::string(e.what()).find("cannot take new") != std::string::npos;
            }
            QVERIFY(threw);
        }
        bool threw = false;
        try {
            attached("partial", model, {{"k", 5}});  // the tiny model has 2 blocks
        } catch (const Error& e) {
            threw = std::string(e.what()).find("'k'") != std::string::npos;
        }
        QVERIFY(threw);
    }

    void paramsCommand()
    {
        QProcess process;
        process.start(cliPath(),
                      {"params", "--model", "vit-b16", "--strategy", "vpt-deep", "--opt", "prompt_tokens=10", "--tasks", "24",
                       "--classes", "100", "--threads", "2"});
        QVERIFY(process.waitForFinished(120000));
        QCOMPARE(process.exitCode(), 0);
        const json result = json::parse(process.readAllStandardOutput().toStdString());
        QCOMPARE(result.size(), size_t(5));
        QCOMPARE(result["strategy"].get<std::string>(), std::string("vpt-deep"));
        QCOMPARE(result["trainable"].get<std::int64_t>(), std::int64_t(92'160 + 76'900));
        QCOMPARE(result["backbone"].get<std::int64_t>(), std::int64_t(85'798'656));
        QCOMPARE(result["tasks"].get<int>(), 24);
        QVERIFY(std::abs(result["multiplier"].get<double>() - (85'798'656.0 + 24.0 * (92'160 + 76'900)) / 85'798'656.0) < 1e-9);

        // A checkpoint file works too, and a bad option is one line naming it.
        const std::string path = (m_dir.path() + "/params-timm.safetensors").toStdString();
        writeTimmSafetensors(test::randomWeights(test::tinyTimmSpec(), 91), path);
        process.start(cliPath(),
                      {"params", "--model", QString::fromStdString(path), "--strategy", "partial-1", "--tasks", "3", "--classes", "10"});
        QVERIFY(process.waitForFinished(120000));
        QCOMPARE(process.exitCode(), 0);
        const json small = json::parse(process.readAllStandardOutput().toStdString());
        // Last block (128 wide, MLP 512) + ln_post + head.
        const std::int64_t block = 3 * 128 * 128 + 3 * 128 + 128 * 128 + 128 + 128 * 512 + 512 + 512 * 128 + 128 + 4 * 128;
        QCOMPARE(small["trainable"].get<std::int64_t>(), block + 2 * 128 + 128 * 10 + 10);

        process.start(cliPath(),
                      {"params", "--model", "vit-b16", "--strategy", "adapter", "--opt", "reduction=7", "--tasks", "2"});
        QVERIFY(process.waitForFinished(120000));
        QVERIFY(process.exitCode() != 0);
        const QString error = QString::fromUtf8(process.readAllStandardError());
        QCOMPARE(error.count('\n'), 1);
        QVERIFY2(error.contains("reduction"), qPrintable(error));
    }

    void compareReportsAccuracyAndParameterCost()
    {
        // The survey's table in one command: accuracy and the storage multiplier of each method, the latter
        // equal to what `params` reports for the same model, class count and number of tasks.
        const QString model = m_dir.path() + "/compare-timm.safetensors";
        writeTimmSafetensors(test::randomWeights(test::tinyTimmSpec(), 17), model.toStdString());
        const QString dataset = m_dir.path() + "/shades";
        test::writeShadesDataset(dataset.toStdString(), 3, 6, 4);
        QProcess process;
        process.start(cliPath(), {"compare", "--model", model, "--dataset", dataset, "--methods", "linear,bias,vpt-deep", "--shots", "2",
                                  "--seeds", "1", "--epochs", "1", "--tasks", "5", "--runs", m_dir.path() + "/runs", "--threads", "2"});
        QVERIFY(process.waitForFinished(120000));
        const QString err = QString::fromUtf8(process.readAllStandardError());
        QVERIFY2(process.exitCode() == 0, qPrintable(err));
        const json table = json::parse(process.readAllStandardOutput().toStdString());
        QVERIFY2(err.contains("params x5"), qPrintable(err));
        for (const char* method : {"linear", "bias", "vpt-deep"}) {
            const json& entry = table["methods"][method];
            const double accuracy = entry["accuracy"].get<double>();
            QVERIFY(accuracy >= 0 && accuracy <= 1);
            QProcess params;
            params.start(cliPath(), {"params", "--model", model, "--strategy", method, "--tasks", "5", "--classes", "3"});
            QVERIFY(params.waitForFinished(120000));
            QCOMPARE(params.exitCode(), 0);
            const json expected = json::parse(params.readAllStandardOutput().toStdString());
            QCOMPARE(entry["trainable"].get<std::int64_t>(), expected["trainable"].get<std::int64_t>());
            QVERIFY2(std::abs(entry["multiplier"].get<double>() - expected["multiplier"].get<double>()) < 1e-12, method);
        }
        // The CSV carries both columns.
        std::ifstream csv(table["run"].get<std::string>() + "/table.csv");
        std::string header;
        std::getline(csv, header);
        QCOMPARE(header, std::string("method,shots,seed,base,new,h,accuracy,trainable,multiplier"));
    }

private:
    QTemporaryDir m_dir;
};

QTEST_GUILESS_MAIN(TestPetl)
#include "tst_petl.moc"
