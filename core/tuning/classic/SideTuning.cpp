#include "core/tuning/classic/SideTuning.h"

#include "core/Error.h"

#include <torch/torch.h>

namespace tunebench {

namespace {

struct SideNetworkImpl : torch::nn::Module
{
    explicit SideNetworkImpl(int width)
    {
        using torch::nn::Conv2dOptions;
        features = register_module("features", torch::nn::Sequential(
                                                   torch::nn::Conv2d(Conv2dOptions(3, 32, 5).stride(2).padding(2)), torch::nn::ReLU(),
                                                   torch::nn::Conv2d(Conv2dOptions(32, 64, 3).stride(2).padding(1)), torch::nn::ReLU(),
                                                   torch::nn::Conv2d(Conv2dOptions(64, 128, 3).stride(2).padding(1)), torch::nn::ReLU(),
                                                   torch::nn::AdaptiveAvgPool2d(torch::nn::AdaptiveAvgPool2dOptions({4, 4}))));
        projection = register_module("projection", torch::nn::Linear(torch::nn::LinearOptions(128 * 4 * 4, width).bias(false)));
        alpha = register_parameter("alpha", torch::zeros({1}));
    }
    torch::Tensor forward(const torch::Tensor& images) { return projection(features->forward(images).flatten(1)); }

    torch::nn::Sequential features{nullptr};
    torch::nn::Linear projection{nullptr};
    torch::Tensor alpha;
};
TORCH_MODULE(SideNetwork);

} // namespace

SideTuning::SideTuning() = default;
SideTuning::~SideTuning() = default;

std::shared_ptr<torch::nn::Module> SideTuning::createMethodModule(const VisionSpec& vision)
{
    return SideNetwork(vision.width).ptr();
}

at::Tensor SideTuning::combineFeatures(const at::Tensor& images, const at::Tensor& pooled)
{
    auto* side = static_cast<SideNetworkImpl*>(methodModule().get());
    auto a = torch::sigmoid(side->alpha).to(pooled.scalar_type());
    return a * pooled + (1 - a) * side->forward(images.to(pooled.scalar_type()));
}

double SideTuning::blendWeight() const
{
    auto* side = static_cast<SideNetworkImpl*>(methodModule().get());
    return torch::sigmoid(side->alpha).item<double>();
}

TrainerConfig SideTuning::defaultTrainerConfig(int shots) const
{
    return sgdRecipe(0.05, 10);
}

StrategyInfo sidetuneStrategyInfo()
{
    return {"sidetune", "Side-tune", StrategyFamily::ClassicPetl,
            "A small conv side network (random init, not the reference's pretrained AlexNet) blended with the frozen feature.",
            {}, [] { return std::make_unique<SideTuning>(); }, vitOnlyCapabilities()};
}

DeployableModel SideTuning::deployable()
{
    throw Error("sidetune: the side network blended into the feature is not written to a graph yet");
}

} // namespace tunebench
