// tunebench-cli dataset inspect PATH [--shots K] [--seed S] [--base-new] [--verify]
// tunebench-cli dataset list

#include "app/cli/Commands.h"
#include "app/cli/RunSetup.h"

#include "core/Error.h"
#include "core/data/DatasetIndex.h"
#include "core/data/DatasetLayouts.h"
#include "core/data/FewShot.h"
#include "core/data/ImageDomains.h"
#include "core/data/ImagePreprocess.h"
#include "core/data/PetlBenchmarks.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>

namespace tunebench::cli {

namespace {

nlohmann::ordered_json splitsJson(const DatasetIndex& dataset)
{
    const SplitCounts counts = dataset.splitCounts();
    return {{"train", counts.train}, {"val", counts.val}, {"test", counts.test}};
}

std::vector<std::string> classNamesOf(const DatasetIndex& dataset, const std::vector<int>& labels)
{
    std::vector<std::string> names;
    for (int label : labels)
        names.push_back(label >= 0 && static_cast<std::size_t>(label) < dataset.classNames.size()
                            ? dataset.classNames[static_cast<std::size_t>(label)]
                            : std::to_string(label));
    return names;
}

// Decodes every image file the dataset lists (each once); returns "PATH: why" for those that fail.
// Progress with an ETA goes to stderr.
std::vector<std::string> verifyImages(const DatasetIndex& dataset, std::int64_t& decoded)
{
    std::vector<std::string> paths;
    for (const auto* split : {&dataset.train, &dataset.val, &dataset.test})
        for (const Sample& sample : *split)
            if (sample.idxIndex < 0)
                paths.push_back(sample.path);
    std::sort(paths.begin(), paths.end());
    paths.erase(std::unique(paths.begin(), paths.end()), paths.end());
    std::vector<std::string> failures;
    const auto started = std::chrono::steady_clock::now();
    auto lastReport = started;
    decoded = 0;
    for (std::size_t i = 0; i < paths.size(); ++i) {
        try {
            decodeImage(paths[i]);
            ++decoded;
        } catch (const std::exception& e) {
            failures.push_back(paths[i] + ": cannot be decoded (" + e.what() + ")");
        }
        const auto now = std::chrono::steady_clock::now();
        if (now - lastReport > std::chrono::seconds(2) || i + 1 == paths.size()) {
            lastReport = now;
            const double elapsed = std::chrono::duration<double>(now - started).count();
            const double eta = elapsed / static_cast<double>(i + 1) * static_cast<double>(paths.size() - i - 1);
            std::fprintf(stderr, "dataset: verified %zu of %zu images, %zu unreadable, ETA %.0f s\n", i + 1, paths.size(),
                         failures.size(), eta);
        }
    }
    return failures;
}

int inspect(const CliArgs& args)
{
    const std::vector<std::string>& positional = args.positional();
    if (positional.empty())
        throw Error("dataset inspect: missing PATH (a dataset folder, or fashion-mnist / mnist)");
    if (positional.size() > 1)
        throw Error("dataset inspect: unexpected argument '" + positional[1] + "'");
    const int shots = args.intValue("shots", 0);
    if (shots < 0)
        throw Error("option --shots must be >= 0, got " + std::to_string(shots));
    const int seed = args.intValue("seed", 1);
    if (seed < 0)
        throw Error("option --seed must be >= 0, got " + std::to_string(seed));

    // The folder split keeps its own fixed seed: --seed only changes the few-shot draw, as in CoOp where
    // the split files are fixed and the seed picks the shots.
    const DatasetIndex opened =
        openDataset(positional[0], FolderSplitOptions{}, [](const std::string& message) {
            std::cerr << "dataset: " << message << std::endl;
        });
    const DatasetIndex dataset = applyFewShot(opened, FewShotOptions{shots, static_cast<std::uint64_t>(seed)});

    nlohmann::ordered_json perClass = nlohmann::ordered_json::object();
    const std::vector<SplitCounts> counts = dataset.perClassCounts();
    for (std::size_t label = 0; label < counts.size(); ++label)
        perClass[dataset.classNames[label]] = {
            {"train", counts[label].train}, {"val", counts[label].val}, {"test", counts[label].test}};

    nlohmann::ordered_json report = {
        {"name", dataset.name},
        {"layout", dataset.layout},
        {"root", dataset.root},
        {"template", dataset.promptTemplate},
        {"classes", dataset.classNames},
        {"splits", splitsJson(dataset)},
        {"per_class", perClass},
        {"base_classes", classNamesOf(dataset, selectClassLabels(dataset.train, ClassSubset::Base))},
        {"new_classes", classNamesOf(dataset, selectClassLabels(dataset.train, ClassSubset::New))},
        {"problems", dataset.problems},
        {"shots", shots},
        {"seed", seed},
    };
    if (args.flag("verify")) {
        setMaxImagePixels(maxImagePixelsFromArgs(args, 0));
        std::int64_t decoded = 0;
        const std::vector<std::string> failures = verifyImages(dataset, decoded);
        report["verified"] = {{"decoded", decoded}, {"unreadable", failures.size()}};
        for (const std::string& failure : failures)
            report["problems"].push_back(failure);
    }
    if (args.flag("base-new")) {
        report["base"] = {{"splits", splitsJson(subsampleClasses(dataset, ClassSubset::Base))}};
        report["new"] = {{"splits", splitsJson(subsampleClasses(dataset, ClassSubset::New))}};
    }
    // Class names and paths come from the file system: replace invalid UTF-8 rather than throw.
    std::cout << report.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << std::endl;
    return 0;
}

nlohmann::ordered_json listEntry(const std::string& name, const DatasetIndex& dataset)
{
    const SplitCounts counts = dataset.splitCounts();
    return {{"name", name},           {"layout", dataset.layout}, {"classes", dataset.classNames.size()},
            {"train", counts.train},  {"val", counts.val},        {"test", counts.test},
            {"description", dataset.description}};
}

// The built-in datasets that are installed, each followed by its image-domain variants, then the CoOp,
// VTAB-1k and FGVC benchmarks found under $TUNEBENCH_DATA.
int list(const CliArgs& args)
{
    if (!args.positional().empty())
        throw Error("dataset list: unexpected argument '" + args.positional()[0] + "'");
    nlohmann::ordered_json datasets = nlohmann::ordered_json::array();
    for (const char* name : {"fashion-mnist", "mnist"}) {
        DatasetIndex dataset;
        try {
            dataset = openDataset(name);
        } catch (const Error& e) {
            std::cerr << "dataset list: " << e.what() << "\n";  // not installed: say so, list the rest
            continue;
        }
        datasets.push_back(listEntry(name, dataset));
        for (const std::string& domain : datasetVariantDomains()) {
            const DatasetIndex variant = renderedInDomain(dataset, domain);
            datasets.push_back(listEntry(variant.name, variant));
        }
    }
    if (const char* root = std::getenv("TUNEBENCH_DATA"); root && *root) {
        for (const DasslBenchmarkInfo& benchmark : dasslBenchmarks()) {
            const std::filesystem::path folder = std::filesystem::path(root) / benchmark.folder;
            std::error_code error;
            if (!std::filesystem::is_directory(folder, error))
                continue;
            try {
                const DatasetIndex dataset = openDasslDataset(folder.string(), benchmark.name);
                auto entry = listEntry(folder.string(), dataset);
                entry["benchmark"] = benchmark.name;
                if (entry["description"].get<std::string>().empty())
                    entry["description"] = "CoOp benchmark " + benchmark.name + " (" + benchmark.promptTemplate + ")";
                datasets.push_back(entry);
            } catch (const Error& e) {
                std::cerr << "dataset list: " << e.what() << "\n";
            }
        }
        // VTAB-1k tasks and FGVC datasets, in root, root/vtab-1k or root/fgvc; named by their folder.
        for (const std::string& folder : petlBenchmarkFolders(root)) {
            try {
                const DatasetIndex dataset = openDataset(folder);
                auto entry = listEntry(folder, dataset);
                const PetlFamily family = dataset.layout == "fgvc" ? PetlFamily::Fgvc : PetlFamily::Vtab1k;
                entry["benchmark"] = dataset.name;
                if (const PetlBenchmarkInfo* info = findPetlBenchmark(dataset.name, family); info && info->name == dataset.name)
                    entry["group"] = info->group;
                datasets.push_back(entry);
            } catch (const Error& e) {
                std::cerr << "dataset list: " << e.what() << "\n";
            }
        }
    }
    std::cout << nlohmann::ordered_json{{"datasets", datasets}}.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace)
              << std::endl;
    return 0;
}

} // namespace

std::vector<Command> datasetCommands()
{
    return {
        {"dataset inspect", "PATH|fashion-mnist[:DOMAIN] [--shots K --seed S --base-new --verify]",
         "classes, splits and problems of a dataset",
         {
             {"shots", "K", "also the few-shot sample: K training images per class"},
             {"seed", "S", "the sample's seed (default 1)"},
             {"base-new", "", "also the base and new halves of the classes"},
             {"verify", "", "decode every image, naming each that cannot be read"},
             {"max-image-pixels", "N", "with --verify: images with more pixels are reported, from their header (default 50000000)"},
         },
         inspect, 1},
        {"dataset list", "", "built-in datasets, their image-domain variants (fashion-mnist:sketch, ...) and benchmarks under $TUNEBENCH_DATA",
         {}, list},
    };
}

} // namespace tunebench::cli
