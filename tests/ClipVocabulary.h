// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The vocabularies the tests tokenize with. Most tests only need *a* vocabulary and use the demo model's,
// which every checkout has, so that they behave the same on every machine. The few checks that need OpenAI's
// own ids start with REQUIRE_CLIP_VOCABULARY(): skipped where that vocabulary is nowhere, failed under CI=true.
// Header-only, so that tst_tokenizer needs no LibTorch fixtures for it.

#include "core/io/VocabularyLocator.h"

#include <cstdlib>
#include <filesystem>
#include <string>

namespace tunebench::test {

// The source root: tests run there (cmake/TunebenchHelpers.cmake), which TUNEBENCH_SOURCE_DIR names too.
inline std::string sourceRoot()
{
    const char* root = std::getenv("TUNEBENCH_SOURCE_DIR");
    return root && *root ? std::string(root) : std::string(".");
}

// OpenAI's CLIP vocabulary (bpe_simple_vocab_16e6, 49,408 tokens), where the program would find it
// ($TUNEBENCH_CLIP_VOCAB, the clip and open_clip Python packages, the Hugging Face cache), else in
// $TUNEBENCH_SHARED_DIR/data or ../shared/data: a .gz file, a vocab.json beside its merges.txt, or a folder
// holding either (what ClipTokenizer::load() takes); "" when it is nowhere. Looked up on every call, not
// once: some tests hide the machine's places while they run.
inline std::string clipVocabularyPath()
{
    const std::string found = searchVocabulary("", "").found;
    if (!found.empty())
        return found;
    const char* configured = std::getenv("TUNEBENCH_SHARED_DIR");
    const std::string shared = configured && *configured ? std::string(configured) : sourceRoot() + "/../shared";
    const std::string sharedFile = shared + "/data/bpe_simple_vocab_16e6.txt.gz";
    std::error_code error;
    return std::filesystem::is_regular_file(sharedFile, error) ? sharedFile : std::string();
}

// The demo model's own vocabulary, resources/demo-model/vocab.json (+ merges.txt beside it): 803 tokens whose
// end-of-text token has the largest id, as in OpenAI's; it fits any model with at least 803 token rows.
inline std::string demoVocabularyPath()
{
    return sourceRoot() + "/resources/demo-model/vocab.json";
}

// True under CI=true (or 1), where the checks that need OpenAI's vocabulary must run: its absence fails them.
inline bool clipVocabularyRequired()
{
    const char* value = std::getenv("CI");
    const std::string ci = value ? value : "";
    return ci == "true" || ci == "TRUE" || ci == "True" || ci == "1";
}

// What a check that needs OpenAI's vocabulary says when it cannot run.
inline constexpr const char* kClipVocabularyMissing =
    "needs OpenAI's CLIP vocabulary bpe_simple_vocab_16e6.txt.gz: set TUNEBENCH_CLIP_VOCAB=FILE (or put shared/ beside the repository)";

} // namespace tunebench::test

// First line of a Qt Test function (not of a _data function: QFAIL there aborts) that needs OpenAI's
// vocabulary.
#define REQUIRE_CLIP_VOCABULARY()                                                                                                  \
    do {                                                                                                                           \
        if (tunebench::test::clipVocabularyPath().empty()) {                                                                       \
            if (tunebench::test::clipVocabularyRequired())                                                                         \
                QFAIL(tunebench::test::kClipVocabularyMissing);                                                                    \
            QSKIP(tunebench::test::kClipVocabularyMissing);                                                                        \
        }                                                                                                                          \
    } while (false)
