// The engine on one device, without Qt or OpenCV (what scripts/device-check runs on a GPU machine):
//
//   engine_check [--device auto|cpu|cuda] [--vocab FILE] [--work DIR]
//
// Checks CPU/device agreement of the CLIP forward (ViT and ResNet towers); training in fp32, bf16 and fp16
// (the run finishes, the loss falls) of one method of every family, each with its recipe's optimiser:
// CoOp on both towers, MaPLe, PromptSRC, Prefix-Tuning and P-Tuning v2 (key/value prefixes in the text
// attention), DAPL (paired source/target batches), CLIP-Adapter, Tip-Adapter-F (its cache built by
// prepare() first) and L2P (prompt pool in the image tower); the image-tower cache's path (features of the
// frozen tower computed on the device, stored and read back through FeatureCache, CoOp trained on them as
// on the images); the tokenizer on the real vocabulary when found, the memory statistics, the
// out-of-memory message, and a checkpoint round trip. Prints one JSON object; exit code 1 on a failure.
// Mixed precision is skipped on the CPU (the Trainer autocasts on CUDA only).

#include "bench/BenchCommon.h"

#include "core/Device.h"
#include "core/Error.h"
#include "core/io/CheckpointLoader.h"
#include "core/io/CheckpointWriter.h"
#include "core/io/ClipTokenizer.h"
#include "core/io/VocabularyLocator.h"
#include "core/model/ClipModel.h"
#include "core/train/BatchSource.h"
#include "core/train/FeatureCache.h"
#include "core/train/PairedBatchSource.h"
#include "core/train/Trainer.h"
#include "core/tuning/Strategy.h"
#include "core/tuning/prompt/ClipStrategy.h"

#include <nlohmann/json.hpp>
#include <torch/cuda.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <unistd.h>

using namespace tunebench;
namespace fs = std::filesystem;

namespace {

struct Checks
{
    nlohmann::json list = nlohmann::json::array();
    bool failed = false;

