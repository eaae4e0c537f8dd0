// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/io/ClipTokenizer.h"

#include "core/Error.h"
#include "core/io/ClipText.h"
#include "core/io/RegularFile.h"

#include <nlohmann/json.hpp>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <mutex>
#include <queue>
#include <shared_mutex>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace tunebench {

namespace {

namespace fs = std::filesystem;
using cliptext::appendUtf8;
using cliptext::cleanCodePoints;
using cliptext::decodeUtf8;
using cliptext::matchLength;
using cliptext::repairUtf8;
using cliptext::toUtf8;

// The reference keeps merges 1 .. 49152 - 256 - 2 of the file (line 0 is a header).
constexpr int kMaxMerges = 49152 - 256 - 2;
// Ids index the token embedding; anything beyond this is a corrupt vocab.json, not a real vocabulary.
constexpr std::int64_t kMaxTokenId = (1 << 24) - 1;
// Above this size a pre-token is not worth caching (and would let one pasted blob evict everything).
constexpr std::size_t kMaxCachedWordBytes = 128;
constexpr std::size_t kMaxCacheEntries = 200000;

const std::string kStartOfText = "<|startoftext|>";
const std::string kEndOfText = "<|endoftext|>";
const std::string kEndOfWord = "</w>";

void replaceAll(std::string& text, std::string_view from, std::string_view to)
{
    std::size_t position = 0;
    while ((position = text.find(from, position)) != std::string::npos) {
        text.replace(position, from.size(), to);
        position += to.size();
    }
}

// A short, printable excerpt of user text or a file line for one-line error messages.
std::string excerpt(std::string_view text, std::size_t maxBytes = 60)
{
    std::string shown = repairUtf8(text.substr(0, maxBytes));
    for (char& character : shown) {
        if (static_cast<unsigned char>(character) < 0x20)
            character = ' ';
    }
    if (text.size() > maxBytes)
        shown += "...";
    return shown;
}

// ---- GPT-2 byte alphabet (tokenizer.md section 3) ----

// Every byte gets a printable symbol: the 188 printable Latin-1 bytes stand for themselves, the other 68
// bytes map to U+0100 onwards. The insertion order of the table is the id order of the base tokens.
struct ByteAlphabet
{
    std::array<char32_t, 256> symbolOfByte {};
    std::array<int, 256> orderOfByte {};       // position in insertion order = OpenAI id
    std::array<std::string, 256> utf8OfByte;   // symbol as UTF-8
    std::array<int, 0x180> byteOfSymbol {};    // symbol code point -> byte, -1 if not a byte symbol

    ByteAlphabet()
    {
        byteOfSymbol.fill(-1);
        int order = 0;
        auto isPrintable = [](int byte) {
            return (byte >= 33 && byte <= 126) || (byte >= 161 && byte <= 172) || (byte >= 174 && byte <= 255);
        };
        for (int byte = 0; byte < 256; ++byte) {
            if (isPrintable(byte)) {
                symbolOfByte[byte] = static_cast<char32_t>(byte);
                orderOfByte[byte] = order++;
            }
        }
        char32_t nextSymbol = 0x100;
        for (int byte = 0; byte < 256; ++byte) {
            if (!isPrintable(byte)) {
                symbolOfByte[byte] = nextSymbol++;
                orderOfByte[byte] = order++;
            }
        }
        for (int byte = 0; byte < 256; ++byte) {
            appendUtf8(symbolOfByte[byte], utf8OfByte[byte]);
            byteOfSymbol[symbolOfByte[byte]] = byte;
        }
    }

