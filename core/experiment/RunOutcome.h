#pragma once
// What a run's results.json says, typed: the one reader that compare's table, a study's collector, the run
// history and the window's results share (the window adds the per-class details it draws). No Qt, no
// LibTorch.

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace tunebench {

struct RunOutcome
{
    std::string protocol = "few-shot";  // or "continual"
    std::string method, dataset, status, message;
    int shots = 0, seed = 0;
    bool baseNew = false;
    // The training classes on the dataset's test images (the base classes under base-to-new; the source's
    // test images for an adapted run).
    std::optional<double> accuracy;
    std::optional<double> base, novel, harmonic;  // base-to-new; New and H are absent when the new classes could not be scored
    std::string novelMessage;                     // why they could not
    std::vector<std::pair<std::string, double>> targets;  // each evaluation target's accuracy, by dataset name
    std::string adaptedTo;                        // the target domain an adapted run (DAPL) adapted to; empty otherwise
    std::optional<double> averageAccuracy, forgetting;  // a continual stream's A_T and F_T
    std::int64_t trainableParameters = 0;
    std::optional<double> multiplier;             // the VPT paper's storage multiplier over `tasks` tasks

    // The figure a list shows for the run: H under base-to-new, the target's accuracy for an adapted run,
    // A_T for a stream, else the accuracy. `name` says which ("H", "target", "A_T", "accuracy").
    struct Headline
    {
        std::string name;
        double value = 0;
    };
    std::optional<Headline> headline() const;
    // The accuracy the first column of a results table shows: Base under base-to-new ("base"), the target's
    // for an adapted run ("target"), A_T for a stream ("A_T"), else the accuracy ("accuracy").
    std::optional<Headline> firstAccuracy() const;
    std::optional<double> targetAccuracy(const std::string& dataset) const;
    // What a study averages over seeds, by name: "accuracy" (+ "base", "new", "h" under base-to-new, and
    // "target" for an adapted run) for a few-shot run; "average_accuracy", "forgetting" for a stream.
    std::map<std::string, double> metrics() const;

    // Missing fields stay empty; a field of the wrong type is an Error naming `where` and the field.
    static RunOutcome fromJson(const nlohmann::json& results, const std::string& where);
};

} // namespace tunebench
