// Domain adaptation (issue 17): DAPL's prompt layout for K classes x 2 domains, its pseudo-label rule and
// losses, its inference rule; the readers of the Office-Home, VisDA-2017 and mini-DomainNet layouts; and, on
// the demo model through `tunebench-cli adapt`, that permuting the target's training labels changes nothing
// DAPL learns, while the same permutation of a source changes what CoOp learns.
#include "core/data/DatasetLayouts.h"
#include "core/data/DomainAdaptationData.h"
#include "core/data/IdxFile.h"
#include "core/io/ClipTokenizer.h"
#include "core/io/Safetensors.h"
#include "core/tuning/adaptation/DaplStrategy.h"
#include "tests/CliRunner.h"
#include "tests/ClipVocabulary.h"
#include "tests/ErrorOf.h"
#include "tests/ModelFixtures.h"

#include <QtTest>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>

namespace fs = std::filesystem;
using namespace tunebench;
using test::errorOf;
using nlohmann::json;

namespace {

// The demo model's vocabulary: these tests tokenize prompts but need none of OpenAI's ids.
std::shared_ptr<const ClipTokenizer> vocabulary()
{
    static auto tokenizer = std::make_shared<const ClipTokenizer>(ClipTokenizer::load(test::demoVocabularyPath()));
    return tokenizer;
}

TaskSetup task()
{
    TaskSetup setup;
    setup.classNames = {"cat", "dog", "golden retriever"};
    setup.tokenizer = vocabulary();
    setup.domainNames = {"photo", "sketch"};
    return setup;
}

ClipModel tinyModel()
{
    ClipModel model(test::tinyClipSpec());
    model->eval();
    return model;
}

void touch(const fs::path& file)
{
    fs::create_directories(file.parent_path());
    std::ofstream(file) << "not decoded by the readers";
}

void writeText(const fs::path& file, const std::string& text)
{
    fs::create_directories(file.parent_path());
    std::ofstream(file) << text;
}

void writeIdxLabels(const fs::path& file, const std::vector<std::uint8_t>& labels)
{
    std::ofstream out(file, std::ios::binary);
    const auto n = static_cast<std::uint32_t>(labels.size());
    const unsigned char header[8] = {0, 0, 8, 1, static_cast<unsigned char>(n >> 24), static_cast<unsigned char>(n >> 16),
                                     static_cast<unsigned char>(n >> 8), static_cast<unsigned char>(n)};
    out.write(reinterpret_cast<const char*>(header), 8);
    out.write(reinterpret_cast<const char*>(labels.data()), static_cast<std::streamsize>(labels.size()));
}

std::string demoModel()
{
    const char* source = std::getenv("TUNEBENCH_SOURCE_DIR");
    return std::string(source ? source : ".") + "/resources/demo-model";
}

} // namespace

