// info, encode and classify: the commands that run a checkpoint on images and texts.
#include "app/cli/Commands.h"

#include "core/Device.h"
#include "core/Error.h"
#include "core/data/ImagePreprocess.h"
#include "core/io/CheckpointLoader.h"
#include "core/io/ClipTokenizer.h"
#include "core/io/VocabularyLocator.h"
#include "core/train/ContrastivePretraining.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <iostream>
#include <optional>

namespace tunebench::cli {

namespace {

constexpr int kBatch = 32;

struct LoadedClip
{
    ModelSpec spec;
    ClipModel model{nullptr};
    std::optional<ClipTokenizer> tokenizer;
    c10::Device device = c10::kCPU;
};

// Loads the checkpoint (and its vocabulary when texts are involved) onto the requested device.
LoadedClip loadClip(const CliArgs& args, bool needText)
{
    configureThreads(args.intValue("threads", 0));
    const auto modelPath = args.value("model");
    if (!modelPath)
        throw Error("--model PATH is required");
    LoadedClip loaded;
    Checkpoint checkpoint = readCheckpoint(*modelPath);
    if (needText) {
        if (!checkpoint.spec.text)
            throw Error(*modelPath + ": a vision-only model has no text tower to encode texts with");
        const std::string vocabulary = locateVocabulary(args.value("vocab", ""), *modelPath);
        loaded.tokenizer = ClipTokenizer::load(vocabulary);
        if (loaded.tokenizer->vocabSize() > checkpoint.spec.text->vocabSize)
            throw Error(vocabulary + ": vocabulary has " + std::to_string(loaded.tokenizer->vocabSize()) +
                        " tokens but the model's embedding has " + std::to_string(checkpoint.spec.text->vocabSize) + " rows");
        checkpoint.spec.text->endOfTextId = loaded.tokenizer->endId();
    }
    loaded.device = chooseDevice(args.value("device", "auto"));
    loaded.spec = checkpoint.spec;
    loaded.model = buildModel(checkpoint);
    loaded.model->to(loaded.device);
    // fp32 on the CPU (no fp16 kernels there); half precision on CUDA, LayerNorms stay fp32 (Fp32LayerNorm).
    if (loaded.device.is_cuda())
        loaded.model->to(torch::kHalf);
    return loaded;
}

// After the results: stderr carries nothing before a possible error line.
void logDone(const LoadedClip& clip, size_t images, size_t texts)
{
    std::cerr << "encoded " << images << " images and " << texts << " texts with " << clip.spec.name << " ("
              << clip.spec.familyName() << ", " << clip.spec.parameterCount << " parameters) on "
              << describeDevice(clip.device) << "\n";
}

nlohmann::json rows(const torch::Tensor& matrix)
{
    auto cpu = matrix.to(torch::kCPU, torch::kFloat).contiguous();
    nlohmann::json out = nlohmann::json::array();
    for (int64_t r = 0; r < cpu.size(0); ++r) {
        const float* row = cpu[r].data_ptr<float>();
        out.push_back(std::vector<float>(row, row + cpu.size(1)));
    }
    return out;
}

// All images decoded and preprocessed up front, so a bad file fails before any model work.
torch::Tensor preprocessImages(const LoadedClip& clip, const std::vector<std::string>& paths)
{
    EvalTransform transform;
    transform.resolution = clip.spec.vision.imageSize;
    const int64_t side = transform.resolution;
    auto images = torch::empty({static_cast<int64_t>(paths.size()), 3, side, side});
    for (size_t i = 0; i < paths.size(); ++i)
        transform.apply(decodeImage(paths[i]), images[static_cast<int64_t>(i)].data_ptr<float>());
    return images;
}

torch::Tensor imageFeatures(LoadedClip& clip, const torch::Tensor& images)
{
    std::vector<torch::Tensor> batches;
    torch::NoGradGuard noGrad;
    for (int64_t start = 0; start < images.size(0); start += kBatch)
        batches.push_back(clip.model->encodeImage(images.narrow(0, start, std::min<int64_t>(kBatch, images.size(0) - start)).to(clip.device)));
    return torch::cat(batches).to(torch::kCPU);
}

torch::Tensor textFeatures(LoadedClip& clip, const std::vector<std::string>& texts)
{
    const int context = clip.spec.text->contextLength;
    std::vector<torch::Tensor> batches;
    torch::NoGradGuard noGrad;
    for (size_t start = 0; start < texts.size(); start += kBatch) {
        const size_t count = std::min<size_t>(kBatch, texts.size() - start);
        auto tokens = torch::empty({static_cast<int64_t>(count), context}, torch::kLong);
        for (size_t i = 0; i < count; ++i) {
            const auto ids = clip.tokenizer->tokenizeToContext(texts[start + i], context, true, 0);
            std::copy(ids.begin(), ids.end(), tokens[static_cast<int64_t>(i)].data_ptr<int64_t>());
        }
        batches.push_back(clip.model->encodeText(tokens.to(clip.device)));
    }
    return torch::cat(batches).to(torch::kCPU);
}

int runInfo(const CliArgs& args)
{
    const auto modelPath = args.value("model");
    if (!modelPath)
        throw Error("--model PATH is required");
    ModelSpec spec;
    loadModel(*modelPath, {}, &spec);  // proves the weights fit the inferred geometry, at about 1x the file in memory
    std::cout << spec.summary().dump(2) << std::endl;
    return 0;
}

int runEncode(const CliArgs& args)
{
    if (!args.positional().empty())
        throw Error("unexpected argument '" + args.positional().front() + "' (use --image FILE or --text STR)");
    const auto images = args.values("image");
    const auto texts = args.values("text");
    if (images.empty() && texts.empty())
        throw Error("nothing to encode: give --image FILE and/or --text STR");
    LoadedClip clip = loadClip(args, !texts.empty());
    const auto pixels = preprocessImages(clip, images);
    nlohmann::json out = {{"image_features", nlohmann::json::array()}, {"text_features", nlohmann::json::array()}};
    if (!images.empty())
        out["image_features"] = rows(l2Normalize(imageFeatures(clip, pixels)));
    if (!texts.empty())
        out["text_features"] = rows(l2Normalize(textFeatures(clip, texts)));
    logDone(clip, images.size(), texts.size());
    std::cout << out.dump() << std::endl;
    return 0;
}

int runClassify(const CliArgs& args)
{
    const auto classes = args.values("class");
    const auto images = args.values("image");
    if (classes.empty())
        throw Error("give the candidate classes with --class NAME (repeat it)");
    if (images.empty())
        throw Error("give the images with --image FILE (repeat it)");
    const std::string templ = args.value("template", "a photo of a {}.");
    std::vector<std::string> prompts;
    for (const auto& name : classes)
        prompts.push_back(fillTemplate(templ, name));

    LoadedClip clip = loadClip(args, true);
    const auto imageFeats = imageFeatures(clip, preprocessImages(clip, images));
    const auto textFeats = textFeatures(clip, prompts);
    torch::NoGradGuard noGrad;
    const double scale = clip.model->logit_scale.exp().item<double>();
    const auto logits = clip.model->logits(imageFeats.to(clip.device), textFeats.to(clip.device)).to(torch::kCPU);
    const auto probs = logits.softmax(-1);
    nlohmann::json perImage = nlohmann::json::array();
    const auto logitRows = rows(logits), probRows = rows(probs);
    for (size_t i = 0; i < images.size(); ++i)
        perImage.push_back({{"path", images[i]}, {"logits", logitRows[i]}, {"probs", probRows[i]}});
    logDone(clip, images.size(), prompts.size());
    std::cout << nlohmann::json{{"classes", classes}, {"prompts", prompts}, {"logit_scale", scale}, {"images", perImage}}.dump()
              << std::endl;
    return 0;
}

} // namespace

Command infoCommand()
{
    return {"info", "--model PATH", "summary of a checkpoint (family, towers, parameters, hash)",
            {{"model", "PATH", "an OpenAI .pt, a .safetensors file or a Hugging Face CLIP folder"}}, runInfo};
}

Command encodeCommand()
{
    return {"encode", "--model PATH [--vocab FILE] [--image FILE]... [--text STR]...", "L2-normalised image and text features",
            {
                {"model", "PATH", "the checkpoint"},
                {"vocab", "FILE", "the CLIP vocabulary (for --text)"},
                {"image", "FILE", "an image to encode (repeatable)"},
                {"text", "STR", "a text to encode (repeatable)"},
            },
            runEncode};
}

Command classifyCommand()
{
    return {"classify", "--model PATH [--vocab FILE] --class NAME... [--template STR] --image FILE...",
            "zero-shot classification of images",
            {
                {"model", "PATH", "a CLIP checkpoint"},
                {"vocab", "FILE", "the CLIP vocabulary"},
                {"class", "NAME", "a class name (repeatable, at least two)"},
                {"template", "STR", "the prompt, {} for the class name (default \"a photo of a {}.\")"},
                {"image", "FILE", "an image to classify (repeatable)"},
            },
            runClassify};
}

} // namespace tunebench::cli
