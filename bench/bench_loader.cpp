// Decode + augment throughput of the threaded image loader, with one thread and with all threads.
//
//   bench_loader [--images N] [--resolution R] [--batch B] [--width W] [--height H]
//
// Writes a synthetic folder dataset of JPEG files (500 x 375 by default, the typical size of the CoOp
// benchmarks) to a temporary folder, runs the training pipeline (random resized crop, Pillow bicubic
// resize, flip, normalise) over it, and prints {"one_thread": ..., "all_threads": ...} on stdout.

#include "core/Error.h"
#include "core/Utf8Path.h"
#include "core/data/ImageBatchSource.h"

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <chrono>
#include <ctime>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <random>
#include <string>
#include <thread>
#include <unistd.h>

using namespace tunebench;
namespace fs = std::filesystem;

namespace {

struct Options
{
    int images = 400;
    int resolution = 224;
    int batchSize = 32;
    int width = 500;
    int height = 375;
};

int positiveInteger(const std::string& flag, const char* value)
{
    if (!value)
        throw Error(flag + ": missing value");
    char* end = nullptr;
    const long number = std::strtol(value, &end, 10);
    if (*end != '\0' || number <= 0 || number > 1000000)
        throw Error(flag + ": expected a positive integer, got '" + value + "'");
    return static_cast<int>(number);
}

Options parseOptions(int argc, char** argv)
{
    Options options;
    for (int i = 1; i < argc; ++i) {
        const std::string flag = argv[i];
        const char* value = i + 1 < argc ? argv[i + 1] : nullptr;
        if (flag == "--images")
            options.images = positiveInteger(flag, value);
        else if (flag == "--resolution")
            options.resolution = positiveInteger(flag, value);
        else if (flag == "--batch")
            options.batchSize = positiveInteger(flag, value);
        else if (flag == "--width")
            options.width = positiveInteger(flag, value);
        else if (flag == "--height")
            options.height = positiveInteger(flag, value);
        else
            throw Error(flag + ": unknown option (known: --images --resolution --batch --width --height)");
        ++i;
    }
    return options;
}

// Photograph-like content (smooth gradients, shapes and sensor noise) so that JPEG decoding costs what it
// costs on real photos; flat images decode unrealistically fast.
cv::Mat syntheticPhoto(int width, int height, std::mt19937& random)
{
    cv::Mat image(height, width, CV_8UC3);
    const int hue = static_cast<int>(random() % 256);
    for (int y = 0; y < height; ++y) {
        auto* row = image.ptr<cv::Vec3b>(y);
        for (int x = 0; x < width; ++x)
            row[x] = cv::Vec3b(static_cast<std::uint8_t>((x + hue) % 256), static_cast<std::uint8_t>((y * 2 + hue) % 256),
                               static_cast<std::uint8_t>((x + y + 3 * hue) % 256));
    }
    for (int shape = 0; shape < 12; ++shape) {
        const cv::Point centre(static_cast<int>(random() % width), static_cast<int>(random() % height));
        const cv::Scalar colour(random() % 256, random() % 256, random() % 256);
        cv::circle(image, centre, 10 + static_cast<int>(random() % 80), colour, cv::FILLED);
    }
    cv::Mat noise(height, width, CV_8UC3);
    cv::randn(noise, cv::Scalar::all(0), cv::Scalar::all(12));
    cv::add(image, noise, image);
    return image;
}

// Runs one epoch of the training pipeline and returns the wall-clock images per second.
nlohmann::json measure(const std::shared_ptr<const DatasetIndex>& dataset, const Options& options, int threads)
{
    ImagePipeline pipeline;
    TrainTransform train;
    train.resolution = options.resolution;
    pipeline.train = train;
    LoaderOptions loader;
    loader.batchSize = options.batchSize;
    loader.shuffle = true;
    loader.threads = threads;
    loader.seed = 1;
    ImageBatchSource source(dataset, dataset->train, pipeline, loader);

    const std::clock_t cpuStarted = std::clock();
    const auto started = std::chrono::steady_clock::now();
    source.startEpoch(0);
    std::int64_t images = 0;
    while (auto batch = source.next())
        images += batch->inputs.size(0);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    // Process CPU time over wall time: the cores the loader actually got. Below the thread count when
    // other processes compete for the machine, which then explains a small speed-up.
    const double cpuSeconds = static_cast<double>(std::clock() - cpuStarted) / CLOCKS_PER_SEC;
    if (source.skippedCount() != 0)
        throw Error("bench_loader: " + std::to_string(source.skippedCount()) + " synthetic images failed to load: "
                    + source.problems().front());

    nlohmann::json result;
    result["threads"] = source.threadCount();
    result["images"] = images;
    result["seconds"] = seconds;
    result["images_per_second"] = images / seconds;
    result["loader_images_per_second"] = source.imagesPerSecond();
    result["cpu_seconds"] = cpuSeconds;
    result["cores_used"] = cpuSeconds / seconds;
    return result;
}

} // namespace