    // Bytes a token string stands for. Characters outside the alphabet (only possible in a hand-written
    // vocab.json) keep their UTF-8 bytes instead of failing.
    std::string bytesOfToken(std::string_view token) const
    {
        std::u32string symbols;
        decodeUtf8(token, symbols);
        std::string bytes;
        bytes.reserve(symbols.size());
        for (char32_t symbol : symbols) {
            if (symbol < byteOfSymbol.size() && byteOfSymbol[symbol] >= 0)
                bytes.push_back(static_cast<char>(byteOfSymbol[symbol]));
            else
                appendUtf8(symbol, bytes);
        }
        return bytes;
    }
};

const ByteAlphabet& byteAlphabet()
{
    static const ByteAlphabet alphabet;
    return alphabet;
}

// ---- file reading ----

// zlib prefixes its messages with the file name, which our messages already carry.
std::string zlibMessage(gzFile file, const std::string& path, int& code)
{
    std::string message = gzerror(file, &code);
    if (message.rfind(path + ": ", 0) == 0)
        message.erase(0, path.size() + 2);
    return message;
}

// Whole file content; gzip is decompressed, anything else is read as is (zlib's transparent mode).
std::string readPossiblyCompressedFile(const std::string& path)
{
    std::error_code error;
    if (!fs::exists(path, error))
        throw Error("vocabulary file '" + path + "' does not exist");
    requireRegularFile(path, "vocabulary");
    gzFile file = gzopen(path.c_str(), "rb");
    if (!file)
        throw Error("cannot open vocabulary file '" + path + "': " + std::strerror(errno));
    gzbuffer(file, 1 << 17);
    std::string content;
    std::array<char, 1 << 16> buffer {};
    while (true) {
        const int count = gzread(file, buffer.data(), static_cast<unsigned>(buffer.size()));
        if (count < 0) {
            int code = 0;
            std::string message = zlibMessage(file, path, code);
            if (code == Z_ERRNO)
                message = std::strerror(errno);
            gzclose(file);
            if (code == Z_ERRNO)
                throw Error("cannot read vocabulary file '" + path + "': " + message);
            throw Error("vocabulary file '" + path + "' is not a valid gzip file: " + message);
        }
        if (count == 0)
            break;
        content.append(buffer.data(), static_cast<std::size_t>(count));
    }
    int code = Z_OK;
    const std::string message = zlibMessage(file, path, code);
    gzclose(file);
    // A truncated gzip stream ends the reads without a negative count; gzerror still reports it.
    if (code != Z_OK && code != Z_STREAM_END)
        throw Error("vocabulary file '" + path + "' is not a valid gzip file: " + message);
    return content;
}

bool isAsciiWhitespace(char character)
{
    return character == ' ' || character == '\t' || character == '\n' || character == '\r' || character == '\v' || character == '\f';
}

struct MergeLine
{
    std::string left;
    std::string right;
    int lineNumber = 0;   // 1-based, in the file
};

// Parses merge lines [firstLine, firstLine + kMaxMerges) of text split on '\n'; lineNumberOffset maps a
// piece index to the file's 1-based line number. Trailing blank lines end the list.
std::vector<MergeLine> parseMergeLines(const std::string& path, std::string_view text, int lineNumberOffset)
{
    std::vector<std::string_view> pieces;
    std::size_t start = 0;
    while (true) {
        const std::size_t end = text.find('\n', start);
        pieces.push_back(text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
        if (end == std::string_view::npos)
            break;
        start = end + 1;
        if (pieces.size() > static_cast<std::size_t>(kMaxMerges))   // the header plus every merge in use
            break;
    }
    while (!pieces.empty() && std::all_of(pieces.back().begin(), pieces.back().end(), isAsciiWhitespace))
        pieces.pop_back();
    if (pieces.empty())
        throw Error("vocabulary file '" + path + "' is empty");

    std::vector<MergeLine> merges;
    const std::size_t lastPiece = std::min<std::size_t>(pieces.size(), static_cast<std::size_t>(kMaxMerges) + 1);
    merges.reserve(lastPiece);
    for (std::size_t index = 1; index < lastPiece; ++index) {
        const std::string_view line = pieces[index];
        const int lineNumber = static_cast<int>(index) + lineNumberOffset;
        std::vector<std::string_view> fields;
        std::size_t position = 0;
        while (position < line.size() && fields.size() <= 2) {
            while (position < line.size() && isAsciiWhitespace(line[position]))
                ++position;
            const std::size_t fieldStart = position;
            while (position < line.size() && !isAsciiWhitespace(line[position]))
                ++position;
            if (position > fieldStart)
                fields.push_back(line.substr(fieldStart, position - fieldStart));
        }
        if (fields.size() != 2) {
            throw Error("vocabulary file '" + path + "' line " + std::to_string(lineNumber)
                        + ": expected two symbols separated by a space, found '" + excerpt(line) + "'");
        }
        std::u32string ignored;
        if (!decodeUtf8(line, ignored))
            throw Error("vocabulary file '" + path + "' line " + std::to_string(lineNumber) + ": not valid UTF-8");
        merges.push_back({std::string(fields[0]), std::string(fields[1]), lineNumber});
    }
    return merges;
}

std::uint64_t pairKey(int left, int right)
{
    return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(left)) << 32) | static_cast<std::uint32_t>(right);
}

} // namespace

