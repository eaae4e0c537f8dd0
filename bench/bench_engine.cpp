// Engine benchmarks against the PyTorch reference in bench/reference (one executable, one task per call):
//
//   bench_engine --task forward|coop|cocoop|maple|ivlp|promptsrc|prompt-tuning|p-tuning|prefix-tuning|p-tuning-v2|full|eval|load [--device cpu|cuda] [--threads N] [--repeats R]
//                [--geometry b16|small|rn50] [--batch B] [--classes C] [--work DIR] [--vocab FILE]
//                [--attention fused|explicit]  (LibTorch 2.x: scaled_dot_product_attention or the written-out product)
//                [--precision fp32|bf16|fp16]  (forward only: autocast, as the Trainer's mixed precision; the CPU has bf16 only)
//                [--checkpointing none|image|text|both]  (training steps: gradient checkpointing, as the Trainer's)
//   bench_engine --load-only FILE [--load-mode read|load]   (child of --task load: peak resident memory of
//                reading the checkpoint, or of loadModel, relative to the file size)
//
// Prints one JSON object on stdout: median seconds over R timed runs after one warm-up, images/s, and
// task fields. With --work DIR it also writes the random model (DIR/clip-<geometry>.safetensors, OpenAI
// names) and the task's inputs and outputs (DIR/<task>-inputs.safetensors) so that the Python baseline
// runs the same weights on the same batch and checks it gets the same logits. The forward task also reports
// the ViT tower's FLOPs per image and the TFLOP/s achieved (scripts/bench sets them against the GPU's peak).

#include "bench/BenchCommon.h"

#include "core/Device.h"
#include "core/Error.h"
#include "core/io/CheckpointLoader.h"
#include "core/io/CheckpointWriter.h"
#include "core/io/ClipTokenizer.h"
#include "core/io/StateDict.h"
#include "core/io/VocabularyLocator.h"
#include "core/model/Checkpointing.h"
#include "core/model/ClipModel.h"
#include "core/model/Transformer.h"
#include "core/tuning/prompt/CocoopStrategy.h"
#include "core/tuning/prompt/LinearProbeStrategy.h"
#include "core/tuning/prompt/TipAdapterStrategy.h"

#include <nlohmann/json.hpp>
#include <torch/cuda.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <set>
#include <unistd.h>

using namespace tunebench;
using namespace tunebench::bench;
namespace fs = std::filesystem;

namespace {

struct Options
{
    std::string task;
    std::string device = "cpu";
    int threads = 0;
    int repeats = 5;
    std::string geometry = "b16";
    int batch = 0;    // 0 = the task's default
    int classes = 0;  // 0 = the task's default
    int contextLength = 16;
    std::string work;
    std::string vocab;
    std::string loadOnly;
    std::string loadMode = "load";  // read: readCheckpoint only; load: loadModel
    int features = 10000;  // eval: test features
    int shots = 16;        // eval: cache entries per class
    std::string attention = "fused";  // fused (scaled_dot_product_attention on LibTorch 2.x) or explicit
    std::string precision = "fp32";   // forward: fp32, or autocast to bf16 / fp16
    CheckpointTowers checkpointing = CheckpointTowers::None;  // training steps
};

int positive(const std::string& flag, const char* value)
{
    if (!value)
        throw Error(flag + ": missing value");
    char* end = nullptr;
    const long number = std::strtol(value, &end, 10);
    if (*end != '\0' || number <= 0 || number > 10000000)
        throw Error(flag + ": expected a positive integer, got '" + value + "'");
    return static_cast<int>(number);
}

Options parse(int argc, char** argv)
{
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string flag = argv[i];
        const char* value = i + 1 < argc ? argv[i + 1] : nullptr;
        auto text = [&] {
            if (!value)
                throw Error(flag + ": missing value");
            ++i;
            return std::string(value);
        };
        auto number = [&] {
            const int n = positive(flag, value);
            ++i;
            return n;
        };
        if (flag == "--task") o.task = text();
        else if (flag == "--device") o.device = text();
        else if (flag == "--threads") o.threads = number();
        else if (flag == "--repeats") o.repeats = number();
        else if (flag == "--geometry") o.geometry = text();
        else if (flag == "--batch") o.batch = number();
        else if (flag == "--classes") o.classes = number();
        else if (flag == "--n-ctx") o.contextLength = number();
        else if (flag == "--work") o.work = text();
        else if (flag == "--vocab") o.vocab = text();
        else if (flag == "--load-only") o.loadOnly = text();
        else if (flag == "--load-mode") o.loadMode = text();
        else if (flag == "--features") o.features = number();
        else if (flag == "--shots") o.shots = number();
        else if (flag == "--attention") o.attention = text();
        else if (flag == "--precision") o.precision = text();
        else if (flag == "--checkpointing") o.checkpointing = parseCheckpointing(text());
        else throw Error("unknown option '" + flag + "'");
    }
    if (o.precision != "fp32" && o.task != "forward")
        throw Error("--precision " + o.precision + ": only --task forward runs in mixed precision (training steps are fp32 here)");
    if (o.task.empty() && o.loadOnly.empty())
        throw Error("--task: missing (forward, coop, cocoop, maple, ivlp, promptsrc, prompt-tuning, p-tuning, prefix-tuning, p-tuning-v2, full, eval or load)");
    return o;
}

