// The engine on one device, without Qt or OpenCV (what scripts/device-check runs on a GPU machine):
//
//   engine_check [--device auto|cpu|cuda] [--vocab FILE] [--work DIR]
//
// Checks CPU/device agreement of the CLIP forward (ViT and ResNet towers), training in fp32, bf16 and fp16
// (the loss goes down, stays finite) of CoOp on both towers, of P-Tuning v2 (key/value prefixes in the text
// attention) and of L2P (prompt pool in the image tower), the tokenizer on the real vocabulary when found,
// the memory statistics, the out-of-memory message, and a checkpoint round trip. Prints one JSON object;
// exit code 1 on a failure.

#include "bench/BenchCommon.h"

#include "core/Device.h"
#include "core/Error.h"
#include "core/io/CheckpointLoader.h"
#include "core/io/CheckpointWriter.h"
#include "core/io/ClipTokenizer.h"
#include "core/io/VocabularyLocator.h"
#include "core/model/ClipModel.h"
#include "core/train/BatchSource.h"
#include "core/train/Trainer.h"
#include "core/tuning/Strategy.h"

#include <nlohmann/json.hpp>
#include <torch/cuda.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <iostream>
#include <memory>
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

// A few epochs of `method` on 8 random images of 5 classes: the run finishes and the loss falls.
void checkTraining(Checks& checks, const c10::Device& device, const std::shared_ptr<const ClipTokenizer>& tokenizer, const std::string& method,
                   const nlohmann::json& options, const ModelSpec& spec, const std::string& label, const std::string& precision)
{
    const std::string name = label + "_training_" + precision;
    if (!tokenizer && findStrategy(method).capabilities.needsTextTower) {
        checks.skip(name, "no CLIP vocabulary found (pass --vocab)");
        return;
    }
    if (precision != "fp32" && !device.is_cuda()) {
        checks.skip(name, "mixed precision runs on CUDA only");
        return;
    }
    auto model = randomModel(spec);
    model->to(device);
    TaskSetup setup;
    setup.classNames = {"cat", "dog", "car", "tree", "house"};
    setup.tokenizer = tokenizer;
    auto strategy = findStrategy(method).create();
    strategy->attach(model, setup, options);
    torch::manual_seed(8);
    TensorBatchSource data(torch::randn({8, 3, spec.vision.imageSize, spec.vision.imageSize}), torch::arange(8, torch::kLong) % 5, 8, false);
    TrainerConfig config;
    config.epochs = 12;
    config.warmupEpochs = 0;
    // Learning rates at which each method's loss visibly falls within 12 steps on random data.
    config.lr = method == "l2p" ? 0.01 : method == "p-tuning-v2" ? 2.0 : 0.05;
    config.precision = precision;
    std::vector<double> losses;
    TrainerCallbacks callbacks;
    callbacks.onStep = [&](const StepReport& report) { losses.push_back(report.loss); };
    const TrainResult result = Trainer(config).fit(*strategy, data, callbacks);
    bool finite = !losses.empty();
    for (double loss : losses)
        finite = finite && std::isfinite(loss);
    const bool decreased = finite && losses.back() < losses.front();
    checks.add(name, result.status == TrainResult::Status::Finished && decreased,
               {{"first_loss", losses.empty() ? 0.0 : losses.front()}, {"last_loss", losses.empty() ? 0.0 : losses.back()},
                {"steps", result.steps}, {"seconds", result.seconds}});
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
    } catch (const Error& e) {
        message = e.what();
        recognised = true;
    } catch (const std::exception& e) {
        message = e.what();
    }
    if (message.size() > 400)
        message = message.substr(0, 400) + "...";
    const bool clear = recognised && message.find("out of memory") != std::string::npos &&
                       message.find("--batch-size 32") != std::string::npos;
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
        for (const std::string precision : {"fp32", "bf16", "fp16"}) {
            checkTraining(checks, device, tokenizer, "coop", {{"n_ctx", 4}}, checkSpec(), "coop", precision);
            checkTraining(checks, device, tokenizer, "coop", {{"n_ctx", 4}}, checkResNetSpec(), "coop_resnet", precision);
            checkTraining(checks, device, tokenizer, "p-tuning-v2", {{"dropout", 0.0}}, checkSpec(), "p_tuning_v2", precision);
            checkTraining(checks, device, tokenizer, "l2p", nlohmann::json::object(), checkSpec(), "l2p", precision);
        }
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
