// predict: a tuned run (or its export) on the user's own images, top-K classes with probabilities.
#include "app/cli/Commands.h"

#include "app/cli/RunSetup.h"
#include "core/Device.h"
#include "core/Error.h"
#include "core/data/ImagePreprocess.h"
#include "core/experiment/ImagePredictions.h"
#include "core/experiment/TunedImageSource.h"
#include "core/experiment/TunedModel.h"
#include "core/io/AtomicFile.h"
#include "core/train/FeatureCache.h"

#include <nlohmann/json.hpp>

#include <iostream>

namespace tunebench::cli {

namespace {

// The images of --image (as given) or --folder (imageFilesInFolder: every image file, sorted by name).
std::vector<std::string> imagePaths(const CliArgs& args)
{
    const auto images = args.values("image");
    const auto folder = args.value("folder");
    if (images.empty() == !folder)
        throw Error("give the images with --image FILE (repeatable) or --folder DIR, one of the two");
    return folder ? imageFilesInFolder(*folder) : images;
}

// The K best classes of one image, best first, as predict's JSON.
nlohmann::json scoresJson(const std::vector<ClassScore>& scores)
{
    nlohmann::json out = nlohmann::json::array();
    for (const ClassScore& score : scores)
        out.push_back({{"class", score.className}, {"probability", score.probability}});
    return out;
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

    // The hand-crafted prompt beside a prompt learner, as the run's evaluation compares them.
    std::unique_ptr<Strategy> handcrafted = handcraftedPromptFor(tuned);

    // The run's evaluation pipeline: the threaded loader with the evaluation transform at the model's resolution,
    // or, where the image tower is frozen, its features from the image-tower cache (encoded there when missing).
    PredictionOptions options;
    options.top = top;
    options.cacheFolder = cacheFolder;
    options.loaderThreads = loaderThreads;
    const ImagePredictions predictions = predictImages(tuned, handcrafted.get(), paths, options);
    // Unreadable images are reported as training reports them, and left out; a single image that cannot be
    // read is the one-line error itself.
    const std::int64_t predicted = predictions.predicted();
    const std::vector<std::string> problems = predictions.problems();
    if (predicted == 0 && problems.size() == 1)
        throw Error(problems.front());
    for (const std::string& problem : problems)
        std::cerr << "skipped: " << problem << "\n";
    if (predicted == 0)
        throw Error("none of the " + std::to_string(paths.size()) + " images could be read");

    for (size_t i = 0; i < predictions.images.size(); ++i) {
        const auto& image = predictions.images[i];
        if (!image)
            continue;
        nlohmann::json entry = {{"path", predictions.paths[i]}, {"top", scoresJson(image->top)}};
        if (handcrafted)
            entry["handcrafted"] = scoresJson(image->handcrafted);
        std::cout << entry.dump() << "\n";
    }
    std::cout.flush();
    if (auto csvPath = args.value("csv"))
        writeFileAtomically(*csvPath, predictionsCsv(predictions));
    std::cerr << predictions.cacheReport << "\n";
    if (!predictions.cacheWriteProblem.empty())
        std::cerr << "image-tower cache: the features were not stored (" << predictions.cacheWriteProblem << ")\n";
    std::cerr << "predicted " << predicted << " of " << paths.size() << " images with " << tuned.strategy->name() << " (" << tuned.manifestPath << ") on "
              << describeDevice(tuned.backbone.device) << (problems.empty() ? "" : "; unreadable images skipped") << "\n";
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