// ---- vocabulary ----

struct ClipTokenizer::Vocabulary
{
    struct MergeRule
    {
        int rank = 0;
        int resultId = 0;
    };

    std::vector<std::string> tokenStrings;   // by id; "" where vocab.json leaves an id unused
    std::vector<std::string> tokenBytes;     // by id; the bytes the token stands for
    std::unordered_map<std::string, int> idByToken;
    std::unordered_map<std::uint64_t, MergeRule> mergeByPair;
    std::array<int, 256> byteId {};          // a byte inside a word
    std::array<int, 256> wordEndByteId {};   // a byte that ends a word ("x</w>")
    int startId = -1;
    int endId = -1;
    int mergeCount = 0;
    std::string description;

    int idOf(const std::string& token) const
    {
        const auto found = idByToken.find(token);
        return found == idByToken.end() ? -1 : found->second;
    }

    // Everything except the token list and specials: byte ids, merge table, byte strings.
    void resolve(const std::vector<MergeLine>& merges, const std::string& mergesPath, const std::string& vocabPath)
    {
        const ByteAlphabet& alphabet = byteAlphabet();
        for (int byte = 0; byte < 256; ++byte) {
            byteId[byte] = idOf(alphabet.utf8OfByte[byte]);
            wordEndByteId[byte] = idOf(alphabet.utf8OfByte[byte] + kEndOfWord);
            if (byteId[byte] < 0 || wordEndByteId[byte] < 0) {
                const std::string missing = alphabet.utf8OfByte[byte] + (byteId[byte] < 0 ? "" : kEndOfWord);
                char byteText[8];
                std::snprintf(byteText, sizeof byteText, "0x%02X", byte);
                throw Error("vocabulary '" + vocabPath + "' lacks the byte symbol '" + missing + "' (byte " + byteText
                            + "); it is not a byte-level CLIP vocabulary");
            }
        }
        mergeByPair.reserve(merges.size());
        for (std::size_t rank = 0; rank < merges.size(); ++rank) {
            const MergeLine& merge = merges[rank];
            const int left = idOf(merge.left);
            const int right = idOf(merge.right);
            // Every symbol a word can hold is in the vocabulary (checked below by induction), so a merge
            // with an unknown part can never apply, exactly as in the reference.
            if (left < 0 || right < 0)
                continue;
            const int result = idOf(merge.left + merge.right);
            if (result < 0) {
                throw Error("vocabulary file '" + mergesPath + "' line " + std::to_string(merge.lineNumber) + ": the merged symbol '"
                            + excerpt(merge.left + merge.right) + "' is not in '" + vocabPath + "'");
            }
            // Like the reference's dict(zip(merges, ranks)): a repeated pair keeps its last rank.
            mergeByPair.insert_or_assign(pairKey(left, right), MergeRule {static_cast<int>(rank), result});
        }
        mergeCount = static_cast<int>(merges.size());
        tokenBytes.resize(tokenStrings.size());
        for (std::size_t id = 0; id < tokenStrings.size(); ++id)
            tokenBytes[id] = alphabet.bytesOfToken(tokenStrings[id]);
    }

    const MergeRule* findMerge(int left, int right) const
    {
        const auto found = mergeByPair.find(pairKey(left, right));
        return found == mergeByPair.end() ? nullptr : &found->second;
    }
};

