// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/io/ClipText.h"

#include "core/io/UnicodeTables.h"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace tunebench::cliptext {

namespace {

constexpr char32_t kReplacementCharacter = 0xFFFD;
// U+0345 matches none of the split pattern's alternatives under IGNORECASE in the `regex` module (its
// case variants are letters, so [^\s\p{L}\p{N}] rejects it, yet \p{L} does not accept it): it is dropped
// like whitespace. Verified exhaustively against regex 2026.5.9; no other code point behaves like this.
constexpr char32_t kDroppedCombiningYpogegrammeni = 0x0345;

} // namespace

// ---- UTF-8 ----

void appendUtf8(char32_t codePoint, std::string& out)
{
    if (codePoint < 0x80) {
        out.push_back(static_cast<char>(codePoint));
    } else if (codePoint < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (codePoint >> 6)));
        out.push_back(static_cast<char>(0x80 | (codePoint & 0x3F)));
    } else if (codePoint < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (codePoint >> 12)));
        out.push_back(static_cast<char>(0x80 | ((codePoint >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (codePoint & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (codePoint >> 18)));
        out.push_back(static_cast<char>(0x80 | ((codePoint >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((codePoint >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (codePoint & 0x3F)));
    }
}

std::string toUtf8(std::u32string_view text)
{
    std::string out;
    out.reserve(text.size());
    for (char32_t codePoint : text)
        appendUtf8(codePoint, out);
    return out;
}

// Decodes UTF-8; every maximal invalid subsequence becomes one U+FFFD (what Python's
// bytes.decode("utf-8", errors="replace") does). Returns whether the input was valid.
bool decodeUtf8(std::string_view bytes, std::u32string& out)
{
    bool valid = true;
    std::size_t index = 0;
    const std::size_t size = bytes.size();
    while (index < size) {
        const auto lead = static_cast<unsigned char>(bytes[index]);
        if (lead < 0x80) {
            out.push_back(lead);
            ++index;
            continue;
        }
        int continuationCount = 0;
        char32_t codePoint = 0;
        unsigned char lowest = 0x80;   // range of the first continuation byte (excludes overlongs,
        unsigned char highest = 0xBF;  // surrogates and values above U+10FFFF)
        if (lead >= 0xC2 && lead <= 0xDF) {
            continuationCount = 1;
            codePoint = lead & 0x1F;
        } else if (lead >= 0xE0 && lead <= 0xEF) {
            continuationCount = 2;
            codePoint = lead & 0x0F;
            if (lead == 0xE0)
                lowest = 0xA0;
            else if (lead == 0xED)
                highest = 0x9F;
        } else if (lead >= 0xF0 && lead <= 0xF4) {
            continuationCount = 3;
            codePoint = lead & 0x07;
            if (lead == 0xF0)
                lowest = 0x90;
            else if (lead == 0xF4)
                highest = 0x8F;
        } else {
            out.push_back(kReplacementCharacter);
            valid = false;
            ++index;
            continue;
        }
        std::size_t next = index + 1;
        int decoded = 0;
        while (decoded < continuationCount && next < size) {
            const auto byte = static_cast<unsigned char>(bytes[next]);
            if (byte < lowest || byte > highest)
                break;
            codePoint = (codePoint << 6) | (byte & 0x3F);
            lowest = 0x80;
            highest = 0xBF;
            ++next;
            ++decoded;
        }
        if (decoded == continuationCount) {
            out.push_back(codePoint);
        } else {
            out.push_back(kReplacementCharacter);
            valid = false;
        }
        index = next;
    }
    return valid;
}

std::string repairUtf8(std::string_view bytes)
{
    std::u32string decoded;
    decodeUtf8(bytes, decoded);
    return toUtf8(decoded);
}

// ---- text cleaning (tokenizer.md section 4) ----
//
// The reference runs ftfy.fix_text first. We do not: ftfy also repairs mojibake ("cafÃ©" -> "café"),
// decodes inconsistent UTF-8, fixes C1 controls and surrogates, removes terminal escapes and control
// characters, folds Latin ligatures and full-width characters, uncurls quotes, normalises line breaks and
// applies NFC. For ASCII and clean NFC text (nearly every prompt and class name) this changes nothing;
// for "dirty" text (mojibake, curly quotes, decomposed accents, full-width forms) our ids differ from
// the reference's. HTML unescaping, stripping, whitespace collapse and lowercasing match Python.

namespace {

bool isAsciiHexDigit(char32_t character)
{
    return (character >= U'0' && character <= U'9') || ((character | 0x20) >= U'a' && (character | 0x20) <= U'f');
}

int hexValue(char32_t character)
{
    return character <= U'9' ? static_cast<int>(character - U'0') : static_cast<int>((character | 0x20) - U'a' + 10);
}

bool isEntityNameCharacter(char32_t character)
{
    switch (character) {
    case U'\t': case U'\n': case U'\f': case U' ': case U'<': case U'&': case U'#': case U';':
        return false;
    default:
        return true;
    }
}

// Entity names are ASCII; anything else becomes a byte that no table entry contains.
std::string entityKey(std::u32string_view name)
{
    std::string key;
    key.reserve(name.size());
    for (char32_t character : name)
        key.push_back(character < 0x80 ? static_cast<char>(character) : '\x7F');
    return key;
}
} // namespace

// Python's html.unescape: numeric references (with its replacement and removal rules) and named
// references, including the longest-prefix rule for the semicolon-less legacy names ("&ampx" -> "&x").
std::u32string htmlUnescape(const std::u32string& text)
{
    if (text.find(U'&') == std::u32string::npos)
        return text;
    std::u32string out;
    out.reserve(text.size());
    const std::size_t size = text.size();
    std::size_t index = 0;
    while (index < size) {
        if (text[index] != U'&') {
            out.push_back(text[index++]);
            continue;
        }
        const std::size_t afterAmpersand = index + 1;
        if (afterAmpersand < size && text[afterAmpersand] == U'#') {
            std::size_t digitsBegin = afterAmpersand + 1;
            bool hexadecimal = false;
            if (digitsBegin + 1 < size && (text[digitsBegin] | 0x20) == U'x' && isAsciiHexDigit(text[digitsBegin + 1])) {
                hexadecimal = true;
                ++digitsBegin;
            }
            std::size_t digitsEnd = digitsBegin;
            std::uint64_t number = 0;
            while (digitsEnd < size
                   && (hexadecimal ? isAsciiHexDigit(text[digitsEnd]) : (text[digitsEnd] >= U'0' && text[digitsEnd] <= U'9'))) {
                number = number * (hexadecimal ? 16 : 10) + static_cast<std::uint64_t>(hexValue(text[digitsEnd]));
                number = std::min<std::uint64_t>(number, 0x110000);   // anything larger is equally invalid
                ++digitsEnd;
            }
            if (digitsEnd == digitsBegin) {   // "&#" or "&#x" without digits is not a reference
                out.push_back(text[index++]);
                continue;
            }
            index = digitsEnd < size && text[digitsEnd] == U';' ? digitsEnd + 1 : digitsEnd;
            const auto value = static_cast<std::uint32_t>(number);
            if (const char32_t* replacement = UnicodeTables::numericReferenceOverride(value))
                out += replacement;
            else if ((value >= 0xD800 && value <= 0xDFFF) || value > 0x10FFFF)
                out.push_back(kReplacementCharacter);
            else if (!UnicodeTables::isDiscardedNumericReference(value))
                out.push_back(static_cast<char32_t>(value));
            continue;
        }
        std::size_t nameEnd = afterAmpersand;
        while (nameEnd < size && nameEnd - afterAmpersand < 32 && isEntityNameCharacter(text[nameEnd]))
            ++nameEnd;
        if (nameEnd == afterAmpersand) {
            out.push_back(text[index++]);
            continue;
        }
        const std::size_t matchEnd = nameEnd < size && text[nameEnd] == U';' ? nameEnd + 1 : nameEnd;
        const std::u32string_view reference(text.data() + afterAmpersand, matchEnd - afterAmpersand);
        const std::string key = entityKey(reference);
        if (const char32_t* value = UnicodeTables::findNamedEntity(key)) {
            out += value;
        } else {
            bool replaced = false;
            for (std::size_t prefixLength = key.size() - 1; prefixLength >= 2 && prefixLength < key.size(); --prefixLength) {
                if (const char32_t* value = UnicodeTables::findNamedEntity(std::string_view(key).substr(0, prefixLength))) {
                    out += value;
                    out += reference.substr(prefixLength);
                    replaced = true;
                    break;
                }
            }
            if (!replaced) {
                out.push_back(U'&');
                out += reference;
            }
        }
        index = matchEnd;
    }
    return out;
}

// Python's " ".join(text.split()): strip, then every whitespace run becomes one space.
std::u32string collapseWhitespace(const std::u32string& text)
{
    std::u32string out;
    out.reserve(text.size());
    bool pendingSpace = false;
    for (char32_t character : text) {
        if (UnicodeTables::isWhitespace(character)) {
            pendingSpace = !out.empty();
            continue;
        }
        if (pendingSpace)
            out.push_back(U' ');
        pendingSpace = false;
        out.push_back(character);
    }
    return out;
}

// Python's str.lower(): the full mapping, and U+03A3 becomes final sigma U+03C2 when it follows a cased
// character (ignoring case-ignorable ones in between) and no cased character follows it.
std::u32string pythonLowercase(const std::u32string& text)
{
    constexpr char32_t capitalSigma = 0x03A3;
    std::u32string out;
    out.reserve(text.size());
    const bool hasSigma = text.find(capitalSigma) != std::u32string::npos;
    // Index of the next character that is not case-ignorable, for the look-ahead (linear in the text).
    std::vector<std::size_t> nextNotIgnorable;
    if (hasSigma) {
        nextNotIgnorable.resize(text.size() + 1, text.size());
        for (std::size_t index = text.size(); index-- > 0;)
            nextNotIgnorable[index] = UnicodeTables::isCaseIgnorable(text[index]) ? nextNotIgnorable[index + 1] : index;
    }
    bool afterCased = false;   // the last character that is not case-ignorable was cased
    for (std::size_t index = 0; index < text.size(); ++index) {
        const char32_t character = text[index];
        if (character == capitalSigma) {
            bool finalSigma = afterCased;
            if (finalSigma) {
                const std::size_t following = nextNotIgnorable[index + 1];
                finalSigma = following == text.size() || !UnicodeTables::isCased(text[following]);
            }
            out.push_back(finalSigma ? 0x03C2 : 0x03C3);
        } else {
            UnicodeTables::appendLowercase(character, out);
        }
        if (!UnicodeTables::isCaseIgnorable(character))
            afterCased = UnicodeTables::isCased(character);
    }
    return out;
}

std::u32string cleanCodePoints(const std::string& text)
{
    std::u32string decoded;
    decoded.reserve(text.size());
    decodeUtf8(text, decoded);
    return pythonLowercase(collapseWhitespace(htmlUnescape(htmlUnescape(decoded))));
}

// ---- pre-tokenisation (tokenizer.md section 5) ----

namespace {

// The pattern is matched with IGNORECASE; after lowercasing, the only code point that still
// case-insensitively equals one of its ASCII letters is U+017F (long s) for "s".
bool matchesIgnoringCase(char32_t character, char asciiLower)
{
    return character == static_cast<char32_t>(asciiLower) || (asciiLower == 's' && character == 0x017F);
}

bool matchesLiteral(const std::u32string& text, std::size_t position, std::string_view literal)
{
    if (text.size() - position < literal.size())
        return false;
    for (std::size_t offset = 0; offset < literal.size(); ++offset) {
        if (!matchesIgnoringCase(text[position + offset], literal[offset]))
            return false;
    }
    return true;
}

bool isSkipped(char32_t character)
{
    return UnicodeTables::isWhitespace(character) || character == kDroppedCombiningYpogegrammeni;
}

bool isLetterInPattern(char32_t character)
{
    return character != kDroppedCombiningYpogegrammeni && UnicodeTables::isLetter(character);
}
} // namespace

// Length of the pattern match starting at position, or 0 where no alternative matches (the character
// is then skipped). The alternatives are tried in the reference's order; the first that matches wins.
std::size_t matchLength(const std::u32string& text, std::size_t position)
{
    static constexpr std::string_view literals[] = {"<|startoftext|>", "<|endoftext|>", "'s", "'t", "'re", "'ve", "'m", "'ll", "'d"};
    const char32_t first = text[position];
    if (first == U'<' || first == U'\'') {
        for (std::string_view literal : literals) {
            if (matchesLiteral(text, position, literal))
                return literal.size();
        }
    }
    if (isLetterInPattern(first)) {
        std::size_t end = position + 1;
        while (end < text.size() && isLetterInPattern(text[end]))
            ++end;
        return end - position;
    }
    if (UnicodeTables::isNumber(first))
        return 1;
    if (isSkipped(first))
        return 0;
    std::size_t end = position + 1;
    while (end < text.size() && !isSkipped(text[end]) && !UnicodeTables::isLetter(text[end]) && !UnicodeTables::isNumber(text[end]))
        ++end;
    return end - position;
}

} // namespace tunebench::cliptext
