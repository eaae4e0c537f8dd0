#include "core/tuning/continual/L2pStrategy.h"

#include "core/Error.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <limits>

namespace tunebench {

namespace {

// The reference's l2_normalize: x / sqrt(max(sum x^2, 1e-12)).
at::Tensor l2Normalized(const at::Tensor& x)
{
    return x * torch::rsqrt(x.square().sum(-1, true).clamp_min(1e-12));
}

} // namespace

// prompts [M, L, D] and, when the pool has more prompts than are chosen, keys [M, D]; both start
// uniform in [0, 0.01) (flax's uniform(), the reference's initialiser).
class L2pStrategy::Pool : public torch::nn::Module
{
public:
    Pool(int size, int length, int width, bool withKeys)
    {
        prompts = register_parameter("prompts", torch::empty({size, length, width}).uniform_(0.0, 0.01));
        if (withKeys)
            keys = register_parameter("keys", torch::empty({size, width}).uniform_(0.0, 0.01));
    }
    at::Tensor prompts, keys;
};

// Block 0 sees [CLS, patches]; the chosen prompts go in after [CLS].
class L2pStrategy::Hooks : public TransformerHooks
{
public:
    torch::Tensor beforeBlock(int layer, const torch::Tensor& tokens) override
    {
        if (layer != 0 || !selected.defined())
            return tokens;
        auto rows = selected.to(tokens.scalar_type());
        if (rows.size(0) == 1)
            rows = rows.expand({tokens.size(0), -1, -1});
        return torch::cat({tokens.narrow(1, 0, 1), rows, tokens.narrow(1, 1, tokens.size(1) - 1)}, 1);
    }
    bool actsInsideBlocks() const override { return false; }
    at::Tensor selected;  // [B, N x L, D] for the batch being run, or [1, N x L, D] for every image
};

L2pStrategy::L2pStrategy(bool pool) : m_pool(pool) {}
L2pStrategy::~L2pStrategy() = default;

bool L2pStrategy::scoresDependOnBatch() const
{
    return m_pool && m_params.value("batchwise", false);
}

ParamSchema L2pStrategy::schema(bool pool)
{
    if (!pool)
        return {{"length", ParamField::Type::Int, 25, 1, 1000, {}, "prompt tokens (L2P's N x L = 5 x 5)"},
                {"mask_other_tasks", ParamField::Type::Bool, false, 0, 0, {}, "set the logits of other tasks' classes to -inf while training"}};
    return {{"pool_size", ParamField::Type::Int, 10, 1, 1000, {}, "prompts in the pool (M)"},
            {"length", ParamField::Type::Int, 5, 1, 1000, {}, "tokens per prompt (L)"},
            {"top_k", ParamField::Type::Int, 5, 1, 1000, {}, "prompts chosen per image (N)"},
            {"batchwise", ParamField::Type::Bool, true, 0, 0, {}, "one choice per batch: the N prompts chosen most often in it"},
            {"pull_coefficient", ParamField::Type::Double, 0.1, 0.0, 100.0, {}, "weight of the key-pull (surrogate) loss"},
            {"mask_other_tasks", ParamField::Type::Bool, true, 0, 0, {}, "set the logits of other tasks' classes to -inf while training"}};
}

void L2pStrategy::attach(ClipModel model, const TaskSetup& setup, const nlohmann::json& params)
{
    ClassicPetlStrategy::attach(model, setup, params);
    // A zero head: classes no task has trained yet score 0 (their rows get no gradient under the mask).
    torch::NoGradGuard noGrad;
    for (auto& p : head()->parameters())
        p.zero_();
    m_taskClasses.clear();
    m_counts.assign(static_cast<size_t>(m_params.value("pool_size", 1)), 0);
}

std::shared_ptr<torch::nn::Module> L2pStrategy::createMethodModule(const VisionSpec& vision)
{
    const int size = m_params.value("pool_size", 1), topK = m_params.value("top_k", 1);
    if (topK > size)
        throw Error(name() + ": option 'top_k' is " + std::to_string(topK) + " but the pool holds only " + std::to_string(size) + " prompts");
    m_poolModule = std::make_shared<Pool>(size, m_params.at("length").get<int>(), vision.width, /*withKeys=*/topK < size);
    m_hooks = std::make_unique<Hooks>();
    return m_poolModule;
}

TransformerHooks* L2pStrategy::hooks()
{
    return m_hooks.get();
}

at::Tensor L2pStrategy::queries(const at::Tensor& images)
{
    torch::NoGradGuard noGrad;
    return queriesOfEmbedded(model()->visual->embed(images));
}

at::Tensor L2pStrategy::queriesOfEmbedded(const at::Tensor& embedded)
{
    torch::NoGradGuard noGrad;
    auto& visual = model()->visual;
    return visual->ln_post(visual->transformer(embedded, false, nullptr).select(1, 0));
}

at::Tensor L2pStrategy::selectPrompts(const at::Tensor& queries)
{
    const int64_t batch = queries.size(0), topK = m_params.value("top_k", 1);
    const auto device = queries.device();
    at::Tensor chosen;
    if (!m_poolModule->keys.defined())
        chosen = torch::arange(topK, torch::TensorOptions(device).dtype(torch::kLong)).unsqueeze(0).expand({batch, topK}).contiguous();
    else
        chosen = choosePoolPrompts(queries, m_poolModule->keys, topK, m_params.value("batchwise", false));  // [B, N]
    if (!m_poolModule->is_training()) {
        const auto ids = chosen.flatten().to(torch::kCPU);
        const auto* id = ids.data_ptr<int64_t>();
        for (int64_t i = 0; i < ids.numel(); ++i)
            ++m_counts[static_cast<size_t>(id[i])];
    }
    return chosen;
}

at::Tensor L2pStrategy::promptedFeatures(const at::Tensor& images, at::Tensor* pullSimilarity)
{
    // The frozen embedding serves both passes. Without keys (seq-ft, or a pool no larger than N) every
    // prompt is used: no query pass needed.
    auto& visual = model()->visual;
    at::Tensor embedded;
    {
        torch::NoGradGuard noGrad;
        embedded = visual->embed(images);
    }
    const bool keyed = m_poolModule->keys.defined();
    const auto query = keyed ? queriesOfEmbedded(embedded) : torch::zeros({images.size(0), 1}, images.options());
    const auto chosen = selectPrompts(query);  // [B, N]
    const auto& prompts = m_poolModule->prompts;
    const int64_t batch = chosen.size(0), tokens = chosen.size(1) * prompts.size(1), width = prompts.size(2);
    m_hooks->selected = prompts.index_select(0, chosen.flatten()).view({batch, tokens, width});
    const auto out = visual->transformer(embedded, false, m_hooks.get());
    m_hooks->selected = at::Tensor();
    if (pullSimilarity && keyed) {
        const auto keys = l2Normalized(m_poolModule->keys).index_select(0, chosen.flatten()).view({batch, -1, width});
        *pullSimilarity = (keys * l2Normalized(query).unsqueeze(1)).sum() / static_cast<double>(batch);
    }
    return visual->ln_post(out.narrow(1, 1, tokens)).mean(1);
}

DeployableModel L2pStrategy::deployable()
{
    DeployableModel d = ClassicPetlStrategy::deployable();
    if (!model()->hasVitImageTower())
        throw Error(name() + ": needs a ViT image tower");
    const auto prompts = m_poolModule->prompts.detach();
    const std::int64_t topK = m_params.value("top_k", 1), length = prompts.size(1), width = prompts.size(2);
    if (m_poolModule->keys.defined()) {
        d.hooks = nullptr;  // the pool's choice is the description's own (promptPool)
        d.promptPool = DeployableModel::PromptPool{prompts, m_poolModule->keys.detach(), topK, m_params.value("batchwise", false)};
    } else {
        // Every image takes the first topK prompts: constant rows, inserted by a hook the description owns.
        auto constantPrompts = std::make_shared<Hooks>();
        constantPrompts->selected = prompts.narrow(0, 0, topK).reshape({1, topK * length, width});
        d.hooks = constantPrompts;
    }
    d.pooledRows = {1, topK * length};  // the prompts' outputs, right after [CLS]
    return d;
}

at::Tensor L2pStrategy::features(const at::Tensor& images)
{
    if (!model()->hasVitImageTower())
        throw Error(name() + ": needs a ViT image tower");
    return promptedFeatures(images, nullptr);
}

StepOutput L2pStrategy::trainStep(const Batch& batch)
{
    at::Tensor pull;
    StepOutput out;
    out.logits = head()(promptedFeatures(batch.inputs, &pull));
    if (m_params.at("mask_other_tasks").get<bool>() && !m_taskClasses.empty()) {
        auto others = torch::ones({out.logits.size(1)}, torch::TensorOptions(out.logits.device()).dtype(torch::kBool));
        others.index_fill_(0, torch::tensor(m_taskClasses, torch::kLong).to(out.logits.device()), false);
        out.logits = out.logits.masked_fill(others, -std::numeric_limits<double>::infinity());
    }
    out.loss = torch::nn::functional::cross_entropy(out.logits, batch.labels);
    if (pull.defined())
        out.loss = out.loss - m_params.value("pull_coefficient", 0.0) * pull;
    return out;
}

void L2pStrategy::setTaskClasses(const std::vector<std::int64_t>& labels)
{
    const int64_t classes = head()->classes();
    for (const auto label : labels)
        if (label < 0 || label >= classes)
            throw Error(name() + ": task class " + std::to_string(label) + " is outside the head's " + std::to_string(classes) + " classes");
    m_taskClasses = labels;
}

std::vector<std::int64_t> L2pStrategy::selectionCounts() const
{
    return m_pool ? m_counts : std::vector<std::int64_t>();
}

void L2pStrategy::resetSelectionCounts()
{
    std::fill(m_counts.begin(), m_counts.end(), 0);
}

TrainerConfig L2pStrategy::defaultTrainerConfig(int shots) const
{
    // The reference: Adam, no weight decay (AdamW with decay 0 is Adam), lr 0.03 scaled by batch / 256
    // (batch 16: 0.001875), constant, global gradient norm clipped to 1, 5 epochs per task.
    TrainerConfig config;
    config.optimizer = "adamw";
    config.weightDecay = 0.0;
    config.lr = 0.03 * defaultBatchSize(shots) / 256.0;
    config.constantLr = true;
    config.warmupEpochs = 0;
    config.gradClipNorm = 1.0;
    config.epochs = 5;
    return config;
}

nlohmann::json L2pStrategy::exportManifest()
{
    nlohmann::json manifest = ClassicPetlStrategy::exportManifest();
    manifest["family"] = "continual";
    manifest["feature"] = "mean of ln_post over the chosen prompts' output tokens";
    manifest["query"] = "ln_post of the frozen tower's final [CLS] token";
    if (m_pool)
        manifest["selection_counts"] = m_counts;
    return manifest;
}

StrategyInfo l2pStrategyInfo()
{
    StrategyCapabilities capabilities = vitOnlyCapabilities();
    capabilities.continual = true;
    return {"l2p", "L2P", StrategyFamily::Continual,
            "Learning to prompt: a pool of prompts with keys, chosen per batch by the frozen [CLS] feature; for task streams "
            "(tunebench-cli continual).",
            L2pStrategy::schema(true), [] { return std::make_unique<L2pStrategy>(true); }, capabilities};
}

StrategyInfo seqFtStrategyInfo()
{
    StrategyCapabilities capabilities = vitOnlyCapabilities();
    capabilities.continual = true;
    return {"seq-ft", "Sequential fine-tuning", StrategyFamily::Continual,
            "L2P's trainable set without a pool (one prompt of N x L tokens and the head), trained task after task: the lower bound.",
            L2pStrategy::schema(false), [] { return std::make_unique<L2pStrategy>(false); }, capabilities};
}

} // namespace tunebench
