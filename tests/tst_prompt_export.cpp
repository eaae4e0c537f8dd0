// Run folders and tuned-prompt export/import: atomic files, run listing, the safetensors + manifest
// pair, nearest words, the round trip to the same logits, new classes, refusals and hash warnings.
#include "core/Error.h"
#include "core/export/PromptExport.h"
#include "core/io/AtomicFile.h"
#include "core/io/CheckpointLoader.h"
#include "core/io/ClipTokenizer.h"
#include "core/io/StateDict.h"
#include "core/train/RunStore.h"
#include "core/tuning/prompt/ClipStrategy.h"
#include "core/tuning/prompt/CoopStrategy.h"
#include "tests/ClipVocabulary.h"
#include "tests/ModelFixtures.h"

#include <QtTest>

#include <torch/torch.h>

#include <algorithm>
#include <filesystem>

namespace fs = std::filesystem;
using namespace tunebench;

namespace {

ClipModel tinyModel(const std::string& hash = "abc123")
{
    Checkpoint checkpoint{test::tinyClipSpec(), test::randomWeights(test::tinyClipSpec(), 3)};
    checkpoint.spec.name = "tiny";
    checkpoint.spec.format = "openai-safetensors";
    checkpoint.spec.sha256 = hash;
    return buildModel(checkpoint);
}

// The demo model's vocabulary: these tests tokenize prompts but need none of OpenAI's ids.
std::shared_ptr<const ClipTokenizer> vocabulary()
{
    static auto tokenizer = std::make_shared<const ClipTokenizer>(ClipTokenizer::load(test::demoVocabularyPath()));
    return tokenizer;
}

TaskSetup task(std::vector<std::string> classes = {"cat", "dog", "bird"})
{
    TaskSetup setup;
    setup.classNames = std::move(classes);
    setup.datasetName = "toy";
    setup.tokenizer = vocabulary();
    return setup;
}

std::unique_ptr<Strategy> trainedLike(const std::string& method, ClipModel model, const nlohmann::json& params)
{
    torch::manual_seed(4);
    auto strategy = findStrategy(method).create();
    strategy->attach(model, task(), params);
    torch::NoGradGuard noGrad;
    for (auto& p : strategy->trainableParameters())
        p.add_(0.05 * torch::randn_like(p));  // as if trained
    return strategy;
}

} // namespace

