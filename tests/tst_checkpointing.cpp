// Gradient checkpointing (issue 30, item 1): a training step's gradients with the towers' blocks recomputed
// in the backward pass equal those without, for every family of methods (prompts in the text tower, deep
// prompts in both, visual prompts, adapters, low-rank updates with dropout, key/value prefixes, full
// fine-tuning of a ViT and of a ResNet's stages); the random generators replay; recorders see one pass;
// nothing changes outside training; the option is checked and recorded.
#include "core/Error.h"
#include "core/experiment/RunSettings.h"
#include "core/io/CheckpointLoader.h"
#include "core/io/ClipTokenizer.h"
#include "core/model/AttentionRollout.h"
#include "core/model/Checkpointing.h"
#include "core/model/ClipModel.h"
#include "core/train/BatchSource.h"
#include "core/train/Trainer.h"
#include "core/tuning/Strategy.h"
#include "core/tuning/StrategyInfo.h"
#include "tests/ClipVocabulary.h"
#include "tests/ModelFixtures.h"

#include <QtTest>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <string>

using namespace tunebench;

namespace {

constexpr int kLayers = 3;  // blocks per tower: deep prompts at two of them, a captured tensor shared by three

// tinyClipSpec with three blocks per tower, random weights.
ClipModel threeLayerClip()
{
    ModelSpec spec = test::tinyClipSpec();
    spec.vision.layers = kLayers;
    spec.text->layers = kLayers;
    torch::manual_seed(5);
    ClipModel model(spec);
    model->eval();
    return model;
}

ClipModel threeLayerTimm()
{
    ModelSpec spec = test::tinyTimmSpec();
    spec.vision.layers = kLayers;
    torch::manual_seed(6);
    ClipModel model(spec);
    model->eval();
    return model;
}

ClipModel resNetClip()
{
    torch::manual_seed(7);
    ClipModel model(test::tinyResNetClipSpec());
    model->eval();
    return model;
}

std::unique_ptr<Strategy> attached(const std::string& method, ClipModel model, const nlohmann::json& options = nlohmann::json::object())
{
    static auto tokenizer = std::make_shared<const ClipTokenizer>(ClipTokenizer::load(test::demoVocabularyPath()));
    const StrategyInfo& info = findStrategy(method);
    TaskSetup setup;
    setup.classNames = {"cat", "dog", "golden retriever"};
    setup.promptTemplate = "a photo of a {}.";
    setup.datasetName = "toy";
    setup.tokenizer = tokenizer;
    auto strategy = info.create();
    strategy->attach(model, setup, resolveParams(info.schema, options));
    strategy->setTraining(true);
    return strategy;
}

Batch toyBatch(int side)
{
    torch::manual_seed(21);
    Batch batch;
    batch.inputs = torch::randn({4, 3, side, side});
    batch.labels = torch::tensor({0, 2, 1, 2}, torch::kLong);
    return batch;
}

// How many checkpointed blocks (or stages) the graph of `loss` runs through.
int checkpointNodes(const torch::Tensor& loss)
{
    std::set<torch::autograd::Node*> seen;
    std::vector<torch::autograd::Node*> todo = {loss.grad_fn().get()};
    int count = 0;
    while (!todo.empty()) {
        auto* node = todo.back();
        todo.pop_back();
        if (!node || !seen.insert(node).second)
            continue;
        if (node->name().find("CheckpointFunction") != std::string::npos)
            ++count;
        for (const auto& edge : node->next_edges())
            todo.push_back(edge.function.get());
    }
    return count;
}

struct StepGradients
{
    std::vector<torch::Tensor> grads;  // per trainable tensor; undefined where none reached it
    int checkpointNodes = 0;
};

// One training step's gradients, the random generator seeded the same way each time (dropout).
StepGradients stepGradients(Strategy& strategy, const Batch& batch, CheckpointTowers towers)
{
    auto parameters = strategy.trainableParameters();
    for (auto& parameter : parameters)
        parameter.mutable_grad() = torch::Tensor();
    torch::manual_seed(99);
    StepOutput out;
    {
        CheckpointingScope scope(towers);
        out = strategy.trainStep(batch);
    }
    StepGradients result;
    result.checkpointNodes = checkpointNodes(out.loss);
    out.loss.backward();
    for (auto& parameter : parameters)
        result.grads.push_back(parameter.grad().defined() ? parameter.grad().clone() : torch::Tensor());
    return result;
}

// "" when checkpointing `towers` gives the same gradients as not (within 1e-6, every trainable tensor), the
// step ran through `blocks` checkpointed blocks, and the gradients are not all zero; else what differs.
std::string sameGradients(Strategy& strategy, const Batch& batch, CheckpointTowers towers, int blocks)
{
    const StepGradients plain = stepGradients(strategy, batch, CheckpointTowers::None);
    const StepGradients recomputed = stepGradients(strategy, batch, towers);
    if (plain.checkpointNodes != 0)
        return "a step without checkpointing ran " + std::to_string(plain.checkpointNodes) + " checkpointed blocks";
    if (recomputed.checkpointNodes != blocks)
        return "expected " + std::to_string(blocks) + " checkpointed blocks, found " + std::to_string(recomputed.checkpointNodes);
    double total = 0;
    for (size_t i = 0; i < plain.grads.size(); ++i) {
        const auto& a = plain.grads[i];
        const auto& b = recomputed.grads[i];
        if (a.defined() != b.defined())
            return "trainable tensor " + std::to_string(i) + ": a gradient " + (a.defined() ? "without" : "with") + " checkpointing only";
        if (!a.defined())
            continue;
        const double difference = (a - b).abs().max().item<double>();
        if (!(difference <= 1e-6))
            return "trainable tensor " + std::to_string(i) + " " + std::to_string(a.numel()) + " values: gradients differ by " +
                   std::to_string(difference);
        total += a.abs().sum().item<double>();
    }
    if (!(total > 0))
        return "every gradient is zero";
    return {};
}

// An MLP branch scaled by a tensor computed once per forward from a parameter, and the same tensor added
// before every block: one non-leaf whose graph every checkpointed block's recomputation walks again.
class SharedScale : public TransformerHooks
{
public:
    torch::Tensor beforeBlock(int, const torch::Tensor& tokens) override { return tokens + 0.1 * scale; }
    torch::Tensor afterMlp(int, const torch::Tensor& mlpOutput, const torch::Tensor&, const torch::Tensor&) override
    {
        return mlpOutput * scale;
    }
    torch::Tensor scale;
};

} // namespace