struct Context
{
    Options options;
    c10::Device device{c10::kCPU};
    nlohmann::json out;

    void sync() const
    {
        if (device.is_cuda())
            torch::cuda::synchronize();
    }
    std::string workFile(const std::string& name) const { return (fs::path(options.work) / name).string(); }
};

// Random weights from a fixed seed (the model's own initialisation), logit scale 100 as in released
// CLIPs; written once per geometry for the Python side.
ClipModel randomModel(Context& ctx, const ModelSpec& spec)
{
    torch::manual_seed(1234);
    ClipModel model(spec);
    {
        torch::NoGradGuard noGrad;
        model->logit_scale.fill_(std::log(100.0));
    }
    if (!ctx.options.work.empty()) {
        fs::create_directories(ctx.options.work);
        const std::string path = ctx.workFile("clip-" + ctx.options.geometry + ".safetensors");
        if (!fs::exists(path))
            writeOpenAiSafetensors(canonicalWeights(*model), path);
        ctx.out["model_file"] = path;
    }
    model->to(ctx.device);
    model->eval();
    return model;
}

std::shared_ptr<const ClipTokenizer> loadTokenizer(const Options& options)
{
    std::string path = options.vocab;
    if (path.empty()) {
        for (const char* candidate : {"../shared/data/bpe_simple_vocab_16e6.txt.gz", "../../shared/data/bpe_simple_vocab_16e6.txt.gz",
                                      "shared/data/bpe_simple_vocab_16e6.txt.gz", "third_party-local/bpe_simple_vocab_16e6.txt.gz", "/work/shared/data/bpe_simple_vocab_16e6.txt.gz"}) {
            if (fs::exists(candidate)) {
                path = candidate;
                break;
            }
        }
    }
    return std::make_shared<const ClipTokenizer>(ClipTokenizer::load(locateVocabulary(path, "")));
}

std::vector<std::string> classNames(int count)
{
    // Plain words the tokenizer splits into 2-3 tokens, as real class names do.
    std::vector<std::string> names;
    for (int i = 0; i < count; ++i)
        names.push_back("object " + std::to_string(i));
    return names;
}

void recordTimes(Context& ctx, const std::vector<double>& seconds, double imagesPerRun)
{
    const double med = median(seconds);
    ctx.out["runs_s"] = seconds;
    ctx.out["median_s"] = med;
    ctx.out["images_per_s"] = med > 0 ? imagesPerRun / med : 0;
}

at::Tensor randomImages(const ModelSpec& spec, int batch)
{
    torch::manual_seed(7);
    return torch::randn({batch, 3, spec.vision.imageSize, spec.vision.imageSize});
}

