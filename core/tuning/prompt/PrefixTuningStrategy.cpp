#include "core/tuning/prompt/PrefixTuningStrategy.h"

#include "core/Error.h"
#include "core/io/StateDict.h"
#include "core/tuning/prompt/PromptTemplates.h"

#include <torch/torch.h>

namespace tunebench {

namespace {

// The text tower's key/value prefixes of one forward pass.
class PrefixHooks : public TransformerHooks
{
public:
    explicit PrefixHooks(const at::Tensor& prefixes) : m_prefixes(prefixes) {}
    KeyValuePrefix keyValuePrefix(int layer) override { return {m_prefixes[layer][0], m_prefixes[layer][1]}; }
    bool actsInsideBlocks() const override { return false; }  // lives on textFeatures()'s stack

private:
    at::Tensor m_prefixes;  // [layers, 2, p, width]
};

// nn.Linear's default initialisation: U(-1/sqrt(in), 1/sqrt(in)) for weight and bias.
at::Tensor linearInit(std::vector<int64_t> shape, int64_t fanIn, c10::Device device)
{
    const double bound = 1.0 / std::sqrt(static_cast<double>(fanIn));
    return torch::empty(shape, torch::TensorOptions(device)).uniform_(-bound, bound);
}

at::Tensor trainable(const at::Tensor& t)
{
    return t.detach().clone().set_requires_grad(true);
}

} // namespace

StrategyInfo prefixTuningStrategyInfo()
{
    StrategyInfo info;
    info.name = "prefix-tuning";
    info.title = "Prefix-Tuning";
    info.family = StrategyFamily::PromptLearning;
    info.description = "Key/value prefixes in every text layer, trained through an MLP and exported as plain prefixes "
                       "(Li & Liang 2021), in front of the hand-crafted prompt.";
    info.schema = {
        {"prefix_length", ParamField::Type::Int, 10, 1, 64, {}, "prefix tokens p per layer (preseqlen)"},
        {"mid_dim", ParamField::Type::Int, 512, 1, 4096, {}, "hidden width of the reparameterising MLP"},
    };
    info.capabilities.needsTextTower = true;
    info.capabilities.frozenImageTower = true;
    info.create = [] { return std::make_unique<PrefixTuningStrategy>(true); };
    return info;
}

StrategyInfo pTuningV2StrategyInfo()
{
    StrategyInfo info;
    info.name = "p-tuning-v2";
    info.title = "P-Tuning v2";
    info.family = StrategyFamily::PromptLearning;
    info.description = "Deep prompts: trained key/value prefixes in every text layer (Liu et al. 2022), in front of the "
                       "hand-crafted prompt.";
    info.schema = {
        {"prefix_length", ParamField::Type::Int, 4, 1, 64, {}, "prefix tokens p per layer (pre_seq_len)"},
        {"dropout", ParamField::Type::Double, 0.1, 0.0, 0.9, {}, "dropout on the prefixes while training"},
    };
    info.capabilities.needsTextTower = true;
    info.capabilities.frozenImageTower = true;
    info.create = [] { return std::make_unique<PrefixTuningStrategy>(false); };
    return info;
}

void PrefixTuningStrategy::onAttach()
{
    m_length = m_params.at("prefix_length").get<int>();
    const auto& text = m_model->text->spec();
    const int64_t layers = text.layers, width = text.width;
    torch::NoGradGuard noGrad;
    if (m_reparameterize) {
        const int64_t mid = m_params.at("mid_dim").get<int>();
        // nn.Embedding's N(0, 1) and nn.Linear's defaults, as the reference's modules start.
        m_embedding = trainable(torch::randn({m_length, width}, torch::TensorOptions(device())));
        m_inWeight = trainable(linearInit({mid, width}, width, device()));
        m_inBias = trainable(linearInit({mid}, width, device()));
        m_outWeight = trainable(linearInit({layers * 2 * width, mid}, mid, device()));
        m_outBias = trainable(linearInit({layers * 2 * width}, mid, device()));
        m_plain = at::Tensor();
    } else {
        // P-Tuning v2's PrefixEncoder without projection is an nn.Embedding(p, L*2*d): N(0, 1).
        m_plain = trainable(torch::randn({m_length, layers, 2, width}, torch::TensorOptions(device())).permute({1, 2, 0, 3}).contiguous());
    }
    onClassesChanged();
}

void PrefixTuningStrategy::onClassesChanged()
{
    m_tokens = classPromptTokens(m_setup.promptTemplate);
}

at::Tensor PrefixTuningStrategy::prefixes()
{
    if (m_plain.defined())
        return m_plain;
    const auto& text = m_model->text->spec();
    auto hidden = torch::tanh(torch::linear(m_embedding, m_inWeight, m_inBias));
    auto flat = torch::linear(hidden, m_outWeight, m_outBias);  // [p, L * 2 * d]
    return flat.view({m_length, text.layers, 2, text.width}).permute({1, 2, 0, 3});
}

at::Tensor PrefixTuningStrategy::textFeatures()
{
    auto current = prefixes();
    if (!m_reparameterize && m_training)
        current = torch::dropout(current, m_params.at("dropout").get<double>(), true);
    PrefixHooks hooks(current);
    return m_model->text->encodeTokensSharingPrefix(m_tokens, &hooks);
}

at::Tensor PrefixTuningStrategy::classLogits(const at::Tensor& images)
{
    auto text = l2Normalize(textFeatures());
    return logitScale() * torch::matmul(l2Normalize(imageFeatures(images)), text.t());
}

at::Tensor PrefixTuningStrategy::classTextFeatures()
{
    torch::NoGradGuard noGrad;
    return l2Normalize(textFeatures());
}

std::vector<at::Tensor> PrefixTuningStrategy::trainableParameters()
{
    if (m_plain.defined())
        return {m_plain};
    return {m_embedding, m_inWeight, m_inBias, m_outWeight, m_outBias};
}

StateDict PrefixTuningStrategy::trainableState()
{
    auto cpu = [](const at::Tensor& t) { return t.detach().to(torch::kCPU).contiguous().clone(); };
    if (m_plain.defined())
        return {{"prefix_keys", cpu(m_plain.select(1, 0))}, {"prefix_values", cpu(m_plain.select(1, 1))}};
    return {{"prefix_embedding", cpu(m_embedding)}, {"mlp_in.weight", cpu(m_inWeight)}, {"mlp_in.bias", cpu(m_inBias)},
            {"mlp_out.weight", cpu(m_outWeight)}, {"mlp_out.bias", cpu(m_outBias)}};
}

void PrefixTuningStrategy::loadTrainableState(const StateDict& state)
{
    auto take = [&](const char* key, const at::Tensor& like) {
        auto it = state.find(key);
        if (it == state.end())
            throw Error(name() + " state has no '" + key + "' tensor");
        if (it->second.sizes() != like.sizes())
            throw Error(name() + " tensor '" + key + "': expected shape " + shapeString(like.sizes()) + ", found " +
                        shapeString(it->second.sizes()));
        return it->second.to(like.device(), like.scalar_type());
    };
    torch::NoGradGuard noGrad;
    if (state.count("prefix_keys")) {
        const auto& text = m_model->text->spec();
        const auto like = torch::empty({text.layers, m_length, text.width}, torch::TensorOptions(device()));
        m_plain = trainable(torch::stack({take("prefix_keys", like), take("prefix_values", like)}, 1));
        m_embedding = m_inWeight = m_inBias = m_outWeight = m_outBias = at::Tensor();
        return;
    }
    if (!m_reparameterize || !m_embedding.defined())
        throw Error(name() + " state has no 'prefix_keys' tensor");
    m_embedding.copy_(take("prefix_embedding", m_embedding));
    m_inWeight.copy_(take("mlp_in.weight", m_inWeight));
    m_inBias.copy_(take("mlp_in.bias", m_inBias));
    m_outWeight.copy_(take("mlp_out.weight", m_outWeight));
    m_outBias.copy_(take("mlp_out.bias", m_outBias));
}

StateDict PrefixTuningStrategy::exportTensors()
{
    torch::NoGradGuard noGrad;
    auto current = prefixes().detach().to(torch::kCPU, torch::kFloat);
    return {{"prefix_keys", current.select(1, 0).contiguous().clone()},
            {"prefix_values", current.select(1, 1).contiguous().clone()},
            {"class_text_features", classTextFeatures().detach().to(torch::kCPU, torch::kFloat).contiguous()}};
}

nlohmann::json PrefixTuningStrategy::exportManifest()
{
    auto manifest = ClipStrategy::exportManifest();
    const int layers = m_model->text->spec().layers;
    manifest["prefix_length"] = m_length;
    manifest["tensor_roles"] = {
        {"prefix_keys", {{"role", "keys added in front of the attention of each text layer"}, {"layers", {0, layers - 1}},
                         {"shape", "[layer, prefix token, width]"}}},
        {"prefix_values", {{"role", "values added in front of the attention of each text layer"}, {"layers", {0, layers - 1}},
                           {"shape", "[layer, prefix token, width]"}}},
        {"class_text_features", {{"role", "the final class text features (normalised)"}, {"shape", "[class, embedding]"}}}};
    return manifest;
}

TrainerConfig PrefixTuningStrategy::defaultTrainerConfig(int shots) const
{
    TrainerConfig config = ClipStrategy::defaultTrainerConfig(shots);
    config.optimizer = "adamw";
    config.weightDecay = 0.0;
    config.warmupEpochs = 0;
    if (m_reparameterize) {
        // Prefix-Tuning's train_e2e defaults: AdamW lr 5e-5, no weight decay, 5 epochs.
        config.lr = 5e-5;
        config.epochs = 5;
    } else {
        // P-Tuning v2's run scripts (BERT-large RTE): lr 1e-2; epochs follow CoOp's few-shot schedule here.
        config.lr = 1e-2;
    }
    return config;
}

} // namespace tunebench