class TestCheckpointing : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        torch::set_num_threads(1);  // the same reduction order in every pass
    }

    // CoOp: the learned context enters the text tower's first block; the image tower is frozen.
    void coopGradientsAreTheSame()
    {
        auto strategy = attached("coop", threeLayerClip(), {{"n_ctx", 4}});
        const std::string problem = sameGradients(*strategy, toyBatch(32), CheckpointTowers::Text, kLayers);
        QVERIFY2(problem.empty(), problem.c_str());
    }

    // MaPLe: text prompts at every depth, projected into the image tower's; both towers checkpointed.
    void mapleGradientsAreTheSame()
    {
        auto strategy = attached("maple", threeLayerClip(), {{"depth", kLayers}});
        const std::string problem = sameGradients(*strategy, toyBatch(32), CheckpointTowers::Both, 2 * kLayers);
        QVERIFY2(problem.empty(), problem.c_str());
    }

    // PromptSRC: deep prompts in both towers plus its self-regulating losses against the frozen model.
    void promptSrcGradientsAreTheSame()
    {
        auto strategy = attached("promptsrc", threeLayerClip(), {{"depth", kLayers}});
        const std::string problem = sameGradients(*strategy, toyBatch(32), CheckpointTowers::Both, 2 * kLayers);
        QVERIFY2(problem.empty(), problem.c_str());
    }

    // VPT-Deep: prompts replaced before every block (with prompt dropout, drawn outside the blocks).
    void vptDeepGradientsAreTheSame()
    {
        auto strategy = attached("vpt-deep", threeLayerTimm(), {{"prompt_dropout", 0.2}});
        const std::string problem = sameGradients(*strategy, toyBatch(32), CheckpointTowers::Image, kLayers);
        QVERIFY2(problem.empty(), problem.c_str());
    }

    // Adapters: a bottleneck after every block's MLP, called again inside the recomputation.
    void adapterGradientsAreTheSame()
    {
        auto strategy = attached("adapter", threeLayerTimm());
        const std::string problem = sameGradients(*strategy, toyBatch(32), CheckpointTowers::Image, kLayers);
        QVERIFY2(problem.empty(), problem.c_str());
    }

    // Full fine-tuning: every weight of the tower.
    void fullFineTuningGradientsAreTheSame()
    {
        auto strategy = attached("full", threeLayerTimm());
        const std::string problem = sameGradients(*strategy, toyBatch(32), CheckpointTowers::Image, kLayers);
        QVERIFY2(problem.empty(), problem.c_str());
    }

    // Blocks that nothing trains through are not recomputed: Partial-1 trains the last block only, so only it is
    // checkpointed (the first ones have frozen weights and a frozen input); a linear probe checkpoints none.
    void frozenBlocksAreNotRecomputed()
    {
        auto partial = attached("partial", threeLayerTimm(), {{"k", 1}});
        const std::string problem = sameGradients(*partial, toyBatch(32), CheckpointTowers::Image, 1);
        QVERIFY2(problem.empty(), problem.c_str());
        auto linear = attached("linear", threeLayerTimm());
        const std::string none = sameGradients(*linear, toyBatch(32), CheckpointTowers::Image, 0);
        QVERIFY2(none.empty(), none.c_str());
    }

    // A ResNet CLIP checkpoints per stage (layer1..layer4).
    void resNetStagesGradientsAreTheSame()
    {
        auto strategy = attached("full", resNetClip());
        const int stages = static_cast<int>(test::tinyResNetClipSpec().vision.stageBlocks.size());
        const std::string problem = sameGradients(*strategy, toyBatch(64), CheckpointTowers::Image, stages);
        QVERIFY2(problem.empty(), problem.c_str());
    }

    // LoRA's dropout on the update's input runs inside the block: the recomputation must draw the same mask.
    void loraDropoutReplaysTheSameMask()
    {
        auto strategy = attached("lora", threeLayerTimm(), {{"dropout", 0.5}});
        // Give the updates' B a value: at zero the dropped input would not reach any gradient of A.
        {
            torch::NoGradGuard noGrad;
            for (auto& tensor : strategy->trainableParameters())
                if (tensor.dim() == 2)
                    tensor.normal_(0, 0.1);
        }
        const std::string problem = sameGradients(*strategy, toyBatch(32), CheckpointTowers::Image, kLayers);
        QVERIFY2(problem.empty(), problem.c_str());
    }

    // Prefix tuning: key/value prefixes from one MLP shared by every layer, through the shared-prefix path.
    void prefixTuningGradientsAreTheSame()
    {
        auto strategy = attached("prefix-tuning", threeLayerClip());
        const std::string problem = sameGradients(*strategy, toyBatch(32), CheckpointTowers::Text, kLayers);
        QVERIFY2(problem.empty(), problem.c_str());
    }

    // A tensor captured by every block whose own graph (not a leaf) the recomputations share.
    void sharedCapturedTensorGetsItsGradient()
    {
        const ModelSpec spec = test::tinyClipSpec();
        TowerSpec tower = spec.vision;
        tower.layers = kLayers;
        torch::manual_seed(8);
        Transformer transformer(tower);
        const auto source = torch::full({tower.width}, 0.3).requires_grad_();
        const auto x = torch::randn({2, 5, tower.width});
        auto gradients = [&](CheckpointTowers towers) {
            transformer->zero_grad();
            source.mutable_grad() = torch::Tensor();
            SharedScale hooks;
            hooks.scale = source.exp();  // saves its result: a second walk through a freed graph would fail
            torch::Tensor out;
            {
                CheckpointingScope scope(towers);
                out = transformer(x, false, &hooks);
            }
            out.pow(2).sum().backward();
            std::vector<torch::Tensor> grads = {source.grad().clone()};
            for (const auto& parameter : transformer->parameters())
                grads.push_back(parameter.grad().clone());
            return grads;
        };
        const auto plain = gradients(CheckpointTowers::None);
        const auto recomputed = gradients(CheckpointTowers::Image);
        QCOMPARE(plain.size(), recomputed.size());
        QVERIFY(plain[0].abs().sum().item<double>() > 0);
        // Relative: the source's gradient (about 30) is summed in another order, block by block.
        for (size_t i = 0; i < plain.size(); ++i) {
            const double difference = (plain[i] - recomputed[i]).abs().max().item<double>();
            const double scale = std::max(1.0, plain[i].abs().max().item<double>());
            QVERIFY2(difference <= 1e-6 * scale, qPrintable(QString("tensor %1: %2 apart").arg(i).arg(difference)));
        }
    }

    // The generators' states: the recomputation draws the first pass's numbers, and the run's stream after
    // the backward pass is where it would have been without checkpointing.
    void randomGeneratorIsReplayedAndRestored()
    {
        torch::manual_seed(1);
        const auto weight = torch::randn({6, 6}).requires_grad_();
        const auto input = torch::randn({5, 6}).requires_grad_();
        const CheckpointedRun run = [&weight](const std::vector<at::Tensor>& in) {
            return std::vector<at::Tensor>{torch::dropout(torch::matmul(in[0], weight), 0.5, true).tanh()};
        };
        auto pass = [&](bool checkpoint) {
            weight.mutable_grad() = torch::Tensor();
            input.mutable_grad() = torch::Tensor();
            torch::manual_seed(42);
            const auto out = checkpoint ? checkpointed(run, {input}).front() : run({input}).front();
            out.pow(2).sum().backward();
            const auto next = torch::rand({4});  // what the run draws next
            return std::vector<torch::Tensor>{out.detach(), weight.grad().clone(), input.grad().clone(), next};
        };
        const auto plain = pass(false);
        const auto recomputed = pass(true);
        const char* what[] = {"output", "weight gradient", "input gradient", "next random numbers"};
        for (size_t i = 0; i < plain.size(); ++i)
            QVERIFY2(torch::equal(plain[i], recomputed[i]), what[i]);
    }

    // A recorder of the attention (where the model looks) sees each block once, not again in the backward pass.
    void attentionRecorderRecordsOnePass()
    {
        auto model = threeLayerClip();
        const auto images = toyBatch(32).inputs.requires_grad_();
        AttentionRecorder recorder;
        torch::Tensor features;
        {
            CheckpointingScope scope(CheckpointTowers::Image);
            features = model->visual(images);
        }
        QCOMPARE(static_cast<int>(recorder.layers().size()), kLayers);
        features.sum().backward();
        QCOMPARE(static_cast<int>(recorder.layers().size()), kLayers);
        QVERIFY(images.grad().defined());
    }

    // Only a training step's forward with grad enabled checkpoints, and only the towers named.
    void onlyTrainingForwardsCheckpoint()
    {
        QVERIFY(!checkpointsBlocks(Tower::Image));
        {
            CheckpointingScope scope(CheckpointTowers::Image);
            QVERIFY(checkpointsBlocks(Tower::Image));
            QVERIFY(!checkpointsBlocks(Tower::Text));
            torch::NoGradGuard noGrad;
            QVERIFY(!checkpointsBlocks(Tower::Image));
        }
        {
            CheckpointingScope scope(CheckpointTowers::Both);
            QVERIFY(checkpointsBlocks(Tower::Image) && checkpointsBlocks(Tower::Text));
        }
        QVERIFY(!checkpointsBlocks(Tower::Text));
        // The strategy's evaluation (logits) runs without: its graph is not kept anyway.
        auto strategy = attached("full", threeLayerTimm());
        CheckpointingScope scope(CheckpointTowers::Both);
        QCOMPARE(checkpointNodes(strategy->logits(toyBatch(32).inputs).sum()), 0);
    }

    // The trainer opens the scope from its config: two steps train the same weights with and without.
    void trainerTrainsTheSameWeights()
    {
        auto trained = [](const std::string& checkpointing) {
            auto strategy = attached("adapter", threeLayerTimm());
            TrainerConfig config;
            config.optimizer = "sgd";
            config.lr = 0.1;
            config.epochs = 1;
            config.warmupEpochs = 0;
            config.maxSteps = 2;
            config.checkpointing = checkpointing;
            const Batch batch = toyBatch(32);
            TensorBatchSource data(batch.inputs, batch.labels, 2, /*shuffle=*/false);
            torch::manual_seed(3);
            Trainer(config).fit(*strategy, data);
            std::vector<torch::Tensor> out;
            for (const auto& tensor : strategy->trainableParameters())
                out.push_back(tensor.detach().clone());
            return out;
        };
        const auto plain = trained("none");
        const auto recomputed = trained("image");
        QCOMPARE(plain.size(), recomputed.size());
        for (size_t i = 0; i < plain.size(); ++i)
            QVERIFY2((plain[i] - recomputed[i]).abs().max().item<double>() <= 1e-6, qPrintable(QString::number(i)));
    }

    // --checkpointing: recorded in config.json where not "none", read back; anything else is a one-line error
    // naming the value and the allowed ones.
    void optionIsRecordedAndChecked()
    {
        QCOMPARE(checkpointingName(parseCheckpointing("text")), std::string("text"));
        try {
            parseCheckpointing("sideways");
            QFAIL("'sideways' was accepted");
        } catch (const Error& e) {
            QCOMPARE(std::string(e.what()), std::string("--checkpointing must be none, image, text or both, got 'sideways'"));
        }

        RunSettings settings;
        QCOMPARE(settings.checkpointing, std::string("none"));
        QVERIFY(!settings.toJson().contains("checkpointing"));
        settings.checkpointing = "both";
        const nlohmann::json json = settings.toJson();
        QCOMPARE(json.at("checkpointing").get<std::string>(), std::string("both"));
        QCOMPARE(RunSettings::fromJson(json).checkpointing, std::string("both"));
        nlohmann::json bad = json;
        bad["checkpointing"] = "all";
        try {
            RunSettings::fromJson(bad, "config.json");
            QFAIL("checkpointing 'all' was read");
        } catch (const Error& e) {
            const std::string message = e.what();
            QVERIFY2(message.find("'all'") != std::string::npos && message.find("none, image, text or both") != std::string::npos &&
                         message.find('\n') == std::string::npos,
                     message.c_str());
        }

        TrainerConfig config;
        QVERIFY(!toJson(config).contains("checkpointing"));
        config.checkpointing = "image";
        QCOMPARE(trainerConfigFromJson(toJson(config)).checkpointing, std::string("image"));
        config.checkpointing = "vision";
        QVERIFY_THROWS_EXCEPTION(Error, Trainer{config});
    }
};

QTEST_APPLESS_MAIN(TestCheckpointing)
#include "tst_checkpointing.moc"
