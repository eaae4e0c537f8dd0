#include "core/tuning/prompt/PTuningStrategy.h"

#include "core/Error.h"
#include "core/io/StateDict.h"

#include <torch/torch.h>

namespace tunebench {

StrategyInfo pTuningStrategyInfo()
{
    StrategyInfo info;
    info.name = "p-tuning";
    info.title = "P-Tuning";
    info.family = StrategyFamily::PromptLearning;
    info.description = "A prompt encoder (bi-LSTM + MLP) produces the continuous prompt before the class name "
                       "(Liu et al. 2021).";
    info.schema = {
        {"n_ctx", ParamField::Type::Int, 9, 1, 64, {}, "pseudo-tokens p (the LAMA template's 3 + 3 + 3)"},
    };
    info.capabilities.needsTextTower = true;
    info.capabilities.frozenImageTower = true;
    info.capabilities.learnsPromptContext = true;
    info.create = [] { return std::make_unique<PTuningStrategy>(); };
    return info;
}

PromptEncoderImpl::PromptEncoderImpl(int length, int width)
    : m_length(length)
{
    embedding = register_module("embedding", torch::nn::Embedding(length, width));
    lstm = register_module("lstm", torch::nn::LSTM(torch::nn::LSTMOptions(width, width / 2).num_layers(2).bidirectional(true).batch_first(true)));
    mlp_in = register_module("mlp_in", torch::nn::Linear(width, width));
    mlp_out = register_module("mlp_out", torch::nn::Linear(width, width));
}

at::Tensor PromptEncoderImpl::forward()
{
    auto ids = torch::arange(m_length, torch::TensorOptions(embedding->weight.device()).dtype(torch::kLong));
    auto sequence = std::get<0>(lstm->forward(embedding(ids).unsqueeze(0))).squeeze(0);  // [p, d]
    return mlp_out(torch::relu(mlp_in(sequence)));
}

PromptLearnerOptions PTuningStrategy::learnerOptions() const
{
    PromptLearnerOptions options;
    options.contextLength = m_params.at("n_ctx").get<int>();
    return options;
}

void PTuningStrategy::onAttach()
{
    CoopStrategy::onAttach();
    const int width = m_model->spec().text->width;
    if (width % 2 != 0)
        throw Error("p-tuning needs an even text width for its bidirectional LSTM, got " + std::to_string(width));
    m_encoder = PromptEncoder(learnerOptions().contextLength, width);
    m_encoder->to(device());
    // The learner's own context is only a placeholder until a context is imported.
    m_learner->context().set_requires_grad(false);
}

at::Tensor PTuningStrategy::context()
{
    return m_encoder ? m_encoder->forward() : m_learner->context();
}

std::vector<at::Tensor> PTuningStrategy::trainableParameters()
{
    return m_encoder ? m_encoder->parameters() : std::vector<at::Tensor>{m_learner->context()};
}

StateDict PTuningStrategy::trainableState()
{
    if (!m_encoder)
        return CoopStrategy::trainableState();
    StateDict out;
    for (const auto& item : m_encoder->named_parameters())
        out["encoder." + item.key()] = item.value().detach().to(torch::kCPU).clone();
    return out;
}

void PTuningStrategy::loadTrainableState(const StateDict& state)
{
    if (state.count("ctx")) {
        // An exported prompt: the encoder's outputs, fixed.
        m_encoder = nullptr;
        m_learner->context().set_requires_grad(true);
        CoopStrategy::loadTrainableState(state);
        return;
    }
    if (!m_encoder)
        throw Error("p-tuning state has no 'ctx' tensor");
    torch::NoGradGuard noGrad;
    for (auto& item : m_encoder->named_parameters()) {
        const std::string key = "encoder." + item.key();
        auto it = state.find(key);
        if (it == state.end())
            throw Error("p-tuning state has no '" + key + "' tensor");
        if (it->second.sizes() != item.value().sizes())
            throw Error("p-tuning tensor '" + key + "': expected shape " + shapeString(item.value().sizes()) + ", found " +
                        shapeString(it->second.sizes()));
        item.value().copy_(it->second.to(item.value().device(), item.value().scalar_type()));
    }
}

StateDict PTuningStrategy::exportTensors()
{
    torch::NoGradGuard noGrad;
    return {{"ctx", context().detach().to(torch::kCPU, torch::kFloat).contiguous().clone()},
            {"class_text_features", classTextFeatures().detach().to(torch::kCPU, torch::kFloat).contiguous()}};
}

at::Tensor PTuningStrategy::classLogits(const at::Tensor& images)
{
    auto text = l2Normalize(m_learner->encodeContext(context()));
    return logitScale() * torch::matmul(l2Normalize(imageFeatures(images)), text.t());
}

at::Tensor PTuningStrategy::classTextFeatures()
{
    torch::NoGradGuard noGrad;
    return l2Normalize(m_learner->encodeContext(context()));
}

at::Tensor PTuningStrategy::contextVectors()
{
    torch::NoGradGuard noGrad;
    return context().detach();
}

TrainerConfig PTuningStrategy::defaultTrainerConfig(int shots) const
{
    // P-Tuning's LAMA defaults: Adam lr 1e-5, weight decay 5e-4 (here AdamW's decoupled decay); epochs follow
    // CoOp's few-shot schedule.
    TrainerConfig config = ClipStrategy::defaultTrainerConfig(shots);
    config.optimizer = "adamw";
    config.lr = 1e-5;
    config.weightDecay = 5e-4;
    config.warmupEpochs = 0;
    return config;
}

} // namespace tunebench
