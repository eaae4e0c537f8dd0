#include "core/tuning/prompt/MultiModalPrompts.h"

#include "core/Error.h"
#include "core/io/StateDict.h"

#include <torch/torch.h>

namespace tunebench {

namespace {

// Replaces `count` rows of the hidden state at the input of layers 1..prompts.size(): rows [first, first
// + count) for the text tower, the last `count` rows for the image tower.
class ReplaceRows : public TransformerHooks
{
public:
    ReplaceRows(const std::vector<at::Tensor>& prompts, bool fromEnd) : m_prompts(prompts), m_fromEnd(fromEnd) {}

    torch::Tensor beforeBlock(int layer, const torch::Tensor& tokens) override
    {
        if (layer < 1 || layer > static_cast<int>(m_prompts.size()))
            return tokens;
        const auto& prompt = m_prompts[size_t(layer - 1)];
        const int64_t count = prompt.size(0), length = tokens.size(1);
        const int64_t first = m_fromEnd ? length - count : 1;
        auto rows = prompt.to(tokens.scalar_type()).unsqueeze(0).expand({tokens.size(0), count, tokens.size(2)});
        return torch::cat({tokens.narrow(1, 0, first), rows, tokens.narrow(1, first + count, length - first - count)}, 1);
    }
    bool actsInsideBlocks() const override { return false; }  // lives on the forward's stack

private:
    std::vector<at::Tensor> m_prompts;  // handles: the deployable description keeps them past the call
    bool m_fromEnd;
};

} // namespace

at::Tensor MultiModalPromptStrategy::normalParameter(std::vector<int64_t> shape, double std) const
{
    auto t = torch::empty(shape, torch::TensorOptions(device()));
    torch::nn::init::normal_(t, 0.0, std);
    return t.set_requires_grad(true);
}

void MultiModalPromptStrategy::onAttach()
{
    const ModelSpec& spec = m_model->spec();
    m_textDepth = std::max(1, std::min(depth(), spec.text->layers));
    m_visionDepth = std::max(1, std::min(depth(), spec.vision.layers));
    if (coupledDepths())
        m_textDepth = m_visionDepth = std::min(m_textDepth, m_visionDepth);
    PromptLearnerOptions options;
    options.initPhrase = m_params.at("ctx_init").get<std::string>();
    options.contextLength = textTokens();
    options.phraseContextTokens = textTokens();
    m_learner.emplace(m_model, m_setup.tokenizer, options, m_setup.classNames);
    if (m_learner->contextLength() != textTokens())
        throw Error("strategy '" + name() + "': ctx_init '" + options.initPhrase + "' has fewer than n_ctx = " + std::to_string(textTokens()) +
                    " tokens");
    m_textPrompts.clear();
    for (int layer = 1; layer < m_textDepth; ++layer)
        m_textPrompts.push_back(normalParameter({textTokens(), spec.text->width}, 0.02));
    createVisionParameters();
}

void MultiModalPromptStrategy::onClassesChanged()
{
    m_learner->setClasses(m_setup.classNames);
}

at::Tensor MultiModalPromptStrategy::textFeatures()
{
    ReplaceRows hooks(m_textPrompts, false);
    m_learner->setHooks(&hooks);
    auto features = m_learner->encode();
    m_learner->setHooks(nullptr);
    return features;
}

at::Tensor MultiModalPromptStrategy::promptedImageFeatures(const at::Tensor& images)
{
    auto& visual = m_model->visual;
    const std::vector<at::Tensor> prompts = visionPrompts();
    auto tokens = visual->embed(images.to(device()));  // [B, 1 + grid^2, width], after ln_pre
    // ln_pre is per token: normalising the appended prompts alone equals normalising the joined sequence.
    auto first = prompts.front().to(tokens.scalar_type());
    if (visual->spec().preNorm)
        first = visual->ln_pre(first);
    tokens = torch::cat({tokens, first.unsqueeze(0).expand({tokens.size(0), first.size(0), first.size(1)})}, 1);
    const std::vector<at::Tensor> deeper(prompts.begin() + 1, prompts.end());
    ReplaceRows hooks(deeper, true);
    return visual->pool(visual->transformer(tokens, false, &hooks));
}

DeployableModel MultiModalPromptStrategy::deployable()
{
    torch::NoGradGuard noGrad;
    auto prompts = visionPrompts();
    DeployableModel d;
    d.model = m_model;
    auto& visual = m_model->visual;
    d.appendedTokens = visual->spec().preNorm ? visual->ln_pre(prompts.front()) : prompts.front();
    std::vector<at::Tensor> deeper;
    for (size_t i = 1; i < prompts.size(); ++i)
        deeper.push_back(prompts[i].detach());
    d.hooks = std::make_shared<ReplaceRows>(deeper, true);
    d.scale = logitScale().item<double>();
    d.weight = classTextFeatures();
    return d;
}

at::Tensor MultiModalPromptStrategy::classLogits(const at::Tensor& images)
{
    auto text = l2Normalize(textFeatures());
    return logitScale() * torch::matmul(l2Normalize(promptedImageFeatures(images)), text.t());
}

at::Tensor MultiModalPromptStrategy::classTextFeatures()
{
    torch::NoGradGuard noGrad;
    return l2Normalize(textFeatures());
}

at::Tensor MultiModalPromptStrategy::contextVectors()
{
    return m_learner->context().detach();
}

std::vector<std::pair<std::string, at::Tensor>> MultiModalPromptStrategy::namedParameters()
{
    std::vector<std::pair<std::string, at::Tensor>> out = {{"ctx", m_learner->context()}};
    for (size_t i = 0; i < m_textPrompts.size(); ++i)
        out.emplace_back("text_prompts." + std::to_string(i + 1), m_textPrompts[i]);
    for (auto& item : visionParameters())
        out.push_back(std::move(item));
    return out;
}

std::vector<at::Tensor> MultiModalPromptStrategy::trainableParameters()
{
    std::vector<at::Tensor> out;
    for (auto& [key, tensor] : namedParameters())
        out.push_back(tensor);
    return out;
}

StateDict MultiModalPromptStrategy::trainableState()
{
    StateDict out;
    for (auto& [key, tensor] : namedParameters())
        out[key] = tensor.detach().to(torch::kCPU).contiguous().clone();
    return out;
}

void MultiModalPromptStrategy::loadTrainableState(const StateDict& state)
{
    torch::NoGradGuard noGrad;
    for (auto& [key, tensor] : namedParameters()) {
        auto it = state.find(key);
        if (it == state.end())
            throw Error(name() + " state has no '" + key + "' tensor");
        if (it->second.sizes() != tensor.sizes())
            throw Error(name() + " tensor '" + key + "': expected shape " + shapeString(tensor.sizes()) + ", found " +
                        shapeString(it->second.sizes()));
        tensor.copy_(it->second.to(tensor.device(), tensor.scalar_type()));
    }
}

nlohmann::json MultiModalPromptStrategy::exportManifest()
{
    auto manifest = ClipStrategy::exportManifest();
    manifest["n_ctx"] = m_learner->contextLength();
    manifest["prompt_prefix"] = m_learner->promptPrefix();
    manifest["text_depth"] = m_textDepth;
    manifest["vision_depth"] = m_visionDepth;
    nlohmann::json roles = nlohmann::json::object();
    roles["ctx"] = {{"role", "text context replacing the words after the start token"}, {"tower", "text"}, {"layer", 0}};
    for (auto& [key, tensor] : namedParameters()) {
        if (key == "ctx")
            continue;
        const std::string layer = key.substr(key.rfind('.') == std::string::npos ? key.size() : key.rfind('.') + 1);
        if (key.rfind("text_prompts.", 0) == 0)
            roles[key] = {{"role", "text prompt rows replacing the context rows at this layer's input"}, {"tower", "text"}, {"layer", std::stoi(layer)}};
        else if (key.rfind("couplers.", 0) == 0)
            roles[key] = {{"role", "linear map from this layer's text prompts to its vision prompts"}, {"tower", "image"},
                          {"layer", std::stoi(key.substr(9, key.find('.', 9) - 9))}};
        else if (key.rfind("vision_prompts.", 0) == 0)
            roles[key] = {{"role", std::stoi(layer) == 0 ? "vision prompt tokens appended after the patch tokens"
                                                         : "vision prompt rows replacing the last tokens at this layer's input"},
                          {"tower", "image"}, {"layer", std::stoi(layer)}};
    }
    roles["class_text_features"] = {{"role", "the final class text features (normalised)"}};
    manifest["tensor_roles"] = roles;
    return manifest;
}

TrainerConfig MultiModalPromptStrategy::defaultTrainerConfig(int shots) const
{
    // MaPLe's and IVLP's base-to-new recipe: SGD lr 0.0035, 5 epochs, batch 4 (Dassl's warm-up epoch).
    TrainerConfig config = ClipStrategy::defaultTrainerConfig(shots);
    config.lr = 0.0035;
    config.epochs = 5;
    return config;
}

} // namespace tunebench
