#pragma once

#include "core/model/ClipModel.h"

#include <memory>
#include <string>
#include <vector>

namespace tunebench {

class ClipTokenizer;

struct PromptLearnerOptions
{
    int contextLength = 16;              // M; replaced by the phrase's token count when initPhrase is set
    std::string initPhrase;              // e.g. "a photo of a"; empty = random N(0, 0.02)
    // Prompt Tuning's initialisation: vectors drawn without replacement from the first 5,000 rows of the
    // token embedding table (instead of N(0, 0.02)); ignored when initPhrase is set.
    bool initFromVocabulary = false;
    // > 0: only the init phrase's first `phraseContextTokens` tokens become the context; the rest of the
    // phrase stays as frozen words (MaPLe's and IVLP's "a photo of a" with n_ctx 2: [SOT][ctx][ctx] of a ...).
    int phraseContextTokens = 0;
    std::string classTokenPosition = "end";  // end | middle | front
    // The frozen words after the class name (DAPL's " , a {domain} image.." holds the domain's name).
    std::string classSuffix = ".";
    bool classSpecific = false;          // CSC: one context per class
    // Run the start token and a unified context once per context instead of once per class (exact; see
    // TextTransformerImpl::encodeSharedPrefix). Off only to check the shortcut against the plain path.
    bool sharePrefix = true;
};

// CoOp's prompt learner: M learned context vectors take the place of the words of "X X ... X {class}.".
// The start token (prefix) and the class/"."/end part (suffix) are frozen embeddings rebuilt whenever
// the classes change, which is what allows base-to-new evaluation.
class PromptLearner
{
public:
    PromptLearner(ClipModel model, std::shared_ptr<const ClipTokenizer> tokenizer, const PromptLearnerOptions& options,
                  const std::vector<std::string>& classNames);

    // Rebuilds the frozen parts for other classes. Error for class-specific contexts and other names.
    void setClasses(const std::vector<std::string>& classNames);
    // Text features [C, E] (unnormalised) of the prompts with the learned context.
    at::Tensor encode();
    // The same with another unified context [M, D] in its place (a context produced by an encoder).
    at::Tensor encodeContext(const at::Tensor& context);
    // Text features [B, C, E] with bias[b] [D] added to every context vector (CoCoOp), one tower pass.
    at::Tensor encodeWithBias(const at::Tensor& bias);
    // Hooks of the text tower for every encode (deep prompts, key/value prefixes); null for none. Deep
    // prompts may only replace rows of the start token and the context (the shared prefix).
    void setHooks(TransformerHooks* hooks) { m_hooks = hooks; }

    at::Tensor& context() { return m_context; }  // [M, D] or [C, M, D], requires grad
    int contextLength() const { return m_options.contextLength; }
    bool classSpecific() const { return m_options.classSpecific; }
    // The words the placeholders stand for in the tokenized prompt ("X X X X" or the init phrase).
    const std::string& promptPrefix() const { return m_promptPrefix; }
    const std::vector<std::string>& classNames() const { return m_classNames; }
    // The frozen parts of each class's prompt, for exporters that assemble the prompts themselves: the start
    // token's embedding [C, 1, D], what follows the context up to the last end-of-text token [C, S, D], and
    // each prompt's end-of-text position [C]. classTokenPosition "end" puts them around the context in that order.
    const at::Tensor& startEmbeddings() const { return m_prefix; }
    const at::Tensor& suffixEmbeddings() const { return m_suffix; }
    const at::Tensor& endPositions() const { return m_endPositions; }
    const PromptLearnerOptions& options() const { return m_options; }

private:
    // Embedded prompts [N, C, L, D] for contexts [N, C, M, D].
    at::Tensor assemble(const at::Tensor& contexts) const;
    at::Tensor encodeAssembled(const at::Tensor& prompts);
    bool canSharePrefix() const;
    // Features [N, C, E] for unified contexts [N, M, D] through the shared-prefix path.
    at::Tensor encodeShared(const at::Tensor& contexts);

    ClipModel m_model;
    std::shared_ptr<const ClipTokenizer> m_tokenizer;
    PromptLearnerOptions m_options;
    std::string m_promptPrefix;
    std::vector<std::string> m_classNames;
    at::Tensor m_context;
    at::Tensor m_prefix;        // [C, 1, D]
    at::Tensor m_suffix;        // [C, L - 1 - M, D]
    at::Tensor m_endPositions;  // [C]
    std::vector<int64_t> m_nameLengths;
    TransformerHooks* m_hooks = nullptr;
};

} // namespace tunebench
