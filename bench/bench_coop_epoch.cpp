// A full CoOp epoch including data loading: JPEG files decoded and augmented by tunebench_data's
// threaded loader, then the real Trainer with the CoOp strategy (loss, backward, SGD).
//
//   bench_coop_epoch --work DIR [--images N] [--classes C] [--batch B] [--geometry small|b16]
//                    [--threads N] [--repeats R] [--device cpu|cuda]
//
// Writes DIR/epoch-images/<class>/<n>.jpg (500 x 375 photo-like images, written once) and
// DIR/coop_epoch-inputs.safetensors (initial context, prompt tokens) for bench/reference's epoch
// baseline; prints the median epoch seconds and images/s as JSON.

#include "bench/BenchCommon.h"

#include "core/Device.h"
#include "core/Error.h"
#include "core/data/ImageBatchSource.h"
#include "core/io/CheckpointWriter.h"
#include "core/io/ClipTokenizer.h"
#include "core/io/StateDict.h"
#include "core/io/VocabularyLocator.h"
#include "core/model/ClipModel.h"
#include "core/train/Trainer.h"
#include "core/tuning/Strategy.h"

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <iostream>
#include <random>

using namespace tunebench;
using namespace tunebench::bench;
namespace fs = std::filesystem;

namespace {

// Smooth gradients, discs and noise: decodes at the cost of a real photo of that size.
cv::Mat photoLike(int width, int height, std::mt19937& random)
{
    cv::Mat image(height, width, CV_8UC3);
    const int shift = static_cast<int>(random() % 256);
    for (int y = 0; y < height; ++y) {
        auto* row = image.ptr<cv::Vec3b>(y);
        for (int x = 0; x < width; ++x)
            row[x] = cv::Vec3b(static_cast<std::uint8_t>((x + shift) % 256), static_cast<std::uint8_t>((2 * y + shift) % 256),
                               static_cast<std::uint8_t>((x + y + shift) % 256));
    }
    for (int i = 0; i < 10; ++i)
        cv::circle(image, {static_cast<int>(random() % width), static_cast<int>(random() % height)}, 10 + static_cast<int>(random() % 70),
                   cv::Scalar(random() % 256, random() % 256, random() % 256), cv::FILLED);
    cv::Mat noise(height, width, CV_8UC3);
    cv::randn(noise, cv::Scalar::all(0), cv::Scalar::all(12));
    cv::add(image, noise, image);
    return image;
}

int positive(const std::string& flag, const char* value)
{
    if (!value || std::atoi(value) <= 0)
        throw Error(flag + ": expected a positive integer");
    return std::atoi(value);
}

} // namespace

