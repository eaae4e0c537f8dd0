// tunebench-cli: every job of the workbench, headless. JSON results on stdout, progress and logs on
// stderr, one-line errors and a non-zero exit status on bad input.
#include "app/cli/Commands.h"

#include "core/Device.h"
#include "core/Error.h"

#include <c10/util/Exception.h>

#include <functional>
#include <iostream>
#include <map>

namespace {

const char* kUsage = R"(usage: tunebench-cli COMMAND [OPTIONS]
       tunebench-cli --version | --help

commands:
  tokenize [--vocab FILE] TEXT...            CLIP token ids of each text (with start/end, no padding)
  info     --model PATH                      summary of a checkpoint (family, towers, parameters, hash)
  encode   --model PATH [--vocab FILE] [--image FILE]... [--text STR]...
                                             L2-normalised image and text features
  classify --model PATH [--vocab FILE] --class NAME... [--template STR] --image FILE...
                                             zero-shot classification of images
  dataset inspect PATH|fashion-mnist[:DOMAIN] [--shots K --seed S --base-new --verify]
                                             classes, splits and problems of a dataset
  dataset list                               built-in datasets, their image-domain variants
                                             (fashion-mnist:sketch, ...) and benchmarks under $TUNEBENCH_DATA
  train    --model PATH --dataset D --method NAME [--shots K --seed S --base-new --epochs N --lr X
           --batch-size B --opt name=value ... --config run.json --runs DIR --resume RUN_DIR
           --adapt-to TARGET (dapl: the unlabelled target domain) --feature-cache DIR]
                                             tune a strategy; writes a run folder
  eval     --model PATH --dataset D [--split test --prompt EXPORT.json --base-new --template T]
                                             accuracy, per class (zero-shot without --prompt)
  export   --run RUN_DIR [--out PATH]        export a run's tuned prompt (.safetensors + .json)
  compare  --model PATH --dataset D --methods a,b,c [--shots K|1,2,4,8,16 --seeds 1,2,3 --epochs N
           --eval-datasets D1,D2 --no-base-new --max-test-images N --feature-cache DIR --no-feature-cache]
                                             Base/New/H (or accuracy) table across methods and seeds,
                                             few-shot curves (curve.csv/.png/.pdf), domain generalisation
  params   --model PATH|vit-b16|clip-vit-b16 --strategy S [--opt name=value] --tasks N [--classes K]
                                             trainable parameters and storage multiplier for N tasks
  continual --model PATH (--dataset D --tasks T | --datasets D1,D2,... [--protocol domain])
           [--methods l2p,seq-ft,joint --seeds 1,2,3 --epochs-per-task 5 --batch-size 16
           --train-per-class K --test-per-class K --opt name=value --runs DIR]
                                             continual learning on a ViT image tower: accuracy matrix,
                                             average accuracy A_T and forgetting F_T per method; a
                                             stopped stream resumes after its last finished task
  adapt    --model PATH --source S --target T [--methods zeroshot,coop,dapl --shots K --seeds 1,2,3
           --epochs N --opt name=value --max-test-images N --runs DIR --no-feature-cache]
                                             unsupervised domain adaptation: trained on the labelled
                                             source (DAPL also on the unlabelled target images),
                                             accuracy on the target's test images, per class
  sweep    --model PATH --datasets D1,D2 --methods a,b --shots 1,2,4,8,16 --seeds 1,2,3 [--epochs N
           --opt name=value --base-new --max-test-images N --no-feature-cache] --out DIR (--local N | --slurm [--partition P
           --gpus-per-task G --cpus-per-task C --time HH:MM:SS --max-concurrent K --dry-run])
                                             a plan of runs in DIR, run by N worker processes or as one
                                             Slurm job array; run again, it runs only what is unfinished
  sweep status DIR                           {"total", "finished", "failed", "running", "pending"}
  sweep collect DIR                          mean ± std per dataset x method x shots (collect.csv/.json,
                                             curve-DATASET.png/.pdf)
  cache    status|clear [--dir DIR]           the image-tower cache: its views and size, or empty it
  pretrain [--dataset fashion-mnist --epochs 5 --domains a,b --out DIR --model-out DIR --resume]
                                             pretrain the small demo CLIP on a dataset rendered into
                                             image domains, with web-like captions
  version  (or --version) [--device D]       Tunebench's and LibTorch's versions, whether CUDA is compiled
                                             in, and the devices: each GPU's name and memory, the CPU's
                                             threads; * marks the one --device D (default auto) picks

common options, accepted by every command (those that compute nothing on a device ignore --device):
  --device auto|cpu|cuda[:N]                 auto: the first GPU (cuda:0) when there is one, else the CPU
  --threads N                                LibTorch's CPU threads (default $TUNEBENCH_THREADS, else all cores)

Methods with a frozen image tower (zero-shot, CoOp, CoCoOp, KgCoOp, the adapters, the linear probe, the
text-side prompt methods, DAPL's evaluation) share its outputs through a cache on disk: compare and adapt
use $TUNEBENCH_CACHE_DIR (default ~/.cache/tunebench/features), a sweep DIR/feature-cache, train only
with --feature-cache DIR. $TUNEBENCH_CACHE_LIMIT bounds its size (default 10G; least recently used
views go first).
PATH is an OpenAI TorchScript .pt, a .safetensors file (OpenAI/open_clip, Hugging Face or timm names)
or a Hugging Face CLIP folder. The vocabulary comes from --vocab, else next to the checkpoint, else
$TUNEBENCH_CLIP_VOCAB, else the clip/open_clip Python packages and the Hugging Face cache.
)";

std::string firstLine(const std::string& text)
{
    return text.substr(0, text.find('\n'));
}

int printVersion(const std::vector<std::string>& words)
{
    const tunebench::cli::CliArgs args(words, {});
    args.requireKnown({});
    tunebench::configureThreads(args.intValue("threads", 0));  // the CPU line shows what the commands use
    const std::string request = args.value("device", "auto");
    tunebench::chooseDevice(request);  // a device that does not exist is an error here too
    std::cout << tunebench::describeBuild(tunebench::buildInfo(), request);
    return 0;
}

} // namespace

