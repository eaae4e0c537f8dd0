#include "core/tuning/classic/AdapterTuning.h"

#include "core/Error.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

namespace tunebench {

namespace {

// One bottleneck per block, named adapters.<layer>.{down,up}.
struct BottleneckImpl : torch::nn::Module
{
    BottleneckImpl(int width, int bottleneck, bool zeroDown)
    {
        down = register_module("down", torch::nn::Linear(width, bottleneck));
        up = register_module("up", torch::nn::Linear(bottleneck, width));
        torch::NoGradGuard noGrad;
        if (zeroDown) {
            down->weight.zero_();
            down->bias.zero_();
        }
        up->weight.zero_();
        up->bias.zero_();
    }
    torch::Tensor forward(const torch::Tensor& x) { return up(torch::gelu(down(x))); }

    torch::nn::Linear down{nullptr};
    torch::nn::Linear up{nullptr};
};
TORCH_MODULE(Bottleneck);

} // namespace

class AdapterTuning::Hooks : public TransformerHooks
{
public:
    torch::Tensor afterMlp(int layer, const torch::Tensor& mlpOutput, const torch::Tensor&, const torch::Tensor&) override
    {
        return mlpOutput + adapters->ptr<BottleneckImpl>(layer)->forward(mlpOutput);
    }
    std::optional<MlpBranch> mlpBranch(int layer) const override
    {
        const auto* b = adapters->ptr<BottleneckImpl>(layer).get();
        return MlpBranch{MlpBranch::Source::MlpOutput, MlpBranch::Nonlinearity::Gelu, b->down->weight, b->down->bias, b->up->weight, b->up->bias, 1.0};
    }
    torch::nn::ModuleList adapters{nullptr};
};

AdapterTuning::AdapterTuning() = default;
AdapterTuning::~AdapterTuning() = default;

ParamSchema AdapterTuning::schema()
{
    return {{"reduction", ParamField::Type::Int, 8, 1, 4096, {}, "reduction factor r: the bottleneck is width / r"},
            {"init", ParamField::Type::Choice, "zero", 0, 0, {"zero", "random-down"},
             "zero: both Linears start at zero (reference); random-down: only the up-projection does, so every adapter weight learns"}};
}

std::shared_ptr<torch::nn::Module> AdapterTuning::createMethodModule(const VisionSpec& vision)
{
    const int reduction = m_params.at("reduction").get<int>();
    if (vision.width % reduction != 0)
        throw Error("adapter: option 'reduction' (" + std::to_string(reduction) + ") must divide the model width " +
                    std::to_string(vision.width));
    const bool zeroDown = m_params.at("init").get<std::string>() == "zero";
    torch::nn::ModuleList adapters;
    for (int i = 0; i < vision.layers; ++i)
        adapters->push_back(Bottleneck(vision.width, vision.width / reduction, zeroDown));
    m_hooks = std::make_unique<Hooks>();
    m_hooks->adapters = adapters;
    return adapters.ptr();
}

TransformerHooks* AdapterTuning::hooks()
{
    return m_hooks.get();
}

TrainerConfig AdapterTuning::defaultTrainerConfig(int shots) const
{
    return sgdRecipe(0.05, 10);
}

StrategyInfo adapterStrategyInfo()
{
    return {"adapter", "Adapter", StrategyFamily::ClassicPetl,
            "Pfeiffer bottleneck adapters after every block's MLP (reduction factor r) and the head.",
            AdapterTuning::schema(), [] { return std::make_unique<AdapterTuning>(); }, vitOnlyCapabilities()};
}

} // namespace tunebench