    void add(const std::string& name, bool ok, nlohmann::json details = nlohmann::json::object())
    {
        details["name"] = name;
        details["status"] = ok ? "pass" : "FAIL";
        failed = failed || !ok;
        list.push_back(details);
    }
    void skip(const std::string& name, const std::string& why) { list.push_back({{"name", name}, {"status", "skipped"}, {"why", why}}); }
    // Runs one check; an exception fails it under `name` and lets the next ones run (on a GPU, one
    // failing method must not hide the others' results).
    void guarded(const std::string& name, const std::function<void()>& check)
    {
        try {
            check();
        } catch (const std::exception& e) {
            std::string message = e.what();
            if (message.size() > 600)
                message = message.substr(0, 600) + "...";
            add(name, false, {{"message", message}});
        }
    }
};

// A CLIP small enough to run anywhere in seconds, with the real architecture and vocabulary size.
ModelSpec checkSpec()
{
    ModelSpec spec = bench::clipGeometry("small");
    spec.vision.layers = 2;
    spec.vision.imageSize = 64;
    spec.text->layers = 2;
    return spec;
}

// The same text tower with OpenAI's modified ResNet as the image tower (one bottleneck per stage).
ModelSpec checkResNetSpec()
{
    ModelSpec spec = checkSpec();
    VisionSpec vision;
    vision.stageBlocks = {1, 1, 1, 1};
    vision.layers = 4;
    vision.width = 16;
    vision.heads = 32 * 16 / 64;
    vision.imageSize = 64;
    vision.outputDim = spec.vision.outputDim;
    vision.preNorm = false;
    spec.vision = vision;
    return spec;
}

ClipModel randomModel(const ModelSpec& spec)
{
    torch::manual_seed(99);
    ClipModel model(spec);
    model->eval();
    return model;
}

std::string findVocabulary(const std::string& explicitPath)
{
    if (!explicitPath.empty())
        return explicitPath;
    for (const char* candidate : {"shared/data/bpe_simple_vocab_16e6.txt.gz", "../shared/data/bpe_simple_vocab_16e6.txt.gz",
                                  "third_party-local/bpe_simple_vocab_16e6.txt.gz"}) {
        if (fs::exists(candidate))
            return candidate;
    }
    const VocabularySearch search = searchVocabulary("", "");
    return search.found;
}

void checkForward(Checks& checks, const c10::Device& device, const std::string& name, const ModelSpec& spec)
{
    auto model = randomModel(spec);
    torch::manual_seed(5);
    const auto images = torch::randn({4, 3, spec.vision.imageSize, spec.vision.imageSize});
    const auto tokens = torch::randint(1, 400, {3, 77}, torch::kLong);
    tokens.select(1, 9).fill_(spec.text->endOfTextId);
    torch::NoGradGuard noGrad;
    const auto cpuImage = model->encodeImage(images);
    const auto cpuText = model->encodeText(tokens);
    model->to(device);
    const auto deviceImage = model->encodeImage(images.to(device)).to(torch::kCPU);
    const auto deviceText = model->encodeText(tokens.to(device)).to(torch::kCPU);
    const double imageDiff = (cpuImage - deviceImage).abs().max().item<double>();
    const double textDiff = (cpuText - deviceText).abs().max().item<double>();
    const double scale = std::max(cpuImage.abs().max().item<double>(), cpuText.abs().max().item<double>());
    // TF32 matmuls on Ampere+ differ from the CPU in the 4th digit; 1e-2 relative catches real bugs.
    const double tolerance = 1e-2 * std::max(1.0, scale);
    checks.add(name, imageDiff <= tolerance && textDiff <= tolerance,
               {{"image_max_abs_diff", imageDiff}, {"text_max_abs_diff", textDiff}, {"tolerance", tolerance}});
}

// One method's training check: its options (small, so that every check takes seconds on a CPU) and the
// learning rate at which, with its recipe's optimiser, its loss visibly falls within 12 steps on random data.
struct TrainingCase
{
    std::string label;  // the check's name: <label>_training_<precision>
    std::string method;
    nlohmann::json options;
    ModelSpec spec;
    double lr;
};

// The random ResNet tower gives nearly the same feature for every image, so CoOp on it can only learn the
// labels' prior (3 classes twice, 2 once: cross-entropy 1.560 from about 1.59); CLIP-Adapter's gradient
// reaches it through a 0.2 residual on such features, hence its large step.
std::vector<TrainingCase> trainingCases()
{
    return {
        {"coop", "coop", {{"n_ctx", 4}}, checkSpec(), 0.05},
        {"coop_resnet", "coop", {{"n_ctx", 4}}, checkResNetSpec(), 0.05},
        {"maple", "maple", nlohmann::json::object(), checkSpec(), 0.5},
        {"promptsrc", "promptsrc", nlohmann::json::object(), checkSpec(), 0.1},
        {"prefix_tuning", "prefix-tuning", {{"mid_dim", 64}}, checkSpec(), 0.01},
        {"p_tuning_v2", "p-tuning-v2", {{"dropout", 0.0}}, checkSpec(), 0.05},
        {"dapl", "dapl", {{"n_ctx", 4}, {"n_dmx", 4}}, checkSpec(), 0.05},
        {"clip_adapter", "clip-adapter", nlohmann::json::object(), checkSpec(), 10.0},
        {"tip_adapter_f", "tip-adapter-f", {{"augment_passes", 1}, {"search", false}}, checkSpec(), 0.01},
        {"l2p", "l2p", nlohmann::json::object(), checkSpec(), 0.01},
    };
}

struct LossCurve
{
    std::vector<double> losses;
    TrainResult result;

