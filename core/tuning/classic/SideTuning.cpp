#include "core/tuning/classic/SideTuning.h"

#include "core/Error.h"

#include <torch/torch.h>
#include <torch/version.h>

#include <variant>

namespace tunebench {

namespace {

// An option's alternative of type T, or null: the options are a c10::variant in LibTorch 1.x, a std::variant
// from 2.0 on.
template <typename T, typename Variant>
const T* alternative(const Variant& options)
{
#if TORCH_VERSION_MAJOR >= 2
    return std::get_if<T>(&options);
#else
    return c10::get_if<T>(&options);
#endif
}

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
    DeployableModel d = ClassicPetlStrategy::deployable();
    auto* side = static_cast<SideNetworkImpl*>(methodModule().get());
    DeployableModel::SideNetwork network;
    // features: (Conv2d, ReLU) x n, then AdaptiveAvgPool2d, read off the modules.
    const auto modules = side->features->children();
    bool pooled = false;
    for (size_t i = 0; i < modules.size(); ++i) {
        const bool reluNext = i + 1 < modules.size() && modules[i + 1]->as<torch::nn::ReLU>();
        if (const auto* conv = modules[i]->as<torch::nn::Conv2d>()) {
            const auto& o = conv->options;
            const auto* padding = alternative<torch::ExpandingArray<2>>(o.padding());  // not kValid or kSame
            const bool plain = padding && (**padding)[0] == (**padding)[1] && (*o.kernel_size())[0] == (*o.kernel_size())[1] &&
                               (*o.stride())[0] == (*o.stride())[1] && (*o.dilation())[0] == 1 && (*o.dilation())[1] == 1 &&
                               o.groups() == 1 && alternative<torch::enumtype::kZeros>(o.padding_mode());
            if (!plain || !reluNext || pooled)
                throw Error(name() + ": its side network's convolution " + std::to_string(network.convolutions.size() + 1) +
                            " is not a square, ungrouped, zero-padded convolution followed by a ReLU");
            network.convolutions.push_back({conv->weight.detach(), conv->bias.detach(), (*o.stride())[0], (**padding)[0]});
        } else if (const auto* pool = modules[i]->as<torch::nn::AdaptiveAvgPool2d>()) {
            const auto& size = *pool->options.output_size();
            if (i + 1 != modules.size() || !size[0] || !size[1] || *size[0] != *size[1])
                throw Error(name() + ": its side network does not end in a square adaptive average pool");
            network.pooledSize = *size[0];
            pooled = true;
        } else if (!modules[i]->as<torch::nn::ReLU>()) {
            throw Error(name() + ": its side network holds a " + modules[i]->name() + ", which the graph description does not know");
        }
    }
    if (!pooled)
        throw Error(name() + ": its side network does not end in a square adaptive average pool");
    network.projection = side->projection->weight.detach();
    network.blend = blendWeight();
    d.sideNetwork = std::move(network);
    return d;
}

} // namespace tunebench
