#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace tunebench {

struct Sample;

// The demo world's image domains: deterministic renderings of a dataset's images (photos turned negative,
// sketched, blurred, ...), the way ImageNet-Sketch or ImageNet-R render ImageNet's classes. A dataset name
// `NAME:DOMAIN` (fashion-mnist:sketch) is NAME with every image rendered into DOMAIN at load time.
struct ImageDomain
{
    std::string name;
    std::string description;
    // Whether the demo model saw this domain (images and caption words) during pretraining. A domain it
    // never saw is out of distribution, as ImageNet-Sketch is for CLIP.
    bool inPretraining = true;
    // The pretraining captions of this domain: templates with {} for the class phrase.
    std::vector<std::string> captionTemplates;
};

// Every domain, "photo" (the images as stored) first. Indices are stable: Sample::domain refers to them.
const std::vector<ImageDomain>& imageDomains();
// The index of `name` in imageDomains(), or -1.
int findImageDomain(const std::string& name);
// The domains a `NAME:DOMAIN` dataset may name: all but "photo", which is the dataset itself.
std::vector<std::string> datasetVariantDomains();

// Renders an 8-bit, 3-channel image in place into domain `domain` (an index of imageDomains()). `key`
// varies what a domain may vary per image (the tint's colour) and must itself be deterministic.
void renderImageDomain(int domain, cv::Mat& rgb, std::uint64_t key);
// The per-image key of a sample: a hash of its file name and IDX position, the same on every machine.
std::uint64_t sampleImageKey(const Sample& sample);

} // namespace tunebench
