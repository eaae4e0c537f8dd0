// ResNet CLIP (OpenAI's modified ResNet image tower): the fixtures in tests/fixtures/resnet-clip hold one tiny
// model in the three release formats and the logits of the Python reference (make_resnet_clip_fixtures.py over
// bench/reference/clip_reference.py). The rest runs on a tiny ResNet CLIP written here with the demo model's vocabulary.
#include "core/Error.h"
#include "core/io/CheckpointLoader.h"
#include "core/io/CheckpointWriter.h"
#include "core/io/ClipTokenizer.h"
#include "core/io/Safetensors.h"
#include "core/train/BatchSource.h"
#include "core/tuning/ParameterBudget.h"
#include "core/tuning/Strategy.h"
#include "core/tuning/classic/ClassicPetlStrategy.h"
#include "tests/CliRunner.h"
#include "tests/ClipVocabulary.h"
#include "tests/ErrorOf.h"
#include "tests/ModelFixtures.h"

#include <QtTest>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;
using namespace tunebench;
using test::errorOf;
using nlohmann::json;

namespace {

std::string fixture(const std::string& name)
{
    const char* source = std::getenv("TUNEBENCH_SOURCE_DIR");
    return (fs::path(source ? source : ".") / "tests" / "fixtures" / "resnet-clip" / name).string();
}

// The fixture images: the integer hash of make_resnet_clip_fixtures.py over the flat index.
torch::Tensor hashedPixels(std::int64_t count)
{
    std::vector<float> values(static_cast<size_t>(count));
    for (std::int64_t i = 0; i < count; ++i) {
        std::uint64_t h = static_cast<std::uint64_t>(i) * 2654435761ull % (1ull << 32);
        h ^= h >> 13;
        h = h * 1274126177ull % (1ull << 32);
        h ^= h >> 16;
        values[static_cast<size_t>(i)] = static_cast<float>(static_cast<double>(h) / 4294967296.0 * 3.4 - 1.7);
    }
    return torch::tensor(values);
}

double maxDifference(const torch::Tensor& a, const torch::Tensor& b)
{
    return (a.to(torch::kDouble) - b.to(torch::kDouble)).abs().max().item<double>();
}

torch::Tensor matrix(const json& rows)
{
    std::vector<torch::Tensor> out;
    for (const auto& row : rows)
        out.push_back(torch::tensor(row.get<std::vector<double>>(), torch::kDouble));
    return torch::stack(out);
}

} // namespace

