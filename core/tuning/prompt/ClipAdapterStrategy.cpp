#include "core/tuning/prompt/ClipAdapterStrategy.h"

#include "core/Error.h"

#include <torch/torch.h>

namespace tunebench {

StrategyInfo clipAdapterStrategyInfo()
{
    StrategyInfo info;
    info.name = "clip-adapter";
    info.title = "CLIP-Adapter";
    info.family = StrategyFamily::PromptLearning;
    info.description = "A residual bottleneck adapter on the image feature with hand-crafted prompts (Gao et al. 2021).";
    info.schema = {
        {"ratio", ParamField::Type::Double, 0.2, 0.0, 1.0, {}, "residual ratio: f' = ratio * adapter(f) + (1 - ratio) * f"},
        {"reduction", ParamField::Type::Int, 4, 1, 64, {}, "bottleneck reduction (hidden width = E / reduction)"},
    };
    info.capabilities.needsTextTower = true;
    info.capabilities.frozenImageTower = true;
    info.create = [] { return std::make_unique<ClipAdapterStrategy>(); };
    return info;
}

void ClipAdapterStrategy::onAttach()
{
    const int64_t embed = m_model->spec().embedDim();
    const int64_t hidden = std::max<int64_t>(1, embed / m_params.at("reduction").get<int>());
    m_down = torch::nn::Linear(torch::nn::LinearOptions(embed, hidden).bias(false));
    m_up = torch::nn::Linear(torch::nn::LinearOptions(hidden, embed).bias(false));
    m_down->to(device());
    m_up->to(device());
    onClassesChanged();
}

void ClipAdapterStrategy::onClassesChanged()
{
    m_textFeatures = handcraftedTextFeatures({m_setup.promptTemplate});
}

at::Tensor ClipAdapterStrategy::classLogits(const at::Tensor& images)
{
    auto f = imageFeatures(images);
    const double ratio = m_params.at("ratio").get<double>();
    auto adapted = torch::relu(m_up(torch::relu(m_down(f))));
    auto mixed = ratio * adapted + (1.0 - ratio) * f;
    return logitScale() * torch::matmul(l2Normalize(mixed), m_textFeatures.t());
}

DeployableModel ClipAdapterStrategy::deployable()
{
    DeployableModel d = ClipStrategy::deployable();
    d.featureAdapter = DeployableModel::FeatureAdapter{m_down->weight.detach(), m_up->weight.detach(), m_params.at("ratio").get<double>()};
    return d;
}

std::vector<at::Tensor> ClipAdapterStrategy::trainableParameters()
{
    return {m_down->weight, m_up->weight};
}

StateDict ClipAdapterStrategy::trainableState()
{
    return {{"adapter.down.weight", m_down->weight.detach().to(torch::kCPU).clone()},
            {"adapter.up.weight", m_up->weight.detach().to(torch::kCPU).clone()}};
}

void ClipAdapterStrategy::loadTrainableState(const StateDict& state)
{
    torch::NoGradGuard noGrad;
    for (auto [key, target] : {std::pair<std::string, torch::Tensor>{"adapter.down.weight", m_down->weight},
                               std::pair<std::string, torch::Tensor>{"adapter.up.weight", m_up->weight}}) {
        auto it = state.find(key);
        if (it == state.end() || it->second.sizes() != target.sizes())
            throw Error("adapter tensor '" + key + "': expected shape " + shapeString(target.sizes()) +
                        (it == state.end() ? ", missing" : ", found " + shapeString(it->second.sizes())));
        target.copy_(it->second.to(target.device(), target.scalar_type()));
    }
}

TrainerConfig ClipAdapterStrategy::defaultTrainerConfig(int shots) const
{
    // 200 epochs (Tip-Adapter Table 1); the optimiser settings were not released: CoOp's are used.
    TrainerConfig config = ClipStrategy::defaultTrainerConfig(shots);
    config.epochs = 200;
    return config;
}

} // namespace tunebench
