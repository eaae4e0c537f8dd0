// predict: a tuned run (or its export) on the user's own images, top-K classes with probabilities.
#include "app/cli/Commands.h"

#include "app/cli/RunSetup.h"
#include "core/Device.h"
#include "core/Error.h"
#include "core/data/DatasetLayouts.h"
#include "core/data/ImagePreprocess.h"
#include "core/experiment/Experiment.h"
#include "core/experiment/TunedImageSource.h"
#include "core/experiment/TunedModel.h"
#include "core/export/PromptExport.h"
#include "core/io/AtomicFile.h"
#include "core/io/CsvField.h"
#include "core/train/FeatureCache.h"
#include "core/train/RunStore.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>

namespace fs = std::filesystem;

namespace tunebench::cli {

namespace {

constexpr int kPredictBatch = 32;

// The images of --image (as given) or --folder (every file with an image extension, sorted by name).
std::vector<std::string> imagePaths(const CliArgs& args)
{
    const auto images = args.values("image");
    const auto folder = args.value("folder");
    if (images.empty() == !folder)
        throw Error("give the images with --image FILE (repeatable) or --folder DIR, one of the two");
    if (!folder)
        return images;
    std::error_code error;
    if (!fs::is_directory(*folder, error))
        throw Error(*folder + ": not a folder");
    std::vector<std::string> paths;
    for (fs::directory_iterator it(*folder, error), end; !error && it != end; it.increment(error))
        if (it->is_regular_file(error) && isImageExtension(it->path().extension().string()))
            paths.push_back(it->path().string());
    if (error)
        throw Error(*folder + ": cannot list the folder (" + error.message() + ")");
    if (paths.empty())
        throw Error(*folder + ": no image files (.jpg, .png, .bmp, .tif, .webp, .ppm, ...) in the folder");
    std::sort(paths.begin(), paths.end());
    return paths;
}

// The K best classes of one row of probabilities, best first, as predict's JSON.
nlohmann::json topClassesJson(const at::Tensor& probabilities, const std::vector<std::string>& classNames, int k)
{
    nlohmann::json out = nlohmann::json::array();
    for (const ClassScore& score : topClasses(probabilities, classNames, k))
        out.push_back({{"class", score.className}, {"probability", score.probability}});
    return out;
}

std::string number(double value)
{
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.9g", value);
    return buffer;
}

int runPredict(const CliArgs& args)
{
    const auto runDir = args.value("run");
    const auto exportArg = args.value("export");
    if (runDir.has_value() == exportArg.has_value())
        throw Error("give the tuned model with --run RUN_DIR or --export EXPORT.json, one of the two");
    const std::vector<std::string> paths = imagePaths(args);
    const int top = intAtLeast(args, "top", 5, 1);
    const int loaderThreads = intAtLeast(args, "loader-threads", 0, 0);
    configureThreads(args.intValue("threads", 0));
    setMaxImagePixels(maxImagePixelsFromArgs(args, 0));

    // The run's model (config.json) or the one the export names, unless --model. Another model than the
    // export's is refused: predictions from it would look right and be wrong.
    const std::string device = args.value("device", "auto"), model = args.value("model", ""), vocabulary = args.value("vocab", "");
    // The image-tower cache: the run's folder (config.json's feature_cache, else the default, where the Mistakes
    // view reads), the default for an export, unless --feature-cache DIR or --no-feature-cache.
    const std::string cacheFolder = featureCacheFolder(args, runDir ? runFeatureCacheFolder(*runDir) : FeatureCache::defaultFolder());
    TunedModel tuned = runDir ? openTunedRun(*runDir, model, vocabulary, device, ModelMismatch::Refuse)
                              : openTunedExport(*exportArg, model, vocabulary, device, ModelMismatch::Refuse);
    const Backbone& backbone = tuned.backbone;
    const TaskSetup& setup = tuned.setup;
    Strategy& strategy = *tuned.strategy;

    // The hand-crafted prompt beside a prompt learner, as the run's evaluation compares them.
    std::unique_ptr<Strategy> handcrafted = handcraftedPromptFor(tuned);

    // The run's evaluation pipeline: the threaded loader with the evaluation transform at the model's resolution,
    // or, where the image tower is frozen, its features from the image-tower cache (encoded there when missing).
    auto source = std::make_unique<TunedImageSource>(tuned, paths, cacheFolder, kPredictBatch, loaderThreads);
    std::vector<std::optional<nlohmann::json>> results(paths.size());
    {
        torch::NoGradGuard noGrad;
        source->startEpoch(0);
        while (auto batch = source->next()) {
            const auto probabilities = classProbabilities(strategy, batch->inputs);
            at::Tensor handcraftedProbabilities;
            if (handcrafted)
                handcraftedProbabilities = classProbabilities(*handcrafted, batch->inputs);
            for (size_t row = 0; row < batch->indices.size(); ++row) {
                const auto index = static_cast<size_t>(batch->indices[row]);
                const auto r = static_cast<int64_t>(row);
                nlohmann::json entry = {{"path", paths[index]}, {"top", topClassesJson(probabilities[r], setup.classNames, top)}};
                if (handcrafted)
                    entry["handcrafted"] = topClassesJson(handcraftedProbabilities[r], setup.classNames, top);
                results[index] = std::move(entry);
            }
        }
    }
    // Unreadable images are reported as training reports them, and left out; a single image that cannot be
    // read is the one-line error itself.
    const std::vector<std::string> problems = source->problems();
    const auto predicted = static_cast<size_t>(std::count_if(results.begin(), results.end(), [](const auto& r) { return r.has_value(); }));
    if (predicted == 0 && problems.size() == 1)
        throw Error(problems.front());
    for (const std::string& problem : problems)
        std::cerr << "skipped: " << problem << "\n";
    if (predicted == 0)
        throw Error("none of the " + std::to_string(paths.size()) + " images could be read");

    std::string csv = "path,rank,class,probability,handcrafted_class,handcrafted_probability\n";
    for (const auto& result : results) {
        if (!result)
            continue;
        std::cout << result->dump() << "\n";
        const nlohmann::json& best = (*result)["top"];
        for (size_t rank = 0; rank < best.size(); ++rank) {
            csv += csvField((*result)["path"].get<std::string>()) + "," + std::to_string(rank + 1) + "," +
                   csvField(best[rank]["class"].get<std::string>()) + "," + number(best[rank]["probability"].get<double>()) + ",";
            if (result->contains("handcrafted")) {
                const nlohmann::json& other = (*result)["handcrafted"][rank];
                csv += csvField(other["class"].get<std::string>()) + "," + number(other["probability"].get<double>());
            } else {
                csv += ",";
            }
            csv += "\n";
        }
    }
    std::cout.flush();
    if (auto csvPath = args.value("csv"))
        writeFileAtomically(*csvPath, csv);
    std::cerr << source->cacheReport() << "\n";
    if (const std::string problem = source->cacheWriteProblem(); !problem.empty())
        std::cerr << "image-tower cache: the features were not stored (" << problem << ")\n";
    std::cerr << "predicted " << predicted << " of " << paths.size() << " images with " << strategy.name() << " (" << tuned.manifestPath << ") on "
              << describeDevice(backbone.device) << (problems.empty() ? "" : "; unreadable images skipped") << "\n";
    return 0;
}

} // namespace

Command predictCommand()
{
    return {"predict", "(--run RUN_DIR | --export EXPORT.json) (--image FILE... | --folder DIR) [--top K] [--csv OUT]",
            "a tuned model's top-K classes with probabilities for each image, one JSON object per line (CLIP methods: the "
            "hand-crafted prompt's top-K beside them)",
            {
                {"run", "RUN_DIR", "a finished run: its export and the model in its config.json"},
                {"export", "EXPORT.json", "an export (tunebench-cli export): the model it names (checkpoint.path) unless --model"},
                {"model", "PATH", "the checkpoint, instead of the run's or the export's (it must have the same SHA-256)"},
                {"image", "FILE", "an image to classify (repeatable)"},
                {"folder", "DIR", "every image file in the folder, in name order"},
                {"top", "K", "classes per image (default 5)"},
                {"csv", "OUT", "also write the predictions as CSV (path, rank, class, probability, handcrafted_class, handcrafted_probability)"},
                {"vocab", "FILE", "the CLIP vocabulary (default: the run's, else beside the model)"},
                {"loader-threads", "N", "image decoding threads"},
                {"feature-cache", "DIR",
                 "the image-tower cache's folder, for the methods that keep the image tower frozen (default: the run's, else "
                 "$TUNEBENCH_CACHE_DIR or ~/.cache/tunebench/features)"},
                {"no-feature-cache", "", "no image-tower cache: every image is encoded"},
                {"max-image-pixels", "N", "images with more pixels are skipped and reported, from their header (default 50000000)"},
            },
            runPredict};
}

} // namespace tunebench::cli
