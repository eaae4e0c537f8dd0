#include "core/tuning/prompt/PromptLearner.h"

#include "core/Error.h"
#include "core/io/ClipTokenizer.h"

#include <torch/torch.h>

#include <algorithm>

namespace tunebench {

PromptLearner::PromptLearner(ClipModel model, std::shared_ptr<const ClipTokenizer> tokenizer,
                             const PromptLearnerOptions& options, const std::vector<std::string>& classNames)
    : m_model(std::move(model)), m_tokenizer(std::move(tokenizer)), m_options(options)
{
    if (m_options.classTokenPosition != "end" && m_options.classTokenPosition != "middle" && m_options.classTokenPosition != "front")
        throw Error("option 'class_token_position' must be end, middle or front, got '" + m_options.classTokenPosition + "'");
    const auto device = m_model->logit_scale.device();
    const int64_t width = m_model->text->spec().width;
    const auto classes = static_cast<int64_t>(classNames.size());
    torch::Tensor init;
    std::string phrase = m_options.initPhrase;
    std::replace(phrase.begin(), phrase.end(), '_', ' ');
    if (!phrase.empty()) {
        // The phrase's word embeddings are the starting context; M follows from the phrase.
        const auto ids = m_tokenizer->encode(phrase);
        if (ids.empty())
            throw Error("option 'ctx_init' ('" + m_options.initPhrase + "') has no tokens");
        m_options.contextLength = static_cast<int>(ids.size());
        if (m_options.phraseContextTokens > 0)
            m_options.contextLength = std::min(m_options.contextLength, m_options.phraseContextTokens);
        // The start and end tokens need their places too; a longer context cannot be embedded at all.
        const int modelContext = m_model->text->spec().contextLength;
        if (m_options.contextLength + 2 > modelContext)
            throw Error("option 'ctx_init' is too long: its " + std::to_string(m_options.contextLength) + " tokens do not fit the model's " +
                        std::to_string(modelContext) + "-token context (at most " + std::to_string(modelContext - 2) +
                        " with the start and end tokens)");
        torch::NoGradGuard noGrad;
        auto idTensor = torch::tensor(std::vector<int64_t>(ids.begin(), ids.begin() + m_options.contextLength), torch::kLong).to(device);
        init = m_model->text->embedTokens(idTensor.unsqueeze(0)).squeeze(0).clone();
        if (m_options.classSpecific)
            init = init.unsqueeze(0).repeat({classes, 1, 1});
        m_promptPrefix = phrase;
    } else {
        if (m_options.contextLength < 1)
            throw Error("option 'n_ctx' must be at least 1");
        init = m_options.classSpecific ? torch::empty({classes, m_options.contextLength, width}, torch::TensorOptions(device))
                                       : torch::empty({m_options.contextLength, width}, torch::TensorOptions(device));
        if (m_options.initFromVocabulary) {
            torch::NoGradGuard noGrad;
            const auto& table = m_model->text->token_embedding->weight;
            const int64_t population = std::min<int64_t>(5000, table.size(0));
            const int64_t perSet = m_options.contextLength;
            const int64_t sets = init.numel() / (perSet * width);
            TORCH_CHECK(perSet <= population, "n_ctx ", perSet, " exceeds the ", population, " embedding rows to draw from");
            for (int64_t set = 0; set < sets; ++set) {
                auto rows = torch::randperm(population, torch::kLong).narrow(0, 0, perSet).to(device);
                init.view({sets, perSet, width})[set].copy_(table.index_select(0, rows));
            }
        } else {
            torch::nn::init::normal_(init, 0.0, 0.02);
        }
        m_promptPrefix.clear();
        for (int i = 0; i < m_options.contextLength; ++i)
            m_promptPrefix += i ? " X" : "X";
    }
    m_context = init.detach().clone().set_requires_grad(true);
    m_classNames.clear();
    setClasses(classNames);
}

void PromptLearner::setClasses(const std::vector<std::string>& classNames)
{
    if (m_options.classSpecific && !m_classNames.empty() && classNames != m_classNames)
        throw Error("class-specific contexts (csc) were learned for " + std::to_string(m_classNames.size()) +
                    " given classes and cannot be applied to other or unseen classes; use a unified context (csc false)");
    const int contextTokens = m_model->text->spec().contextLength;
    const auto classes = static_cast<int64_t>(classNames.size());
    auto tokens = torch::empty({classes, contextTokens}, torch::kLong);
    m_nameLengths.clear();
    for (int64_t c = 0; c < classes; ++c) {
        const std::string& name = classNames[size_t(c)];
        m_nameLengths.push_back(static_cast<int64_t>(m_tokenizer->encode(name).size()));
        const auto ids = m_tokenizer->tokenizeToContext(m_promptPrefix + " " + name + m_options.classSuffix, contextTokens);
        std::copy(ids.begin(), ids.end(), tokens[c].data_ptr<int64_t>());
    }
    const auto device = m_model->logit_scale.device();
    tokens = tokens.to(device);
    torch::NoGradGuard noGrad;
    m_endPositions = m_model->text->endPositions(tokens);
    // Positions after the last end token never reach a pooled feature (causal mask): drop them.
    const int64_t used = std::max<int64_t>(m_endPositions.max().item<int64_t>() + 1, 1 + m_options.contextLength + 1);
    auto embedded = m_model->text->embedTokens(tokens.narrow(1, 0, used));
    m_prefix = embedded.narrow(1, 0, 1).clone();
    m_suffix = embedded.narrow(1, 1 + m_options.contextLength, used - 1 - m_options.contextLength).clone();
    m_classNames = classNames;
}

at::Tensor PromptLearner::assemble(const at::Tensor& contexts) const
{
    const int64_t n = contexts.size(0);
    const int64_t classes = m_prefix.size(0);
    auto prefix = m_prefix.unsqueeze(0).expand({n, -1, -1, -1});
    auto suffix = m_suffix.unsqueeze(0).expand({n, -1, -1, -1});
    if (m_options.classTokenPosition == "end")
        return torch::cat({prefix, contexts, suffix}, 2);
    // middle/front: the class-name tokens move; their count differs per class, hence the loop.
    const int64_t m = m_options.contextLength;
    const int64_t half = m / 2;
    std::vector<torch::Tensor> perClass;
    for (int64_t c = 0; c < classes; ++c) {
        const int64_t nameLength = m_nameLengths[size_t(c)];
        auto pre = prefix.select(1, c);
        auto ctx = contexts.select(1, c);
        auto name = suffix.select(1, c).narrow(1, 0, nameLength);
        auto rest = suffix.select(1, c).narrow(1, nameLength, suffix.size(2) - nameLength);
        if (m_options.classTokenPosition == "middle")
            perClass.push_back(torch::cat({pre, ctx.narrow(1, 0, half), name, ctx.narrow(1, half, m - half), rest}, 1));
        else
            perClass.push_back(torch::cat({pre, name, ctx, rest}, 1));
    }
    return torch::stack(perClass, 1);
}

at::Tensor PromptLearner::encodeAssembled(const at::Tensor& prompts)
{
    const int64_t n = prompts.size(0), classes = prompts.size(1);
    auto flat = prompts.reshape({n * classes, prompts.size(2), prompts.size(3)});
    auto ends = m_endPositions.unsqueeze(0).expand({n, classes}).reshape({n * classes});
    return m_model->text->encodeEmbeddings(flat, ends, m_hooks).reshape({n, classes, -1});
}

bool PromptLearner::canSharePrefix() const
{
    return m_options.sharePrefix && !m_options.classSpecific && m_options.classTokenPosition == "end";
}

at::Tensor PromptLearner::encodeShared(const at::Tensor& contexts)
{
    // Every class's prompt starts with the start token and the same context: [N, 1 + M, D].
    auto start = m_prefix.select(0, 0).unsqueeze(0).expand({contexts.size(0), 1, contexts.size(2)});
    return m_model->text->encodeSharedPrefix(torch::cat({start.to(contexts.scalar_type()), contexts}, 1), m_suffix, m_endPositions, m_hooks);
}

at::Tensor PromptLearner::encode()
{
    return encodeContext(m_context);
}

at::Tensor PromptLearner::encodeContext(const at::Tensor& context)
{
    TORCH_CHECK(context.sizes() == m_context.sizes(), "context of shape ", context.sizes(), " where ", m_context.sizes(), " was learned");
    if (canSharePrefix())
        return encodeShared(context.unsqueeze(0)).squeeze(0);
    const int64_t classes = m_prefix.size(0);
    auto ctx = m_options.classSpecific ? context : context.unsqueeze(0).expand({classes, -1, -1});
    return encodeAssembled(assemble(ctx.unsqueeze(0))).squeeze(0);
}

at::Tensor PromptLearner::encodeWithBias(const at::Tensor& bias)
{
    if (canSharePrefix())
        return encodeShared(bias.unsqueeze(1) + m_context.unsqueeze(0));
    const int64_t classes = m_prefix.size(0);
    auto ctx = m_options.classSpecific ? m_context : m_context.unsqueeze(0).expand({classes, -1, -1});
    // [B, 1, 1, D] + [1, C, M, D]: one shifted context per image, shared by its classes.
    auto shifted = bias.unsqueeze(1).unsqueeze(1) + ctx.unsqueeze(0);
    return encodeAssembled(assemble(shifted));
}

} // namespace tunebench