int main(int argc, char** argv)
{
    try {
        std::string work, device = "cpu", geometry = "small";
        int images = 320, classes = 10, batch = 32, threads = 0, repeats = 3;
        for (int i = 1; i < argc; i += 2) {
            const std::string flag = argv[i];
            const char* value = i + 1 < argc ? argv[i + 1] : nullptr;
            if (!value)
                throw Error(flag + ": missing value");
            if (flag == "--work") work = value;
            else if (flag == "--device") device = value;
            else if (flag == "--geometry") geometry = value;
            else if (flag == "--images") images = positive(flag, value);
            else if (flag == "--classes") classes = positive(flag, value);
            else if (flag == "--batch") batch = positive(flag, value);
            else if (flag == "--threads") threads = positive(flag, value);
            else if (flag == "--repeats") repeats = positive(flag, value);
            else throw Error("unknown option '" + flag + "'");
        }
        if (work.empty())
            throw Error("--work: missing (the folder for the images and the model)");
        configureThreads(threads);
        const c10::Device dev = chooseDevice(device);

        // The dataset, written once.
        const fs::path folder = fs::path(work) / "epoch-images";
        auto dataset = std::make_shared<DatasetIndex>();
        dataset->name = "synthetic";
        dataset->layout = "folder";
        dataset->root = folder.string();
        for (int c = 0; c < classes; ++c)
            dataset->classNames.push_back("object " + std::to_string(c));
        std::mt19937 random(3);
        for (int i = 0; i < images; ++i) {
            const int label = i % classes;
            const fs::path file = folder / ("class" + std::to_string(label)) / (std::to_string(i) + ".jpg");
            if (!fs::exists(file)) {
                fs::create_directories(file.parent_path());
                cv::Mat bgr;
                cv::cvtColor(photoLike(500, 375, random), bgr, cv::COLOR_RGB2BGR);
                if (!cv::imwrite(file.string(), bgr, {cv::IMWRITE_JPEG_QUALITY, 90}))
                    throw Error(file.string() + ": cannot write the benchmark image");
            }
            dataset->train.push_back(Sample{file.string(), -1, label});
        }

        const ModelSpec spec = clipGeometry(geometry);
        torch::manual_seed(1234);
        ClipModel model(spec);
        {
            torch::NoGradGuard noGrad;
            model->logit_scale.fill_(std::log(100.0));
        }
        const std::string modelFile = (fs::path(work) / ("clip-" + geometry + ".safetensors")).string();
        if (!fs::exists(modelFile))
            writeOpenAiSafetensors(canonicalWeights(*model), modelFile);
        model->to(dev);
        model->eval();

        std::string vocab;
        for (const char* candidate : {"../shared/data/bpe_simple_vocab_16e6.txt.gz", "shared/data/bpe_simple_vocab_16e6.txt.gz", "third_party-local/bpe_simple_vocab_16e6.txt.gz"}) {
            if (fs::exists(candidate))
                vocab = candidate;
        }
        TaskSetup setup;
        setup.classNames = dataset->classNames;
        setup.tokenizer = std::make_shared<const ClipTokenizer>(ClipTokenizer::load(locateVocabulary(vocab, "")));
        auto strategy = findStrategy("coop").create();
        strategy->attach(model, setup, {{"n_ctx", 16}});

        // Inputs of the Python baseline: the same context, the same prompts.
        std::vector<std::int64_t> ids;
        for (const auto& name : setup.classNames) {
            const auto row = setup.tokenizer->tokenizeToContext("X X X X X X X X X X X X X X X X " + name + ".");
            ids.insert(ids.end(), row.begin(), row.end());
        }
        StateDict saved = {{"tokens", torch::tensor(ids, torch::kLong).view({classes, -1})},
                           {"state.ctx", strategy->trainableState().at("ctx")}};
        writeSafetensors(saved, (fs::path(work) / "coop_epoch-inputs.safetensors").string());

        ImagePipeline pipeline;
        TrainTransform train;
        train.resolution = spec.vision.imageSize;
        pipeline.train = train;
        LoaderOptions loader;
        loader.batchSize = batch;
        loader.shuffle = true;
        loader.threads = threads;
        ImageBatchSource source(dataset, dataset->train, pipeline, loader);
        TrainerConfig config = strategy->defaultTrainerConfig(16);
        config.epochs = 1;
        config.warmupEpochs = 0;

        double loss = 0;
        resetPeakRss();
        const std::int64_t rssBefore = procStatusBytes("VmRSS");
        const auto seconds = timeRuns(1, repeats, [&] {
            const TrainResult result = Trainer(config).fit(*strategy, source);
            loss = result.finalLoss;
        });
        const double med = median(seconds);
        nlohmann::json out = {{"task", "coop_epoch"}, {"implementation", "tunebench"}, {"device", describeDevice(dev)},
                              {"threads", torch::get_num_threads()}, {"geometry", geometry}, {"images", images},
                              {"classes", classes}, {"batch", batch}, {"repeats", repeats}, {"runs_s", seconds},
                              {"median_s", med}, {"images_per_s", images / med}, {"final_loss", loss},
                              {"loader_threads", source.threadCount()}, {"rss_before_bytes", rssBefore},
                              {"peak_rss_bytes", procStatusBytes("VmHWM")}, {"model_file", modelFile}};
        std::cout << out.dump() << std::endl;
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "bench_coop_epoch: " << e.what() << std::endl;
        return 1;
    }
}
