#include "core/tuning/prompt/CocoopStrategy.h"

#include "core/Error.h"

#include <torch/torch.h>

namespace tunebench {

namespace {
// Images per text-tower pass at evaluation: B x C prompts at once, bounded to keep memory flat.
constexpr int64_t kMaxPromptsPerPass = 2048;
}

StrategyInfo cocoopStrategyInfo()
{
    StrategyInfo info;
    info.name = "cocoop";
    info.title = "CoCoOp";
    info.family = StrategyFamily::PromptLearning;
    info.description = "Conditional CoOp: a Meta-Net adds an image-conditioned bias to every context vector (Zhou et al. 2022).";
    info.schema = {
        {"n_ctx", ParamField::Type::Int, 4, 1, 64, {}, "number of context vectors M (ignored when ctx_init is set)"},
        {"ctx_init", ParamField::Type::Text, "a photo of a", 0, 0, {}, "initial words (sets M); empty = random N(0, 0.02)"},
    };
    info.capabilities.needsTextTower = true;
    info.capabilities.frozenImageTower = true;
    info.capabilities.learnsPromptContext = true;
    info.capabilities.imageConditioned = true;
    info.create = [] { return std::make_unique<CocoopStrategy>(); };
    return info;
}

PromptLearnerOptions CocoopStrategy::learnerOptions() const
{
    PromptLearnerOptions options;
    options.contextLength = m_params.at("n_ctx").get<int>();
    options.initPhrase = m_params.at("ctx_init").get<std::string>();
    return options;
}

void CocoopStrategy::onAttach()
{
    CoopStrategy::onAttach();
    const int64_t embed = m_model->spec().embedDim();
    const int64_t width = m_model->text->spec().width;
    const int64_t hidden = std::max<int64_t>(1, embed / 16);
    m_linear1 = torch::nn::Linear(torch::nn::LinearOptions(embed, hidden));
    m_linear2 = torch::nn::Linear(torch::nn::LinearOptions(hidden, width));
    m_linear1->to(device());
    m_linear2->to(device());
}

at::Tensor CocoopStrategy::metaBias(const at::Tensor& normalisedImageFeatures)
{
    return m_linear2(torch::relu(m_linear1(normalisedImageFeatures)));
}

DeployableModel CocoopStrategy::deployable()
{
    throw Error("cocoop: its prompts depend on each image (the Meta-Net), so it is described with its text tower "
                "(conditionalText), not as a fixed head");
}

ConditionalTextModel CocoopStrategy::conditionalText()
{
    const PromptLearnerOptions& options = m_learner->options();
    if (options.classSpecific || options.classTokenPosition != "end")
        throw Error("cocoop: only a unified context before the class name (class_token_position end) is described for export");
    torch::NoGradGuard noGrad;
    ConditionalTextModel m;
    m.image.model = m_model;
    m.scale = logitScale().item<double>();
    m.linear1Weight = m_linear1->weight.detach().clone();
    m.linear1Bias = m_linear1->bias.detach().clone();
    m.linear2Weight = m_linear2->weight.detach().clone();
    m.linear2Bias = m_linear2->bias.detach().clone();
    m.context = m_learner->context().detach().clone();
    m.start = m_learner->startEmbeddings().select(0, 0).detach().clone();  // the same start token for every class
    m.suffixes = m_learner->suffixEmbeddings().detach().clone();
    const auto ends = m_learner->endPositions().to(torch::kCPU, torch::kLong).contiguous();
    m.endPositions.assign(ends.data_ptr<std::int64_t>(), ends.data_ptr<std::int64_t>() + ends.numel());
    return m;
}

at::Tensor CocoopStrategy::classLogits(const at::Tensor& images)
{
    auto features = l2Normalize(imageFeatures(images));  // [B, E]
    const int64_t classes = static_cast<int64_t>(m_setup.classNames.size());
    const int64_t chunk = std::max<int64_t>(1, kMaxPromptsPerPass / std::max<int64_t>(1, classes));
    std::vector<torch::Tensor> parts;
    for (int64_t start = 0; start < features.size(0); start += chunk) {
        auto f = features.narrow(0, start, std::min(chunk, features.size(0) - start));
        auto text = l2Normalize(m_learner->encodeWithBias(metaBias(f)));  // [b, C, E]
        parts.push_back(logitScale() * torch::einsum("be,bce->bc", {f, text}));
    }
    return parts.size() == 1 ? parts.front() : torch::cat(parts);
}

at::Tensor CocoopStrategy::logitsPerImageLoop(const at::Tensor& images)
{
    torch::NoGradGuard noGrad;
    auto features = l2Normalize(imageFeatures(images));
    std::vector<torch::Tensor> rows;
    for (int64_t i = 0; i < features.size(0); ++i) {
        auto f = features[i];
        auto text = l2Normalize(m_learner->encodeWithBias(metaBias(f.unsqueeze(0)))).squeeze(0);  // [C, E]
        rows.push_back(logitScale() * torch::matmul(text, f));
    }
    return torch::stack(rows);
}

std::vector<at::Tensor> CocoopStrategy::trainableParameters()
{
    std::vector<at::Tensor> params = {m_learner->context()};
    for (auto& p : m_linear1->parameters())
        params.push_back(p);
    for (auto& p : m_linear2->parameters())
        params.push_back(p);
    return params;
}

StateDict CocoopStrategy::trainableState()
{
    StateDict state = CoopStrategy::trainableState();
    state["meta_net.linear1.weight"] = m_linear1->weight.detach().to(torch::kCPU).clone();
    state["meta_net.linear1.bias"] = m_linear1->bias.detach().to(torch::kCPU).clone();
    state["meta_net.linear2.weight"] = m_linear2->weight.detach().to(torch::kCPU).clone();
    state["meta_net.linear2.bias"] = m_linear2->bias.detach().to(torch::kCPU).clone();
    return state;
}

void CocoopStrategy::loadTrainableState(const StateDict& state)
{
    CoopStrategy::loadTrainableState(state);
    const std::pair<const char*, torch::Tensor> targets[] = {{"meta_net.linear1.weight", m_linear1->weight},
                                                             {"meta_net.linear1.bias", m_linear1->bias},
                                                             {"meta_net.linear2.weight", m_linear2->weight},
                                                             {"meta_net.linear2.bias", m_linear2->bias}};
    torch::NoGradGuard noGrad;
    for (const auto& [key, target] : targets) {
        auto it = state.find(key);
        if (it == state.end())
            throw Error(std::string("prompt state has no '") + key + "' tensor");
        if (it->second.sizes() != target.sizes())
            throw Error(std::string("prompt tensor '") + key + "': expected shape " + shapeString(target.sizes()) + ", found " +
                        shapeString(it->second.sizes()));
        torch::Tensor(target).copy_(it->second.to(target.device(), target.scalar_type()));
    }
}

TrainerConfig CocoopStrategy::defaultTrainerConfig(int shots) const
{
    // vit_b16_c4_ep10_batch1_ctxv1: SGD 0.002, 10 epochs, batch 1.
    TrainerConfig config = ClipStrategy::defaultTrainerConfig(shots);
    config.epochs = 10;
    return config;
}

nlohmann::json CocoopStrategy::exportManifest()
{
    auto manifest = CoopStrategy::exportManifest();
    manifest["meta_net"] = {{"input", m_linear1->weight.size(1)}, {"hidden", m_linear1->weight.size(0)}, {"output", m_linear2->weight.size(0)}};
    manifest["class_text_features_note"] = "computed without the image-conditioned bias";
    return manifest;
}

} // namespace tunebench
