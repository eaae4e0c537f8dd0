// tunebench-cli adapt: unsupervised domain adaptation. Each method is trained on the labelled source
// (DAPL also on the target's training images, without their labels) and scored on the target's test
// images; one run folder per method and seed, the summary as JSON on stdout.
#include "app/cli/Commands.h"
#include "app/cli/RunSetup.h"

#include "core/Device.h"
#include "core/Error.h"
#include "core/data/DomainAdaptationData.h"
#include "core/experiment/DomainAdaptation.h"
#include "core/train/FeatureCache.h"
#include "core/train/RunControl.h"
#include "core/train/RunStore.h"
#include "core/train/Trainer.h"

#include <cstdio>
#include <iostream>

namespace tunebench::cli {

namespace {

int runAdapt(const CliArgs& args)
{
    AdaptationSettings settings;
    RunSettings defaults;
    defaults.featureCache = FeatureCache::defaultFolder();  // the methods share the test images' features
    settings.base = settingsFromArgs(args, defaults);
    settings.base.shots = args.intValue("shots", 0);
    if (settings.base.shots < 0)
        throw Error("--shots must be 0 (every source image) or positive, got " + std::to_string(settings.base.shots));
    settings.base.maxTestImages = intAtLeast(args, "max-test-images", 0, 0);  // a fixed seeded subset of each test split
    settings.base.dataset = args.value("source", "");
    settings.target = args.value("target", "");
    if (settings.base.model.empty())
        throw Error("--model PATH is required (a CLIP model: the methods classify with prompts)");
    if (settings.base.dataset.empty() || settings.target.empty())
        throw Error("--source and --target are both required (datasets with the same classes, e.g. --source fashion-mnist "
                    "--target fashion-mnist:sketch)");
    settings.methods = splitCommaList(args.value("methods", "zeroshot,coop,dapl"));
    settings.seeds = parseSeeds(args.value("seeds", "1"));
    if (settings.methods.empty() || settings.seeds.empty())
        throw Error("--methods and --seeds need at least one value each");
    for (const auto& method : settings.methods)
        findStrategy(method);  // unknown names fail before any loading
    settings.runsRoot = args.value("runs", RunStore::defaultRoot());
    configureThreads(settings.base.threads);

    const Backbone backbone = loadBackbone(settings.base.model, settings.base.vocab, settings.base.device);
    const auto progress = [](const std::string& message) { std::cerr << message << "\n"; };
    const DatasetIndex source = openAdaptationDomain(settings.base.dataset, progress);
    const DatasetIndex target = openAdaptationDomain(settings.target, progress);
    std::cerr << "adapt: " << source.name << " (" << adaptationDomainName(source) << ", " << source.train.size() << " training images) -> "
              << target.name << " (" << adaptationDomainName(target) << ", " << target.train.size() << " unlabelled training / "
              << target.test.size() << " test images) on " << describeDevice(backbone.device) << "\n";

    AdaptationCallbacks callbacks;
    std::string label;
    callbacks.onRunStart = [&](const std::string& method, int seed) { label = "[" + method + " seed " + std::to_string(seed) + "] "; };
    callbacks.onLog = [&](const std::string& line) { std::cerr << label << line << "\n"; };
    callbacks.onRunDone = [](const AdaptationRun& run) {
        char line[256];
        std::snprintf(line, sizeof line, "%-12s seed %d: target %.2f%%, source %.2f%% (%s)", run.method.c_str(), run.seed,
                      100 * run.targetAccuracy, 100 * run.sourceAccuracy, run.status.c_str());
        std::cerr << line << (run.runFolder.empty() ? "" : "  " + run.runFolder) << "\n";
    };
    RunControl control;
    const StopOnInterrupt stopOnInterrupt(control);
    const AdaptationReport report = runAdaptation(backbone, source, target, settings, callbacks, &control);
    std::cerr << "\nmethod        target %  source %  (mean of seeds)\n";
    for (const AdaptationSummary& summary : report.methods) {
        char line[128];
        std::snprintf(line, sizeof line, "%-12s %8.2f  %8.2f", summary.method.c_str(), 100 * summary.targetAccuracy, 100 * summary.sourceAccuracy);
        std::cerr << line << "\n";
    }
    std::cout << report.toJson().dump() << std::endl;
    return report.methods.size() == settings.methods.size() ? 0 : 1;
}

} // namespace

Command adaptCommand()
{
    return {"adapt", "--model PATH --source S --target T [--methods zeroshot,coop,dapl --shots K --seeds 1,2,3 OPTIONS]",
            "unsupervised domain adaptation: trained on the labelled source (DAPL also on the unlabelled target "
            "images), accuracy on the target's test images, per class",
            Options{
                {"model", "PATH", "a CLIP model (the methods classify with prompts)"},
                {"source", "S", "the labelled source domain (a dataset, fashion-mnist:DOMAIN, an Office-Home domain)"},
                {"target", "T", "the target domain, the same classes"},
                {"methods", "a,b,c", "default zeroshot,coop,dapl"},
                {"shots", "K", "labelled source images per class (default 0: all)"},
                {"seeds", "1,2,3", "seeds averaged (default 1)"},
                {"max-test-images", "N", "score a fixed seeded subset of each test split"},
                {"runs", "DIR", "where the run folders go"},
            } + trainingOptions(),
            runAdapt};
}

} // namespace tunebench::cli
