#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Generate core/io/UnicodeTables.cpp: the character tables the CLIP tokenizer needs.

The reference tokenizer (openai/CLIP simple_tokenizer.py) relies on Python's own Unicode behaviour:
str.isspace/str.strip for whitespace, str.lower for lowercasing (full mapping plus the Final_Sigma
rule), html.unescape for entities, and the `regex` module's \\p{L} / \\p{N} classes for the split
pattern. This script derives each table from the running Python (unicodedata, str methods, the html
module), checks that the compressed tables reproduce Python exactly for every code point, and writes
C++ source. Rerun it with a newer Python to move to a newer Unicode version.

Usage: scripts/gen-unicode-tables.py [OUTPUT]   (default: core/io/UnicodeTables.cpp beside this script)
"""

import html
import html.entities
import os
import platform
import sys
import unicodedata

MAX_CODE_POINT = 0x10FFFF
SIGMA = "\u03a3"
FINAL_SIGMA = "\u03c2"


def all_code_points():
    return range(MAX_CODE_POINT + 1)


def to_ranges(predicate):
    """Sorted, disjoint [first, last] ranges of the code points for which predicate holds."""
    ranges = []
    start = None
    for cp in all_code_points():
        if predicate(cp):
            if start is None:
                start = cp
        elif start is not None:
            ranges.append((start, cp - 1))
            start = None
    if start is not None:
        ranges.append((start, MAX_CODE_POINT))
    return ranges


def is_letter(cp):
    return unicodedata.category(chr(cp)).startswith("L")


def is_number(cp):
    return unicodedata.category(chr(cp)).startswith("N")


def is_whitespace(cp):
    return chr(cp).isspace()


# CPython's str.lower() turns U+03A3 into U+03C2 when it is preceded by a cased character (skipping
# case-ignorable ones) and not followed by one. unicodedata does not expose the Cased and
# Case_Ignorable properties, so probe str.lower() itself:
#   (c + SIGMA) ends in final sigma      <=> c is cased and not case-ignorable
#   ("A" + c + SIGMA) ends in final sigma <=> c is case-ignorable, or cased
def is_cased_not_ignorable(cp):
    return (chr(cp) + SIGMA).lower().endswith(FINAL_SIGMA)


def is_case_ignorable(cp):
    return ("A" + chr(cp) + SIGMA).lower().endswith(FINAL_SIGMA) and not is_cased_not_ignorable(cp)


def lowercase_tables():
    """Single-code-point mappings compressed into runs, plus the multi-code-point expansions."""
    singles = []
    expansions = []
    for cp in all_code_points():
        lowered = chr(cp).lower()   # U+03A3 alone gives U+03C3; the final form is the caller's job
        if lowered == chr(cp):
            continue
        if len(lowered) == 1:
            singles.append((cp, ord(lowered) - cp))
        else:
            expansions.append((cp, [ord(ch) for ch in lowered]))
    mapped = {cp for cp, _ in singles}

    # A run is first..last with a fixed stride (1, or 2 for the alternating upper/lower blocks) and a
    # fixed delta. A stride-2 run may only skip code points that have no mapping, so runs never overlap.
    runs = []
    index = 0
    while index < len(singles):
        first, delta = singles[index]
        last = first
        stride = 1
        next_index = index + 1
        if next_index < len(singles):
            candidate, candidate_delta = singles[next_index]
            if candidate_delta == delta and candidate - first == 2 and (first + 1) not in mapped:
                stride = 2
        while next_index < len(singles):
            candidate, candidate_delta = singles[next_index]
            if candidate_delta != delta or candidate - last != stride:
                break
            if stride == 2 and (last + 1) in mapped:
                break
            last = candidate
            next_index += 1
        runs.append((first, last, delta, stride))
        index = next_index
    return runs, expansions


def html_entities():
    """The HTML 4 named entities, the semicolon-less legacy forms HTML5 accepts, and &apos;.

    Values come from html.entities.html5, the table html.unescape uses."""
    html5 = html.entities.html5
    wanted = set()
    for name in html.entities.name2codepoint:
        wanted.add(name + ";")
    for name in html5:
        if not name.endswith(";"):
            wanted.add(name)
            wanted.add(name + ";")
    wanted.add("apos;")
    missing = [name for name in wanted if name not in html5]
    if missing:
        sys.exit("entities missing from html.entities.html5: %s" % missing)
    return sorted((name.encode("ascii"), html5[name]) for name in wanted)


# ---- verification: the compressed tables must reproduce Python for every code point ----

def in_ranges(ranges, cp):
    import bisect
    index = bisect.bisect_right(ranges, (cp, MAX_CODE_POINT + 1)) - 1
    return index >= 0 and ranges[index][0] <= cp <= ranges[index][1]


def verify(tables):
    runs, expansions = tables["lowercase"]
    run_starts = [run[0] for run in runs]
    expansion_map = dict(expansions)
    import bisect
    for cp in all_code_points():
        for key, predicate in PREDICATES.items():
            if in_ranges(tables[key], cp) != predicate(cp):
                sys.exit("table %s is wrong at U+%04X" % (key, cp))
        expected = [ord(ch) for ch in chr(cp).lower()]
        if cp in expansion_map:
            got = expansion_map[cp]
        else:
            got = [cp]
            index = bisect.bisect_right(run_starts, cp) - 1
            if index >= 0:
                first, last, delta, stride = runs[index]
                if cp <= last and (cp - first) % stride == 0:
                    got = [cp + delta]
        if got != expected:
            sys.exit("lowercase table is wrong at U+%04X" % cp)


PREDICATES = {
    "letter": is_letter,
    "number": is_number,
    "whitespace": is_whitespace,
    "case_ignorable": is_case_ignorable,
    "cased": is_cased_not_ignorable,
}


# ---- C++ output ----

def cpp_char32(cp):
    return "0x%04X" % cp


def cpp_u32_literal(text):
    return 'U"' + "".join("\\U%08X" % ord(ch) for ch in text) + '"'


def emit_ranges(name, ranges):
    lines = ["constexpr CodePointRange %s[] = {" % name]
    row = []
    for first, last in ranges:
        row.append("{%s, %s}," % (cpp_char32(first), cpp_char32(last)))
        if len(row) == 6:
            lines.append("    " + " ".join(row))
            row = []
    if row:
        lines.append("    " + " ".join(row))
    lines.append("};")
    return "\n".join(lines)


def generate(output_path):
    tables = {key: to_ranges(predicate) for key, predicate in PREDICATES.items()}
    tables["lowercase"] = lowercase_tables()
    verify(tables)
    runs, expansions = tables["lowercase"]
    entities = html_entities()
    charrefs = sorted(html._invalid_charrefs.items())
    discarded = to_ranges(lambda cp: cp in html._invalid_codepoints)

    out = []
    out.append("// SPDX-License-Identifier: GPL-3.0-or-later")
    out.append("// GENERATED by scripts/gen-unicode-tables.py -- do not edit; rerun the script instead.")
    out.append("// Source: Python %s, unicodedata (Unicode %s), str.isspace/str.lower, html.entities."
               % (platform.python_version(), unicodedata.unidata_version))
    out.append("")
    out.append('#include "core/io/UnicodeTables.h"')
    out.append("")
    out.append("#include <algorithm>")
    out.append("#include <cstdint>")
    out.append("#include <iterator>")
    out.append("")
    out.append("namespace tunebench {")
    out.append("")
    out.append("namespace {")
    out.append("")
    out.append("struct CodePointRange")
    out.append("{")
    out.append("    char32_t first;")
    out.append("    char32_t last;")
    out.append("};")
    out.append("")
    out.append("// Code points first, first + stride, ..., last map to code point + delta.")
    out.append("struct LowercaseRun")
    out.append("{")
    out.append("    char32_t first;")
    out.append("    char32_t last;")
    out.append("    std::int32_t delta;")
    out.append("    std::uint32_t stride;")
    out.append("};")
    out.append("")
    out.append("struct LowercaseExpansion")
    out.append("{")
    out.append("    char32_t codePoint;")
    out.append("    const char32_t* lowered;")
    out.append("};")
    out.append("")
    out.append("struct NamedEntity")
    out.append("{")
    out.append("    const char* name;")
    out.append("    const char32_t* value;")
    out.append("};")
    out.append("")
    out.append("struct NumericReferenceOverride")
    out.append("{")
    out.append("    std::uint32_t number;")
    out.append("    const char32_t* value;")
    out.append("};")
    out.append("")
    out.append("// General category L* (what the split pattern's \\p{L} matches).")
    out.append(emit_ranges("kLetterRanges", tables["letter"]))
    out.append("")
    out.append("// General category N* (\\p{N}).")
    out.append(emit_ranges("kNumberRanges", tables["number"]))
    out.append("")
    out.append("// Python str.isspace(): bidirectional class WS, B or S, or category Zs.")
    out.append(emit_ranges("kWhitespaceRanges", tables["whitespace"]))
    out.append("")
    out.append("// Case_Ignorable as CPython's str.lower() sees it (for the Final_Sigma rule).")
    out.append(emit_ranges("kCaseIgnorableRanges", tables["case_ignorable"]))
    out.append("")
    out.append("// Cased and not Case_Ignorable (for the Final_Sigma rule).")
    out.append(emit_ranges("kCasedRanges", tables["cased"]))
    out.append("")
    out.append("// Single-code-point lowercase mappings of str.lower() (U+03A3 -> U+03C3; final sigma needs context).")
    out.append("constexpr LowercaseRun kLowercaseRuns[] = {")
    for first, last, delta, stride in runs:
        out.append("    {%s, %s, %d, %d}," % (cpp_char32(first), cpp_char32(last), delta, stride))
    out.append("};")
    out.append("")
    out.append("// Lowercase mappings longer than one code point (SpecialCasing.txt, unconditional).")
    out.append("constexpr LowercaseExpansion kLowercaseExpansions[] = {")
    for cp, lowered in expansions:
        out.append("    {%s, %s}," % (cpp_char32(cp), cpp_u32_literal("".join(map(chr, lowered)))))
    out.append("};")
    out.append("")
    out.append("// Named character references, sorted by name (byte order) for binary search.")
    out.append("constexpr NamedEntity kNamedEntities[] = {")
    for name, value in entities:
        out.append('    {"%s", %s},' % (name.decode("ascii"), cpp_u32_literal(value)))
    out.append("};")
    out.append("")
    out.append("// Numeric references that html.unescape maps to something other than the code point.")
    out.append("constexpr NumericReferenceOverride kNumericReferenceOverrides[] = {")
    for number, value in charrefs:
        out.append("    {0x%02X, %s}," % (number, cpp_u32_literal(value)))
    out.append("};")
    out.append("")
    out.append("// Numeric references that html.unescape drops (control characters and noncharacters).")
    out.append(emit_ranges("kDiscardedNumericReferences", discarded))
    out.append("")
    out.append(CPP_FUNCTIONS.strip("\n"))
    out.append("")
    out.append("} // namespace tunebench")
    text = "\n".join(out) + "\n"
    with open(output_path, "w", encoding="ascii", newline="\n") as handle:
        handle.write(text)
    print("wrote %s (Unicode %s, %d letter ranges, %d lowercase runs, %d entities)"
          % (output_path, unicodedata.unidata_version, len(tables["letter"]), len(runs), len(entities)))


CPP_FUNCTIONS = r'''
template <std::size_t N>
bool inRanges(const CodePointRange (&ranges)[N], char32_t codePoint)
{
    // First range whose end is not below the code point; the code point is inside iff it starts at or before it.
    const auto* found = std::lower_bound(std::begin(ranges), std::end(ranges), codePoint,
                                         [](const CodePointRange& range, char32_t value) { return range.last < value; });
    return found != std::end(ranges) && found->first <= codePoint;
}

} // namespace

const char* UnicodeTables::unicodeVersion()
{
    return "@UNICODE_VERSION@";
}

bool UnicodeTables::isLetter(char32_t codePoint)
{
    if (codePoint < 0x80)
        return (codePoint | 0x20) >= U'a' && (codePoint | 0x20) <= U'z';
    return inRanges(kLetterRanges, codePoint);
}

bool UnicodeTables::isNumber(char32_t codePoint)
{
    if (codePoint < 0x80)
        return codePoint >= U'0' && codePoint <= U'9';
    return inRanges(kNumberRanges, codePoint);
}

bool UnicodeTables::isWhitespace(char32_t codePoint)
{
    return inRanges(kWhitespaceRanges, codePoint);
}

bool UnicodeTables::isCaseIgnorable(char32_t codePoint)
{
    return inRanges(kCaseIgnorableRanges, codePoint);
}

bool UnicodeTables::isCased(char32_t codePoint)
{
    return inRanges(kCasedRanges, codePoint);
}

void UnicodeTables::appendLowercase(char32_t codePoint, std::u32string& out)
{
    if (codePoint < 0x80) {
        out.push_back(codePoint >= U'A' && codePoint <= U'Z' ? codePoint + 0x20 : codePoint);
        return;
    }
    for (const LowercaseExpansion& expansion : kLowercaseExpansions) {
        if (expansion.codePoint == codePoint) {
            out += expansion.lowered;
            return;
        }
    }
    // Last run starting at or before the code point.
    const auto* next = std::upper_bound(std::begin(kLowercaseRuns), std::end(kLowercaseRuns), codePoint,
                                        [](char32_t value, const LowercaseRun& run) { return value < run.first; });
    if (next != std::begin(kLowercaseRuns)) {
        const LowercaseRun& run = *std::prev(next);
        if (codePoint <= run.last && (codePoint - run.first) % run.stride == 0) {
            out.push_back(static_cast<char32_t>(static_cast<std::int32_t>(codePoint) + run.delta));
            return;
        }
    }
    out.push_back(codePoint);
}

const char32_t* UnicodeTables::findNamedEntity(std::string_view name)
{
    const auto* found = std::lower_bound(std::begin(kNamedEntities), std::end(kNamedEntities), name,
                                         [](const NamedEntity& entity, std::string_view value) { return std::string_view(entity.name) < value; });
    if (found != std::end(kNamedEntities) && std::string_view(found->name) == name)
        return found->value;
    return nullptr;
}

const char32_t* UnicodeTables::numericReferenceOverride(std::uint32_t number)
{
    for (const NumericReferenceOverride& entry : kNumericReferenceOverrides) {
        if (entry.number == number)
            return entry.value;
    }
    return nullptr;
}

bool UnicodeTables::isDiscardedNumericReference(std::uint32_t number)
{
    return number <= 0x10FFFF && inRanges(kDiscardedNumericReferences, static_cast<char32_t>(number));
}
'''.replace("@UNICODE_VERSION@", unicodedata.unidata_version)


if __name__ == "__main__":
    default_output = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "core", "io",
                                  "UnicodeTables.cpp")
    generate(os.path.normpath(sys.argv[1] if len(sys.argv) > 1 else default_output))
