#pragma once
// A run's tuned model kept open to classify one image at a time: what the window's "Try it" tab shows (the
// tuned top-K, the hand-crafted prompt's top-K beside a CLIP prompt learner, the preprocessed image and
// where the image tower looks). No LibTorch in this header, so the window's sources stay quick to build.

#include "core/experiment/ClassScore.h"
#include "core/experiment/ImagePredictions.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace tunebench {

struct TunedModel;

// Decoded pixels: RGB, 8 bits, row-major, width x height.
struct RgbImage
{
    int width = 0;
    int height = 0;
    std::vector<std::uint8_t> pixels;
};

struct ImageTrial
{
    std::string imagePath;
    std::vector<ClassScore> top;          // best first
    std::vector<ClassScore> handcrafted;  // the hand-crafted prompt's, best first; empty when the method has none
    // The image as the model saw it: the evaluation transform's resize and centre crop, RGB, 8 bits,
    // resolution x resolution.
    int resolution = 0;
    std::vector<std::uint8_t> rgb;
    // Where it looks: grid x grid values scaled to a maximum of 1, row-major, over the cropped image; empty
    // (and attentionProblem saying why) when no map could be made.
    int grid = 0;
    std::vector<float> attention;
    std::string attentionMethod;  // AttentionMap::method ("attention rollout over N layers", ...)
    std::string attentionProblem;
    // Whether the scores came from the image tower's features in the image-tower cache (predict's, for the
    // same file), rather than from the image encoded here.
    bool featuresFromCache = false;
};

class TunedClassifier
{
public:
    // Opens the run's tuned model (openTunedRun, the model of its config.json) and, when the method compares
    // with one, the hand-crafted prompt on a fresh model. Slow: seconds. Error naming the folder or the export.
    // Where the method keeps the image tower frozen, an image file's features go through the image-tower cache
    // as predict --run's do (runFeatureCacheFolder), so a file scored by either is not encoded again.
    TunedClassifier(const std::string& runDir, const std::string& device);
    ~TunedClassifier();
    TunedClassifier(const TunedClassifier&) = delete;
    TunedClassifier& operator=(const TunedClassifier&) = delete;

    const std::string& runDir() const { return m_runDir; }
    const std::string& device() const { return m_device; }
    const std::string& method() const;
    bool comparesWithHandcrafted() const;

    // Classifies one image file, its features read from (or stored in) the image-tower cache where the image
    // tower is frozen (predict's path: TunedImageSource); Error naming the file when it cannot be read. Safe to
    // call from any thread (calls are serialised: the attention is recorded on the calling thread).
    ImageTrial classify(const std::string& imagePath, int top = 5);
    // The same for pixels already decoded (a dataset's test image, in the Mistakes view), always encoded here;
    // `name` becomes ImageTrial::imagePath.
    ImageTrial classify(const RgbImage& image, const std::string& name, int top = 5);

    // Every file of `paths` as predict --run scores them (predictImages: the loader's batches, the run's
    // image-tower cache where the image tower is frozen; options.cacheFolder is ignored), with the hand-crafted
    // prompt's scores beside them; serialised with classify().
    ImagePredictions classifyAll(const std::vector<std::string>& paths, PredictionOptions options);

    // Runs `work` with the open tuned model (the Mistakes view scores a run's test images with it), serialised
    // with classify().
    void withModel(const std::function<void(TunedModel&)>& work);

private:
    // `file`: the image's file, whose features may come from the cache; null for pixels alone.
    ImageTrial score(const RgbImage& image, const std::string& name, int top, const std::string* file);

    struct Open;
    std::string m_runDir, m_device;
    std::unique_ptr<Open> m_open;
    std::mutex m_mutex;
};

} // namespace tunebench
