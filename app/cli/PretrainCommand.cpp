// tunebench-cli pretrain: trains a small CLIP (same model code, file format and tokenizer path as the
// real one) on an image dataset rendered into several image domains, with web-like captions that name the
// domain and the class in varied words (core/data/DemoCaptions.h). It produces the demo model.
#include "app/cli/Commands.h"
#include "app/cli/RunSetup.h"

#include "core/Device.h"
#include "core/Error.h"
#include "core/data/DatasetLayouts.h"
#include "core/data/DemoCaptions.h"
#include "core/data/ImageBatchSource.h"
#include "core/data/ImageDomains.h"
#include "core/io/AtomicFile.h"
#include "core/io/BpeTrainer.h"
#include "core/io/CheckpointLoader.h"
#include "core/io/CheckpointWriter.h"
#include "core/io/ClipTokenizer.h"
#include "core/train/ContrastivePretraining.h"
#include "core/train/Evaluator.h"
#include "core/train/Trainer.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <algorithm>
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
    writeFileAtomically(path.string(), json.dump(2) + "\n");
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

// The domains named by --domains, else every domain the demo world pretrains on.
std::vector<int> pretrainingDomains(const std::optional<std::string>& names)
{
    std::vector<int> domains;
    if (!names) {
        for (std::size_t i = 0; i < imageDomains().size(); ++i)
            if (imageDomains()[i].inPretraining)
                domains.push_back(static_cast<int>(i));
        return domains;
    }
    std::string rest = *names;
    while (!rest.empty()) {
        const auto comma = rest.find(',');
        const std::string name = rest.substr(0, comma);
        rest = comma == std::string::npos ? "" : rest.substr(comma + 1);
        const int domain = findImageDomain(name);
        if (domain < 0)
            throw Error("--domains: unknown image domain '" + name + "'");
        if (std::find(domains.begin(), domains.end(), domain) == domains.end())
            domains.push_back(domain);
    }
    if (domains.empty())
        throw Error("--domains needs at least one image domain");
    return domains;
}

