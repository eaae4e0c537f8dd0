// Every checkpoint format written by the project's own writers and read back: identical weights and
// features across formats, a timm ViT against an independent forward, and clear errors on bad files.
#include "core/Error.h"
#include "core/io/CheckpointLoader.h"
#include "core/io/CheckpointWriter.h"
#include "core/io/KeyMaps.h"
#include "tests/ErrorOf.h"
#include "tests/ModelFixtures.h"

#include <QtTest>

#include <nlohmann/json.hpp>
#include <torch/script.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>

using namespace tunebench;
using test::errorOf;
namespace fs = std::filesystem;

namespace {

// The fp16/fp32 mix of the released OpenAI archives: projections and linear layers in fp16.
StateDict withOpenAiDtypes(StateDict weights)
{
    for (auto& [key, tensor] : weights) {
        const bool linear = key.find(".attn.") != std::string::npos || key.find(".mlp.") != std::string::npos ||
                            key == "visual.proj" || key == "text.text_projection" || key == "visual.conv1.weight";
        if (linear)
            tensor = tensor.to(torch::kHalf);
    }
    return weights;
}

torch::Tensor refTimmFeatures(const torch::Tensor& images, const StateDict& t, int heads)
{
    auto ln = [&](const torch::Tensor& x, const std::string& p) {
        return torch::layer_norm(x, {x.size(-1)}, t.at(p + ".weight"), t.at(p + ".bias"), 1e-6);
    };
    auto x = torch::conv2d(images, t.at("patch_embed.proj.weight"), t.at("patch_embed.proj.bias"), 8);
    x = x.flatten(2).transpose(1, 2);  // [N, P, D]
    x = torch::cat({t.at("cls_token").expand({x.size(0), 1, x.size(2)}), x}, 1) + t.at("pos_embed");
    const int64_t D = x.size(2), hd = D / heads;
    for (int i = 0; i < 2; ++i) {
        const std::string p = "blocks." + std::to_string(i) + ".";
        auto h = ln(x, p + "norm1");
        auto qkv = torch::linear(h, t.at(p + "attn.qkv.weight"), t.at(p + "attn.qkv.bias"));
        auto q = qkv.slice(2, 0, D).unflatten(2, {heads, hd}).transpose(1, 2);
        auto k = qkv.slice(2, D, 2 * D).unflatten(2, {heads, hd}).transpose(1, 2);
        auto v = qkv.slice(2, 2 * D, 3 * D).unflatten(2, {heads, hd}).transpose(1, 2);
        auto a = torch::softmax(torch::matmul(q, k.transpose(-1, -2)) * std::pow(double(hd), -0.5), -1);
        auto o = torch::matmul(a, v).transpose(1, 2).flatten(2);
        x = x + torch::linear(o, t.at(p + "attn.proj.weight"), t.at(p + "attn.proj.bias"));
        auto m = torch::gelu(torch::linear(ln(x, p + "norm2"), t.at(p + "mlp.fc1.weight"), t.at(p + "mlp.fc1.bias")));
        x = x + torch::linear(m, t.at(p + "mlp.fc2.weight"), t.at(p + "mlp.fc2.bias"));
    }
    return ln(x, "norm").select(1, 0);
}

} // namespace

