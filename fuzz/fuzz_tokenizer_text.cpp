// Text through the tokenizer: cleaning (HTML entities, whitespace, Unicode lower-casing), the split
// pattern, byte-level BPE, packing into a context and decoding, on any bytes (invalid UTF-8 included).
// The vocabulary is a small one trained here at start-up with the same byte-level scheme as CLIP's.
#include "core/io/BpeTrainer.h"
#include "core/io/ClipTokenizer.h"
#include "fuzz/FuzzSupport.h"

using namespace tunebench;

namespace {

const ClipTokenizer& tokenizer()
{
    static const ClipTokenizer instance = [] {
        const std::vector<std::string> corpus = {
            "a photo of a dog.", "a photo of a cat, a type of pet.", "itap of a large tabby cat", "Ünïcödé façade naïve café",
            "ΣΊΣΥΦΟΣ ὀδυσσεύς", "日本語のテキスト", "emoji 😀👍🏽 and &amp; entities &lt;b&gt;", "numbers 12345 and 3.14"};
        const std::string folder = (fuzz::scratchFolder() / "vocab").string();
        writeHuggingFaceVocabulary(trainBpe(corpus, 200, 1), folder);
        return ClipTokenizer::load(folder);
    }();
    return instance;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string text(reinterpret_cast<const char*>(data), size);
    const ClipTokenizer& t = tokenizer();
    fuzz::expectOnlyErrors([&] {
        const std::vector<int> ids = t.encode(text);
        for (int id : ids)
            if (id < 0 || id >= t.vocabSize())
                __builtin_trap();
        const std::vector<std::int64_t> packed = t.tokenizeToContext(text, 77, /*truncate=*/true);
        if (packed.size() != 77 || packed.front() != t.startId())
            __builtin_trap();
        (void)t.decode(ids);
        (void)t.cleanText(text);
    });
    return 0;
}
