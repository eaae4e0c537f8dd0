#include "app/cli/Commands.h"

#include "core/io/ClipTokenizer.h"
#include "core/io/VocabularyLocator.h"

#include <nlohmann/json.hpp>

#include <iostream>

namespace tunebench::cli {

namespace {

int runTokenize(const CliArgs& args)
{
    const ClipTokenizer tokenizer = ClipTokenizer::load(locateVocabulary(args.value("vocab", ""), ""));
    nlohmann::json tokens = nlohmann::json::array();
    for (const std::string& text : args.positional())
        tokens.push_back(tokenizer.tokenize(text));
    std::cout << nlohmann::json{{"tokens", tokens}}.dump() << std::endl;
    return 0;
}

} // namespace


Command tokenizeCommand()
{
    return {"tokenize", "[--vocab FILE] TEXT...", "CLIP token ids of each text (with start/end, no padding)",
            {{"vocab", "FILE", "the CLIP vocabulary (default: $TUNEBENCH_CLIP_VOCAB, else the clip/open_clip packages, the HF cache)"}},
            runTokenize, kAnyPositionals};
}

} // namespace tunebench::cli
