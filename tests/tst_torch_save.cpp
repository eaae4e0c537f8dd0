// torch.save files (pytorch_model.bin, open_clip and timm .pt/.pth): the fixtures in tests/fixtures/torch-save
// were written by Python's torch.save (tests/fixtures/make_torch_save_fixtures.py); every value is a formula
// of its position, recomputed here.
#include "core/Error.h"
#include "core/model/ModelSpec.h"
#include "core/io/CheckpointLoader.h"
#include "core/io/TorchSave.h"

#include <QtTest>

#include <nlohmann/json.hpp>

#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;
using namespace tunebench;

namespace {

std::string fixture(const std::string& name)
{
    const char* source = std::getenv("TUNEBENCH_SOURCE_DIR");
    return (fs::path(source ? source : ".") / "tests" / "fixtures" / "torch-save" / name).string();
}

// k * scale + shift over the elements in row-major order, as the generator's ramp().
torch::Tensor ramp(std::vector<int64_t> shape, double scale = 0.5, double shift = -3.0)
{
    int64_t n = 1;
    for (auto s : shape)
        n *= s;
    return (torch::arange(n, torch::kDouble) * scale + shift).reshape(shape);
}

QString errorOf(const std::function<void()>& action)
{
    try {
        action();
    } catch (const Error& e) {
        return QString::fromStdString(e.what());
    }
    return {};
}

void writeBytes(const std::string& path, const std::string& bytes)
{
    std::ofstream(path, std::ios::binary) << bytes;
}

// A legacy-format file around one object pickle (protocol 2 body, without PROTO and STOP).
std::string legacyFile(const std::string& objectBody)
{
    const std::string magic("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.", 15);
    const std::string version("\x80\x02M\xe9\x03.", 6);
    const std::string info("\x80\x02}.", 4);
    return magic + version + info + "\x80\x02" + objectBody + "." + std::string("\x80\x02].", 4);
}

} // namespace