struct ClipTokenizer::BpeCache
{
    std::shared_mutex mutex;
    std::unordered_map<std::string, std::vector<int>> idsByWord;
};

ClipTokenizer::ClipTokenizer(std::shared_ptr<const Vocabulary> vocabulary)
    : m_vocabulary(std::move(vocabulary))
    , m_cache(std::make_shared<BpeCache>())
{
}

ClipTokenizer ClipTokenizer::fromOpenAiVocab(const std::string& gzPath)
{
    const std::string text = readPossiblyCompressedFile(gzPath);
    const std::vector<MergeLine> merges = parseMergeLines(gzPath, text, 1);

    auto vocabulary = std::make_shared<Vocabulary>();
    const ByteAlphabet& alphabet = byteAlphabet();
    std::vector<std::string>& tokens = vocabulary->tokenStrings;
    tokens.reserve(512 + merges.size() + 2);
    std::array<std::string, 256> symbolsInIdOrder;
    for (int byte = 0; byte < 256; ++byte)
        symbolsInIdOrder[alphabet.orderOfByte[byte]] = alphabet.utf8OfByte[byte];
    for (const std::string& symbol : symbolsInIdOrder)
        tokens.push_back(symbol);
    for (const std::string& symbol : symbolsInIdOrder)
        tokens.push_back(symbol + kEndOfWord);
    for (const MergeLine& merge : merges)
        tokens.push_back(merge.left + merge.right);
    tokens.push_back(kStartOfText);
    tokens.push_back(kEndOfText);
    vocabulary->idByToken.reserve(tokens.size());
    for (std::size_t id = 0; id < tokens.size(); ++id)
        vocabulary->idByToken.insert_or_assign(tokens[id], static_cast<int>(id));   // later entries win, as in dict(zip())
    vocabulary->startId = vocabulary->idOf(kStartOfText);
    vocabulary->endId = vocabulary->idOf(kEndOfText);
    vocabulary->resolve(merges, gzPath, gzPath);

    const std::string fileName = fs::path(gzPath).filename().string();
    const std::string kind = fileName.rfind("bpe_simple_vocab_16e6", 0) == 0 ? "OpenAI bpe_simple_vocab_16e6" : "OpenAI-format BPE merges";
    vocabulary->description = kind + " (" + std::to_string(tokens.size()) + " tokens) from " + gzPath;
    return ClipTokenizer(std::move(vocabulary));
}