int runPretrain(const CliArgs& args)
{
    configureThreads(args.intValue("threads", 0));
    const std::string datasetName = args.value("dataset", "fashion-mnist");
    const fs::path out = args.value("out", "runs/pretrain-" + datasetName);
    // Every number is checked before the dataset opens: one out of range is refused, never replaced.
    const int epochs = intAtLeast(args, "epochs", 5, 1);
    const int batchSize = intAtLeast(args, "batch-size", 256, 2);  // a contrastive batch needs two images
    const std::uint64_t seed = static_cast<std::uint64_t>(intAtLeast(args, "seed", 1, 0));
    const int merges = intAtLeast(args, "merges", 1000, 0);
    const int width = intAtLeast(args, "width", 128, 1);
    const int layers = intAtLeast(args, "layers", 4, 1);
    const int maxSteps = intAtLeast(args, "max-steps", 0, 0);
    const int patchGiven = intAtLeast(args, "patch", 0, 1);  // 0: not given, the default depends on the images
    const double lr = args.doubleValue("lr", 1e-3);
    if (!(lr > 0))
        throw Error("--lr must be a positive number, got " + *args.value("lr"));
    const double weightDecay = args.doubleValue("weight-decay", 0.05);
    if (weightDecay < 0)
        throw Error("--weight-decay must be at least 0, got " + *args.value("weight-decay"));
    // demoSpec gives the towers width / 64 heads, which must split the width evenly.
    if (const int heads = std::max(1, width / 64); width % heads != 0)
        throw Error("--width " + std::to_string(width) + " does not split into " + std::to_string(heads) +
                    " attention heads of equal width (use a multiple of 64)");
    const auto device = chooseDevice(args.value("device", "auto"));
    const auto start = std::chrono::steady_clock::now();

    auto dataset = std::make_shared<const DatasetIndex>(openDataset(datasetName));
    const auto& classes = dataset->classNames;
    std::cerr << "pretrain: " << dataset->name << ", " << classes.size() << " classes, " << dataset->train.size()
              << " training images\n";

    // The captions of every class in every pretraining domain, and the vocabulary learned from them
    // (byte-level BPE).
    const std::vector<int> domains = pretrainingDomains(args.value("domains"));
    const CaptionCorpus corpus = buildCaptionCorpus(classes, domains);
    const fs::path modelDir = out / "model";
    fs::create_directories(modelDir);
    writeHuggingFaceVocabulary(trainBpe(corpus.captions, merges), modelDir.string());
    const ClipTokenizer tokenizer = ClipTokenizer::load(modelDir.string());
    std::vector<std::string> domainNames;
    for (int domain : domains)
        domainNames.push_back(imageDomains()[static_cast<std::size_t>(domain)].name);

    // Each training image once, rendered into a domain drawn from (seed, image); its caption group is
    // that domain's version of its class.
    std::vector<Sample> samples = dataset->train;
    std::vector<int> sampleGroups(samples.size());
    for (std::size_t i = 0; i < samples.size(); ++i) {
        const std::size_t slot = sampleSeed(seed, 0, i) % domains.size();
        samples[i].domain = domains[slot];
        sampleGroups[i] = static_cast<int>(slot * classes.size()) + samples[i].label;
    }
    std::cerr << "pretrain: " << corpus.captions.size() << " captions over " << domains.size() << " image domains\n";

    const int resolution = dataset->idxTrain ? dataset->idxTrain->rows : 224;
    const int patch = patchGiven > 0 ? patchGiven : resolution == 28 ? 7 : 16;
    if (resolution % patch != 0)
        throw Error("--patch " + std::to_string(patch) + " does not divide the image size " + std::to_string(resolution));
    const ModelSpec spec = demoSpec(tokenizer, resolution, patch, width, layers);
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
    ImageBatchSource train(dataset, samples, pipeline, loader);

    const auto captionTokens = tokenRows(tokenizer, corpus.captions, spec.text->contextLength);
    ContrastivePretraining task(model, captionTokens, corpus.groupCaptions, sampleGroups, seed);

    TrainerConfig config;
    config.optimizer = "adamw";
    config.lr = lr;
    config.weightDecay = weightDecay;
    config.adamBeta2 = 0.98;
    config.epochs = epochs;
    config.warmupEpochs = 0;
    config.cosinePerStep = true;
    config.gradClipNorm = 1.0;
    config.maxSteps = maxSteps;
    config.checkpointDir = (out / "checkpoint").string();
    config.resume = args.flag("resume");
    writeJsonFile(out / "config.json", {{"command", "pretrain"},
                                        {"dataset", datasetName},
                                        {"seed", seed},
                                        {"batch_size", batchSize},
                                        {"model", spec.summary()},
                                        {"domains", domainNames},
                                        {"captions", corpus.captions.size()},
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

    // Zero-shot accuracy with "a photo of a {}." through the shipped (fp16) weights, on the test split as
    // stored and rendered into every domain (those never pretrained on included).
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
    auto zeroShot = [&](int domain) {
        std::vector<Sample> test = dataset->test;
        for (Sample& sample : test)
            sample.domain = domain;
        LoaderOptions testLoader;
        testLoader.batchSize = 500;
        ImageBatchSource source(dataset, test, pipeline, testLoader);
        return evaluate(
            [&](const at::Tensor& images) { return shipped->logits(shipped->encodeImage(images.to(device)), classFeatures); },
            source, static_cast<int>(classes.size()));
    };
    const Evaluation evaluation = zeroShot(0);
    nlohmann::json perDomain = nlohmann::json::object();
    for (std::size_t domain = 0; domain < imageDomains().size(); ++domain) {
        const double accuracy = domain == 0 ? evaluation.accuracy : zeroShot(static_cast<int>(domain)).accuracy;
        perDomain[imageDomains()[domain].name] = accuracy;
        std::fprintf(stderr, "pretrain: zero-shot %-12s %.2f%%%s\n", imageDomains()[domain].name.c_str(), 100 * accuracy,
                     std::find(domains.begin(), domains.end(), static_cast<int>(domain)) == domains.end() ? "  (not pretrained on)" : "");
    }

    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    nlohmann::json results = evaluation.toJson(classes);
    results.erase("confusion");
    results["template"] = "a photo of a {}.";
    results["domains"] = perDomain;
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

} // namespace

Command pretrainCommand()
{
    return {"pretrain", "[--dataset fashion-mnist --epochs 5 --domains a,b --out DIR --model-out DIR --resume]",
            "pretrain the small demo CLIP on a dataset rendered into image domains, with web-like captions",
            {
                {"dataset", "D", "the images (default fashion-mnist)"},
                {"domains", "a,b", "the image domains rendered for pretraining (default: the demo's)"},
                {"epochs", "N", "default 5"},
                {"batch-size", "B", "default 256"},
                {"lr", "X", "default 0.001"},
                {"weight-decay", "X", "default 0.05"},
                {"seed", "S", "default 1"},
                {"width", "N", "the towers' width (default 128)"},
                {"layers", "N", "the towers' depth (default 4)"},
                {"patch", "N", "the image tower's patch size (default 7 for 28-pixel images, else 16)"},
                {"merges", "N", "BPE merges of the vocabulary learned from the captions (default 1000)"},
                {"max-steps", "N", "stop after N steps (quick looks)"},
                {"out", "DIR", "the pretraining folder (default runs/pretrain-DATASET)"},
                {"model-out", "DIR", "also copy the model there (resources/demo-model for the shipped one)"},
                {"resume", "", "continue from the folder's last epoch"},
            },
            runPretrain};
}

} // namespace tunebench::cli
