#pragma once
// Each command of tunebench-cli declares itself once: its name, the line that shows how to call it, what it
// does and its options. The usage text, `tunebench-cli COMMAND --help` and the check that rejects an
// unknown option all come from these declarations.

#include "app/cli/CliArgs.h"

#include <functional>
#include <string>
#include <vector>

namespace tunebench::cli {

struct Option
{
    std::string name;   // without the dashes: "model"
    std::string value;  // what it takes ("PATH", "N"); empty: a switch that takes none
    std::string help;   // one line
    bool isFlag() const { return value.empty(); }
};
using Options = std::vector<Option>;

struct Command
{
    std::string name;      // "train"; a verb of a command is part of it: "sweep status"
    std::string synopsis;  // the arguments, as the usage shows them: "--model PATH --dataset D [OPTIONS]"
    std::string summary;   // what it does, in a sentence or two
    Options options;       // the common options (--device, --threads) are implied
    std::function<int(const CliArgs&)> run;
    int positionals = 0;  // how many words besides options it takes (kAnyPositionals: any number); more are refused
};
constexpr int kAnyPositionals = -1;

// --device and --threads: every command accepts them, so that one set of flags serves every command.
const Options& commonOptions();

// The words after the command's name, checked against its options: Error naming the first unknown one, a
// switch given a value or an option without one.
CliArgs parseArguments(const Command& command, const std::vector<std::string>& words);

// `tunebench-cli --help`: every command's synopsis and summary, then the common options and the notes.
std::string usageText(const std::vector<Command>& commands);
// `tunebench-cli COMMAND --help`: its synopsis, summary and every option with its help.
std::string commandHelp(const Command& command);

// Concatenation, for commands that share a group of options (the run settings of train, compare, sweep).
Options operator+(Options first, const Options& second);

} // namespace tunebench::cli
