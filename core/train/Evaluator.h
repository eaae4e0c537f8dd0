#pragma once

#include "core/train/BatchSource.h"

#include <nlohmann/json_fwd.hpp>

#include <functional>
#include <string>
#include <vector>

namespace tunebench {

struct Evaluation
{
    double accuracy = 0;               // top-1, fraction
    std::vector<double> perClass;      // accuracy per true class (NaN-free: classes without samples get -1)
    std::vector<std::int64_t> support; // samples per class
    std::vector<std::vector<std::int64_t>> confusion;  // [true][predicted]
    std::int64_t n = 0;
    nlohmann::json toJson(const std::vector<std::string>& classNames) const;
};

// Runs `logits` over every batch of `data` (no gradient) and scores the argmax against the labels.
// `abandon`, when given, is asked before each batch; when it returns true the evaluation throws Error
// "evaluation stopped by request".
Evaluation evaluate(const std::function<at::Tensor(const at::Tensor& inputs)>& logits, BatchSource& data, int numClasses,
                    const std::function<bool()>& abandon = {});

// H = 2BN / (B + N); 0 when both are 0.
double harmonicMean(double base, double novel);

} // namespace tunebench
