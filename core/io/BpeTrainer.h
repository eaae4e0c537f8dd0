#pragma once

#include <string>
#include <utility>
#include <vector>

namespace tunebench {

// A byte-level BPE vocabulary in CLIP's layout: ids 0-255 the byte symbols, 256-511 the same with
// "</w>", then one token per merge in rank order, then <|startoftext|> and <|endoftext|> (the largest
// id, so that the reference's argmax pooling finds it).
struct BpeVocabulary
{
    std::vector<std::pair<std::string, std::string>> merges;
    std::vector<std::string> tokens;  // index = id
};

// Learns up to `maxMerges` merges from `corpus` (each text cleaned and split as the CLIP tokenizer
// does): repeatedly merges the most frequent adjacent pair (ties: the smaller pair in byte order),
// stopping early when no pair occurs at least `minCount` times. Deterministic.
BpeVocabulary trainBpe(const std::vector<std::string>& corpus, int maxMerges, int minCount = 2);

// Writes vocab.json and merges.txt (Hugging Face form, "#version: 0.2" header) into `folder`;
// ClipTokenizer::load(folder) reads them back.
void writeHuggingFaceVocabulary(const BpeVocabulary& vocabulary, const std::string& folder);

} // namespace tunebench