    bool finite() const
    {
        bool ok = !losses.empty();
        for (double loss : losses)
            ok = ok && std::isfinite(loss);
        return ok;
    }
    bool fell() const { return finite() && losses.back() < losses.front(); }
    nlohmann::json describe() const
    {
        return {{"first_loss", losses.empty() ? 0.0 : losses.front()}, {"last_loss", losses.empty() ? 0.0 : losses.back()},
                {"steps", result.steps}, {"seconds", result.seconds}};
    }
};

// 12 epochs of one full batch with the recipe's optimiser and schedule, without its warm-up.
LossCurve train(Strategy& strategy, BatchSource& data, double lr, const std::string& precision)
{
    TrainerConfig config = withEpochs(strategy.defaultTrainerConfig(16), 12);
    config.warmupEpochs = 0;
    config.lr = lr;
    config.precision = precision;
    LossCurve curve;
    TrainerCallbacks callbacks;
    callbacks.onStep = [&](const StepReport& report) { curve.losses.push_back(report.loss); };
    curve.result = Trainer(config).fit(strategy, data, callbacks);
    return curve;
}

TaskSetup checkTask(const std::shared_ptr<const ClipTokenizer>& tokenizer)
{
    TaskSetup setup;
    setup.classNames = {"cat", "dog", "car", "tree", "house"};
    setup.tokenizer = tokenizer;
    return setup;
}

// `trainingCase` on 8 random images of 5 classes, the way an experiment runs it: prepare() on the training
// images first (Tip-Adapter-F's cache), and for a method that adapts to a target domain (DAPL) each batch
// joined with 8 unlabelled target images by PairedBatchSource. The run finishes and the loss falls.
void checkTraining(Checks& checks, const c10::Device& device, const std::shared_ptr<const ClipTokenizer>& tokenizer,
                   const TrainingCase& trainingCase, const std::string& precision)
{
    const std::string name = trainingCase.label + "_training_" + precision;
    const StrategyInfo& info = findStrategy(trainingCase.method);
    if (!tokenizer && info.capabilities.needsTextTower) {
        checks.skip(name, "no CLIP vocabulary found (pass --vocab)");
        return;
    }
    if (precision != "fp32" && !device.is_cuda()) {
        checks.skip(name, "mixed precision runs on CUDA only");
        return;
    }
    const ModelSpec& spec = trainingCase.spec;
    auto model = randomModel(spec);
    model->to(device);
    TaskSetup setup = checkTask(tokenizer);
    if (info.capabilities.adaptsToTarget)
        setup.domainNames = {"photo", "sketch"};
    auto strategy = info.create();
    strategy->attach(model, setup, trainingCase.options);
    torch::manual_seed(8);
    TensorBatchSource labelled(torch::randn({8, 3, spec.vision.imageSize, spec.vision.imageSize}), torch::arange(8, torch::kLong) % 5, 8, false);
    // The target's labels are never read: PairedBatchSource marks its rows -1.
    TensorBatchSource unlabelled(torch::randn({8, 3, spec.vision.imageSize, spec.vision.imageSize}), torch::zeros({8}, torch::kLong), 8, false);
    std::optional<PairedBatchSource> paired;
    if (info.capabilities.adaptsToTarget)
        paired.emplace(labelled, unlabelled);
    strategy->prepare(labelled);
    const LossCurve curve = train(*strategy, paired ? static_cast<BatchSource&>(*paired) : labelled, trainingCase.lr, precision);
    nlohmann::json details = curve.describe();
    details["lr"] = trainingCase.lr;
    details["trainable"] = strategy->trainableParameterCount();
    if (curve.result.status != TrainResult::Status::Finished)
        details["message"] = curve.result.message;
    checks.add(name, curve.result.status == TrainResult::Status::Finished && curve.fell(), details);
}

// The image-tower cache on the device, as an experiment uses it for a frozen-tower method in fp32:
// CachedFeatureSource's encoder is ClipStrategy::imageFeatures on the device, its features go to the CPU
// and into FeatureCache (safetensors), and training reads them back in batches of [B, E] that
// imageFeatures passes through. Here the features of 8 random images take that path and CoOp trains on
// them and, from the same initial context, on the images themselves: the stored features read back
// bit-identical, they agree with the CPU's tower within TF32 tolerance, and the two trainings' losses
// agree. bf16 checks the features passing through an autocast step (an experiment keeps the images under
// mixed precision, so there the image side runs its tower in bf16 and the losses agree to bf16 accuracy).
void checkFeatureCache(Checks& checks, const c10::Device& device, const std::shared_ptr<const ClipTokenizer>& tokenizer,
                       const std::string& work)
{
    if (!tokenizer) {
        checks.skip("feature_cache_round_trip", "no CLIP vocabulary found (pass --vocab)");
        return;
    }
    const ModelSpec spec = checkSpec();
    const TaskSetup setup = checkTask(tokenizer);
    torch::manual_seed(12);
    const auto images = torch::randn({8, 3, spec.vision.imageSize, spec.vision.imageSize});
    const auto labels = torch::arange(8, torch::kLong) % 5;

    auto cpuModel = randomModel(spec);
    at::Tensor cpuFeatures;
    {
        torch::NoGradGuard noGrad;
        cpuFeatures = cpuModel->encodeImage(images);
    }
    auto model = randomModel(spec);
    model->to(device);
    auto encoder = findStrategy("coop").create();
    encoder->attach(model, setup, {{"n_ctx", 4}});
    const at::Tensor deviceFeatures = dynamic_cast<ClipStrategy&>(*encoder).imageFeatures(images.to(device)).to(torch::kCPU);

    FeatureCache cache((fs::path(work) / "features").string(), std::uint64_t(1) << 30);
    FeatureCacheKey key;
    key.modelHash = "engine-check random weights (seed 99)";
    key.dataset = "random";
    key.split = "train";
    key.transform = "none";
    key.view = "eval";
    key.device = describeDevice(device);
    cache.store(key, deviceFeatures, labels);
    const auto stored = cache.find(key);
    nlohmann::json details = {{"file", cache.pathFor(key)}, {"write_problem", cache.lastWriteProblem()}};
    bool ok = stored.has_value() && cache.lastWriteProblem().empty();
    at::Tensor cachedFeatures;
    if (stored) {
        cachedFeatures = stored->first;
        const double readBack = (cachedFeatures - deviceFeatures).abs().max().item<double>();
        const double vsCpu = (deviceFeatures - cpuFeatures).abs().max().item<double>();
        // As checkForward: cuDNN's TF32 convolutions (the patch embedding) differ from the CPU in the 4th digit.
        const double tolerance = 1e-2 * std::max(1.0, cpuFeatures.abs().max().item<double>());
        details["read_back_max_abs_diff"] = readBack;
        details["device_vs_cpu_max_abs_diff"] = vsCpu;
        details["device_vs_cpu_tolerance"] = tolerance;
        details["labels_equal"] = stored->second.equal(labels);
        details["shape"] = cachedFeatures.sizes().vec();
        details["dtype"] = std::string(c10::toString(cachedFeatures.scalar_type()));
        ok = ok && readBack == 0.0 && vsCpu <= tolerance && stored->second.equal(labels) && cachedFeatures.device().is_cpu();
    }
    checks.add("feature_cache_round_trip", ok, details);
    if (!stored)
        return;

    for (const std::string precision : {"fp32", "bf16"}) {
        const std::string name = "feature_cache_training_" + precision;
        if (precision != "fp32" && !device.is_cuda()) {
            checks.skip(name, "mixed precision runs on CUDA only");
            continue;
        }
        auto onImages = findStrategy("coop").create();
        onImages->attach(model, setup, {{"n_ctx", 4}});
        auto onFeatures = findStrategy("coop").create();
        onFeatures->attach(model, setup, {{"n_ctx", 4}});
        onFeatures->loadTrainableState(onImages->trainableState());
        TensorBatchSource imageBatches(images, labels, 8, false);
        TensorBatchSource featureBatches(cachedFeatures, labels, 8, false);
        const double lr = 0.05;
        const LossCurve fromImages = train(*onImages, imageBatches, lr, precision);
        const LossCurve fromFeatures = train(*onFeatures, featureBatches, lr, precision);
        const bool ran = fromImages.fell() && fromFeatures.fell() && fromImages.losses.size() == fromFeatures.losses.size();
        const double firstDiff = ran ? std::abs(fromImages.losses.front() - fromFeatures.losses.front()) : -1;
        const double lastDiff = ran ? std::abs(fromImages.losses.back() - fromFeatures.losses.back()) : -1;
        // fp32: the same features, the same step (1e-4 leaves room for reduction order); bf16: the image
        // side's tower runs in bf16, the cached features are fp32.
        const double tolerance = (precision == "fp32" ? 1e-4 : 3e-2) * std::max(1.0, std::abs(fromImages.losses.front()));
        checks.add(name, ran && firstDiff <= tolerance && lastDiff <= 10 * tolerance,
                   {{"images", fromImages.describe()}, {"cached_features", fromFeatures.describe()}, {"first_loss_abs_diff", firstDiff},
                    {"last_loss_abs_diff", lastDiff}, {"tolerance_first", tolerance}, {"tolerance_last", 10 * tolerance}});
    }
}

void checkTokenizer(Checks& checks, const std::shared_ptr<const ClipTokenizer>& tokenizer)
{
    if (!tokenizer) {
        checks.skip("tokenizer", "no CLIP vocabulary found (pass --vocab)");
        return;
    }
    // Ids of OpenAI's tokenizer for this sentence.
    const std::vector<int> expected = {49406, 320, 1125, 539, 320, 2368, 269, 49407};
    const auto ids = tokenizer->tokenize("a photo of a cat.");
    checks.add("tokenizer", ids == expected, {{"ids", ids}});
}

// A task that asks for far more memory than any device has.
class GreedyTask : public Trainable
{
public:
    explicit GreedyTask(const c10::Device& device)
        : m_weight(torch::zeros({1}, torch::TensorOptions().device(device).requires_grad(true)))
    {
    }
    std::vector<at::Tensor> trainableParameters() override { return {m_weight}; }
    void setTraining(bool) override {}
    StepOutput trainStep(const Batch&) override
    {
        auto huge = torch::empty({std::int64_t(1) << 42}, m_weight.options().requires_grad(false));  // 16 TiB
        return {(huge.sum() * m_weight).sum(), {}};
    }
    StateDict trainableState() override { return {}; }
    void loadTrainableState(const StateDict&) override {}

private:
    at::Tensor m_weight;
};

void checkOutOfMemory(Checks& checks, const c10::Device& device)
{
    GreedyTask task(device);
    TensorBatchSource data(torch::zeros({64, 1}), torch::zeros({64}, torch::kLong), 64, false);
    TrainerConfig config;
    config.epochs = 1;
    std::string message;
    bool recognised = false;
    try {
        Trainer(config).fit(task, data);
    } catch (const OutOfMemory& e) {
        message = e.what();
        recognised = true;
    } catch (const std::exception& e) {
        message = e.what();
    }
    if (message.size() > 400)
        message = message.substr(0, 400) + "...";
    // The options that use less: half the batch accumulated twice, checkpointing, and bf16 where it applies (CUDA).
    const bool clear = recognised && message.find("out of memory") != std::string::npos &&
                       message.find("--batch-size 32 --accumulate 2") != std::string::npos &&
                       message.find("--checkpointing both") != std::string::npos &&
                       (message.find("--precision bf16") != std::string::npos) == device.is_cuda();
    checks.add("out_of_memory_message", clear, {{"message", message}});
}

void checkRoundTrip(Checks& checks, const std::string& work)
{
    const ModelSpec spec = checkSpec();
    auto model = randomModel(spec);
    const StateDict weights = canonicalWeights(*model);
    fs::create_directories(work);
    torch::manual_seed(6);
    const auto images = torch::randn({2, 3, spec.vision.imageSize, spec.vision.imageSize});
    torch::NoGradGuard noGrad;
    const auto expected = model->encodeImage(images);
    nlohmann::json details;
    bool ok = true;
    for (const std::string format : {"safetensors", "pt"}) {
        const std::string path = (fs::path(work) / ("engine-check." + format)).string();
        if (format == "pt")
            writeOpenAiTorchScript(weights, spec, path);
        else
            writeOpenAiSafetensors(weights, path);
        LoadOptions options;
        options.computeHash = false;
        auto loaded = loadModel(path, options);
        loaded->eval();
        const double diff = (loaded->encodeImage(images) - expected).abs().max().item<double>();
        details[format + "_max_abs_diff"] = diff;
        ok = ok && diff == 0.0;
        fs::remove(path);
    }
    checks.add("checkpoint_round_trip", ok, details);
}

} // namespace

