#pragma once

#include <string>
#include <vector>

namespace tunebench {

// Hand-crafted prompt templates ("{}" marks the class name).
class PromptTemplates
{
public:
    // CLIP's 80 ImageNet prompt-engineering templates (the set CoOp's IMAGENET_TEMPLATES repeats).
    static const std::vector<std::string>& imagenet80();
    // The 7-template subset CLIP found by sequential forward selection.
    static const std::vector<std::string>& imagenet7();
    // "a photo of a {}." + "cat" -> "a photo of a cat."; Error when the template has no "{}".
    static std::string fill(const std::string& templ, const std::string& className);
    // "a {}.|the {}." -> two templates (empty pieces dropped, each trimmed).
    static std::vector<std::string> splitList(const std::string& pipeSeparated);
};

} // namespace tunebench
