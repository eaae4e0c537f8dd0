#include "core/experiment/TunedClassifier.h"

#include "core/Error.h"
#include "core/data/ImagePreprocess.h"
#include "core/experiment/TunedImageSource.h"
#include "core/experiment/TunedModel.h"
#include "core/model/AttentionRollout.h"
#include "core/train/GeneratorLock.h"
#include "core/tuning/prompt/ClipStrategy.h"

#include <torch/torch.h>

#include <algorithm>
#include <cstring>

namespace tunebench {

struct TunedClassifier::Open
{
    TunedModel tuned;
    std::unique_ptr<Strategy> handcrafted;
    const StrategyInfo* info = nullptr;
    std::string cacheFolder;  // empty: the image tower is not frozen, nothing to cache
};

TunedClassifier::TunedClassifier(const std::string& runDir, const std::string& device)
    : m_runDir(runDir), m_device(device), m_open(std::make_unique<Open>())
{
    // Building the model draws initial values (replaced by the run's) from LibTorch's generator: not while a
    // run in this process does (GeneratorLock).
    const GeneratorLock generator;
    // The run's model as predict --run opens it: another model than the export's is refused.
    m_open->tuned = openTunedRun(runDir, "", "", device, ModelMismatch::Refuse);
    m_open->info = &findStrategy(m_open->tuned.strategy->name());
    m_open->handcrafted = handcraftedPromptFor(m_open->tuned);
    if (whyNoImageTowerCache(m_open->tuned).empty())
        m_open->cacheFolder = runFeatureCacheFolder(runDir);
}

TunedClassifier::~TunedClassifier() = default;

const std::string& TunedClassifier::method() const
{
    return m_open->info->name;
}

bool TunedClassifier::comparesWithHandcrafted() const
{
    return m_open->handcrafted != nullptr;
}

ImagePredictions TunedClassifier::classifyAll(const std::vector<std::string>& paths, PredictionOptions options)
{
    const std::lock_guard<std::mutex> lock(m_mutex);
    options.cacheFolder = m_open->cacheFolder;
    return predictImages(m_open->tuned, m_open->handcrafted.get(), paths, options);
}

void TunedClassifier::withModel(const std::function<void(TunedModel&)>& work)
{
    const std::lock_guard<std::mutex> lock(m_mutex);
    work(m_open->tuned);
}

ImageTrial TunedClassifier::classify(const std::string& imagePath, int top)
{
    const cv::Mat rgb = decodeImage(imagePath);  // Error naming the file
    RgbImage image{rgb.cols, rgb.rows, {}};
    image.pixels.resize(static_cast<size_t>(3 * rgb.cols * rgb.rows));
    for (int y = 0; y < rgb.rows; ++y)
        std::memcpy(image.pixels.data() + static_cast<size_t>(3 * y * rgb.cols), rgb.ptr<std::uint8_t>(y), static_cast<size_t>(3 * rgb.cols));
    return score(image, imagePath, top, &imagePath);
}

ImageTrial TunedClassifier::classify(const RgbImage& image, const std::string& name, int top)
{
    return score(image, name, top, nullptr);
}

ImageTrial TunedClassifier::score(const RgbImage& image, const std::string& name, int top, const std::string* file)
{
    if (image.width <= 0 || image.height <= 0 || image.pixels.size() != static_cast<size_t>(3 * image.width * image.height))
        throw Error(name + ": not an RGB image of " + std::to_string(image.width) + " x " + std::to_string(image.height) + " pixels");
    const std::lock_guard<std::mutex> lock(m_mutex);
    const TunedModel& tuned = m_open->tuned;
    const VisionSpec& vision = tuned.backbone.checkpoint.spec.vision;

    ImageTrial trial;
    trial.imagePath = name;
    const cv::Mat rgb(image.height, image.width, CV_8UC3, const_cast<std::uint8_t*>(image.pixels.data()));
    // The run's evaluation transform at the model's resolution (what predict's loader applies).
    const EvalTransform transform{vision.imageSize};
    trial.resolution = transform.resolution;
    // EvalTransform::apply's steps, with the crop kept: resized and cropped once, shown and normalised.
    const cv::Mat cropped = centerCrop(resizeShorterSide(rgb, transform.resizeSize(), transform.filter), transform.resolution);
    trial.rgb.resize(static_cast<size_t>(3 * transform.resolution * transform.resolution));
    for (int y = 0; y < cropped.rows; ++y)
        std::memcpy(trial.rgb.data() + static_cast<size_t>(3 * y * cropped.cols), cropped.ptr<std::uint8_t>(y), static_cast<size_t>(3 * cropped.cols));
    auto pixels = torch::empty({1, 3, transform.resolution, transform.resolution});
    toNormalizedChw(cropped, transform.norm, pixels[0].data_ptr<float>());
    pixels = pixels.to(tuned.backbone.device);

    torch::NoGradGuard noGrad;
    // What the tuned model and the hand-crafted prompt score: the pixels, or, for a file whose image tower is
    // frozen, its image-tower features as predict reads them (from the cache, else encoded and stored there).
    at::Tensor inputs = pixels;
    if (file && !m_open->cacheFolder.empty()) {
        TunedImageSource source(m_open->tuned, {*file}, m_open->cacheFolder, 1, 1);
        source.startEpoch(0);
        const auto batch = source.next();
        if (!batch)
            throw Error(source.problems().empty() ? *file + ": cannot be read" : source.problems().front());
        inputs = batch->inputs;
        trial.featuresFromCache = source.imagesFromCache() > 0;
    }
    {
        // The recorder lives only around the tuned model's image tower: the hand-crafted prompt's must not add
        // its layers. Scored from features, the frozen tower still runs once, for where it looks.
        AttentionRecorder recorder;
        if (inputs.dim() == 2)
            dynamic_cast<ClipStrategy&>(*tuned.strategy).imageFeatures(pixels);
        const auto probabilities = classProbabilities(*tuned.strategy, inputs);
        trial.top = topClasses(probabilities[0], tuned.setup.classNames, top);
        try {
            // A ResNet's attention pool sees the image at 1/32 of its side; a ViT its patches.
            trial.grid = vision.isResNet() ? vision.imageSize / 32 : vision.gridSize();
            // Tokens beyond [CLS] and the patches are a method's prompts. The CLIP prompt learners' vision
            // prompts (MaPLe, IVLP, PromptSRC) follow the patches; the classic and continual methods' (VPT,
            // L2P) are inserted right after [CLS], so the patches start after them. Counting them from the
            // recorded length needs no per-method option (VPT's prompt_tokens, L2P's top_k x length).
            int64_t firstPatch = 1;
            if (!recorder.layers().empty() && m_open->info->family != StrategyFamily::PromptLearning)
                firstPatch = std::max<int64_t>(1, recorder.layers().back().size(-1) - int64_t(trial.grid) * trial.grid);
            const AttentionMap map = attentionMap(recorder, trial.grid, firstPatch, vision.layers);
            const auto values = map.map[0].to(torch::kCPU, torch::kFloat).contiguous();
            trial.attention.assign(values.data_ptr<float>(), values.data_ptr<float>() + values.numel());
            trial.attentionMethod = map.method;
        } catch (const std::exception& e) {
            trial.attention.clear();
            trial.attentionProblem = firstLine(std::string(e.what()));
        }
    }
    if (m_open->handcrafted) {
        const auto probabilities = classProbabilities(*m_open->handcrafted, inputs);
        trial.handcrafted = topClasses(probabilities[0], tuned.setup.classNames, top);
    }
    return trial;
}

} // namespace tunebench