class TestTorchSave : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void readsEveryTensorKind_data()
    {
        QTest::addColumn<QString>("file");
        QTest::newRow("zip (PyTorch >= 1.6)") << "tensors-zip.pt";
        QTest::newRow("legacy (before 1.6)") << "tensors-legacy.pt";
    }

    void readsEveryTensorKind()
    {
        QFETCH(QString, file);
        const std::string path = fixture(file.toStdString());
        QCOMPARE(int(torchSaveKind(path)), int(file.contains("zip") ? TorchSaveKind::Zip : TorchSaveKind::Legacy));
        const StateDict t = readTorchSave(path);
        QCOMPARE(t.size(), size_t(11));
        auto check = [&](const char* name, c10::ScalarType dtype, const torch::Tensor& expected) {
            QVERIFY2(t.count(name), name);
            const torch::Tensor& got = t.at(name);
            QVERIFY2(got.scalar_type() == dtype, name);
            QVERIFY2(got.sizes() == expected.sizes(), name);
            QVERIFY2(got.to(torch::kDouble).equal(expected.to(torch::kDouble)), name);
        };
        check("f32", torch::kFloat, ramp({3, 4}));
        check("f16", torch::kHalf, ramp({2, 3}));
        check("f64", torch::kDouble, ramp({2}));
        check("i64", torch::kLong, torch::arange(5, torch::kLong) - 2);
        check("u8", torch::kByte, torch::arange(4, torch::kLong) * 60);
        check("flag", torch::kBool, torch::tensor({1, 0, 1}));
        check("scalar", torch::kFloat, torch::tensor(2.5, torch::kDouble).reshape({}));
        check("view_a", torch::kFloat, torch::arange(2, 6, torch::kDouble));
        check("view_b", torch::kFloat, torch::arange(5, 10, torch::kDouble).reshape({5, 1}));
        check("transposed", torch::kFloat, ramp({2, 3}).t());
        check("param", torch::kFloat, ramp({3}, 1.0, 1.0));
        // The two views keep sharing one storage; the transposed tensor keeps its strides.
        QVERIFY(t.at("view_a").is_alias_of(t.at("view_b")));
        QCOMPARE(t.at("transposed").strides().vec(), (std::vector<int64_t>{1, 3}));
    }

    void readsBfloat16()
    {
        const StateDict t = readTorchSave(fixture("bf16-zip.pt"));
        QVERIFY(t.at("bf16").scalar_type() == torch::kBFloat16);
        QVERIFY(t.at("bf16").to(torch::kDouble).equal(ramp({2, 2})));
    }

    // What PyTorch 2.x writes for dtypes without a storage class and for tensor subclasses (hand-built).
    void readsRebuildV3AndSubclasses()
    {
        const StateDict t = readTorchSave(fixture("v3-zip.pt"));
        QCOMPARE(t.size(), size_t(2));
        QVERIFY(t.at("v3").scalar_type() == torch::kHalf);
        QVERIFY(t.at("v3").to(torch::kDouble).equal(torch::tensor({1.5, -2.0}, torch::kDouble)));
        QVERIFY(t.at("sub").scalar_type() == torch::kFloat);
        QVERIFY(t.at("sub").to(torch::kDouble).equal(torch::tensor({0.25, 4.0}, torch::kDouble)));
    }

    // A training checkpoint: {"epoch", "state_dict" with module. prefixes, "optimizer", argparse.Namespace}.
    void loadsATrainingCheckpointAsAModel_data()
    {
        QTest::addColumn<QString>("file");
        QTest::newRow("zip") << "open_clip-train.pt";
        QTest::newRow("legacy") << "open_clip-train-legacy.pt";
    }

    void loadsATrainingCheckpointAsAModel()
    {
        QFETCH(QString, file);
        const std::string path = fixture(file.toStdString());
        QCOMPARE(int(detectCheckpointFormat(path)), int(CheckpointFormat::TorchSave));
        const Checkpoint checkpoint = readCheckpoint(path);
        QCOMPARE(checkpoint.spec.format, std::string("openai-torch-save"));
        QCOMPARE(checkpoint.weights.size(), size_t(38));  // the model's tensors only, not the optimizer's
        QCOMPARE(checkpoint.spec.vision.width, 16);
        QCOMPARE(checkpoint.spec.vision.patchSize, 8);
        QCOMPARE(checkpoint.spec.vision.imageSize, 16);
        QCOMPARE(checkpoint.spec.vision.outputDim, 8);
        QVERIFY(checkpoint.spec.text.has_value());
        QCOMPARE(checkpoint.spec.text->contextLength, 8);
        QCOMPARE(checkpoint.spec.text->vocabSize, 64);
        QVERIFY(checkpoint.weights.at("visual.conv1.weight").to(torch::kDouble).allclose(ramp({16, 3, 8, 8}, 0.001, 0.0), 0, 1e-6));
        ModelSpec spec;
        ClipModel model = loadModel(path, {}, &spec);  // strict: every parameter present with its shape
        QCOMPARE(spec.parameterCount, checkpoint.spec.parameterCount);
        torch::NoGradGuard noGrad;
        const auto features = model->encodeImage(torch::zeros({1, 3, 16, 16}));
        QCOMPARE(features.sizes().vec(), (std::vector<int64_t>{1, 8}));
    }

    // The same weights under Hugging Face names in a folder with only pytorch_model.bin and config.json.
    void readsAHuggingFaceFolderWithPytorchModelBin()
    {
        const Checkpoint hf = readCheckpoint(fixture("hf-bin"));
        const Checkpoint openai = readCheckpoint(fixture("open_clip-train.pt"));
        QCOMPARE(hf.spec.format, std::string("huggingface"));
        QCOMPARE(hf.spec.vision.heads, 2);
        QCOMPARE(hf.weights.size(), openai.weights.size());
        for (const auto& [name, tensor] : openai.weights) {
            QVERIFY2(hf.weights.count(name), name.c_str());
            QVERIFY2(hf.weights.at(name).reshape(tensor.sizes()).equal(tensor), name.c_str());
        }
        QVERIFY(!hf.spec.sha256.empty());
    }

    // Found by fuzzing: integers given as huge floats are refused (converting them was undefined
    // behaviour), as are ids outside the vocabulary and activations we do not implement.
    void huggingFaceConfigFieldsAreChecked()
    {
        auto apply = [](const char* text) {
            ModelSpec spec;
            spec.vision.width = 16;
            spec.vision.heads = 2;
            spec.text = TextSpec{};
            spec.text->width = 16;
            spec.text->heads = 2;
            spec.text->vocabSize = 64;
            return errorOf([&] { applyHuggingFaceConfig(nlohmann::json::parse(text), spec, "config.json"); });
        };
        QCOMPARE(apply(R"({"text_config": {"eos_token_id": 63}})"), QString());
        QVERIFY(apply(R"({"text_config_dict": {"eos_token_id": 2.2e126}})").contains("\"eos_token_id\" must be an integer"));
        QVERIFY(apply(R"({"text_config": {"eos_token_id": 64}})").contains("outside the vocabulary"));
        QVERIFY(apply(R"({"vision_config": {"num_attention_heads": 1.5}})").contains("num_attention_heads"));
        QVERIFY(apply(R"({"vision_config": {"hidden_act": "relu"}})").contains("not supported"));
        QVERIFY(apply(R"({"vision_config": {"layer_norm_eps": "small"}})").contains("wrong type"));
        QVERIFY(apply(R"([1, 2])").contains("not a JSON object"));
    }

    void badFilesGiveErrorsNamingThem()
    {
        QTemporaryDir dir;
        const std::string root = dir.path().toStdString();
        std::ifstream in(fixture("tensors-legacy.pt"), std::ios::binary);
        const std::string legacy((std::istreambuf_iterator<char>(in)), {});

        // Truncated: inside the pickle, and inside the storages.
        for (std::size_t keep : {legacy.size() / 3, legacy.size() - 10}) {
            const std::string path = root + "/cut-" + std::to_string(keep) + ".pt";
            writeBytes(path, legacy.substr(0, keep));
            const QString message = errorOf([&] { readTorchSave(path); });
            QVERIFY2(message.startsWith(QString::fromStdString(path)) && message.contains("truncated"), qPrintable(message));
        }
        // A call of os.system('ls') is never executed: it is an opaque value, and the file holds no tensors.
        const std::string system = root + "/system.pt";
        static const char call[] = "cposix\nsystem\nX\x02\x00\x00\x00ls\x85R";
        writeBytes(system, legacyFile(std::string(call, sizeof call - 1)));
        QVERIFY(errorOf([&] { readTorchSave(system); }).contains("no tensors"));
        // A tensor kind we do not read is named.
        const std::string sparse = root + "/sparse.pt";
        writeBytes(sparse, legacyFile("ctorch._utils\n_rebuild_sparse_tensor\n)R"));
        QVERIFY(errorOf([&] { readTorchSave(sparse); }).contains("_rebuild_sparse_tensor"));
        // A dict that contains itself (memo reference) ends in an error, not an endless walk.
        const std::string cycle = root + "/cycle.pt";
        static const char selfReference[] = "}q\x00X\x01\x00\x00\x00" "ah\x00s";  // d = {}; d["a"] = d
        writeBytes(cycle, legacyFile(std::string(selfReference, sizeof selfReference - 1)));
        QVERIFY(errorOf([&] { readTorchSave(cycle); }).contains("nested more than"));
        // Lists nested 200,000 deep (each appended to the one before): an error, neither a stack overflow
        // while walking them nor while freeing them.
        const std::string deep = root + "/deep.pt";
        const int depth = 200000;
        writeBytes(deep, legacyFile(std::string(depth, ']') + std::string(depth - 1, 'a')));
        QVERIFY(errorOf([&] { readTorchSave(deep); }).contains("nested more than"));
        // A list that holds itself (l = []; l.append(l)) is freed too (a leak checker sees no cycle left).
        const std::string selfList = root + "/self-list.pt";
        static const char appendsItself[] = "]q\x00h\x00" "a";
        writeBytes(selfList, legacyFile(std::string(appendsItself, sizeof appendsItself - 1)));
        const QString selfListError = errorOf([&] { readTorchSave(selfList); });
        QVERIFY2(selfListError.contains("no tensors"), qPrintable(selfListError));
        // Found by fuzzing: a zip record whose central directory claims 4 GB in a 912-byte file is refused
        // before LibTorch's reader allocates the claimed size.
        const std::string claims = std::string(std::getenv("TUNEBENCH_SOURCE_DIR") ? std::getenv("TUNEBENCH_SOURCE_DIR") : ".") +
                                   "/fuzz/corpus/torch_save/regression-record-claims-4gb.pt";
        const QString claimsError = errorOf([&] { readTorchSave(claims); });
        QVERIFY2(claimsError.contains("more than the file holds"), qPrintable(claimsError));
        // An opcode outside what torch.save writes (INT, text form), with its offset.
        const std::string opcode = root + "/opcode.pt";
        writeBytes(opcode, legacyFile("I1\n"));
        const QString message = errorOf([&] { readTorchSave(opcode); });
        QVERIFY2(message.contains("unsupported opcode 0x49") && message.contains("at byte"), qPrintable(message));
        // Through the loader, a corrupt zip is named too.
        std::ifstream zipIn(fixture("tensors-zip.pt"), std::ios::binary);
        const std::string zip((std::istreambuf_iterator<char>(zipIn)), {});
        const std::string cutZip = root + "/cut.bin";
        writeBytes(cutZip, zip.substr(0, zip.size() / 2));
        QVERIFY(errorOf([&] { readCheckpoint(cutZip); }).startsWith(QString::fromStdString(cutZip)));
    }
};

QTEST_APPLESS_MAIN(TestTorchSave)
#include "tst_torch_save.moc"