ClipTokenizer ClipTokenizer::fromHuggingFace(const std::string& vocabJsonPath, const std::string& mergesPath)
{
    auto vocabulary = std::make_shared<Vocabulary>();
    {
        const std::string text = readPossiblyCompressedFile(vocabJsonPath);
        if (std::all_of(text.begin(), text.end(), isAsciiWhitespace))
            throw Error("vocabulary file '" + vocabJsonPath + "' is empty");
        nlohmann::json json;
        try {
            json = nlohmann::json::parse(text);
        } catch (const nlohmann::json::exception& error) {
            throw Error("vocabulary file '" + vocabJsonPath + "' is not valid JSON: " + error.what());
        }
        if (!json.is_object())
            throw Error("vocabulary file '" + vocabJsonPath + "' is not a JSON object mapping token strings to ids");
        if (json.empty())
            throw Error("vocabulary file '" + vocabJsonPath + "' is empty");
        std::int64_t largestId = -1;
        for (const auto& [token, value] : json.items()) {
            if (!value.is_number_integer())
                throw Error("vocabulary file '" + vocabJsonPath + "': the id of token '" + excerpt(token) + "' is not an integer");
            const auto id = value.get<std::int64_t>();
            if (id < 0 || id > kMaxTokenId)
                throw Error("vocabulary file '" + vocabJsonPath + "': token '" + excerpt(token) + "' has the out-of-range id " + std::to_string(id));
            largestId = std::max(largestId, id);
        }
        std::vector<std::string>& tokens = vocabulary->tokenStrings;
        std::vector<bool> used(static_cast<std::size_t>(largestId) + 1, false);
        tokens.resize(static_cast<std::size_t>(largestId) + 1);
        vocabulary->idByToken.reserve(json.size());
        for (const auto& [token, value] : json.items()) {
            const auto id = static_cast<std::size_t>(value.get<std::int64_t>());
            if (used[id]) {
                throw Error("vocabulary file '" + vocabJsonPath + "': id " + std::to_string(id) + " is given to both '" + excerpt(tokens[id])
                            + "' and '" + excerpt(token) + "'");
            }
            used[id] = true;
            tokens[id] = token;
            vocabulary->idByToken.emplace(token, static_cast<int>(id));
        }
    }
    vocabulary->startId = vocabulary->idOf(kStartOfText);
    vocabulary->endId = vocabulary->idOf(kEndOfText);
    if (vocabulary->startId < 0 || vocabulary->endId < 0)
        throw Error("vocabulary file '" + vocabJsonPath + "' has no '" + (vocabulary->startId < 0 ? kStartOfText : kEndOfText) + "' entry");

    const std::string mergesText = readPossiblyCompressedFile(mergesPath);
    // The Hugging Face loader strips the whole file before splitting it into lines.
    const std::size_t firstKept = std::find_if_not(mergesText.begin(), mergesText.end(), isAsciiWhitespace) - mergesText.begin();
    const int strippedLines = static_cast<int>(std::count(mergesText.begin(), mergesText.begin() + static_cast<std::ptrdiff_t>(firstKept), '\n'));
    const std::vector<MergeLine> merges = parseMergeLines(mergesPath, std::string_view(mergesText).substr(firstKept), 1 + strippedLines);
    vocabulary->resolve(merges, mergesPath, vocabJsonPath);
    vocabulary->description = "Hugging Face vocab.json + merges.txt (" + std::to_string(vocabulary->tokenStrings.size()) + " tokens) from "
                              + vocabJsonPath + " and " + mergesPath;
    return ClipTokenizer(std::move(vocabulary));
}

ClipTokenizer ClipTokenizer::load(const std::string& path)
{
    std::error_code error;
    const fs::path location(path);
    if (!fs::exists(location, error))
        throw Error("vocabulary '" + path + "' does not exist");
    if (fs::is_directory(location, error)) {
        const fs::path vocabJson = location / "vocab.json";
        const fs::path merges = location / "merges.txt";
        if (fs::is_regular_file(vocabJson, error) && fs::is_regular_file(merges, error))
            return fromHuggingFace(vocabJson.string(), merges.string());
        const fs::path openAi = location / "bpe_simple_vocab_16e6.txt.gz";
        if (fs::is_regular_file(openAi, error))
            return fromOpenAiVocab(openAi.string());
        throw Error("folder '" + path + "' holds neither vocab.json + merges.txt nor bpe_simple_vocab_16e6.txt.gz");
    }
    const std::string fileName = location.filename().string();
    const bool isJson = fileName.size() >= 5 && fileName.compare(fileName.size() - 5, 5, ".json") == 0;
    if (isJson) {
        const fs::path merges = location.parent_path() / "merges.txt";
        if (!fs::is_regular_file(merges, error))
            throw Error("vocabulary '" + path + "' needs merges.txt beside it, but '" + merges.string() + "' does not exist");
        return fromHuggingFace(path, merges.string());
    }
    if (fileName == "merges.txt") {
        const fs::path vocabJson = location.parent_path() / "vocab.json";
        if (fs::is_regular_file(vocabJson, error))
            return fromHuggingFace(vocabJson.string(), path);
    }
    return fromOpenAiVocab(path);
}

// ---- encoding ----

std::string ClipTokenizer::cleanText(const std::string& text) const
{
    return toUtf8(cleanCodePoints(text));
}

std::vector<int> ClipTokenizer::encode(const std::string& text) const
{
    std::vector<int> ids;
    for (const std::string& word : splitWords(text))
        appendWordIds(word, ids);
    return ids;
}

