// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

// The text side of ClipTokenizer, internal to core/io: UTF-8 with Python's replacement rule, the text
// cleaning that mirrors the reference's Python (html.unescape, " ".join(text.split()), str.lower() with
// final sigma; tokenizer.md section 4) and the reference's pre-tokenisation pattern (section 5).
// ClipTokenizer.cpp keeps the vocabulary loading and the BPE. The tables come from UnicodeTables.
namespace tunebench::cliptext {

// ---- UTF-8 ----

void appendUtf8(char32_t codePoint, std::string& out);
std::string toUtf8(std::u32string_view text);
// Appends the decoded code points to `out`; every maximal invalid subsequence becomes one U+FFFD (Python's
// bytes.decode("utf-8", errors="replace")). Returns whether the input was valid.
bool decodeUtf8(std::string_view bytes, std::u32string& out);
// Decodes and re-encodes, so that invalid sequences become U+FFFD.
std::string repairUtf8(std::string_view bytes);

// ---- text cleaning ----

// Python's html.unescape (numeric and named references, the legacy semicolon-less names included).
std::u32string htmlUnescape(const std::u32string& text);
// Python's " ".join(text.split()).
std::u32string collapseWhitespace(const std::u32string& text);
// Python's str.lower(), final sigma included.
std::u32string pythonLowercase(const std::u32string& text);
// The whole cleaning of ClipTokenizer::cleanText(): decode, html.unescape twice, collapse whitespace,
// lowercase.
std::u32string cleanCodePoints(const std::string& text);

// ---- pre-tokenisation ----

// Length of the split pattern's match at `position` of cleaned text, 0 where the character is skipped.
std::size_t matchLength(const std::u32string& text, std::size_t position);

} // namespace tunebench::cliptext