int main(int argc, char** argv)
{
    std::string deviceName = "auto", vocab, work = (fs::temp_directory_path() / ("tunebench-engine-check-" + std::to_string(getpid()))).string();
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string flag = argv[i];
        if (flag == "--device") deviceName = argv[i + 1];
        else if (flag == "--vocab") vocab = argv[i + 1];
        else if (flag == "--work") work = argv[i + 1];
        else {
            std::cerr << "engine_check: unknown option '" << flag << "'\n";
            return 2;
        }
    }
    nlohmann::json out;
    Checks checks;
    try {
        configureThreads();
        const c10::Device device = chooseDevice(deviceName);
        out["device"] = describeDevice(device);
        out["torch_cuda_available"] = torch::cuda::is_available();
        std::shared_ptr<const ClipTokenizer> tokenizer;
        const std::string vocabPath = findVocabulary(vocab);
        if (!vocabPath.empty())
            tokenizer = std::make_shared<const ClipTokenizer>(ClipTokenizer::load(vocabPath));
        out["vocabulary"] = vocabPath;

        checkForward(checks, device, "forward_cpu_vs_device", checkSpec());
        checkForward(checks, device, "resnet_forward_cpu_vs_device", checkResNetSpec());
        checkTokenizer(checks, tokenizer);
        for (const std::string precision : {"fp32", "bf16", "fp16"})
            for (const TrainingCase& trainingCase : trainingCases())
                checks.guarded(trainingCase.label + "_training_" + precision,
                               [&] { checkTraining(checks, device, tokenizer, trainingCase, precision); });
        checks.guarded("feature_cache", [&] { checkFeatureCache(checks, device, tokenizer, work); });
        checkRoundTrip(checks, work);
        const DeviceMemory memory = deviceMemory(device);
        out["memory"] = describeMemory(memory);
        checks.add("memory_statistics", !device.is_cuda() || (memory.available && memory.total > 0 && memory.peakAllocated > 0),
                   {{"allocated", memory.allocated}, {"reserved", memory.reserved}, {"peak_allocated", memory.peakAllocated}, {"total", memory.total}});
        checkOutOfMemory(checks, device);
    } catch (const std::exception& e) {
        checks.add("unexpected_error", false, {{"message", e.what()}});
    }
    fs::remove_all(work);
    out["checks"] = checks.list;
    out["ok"] = !checks.failed;
    std::cout << out.dump(2) << std::endl;
    return checks.failed ? 1 : 0;
}