std::vector<std::string> ClipTokenizer::splitWords(const std::string& text)
{
    const std::u32string cleaned = cleanCodePoints(text);
    std::vector<std::string> words;
    std::size_t position = 0;
    while (position < cleaned.size()) {
        const std::size_t length = matchLength(cleaned, position);
        if (length == 0) {
            ++position;
            continue;
        }
        words.push_back(toUtf8(std::u32string_view(cleaned).substr(position, length)));
        position += length;
    }
    return words;
}

std::vector<std::string> ClipTokenizer::byteSymbolsInIdOrder()
{
    const ByteAlphabet& alphabet = byteAlphabet();
    std::vector<std::string> symbols(256);
    for (int byte = 0; byte < 256; ++byte)
        symbols[static_cast<std::size_t>(alphabet.orderOfByte[byte])] = alphabet.utf8OfByte[byte];
    return symbols;
}

std::vector<std::string> ClipTokenizer::toByteSymbols(const std::string& utf8Word)
{
    const ByteAlphabet& alphabet = byteAlphabet();
    std::vector<std::string> symbols;
    symbols.reserve(utf8Word.size());
    for (unsigned char byte : utf8Word)
        symbols.push_back(alphabet.utf8OfByte[byte]);
    return symbols;
}

void ClipTokenizer::appendWordIds(const std::string& utf8Word, std::vector<int>& ids) const
{
    // Only the exact special strings become the special ids (the reference seeds its BPE cache with
    // them); a case variant such as "<|ſtartoftext|>" is one pre-token encoded byte by byte.
    if (utf8Word == kStartOfText) {
        ids.push_back(m_vocabulary->startId);
        return;
    }
    if (utf8Word == kEndOfText) {
        ids.push_back(m_vocabulary->endId);
        return;
    }
    const bool cacheable = utf8Word.size() <= kMaxCachedWordBytes;
    if (cacheable) {
        std::shared_lock lock(m_cache->mutex);
        const auto found = m_cache->idsByWord.find(utf8Word);
        if (found != m_cache->idsByWord.end()) {
            ids.insert(ids.end(), found->second.begin(), found->second.end());
            return;
        }
    }
    std::vector<int> wordIds = runBpe(utf8Word);
    ids.insert(ids.end(), wordIds.begin(), wordIds.end());
    if (cacheable) {
        std::unique_lock lock(m_cache->mutex);
        if (m_cache->idsByWord.size() >= kMaxCacheEntries)
            m_cache->idsByWord.clear();
        m_cache->idsByWord.emplace(utf8Word, std::move(wordIds));
    }
}

// tokenizer.md section 6: start from single byte symbols (the last one marked as word end); repeatedly
// take the lowest-ranked adjacent pair and merge all its non-overlapping occurrences left to right.
// A heap keeps this O(n log n) for long pre-tokens; each round takes every pair of the lowest rank in
// the heap and applies them in position order, which is exactly the reference's round.
std::vector<int> ClipTokenizer::runBpe(const std::string& utf8Word) const
{
    const Vocabulary& vocabulary = *m_vocabulary;
    const std::size_t count = utf8Word.size();
    std::vector<int> symbols(count);
    for (std::size_t index = 0; index < count; ++index) {
        const auto byte = static_cast<unsigned char>(utf8Word[index]);
        symbols[index] = index + 1 == count ? vocabulary.wordEndByteId[byte] : vocabulary.byteId[byte];
    }
    if (count < 2)
        return symbols;

    // Doubly linked list over the original positions; a merge keeps the left node.
    std::vector<int> previous(count);
    std::vector<int> next(count);
    for (std::size_t index = 0; index < count; ++index) {
        previous[index] = static_cast<int>(index) - 1;
        next[index] = index + 1 < count ? static_cast<int>(index) + 1 : -1;
    }
    std::vector<bool> alive(count, true);

    using Candidate = std::pair<int, int>;   // (rank, left node)
    std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> candidates;
    auto pushPair = [&](int left) {
        if (left < 0 || next[left] < 0)
            return;
        if (const Vocabulary::MergeRule* rule = vocabulary.findMerge(symbols[left], symbols[next[left]]))
            candidates.emplace(rule->rank, left);
    };
    for (std::size_t index = 0; index + 1 < count; ++index)
        pushPair(static_cast<int>(index));

    std::vector<int> positions;
    while (!candidates.empty()) {
        const int rank = candidates.top().first;
        positions.clear();
        while (!candidates.empty() && candidates.top().first == rank) {
            positions.push_back(candidates.top().second);
            candidates.pop();
        }
        std::sort(positions.begin(), positions.end());
        positions.erase(std::unique(positions.begin(), positions.end()), positions.end());
        for (int left : positions) {
            // Entries go stale when a neighbour merged; a rank names exactly one pair, so a matching rank
            // means the pair is still there.
            if (!alive[left] || next[left] < 0)
                continue;
            const Vocabulary::MergeRule* rule = vocabulary.findMerge(symbols[left], symbols[next[left]]);
            if (!rule || rule->rank != rank)
                continue;
            const int right = next[left];
            symbols[left] = rule->resultId;
            alive[right] = false;
            next[left] = next[right];
            if (next[right] >= 0)
                previous[next[right]] = left;
            pushPair(previous[left]);
            pushPair(left);
        }
    }
    std::vector<int> result;
    for (int node = 0; node >= 0; node = next[node])
        result.push_back(symbols[node]);
    return result;
}

