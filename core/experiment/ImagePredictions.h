#pragma once
// A tuned model's predictions for a list of image files: what `tunebench-cli predict` prints and what the
// window's "Try it" lists for a folder. One code path, so that the two agree. No LibTorch here, so the
// window's sources stay quick to build.

#include "core/experiment/ClassScore.h"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace tunebench {

struct TunedModel;
class Strategy;

// Every file with an image extension in `folder` (not in its sub-folders), sorted by name. Error naming the
// folder when it is not one, cannot be listed or holds no image file.
std::vector<std::string> imageFilesInFolder(const std::string& folder);

// One image's scores (its path is ImagePredictions::paths' at the same index).
struct ImagePrediction
{
    std::vector<ClassScore> top;          // best first
    std::vector<ClassScore> handcrafted;  // the hand-crafted prompt's, best first; empty without one
};

struct ImagePredictions
{
    std::vector<std::string> paths;                      // as given
    std::vector<std::optional<ImagePrediction>> images;  // one per path, in order; empty where it could not be read
    std::vector<std::string> unreadable;                 // one per path: why it could not be read; empty where it was
    std::string cacheReport;                             // TunedImageSource::cacheReport
    std::string cacheWriteProblem;                       // empty, or why the features were not stored
    std::int64_t predicted() const;
    std::vector<std::string> problems() const;  // "PATH: why" per unreadable image, in order
};

struct PredictionOptions
{
    int top = 5;
    std::string cacheFolder;  // the image-tower cache (where the image tower is frozen); empty: none
    int batchSize = 32;
    int loaderThreads = 0;
    // "encoding" (the frozen image tower into the cache) or "scoring", images done of `total`.
    std::function<void(const std::string& step, std::int64_t done, std::int64_t total)> progress;
    // Polled between batches: when it returns true the prediction ends with Error "cancelled".
    std::function<bool()> cancelled;
};

// Scores `paths` with `tuned` (and `handcrafted` beside it, when not null) as the run's evaluation does: the
// threaded loader with the evaluation transform or, where the image tower is frozen, its features from the
// image-tower cache (TunedImageSource). Unreadable images are left out and reported in `unreadable`.
ImagePredictions predictImages(TunedModel& tuned, Strategy* handcrafted, const std::vector<std::string>& paths,
                               const PredictionOptions& options = {});

// predict --csv's table: path, rank, class, probability, handcrafted_class, handcrafted_probability; one row
// per rank of each image that was read.
std::string predictionsCsv(const ImagePredictions& predictions);

} // namespace tunebench