// The image tower alone, fp32 or under autocast (bf16/fp16 products, fp32 weights and norms: what the
// Trainer's mixed precision runs, and what clip_reference.py's --precision does with torch.autocast).
void taskForward(Context& ctx)
{
    const ModelSpec spec = clipGeometry(ctx.options.geometry);
    auto model = randomModel(ctx, spec);
    const int batch = ctx.options.batch > 0 ? ctx.options.batch : 8;
    const auto images = randomImages(spec, batch);
    const auto deviceImages = images.to(ctx.device);
    torch::NoGradGuard noGrad;
    at::Tensor features;
    const auto seconds = timeRuns(1, ctx.options.repeats, [&] {
        AutocastScope autocast(checkedPrecision(ctx.options.precision, ctx.device.type()), ctx.device.type());
        features = model->encodeImage(deviceImages);
    }, [&] { ctx.sync(); });
    recordTimes(ctx, seconds, batch);
    ctx.out["batch"] = batch;
    ctx.out["features_dtype"] = std::string(c10::toString(features.scalar_type()));
    if (const double flops = vitForwardFlops(spec.vision); flops > 0) {
        ctx.out["flop_per_image"] = flops;
        ctx.out["achieved_tflops"] = flops * batch / median(seconds) / 1e12;
    }
    if (!ctx.options.work.empty())
        writeSafetensors({{"images", images}, {"features", features.to(torch::kCPU, torch::kFloat)}}, ctx.workFile("forward-inputs.safetensors"));
}

// Timed training steps of a strategy (its loss, backward, SGD) after one warm-up step; the first step's
// logits and loss are what the baseline compares with.
struct TimedSteps
{
    std::vector<double> seconds;
    at::Tensor firstLogits, firstLoss;
};

TimedSteps timeTrainingSteps(Context& ctx, Strategy& strategy, const Batch& data, const torch::optim::SGDOptions& sgd)
{
    TimedSteps out;
    torch::optim::SGD optimizer(strategy.trainableParameters(), sgd);
    strategy.setTraining(true);
    auto step = [&] {
        optimizer.zero_grad();
        StepOutput output;
        {
            CheckpointingScope checkpointing(ctx.options.checkpointing);
            output = strategy.trainStep(data);
        }
        output.loss.backward();
        optimizer.step();
        if (!out.firstLogits.defined()) {
            out.firstLogits = output.logits.to(torch::kCPU);
            out.firstLoss = output.loss.detach().to(torch::kCPU);
        }
    };
    out.seconds = timeRuns(1, ctx.options.repeats, step, [&] { ctx.sync(); });
    return out;
}

// Tokens of the prompts the reference's prompt learner builds ("X X ... X name." or "init name.").
at::Tensor promptTokens(const ClipTokenizer& tokenizer, const std::string& prefix, const std::vector<std::string>& names)
{
    std::vector<int64_t> ids;
    for (const auto& name : names) {
        const auto row = tokenizer.tokenizeToContext(prefix + " " + name + ".");
        ids.insert(ids.end(), row.begin(), row.end());
    }
    return torch::tensor(ids, torch::kLong).view({static_cast<int64_t>(names.size()), -1});
}

