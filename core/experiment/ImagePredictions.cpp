#include "core/experiment/ImagePredictions.h"

#include "core/Error.h"
#include "core/data/DatasetLayouts.h"
#include "core/experiment/TunedImageSource.h"
#include "core/experiment/TunedModel.h"
#include "core/io/CsvField.h"

#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>

namespace fs = std::filesystem;

namespace tunebench {

namespace {

std::string number(double value)
{
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.9g", value);
    return buffer;
}

} // namespace

std::vector<std::string> imageFilesInFolder(const std::string& folder)
{
    std::error_code error;
    if (!fs::is_directory(folder, error))
        throw Error(folder + ": not a folder");
    std::vector<std::string> paths;
    for (fs::directory_iterator it(folder, error), end; !error && it != end; it.increment(error))
        if (it->is_regular_file(error) && isImageExtension(it->path().extension().string()))
            paths.push_back(it->path().string());
    if (error)
        throw Error(folder + ": cannot list the folder (" + error.message() + ")");
    if (paths.empty())
        throw Error(folder + ": no image files (.jpg, .png, .bmp, .tif, .webp, .ppm, ...) in the folder");
    std::sort(paths.begin(), paths.end());
    return paths;
}

std::int64_t ImagePredictions::predicted() const
{
    return std::count_if(images.begin(), images.end(), [](const auto& image) { return image.has_value(); });
}

std::vector<std::string> ImagePredictions::problems() const
{
    std::vector<std::string> lines;
    for (size_t i = 0; i < paths.size(); ++i)
        if (!unreadable[i].empty())
            lines.push_back(paths[i] + ": " + unreadable[i]);
    return lines;
}

ImagePredictions predictImages(TunedModel& tuned, Strategy* handcrafted, const std::vector<std::string>& paths, const PredictionOptions& options)
{
    const auto total = static_cast<std::int64_t>(paths.size());
    const auto report = [&options, total](const std::string& step, std::int64_t done) {
        if (options.progress)
            options.progress(step, done, total);
    };
    const auto checkCancelled = [&options] {
        if (options.cancelled && options.cancelled())
            throw Error("cancelled");
    };
    TunedImageSource::Watch watch;
    watch.encoded = [&report](std::int64_t encoded) { report("encoding", encoded); };
    watch.cancelled = options.cancelled;
    TunedImageSource source(tuned, paths, options.cacheFolder, options.batchSize, options.loaderThreads, watch);

    ImagePredictions out;
    out.paths = paths;
    out.images.resize(paths.size());
    torch::NoGradGuard noGrad;
    if (source.usesCache())
        report("encoding", 0);
    source.startEpoch(0);  // with the cache: reads the features, or encodes every image
    checkCancelled();
    std::int64_t done = 0;
    report("scoring", 0);
    while (auto batch = source.next()) {
        checkCancelled();
        const auto probabilities = classProbabilities(*tuned.strategy, batch->inputs);
        at::Tensor handcraftedProbabilities;
        if (handcrafted)
            handcraftedProbabilities = classProbabilities(*handcrafted, batch->inputs);
        for (size_t row = 0; row < batch->indices.size(); ++row) {
            const auto index = static_cast<size_t>(batch->indices[row]);
            const auto r = static_cast<int64_t>(row);
            ImagePrediction prediction{topClasses(probabilities[r], tuned.setup.classNames, options.top), {}};
            if (handcrafted)
                prediction.handcrafted = topClasses(handcraftedProbabilities[r], tuned.setup.classNames, options.top);
            out.images[index] = std::move(prediction);
        }
        done += static_cast<std::int64_t>(batch->indices.size());
        report("scoring", done);
    }
    out.unreadable.resize(paths.size());
    for (const auto& [index, why] : source.skipReasons())
        out.unreadable[static_cast<size_t>(index)] = why;
    out.cacheReport = source.cacheReport();
    out.cacheWriteProblem = source.cacheWriteProblem();
    return out;
}

std::string predictionsCsv(const ImagePredictions& predictions)
{
    std::string csv = "path,rank,class,probability,handcrafted_class,handcrafted_probability\n";
    for (size_t i = 0; i < predictions.images.size(); ++i) {
        const auto& image = predictions.images[i];
        if (!image)
            continue;
        for (size_t rank = 0; rank < image->top.size(); ++rank) {
            csv += csvField(predictions.paths[i]) + "," + std::to_string(rank + 1) + "," + csvField(image->top[rank].className) + "," +
                   number(image->top[rank].probability) + ",";
            if (rank < image->handcrafted.size())
                csv += csvField(image->handcrafted[rank].className) + "," + number(image->handcrafted[rank].probability);
            else
                csv += ",";
            csv += "\n";
        }
    }
    return csv;
}

} // namespace tunebench