int main(int argc, char** argv)
{
    fs::path folder;
    try {
        const Options options = parseOptions(argc, argv);
        folder = fs::temp_directory_path() / ("tunebench-bench-loader-" + std::to_string(::getpid()));
        fs::create_directories(folder);

        std::cerr << "writing " << options.images << " JPEG images of " << options.width << "x" << options.height
                  << " to " << utf8(folder) << "\n";
        auto dataset = std::make_shared<DatasetIndex>();
        dataset->name = "synthetic";
        dataset->layout = "folder";
        dataset->root = utf8(folder);
        const int classes = 10;
        for (int c = 0; c < classes; ++c)
            dataset->classNames.push_back("class " + std::to_string(c));
        std::mt19937 random(7);
        std::uint64_t bytes = 0;
        for (int i = 0; i < options.images; ++i) {
            const int label = i % classes;
            const fs::path file = folder / ("class" + std::to_string(label)) / ("image" + std::to_string(i) + ".jpg");
            fs::create_directories(file.parent_path());
            cv::Mat rgb = syntheticPhoto(options.width, options.height, random);
            cv::Mat bgr;
            cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
            if (!cv::imwrite(file.string(), bgr, {cv::IMWRITE_JPEG_QUALITY, 90}))
                throw Error(utf8(file) + ": cannot write the benchmark image");
            bytes += fs::file_size(file);
            dataset->train.push_back(Sample{utf8(file), -1, label});
        }

        const int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
        nlohmann::json report;
        report["benchmark"] = "loader";
        report["pipeline"] = "train: random resized crop (0.08-1), Pillow bicubic resize, flip, CLIP normalisation";
        report["images"] = options.images;
        report["source_size"] = {options.width, options.height};
        report["mean_file_bytes"] = static_cast<double>(bytes) / options.images;
        report["resolution"] = options.resolution;
        report["batch_size"] = options.batchSize;
        report["cores"] = cores;

        // A warm-up pass so that both measurements read the files from the page cache.
        measure(dataset, options, 0);
        report["one_thread"] = measure(dataset, options, 1);
        report["all_threads"] = measure(dataset, options, 0);
        const double one = report["one_thread"]["images_per_second"].get<double>();
        const double all = report["all_threads"]["images_per_second"].get<double>();
        report["speedup"] = all / one;

        std::cerr << "1 thread:  " << one << " images/s (" << report["one_thread"]["cores_used"].get<double>()
                  << " cores busy)\n"
                  << cores << " threads: " << all << " images/s (x" << all / one << ", "
                  << report["all_threads"]["cores_used"].get<double>() << " cores busy)\n";
        std::cout << report.dump(2) << std::endl;
        fs::remove_all(folder);
        return 0;
    } catch (const std::exception& e) {
        std::cerr << e.what() << "\n";
        std::error_code ignored;
        if (!folder.empty())
            fs::remove_all(folder, ignored);
        return 1;
    }
}