// CoOp and CoCoOp: the real strategy's loss, backward and SGD step (the recipe's optimiser settings).
void taskPromptStep(Context& ctx, bool conditional)
{
    const ModelSpec spec = clipGeometry(ctx.options.geometry);
    auto model = randomModel(ctx, spec);
    const int batch = ctx.options.batch > 0 ? ctx.options.batch : (conditional ? 4 : 32);
    const int classes = ctx.options.classes > 0 ? ctx.options.classes : (conditional ? 20 : 100);
    TaskSetup setup;
    setup.classNames = classNames(classes);
    setup.tokenizer = loadTokenizer(ctx.options);
    const std::string prefix = conditional ? "a photo of a" : [&] {
        std::string xs;
        for (int i = 0; i < ctx.options.contextLength; ++i)
            xs += i ? " X" : "X";
        return xs;
    }();
    nlohmann::json params = conditional ? nlohmann::json{{"ctx_init", prefix}} : nlohmann::json{{"n_ctx", ctx.options.contextLength}};
    auto strategy = findStrategy(conditional ? "cocoop" : "coop").create();
    strategy->attach(model, setup, params);

    const auto images = randomImages(spec, batch);
    torch::manual_seed(11);
    const auto labels = torch::randint(classes, {batch}, torch::kLong);
    Batch data{images.to(ctx.device), labels.to(ctx.device), {}};
    const StateDict initial = strategy->trainableState();
    resetPeakRss();
    const std::int64_t rssBefore = procStatusBytes("VmRSS");
    resetPeakMemory(ctx.device);
    const auto [seconds, firstLogits, firstLoss] =
        timeTrainingSteps(ctx, *strategy, data, torch::optim::SGDOptions(0.002).momentum(0.9).weight_decay(5e-4));
    recordTimes(ctx, seconds, batch);
    ctx.out["batch"] = batch;
    ctx.out["classes"] = classes;
    ctx.out["n_ctx"] = strategy->trainableState().at("ctx").size(0);
    ctx.out["first_loss"] = firstLoss.item<double>();
    ctx.out["rss_before_bytes"] = rssBefore;
    ctx.out["peak_rss_bytes"] = procStatusBytes("VmHWM");
    const DeviceMemory memory = deviceMemory(ctx.device);
    if (memory.available)
        ctx.out["device_peak_allocated_bytes"] = memory.peakAllocated;

    StateDict saved = {{"images", images}, {"labels", labels}, {"logits", firstLogits},
                       {"tokens", promptTokens(*setup.tokenizer, prefix, setup.classNames)}};
    for (const auto& [name, tensor] : initial)
        saved["state." + name] = tensor;

    if (conditional) {
        // The per-image reference loop of our own engine on the same (updated) weights: equal logits.
        auto* cocoop = dynamic_cast<CocoopStrategy*>(strategy.get());
        strategy->setTraining(false);
        at::Tensor batched, looped;
        {
            torch::NoGradGuard noGrad;
            batched = strategy->logits(data.inputs);
        }
        const auto loopSeconds = timeRuns(0, 1, [&] { looped = cocoop->logitsPerImageLoop(data.inputs); }, [&] { ctx.sync(); });
        ctx.out["per_image_loop_forward_s"] = loopSeconds.front();
        ctx.out["batched_vs_loop_max_abs_diff"] = (batched - looped).abs().max().item<double>();
    }
    if (!ctx.options.work.empty())
        writeSafetensors(saved, ctx.workFile(std::string(conditional ? "cocoop" : "coop") + "-inputs.safetensors"));
}

// The deep and NLP-side prompt learners (maple, ivlp, promptsrc, prompt-tuning, p-tuning, prefix-tuning,
// p-tuning-v2): the strategy's real loss (PromptSRC's with its consistency terms), backward and an SGD step
// at the recipe's learning rate (the same optimiser on both sides, so that the step's work is compared).
// The baseline gets the initial tensors, the prompts' tokens and PromptSRC's frozen template-averaged text
// features (computed once at attach, outside the timed step in both). P-Tuning v2 runs without its
// prefix dropout here, so that the two sides' first logits can be compared.
void taskDeepPromptStep(Context& ctx, const std::string& method)
{
    const ModelSpec spec = clipGeometry(ctx.options.geometry);
    auto model = randomModel(ctx, spec);
    const int batch = ctx.options.batch > 0 ? ctx.options.batch : 4;
    const int classes = ctx.options.classes > 0 ? ctx.options.classes : 100;
    TaskSetup setup;
    setup.classNames = classNames(classes);
    setup.tokenizer = loadTokenizer(ctx.options);
    torch::manual_seed(5);
    auto strategy = findStrategy(method).create();
    strategy->attach(model, setup, method == "p-tuning-v2" ? nlohmann::json{{"dropout", 0.0}} : nlohmann::json::object());
    const TrainerConfig recipe = strategy->defaultTrainerConfig(16);
    // The words the learned vectors stand in for: CoOp-style "X X ... X", else the hand-crafted start.
    std::string prefix = "a photo of a";
    if (method == "prompt-tuning" || method == "p-tuning") {
        prefix.clear();
        for (int64_t i = 0; i < dynamic_cast<ClipStrategy&>(*strategy).contextVectors().size(0); ++i)
            prefix += i ? " X" : "X";
    }

    const auto images = randomImages(spec, batch);
    torch::manual_seed(11);
    const auto labels = torch::randint(classes, {batch}, torch::kLong);
    Batch data{images.to(ctx.device), labels.to(ctx.device), {}};
    const StateDict initial = strategy->trainableState();
    resetPeakRss();
    const std::int64_t rssBefore = procStatusBytes("VmRSS");
    const auto [seconds, firstLogits, firstLoss] = timeTrainingSteps(
        ctx, *strategy, data, torch::optim::SGDOptions(recipe.lr).momentum(recipe.momentum).weight_decay(recipe.weightDecay));
    ctx.out["rss_before_bytes"] = rssBefore;
    recordTimes(ctx, seconds, batch);
    ctx.out["batch"] = batch;
    ctx.out["classes"] = classes;
    ctx.out["lr"] = recipe.lr;
    ctx.out["trainable"] = strategy->trainableParameterCount();
    ctx.out["first_loss"] = firstLoss.item<double>();
    ctx.out["peak_rss_bytes"] = procStatusBytes("VmHWM");

    StateDict saved = {{"images", images}, {"labels", labels}, {"logits", firstLogits}, {"lr", torch::tensor(recipe.lr, torch::kDouble)},
                       {"tokens", promptTokens(*setup.tokenizer, prefix, setup.classNames)}};
    for (const auto& [name, tensor] : initial)
        saved["state." + name] = tensor;
    if (method == "promptsrc") {
        // The frozen text features averaged over CLIP's 80 templates, as the strategy holds them.
        auto zeroShot = findStrategy("zeroshot").create();
        zeroShot->attach(model, setup, {{"mode", "ensemble80"}});
        saved["teacher"] = dynamic_cast<ClipStrategy*>(zeroShot.get())->classTextFeatures().to(torch::kCPU);
    }
    if (!ctx.options.work.empty())
        writeSafetensors(saved, ctx.workFile(method + "-inputs.safetensors"));
}