class TestResNetClip : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        torch::set_num_threads(2);
        QVERIFY(m_dir.isValid());
        m_root = m_dir.path().toStdString();
        m_spec = test::tinyResNetClipSpec();
        m_weights = test::randomWeights(m_spec, 3);
        m_model = m_root + "/tiny-rn.safetensors";
        writeOpenAiSafetensors(m_weights, m_model);
        m_tokenizer = std::make_shared<const ClipTokenizer>(ClipTokenizer::load(test::demoVocabularyPath()));
    }

    // The reference: every format gives the Python reference's image features and cosine logits.
    void matchesThePythonReferenceInEveryFormat()
    {
        std::ifstream in(fixture("reference.json"));
        QVERIFY2(in, fixture("reference.json").c_str());
        const json reference = json::parse(in);
        const auto shape = reference["image_shape"].get<std::vector<std::int64_t>>();
        const auto images = hashedPixels(shape[0] * shape[1] * shape[2] * shape[3]).reshape(shape);
        std::vector<torch::Tensor> rows;
        for (const auto& row : reference["tokens"])
            rows.push_back(torch::tensor(row.get<std::vector<std::int64_t>>()));
        const auto tokens = torch::stack(rows);
        const auto expectedFeatures = matrix(reference["image_features"]);
        const auto expectedLogits = matrix(reference["logits"]);

        const std::pair<const char*, const char*> files[] = {
            {"tiny-rn.pt", "openai-torchscript"}, {"tiny-rn.safetensors", "openai-safetensors"}, {"tiny-rn-open_clip.bin", "openai-torch-save"}};
        for (const auto& [file, format] : files) {
            ModelSpec spec;
            ClipModel model = loadModel(fixture(file), {}, &spec);
            QCOMPARE(spec.format, std::string(format));
            QCOMPARE(spec.familyName(), std::string("CLIP ResNet"));
            QCOMPARE(spec.vision.stageBlocks, (std::vector<int>{1, 2, 1, 1}));
            QCOMPARE(spec.vision.width, 4);
            QCOMPARE(spec.vision.heads, 2);
            QCOMPARE(spec.vision.imageSize, 64);
            QCOMPARE(spec.embedDim(), 32);
            torch::NoGradGuard noGrad;
            const auto features = model->encodeImage(images);
            const auto logits = torch::matmul(l2Normalize(features), l2Normalize(model->encodeText(tokens)).t());
            const double featureError = maxDifference(features, expectedFeatures);
            const double logitError = maxDifference(logits, expectedLogits);
            QVERIFY2(featureError < 1e-4, (std::string(file) + ": features differ by " + std::to_string(featureError)).c_str());
            QVERIFY2(logitError < 1e-4, (std::string(file) + ": logits differ by " + std::to_string(logitError)).c_str());
        }
    }

    void infoReportsTheResNetGeometry()
    {
        const json summary = readCheckpoint(fixture("tiny-rn.pt")).spec.summary();
        QCOMPARE(summary["family"].get<std::string>(), std::string("CLIP ResNet"));
        QCOMPARE(summary["vision"]["layers"].get<std::vector<int>>(), (std::vector<int>{1, 2, 1, 1}));
        QCOMPARE(summary["vision"]["width"].get<int>(), 4);
        QCOMPARE(summary["vision"]["feature_width"].get<int>(), 128);
        QCOMPARE(summary["resolution"].get<int>(), 64);
        QCOMPARE(summary["embed_dim"].get<int>(), 32);
        QVERIFY(!summary["vision"].contains("patch_size"));
    }

    // The real geometry: the released RN50 holds 489 tensors with 102,060,440 elements (checkpoint-formats.md),
    // counting BatchNorm's step counters, which the loader drops.
    void rn50GeometryHasTheReleasedSize()
    {
        torch::NoGradGuard noGrad;
        ClipModel model(modelGeometry("clip-rn50"));
        std::int64_t tensors = 0, elements = 0;
        for (const auto& p : model->parameters())
            ++tensors, elements += p.numel();
        for (const auto& b : model->buffers())
            ++tensors, elements += b.numel();
        const std::int64_t batchNorms = 3 + 16 * 3 + 4;  // stem, three per bottleneck, one per stage's downsample
        QCOMPARE(tensors + batchNorms, std::int64_t(489));
        QCOMPARE(elements + batchNorms, std::int64_t(102060440));
    }

    void missingOrMisshapenKeysAreNamed()
    {
        StateDict missing = m_weights;
        missing.erase("visual.layer3.0.bn2.running_var");
        writeOpenAiSafetensors(missing, m_root + "/missing.safetensors");
        std::string message = errorOf([&] { loadModel(m_root + "/missing.safetensors"); });
        QVERIFY2(message.find("missing.safetensors") != std::string::npos && message.find("'visual.layer3.0.bn2.running_var'") != std::string::npos,
                 message.c_str());

        StateDict misshapen = m_weights;
        misshapen["visual.attnpool.q_proj.weight"] = torch::zeros({256, 128});
        writeOpenAiSafetensors(misshapen, m_root + "/misshapen.safetensors");
        message = errorOf([&] { loadModel(m_root + "/misshapen.safetensors"); });
        QVERIFY2(message.find("'visual.attnpool.q_proj.weight'") != std::string::npos && message.find("[256, 128]") != std::string::npos,
                 message.c_str());

        StateDict noStage = m_weights;
        for (auto it = noStage.begin(); it != noStage.end();)
            it = it->first.rfind("visual.layer4.", 0) == 0 ? noStage.erase(it) : std::next(it);
        writeOpenAiSafetensors(noStage, m_root + "/nostage.safetensors");
        message = errorOf([&] { loadModel(m_root + "/nostage.safetensors"); });
        QVERIFY2(message.find("'visual.layer4.0.conv1.weight'") != std::string::npos, message.c_str());

        StateDict oddGrid = m_weights;
        oddGrid["visual.attnpool.positional_embedding"] = torch::zeros({6, 256});
        writeOpenAiSafetensors(oddGrid, m_root + "/oddgrid.safetensors");
        message = errorOf([&] { loadModel(m_root + "/oddgrid.safetensors"); });
        QVERIFY2(message.find("'visual.attnpool.positional_embedding'") != std::string::npos && message.find("6 rows") != std::string::npos,
                 message.c_str());
    }

    // Every registered strategy either attaches and takes a training step on a ResNet CLIP, or refuses
    // because it needs a ViT image tower, saying so.
    void strategiesApplyOrRefuseWithAReason()
    {
        ClipModel model = buildModel(Checkpoint{withName(m_spec, "tiny-rn"), m_weights});
        TaskSetup setup;
        setup.classNames = {"cat", "dog", "bird"};
        setup.tokenizer = m_tokenizer;
        setup.shots = 2;
        setup.domainNames = {"photo", "sketch"};  // DAPL's; its step here has source images only
        torch::manual_seed(1);
        Batch batch{torch::randn({6, 3, 64, 64}), torch::tensor({0, 1, 2, 0, 1, 2}), {}};
        int attached = 0, refused = 0;
        for (const StrategyInfo& info : strategyRegistry()) {
            auto strategy = info.create();
            const std::string refusal = strategyRefusal(info, model->spec());
            if (info.capabilities.needsVitImageTower) {
                QVERIFY2(refusal.find("needs a ViT image tower") != std::string::npos && refusal.find("tiny-rn") != std::string::npos,
                         refusal.c_str());
                QCOMPARE(errorOf([&] { strategy->attach(model, setup, json::object()); }), refusal);
                ++refused;
                continue;
            }
            QVERIFY2(refusal.empty(), refusal.c_str());
            strategy->attach(model, setup, json::object());
            ++attached;
            TensorBatchSource train(batch.inputs, batch.labels, 6, false);
            strategy->prepare(train);  // Tip-Adapter's cache
            if (!strategy->needsTraining())
                continue;
            strategy->setTraining(true);
            const StepOutput step = strategy->trainStep(batch);
            QVERIFY2(std::isfinite(step.loss.item<double>()), info.name.c_str());
            QVERIFY2(step.loss.requires_grad(), info.name.c_str());
            step.loss.backward();
            bool anyGradient = false;
            for (const auto& p : strategy->trainableParameters())
                anyGradient = anyGradient || (p.grad().defined() && p.grad().abs().sum().item<double>() > 0);
            QVERIFY2(anyGradient, info.name.c_str());
            strategy->setTraining(false);
            QCOMPARE(strategy->logits(batch.inputs).size(0), std::int64_t(6));
        }
        // MaPLe, IVLP, PromptSRC, CLIP-LoRA, Side-tune, Bias, Adapter, VPT-Shallow, VPT-Deep, LoRA, DoRA,
        // AdaptFormer, SSF, L2P, seq-ft
        QCOMPARE(refused, 15);
        QVERIFY(attached >= 15);
    }

    // Partial-k on a ResNet: the last k bottlenecks, counted across stages, and the attention pool.
    void partialTrainsTheLastBottlenecks()
    {
        ClipModel model = buildModel(Checkpoint{m_spec, m_weights});
        auto strategy = findStrategy("partial").create();
        TaskSetup setup;
        setup.classNames = {"a", "b"};
        strategy->attach(model, setup, json{{"k", 2}});
        auto* classic = dynamic_cast<ClassicPetlStrategy*>(strategy.get());
        QVERIFY(classic);
        std::int64_t expected = 0;
        for (const auto& item : classic->model()->named_parameters()) {
            const std::string& name = item.key();
            if (name.rfind("visual.layer3.", 0) == 0 || name.rfind("visual.layer4.", 0) == 0 || name.rfind("visual.attnpool.", 0) == 0) {
                expected += item.value().numel();
                QVERIFY2(item.value().requires_grad(), name.c_str());
            } else {
                QVERIFY2(!item.value().requires_grad(), name.c_str());
            }
        }
        expected += 48 * 2 + 2;  // the head on the 48-wide pooled feature
        QCOMPARE(strategy->trainableParameterCount(), expected);
        QVERIFY(errorOf([&] { findStrategy("partial").create()->attach(model, setup, json{{"k", 5}}); }).find("4 bottleneck blocks") !=
                std::string::npos);
    }

    // RN50's CLIP-Adapter: two bias-free linears 1024 -> 256 -> 1024 (methods.md 1.7, reduction 4).
    void paramsOnTheRn50Geometry()
    {
        const QString vocab = QString::fromStdString(test::demoVocabularyPath());
        const auto adapter = test::runCli({"params", "--model", "clip-rn50", "--strategy", "clip-adapter", "--vocab", vocab, "--classes", "2"});
        QVERIFY2(adapter.exitCode == 0, adapter.err.c_str());
        QCOMPARE(json::parse(adapter.out)["trainable"].get<std::int64_t>(), std::int64_t(524288));
        const auto coop = test::runCli({"params", "--model", "clip-rn50", "--strategy", "coop", "--vocab", vocab, "--classes", "2"});
        QVERIFY2(coop.exitCode == 0, coop.err.c_str());
        QCOMPARE(json::parse(coop.out)["trainable"].get<std::int64_t>(), std::int64_t(16 * 512));
        const auto vpt = test::runCli({"params", "--model", "clip-rn50", "--strategy", "vpt-shallow"});
        QVERIFY(vpt.exitCode != 0);
        QVERIFY2(vpt.err.find("needs a ViT image tower") != std::string::npos, vpt.err.c_str());
    }

    // CoOp through `tunebench-cli train` on a ResNet CLIP, from a folder dataset.
    void coopTrainsThroughTheCli()
    {
        const fs::path dataset = fs::path(m_root) / "colours";
        const char* classes[] = {"red", "green", "blue"};
        for (int c = 0; c < 3; ++c)
            for (const char* split : {"train", "test"}) {
                fs::create_directories(dataset / split / classes[c]);
                for (int i = 0; i < 3; ++i) {
                    cv::Mat image(40, 48, CV_8UC3, cv::Scalar(c == 2 ? 220 : 20 * i, c == 1 ? 220 : 30, c == 0 ? 220 : 10 * i));
                    QVERIFY(cv::imwrite((dataset / split / classes[c] / (std::to_string(i) + ".png")).string(), image));
                }
            }
        const auto result = test::runCli({"train", "--model", QString::fromStdString(m_model), "--vocab",
                                          QString::fromStdString(test::demoVocabularyPath()), "--dataset", QString::fromStdString(dataset.string()),
                                          "--method", "coop", "--shots", "2", "--epochs", "2", "--batch-size", "3", "--opt", "n_ctx=4", "--runs",
                                          QString::fromStdString(m_root + "/runs"), "--threads", "2"});
        QVERIFY2(result.exitCode == 0, result.err.c_str());
        const json out = json::parse(result.out);
        QCOMPARE(out["trainable_parameters"].get<int>(), 4 * 64);
        QCOMPARE(out["train"]["steps"].get<int>(), 4);  // 2 shots x 3 classes in batches of 3, two epochs
        QVERIFY(out["accuracy"].is_number());
        QVERIFY(fs::exists(fs::path(out["run"].get<std::string>()) / "results.json"));

        const auto refused = test::runCli({"train", "--model", QString::fromStdString(m_model), "--vocab",
                                           QString::fromStdString(test::demoVocabularyPath()), "--dataset",
                                           QString::fromStdString(dataset.string()), "--method", "vpt-deep", "--epochs", "1", "--runs",
                                           QString::fromStdString(m_root + "/runs")});
        QVERIFY(refused.exitCode != 0);
        QVERIFY2(refused.err.find("needs a ViT image tower") != std::string::npos, refused.err.c_str());
    }

private:
    static ModelSpec withName(ModelSpec spec, const std::string& name)
    {
        spec.name = name;
        return spec;
    }

    QTemporaryDir m_dir;
    std::string m_root, m_model;
    ModelSpec m_spec;
    StateDict m_weights;
    std::shared_ptr<const ClipTokenizer> m_tokenizer;
};

QTEST_GUILESS_MAIN(TestResNetClip)
#include "tst_resnet_clip.moc"
