#include "app/cli/Command.h"

#include "core/Error.h"

#include <algorithm>
#include <set>
#include <sstream>

namespace tunebench::cli {

namespace {

constexpr std::size_t kWidth = 104;        // of the usage text
constexpr std::size_t kSummaryColumn = 45; // where the commands' summaries start

// `text` broken into lines of at most `width` characters at spaces; the first line continues `lead`, the
// others start with `indent` spaces.
std::string wrapped(const std::string& lead, const std::string& text, std::size_t indent, std::size_t width = kWidth)
{
    std::string out = lead;
    const auto lastBreak = lead.rfind('\n');
    std::size_t column = lastBreak == std::string::npos ? lead.size() : lead.size() - lastBreak - 1;
    std::istringstream words(text);
    std::string word;
    bool firstOnLine = true;
    while (words >> word) {
        if (!firstOnLine && column + 1 + word.size() > width) {
            out += "\n" + std::string(indent, ' ');
            column = indent;
            firstOnLine = true;
        }
        if (!firstOnLine) {
            out += ' ';
            ++column;
        }
        out += word;
        column += word.size();
        firstOnLine = false;
    }
    return out + "\n";
}

std::string optionLines(const Options& options)
{
    std::string out;
    for (const Option& option : options) {
        std::string lead = "  --" + option.name + (option.isFlag() ? "" : " " + option.value);
        lead.resize(std::max<std::size_t>(lead.size() + 1, 30), ' ');
        out += wrapped(lead, option.help, 30);
    }
    return out;
}

// What the usage says after the commands: the shared cache, model paths and the vocabulary.
const char* kNotes = R"(
Methods with a frozen image tower (zero-shot, CoOp, CoCoOp, KgCoOp, the adapters, the linear probe, the
text-side prompt methods, DAPL's evaluation) share its outputs through a cache on disk: compare and adapt
use $TUNEBENCH_CACHE_DIR (default ~/.cache/tunebench/features), a sweep DIR/feature-cache, train only
with --feature-cache DIR, predict the run's folder (else the default) unless --no-feature-cache.
$TUNEBENCH_CACHE_LIMIT bounds its size (default 10G; least recently used views go first).
PATH is an OpenAI TorchScript .pt, a .safetensors file (OpenAI/open_clip, Hugging Face or timm names)
or a Hugging Face CLIP folder. The vocabulary comes from --vocab, else next to the checkpoint, else
$TUNEBENCH_CLIP_VOCAB, else the clip/open_clip Python packages and the Hugging Face cache.
)";

} // namespace

const Options& commonOptions()
{
    static const Options options = {
        {"device", "auto|cpu|cuda[:N]", "auto: the first GPU (cuda:0) when there is one, else the CPU"},
        {"threads", "N", "LibTorch's CPU threads (default $TUNEBENCH_THREADS, else all cores)"},
    };
    return options;
}

CliArgs parseArguments(const Command& command, const std::vector<std::string>& words)
{
    std::set<std::string> flags, known;
    for (const Option& option : commonOptions())
        known.insert(option.name);
    for (const Option& option : command.options) {
        known.insert(option.name);
        if (option.isFlag())
            flags.insert(option.name);
    }
    CliArgs args(words, flags, &known);
    // Every command takes --threads; 0 or less would silently become all cores.
    if (args.value("threads") && args.intValue("threads", 0) < 1)
        throw Error("--threads must be at least 1, got " + *args.value("threads"));
    const auto& positional = args.positional();
    if (command.positionals != kAnyPositionals && positional.size() > static_cast<std::size_t>(command.positionals))
        throw Error(command.name + ": unexpected argument '" + positional[static_cast<std::size_t>(command.positionals)] + "'");
    return args;
}

std::string usageText(const std::vector<Command>& commands)
{
    std::string out = "usage: tunebench-cli COMMAND [OPTIONS]\n"
                      "       tunebench-cli COMMAND --help      (a command's options)\n"
                      "       tunebench-cli --version | --help\n\ncommands:\n";
    for (const Command& command : commands) {
        std::string lead = "  " + command.name;
        lead.resize(std::max<std::size_t>(lead.size() + 1, 11), ' ');
        std::string call = wrapped(lead, command.synopsis, 11);
        call.pop_back();
        // The summary beside the call's last line where it fits, else below it, in its column.
        const auto lastBreak = call.rfind('\n');
        const std::size_t lastLength = lastBreak == std::string::npos ? call.size() : call.size() - lastBreak - 1;
        call += lastLength < kSummaryColumn ? std::string(kSummaryColumn - lastLength, ' ') : "\n" + std::string(kSummaryColumn, ' ');
        out += wrapped(call, command.summary, kSummaryColumn);
    }
    out += "\ncommon options, accepted by every command (those that compute nothing on a device ignore --device):\n";
    out += optionLines(commonOptions());
    return out + kNotes;
}

std::string commandHelp(const Command& command)
{
    std::string out = wrapped("usage: tunebench-cli " + command.name + " ", command.synopsis, 8) + "\n";
    out += wrapped("", command.summary, 0) + "\n";
    if (!command.options.empty())
        out += "options:\n" + optionLines(command.options) + "\n";
    return out + "common options:\n" + optionLines(commonOptions());
}

Options operator+(Options first, const Options& second)
{
    first.insert(first.end(), second.begin(), second.end());
    return first;
}

} // namespace tunebench::cli