// Tip-Adapter and the linear probe over cached features: only the classifier runs.
void taskEval(Context& ctx)
{
    const ModelSpec spec = clipGeometry(ctx.options.geometry);
    auto model = randomModel(ctx, spec);
    const int classes = ctx.options.classes > 0 ? ctx.options.classes : 100;
    const int64_t embed = spec.embedDim();
    TaskSetup setup;
    setup.classNames = classNames(classes);
    setup.tokenizer = loadTokenizer(ctx.options);
    auto tipStrategy = findStrategy("tip-adapter").create();
    tipStrategy->attach(model, setup, {});
    auto& tip = dynamic_cast<TipAdapterStrategy&>(*tipStrategy);
    auto probeStrategy = findStrategy("linear-probe").create();
    probeStrategy->attach(model, setup, {});
    auto& probe = dynamic_cast<LinearProbeStrategy&>(*probeStrategy);

    torch::manual_seed(3);
    const int64_t cacheSize = static_cast<int64_t>(classes) * ctx.options.shots;
    const auto cacheLabels = torch::arange(classes, torch::kLong).repeat_interleave(ctx.options.shots);
    // Features clustered around class centres, so that accuracy is a meaningful check.
    const auto centres = torch::randn({classes, embed});
    const auto keys = l2Normalize(centres.index_select(0, cacheLabels) + 0.8 * torch::randn({cacheSize, embed}));
    const auto testLabels = torch::randint(classes, {ctx.options.features}, torch::kLong);
    const auto features = l2Normalize(centres.index_select(0, testLabels) + 0.8 * torch::randn({ctx.options.features, embed}));
    const auto values = torch::one_hot(cacheLabels, classes).to(torch::kFloat);
    tip.setCache(keys.to(ctx.device), values.to(ctx.device));
    probe.fit(keys.to(ctx.device), cacheLabels.to(ctx.device), 1.0);
    const auto deviceFeatures = features.to(ctx.device);

    torch::NoGradGuard noGrad;
    at::Tensor tipLogits, probeLogits;
    double tipAccuracy = 0, probeAccuracy = 0;
    const auto deviceLabels = testLabels.to(ctx.device);
    const auto tipSeconds = timeRuns(1, ctx.options.repeats, [&] {
        tipLogits = tip.logitsFromFeatures(deviceFeatures, tip.alpha(), tip.beta());
        tipAccuracy = (tipLogits.argmax(-1) == deviceLabels).to(torch::kFloat).mean().item<double>();
    }, [&] { ctx.sync(); });
    const auto probeSeconds = timeRuns(1, ctx.options.repeats, [&] {
        probeLogits = probe.logitsFromFeatures(deviceFeatures);
        probeAccuracy = (probeLogits.argmax(-1) == deviceLabels).to(torch::kFloat).mean().item<double>();
    }, [&] { ctx.sync(); });
    recordTimes(ctx, tipSeconds, ctx.options.features);
    ctx.out["features"] = ctx.options.features;
    ctx.out["classes"] = classes;
    ctx.out["cache"] = cacheSize;
    ctx.out["tip_accuracy"] = tipAccuracy;
    ctx.out["probe_median_s"] = median(probeSeconds);
    ctx.out["probe_features_per_s"] = ctx.options.features / std::max(1e-12, median(probeSeconds));
    ctx.out["probe_accuracy"] = probeAccuracy;
    if (!ctx.options.work.empty()) {
        const StateDict probeState = probe.trainableState();
        StateDict saved = {{"features", features}, {"labels", testLabels}, {"keys", keys}, {"values", values},
                           {"text_features", tip.classTextFeatures().to(torch::kCPU)},
                           {"tip_logits", tipLogits.to(torch::kCPU)}, {"probe_logits", probeLogits.to(torch::kCPU)},
                           {"alpha", torch::tensor(tip.alpha())}, {"beta", torch::tensor(tip.beta())}};
        for (const auto& [name, tensor] : probeState)
            saved["probe." + name] = tensor;
        writeSafetensors(saved, ctx.workFile("eval-inputs.safetensors"));
    }
}

