// tunebench-cli: every job of the workbench, headless. JSON results on stdout, progress and logs on
// stderr, one-line errors and a non-zero exit status on bad input.
#include "app/cli/Commands.h"

#include "core/Device.h"
#include "core/Error.h"

#include <c10/util/Exception.h>

#include <algorithm>
#include <iostream>

namespace {

int printVersion(const tunebench::cli::CliArgs& args)
{
    tunebench::configureThreads(args.intValue("threads", 0));  // the CPU line shows what the commands use
    const std::string request = args.value("device", "auto");
    tunebench::chooseDevice(request);  // a device that does not exist is an error here too
    std::cout << tunebench::describeBuild(tunebench::buildInfo(), request);
    return 0;
}

} // namespace

namespace tunebench::cli {

std::vector<Command> allCommands()
{
    std::vector<Command> commands = {tokenizeCommand(), infoCommand(), encodeCommand(), classifyCommand()};
    for (Command& command : datasetCommands())
        commands.push_back(std::move(command));
    for (Command command : {trainCommand(), evalCommand(), exportCommand(), predictCommand(), compareCommand(), petlTableCommand(), paramsCommand(), planCommand(), continualCommand(),
                            adaptCommand()})
        commands.push_back(std::move(command));
    for (Command& command : sweepCommands())
        commands.push_back(std::move(command));
    commands.push_back(cacheCommand());
    commands.push_back(pretrainCommand());
    commands.push_back({"version", "(or --version) [--device D]",
                        "Tunebench's and LibTorch's versions, whether CUDA is compiled in, and the devices: each GPU's name "
                        "and memory, the CPU's threads; * marks the one --device D (default auto) picks",
                        {},
                        printVersion});
    return commands;
}

} // namespace tunebench::cli

int main(int argc, char** argv)
{
    using namespace tunebench::cli;
    using tunebench::firstLine;
    const std::vector<Command> commands = allCommands();
    const std::vector<std::string> words(argv + 1, argv + argc);
    if (words.empty()) {
        std::cerr << usageText(commands);
        return 2;
    }
    if (words[0] == "--help" || words[0] == "-h" || words[0] == "help") {
        std::cout << usageText(commands);
        return 0;
    }
    const std::string name = words[0] == "--version" ? "version" : words[0];
    // A command's verb is part of its name ("sweep status"); the longest name that matches wins.
    const Command* command = nullptr;
    std::size_t used = 1;
    std::string verbs;
    for (const Command& candidate : commands) {
        if (candidate.name == name && !command)
            command = &candidate;
        if (candidate.name.rfind(name + " ", 0) == 0) {
            const std::string verb = candidate.name.substr(name.size() + 1);
            verbs += (verbs.empty() ? "" : ", ") + verb;
            if (words.size() > 1 && words[1] == verb) {
                command = &candidate;
                used = 2;
            }
        }
    }
    // "sweep frobnicate": a word where a verb goes that is none of them.
    const bool strayVerb = command && used == 1 && !verbs.empty() && words.size() > 1 && words[1].rfind("--", 0) != 0;
    if ((!command || strayVerb) && !verbs.empty()) {
        std::cerr << "tunebench-cli: " << name << ": " << (words.size() > 1 ? "unknown verb '" + words[1] + "'" : std::string("missing verb"))
                  << " (expected: " << verbs << ")\n";
        return 2;
    }
    if (!command) {
        std::cerr << "tunebench-cli: unknown command '" << name << "' (see tunebench-cli --help)\n";
        return 2;
    }
    const std::vector<std::string> rest(words.begin() + static_cast<std::ptrdiff_t>(used), words.end());
    if (std::find(rest.begin(), rest.end(), "--help") != rest.end()) {
        std::cout << commandHelp(*command);
        return 0;
    }
    try {
        return command->run(parseArguments(*command, rest));
    } catch (const tunebench::Error& e) {
        std::cerr << "tunebench-cli: " << firstLine(e.what()) << "\n";
    } catch (const c10::Error& e) {
        std::cerr << "tunebench-cli: " << firstLine(e.what_without_backtrace()) << "\n";
    } catch (const std::exception& e) {
        std::cerr << "tunebench-cli: " << firstLine(e.what()) << "\n";
    }
    return 1;
}
