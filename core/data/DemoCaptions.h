#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tunebench {

// The caption corpus of the demo model's pretraining: web-like captions of each class in each image
// domain. A caption names its domain ("a blurry photo of ...") and its class by the canonical name in
// a third of the captions, otherwise by a synonym or a short description, so that the hand-crafted
// "a photo of a {}." is a reasonable guess on photos and only a guess elsewhere.
struct CaptionCorpus
{
    std::vector<std::string> captions;
    // Candidate caption rows per group; group = domain slot * classes + class, where the slot is the
    // position in the `domains` the corpus was built for.
    std::vector<std::vector<std::int64_t>> groupCaptions;
};

// The phrases a caption may use for a class: the canonical name first, then synonyms and descriptions
// (Fashion-MNIST's classes have their own; any other class is only its name).
std::vector<std::string> classPhrases(const std::string& className);

// `domains`: indices into imageDomains(), each with its caption templates.
CaptionCorpus buildCaptionCorpus(const std::vector<std::string>& classNames, const std::vector<int>& domains);

} // namespace tunebench
