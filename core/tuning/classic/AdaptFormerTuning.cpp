#include "core/tuning/classic/AdaptFormerTuning.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

namespace tunebench {

namespace {

// One parallel bottleneck per block, named adaptformer.<layer>.{down,up}.
struct ParallelAdapterImpl : torch::nn::Module
{
    ParallelAdapterImpl(int width, int bottleneck, double dropout)
        : dropout(dropout)
    {
        down = register_module("down", torch::nn::Linear(width, bottleneck));
        up = register_module("up", torch::nn::Linear(bottleneck, width));
        torch::NoGradGuard noGrad;
        down->bias.zero_();
        up->weight.zero_();
        up->bias.zero_();
    }
    torch::Tensor forward(const torch::Tensor& x)
    {
        return up(torch::dropout(torch::relu(down(x)), dropout, is_training()));
    }

    torch::nn::Linear down{nullptr};
    torch::nn::Linear up{nullptr};
    double dropout;
};
TORCH_MODULE(ParallelAdapter);

} // namespace

class AdaptFormerTuning::Hooks : public TransformerHooks
{
public:
    torch::Tensor afterMlp(int layer, const torch::Tensor& mlpOutput, const torch::Tensor&, const torch::Tensor& stream) override
    {
        return mlpOutput + scale * adapters->ptr<ParallelAdapterImpl>(layer)->forward(stream);
    }
    std::optional<MlpBranch> mlpBranch(int layer) const override
    {
        const auto* a = adapters->ptr<ParallelAdapterImpl>(layer).get();  // dropout is off outside training
        return MlpBranch{MlpBranch::Source::Stream, MlpBranch::Nonlinearity::Relu, a->down->weight, a->down->bias, a->up->weight, a->up->bias, scale};
    }
    torch::nn::ModuleList adapters{nullptr};
    double scale = 0.1;
};

AdaptFormerTuning::AdaptFormerTuning() = default;
AdaptFormerTuning::~AdaptFormerTuning() = default;

ParamSchema AdaptFormerTuning::schema()
{
    return {{"bottleneck", ParamField::Type::Int, 64, 1, 65536, {}, "width of the adapter's bottleneck"},
            {"scale", ParamField::Type::Double, 0.1, 0, 1e3, {}, "factor on the adapter's output"},
            {"dropout", ParamField::Type::Double, 0.1, 0, 0.95, {}, "dropout after the ReLU while training (the reference's)"}};
}

std::shared_ptr<torch::nn::Module> AdaptFormerTuning::createMethodModule(const VisionSpec& vision)
{
    const int bottleneck = m_params.at("bottleneck").get<int>();
    const double dropout = m_params.at("dropout").get<double>();
    torch::nn::ModuleList adapters;
    for (int i = 0; i < vision.layers; ++i)
        adapters->push_back(ParallelAdapter(vision.width, bottleneck, dropout));
    m_hooks = std::make_unique<Hooks>();
    m_hooks->adapters = adapters;
    m_hooks->scale = m_params.at("scale").get<double>();
    return adapters.ptr();
}

TransformerHooks* AdaptFormerTuning::hooks()
{
    return m_hooks.get();
}

TrainerConfig AdaptFormerTuning::defaultTrainerConfig(int shots) const
{
    return adamwRecipe(1e-3, 1e-4, 10);
}

StrategyInfo adaptFormerStrategyInfo()
{
    return {"adaptformer", "AdaptFormer", StrategyFamily::ClassicPetl,
            "A scaled bottleneck adapter beside every block's MLP (bottleneck 64, scale 0.1) and the head.",
            AdaptFormerTuning::schema(), [] { return std::make_unique<AdaptFormerTuning>(); }, vitOnlyCapabilities()};
}

} // namespace tunebench