int main(int argc, char** argv)
{
    using namespace tunebench::cli;
    const std::map<std::string, std::function<int(const std::vector<std::string>&)>> commands = {
        {"tokenize", runTokenize}, {"info", runInfo}, {"encode", runEncode},
        {"classify", runClassify}, {"dataset", runDataset}, {"train", runTrain},
        {"eval", runEval},         {"export", runExport},   {"compare", runCompare},
        {"params", runParams},     {"pretrain", runPretrain}, {"continual", runContinual},
        {"adapt", runAdapt},       {"sweep", runSweep},     {"cache", runCache},
        {"version", printVersion}, {"--version", printVersion},
    };
    if (argc < 2) {
        std::cerr << kUsage;
        return 2;
    }
    const std::string command = argv[1];
    if (command == "--help" || command == "-h" || command == "help") {
        std::cout << kUsage;
        return 0;
    }
    auto it = commands.find(command);
    if (it == commands.end()) {
        std::cerr << "tunebench-cli: unknown command '" << command << "' (see tunebench-cli --help)\n";
        return 2;
    }
    try {
        return it->second(std::vector<std::string>(argv + 2, argv + argc));
    } catch (const tunebench::Error& e) {
        std::cerr << "tunebench-cli: " << firstLine(e.what()) << "\n";
    } catch (const c10::Error& e) {
        std::cerr << "tunebench-cli: " << firstLine(e.what_without_backtrace()) << "\n";
    } catch (const std::exception& e) {
        std::cerr << "tunebench-cli: " << firstLine(e.what()) << "\n";
    }
    return 1;
}
