#include "core/data/SampleImage.h"

#include "core/Error.h"
#include "core/data/ImageDomains.h"
#include "core/data/ImagePreprocess.h"

#include <opencv2/imgproc.hpp>

namespace tunebench {

cv::Mat readSampleImage(const DatasetIndex* dataset, const Sample& sample)
{
    cv::Mat rgb;
    if (sample.idxIndex >= 0) {
        // IDX pixels are already in memory: wrap the grayscale image and widen it to RGB.
        const IdxImages* images = nullptr;
        if (dataset)
            for (const auto& candidate : {dataset->idxTrain, dataset->idxTest})
                if (candidate && candidate->path == sample.path)
                    images = candidate.get();
        if (!images)
            throw Error("not an IDX images file of the loaded dataset");
        const std::uint8_t* pixels = images->image(sample.idxIndex);
        if (!pixels)
            throw Error("image " + std::to_string(sample.idxIndex) + " is out of range (the file has " + std::to_string(images->count) + ")");
        const cv::Mat gray(images->rows, images->cols, CV_8UC1, const_cast<std::uint8_t*>(pixels));
        cv::cvtColor(gray, rgb, cv::COLOR_GRAY2RGB);
    } else {
        rgb = decodeImage(sample.path);
    }
    if (sample.domain != 0)
        renderImageDomain(sample.domain, rgb, sampleImageKey(sample));
    return rgb;
}

} // namespace tunebench
