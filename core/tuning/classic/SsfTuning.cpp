#include "core/tuning/classic/SsfTuning.h"

#include "core/Error.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

namespace tunebench {

namespace {

// The name of each wrapped operation's pair in a block ("<layer>.qkv_scale", ...), and its channels.
const char* operationName(BlockLayer which)
{
    switch (which) {
    case BlockLayer::Norm1: return "norm1";
    case BlockLayer::QkvProjection: return "qkv";
    case BlockLayer::OutProjection: return "proj";
    case BlockLayer::Norm2: return "norm2";
    case BlockLayer::MlpIn: return "fc1";
    case BlockLayer::MlpOut: return "fc2";
    }
    throw Error("unknown block layer");
}

constexpr BlockLayer kOperations[] = {BlockLayer::Norm1, BlockLayer::QkvProjection, BlockLayer::OutProjection,
                                      BlockLayer::Norm2, BlockLayer::MlpIn, BlockLayer::MlpOut};

struct ScaleShift
{
    torch::Tensor scale, shift;
    torch::Tensor apply(const torch::Tensor& x) const { return x * scale.to(x.scalar_type()) + shift.to(x.scalar_type()); }
};

} // namespace

class SsfTuning::Hooks : public TransformerHooks
{
public:
    bool adaptsLayers() const override { return true; }
    torch::Tensor linear(int layer, BlockLayer which, const torch::Tensor& input, const torch::Tensor& weight,
                         const torch::Tensor& bias) override
    {
        return pair(layer, which).apply(torch::linear(input, weight, bias));
    }
    torch::Tensor afterNorm(int layer, BlockLayer which, const torch::Tensor& output) override
    {
        return pair(layer, which).apply(output);
    }
    const ScaleShift& pair(int layer, BlockLayer which) const { return blocks.at(layer).at(static_cast<int>(which)); }

    std::vector<std::map<int, ScaleShift>> blocks;  // per layer, by BlockLayer
    ScaleShift final;                               // after ln_post
};

SsfTuning::SsfTuning() = default;
SsfTuning::~SsfTuning() = default;

std::shared_ptr<torch::nn::Module> SsfTuning::createMethodModule(const VisionSpec& vision)
{
    auto root = std::make_shared<torch::nn::Module>();
    m_hooks = std::make_unique<Hooks>();
    auto pairOf = [](torch::nn::Module& owner, const std::string& prefix, int64_t channels) {
        return ScaleShift{owner.register_parameter(prefix + "scale", torch::ones({channels})),
                          owner.register_parameter(prefix + "shift", torch::zeros({channels}))};
    };
    for (int layer = 0; layer < vision.layers; ++layer) {
        auto block = root->register_module(std::to_string(layer), std::make_shared<torch::nn::Module>());
        std::map<int, ScaleShift> pairs;
        for (BlockLayer which : kOperations) {
            const int64_t channels = which == BlockLayer::QkvProjection ? 3 * vision.width
                                     : which == BlockLayer::MlpIn       ? vision.mlpWidth
                                                                        : vision.width;
            pairs[static_cast<int>(which)] = pairOf(*block, std::string(operationName(which)) + "_", channels);
        }
        m_hooks->blocks.push_back(std::move(pairs));
    }
    auto final = root->register_module("final", std::make_shared<torch::nn::Module>());
    m_hooks->final = pairOf(*final, "", vision.width);
    return root;
}

TransformerHooks* SsfTuning::hooks()
{
    return m_hooks.get();
}

at::Tensor SsfTuning::combineFeatures(const at::Tensor&, const at::Tensor& pooled)
{
    return m_hooks->final.apply(pooled);
}

DeployableModel SsfTuning::deployable()
{
    DeployableModel d = ClassicPetlStrategy::deployable();
    d.model = copyModel(model());
    auto parameters = d.model->named_parameters(true);
    torch::NoGradGuard noGrad;
    for (const auto& [name, tensor] : mergedBackbone())
        parameters[name].copy_(tensor);
    d.hooks = nullptr;
    return d;
}

StateDict SsfTuning::mergedBackbone() const
{
    StateDict merged;
    torch::NoGradGuard noGrad;
    // gamma * (W x + b) + beta = (gamma W) x + (gamma b + beta); a LayerNorm's affine part likewise.
    auto fold = [&](const std::string& weightName, const std::string& biasName, const torch::Tensor& weight,
                    const torch::Tensor& bias, const ScaleShift& pair) {
        const auto scale = pair.scale.to(weight.scalar_type());
        merged[weightName] = (weight.dim() == 2 ? weight * scale.unsqueeze(1) : weight * scale).clone();
        merged[biasName] = (bias * scale + pair.shift.to(bias.scalar_type())).clone();
    };
    const auto& visual = model()->visual;
    for (int layer = 0; layer < visual->transformer->layers(); ++layer) {
        const auto block = visual->transformer->block(layer);
        const std::string prefix = "visual.transformer.resblocks." + std::to_string(layer) + ".";
        fold(prefix + "ln_1.weight", prefix + "ln_1.bias", block->ln_1->weight, block->ln_1->bias, m_hooks->pair(layer, BlockLayer::Norm1));
        fold(prefix + "attn.in_proj_weight", prefix + "attn.in_proj_bias", block->attn->in_proj_weight, block->attn->in_proj_bias,
             m_hooks->pair(layer, BlockLayer::QkvProjection));
        fold(prefix + "attn.out_proj.weight", prefix + "attn.out_proj.bias", block->attn->out_proj->weight, block->attn->out_proj->bias,
             m_hooks->pair(layer, BlockLayer::OutProjection));
        fold(prefix + "ln_2.weight", prefix + "ln_2.bias", block->ln_2->weight, block->ln_2->bias, m_hooks->pair(layer, BlockLayer::Norm2));
        fold(prefix + "mlp.c_fc.weight", prefix + "mlp.c_fc.bias", block->mlp->c_fc->weight, block->mlp->c_fc->bias,
             m_hooks->pair(layer, BlockLayer::MlpIn));
        fold(prefix + "mlp.c_proj.weight", prefix + "mlp.c_proj.bias", block->mlp->c_proj->weight, block->mlp->c_proj->bias,
             m_hooks->pair(layer, BlockLayer::MlpOut));
    }
    fold("visual.ln_post.weight", "visual.ln_post.bias", visual->ln_post->weight, visual->ln_post->bias, m_hooks->final);
    return merged;
}

TrainerConfig SsfTuning::defaultTrainerConfig(int shots) const
{
    return adamwRecipe(1e-3, 1e-4, 10);
}

StrategyInfo ssfStrategyInfo()
{
    return {"ssf", "SSF", StrategyFamily::ClassicPetl,
            "A learned per-channel scale and shift after every operation of every block and the final norm (foldable into the weights), and the head.",
            {}, [] { return std::make_unique<SsfTuning>(); }, vitOnlyCapabilities()};
}

} // namespace tunebench