// Child process: resident memory of reading one checkpoint and of building the model from it.
void loadOnly(Context& ctx)
{
    const std::string& path = ctx.options.loadOnly;
    at::Tensor warm = torch::ones({4}) * 2;  // LibTorch's own start-up allocations before the baseline
    (void)warm;
    const std::int64_t baseline = procStatusBytes("VmRSS");
    if (!resetPeakRss())
        ctx.out["warning"] = "cannot reset VmHWM; the peak includes start-up";
    LoadOptions options;
    options.computeHash = false;
    const auto fileBytes = static_cast<std::int64_t>(fs::file_size(path));
    ctx.out["file"] = path;
    ctx.out["file_bytes"] = fileBytes;
    ctx.out["baseline_rss_bytes"] = baseline;
    ctx.out["mode"] = ctx.options.loadMode;
    if (ctx.options.loadMode == "read") {
        const Checkpoint checkpoint = readCheckpoint(path, options);  // the weights only
    } else {
        const ClipModel model = loadModel(path, options);  // what the CLI and the GUI do
    }
    const std::int64_t peak = procStatusBytes("VmHWM");
    ctx.out["peak_extra_bytes"] = peak - baseline;
    ctx.out["peak_ratio"] = static_cast<double>(peak - baseline) / fileBytes;
}

