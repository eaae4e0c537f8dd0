#include "core/tuning/prompt/PromptTemplates.h"

#include "core/Error.h"

namespace tunebench {

const std::vector<std::string>& PromptTemplates::imagenet80()
{
    static const std::vector<std::string> templates = {
        "a bad photo of a {}.",
        "a photo of many {}.",
        "a sculpture of a {}.",
        "a photo of the hard to see {}.",
        "a low resolution photo of the {}.",
        "a rendering of a {}.",
        "graffiti of a {}.",
        "a bad photo of the {}.",
        "a cropped photo of the {}.",
        "a tattoo of a {}.",
        "the embroidered {}.",
        "a photo of a hard to see {}.",
        "a bright photo of a {}.",
        "a photo of a clean {}.",
        "a photo of a dirty {}.",
        "a dark photo of the {}.",
        "a drawing of a {}.",
        "a photo of my {}.",
        "the plastic {}.",
        "a photo of the cool {}.",
        "a close-up photo of a {}.",
        "a black and white photo of the {}.",
        "a painting of the {}.",
        "a painting of a {}.",
        "a pixelated photo of the {}.",
        "a sculpture of the {}.",
        "a bright photo of the {}.",
        "a cropped photo of a {}.",
        "a plastic {}.",
        "a photo of the dirty {}.",
        "a jpeg corrupted photo of a {}.",
        "a blurry photo of the {}.",
        "a photo of the {}.",
        "a good photo of the {}.",
        "a rendering of the {}.",
        "a {} in a video game.",
        "a photo of one {}.",
        "a doodle of a {}.",
        "a close-up photo of the {}.",
        "a photo of a {}.",
        "the origami {}.",
        "the {} in a video game.",
        "a sketch of a {}.",
        "a doodle of the {}.",
        "a origami {}.",
        "a low resolution photo of a {}.",
        "the toy {}.",
        "a rendition of the {}.",
        "a photo of the clean {}.",
        "a photo of a large {}.",
        "a rendition of a {}.",
        "a photo of a nice {}.",
        "a photo of a weird {}.",
        "a blurry photo of a {}.",
        "a cartoon {}.",
        "art of a {}.",
        "a sketch of the {}.",
        "a embroidered {}.",
        "a pixelated photo of a {}.",
        "itap of the {}.",
        "a jpeg corrupted photo of the {}.",
        "a good photo of a {}.",
        "a plushie {}.",
        "a photo of the nice {}.",
        "a photo of the small {}.",
        "a photo of the weird {}.",
        "the cartoon {}.",
        "art of the {}.",
        "a drawing of the {}.",
        "a photo of the large {}.",
        "a black and white photo of a {}.",
        "the plushie {}.",
        "a dark photo of a {}.",
        "itap of a {}.",
        "graffiti of the {}.",
        "a toy {}.",
        "itap of my {}.",
        "a photo of a cool {}.",
        "a photo of a small {}.",
        "a tattoo of the {}.",
    };
    return templates;
}

const std::vector<std::string>& PromptTemplates::imagenet7()
{
    static const std::vector<std::string> templates = {
        "itap of a {}.",
        "a bad photo of the {}.",
        "a origami {}.",
        "a photo of the large {}.",
        "a {} in a video game.",
        "art of the {}.",
        "a photo of the small {}.",
    };
    return templates;
}

std::string PromptTemplates::fill(const std::string& templ, const std::string& className)
{
    const size_t slot = templ.find("{}");
    if (slot == std::string::npos)
        throw Error("template '" + templ + "' has no {} for the class name");
    return templ.substr(0, slot) + className + templ.substr(slot + 2);
}

std::vector<std::string> PromptTemplates::splitList(const std::string& pipeSeparated)
{
    std::vector<std::string> out;
    size_t start = 0;
    while (start <= pipeSeparated.size()) {
        size_t end = pipeSeparated.find('|', start);
        if (end == std::string::npos)
            end = pipeSeparated.size();
        std::string piece = pipeSeparated.substr(start, end - start);
        const auto first = piece.find_first_not_of(" \t");
        const auto last = piece.find_last_not_of(" \t");
        if (first != std::string::npos)
            out.push_back(piece.substr(first, last - first + 1));
        start = end + 1;
    }
    return out;
}

} // namespace tunebench