class TestPromptExport : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        torch::set_num_threads(2);
        QVERIFY(m_dir.isValid());
        m_root = m_dir.path().toStdString();
    }

    void runStoreWritesAndListsRuns()
    {
        const std::string root = m_root + "/runs";
        RunStore first = RunStore::create(root, "coop", "fashion-mnist");
        RunStore second = RunStore::create(root, "coop", "fashion-mnist");
        QVERIFY(first.folder() != second.folder());
        QVERIFY(fs::is_directory(first.checkpointDir()));
        QVERIFY(fs::is_directory(first.exportDir()));
        first.writeConfig({{"method", "coop"}, {"dataset", "fashion-mnist"}, {"model", "m.pt"}, {"created", RunStore::utcNow()}});
        first.appendMetric({{"step", 1}, {"loss", 2.5}});
        first.appendMetric({{"step", 2}, {"loss", 1.5}});
        const auto metrics = first.readMetrics();
        QCOMPARE(metrics.size(), size_t(2));
        QCOMPARE(metrics[1]["loss"].get<double>(), 1.5);
        QVERIFY(first.readResults().is_null());
        auto runs = listRuns(root);
        QCOMPARE(runs.size(), size_t(1));  // the second has no config.json yet
        QCOMPARE(runs[0].status, std::string("running"));
        first.writeResults({{"status", "finished"}, {"accuracy", 0.75}});
        QVERIFY(!fs::exists(first.folder() + "/results.json.tmp"));
        runs = listRuns(root);
        QCOMPARE(runs[0].method, std::string("coop"));
        QCOMPARE(runs[0].status, std::string("finished"));
        QCOMPARE(runs[0].results["accuracy"].get<double>(), 0.75);
        QVERIFY(listRuns(m_root + "/missing").empty());
        QVERIFY_THROWS_EXCEPTION(Error, RunStore::open(second.folder()));
        QCOMPARE(RunStore::open(first.folder()).readConfig()["dataset"].get<std::string>(), std::string("fashion-mnist"));
    }

    void nearestWordsOfPhraseInitialisedContextAreThePhrase()
    {
        auto model = tinyModel();
        auto strategy = findStrategy("coop").create();
        strategy->attach(model, task(), {{"ctx_init", "a photo of a"}});
        auto& coop = dynamic_cast<ClipStrategy&>(*strategy);
        const auto nearest = PromptExport::nearestWords(coop.contextVectors(), model->text->token_embedding->weight, *vocabulary(), 3);
        QCOMPARE(nearest.size(), size_t(4));
        const std::vector<std::string> words = {"a", "photo", "of", "a"};
        for (size_t i = 0; i < 4; ++i) {
            QCOMPARE(nearest[i].words.front(), words[i]);
            QVERIFY(nearest[i].distances.front() < 1e-4);
            QVERIFY(nearest[i].distances[1] > nearest[i].distances.front());
        }
        // A random context's neighbours are words too: no start/end marker, no token without a letter or digit.
        auto random = findStrategy("coop").create();
        random->attach(model, task(), {{"n_ctx", 8}});
        for (const auto& vector : PromptExport::nearestWords(dynamic_cast<ClipStrategy&>(*random).contextVectors(),
                                                             model->text->token_embedding->weight, *vocabulary(), 5)) {
            QCOMPARE(vector.words.size(), size_t(5));
            for (const std::string& word : vector.words) {
                QVERIFY2(word.find("<|") == std::string::npos, word.c_str());
                QVERIFY2(word.find("\xEF\xBF\xBD") == std::string::npos, word.c_str());  // no replacement character
                QVERIFY2(std::any_of(word.begin(), word.end(), [](unsigned char c) { return std::isalnum(c) || c >= 0x80; }), word.c_str());
            }
        }
    }

    void roundTripGivesTheSameLogits_data()
    {
        QTest::addColumn<QString>("method");
        QTest::addColumn<QString>("params");
        QTest::newRow("coop") << "coop" << R"({"n_ctx": 4})";
        QTest::newRow("coop-csc") << "coop" << R"({"n_ctx": 2, "csc": true, "class_token_position": "middle"})";
        QTest::newRow("cocoop") << "cocoop" << "{}";
        QTest::newRow("kgcoop") << "kgcoop" << "{}";
        QTest::newRow("clip-adapter") << "clip-adapter" << "{}";
        QTest::newRow("zeroshot") << "zeroshot" << R"({"mode": "ensemble7"})";
        QTest::newRow("maple") << "maple" << R"({"depth": 2})";
        QTest::newRow("ivlp") << "ivlp" << "{}";
        QTest::newRow("promptsrc") << "promptsrc" << "{}";
        QTest::newRow("prompt-tuning") << "prompt-tuning" << R"({"n_ctx": 4})";
        QTest::newRow("p-tuning") << "p-tuning" << R"({"n_ctx": 3})";
        QTest::newRow("prefix-tuning") << "prefix-tuning" << R"({"prefix_length": 3, "mid_dim": 8})";
        QTest::newRow("p-tuning-v2") << "p-tuning-v2" << "{}";
    }
    void roundTripGivesTheSameLogits()
    {
        QFETCH(QString, method);
        QFETCH(QString, params);
        auto model = tinyModel();
        auto strategy = trainedLike(method.toStdString(), model, nlohmann::json::parse(params.toStdString()));
        auto& clip = dynamic_cast<ClipStrategy&>(*strategy);
        const std::string base = m_root + "/export-" + QTest::currentDataTag();
        const auto manifest = PromptExport::write(clip, base, {{"accuracy", 0.5}});
        QVERIFY(fs::exists(base + ".json"));
        QVERIFY(fs::exists(base + ".safetensors"));
        const auto tensors = readSafetensors(base + ".safetensors");
        QCOMPARE(tensors.at("class_text_features").sizes().vec(), (std::vector<int64_t>{3, 48}));
        QCOMPARE(manifest["method"].get<std::string>(), method.toStdString());
        QCOMPARE(manifest["class_names"].get<std::vector<std::string>>(), task().classNames);
        QCOMPARE(manifest["checkpoint"]["sha256"].get<std::string>(), std::string("abc123"));
        QCOMPARE(manifest["metrics"]["accuracy"].get<double>(), 0.5);
        QCOMPARE(manifest["tokenizer"].get<std::string>(), vocabulary()->description());
        if (method.startsWith("co") || method == "kgcoop") {
            QVERIFY(tensors.count("ctx"));
            QVERIFY(!manifest["nearest_words"].empty());
            QCOMPARE(manifest["nearest_words"][0]["nearest"].size(), size_t(5));
        }
        if (method == "cocoop")
            QVERIFY(tensors.count("meta_net.linear1.weight"));
        // Deep prompts and prefixes: every exported tensor's role (and layer) is named in the manifest.
        if (manifest.contains("tensor_roles"))
            for (const auto& [key, tensor] : tensors)
                QVERIFY2(manifest["tensor_roles"].contains(key), key.c_str());
        if (method.contains("prefix") || method == "p-tuning-v2" || method == "maple" || method.contains("src") || method == "ivlp")
            QVERIFY(manifest.contains("tensor_roles"));
        if (method.contains("prefix") || method == "p-tuning-v2")
            QVERIFY(tensors.count("prefix_keys") && !tensors.count("prefix_embedding"));  // plain prefixes only

        auto images = torch::randn({3, 3, 32, 32});
        const auto expected = strategy->logits(images);
        ImportedPrompt imported = PromptExport::read(base + ".json", tinyModel(), task());
        QVERIFY(imported.warnings.empty());
        QVERIFY(torch::allclose(imported.strategy->logits(images), expected, 1e-5, 1e-6));
    }

    void importOnNewClassesAndRefusals()
    {
        auto model = tinyModel();
        const std::string base = m_root + "/unified";
        auto coop = trainedLike("coop", model, {{"n_ctx", 4}});
        PromptExport::write(dynamic_cast<ClipStrategy&>(*coop), base);
        ImportedPrompt imported = PromptExport::read(base, tinyModel(), task({"horse", "ship"}));
        QCOMPARE(imported.strategy->logits(torch::randn({2, 3, 32, 32})).sizes().vec(), (std::vector<int64_t>{2, 2}));
        // Same context vectors as exported.
        QVERIFY(torch::equal(imported.strategy->trainableParameters().front(), coop->trainableParameters().front()));

        const std::string cscBase = m_root + "/csc";
        auto csc = trainedLike("coop", model, {{"n_ctx", 2}, {"csc", true}});
        PromptExport::write(dynamic_cast<ClipStrategy&>(*csc), cscBase);
        try {
            PromptExport::read(cscBase + ".json", tinyModel(), task({"horse", "ship"}));
            QFAIL("class-specific contexts were applied to unseen classes");
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find("class-specific") != std::string::npos, e.what());
        }
        // Another model's hash: accepted with a warning.
        ImportedPrompt other = PromptExport::read(base + ".json", tinyModel("ffff"), task());
        QCOMPARE(other.warnings.size(), size_t(1));
        QVERIFY(other.warnings[0].find("sha256") != std::string::npos);
        // A file that is not an export.
        writeFileAtomically(m_root + "/bogus.json", "{\"hello\": 1}");
        QVERIFY_THROWS_EXCEPTION(Error, PromptExport::read(m_root + "/bogus.json", tinyModel(), task()));
        // A damaged export: fields of the wrong type are an Error naming the manifest, not a JSON exception.
        for (const auto& [field, value] : {std::pair<const char*, nlohmann::json>{"class_names", 3}, {"template", nlohmann::json::array()}}) {
            auto manifest = RunStore::readJsonFile(base + ".json");
            manifest[field] = value;
            fs::copy_file(base + ".safetensors", m_root + "/damaged.safetensors", fs::copy_options::overwrite_existing);
            writeFileAtomically(m_root + "/damaged.json", manifest.dump());
            try {
                PromptExport::read(m_root + "/damaged.json", tinyModel(), task());
                QFAIL("a damaged manifest was read");
            } catch (const Error& e) {
                QVERIFY2(std::string(e.what()).find("damaged.json") != std::string::npos && std::string(e.what()).find("wrong type") != std::string::npos,
                         e.what());
            }
        }
    }

    // A classic ViT method exports and imports through the same pair; import refuses another model when asked
    // to, and a tensors file that is a link out of the manifest's folder.
    void everyFamilyRoundTripsAndStaysInItsFolder()
    {
        auto model = tinyModel();
        auto strategy = trainedLike("vpt-deep", model, {{"prompt_tokens", 2}});
        const std::string base = m_root + "/classic";
        const auto manifest = PromptExport::write(*strategy, base);
        QCOMPARE(manifest["class_names"].get<std::vector<std::string>>(), task().classNames);
        QCOMPARE(manifest["checkpoint"]["sha256"].get<std::string>(), std::string("abc123"));
        QCOMPARE(manifest["tensors"].get<std::string>(), std::string("classic.safetensors"));
        QVERIFY(manifest["nearest_words"].empty());
        QCOMPARE(PromptExport::exportName(*strategy), std::string("tuned"));
        const auto images = torch::randn({2, 3, 32, 32});
        ImportedPrompt imported = PromptExport::read(base + ".json", tinyModel(), task(), ModelMismatch::Refuse);
        QVERIFY(torch::allclose(imported.strategy->logits(images), strategy->logits(images), 1e-5, 1e-6));
        try {
            PromptExport::read(base + ".json", tinyModel("ffff"), task(), ModelMismatch::Refuse);
            QFAIL("another model's export was imported");
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find("classic.json") != std::string::npos && std::string(e.what()).find("sha256") != std::string::npos,
                     e.what());
        }
        const fs::path linked = fs::path(m_root) / "linked";
        fs::create_directories(linked);
        fs::create_symlink(base + ".safetensors", linked / "classic.safetensors");
        fs::copy_file(base + ".json", linked / "classic.json");
        try {
            PromptExport::read((linked / "classic.json").string(), tinyModel(), task());
            QFAIL("a tensors link out of the manifest's folder was followed");
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find("leaves the manifest's folder") != std::string::npos, e.what());
        }
    }

private:
    QTemporaryDir m_dir;
    std::string m_root;
};

QTEST_APPLESS_MAIN(TestPromptExport)
#include "tst_prompt_export.moc"