void taskLoad(Context& ctx, const char* self)
{
    if (ctx.options.work.empty())
        throw Error("--task load: needs --work DIR for the checkpoint files");
    const ModelSpec spec = clipGeometry(ctx.options.geometry);
    ctx.device = c10::Device(c10::kCPU);
    auto model = randomModel(ctx, spec);
    const StateDict weights = canonicalWeights(*model);
    const std::string safetensors = ctx.out["model_file"];
    const std::string torchscript = ctx.workFile("clip-" + ctx.options.geometry + ".pt");
    if (!fs::exists(torchscript))
        writeOpenAiTorchScript(weights, spec, torchscript);
    nlohmann::json results = nlohmann::json::array();
    for (const auto& [file, mode] : std::vector<std::pair<std::string, std::string>>{
             {safetensors, "read"}, {safetensors, "load"}, {torchscript, "read"}, {torchscript, "load"}}) {
        const std::string command = std::string(self) + " --load-only '" + file + "' --load-mode " + mode;
        FILE* pipe = popen(command.c_str(), "r");
        if (!pipe)
            throw Error("cannot run " + command);
        std::string text;
        char buffer[4096];
        while (size_t n = fread(buffer, 1, sizeof buffer, pipe))
            text.append(buffer, n);
        if (pclose(pipe) != 0)
            throw Error("--load-only " + file + " failed: " + text);
        results.push_back(nlohmann::json::parse(text));
    }
    ctx.out["loads"] = results;
}

} // namespace
// Full fine-tuning of the image tower and a linear head (the classic "full" method) on random images: the
// step's memory and time, with or without --checkpointing image. SGD with momentum, as the prompt tasks
// (the recipe's AdamW would add one more copy of the tower to both). No PyTorch baseline.
void taskFullStep(Context& ctx)
{
    const ModelSpec spec = clipGeometry(ctx.options.geometry);
    auto model = randomModel(ctx, spec);
    const int batch = ctx.options.batch > 0 ? ctx.options.batch : 8;
    const int classes = ctx.options.classes > 0 ? ctx.options.classes : 10;
    TaskSetup setup;
    setup.classNames = classNames(classes);
    torch::manual_seed(5);
    auto strategy = findStrategy("full").create();
    strategy->attach(model, setup, nlohmann::json::object());
    const auto images = randomImages(spec, batch);
    torch::manual_seed(11);
    const auto labels = torch::randint(classes, {batch}, torch::kLong);
    Batch data{images.to(ctx.device), labels.to(ctx.device), {}};
    resetPeakRss();
    const std::int64_t rssBefore = procStatusBytes("VmRSS");
    const auto [seconds, firstLogits, firstLoss] = timeTrainingSteps(ctx, *strategy, data, torch::optim::SGDOptions(1e-4).momentum(0.9));
    recordTimes(ctx, seconds, batch);
    ctx.out["batch"] = batch;
    ctx.out["classes"] = classes;
    ctx.out["trainable"] = strategy->trainableParameterCount();
    ctx.out["first_loss"] = firstLoss.item<double>();
    ctx.out["rss_before_bytes"] = rssBefore;
    ctx.out["peak_rss_bytes"] = procStatusBytes("VmHWM");
}

int main(int argc, char** argv)
{
    try {
        Context ctx;
        ctx.options = parse(argc, argv);
        configureThreads(ctx.options.threads);
        if (ctx.options.attention != "fused" && ctx.options.attention != "explicit")
            throw Error("--attention: expected fused or explicit, got '" + ctx.options.attention + "'");
        setAttentionKernel(ctx.options.attention == "fused" ? AttentionKernel::Fused : AttentionKernel::Explicit);
        ctx.device = chooseDevice(ctx.options.device);
        ctx.out["task"] = ctx.options.loadOnly.empty() ? ctx.options.task : "load-only";
        ctx.out["implementation"] = "tunebench";
        ctx.out["libtorch"] = TORCH_VERSION;
        ctx.out["device"] = describeDevice(ctx.device);
        ctx.out["threads"] = torch::get_num_threads();
        ctx.out["geometry"] = ctx.options.geometry;
        ctx.out["repeats"] = ctx.options.repeats;
        ctx.out["attention"] = attentionKernel() == AttentionKernel::Fused ? "fused" : "explicit";
        ctx.out["precision"] = ctx.options.precision;
        ctx.out["checkpointing"] = checkpointingName(ctx.options.checkpointing);
        if (!ctx.options.loadOnly.empty())
            loadOnly(ctx);
        else if (ctx.options.task == "forward")
            taskForward(ctx);
        else if (ctx.options.task == "coop")
            taskPromptStep(ctx, false);
        else if (ctx.options.task == "cocoop")
            taskPromptStep(ctx, true);
        else if (std::set<std::string>{"maple", "ivlp", "promptsrc", "prompt-tuning", "p-tuning", "prefix-tuning", "p-tuning-v2"}.count(
                     ctx.options.task))
            taskDeepPromptStep(ctx, ctx.options.task);
        else if (ctx.options.task == "full")
            taskFullStep(ctx);
        else if (ctx.options.task == "eval")
            taskEval(ctx);
        else if (ctx.options.task == "load")
            taskLoad(ctx, fs::read_symlink("/proc/self/exe").string().c_str());
        else
            throw Error("--task: unknown task '" + ctx.options.task + "' (forward, coop, cocoop, maple, ivlp, promptsrc, prompt-tuning, p-tuning, prefix-tuning, p-tuning-v2, full, eval or load)");
        std::cout << ctx.out.dump() << std::endl;
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "bench_engine: " << e.what() << std::endl;
        return 1;
    }
}
