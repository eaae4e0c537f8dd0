// Vocabulary files: OpenAI's merges text (what bpe_simple_vocab_16e6.txt.gz holds, here uncompressed) or,
// when the input starts with '{', a Hugging Face vocab.json and merges.txt separated by a NUL byte. A
// vocabulary that loads must then tokenize and decode.
#include "core/io/ClipTokenizer.h"
#include "fuzz/FuzzSupport.h"

#include <algorithm>

using namespace tunebench;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    fuzz::expectOnlyErrors([&] {
        ClipTokenizer tokenizer = [&] {
            if (size > 0 && data[0] == '{') {
                const std::uint8_t* separator = std::find(data, data + size, std::uint8_t(0));
                const std::string vocab = fuzz::writeInput("hf/vocab.json", data, static_cast<std::size_t>(separator - data));
                const std::uint8_t* merges = separator == data + size ? separator : separator + 1;
                const std::string mergesPath = fuzz::writeInput("hf/merges.txt", merges, static_cast<std::size_t>(data + size - merges));
                return ClipTokenizer::fromHuggingFace(vocab, mergesPath);
            }
            return ClipTokenizer::fromOpenAiVocab(fuzz::writeInput("vocab.txt", data, size));
        }();
        const std::vector<int> ids = tokenizer.encode("A photo of a dog, née Ünïcode ✓ 123.");
        for (int id : ids)
            if (id < 0 || id >= tokenizer.vocabSize())
                __builtin_trap();
        tokenizer.tokenizeToContext("a photo of a cat.", 16, true);
        (void)tokenizer.decode(ids);
    });
    return 0;
}
