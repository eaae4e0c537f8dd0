#include "core/train/Evaluator.h"

#include "core/Error.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

namespace tunebench {

Evaluation evaluate(const std::function<at::Tensor(const at::Tensor&)>& logits, BatchSource& data, int numClasses,
                    const std::function<bool()>& abandon)
{
    Evaluation result;
    result.confusion.assign(static_cast<size_t>(numClasses), std::vector<std::int64_t>(static_cast<size_t>(numClasses), 0));
    torch::NoGradGuard noGrad;
    data.startEpoch(0);
    while (auto batch = data.next()) {
        if (abandon && abandon())
            throw Error("evaluation stopped by request");
        const auto predicted = logits(batch->inputs).argmax(-1).to(torch::kCPU).to(torch::kLong).contiguous();
        const auto labels = batch->labels.to(torch::kCPU).to(torch::kLong).contiguous();
        const auto* p = predicted.data_ptr<int64_t>();
        const auto* l = labels.data_ptr<int64_t>();
        for (int64_t i = 0; i < labels.size(0); ++i)
            if (l[i] >= 0 && l[i] < numClasses && p[i] >= 0 && p[i] < numClasses)
                ++result.confusion[static_cast<size_t>(l[i])][static_cast<size_t>(p[i])];
    }
    std::int64_t correct = 0;
    result.perClass.resize(static_cast<size_t>(numClasses));
    result.support.resize(static_cast<size_t>(numClasses));
    for (int c = 0; c < numClasses; ++c) {
        std::int64_t total = 0;
        for (auto count : result.confusion[static_cast<size_t>(c)])
            total += count;
        const auto hits = result.confusion[static_cast<size_t>(c)][static_cast<size_t>(c)];
        result.support[static_cast<size_t>(c)] = total;
        result.perClass[static_cast<size_t>(c)] = total > 0 ? static_cast<double>(hits) / total : -1;
        correct += hits;
        result.n += total;
    }
    result.accuracy = result.n > 0 ? static_cast<double>(correct) / result.n : 0;
    return result;
}

nlohmann::json Evaluation::toJson(const std::vector<std::string>& classNames) const
{
    nlohmann::json perClassJson = nlohmann::json::object();
    for (size_t c = 0; c < perClass.size(); ++c)
        perClassJson[c < classNames.size() ? classNames[c] : std::to_string(c)] = perClass[c];
    return {{"accuracy", accuracy}, {"per_class", perClassJson}, {"n", n}, {"confusion", confusion}};
}

double harmonicMean(double base, double novel)
{
    return base + novel > 0 ? 2 * base * novel / (base + novel) : 0;
}

} // namespace tunebench
