#include "core/tuning/classic/VisualPromptTuning.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <cmath>

namespace tunebench {

namespace {

// prompt.embeddings: [1, p, d] (shallow) or [layers, p, d] (deep: row i goes in before block i).
struct PromptBankImpl : torch::nn::Module
{
    PromptBankImpl(int sets, int tokens, int width, double bound, double dropoutRate)
    {
        embeddings = register_parameter("embeddings", torch::empty({sets, tokens, width}).uniform_(-bound, bound));
        dropout = register_module("dropout", torch::nn::Dropout(dropoutRate));
    }
    torch::Tensor embeddings;
    torch::nn::Dropout dropout{nullptr};
};
TORCH_MODULE(PromptBank);

} // namespace

class VisualPromptTuning::Hooks : public TransformerHooks
{
public:
    torch::Tensor beforeBlock(int layer, const torch::Tensor& tokens) override
    {
        const int64_t batch = tokens.size(0);
        const bool deep = bank->embeddings.size(0) > 1;
        if (layer > 0 && !deep)
            return tokens;
        auto prompt = bank->dropout(bank->embeddings[layer]).to(tokens.scalar_type()).unsqueeze(0).expand({batch, -1, -1});
        const int64_t p = prompt.size(1);
        auto cls = tokens.narrow(1, 0, 1);
        // Block 0 sees [CLS, patches]: insert. Later blocks see [CLS, prompt outputs, patches]: replace.
        auto patches = layer == 0 ? tokens.narrow(1, 1, tokens.size(1) - 1) : tokens.narrow(1, 1 + p, tokens.size(1) - 1 - p);
        return torch::cat({cls, prompt, patches}, 1);
    }
    bool actsInsideBlocks() const override { return false; }
    PromptBank bank{nullptr};
};

VisualPromptTuning::VisualPromptTuning(bool deep) : m_deep(deep) {}
VisualPromptTuning::~VisualPromptTuning() = default;

ParamSchema VisualPromptTuning::schema()
{
    return {{"prompt_tokens", ParamField::Type::Int, 5, 1, 1000, {}, "prompt tokens p per layer (paper grid 1, 5, 10, 50, 100, 200)"},
            {"prompt_dropout", ParamField::Type::Double, 0.0, 0.0, 1.0, {}, "dropout on the prompt embeddings while training"}};
}

double VisualPromptTuning::initBound(int patchSize, int width)
{
    return std::sqrt(6.0 / (3.0 * patchSize * patchSize + width));
}

std::shared_ptr<torch::nn::Module> VisualPromptTuning::createMethodModule(const VisionSpec& vision)
{
    PromptBank bank(m_deep ? vision.layers : 1, m_params.at("prompt_tokens").get<int>(), vision.width,
                    initBound(vision.patchSize, vision.width), m_params.at("prompt_dropout").get<double>());
    m_hooks = std::make_unique<Hooks>();
    m_hooks->bank = bank;
    return bank.ptr();
}

TransformerHooks* VisualPromptTuning::hooks()
{
    return m_hooks.get();
}

at::Tensor VisualPromptTuning::prompts() const
{
    return m_hooks ? m_hooks->bank->embeddings : at::Tensor();
}

TrainerConfig VisualPromptTuning::defaultTrainerConfig(int shots) const
{
    return sgdRecipe(0.05, 10);
}

StrategyInfo vptShallowStrategyInfo()
{
    return {"vpt-shallow", "VPT-Shallow", StrategyFamily::ClassicPetl,
            "p learnable prompt tokens after [CLS] at the input of the first block, and the head.",
            VisualPromptTuning::schema(), [] { return std::make_unique<VisualPromptTuning>(false); }, vitOnlyCapabilities()};
}

StrategyInfo vptDeepStrategyInfo()
{
    return {"vpt-deep", "VPT-Deep", StrategyFamily::ClassicPetl,
            "A fresh set of p prompt tokens before every block (replacing the previous prompt outputs), and the head.",
            VisualPromptTuning::schema(), [] { return std::make_unique<VisualPromptTuning>(true); }, vitOnlyCapabilities()};
}

} // namespace tunebench