class TestCheckpoints : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        torch::set_num_threads(2);
        QVERIFY(m_dir.isValid());
        m_root = m_dir.path().toStdString();
        m_spec = test::tinyClipSpec();
        m_weights = test::randomWeights(m_spec, 7);
        writeOpenAiTorchScript(withOpenAiDtypes(m_weights), m_spec, m_root + "/tiny.pt");
        writeOpenAiSafetensors(m_weights, m_root + "/tiny.safetensors");
        writeHuggingFaceFolder(m_weights, m_spec, m_root + "/tiny-hf");
    }

    void detectsFormats()
    {
        QCOMPARE(int(detectCheckpointFormat(m_root + "/tiny.pt")), int(CheckpointFormat::OpenAiTorchScript));
        QCOMPARE(int(detectCheckpointFormat(m_root + "/tiny.safetensors")), int(CheckpointFormat::Safetensors));
        QCOMPARE(int(detectCheckpointFormat(m_root + "/tiny-hf")), int(CheckpointFormat::HuggingFaceFolder));
    }

    void sameWeightsAndFeaturesInEveryFormat()
    {
        ClipModel direct(m_spec);
        loadWeightsStrict(*direct, m_weights, "fixture");
        direct->eval();
        torch::NoGradGuard noGrad;
        torch::manual_seed(0);
        const auto images = torch::randn({2, 3, 32, 32});
        auto tokens = torch::zeros({2, 77}, torch::kLong);
        tokens[0].narrow(0, 0, 4).copy_(torch::tensor({49406, 320, 1929, 49407}));
        tokens[1].narrow(0, 0, 6).copy_(torch::tensor({49406, 320, 1125, 539, 2368, 49407}));
        const auto imageRef = direct->encodeImage(images);
        const auto textRef = direct->encodeText(tokens);

        for (const std::string name : {"tiny.pt", "tiny.safetensors", "tiny-hf"}) {
            const Checkpoint checkpoint = readCheckpoint(m_root + "/" + name);
            QVERIFY2(checkpoint.spec.text.has_value(), name.c_str());
            QCOMPARE(checkpoint.spec.vision.heads, 2);
            QCOMPARE(checkpoint.spec.text->heads, 1);
            QCOMPARE(checkpoint.spec.vision.imageSize, 32);
            QCOMPARE(checkpoint.spec.sha256.size(), size_t(64));
            QCOMPARE(checkpoint.weights.size(), m_weights.size());
            for (const auto& [key, tensor] : m_weights)
                QVERIFY2(torch::equal(checkpoint.weights.at(key).to(torch::kFloat), tensor), (name + ": " + key).c_str());
            ClipModel model = buildModel(checkpoint);
            QVERIFY2(torch::equal(model->encodeImage(images), imageRef), name.c_str());
            QVERIFY2(torch::equal(model->encodeText(tokens), textRef), name.c_str());
            for (const auto& p : model->parameters())
                QCOMPARE(p.scalar_type(), torch::kFloat);  // stored fp16 computes in fp32 on the CPU
        }
        QCOMPARE(QString::fromStdString(readCheckpoint(m_root + "/tiny.pt").spec.format), QString("openai-torchscript"));
        QCOMPARE(QString::fromStdString(readCheckpoint(m_root + "/tiny-hf").spec.format), QString("huggingface"));
    }

    void torchScriptArchiveIsAnOrdinaryArchive()
    {
        // What the released files hold besides the weights: the three 0-d scalars.
        torch::jit::Module module = torch::jit::load(m_root + "/tiny.pt");
        std::map<std::string, torch::Tensor> buffers;
        for (const auto& item : module.named_buffers(true))
            buffers[item.name] = item.value;
        QCOMPARE(buffers.at("input_resolution").item<int64_t>(), int64_t(32));
        QCOMPARE(buffers.at("context_length").item<int64_t>(), int64_t(77));
        int parameters = 0;
        for (const auto& item : module.named_parameters(true)) {
            ++parameters;
            if (item.name == "visual.proj")
                QCOMPARE(item.value.scalar_type(), torch::kHalf);
        }
        QCOMPARE(parameters, int(m_weights.size()));
    }

    void openClipTextPrefixAndWrappersLoad()
    {
        // open_clip custom-text models keep the text tower under `text.`; DataParallel adds `module.`.
        StateDict wrapped;
        for (const auto& [key, tensor] : m_weights)
            wrapped["module." + key] = tensor;
        const std::string path = m_root + "/wrapped.safetensors";
        writeSafetensors(wrapped, path);
        const Checkpoint checkpoint = readCheckpoint(path);
        QCOMPARE(checkpoint.weights.size(), m_weights.size());
        QVERIFY(torch::equal(checkpoint.weights.at("text.text_projection"), m_weights.at("text.text_projection")));
    }

    void summaryNamesTheModel()
    {
        ModelSpec spec;
        loadModel(m_root + "/tiny-hf", {}, &spec);
        const nlohmann::json summary = spec.summary();
        QCOMPARE(QString::fromStdString(summary["family"]), QString("CLIP ViT"));
        QCOMPARE(summary["resolution"].get<int>(), 32);
        QCOMPARE(summary["vision"]["width"].get<int>(), 128);
        QCOMPARE(summary["text"]["layers"].get<int>(), 2);
        int64_t expected = 0;
        for (const auto& [key, tensor] : m_weights)
            expected += tensor.numel();
        QCOMPARE(summary["parameters"].get<int64_t>(), expected);
    }

    void timmVitLoadsAndMatchesIndependentForward()
    {
        const ModelSpec spec = test::tinyTimmSpec();
        const StateDict weights = test::randomWeights(spec, 11);
        const std::string path = m_root + "/vit.safetensors";
        writeTimmSafetensors(weights, path);
        const Checkpoint checkpoint = readCheckpoint(path);
        QCOMPARE(int(checkpoint.spec.family), int(ModelSpec::Family::Vit));
        QCOMPARE(checkpoint.spec.format, std::string("timm-safetensors"));
        QVERIFY(!checkpoint.spec.text);
        QCOMPARE(checkpoint.spec.headClasses, 10);
        QCOMPARE(int(checkpoint.spec.vision.activation), int(Activation::Gelu));
        QCOMPARE(checkpoint.spec.vision.layerNormEps, 1e-6);
        QVERIFY(checkpoint.spec.vision.patchBias);
        QVERIFY(!checkpoint.spec.vision.preNorm);
        ClipModel model = buildModel(checkpoint);
        torch::NoGradGuard noGrad;
        const auto images = torch::randn({2, 3, 32, 32});
        const StateDict timmNamed = readSafetensors(path);
        const auto reference = refTimmFeatures(images, timmNamed, 2);
        QVERIFY(torch::allclose(model->encodeImage(images), reference, 1e-4, 1e-5));
        const auto logits = model->head(model->encodeImage(images));
        QVERIFY(torch::allclose(logits, torch::linear(reference, timmNamed.at("head.weight"), timmNamed.at("head.bias")), 1e-4, 1e-5));
    }

    // open_clip's hub folder: the activation comes from open_clip_config.json (no quick_gelu = exact GELU),
    // for the folder and for its weights file alike; a loose file keeps OpenAI's QuickGELU. timm's hub folder
    // (config.json naming an architecture) loads its model.safetensors. tst_field_references does the same
    // against the libraries themselves.
    void openClipAndTimmHubFolders()
    {
        const std::string openClip = m_root + "/open_clip-hub";
        fs::create_directories(openClip);
        writeOpenAiSafetensors(m_weights, openClip + "/open_clip_model.safetensors");
        std::ofstream(openClip + "/open_clip_config.json") << R"({"model_cfg": {"embed_dim": 32}, "preprocess_cfg": {}})";
        for (const std::string& path : {openClip, openClip + "/open_clip_model.safetensors"}) {
            const Checkpoint checkpoint = readCheckpoint(path);
            QCOMPARE(checkpoint.spec.format, std::string("openai-safetensors"));
            QCOMPARE(int(checkpoint.spec.vision.activation), int(Activation::Gelu));
            QCOMPARE(int(checkpoint.spec.text->activation), int(Activation::Gelu));
        }
        std::ofstream(openClip + "/open_clip_config.json") << R"({"model_cfg": {"quick_gelu": true}})";
        QCOMPARE(int(readCheckpoint(openClip).spec.text->activation), int(Activation::QuickGelu));
        std::ofstream(openClip + "/open_clip_config.json") << R"({"model_cfg": {"quick_gelu": "yes"}})";
        const std::string badFlag = errorOf([&] { readCheckpoint(openClip); });
        QVERIFY2(badFlag.find("quick_gelu must be true or false") != std::string::npos, badFlag.c_str());
        QCOMPARE(int(readCheckpoint(m_root + "/tiny.safetensors").spec.text->activation), int(Activation::QuickGelu));
        fs::remove(openClip + "/open_clip_model.safetensors");
        const std::string empty = errorOf([&] { readCheckpoint(openClip); });
        QVERIFY2(empty.find("neither open_clip_model.safetensors nor open_clip_pytorch_model.bin") != std::string::npos, empty.c_str());

        const std::string timm = m_root + "/timm-hub";
        fs::create_directories(timm);
        writeTimmSafetensors(test::randomWeights(test::tinyTimmSpec(), 5), timm + "/model.safetensors");
        std::ofstream(timm + "/config.json") << R"({"architecture": "vit_base_patch16_224", "num_classes": 10})";
        QCOMPARE(int(detectCheckpointFormat(timm)), int(CheckpointFormat::Safetensors));
        const Checkpoint vit = readCheckpoint(timm);
        QCOMPARE(vit.spec.format, std::string("timm-safetensors"));
        QCOMPARE(vit.spec.headClasses, 10);
        QCOMPARE(vit.spec.path, timm);
    }

    void missingKeyNamesKeyAndShape()
    {
        StateDict broken = m_weights;
        broken.erase("text.ln_final.bias");
        const std::string path = m_root + "/missing.safetensors";
        writeOpenAiSafetensors(broken, path);
        const std::string message = errorOf([&] { buildModel(readCheckpoint(path)); });
        QVERIFY2(message.find("missing.safetensors") != std::string::npos, message.c_str());
        QVERIFY2(message.find("missing key 'text.ln_final.bias' (expected shape [64])") != std::string::npos, message.c_str());
    }

    void wrongShapeNamesExpectedAndFound()
    {
        StateDict broken = m_weights;
        broken["visual.transformer.resblocks.1.mlp.c_fc.weight"] = torch::zeros({500, 128});
        const std::string path = m_root + "/shape.safetensors";
        writeOpenAiSafetensors(broken, path);
        const std::string message = errorOf([&] { buildModel(readCheckpoint(path)); });
        QVERIFY2(message.find("'visual.transformer.resblocks.1.mlp.c_fc.weight' expected shape [512, 128], found [500, 128]") !=
                     std::string::npos,
                 message.c_str());
    }

    void unexpectedKeyIsAnError()
    {
        StateDict extra = m_weights;
        extra["visual.extra_token"] = torch::zeros({3});
        const std::string path = m_root + "/extra.safetensors";
        writeOpenAiSafetensors(extra, path);
        const std::string message = errorOf([&] { buildModel(readCheckpoint(path)); });
        QVERIFY2(message.find("unexpected key 'visual.extra_token' with shape [3]") != std::string::npos, message.c_str());
    }

    // ResNet CLIP loads (tst_resnet_clip); timm's renaming of its image tower is refused by name.
    void timmResNetClipIsRefusedByName()
    {
        StateDict byobnet;
        byobnet["stem.conv1.conv.weight"] = torch::zeros({32, 3, 3, 3});
        byobnet["stages.0.0.conv1_1x1.conv.weight"] = torch::zeros({64, 64, 1, 1});
        const std::string path = m_root + "/resnet50_clip.safetensors";
        writeSafetensors(byobnet, path);
        const std::string message = errorOf([&] { readCheckpoint(path); });
        QVERIFY2(message.find("resnet50_clip.safetensors") != std::string::npos && message.find("ByobNet") != std::string::npos,
                 message.c_str());
    }

    void errorsShowTheirFirstLine()
    {
        // What every front-end shows of a message: its first line, without the spaces around it.
        QCOMPARE(firstLine(" PyTorchStreamReader failed \r\nException raised from ... (most recent call first):\nframe #0"),
                 std::string("PyTorchStreamReader failed"));
        QCOMPARE(firstLine("one line"), std::string("one line"));
        QCOMPARE(firstLine("\nafter an empty line"), std::string());
        QCOMPARE(firstLine(""), std::string());
    }

    void badFilesGiveOneLineErrors()
    {
        const std::string garbage = m_root + "/garbage.pt";
        std::ofstream(garbage) << "this is not a checkpoint";
        QVERIFY(errorOf([&] { readCheckpoint(garbage); }).find("not a recognised checkpoint") != std::string::npos);

        // A TorchScript archive cut in half.
        const std::string truncated = m_root + "/truncated.pt";
        fs::copy_file(m_root + "/tiny.pt", truncated);
        fs::resize_file(truncated, fs::file_size(truncated) / 2);
        const std::string cut = errorOf([&] { readCheckpoint(truncated); });
        QVERIFY2(cut.find("truncated.pt") != std::string::npos && cut != "(no error)", cut.c_str());
        QVERIFY2(cut.find('\n') == std::string::npos, cut.c_str());  // LibTorch's stack trace left out

        QVERIFY(errorOf([&] { readCheckpoint(m_root + "/nope.pt"); }).find("no such file") != std::string::npos);

        fs::create_directories(m_root + "/not-clip");
        std::ofstream(m_root + "/not-clip/config.json") << R"({"model_type": "bert"})";
        const std::string bert = errorOf([&] { readCheckpoint(m_root + "/not-clip"); });
        QVERIFY2(bert.find("model_type 'bert' is not a CLIP model") != std::string::npos, bert.c_str());

        fs::create_directories(m_root + "/no-weights");
        std::ofstream(m_root + "/no-weights/config.json") << R"({"model_type": "clip"})";
        QVERIFY(errorOf([&] { readCheckpoint(m_root + "/no-weights"); }).find("no model.safetensors") != std::string::npos);

        StateDict unknown;
        unknown["encoder.weight"] = torch::zeros({2});
        writeSafetensors(unknown, m_root + "/unknown.safetensors");
        QVERIFY(errorOf([&] { readCheckpoint(m_root + "/unknown.safetensors"); }).find("match no supported naming") !=
                std::string::npos);
    }

private:
    QTemporaryDir m_dir;
    std::string m_root;
    ModelSpec m_spec;
    StateDict m_weights;
};

QTEST_APPLESS_MAIN(TestCheckpoints)
#include "tst_checkpoints.moc"
