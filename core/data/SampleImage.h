#pragma once

#include "core/data/DatasetIndex.h"

#include <opencv2/core.hpp>

namespace tunebench {

// One sample's pixels as the loaders read them, before any transform: RGB, 8 bits. An IDX sample is taken
// from `dataset`'s images in memory (none without a dataset) (widened from grey), a file is decoded (decodeImage), and a sample
// rendered into an image domain is rendered. Error naming the sample when it cannot be read.
cv::Mat readSampleImage(const DatasetIndex* dataset, const Sample& sample);

} // namespace tunebench
