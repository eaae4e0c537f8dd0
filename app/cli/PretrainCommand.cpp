// tunebench-cli pretrain: trains a small CLIP (same model code, file format and tokenizer path as the
// real one) on an image dataset with captions made from its class names. It produces the demo model.
#include "app/cli/Commands.h"

#include "core/Device.h"
#include "core/Error.h"
#include "core/data/DatasetLayouts.h"
#include "core/data/ImageBatchSource.h"
#include "core/io/BpeTrainer.h"
#include "core/io/CheckpointLoader.h"
#include "core/io/CheckpointWriter.h"
#include "core/io/ClipTokenizer.h"
#include "core/train/ContrastivePretraining.h"
#include "core/train/Evaluator.h"
#include "core/train/Trainer.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

namespace fs = std::filesystem;

namespace tunebench::cli {

namespace {

std::string formatDuration(double seconds)
{
    const int total = static_cast<int>(seconds + 0.5);
    char text[32];
    std::snprintf(text, sizeof text, "%dm%02ds", total / 60, total % 60);
    return text;
}

void writeJsonFile(const fs::path& path, const nlohmann::json& json)
{
    std::ofstream out(path.string() + ".tmp");
    out << json.dump(2) << "\n";
    if (!out)
        throw Error(path.string() + ": cannot write");
    out.close();
    fs::rename(path.string() + ".tmp", path);
}

// The demo geometry: a CLIP ViT at toy widths (heads of 64 as in OpenAI's models).
ModelSpec demoSpec(const ClipTokenizer& tokenizer, int resolution, int patch, int width, int layers)
{
    ModelSpec spec;
    spec.family = ModelSpec::Family::Clip;
    spec.vision.width = width;
    spec.vision.layers = layers;
    spec.vision.heads = std::max(1, width / 64);
    spec.vision.mlpWidth = 4 * width;
    spec.vision.patchSize = patch;
    spec.vision.imageSize = resolution;
    spec.vision.outputDim = width;
    TextSpec text;
    text.width = width;
    text.layers = std::max(1, layers - 1);
    text.heads = std::max(1, width / 64);
    text.mlpWidth = 4 * width;
    text.outputDim = width;
    text.vocabSize = tokenizer.vocabSize();
    text.endOfTextId = tokenizer.endId();
    spec.text = text;
    return spec;
}

torch::Tensor tokenRows(const ClipTokenizer& tokenizer, const std::vector<std::string>& texts, int context)
{
    auto tokens = torch::zeros({static_cast<int64_t>(texts.size()), context}, torch::kLong);
    for (size_t i = 0; i < texts.size(); ++i) {
        const auto ids = tokenizer.tokenizeToContext(texts[i], context, true, 0);
        std::copy(ids.begin(), ids.end(), tokens[static_cast<int64_t>(i)].data_ptr<int64_t>());
    }
    return tokens;
}

} // namespace

int runPretrain(const std::vector<std::string>& words)
{
    CliArgs args(words, {"resume"});
    args.requireKnown({"dataset", "out", "model-out", "epochs", "batch-size", "lr", "weight-decay", "seed", "threads",
                       "device", "width", "layers", "patch", "merges", "max-steps", "resume"});
    configureThreads(args.intValue("threads", 0));
    const std::string datasetName = args.value("dataset", "fashion-mnist");
    const fs::path out = args.value("out", "runs/pretrain-" + datasetName);
    const int epochs = args.intValue("epochs", 2);
    const int batchSize = args.intValue("batch-size", 256);
    const std::uint64_t seed = static_cast<std::uint64_t>(args.intValue("seed", 1));
    const auto device = chooseDevice(args.value("device", "auto"));
    const auto start = std::chrono::steady_clock::now();

    auto dataset = std::make_shared<const DatasetIndex>(openDataset(datasetName));
    const auto& classes = dataset->classNames;
    std::cerr << "pretrain: " << dataset->name << ", " << classes.size() << " classes, " << dataset->train.size()
              << " training images\n";

    // The vocabulary: byte-level BPE learned from the captions themselves.
    const fs::path modelDir = out / "model";
    fs::create_directories(modelDir);
    const auto templates = pretrainingCaptionTemplates();
    std::vector<std::string> captions;
    for (const auto& templ : templates)
        for (const auto& name : classes)
            captions.push_back(fillTemplate(templ, name));
    writeHuggingFaceVocabulary(trainBpe(captions, args.intValue("merges", 1000)), modelDir.string());
    const ClipTokenizer tokenizer = ClipTokenizer::load(modelDir.string());

    const int resolution = dataset->idxTrain ? dataset->idxTrain->rows : 224;
    const int patch = args.intValue("patch", resolution == 28 ? 7 : 16);
    if (resolution % patch != 0)
        throw Error("--patch " + std::to_string(patch) + " does not divide the image size " + std::to_string(resolution));
    const ModelSpec spec = demoSpec(tokenizer, resolution, patch, args.intValue("width", 128), args.intValue("layers", 4));
    torch::manual_seed(seed);
    ClipModel model(spec);
    model->to(device);

    ImagePipeline pipeline;
    pipeline.eval.resolution = resolution;
    LoaderOptions loader;
    loader.batchSize = batchSize;
    loader.shuffle = true;
    loader.dropLast = true;  // contrastive batches of equal size
    loader.seed = seed;
    loader.threads = 1;  // decoding 28x28 images is cheap; keep the cores for the model
    ImageBatchSource train(dataset, dataset->train, pipeline, loader);

    const auto captionTokens = tokenRows(tokenizer, captions, spec.text->contextLength);
    ContrastivePretraining task(model, captionTokens, static_cast<int>(templates.size()), static_cast<int>(classes.size()), seed);

    TrainerConfig config;
    config.optimizer = "adamw";
    config.lr = args.doubleValue("lr", 1e-3);
    config.weightDecay = args.doubleValue("weight-decay", 0.05);
    config.adamBeta2 = 0.98;
    config.epochs = epochs;
    config.warmupEpochs = 0;
    config.cosinePerStep = true;
    config.gradClipNorm = 1.0;
    config.maxSteps = args.intValue("max-steps", 0);
    config.checkpointDir = (out / "checkpoint").string();
    config.resume = args.flag("resume");
    writeJsonFile(out / "config.json", {{"command", "pretrain"},
                                        {"dataset", datasetName},
                                        {"seed", seed},
                                        {"batch_size", batchSize},
                                        {"model", spec.summary()},
                                        {"templates", templates},
                                        {"trainer", toJson(config)}});

    std::ofstream metrics(out / "metrics.jsonl", std::ios::app);
    TrainerCallbacks callbacks;
    callbacks.onStep = [&](const StepReport& r) {
        metrics << nlohmann::json{{"epoch", r.epoch}, {"step", r.step}, {"loss", r.loss}, {"lr", r.lr}}.dump() << "\n";
        if (r.step % 20 == 0 || r.step == r.totalSteps) {
            metrics.flush();
            std::fprintf(stderr, "pretrain: epoch %d/%d  step %lld/%lld  loss %.4f  lr %.2e  %.0f img/s  ETA %s\n", r.epoch + 1,
                         r.epochs, static_cast<long long>(r.step), static_cast<long long>(r.totalSteps), r.loss, r.lr,
                         r.imagesPerSecond, formatDuration(r.etaSeconds).c_str());
        }
    };
    const TrainResult result = Trainer(config).fit(task, train, callbacks);
    if (result.status == TrainResult::Status::Diverged)
        throw Error(result.message);

    // Ship the weights in fp16 (half the size; the loader computes in fp32 on the CPU).
    StateDict weights = canonicalWeights(*model);
    for (auto& [name, tensor] : weights)
        if (tensor.is_floating_point() && tensor.dim() > 0)
            tensor = tensor.to(torch::kHalf);
    writeHuggingFaceFolder(weights, spec, modelDir.string());

    // Zero-shot accuracy on the test split with "a photo of a {}.", through the shipped (fp16) weights.
    ClipModel shipped = loadModel(modelDir.string());
    shipped->to(device);
    std::vector<std::string> prompts;
    for (const auto& name : classes)
        prompts.push_back(fillTemplate("a photo of a {}.", name));
    torch::Tensor classFeatures;
    {
        torch::NoGradGuard noGrad;
        classFeatures = l2Normalize(shipped->encodeText(tokenRows(tokenizer, prompts, spec.text->contextLength).to(device)));
    }
    LoaderOptions testLoader;
    testLoader.batchSize = 500;
    ImageBatchSource test(dataset, dataset->test, pipeline, testLoader);
    const Evaluation evaluation = evaluate(
        [&](const at::Tensor& images) { return shipped->logits(shipped->encodeImage(images.to(device)), classFeatures); },
        test, static_cast<int>(classes.size()));

    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    nlohmann::json results = evaluation.toJson(classes);
    results.erase("confusion");
    results["template"] = "a photo of a {}.";
    results["seconds"] = seconds;
    results["steps"] = result.steps;
    results["model"] = modelDir.string();
    writeJsonFile(out / "results.json", results);
    if (auto copyTo = args.value("model-out")) {
        fs::create_directories(*copyTo);
        for (const auto& entry : fs::directory_iterator(modelDir))
            fs::copy_file(entry.path(), fs::path(*copyTo) / entry.path().filename(), fs::copy_options::overwrite_existing);
    }
    std::fprintf(stderr, "pretrain: zero-shot accuracy %.2f%% on %lld test images, %s in total\n", 100 * evaluation.accuracy,
                 static_cast<long long>(evaluation.n), formatDuration(seconds).c_str());
    std::cout << results.dump(2) << std::endl;
    return 0;
}

} // namespace tunebench::cli
