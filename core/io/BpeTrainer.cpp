#include "core/io/BpeTrainer.h"

#include "core/Error.h"
#include "core/io/AtomicFile.h"
#include "core/io/ClipTokenizer.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <map>

namespace fs = std::filesystem;

namespace tunebench {

BpeVocabulary trainBpe(const std::vector<std::string>& corpus, int maxMerges, int minCount)
{
    // Each distinct word as its symbol sequence, with its frequency.
    std::map<std::string, int> wordCounts;
    for (const std::string& text : corpus)
        for (const std::string& word : ClipTokenizer::splitWords(text))
            ++wordCounts[word];
    std::vector<std::pair<std::vector<std::string>, int>> words;
    for (const auto& [word, count] : wordCounts) {
        auto symbols = ClipTokenizer::toByteSymbols(word);
        if (symbols.empty())
            continue;
        symbols.back() += "</w>";
        words.emplace_back(std::move(symbols), count);
    }

    BpeVocabulary vocabulary;
    for (int merge = 0; merge < maxMerges; ++merge) {
        std::map<std::pair<std::string, std::string>, long> pairCounts;
        for (const auto& [symbols, count] : words)
            for (size_t i = 0; i + 1 < symbols.size(); ++i)
                pairCounts[{symbols[i], symbols[i + 1]}] += count;
        auto best = pairCounts.end();
        for (auto it = pairCounts.begin(); it != pairCounts.end(); ++it)
            if (best == pairCounts.end() || it->second > best->second)  // map order breaks ties
                best = it;
        if (best == pairCounts.end() || best->second < minCount)
            break;
        const auto [left, right] = best->first;
        vocabulary.merges.emplace_back(left, right);
        for (auto& [symbols, count] : words) {
            std::vector<std::string> merged;
            merged.reserve(symbols.size());
            for (size_t i = 0; i < symbols.size(); ++i) {
                if (i + 1 < symbols.size() && symbols[i] == left && symbols[i + 1] == right) {
                    merged.push_back(left + right);
                    ++i;
                } else {
                    merged.push_back(symbols[i]);
                }
            }
            symbols = std::move(merged);
        }
    }

    vocabulary.tokens = ClipTokenizer::byteSymbolsInIdOrder();
    for (int i = 0; i < 256; ++i)
        vocabulary.tokens.push_back(vocabulary.tokens[static_cast<size_t>(i)] + "</w>");
    for (const auto& [left, right] : vocabulary.merges)
        vocabulary.tokens.push_back(left + right);
    vocabulary.tokens.push_back("<|startoftext|>");
    vocabulary.tokens.push_back("<|endoftext|>");
    return vocabulary;
}

void writeHuggingFaceVocabulary(const BpeVocabulary& vocabulary, const std::string& folder)
{
    std::error_code error;
    fs::create_directories(folder, error);
    nlohmann::json vocab = nlohmann::json::object();
    for (size_t id = 0; id < vocabulary.tokens.size(); ++id)
        vocab[vocabulary.tokens[id]] = id;
    const fs::path vocabPath = fs::path(folder) / "vocab.json";
    const fs::path mergesPath = fs::path(folder) / "merges.txt";
    writeFileAtomically(vocabPath.string(), vocab.dump() + "\n");
    std::string merges = "#version: 0.2\n";
    for (const auto& [left, right] : vocabulary.merges)
        merges += left + " " + right + "\n";
    writeFileAtomically(mergesPath.string(), merges);
}

} // namespace tunebench