std::vector<int> ClipTokenizer::tokenize(const std::string& text) const
{
    std::vector<int> ids = encode(text);
    ids.insert(ids.begin(), m_vocabulary->startId);
    ids.push_back(m_vocabulary->endId);
    return ids;
}

std::vector<int64_t> ClipTokenizer::tokenizeToContext(const std::string& text, int contextLength, bool truncate, int64_t padId) const
{
    if (contextLength < 1)
        throw Error("context length must be at least 1, got " + std::to_string(contextLength));
    const std::vector<int> ids = tokenize(text);
    const auto capacity = static_cast<std::size_t>(contextLength);
    if (ids.size() > capacity && !truncate) {
        throw Error("text is too long for the context length " + std::to_string(contextLength) + " (" + std::to_string(ids.size())
                    + " tokens): \"" + excerpt(text) + "\"");
    }
    std::vector<int64_t> packed(capacity, padId);
    std::copy_n(ids.begin(), std::min(ids.size(), capacity), packed.begin());
    if (ids.size() > capacity)
        packed.back() = m_vocabulary->endId;
    return packed;
}

// ---- decoding and lookup ----

const std::string& ClipTokenizer::checkedTokenString(int id) const
{
    if (id < 0 || id >= vocabSize())
        throw Error("token id " + std::to_string(id) + " is outside the vocabulary (" + std::to_string(vocabSize()) + " ids)");
    return m_vocabulary->tokenStrings[static_cast<std::size_t>(id)];
}

std::string ClipTokenizer::decode(const std::vector<int>& ids) const
{
    std::string bytes;
    for (int id : ids) {
        checkedTokenString(id);
        bytes += m_vocabulary->tokenBytes[static_cast<std::size_t>(id)];
    }
    std::string text = repairUtf8(bytes);
    replaceAll(text, kEndOfWord, " ");
    return text;
}

std::string ClipTokenizer::tokenString(int id) const
{
    return checkedTokenString(id);
}

std::string ClipTokenizer::displayWord(int id) const
{
    checkedTokenString(id);
    std::string word = repairUtf8(m_vocabulary->tokenBytes[static_cast<std::size_t>(id)]);
    replaceAll(word, kEndOfWord, "");
    return word;
}

int ClipTokenizer::tokenId(const std::string& tokenString) const
{
    return m_vocabulary->idOf(tokenString);
}

int ClipTokenizer::startId() const
{
    return m_vocabulary->startId;
}

int ClipTokenizer::endId() const
{
    return m_vocabulary->endId;
}

int ClipTokenizer::vocabSize() const
{
    return static_cast<int>(m_vocabulary->tokenStrings.size());
}

int ClipTokenizer::mergeCount() const
{
    return m_vocabulary->mergeCount;
}

std::string ClipTokenizer::description() const
{
    return m_vocabulary->description;
}

} // namespace tunebench