class TestDomainAdaptation : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        torch::set_num_threads(2);
        QVERIFY(m_dir.isValid());
        m_root = m_dir.path().toStdString();
    }

    // D x K learned prompts [SOT][agnostic ctx][domain ctx] class ", a {domain} image.." plus K fixed zero-shot
    // prompts, in the reference's order; each logit equals the prompt assembled here by hand.
    void promptLayoutForKClassesAndTwoDomains()
    {
        ClipModel model = tinyModel();
        torch::manual_seed(1);
        DaplStrategy dapl;
        dapl.attach(model, task(), json::object());
        const int64_t width = model->spec().text->width;
        QCOMPARE(dapl.trainableParameterCount(), 16 * width + 2 * 16 * width);
        std::string placeholders = "X";
        for (int i = 1; i < 32; ++i)
            placeholders += " X";
        const auto texts = dapl.promptTexts();
        QCOMPARE(texts.size(), std::size_t(6));
        QCOMPARE(texts[1], placeholders + " dog , a photo image..");
        QCOMPARE(texts[3 + 2], placeholders + " golden retriever , a sketch image..");

        const StateDict state = dapl.trainableState();
        const auto ctx = state.at("ctx"), domains = state.at("domain_vectors");
        QVERIFY(domains.sizes() == (c10::IntArrayRef{2, 16, width}));
        torch::manual_seed(2);
        const auto images = torch::randn({2, 3, 32, 32});
        torch::NoGradGuard noGrad;
        const auto logits = dapl.allLogits(images);
        QVERIFY(logits.sizes() == (c10::IntArrayRef{2, 9}));
        const auto image = torch::nn::functional::normalize(model->encodeImage(images), torch::nn::functional::NormalizeFuncOptions().dim(-1));
        const auto scale = model->logit_scale.exp();
        for (int d = 0; d < 2; ++d)
            for (int c = 0; c < 3; ++c) {
                const auto ids = vocabulary()->tokenizeToContext(texts[size_t(d * 3 + c)], 77);
                const auto tokens = torch::tensor(std::vector<int64_t>(ids.begin(), ids.end()), torch::kLong).unsqueeze(0);
                auto embedded = model->text->embedTokens(tokens).clone();
                embedded.narrow(1, 1, 32).copy_(torch::cat({ctx, domains[d]}, 0).unsqueeze(0));
                auto text = model->text->encodeEmbeddings(embedded, model->text->endPositions(tokens));
                text = text / text.norm(2, -1, true);
                const auto expected = scale * torch::matmul(image, text.t()).squeeze(1);
                QVERIFY2(torch::allclose(logits.select(1, d * 3 + c), expected, 1e-4, 1e-4), texts[size_t(d * 3 + c)].c_str());
            }
        // The last K columns are zero-shot CLIP with "a photo of a {}.".
        auto zeroShot = findStrategy("zeroshot").create();
        TaskSetup photo = task();
        photo.promptTemplate = "a photo of a {}.";
        zeroShot->attach(model, photo, json::object());
        QVERIFY(torch::allclose(logits.narrow(1, 6, 3), zeroShot->logits(images), 1e-4, 1e-4));

        // Class-specific agnostic contexts (the VisDA recipe): one per class, the domain contexts stay shared.
        DaplStrategy csc;
        csc.attach(model, task(), {{"csc", true}});
        QCOMPARE(csc.trainableParameterCount(), 3 * 16 * width + 2 * 16 * width);
        QVERIFY(csc.allLogits(images).sizes() == (c10::IntArrayRef{2, 9}));

        // At CLIP ViT-B/16 (text width 512), as methods-next.md computes: unified 16*512 + 2*16*512, and
        // class-specific for Office-Home's 65 classes 65*16*512 + 16,384.
        for (const auto& [options, expected] : {std::pair<QStringList, std::string>{{}, "24576 trainable"},
                                                {{"--opt", "csc=true", "--classes", "65"}, "548864 trainable"}}) {
            const auto counted = test::runCli(QStringList{"params", "--model", "clip-vit-b16", "--strategy", "dapl", "--tasks", "1", "--vocab",
                                                          QString::fromStdString(test::demoVocabularyPath())} + options);
            QVERIFY2(counted.exitCode == 0 && counted.err.find(expected) != std::string::npos, counted.err.c_str());
        }

        TaskSetup noDomains = task();
        noDomains.domainNames.clear();
        DaplStrategy lost;
        QVERIFY(errorOf([&] { lost.attach(model, noDomains, json::object()); }).find("adapt") != std::string::npos);
    }

    // softmax(zero-shot logits / T): argmax is the pseudo-label, kept when its probability reaches tau.
    void pseudoLabelThresholdRule()
    {
        const auto logits = torch::tensor({2.0, 0.0, 0.0, /**/ 0.5, 0.0, 0.0, /**/ 0.0, 0.0, 3.0, /**/ 0.0, 0.0, 0.0}).view({4, 3});
        // T = 1: e^2/(e^2+2) = 0.787 kept; e^0.5/(e^0.5+2) = 0.452 dropped; 0.909 kept; 1/3 dropped.
        auto rule = DaplStrategy::pseudoLabels(logits, 1.0, 0.5);
        QCOMPARE(rule.labels[0].item<int64_t>(), int64_t(0));
        QCOMPARE(rule.labels[2].item<int64_t>(), int64_t(2));
        QVERIFY(torch::equal(rule.mask, torch::tensor({1.0f, 0.0f, 1.0f, 0.0f})));
        // T = 0.25 sharpens: row 1 becomes e^2/(e^2+2) = 0.787 and is kept.
        QVERIFY(torch::equal(DaplStrategy::pseudoLabels(logits, 0.25, 0.5).mask, torch::tensor({1.0f, 1.0f, 1.0f, 0.0f})));
        // A probability exactly at tau is kept (>=): two equal logits give 0.5.
        QVERIFY(torch::equal(DaplStrategy::pseudoLabels(torch::zeros({1, 2}), 1.0, 0.5).mask, torch::tensor({1.0f})));
        QVERIFY(torch::equal(DaplStrategy::pseudoLabels(logits, 1.0, 0.95).mask, torch::zeros({4})));
    }

    // The step: CE of the source rows on the source slice, plus U x the masked mean CE of the target rows
    // (label -1) on the target slice against their pseudo-labels; each loss reaches only its domain's context.
    void lossesUseOneSliceEach()
    {
        ClipModel model = tinyModel();
        torch::manual_seed(3);
        DaplStrategy dapl;
        dapl.attach(model, task(), {{"threshold", 0.34}, {"target_weight", 0.5}});
        dapl.setTraining(true);
        torch::manual_seed(4);
        const Batch batch{torch::randn({5, 3, 32, 32}), torch::tensor({0, 2, -1, -1, -1}), {}};
        const StepOutput step = dapl.trainStep(batch);
        {
            torch::NoGradGuard noGrad;
            const auto logits = dapl.allLogits(batch.inputs);
            const auto sourceLoss =
                torch::nn::functional::cross_entropy(logits.narrow(0, 0, 2).narrow(1, 0, 3), torch::tensor({0, 2}));
            const auto rule = DaplStrategy::pseudoLabels(logits.narrow(0, 2, 3).narrow(1, 6, 3), 1.0, 0.34);
            const double kept = rule.mask.sum().item<double>();
            QVERIFY2(kept > 0, "at least one target image passes the threshold here");
            const auto perImage = torch::nn::functional::cross_entropy(
                logits.narrow(0, 2, 3).narrow(1, 3, 3), rule.labels, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
            const double expected = sourceLoss.item<double>() + 0.5 * (perImage * rule.mask).sum().item<double>() / kept;
            QVERIFY2(std::abs(step.loss.item<double>() - expected) < 1e-5, qPrintable(QString::number(step.loss.item<double>())));
            QCOMPARE(step.metrics.at("pseudo_label_coverage"), kept / 3);
        }
        // Target rows only: the source's domain context gets no gradient; source rows only: the target's.
        for (const bool targetOnly : {true, false}) {
            DaplStrategy fresh;
            fresh.attach(model, task(), {{"threshold", 0.0}});
            fresh.setTraining(true);
            const Batch rows{batch.inputs.narrow(0, 0, 2), targetOnly ? torch::tensor({-1, -1}) : torch::tensor({0, 1}), {}};
            fresh.trainStep(rows).loss.backward();
            const auto grad = fresh.trainableParameters()[1].grad();
            QVERIFY(grad.defined());
            QCOMPARE(grad[targetOnly ? 0 : 1].abs().sum().item<double>(), 0.0);
            QVERIFY(grad[targetOnly ? 1 : 0].abs().sum().item<double>() > 0);
            QVERIFY(fresh.trainableParameters()[0].grad().abs().sum().item<double>() > 0);  // the shared context learns from both
        }
        // No target image passing tau leaves the source term alone (the reference would divide by zero).
        DaplStrategy strict;
        strict.attach(model, task(), {{"threshold", 1.0}});
        const StepOutput none = strict.trainStep(batch);
        QVERIFY(std::isfinite(none.loss.item<double>()));
        QCOMPARE(none.metrics.at("pseudo_label_coverage"), 0.0);
    }

    // Inference scores with the target's prompts (the middle K columns), or the source's when asked.
    void inferenceRule()
    {
        ClipModel model = tinyModel();
        torch::manual_seed(5);
        DaplStrategy dapl;
        dapl.attach(model, task(), json::object());
        const auto images = torch::randn({3, 3, 32, 32});
        torch::NoGradGuard noGrad;
        const auto all = dapl.allLogits(images);
        QVERIFY(torch::allclose(dapl.logits(images), all.narrow(1, 3, 3), 1e-5, 1e-6));
        dapl.setInferenceSide(AdaptationSide::Source);
        QVERIFY(torch::allclose(dapl.logits(images), all.narrow(1, 0, 3), 1e-5, 1e-6));
        QVERIFY(!torch::allclose(all.narrow(1, 0, 3), all.narrow(1, 3, 3), 1e-5, 1e-6));
    }

    // Office-Home: a domain folder of class folders, used whole for training and testing.
    void officeHomeLayout()
    {
        const fs::path root = fs::path(m_root) / "office_home";
        for (const char* domain : {"art", "real_world"})
            for (const char* cls : {"Alarm_Clock", "Backpack", "Bike"})
                for (int i = 0; i < 3; ++i)
                    touch(root / domain / cls / (std::to_string(i) + ".jpg"));
        const DatasetIndex art = openAdaptationDomain((root / "art").string());
        QCOMPARE(art.classNames, (std::vector<std::string>{"Alarm Clock", "Backpack", "Bike"}));
        QCOMPARE(art.train.size(), std::size_t(9));
        QCOMPARE(art.test.size(), std::size_t(9));
        QVERIFY(art.val.empty());
        QCOMPARE(adaptationDomainName(art), std::string("art"));
        QCOMPARE(adaptationDomainName(openAdaptationDomain((root / "real_world").string() + "/")), std::string("real_world"));
        // A tree with train/test folders keeps its splits.
        const fs::path split = fs::path(m_root) / "split-tree";
        touch(split / "train" / "Bike" / "a.jpg");
        touch(split / "test" / "Bike" / "b.jpg");
        const DatasetIndex kept = openAdaptationDomain(split.string());
        QCOMPARE(kept.train.size(), std::size_t(1));
        QCOMPARE(kept.test.size(), std::size_t(1));
        QVERIFY(kept.train[0].path != kept.test[0].path);
        // Differing classes: one line naming them.
        touch(root / "clipart" / "Backpack" / "0.jpg");
        touch(root / "clipart" / "Bicycle" / "0.jpg");
        const std::string message = errorOf([&] { requireSameClasses(art, openAdaptationDomain((root / "clipart").string())); });
        QVERIFY2(message.find("Alarm Clock, Bike") != std::string::npos && message.find("Bicycle") != std::string::npos, message.c_str());
        QVERIFY(message.find('\n') == std::string::npos);
    }

    // Issue 32 (18): classes pair by normalised name (case, spaces, '_', '-', '/'), else by a class map;
    // the target's samples take the source's labels; what was decided is listed.
    void classesPairByNormalisedNameOrMap()
    {
        DatasetIndex source;
        source.name = "fashion-mnist";
        source.classNames = {"T-shirt/top", "Trouser", "Bag", "Ankle boot"};
        DatasetIndex target;
        target.name = "inv";
        target.classNames = {"ankle boot", "handbag", "T-shirt top", "trouser"};  // a folder tree's names, in path order
        for (int label = 0; label < 4; ++label)
            target.test.push_back({"/img" + std::to_string(label) + ".png", -1, label, 0});
        const std::string unpaired = errorOf([&] { matchClasses(source, target); });
        QVERIFY2(unpaired.find("only in fashion-mnist: Bag; only in inv: handbag") != std::string::npos &&
                     unpaired.find("--class-map") != std::string::npos,
                 unpaired.c_str());
        const DatasetIndex matched = matchClasses(source, target, {{"handbag", "bag"}});
        QCOMPARE(matched.classNames, source.classNames);
        QCOMPARE(matched.test[0].label, 3);  // ankle boot -> Ankle boot
        QCOMPARE(matched.test[1].label, 2);  // handbag -> Bag (the map)
        QCOMPARE(matched.test[2].label, 0);  // T-shirt top -> T-shirt/top
        QCOMPARE(matched.test[3].label, 1);
        requireSameClasses(source, matched);
        const json pairs = matched.classPairs;
        QCOMPARE(pairs.size(), std::size_t(4));  // none by the same name
        QCOMPARE(pairs[1], (json{{"target", "handbag"}, {"source", "Bag"}, {"by", "class map"}}));
        QCOMPARE(pairs[2], (json{{"target", "T-shirt top"}, {"source", "T-shirt/top"}, {"by", "normalised name"}}));
        // Same names: nothing to list. A map naming no class is refused, naming it.
        QVERIFY(matchClasses(source, source).classPairs.empty());
        QVERIFY(errorOf([&] { matchClasses(source, target, {{"purse", "Bag"}}); }).find("\"purse\" is not one of inv's classes") !=
                std::string::npos);
        QCOMPARE(normalisedClassName("T-shirt/top"), normalisedClassName("t_shirt TOP"));
    }

    // Issue 32 (18): a built-in source adapts to a folder tree of the same classes named as folders can be.
    void builtInSourceAdaptsToAFolderTreeOfItsClasses()
    {
        if (!fs::exists("/usr/share/datasets/fashion-mnist"))
            QSKIP("dataset-fashion-mnist is not installed");
        const fs::path tree = fs::path(m_root) / "inv";
        const std::vector<std::string> folders = {"T-shirt top", "trouser", "Pullover", "Dress", "Coat",
                                                  "Sandal", "Shirt", "Sneaker", "handbag", "ankle_boot"};
        for (std::size_t c = 0; c < folders.size(); ++c)
            for (int i = 0; i < 2; ++i) {
                fs::create_directories(tree / folders[c]);
                cv::Mat image(28, 28, CV_8UC3, cv::Scalar(double(20 * c), double(100 + 50 * i), 60));
                QVERIFY(cv::imwrite((tree / folders[c] / (std::to_string(i) + ".png")).string(), image));
            }
        const fs::path map = fs::path(m_root) / "inv-classes.json";
        writeText(map, R"({"handbag": "Bag"})");
        QStringList adapt = {"adapt", "--model", QString::fromStdString(demoModel()), "--source", "fashion-mnist", "--target",
                             QString::fromStdString(tree.string()), "--methods", "zeroshot", "--seeds", "1", "--max-test-images", "20",
                             "--threads", "2", "--runs", QString::fromStdString(m_root + "/runs-inv")};
        const auto refused = test::runCli(adapt);
        QVERIFY2(refused.exitCode != 0 && refused.err.find("only in fashion-mnist: Bag; only in inv: handbag") != std::string::npos,
                 refused.err.c_str());
        const auto adapted = test::runCli(adapt + QStringList{"--class-map", QString::fromStdString(map.string())});
        QVERIFY2(adapted.exitCode == 0, adapted.err.c_str());
        QVERIFY2(adapted.err.find("inv's \"T-shirt top\" is fashion-mnist's \"T-shirt/top\" (by normalised name)") != std::string::npos,
                 adapted.err.c_str());
        QVERIFY2(adapted.err.find("inv's \"handbag\" is fashion-mnist's \"Bag\" (by class map)") != std::string::npos, adapted.err.c_str());
        const json report = json::parse(adapted.out);
        const std::string run = report["methods"]["zeroshot"]["per_seed"][0]["run"].get<std::string>();
        const json results = json::parse(std::ifstream(fs::path(run) / "results.json"));
        QCOMPARE(results["class_matching"].size(), std::size_t(1));
        QCOMPARE(results["class_matching"][0]["dataset"].get<std::string>(), std::string("inv"));
        QCOMPARE(results["class_matching"][0]["pairs"].size(), std::size_t(4));  // T-shirt top, trouser, handbag, ankle boot
        const json config = json::parse(std::ifstream(fs::path(run) / "config.json"));
        QCOMPARE(config["settings"]["class_map"], (json{{"handbag", "Bag"}}));
    }

    // VisDA-2017: image_list.txt with "<class>/<file> <label>"; train is synthetic, validation real.
    void visdaImageLists()
    {
        const fs::path root = fs::path(m_root) / "visda17";
        writeText(root / "train" / "image_list.txt", "aeroplane/src_1_a.png 0\nbicycle/src_1_b.png 1\r\naeroplane/src_2_c.png 0\n\n");
        writeText(root / "validation" / "image_list.txt", "bicycle/v1.jpg 1\naeroplane/v2.jpg 0\n");
        const DatasetIndex synthetic = openDataset((root / "train").string());
        QCOMPARE(synthetic.layout, std::string("list"));
        QCOMPARE(synthetic.classNames, (std::vector<std::string>{"aeroplane", "bicycle"}));
        QCOMPARE(synthetic.train.size(), std::size_t(3));
        QCOMPARE(synthetic.test.size(), std::size_t(3));
        QCOMPARE(synthetic.train[1].label, 1);
        QVERIFY(fs::path(synthetic.train[1].path) == root / "train" / "bicycle" / "src_1_b.png");
        QCOMPARE(adaptationDomainName(synthetic), std::string("synthetic"));
        QCOMPARE(synthetic.name, std::string("visda17-synthetic"));
        const DatasetIndex real = openAdaptationDomain((root / "validation").string());
        QCOMPARE(adaptationDomainName(real), std::string("real"));
        requireSameClasses(synthetic, real);
        // Errors name the file and line.
        writeText(root / "bad" / "image_list.txt", "aeroplane/a.png 0\nbicycle/b.png 0\n");
        QVERIFY(errorOf([&] { openDataset((root / "bad").string()); }).find("image_list.txt:2: label 0 is 'bicycle'") != std::string::npos);
        writeText(root / "bad" / "image_list.txt", "aeroplane/a.png zero\n");
        QVERIFY(errorOf([&] { openDataset((root / "bad").string()); }).find("image_list.txt:1: the label 'zero'") != std::string::npos);
        writeText(root / "bad" / "image_list.txt", "aeroplane/a.png 0\ntruck/t.png 2\n");
        QVERIFY(errorOf([&] { openDataset((root / "bad").string()); }).find("no image has label 1") != std::string::npos);
    }

    // mini-DomainNet: ROOT/splits_mini/<domain>_{train,test}.txt list "<domain>/<class>/<file> <label>".
    void miniDomainNetSplitFiles()
    {
        const fs::path root = fs::path(m_root) / "domainnet";
        for (const char* domain : {"clipart", "sketch"}) {
            const std::string d = domain;
            fs::create_directories(root / d / "apple");
            writeText(root / "splits_mini" / (d + "_train.txt"), d + "/apple/a1.jpg 0\n" + d + "/zebra/z1.jpg 1\n" + d + "/apple/a2.jpg 0\n");
            writeText(root / "splits_mini" / (d + "_test.txt"), d + "/zebra/z9.jpg 1\n" + d + "/apple/a9.jpg 0\n");
        }
        const DatasetIndex clipart = openDataset((root / "clipart").string());
        QCOMPARE(clipart.layout, std::string("split-list"));
        QCOMPARE(clipart.classNames, (std::vector<std::string>{"apple", "zebra"}));
        QCOMPARE(clipart.train.size(), std::size_t(3));
        QCOMPARE(clipart.test.size(), std::size_t(2));
        QVERIFY(fs::path(clipart.test[0].path) == root / "clipart" / "zebra" / "z9.jpg");
        QCOMPARE(adaptationDomainName(clipart), std::string("clipart"));
        requireSameClasses(clipart, openAdaptationDomain((root / "sketch").string()));
        fs::remove(root / "splits_mini" / "sketch_test.txt");
        QVERIFY(errorOf([&] { openDataset((root / "sketch").string()); }).find("sketch_test.txt: split file is missing") != std::string::npos);
    }

    // The target's training images reach DAPL without labels: on the demo model, a copy of Fashion-MNIST whose
    // training labels are shuffled, as target, gives exactly the same learned contexts and target accuracy.
    // The same copy as a source changes what CoOp learns, so the shuffle is real.
    void permutedTargetLabelsChangeNothing()
    {
        const fs::path installed = "/usr/share/datasets/fashion-mnist";
        if (!fs::exists(installed))
            QSKIP("dataset-fashion-mnist is not installed");
        const fs::path copy = fs::path(m_root) / "shuffled" / "fashion-mnist";
        fs::create_directories(copy);
        for (const char* file : {"train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"})
            fs::create_symlink(installed / file, copy / file);
        std::vector<std::uint8_t> labels = readIdxLabels((installed / "train-labels-idx1-ubyte.gz").string());
        const std::vector<std::uint8_t> original = labels;
        std::shuffle(labels.begin(), labels.end(), std::mt19937(7));
        QVERIFY(std::inner_product(labels.begin(), labels.end(), original.begin(), 0, std::plus<>(), std::not_equal_to<>()) > 50000);
        writeIdxLabels(copy / "train-labels-idx1-ubyte", labels);

        auto adapt = [&](const std::string& source, const std::string& target, const char* method, const char* runs) {
            const auto result = test::runCli({"adapt", "--model", QString::fromStdString(demoModel()), "--source", QString::fromStdString(source), "--target",
                                              QString::fromStdString(target), "--methods", method, "--shots", "4", "--seeds", "1", "--epochs", "2",
                                              "--max-test-images", "600", "--threads", "2", "--runs", QString::fromStdString(m_root + "/" + runs)});
            if (result.exitCode != 0)
                qWarning("%s", result.err.c_str());
            return result.exitCode == 0 ? json::parse(result.out) : json();
        };
        const json plain = adapt("fashion-mnist", "fashion-mnist:negative", "dapl", "runs-plain");
        const json shuffled = adapt("fashion-mnist", copy.string() + ":negative", "dapl", "runs-shuffled");
        QVERIFY(plain.is_object() && shuffled.is_object());
        QCOMPARE(plain["target_domain"].get<std::string>(), std::string("negative"));
        const json& a = plain["methods"]["dapl"];
        const json& b = shuffled["methods"]["dapl"];
        QCOMPARE(a["target_accuracy"].get<double>(), b["target_accuracy"].get<double>());
        QVERIFY(a["per_class"] == b["per_class"]);
        const auto exported = [](const json& method) {
            return readSafetensors(method["per_seed"][0]["run"].get<std::string>() + "/export/prompt.safetensors");
        };
        const StateDict first = exported(a), second = exported(b);
        for (const char* key : {"ctx", "domain_vectors", "class_text_features", "source_class_text_features"})
            QVERIFY2(torch::equal(first.at(key), second.at(key)), key);

        const json coopPlain = adapt("fashion-mnist", "fashion-mnist:negative", "coop", "runs-coop-plain");
        const json coopShuffled = adapt(copy.string(), "fashion-mnist:negative", "coop", "runs-coop-shuffled");
        QVERIFY(coopPlain.is_object() && coopShuffled.is_object());
        QVERIFY(!torch::equal(exported(coopPlain["methods"]["coop"]).at("ctx"), exported(coopShuffled["methods"]["coop"]).at("ctx")));
    }

private:
    QTemporaryDir m_dir;
    std::string m_root;
};

QTEST_APPLESS_MAIN(TestDomainAdaptation)
#include "tst_domain_adaptation.moc"
