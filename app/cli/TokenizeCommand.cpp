#include "app/cli/Commands.h"

#include "core/io/ClipTokenizer.h"
#include "core/io/VocabularyLocator.h"

#include <nlohmann/json.hpp>

#include <iostream>

namespace tunebench::cli {

int runTokenize(const std::vector<std::string>& words)
{
    CliArgs args(words, {});
    args.requireKnown({"vocab"});
    const ClipTokenizer tokenizer = ClipTokenizer::load(locateVocabulary(args.value("vocab", ""), ""));
    nlohmann::json tokens = nlohmann::json::array();
    for (const std::string& text : args.positional())
        tokens.push_back(tokenizer.tokenize(text));
    std::cout << nlohmann::json{{"tokens", tokens}}.dump() << std::endl;
    return 0;
}

} // namespace tunebench::cli
