// The shipped demo model (resources/demo-model): it loads through the Hugging Face folder path like any
// real CLIP checkpoint, uses its own vocabulary, and classifies Fashion-MNIST zero-shot.
#include "core/data/DatasetLayouts.h"
#include "core/data/ImageBatchSource.h"
#include "core/io/CheckpointLoader.h"
#include "core/io/ClipTokenizer.h"
#include "core/train/ContrastivePretraining.h"
#include "core/train/Evaluator.h"

#include <QtTest>

#include <torch/torch.h>

#include <filesystem>

using namespace tunebench;

class TestDemoModel : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        torch::set_num_threads(2);
        m_path = std::string(std::getenv("TUNEBENCH_SOURCE_DIR") ? std::getenv("TUNEBENCH_SOURCE_DIR") : ".") + "/resources/demo-model";
        QVERIFY2(std::filesystem::exists(m_path + "/config.json"), m_path.c_str());
    }

    void loadsLikeAnyHuggingFaceFolder()
    {
        ModelSpec spec;
        loadModel(m_path, {}, &spec);
        QCOMPARE(spec.format, std::string("huggingface"));
        QVERIFY(spec.text.has_value());
        QCOMPARE(spec.vision.imageSize, 28);
        const ClipTokenizer tokenizer = ClipTokenizer::load(m_path);
        QCOMPARE(tokenizer.vocabSize(), spec.text->vocabSize);
        QCOMPARE(tokenizer.endId(), tokenizer.vocabSize() - 1);
        // Its own vocabulary covers the captions it was trained on with whole-word tokens.
        const auto ids = tokenizer.tokenize("a photo of a sneaker.");
        QVERIFY2(ids.size() <= 8, "caption words should be single tokens");
        QVERIFY(std::filesystem::file_size(m_path + "/model.safetensors") < 10u * 1024 * 1024);
    }

    void zeroShotOnFashionMnistSubset()
    {
        if (!std::filesystem::exists("/usr/share/datasets/fashion-mnist"))
            QSKIP("dataset-fashion-mnist is not installed");
        ModelSpec spec;
        ClipModel model = loadModel(m_path, {}, &spec);
        const ClipTokenizer tokenizer = ClipTokenizer::load(m_path);
        auto dataset = std::make_shared<const DatasetIndex>(openDataset("fashion-mnist"));
        std::vector<std::string> prompts;
        for (const auto& name : dataset->classNames)
            prompts.push_back(fillTemplate("a photo of a {}.", name));
        auto tokens = torch::zeros({10, spec.text->contextLength}, torch::kLong);
        for (int c = 0; c < 10; ++c) {
            const auto ids = tokenizer.tokenizeToContext(prompts[c], spec.text->contextLength);
            std::copy(ids.begin(), ids.end(), tokens[c].data_ptr<int64_t>());
        }
        torch::NoGradGuard noGrad;
        const auto classFeatures = l2Normalize(model->encodeText(tokens));
        // A fixed subset: the first 2,000 test images (all classes are represented).
        const std::vector<Sample> subset(dataset->test.begin(), dataset->test.begin() + 2000);
        ImagePipeline pipeline;
        pipeline.eval.resolution = 28;
        LoaderOptions options;
        options.batchSize = 500;
        ImageBatchSource source(dataset, subset, pipeline, options);
        const Evaluation result =
            evaluate([&](const at::Tensor& images) { return model->logits(model->encodeImage(images), classFeatures); }, source, 10);
        QCOMPARE(result.n, int64_t(2000));
        qInfo("zero-shot accuracy on the first 2000 test images: %.4f", result.accuracy);
        // 83.78% on the full test set (README); this subset gave 84.75% when the model was made.
        QVERIFY2(result.accuracy >= 0.80, qPrintable(QString::number(result.accuracy)));
    }

private:
    std::string m_path;
};

QTEST_APPLESS_MAIN(TestDemoModel)
#include "tst_demo_model.moc"
