// params: trainable parameters of a strategy and the storage multiplier for N tasks (VPT paper, Table 1).
#include "app/cli/Commands.h"

#include "app/cli/RunSetup.h"

#include "core/Device.h"
#include "core/Error.h"
#include "core/io/CheckpointLoader.h"
#include "core/io/ClipTokenizer.h"
#include "core/io/VocabularyLocator.h"
#include "core/tuning/ParameterBudget.h"
#include "core/tuning/Strategy.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <iostream>

namespace tunebench::cli {

namespace {

constexpr int kMaxClasses = 100'000;

int runParams(const CliArgs& args)
{
    configureThreads(args.intValue("threads", 0));
    const std::string modelName = modelOrGeometry(args);
    const auto strategyName = args.value("strategy");
    if (!strategyName)
        throw Error("--strategy NAME is required");
    const int tasks = args.intValue("tasks", 1);
    if (tasks < 1)
        throw Error("option --tasks must be at least 1, got " + std::to_string(tasks));
    const int classes = args.intValue("classes", 100);
    // Each class is a head row and a prompt: far beyond ImageNet-21k's 21841 would only exhaust memory.
    if (classes < 2 || classes > kMaxClasses)
        throw Error("option --classes must be in [2, " + std::to_string(kMaxClasses) + "], got " + std::to_string(classes));

    const StrategyInfo& info = findStrategy(*strategyName);
    const nlohmann::json params = resolveParams(info.schema, parseOptions(args.values("opt")));

    ClipModel model{nullptr};
    if (isGeometryName(modelName)) {
        torch::NoGradGuard noGrad;
        model = ClipModel(modelGeometry(modelName));
    } else {
        model = loadModel(modelName, LoadOptions{std::nullopt, /*computeHash=*/false});
    }

    TaskSetup setup;
    for (int i = 0; i < classes; ++i)
        setup.classNames.push_back("class " + std::to_string(i));
    if (info.capabilities.adaptsToTarget)
        setup.domainNames = {"source", "target"};  // the words do not change the count
    const std::string refusal = strategyRefusal(info, model->spec());
    if (!refusal.empty())
        throw Error(modelName + ": " + refusal);
    if (info.capabilities.needsTextTower) {
        setup.tokenizer = std::make_shared<ClipTokenizer>(ClipTokenizer::load(locateVocabulary(args.value("vocab", ""), modelName)));
    }
    auto strategy = info.create();
    strategy->attach(model, setup, params);
    const ParameterBudget budget = parameterBudget(*strategy, model, tasks);

    const nlohmann::json result = {{"strategy", *strategyName},
                                   {"trainable", budget.trainable},
                                   {"backbone", budget.backbone},
                                   {"tasks", tasks},
                                   {"multiplier", budget.multiplier}};
    std::cout << result.dump() << std::endl;
    std::cerr << info.title << " on " << model->spec().name << " with " << classes << " classes: " << budget.trainable
              << " trainable parameters per task\n";
    return 0;
}

} // namespace

Command paramsCommand()
{
    return {"params", "--model PATH|vit-b16|clip-vit-b16 --strategy S [--opt name=value] --tasks N [--classes K]",
            "trainable parameters and storage multiplier for N tasks",
            {
                {"model", "PATH|GEOMETRY", "a checkpoint, or a geometry by name (vit-b16, clip-vit-b16, ...) built without weights"},
                {"strategy", "S", "the tuning strategy"},
                {"opt", "name=value", "a strategy option (repeatable)"},
                {"tasks", "N", "tasks stored (default 1)"},
                {"classes", "K", "classes of each task's head (default 100)"},
                {"vocab", "FILE", "the CLIP vocabulary (prompt methods on a checkpoint)"},
            },
            runParams};
}

} // namespace tunebench::cli
