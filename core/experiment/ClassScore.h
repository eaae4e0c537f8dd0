#pragma once
// One class and its probability: what predict, "Try it" and the Mistakes view rank. No LibTorch here, so the
// window's headers can hold scores.

#include <string>

namespace tunebench {

struct ClassScore
{
    std::string className;
    double probability = 0;  // softmax of the logits, in double as `tunebench-cli predict` computes it
};

} // namespace tunebench
