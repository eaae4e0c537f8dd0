#include "core/tuning/prompt/TipAdapterStrategy.h"

#include "core/Error.h"

#include <torch/torch.h>

namespace tunebench {

namespace {

ParamSchema tipSchema()
{
    // Defaults: the released configs' ImageNet row (init beta 1, alpha 1.17, search scales 7 and 3).
    return {
        {"alpha", ParamField::Type::Double, 1.17, 0.0, 1000.0, {}, "weight of the cache logits (initial value before the search)"},
        {"beta", ParamField::Type::Double, 1.0, 0.0, 1000.0, {}, "sharpness of the cache affinities (initial value before the search)"},
        {"search", ParamField::Type::Bool, true, 0, 0, {}, "grid-search alpha and beta on the val split"},
        {"search_scale_beta", ParamField::Type::Double, 7.0, 0.1, 1000.0, {}, "grid: beta_i = 0.1 + i (S - 0.1) / 200"},
        {"search_scale_alpha", ParamField::Type::Double, 3.0, 0.1, 1000.0, {}, "grid: alpha_j = 0.1 + j (S - 0.1) / 20"},
        {"augment_passes", ParamField::Type::Int, 10, 1, 100, {}, "augmented passes averaged into the cache keys (fewer on CPU)"},
    };
}

} // namespace

StrategyInfo tipAdapterStrategyInfo()
{
    StrategyInfo info;
    info.name = "tip-adapter";
    info.title = "Tip-Adapter";
    info.family = StrategyFamily::PromptLearning;
    info.description = "Training-free cache of the few-shot image features beside zero-shot CLIP (Zhang et al. 2022).";
    info.schema = tipSchema();
    info.capabilities.needsTextTower = true;
    info.capabilities.frozenImageTower = true;
    info.capabilities.validationTuned = true;
    info.create = [] { return std::make_unique<TipAdapterStrategy>(false); };
    return info;
}

StrategyInfo tipAdapterFStrategyInfo()
{
    StrategyInfo info = tipAdapterStrategyInfo();
    info.name = "tip-adapter-f";
    info.title = "Tip-Adapter-F";
    info.description = "Tip-Adapter with trainable cache keys (AdamW, 20 epochs, batch 256).";
    info.create = [] { return std::make_unique<TipAdapterStrategy>(true); };
    return info;
}

void TipAdapterStrategy::onAttach()
{
    m_alpha = m_params.at("alpha").get<double>();
    m_beta = m_params.at("beta").get<double>();
    m_textFeatures = handcraftedTextFeatures({m_setup.promptTemplate});
}

void TipAdapterStrategy::onClassesChanged()
{
    m_textFeatures = handcraftedTextFeatures({m_setup.promptTemplate});
}

void TipAdapterStrategy::setCache(const at::Tensor& keys, const at::Tensor& values)
{
    m_keys = keys.detach().to(device(), torch::kFloat).clone();
    m_values = values.detach().to(device(), torch::kFloat).clone();
    if (m_fineTune)
        m_keys.set_requires_grad(true);
    m_cacheClasses = m_setup.classNames;
}

void TipAdapterStrategy::prepare(BatchSource& train)
{
    const int passes = m_params.at("augment_passes").get<int>();
    const int64_t count = train.sampleCount();
    const int64_t classes = static_cast<int64_t>(m_setup.classNames.size());
    torch::Tensor sums, labels = torch::full({count}, -1, torch::kLong);
    torch::NoGradGuard noGrad;
    for (int pass = 0; pass < passes; ++pass) {
        train.startEpoch(pass);
        while (auto batch = train.next()) {
            auto features = imageFeatures(batch->inputs).to(torch::kCPU, torch::kFloat);
            if (!sums.defined())
                sums = torch::zeros({count, features.size(1)});
            auto index = torch::tensor(batch->indices, torch::kLong);
            sums.index_add_(0, index, features);
            labels.index_put_({index}, batch->labels.to(torch::kCPU, torch::kLong));
        }
    }
    if (!sums.defined() || (labels < 0).any().item<bool>())
        throw Error("tip-adapter: the training split gave no or incomplete batches for the cache");
    // Raw features averaged over the passes, then normalised (as the reference builds its keys).
    setCache(l2Normalize(sums / static_cast<double>(passes)), torch::one_hot(labels, classes).to(torch::kFloat));
}

at::Tensor TipAdapterStrategy::logitsFromFeatures(const at::Tensor& features, double alpha, double beta)
{
    auto clipLogits = 100.0 * torch::matmul(features, m_textFeatures.t());
    if (!m_keys.defined() || m_setup.classNames != m_cacheClasses)
        return clipLogits;
    auto affinity = torch::matmul(features, m_keys.t());
    auto cacheLogits = torch::matmul(torch::exp(-beta * (1.0 - affinity)), m_values);
    return clipLogits + alpha * cacheLogits;
}

DeployableModel TipAdapterStrategy::deployable()
{
    DeployableModel d = ClipStrategy::deployable();
    d.scale = 100.0;  // the reference's fixed factor, as logitsFromFeatures
    if (m_keys.defined() && m_setup.classNames == m_cacheClasses)
        d.cache = DeployableModel::Cache{m_keys.detach(), m_values.detach(), m_alpha, m_beta};
    return d;
}

at::Tensor TipAdapterStrategy::classLogits(const at::Tensor& images)
{
    return logitsFromFeatures(l2Normalize(imageFeatures(images)), m_alpha, m_beta);
}

void TipAdapterStrategy::tuneOnValidation(BatchSource& val)
{
    if (!m_params.at("search").get<bool>() || !m_keys.defined())
        return;
    torch::NoGradGuard noGrad;
    std::vector<torch::Tensor> featureParts, labelParts;
    val.startEpoch(0);
    while (auto batch = val.next()) {
        featureParts.push_back(l2Normalize(imageFeatures(batch->inputs)));
        labelParts.push_back(batch->labels.to(device(), torch::kLong));
    }
    if (featureParts.empty())
        return;
    auto features = torch::cat(featureParts), labels = torch::cat(labelParts);
    const double scaleBeta = m_params.at("search_scale_beta").get<double>();
    const double scaleAlpha = m_params.at("search_scale_alpha").get<double>();
    double best = -1;
    for (int i = 0; i < 200; ++i) {
        const double beta = 0.1 + i * (scaleBeta - 0.1) / 200.0;
        for (int j = 0; j < 20; ++j) {
            const double alpha = 0.1 + j * (scaleAlpha - 0.1) / 20.0;
            const double accuracy = (logitsFromFeatures(features, alpha, beta).argmax(1) == labels).to(torch::kDouble).mean().item<double>();
            if (accuracy > best) {
                best = accuracy;
                m_alpha = alpha;
                m_beta = beta;
            }
        }
    }
}

std::vector<at::Tensor> TipAdapterStrategy::trainableParameters()
{
    if (!m_fineTune || !m_keys.defined())
        return {};
    return {m_keys};
}

StateDict TipAdapterStrategy::trainableState()
{
    if (!m_keys.defined())
        return {};
    return {{"cache_keys", m_keys.detach().to(torch::kCPU).clone()},
            {"cache_values", m_values.to(torch::kCPU).clone()},
            {"alpha_beta", torch::tensor({m_alpha, m_beta}, torch::kDouble)}};
}

void TipAdapterStrategy::loadTrainableState(const StateDict& state)
{
    auto keys = state.find("cache_keys"), values = state.find("cache_values");
    if (keys == state.end() || values == state.end())
        throw Error("tip-adapter state needs 'cache_keys' and 'cache_values'");
    if (values->second.size(1) != static_cast<int64_t>(m_setup.classNames.size()))
        throw Error("tip-adapter tensor 'cache_values': " + shapeString(values->second.sizes()) + " does not match " +
                    std::to_string(m_setup.classNames.size()) + " classes");
    setCache(keys->second, values->second);
    auto ab = state.find("alpha_beta");
    if (ab != state.end() && ab->second.numel() == 2) {
        auto v = ab->second.to(torch::kDouble).contiguous();
        m_alpha = v[0].item<double>();
        m_beta = v[1].item<double>();
    }
}

TrainerConfig TipAdapterStrategy::defaultTrainerConfig(int shots) const
{
    // Tip-Adapter-F: AdamW lr 0.001, eps 1e-4 (torch's default weight decay 0.01), cosine over all steps.
    TrainerConfig config;
    config.optimizer = "adamw";
    config.lr = 0.001;
    config.adamEps = 1e-4;
    config.weightDecay = 0.01;
    config.warmupEpochs = 0;
    config.cosinePerStep = true;
    config.epochs = 20;
    return config;
}

nlohmann::json TipAdapterStrategy::exportManifest()
{
    auto manifest = ClipStrategy::exportManifest();
    manifest["alpha"] = m_alpha;
    manifest["beta"] = m_beta;
    manifest["cache_size"] = m_keys.defined() ? m_keys.size(0) : 0;
    return manifest;
}

} // namespace tunebench
