// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace tunebench {

// The byte-level BPE tokenizer of CLIP (openai/CLIP simple_tokenizer.py), reading either the OpenAI
// merges file (bpe_simple_vocab_16e6.txt.gz) or a Hugging Face vocab.json + merges.txt pair. Both
// forms of the real vocabulary give the same ids. Immutable after loading, cheap to copy (copies share
// the vocabulary and the BPE cache) and safe to use from several threads at once.
//
// Text goes through cleanText() first (see there for what differs from the reference's ftfy step),
// then the reference's split pattern (Unicode tables: UnicodeTables, currently Unicode 14.0.0).
// Input that is not valid UTF-8 does not fail: each invalid sequence becomes U+FFFD (the maximal-subpart
// rule of Python's decode(errors="replace")) and is tokenized like any other symbol.
class ClipTokenizer
{
public:
    static constexpr int defaultContextLength = 77;

    // bpe_simple_vocab_16e6.txt.gz (gzip) or the same text uncompressed.
    static ClipTokenizer fromOpenAiVocab(const std::string& gzPath);
    static ClipTokenizer fromHuggingFace(const std::string& vocabJsonPath, const std::string& mergesPath);
    // A .gz/.txt merges file, a folder holding vocab.json + merges.txt (or the .gz), or a vocab.json
    // with merges.txt beside it.
    static ClipTokenizer load(const std::string& path);

    // HTML unescape (twice, as Python's html.unescape), strip, collapse whitespace runs to one space,
    // Python's full lowercase (with final sigma). The reference's ftfy.fix_text step is not ported (no
    // mojibake repair, NFC, quote uncurling, full-width/ligature folding, control-character removal):
    // ids match the reference for clean NFC text and may differ for "dirty" text.
    std::string cleanText(const std::string& text) const;
    std::vector<int> encode(const std::string& text) const;     // BPE ids, no start/end tokens
    std::vector<int> tokenize(const std::string& text) const;   // start id, ids, end id; no padding
    // Reference packing: start, ids, end, padded with padId to contextLength. Too long and truncate: keep
    // the first contextLength ids and make the last one the end id; too long and !truncate: Error.
    std::vector<int64_t> tokenizeToContext(const std::string& text, int contextLength = defaultContextLength,
                                           bool truncate = true, int64_t padId = 0) const;
    // Concatenates the tokens' bytes, decodes UTF-8 (U+FFFD for invalid sequences), "</w>" -> " ".
    std::string decode(const std::vector<int>& ids) const;

    std::string tokenString(int id) const;   // raw vocabulary string, e.g. "photo</w>"; "" for an unused id
    std::string displayWord(int id) const;   // byte-decoded, "</w>" removed, e.g. "photo"
    int tokenId(const std::string& tokenString) const;   // inverse of tokenString(); -1 if unknown

    // Building blocks for training a vocabulary with the same byte-level scheme (BpeTrainer):
    // the cleaned pre-tokens of `text` (the reference's split pattern), UTF-8 ...
    static std::vector<std::string> splitWords(const std::string& text);
    // ... the 256 byte symbols in id order (ids 0-255; ids 256-511 are the same with "</w>") ...
    static std::vector<std::string> byteSymbolsInIdOrder();
    // ... and a word's bytes written as byte symbols, one per byte.
    static std::vector<std::string> toByteSymbols(const std::string& utf8Word);

    int startId() const;
    int endId() const;
    int vocabSize() const;    // number of ids (largest id + 1), i.e. rows of the token embedding
    int mergeCount() const;   // merges in use (at most 48,894, as in the reference)
    std::string description() const;   // e.g. "OpenAI bpe_simple_vocab_16e6 (49408 tokens) from PATH"

private:
    struct Vocabulary;
    struct BpeCache;

    explicit ClipTokenizer(std::shared_ptr<const Vocabulary> vocabulary);

    void appendWordIds(const std::string& utf8Word, std::vector<int>& ids) const;
    std::vector<int> runBpe(const std::string& utf8Word) const;
    const std::string& checkedTokenString(int id) const;

    std::shared_ptr<const Vocabulary> m_vocabulary;
    std::shared_ptr<BpeCache> m_cache;
};

} // namespace tunebench
