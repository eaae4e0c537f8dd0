#include "core/tuning/LowRank.h"

#include "core/Error.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>

namespace tunebench {

namespace {

const std::vector<std::string>& knownTargets()
{
    static const std::vector<std::string> names = {"q", "k", "v", "qkv", "o", "fc1", "fc2"};
    return names;
}

std::string joined(const std::vector<std::string>& names)
{
    std::string out;
    for (const auto& name : names)
        out += (out.empty() ? "" : ", ") + name;
    return out;
}

} // namespace

std::vector<std::string> parseLowRankTargets(const std::string& text, const std::string& option)
{
    std::vector<std::string> targets;
    std::stringstream stream(text);
    std::string item;
    while (std::getline(stream, item, ',')) {
        item.erase(0, item.find_first_not_of(" \t"));
        item.erase(item.find_last_not_of(" \t") + 1);
        const auto& known = knownTargets();
        if (std::find(known.begin(), known.end(), item) == known.end())
            throw Error("option '" + option + "': unknown target '" + item + "' (use a comma list of " + joined(known) + ")");
        if (std::find(targets.begin(), targets.end(), item) != targets.end())
            throw Error("option '" + option + "': target '" + item + "' is named twice");
        targets.push_back(item);
    }
    if (targets.empty())
        throw Error("option '" + option + "' names no target (use a comma list of " + joined(knownTargets()) + ")");
    const bool packed = std::count(targets.begin(), targets.end(), "qkv") > 0;
    const bool split = std::any_of(targets.begin(), targets.end(), [](const std::string& t) { return t == "q" || t == "k" || t == "v"; });
    if (packed && split)
        throw Error("option '" + option + "': qkv already covers q, k and v; name either qkv or some of q, k, v");
    return targets;
}

const torch::Tensor& blockWeight(const TransformerImpl& tower, int layer, BlockLayer which)
{
    const auto& block = *tower.resblocks->ptr<ResidualAttentionBlockImpl>(layer);
    switch (which) {
    case BlockLayer::QkvProjection: return block.attn->in_proj_weight;
    case BlockLayer::OutProjection: return block.attn->out_proj->weight;
    case BlockLayer::MlpIn: return block.mlp->c_fc->weight;
    case BlockLayer::MlpOut: return block.mlp->c_proj->weight;
    case BlockLayer::Norm1: return block.ln_1->weight;
    case BlockLayer::Norm2: return block.ln_2->weight;
    }
    throw Error("unknown block layer");
}

std::string blockWeightName(BlockLayer which)
{
    switch (which) {
    case BlockLayer::QkvProjection: return "attn.in_proj_weight";
    case BlockLayer::OutProjection: return "attn.out_proj.weight";
    case BlockLayer::MlpIn: return "mlp.c_fc.weight";
    case BlockLayer::MlpOut: return "mlp.c_proj.weight";
    case BlockLayer::Norm1: return "ln_1.weight";
    case BlockLayer::Norm2: return "ln_2.weight";
    }
    throw Error("unknown block layer");
}

LowRankAdaptersImpl::LowRankAdaptersImpl(const TowerSpec& spec, const LowRankOptions& options, const TransformerImpl& tower)
    : m_options(options)
{
    if (options.rank < 1)
        throw Error("low-rank update: the rank must be at least 1, got " + std::to_string(options.rank));
    const int64_t w = spec.width, hidden = spec.mlpWidth;
    for (const auto& name : options.targets) {
        if (name == "q") m_targets.push_back({name, BlockLayer::QkvProjection, 0, w, w});
        else if (name == "k") m_targets.push_back({name, BlockLayer::QkvProjection, w, w, w});
        else if (name == "v") m_targets.push_back({name, BlockLayer::QkvProjection, 2 * w, w, w});
        else if (name == "qkv") m_targets.push_back({name, BlockLayer::QkvProjection, 0, 3 * w, w});
        else if (name == "o") m_targets.push_back({name, BlockLayer::OutProjection, 0, w, w});
        else if (name == "fc1") m_targets.push_back({name, BlockLayer::MlpIn, 0, hidden, w});
        else if (name == "fc2") m_targets.push_back({name, BlockLayer::MlpOut, 0, w, hidden});
        else throw Error("low-rank update: unknown target '" + name + "'");
    }
    // Row blocks in the order the weight holds them, so that effectiveWeight can concatenate.
    std::sort(m_targets.begin(), m_targets.end(), [](const Target& a, const Target& b) {
        return a.layer != b.layer ? a.layer < b.layer : a.firstRow < b.firstRow;
    });
    torch::NoGradGuard noGrad;
    for (int layer = 0; layer < spec.layers; ++layer) {
        auto block = register_module(std::to_string(layer), std::make_shared<torch::nn::Module>());
        std::map<std::string, torch::Tensor> own;
        for (const auto& target : m_targets) {
            auto module = block->register_module(target.name, std::make_shared<torch::nn::Module>());
            // A as nn.Linear(in, r) initialises its weight (what PEFT does), B at zero.
            auto a = module->register_parameter("lora_A", torch::empty({options.rank, target.inputs}));
            torch::nn::init::kaiming_uniform_(a, std::sqrt(5.0));
            own[target.name + ".lora_A"] = a;
            own[target.name + ".lora_B"] = module->register_parameter("lora_B", torch::zeros({target.rows, options.rank}));
            if (options.magnitude) {
                const auto rows = blockWeight(tower, layer, target.layer).narrow(0, target.firstRow, target.rows);
                own[target.name + ".magnitude"] =
                    module->register_parameter("magnitude", rows.detach().to(torch::kCPU, torch::kFloat).norm(2, {1}));
            }
        }
        m_parameters.push_back(std::move(own));
    }
}

bool LowRankAdaptersImpl::adapts(BlockLayer which) const
{
    return std::any_of(m_targets.begin(), m_targets.end(), [&](const Target& t) { return t.layer == which; });
}

torch::Tensor LowRankAdaptersImpl::effectiveWeight(int layer, BlockLayer which, const torch::Tensor& weight) const
{
    const auto& own = m_parameters.at(layer);
    std::vector<torch::Tensor> rows;
    int64_t next = 0;
    for (const auto& target : m_targets) {
        if (target.layer != which)
            continue;
        if (target.firstRow > next)
            rows.push_back(weight.narrow(0, next, target.firstRow - next));
        const auto& a = own.at(target.name + ".lora_A");
        const auto& b = own.at(target.name + ".lora_B");
        auto updated = weight.narrow(0, target.firstRow, target.rows) + m_options.scale() * torch::matmul(b, a).to(weight.scalar_type());
        if (m_options.magnitude) {
            // PEFT (and the DoRA paper, §4.3) treat the norm as a constant in the backward pass.
            const auto norm = updated.detach().norm(2, {1}, true);
            updated = own.at(target.name + ".magnitude").to(weight.scalar_type()).unsqueeze(1) / norm * updated;
        }
        rows.push_back(updated);
        next = target.firstRow + target.rows;
    }
    if (next < weight.size(0))
        rows.push_back(weight.narrow(0, next, weight.size(0) - next));
    return rows.size() == 1 ? rows.front() : torch::cat(rows, 0);
}

torch::Tensor LowRankAdaptersImpl::linear(int layer, BlockLayer which, const torch::Tensor& input, const torch::Tensor& weight,
                                          const torch::Tensor& bias)
{
    if (!adapts(which))
        return torch::linear(input, weight, bias);
    const auto adapted = effectiveWeight(layer, which, weight);
    if (is_training() && m_options.dropout > 0)
        return torch::linear(input, weight, bias) +
               torch::linear(torch::dropout(input, m_options.dropout, true), adapted - weight);
    return torch::linear(input, adapted, bias);
}

StateDict LowRankAdaptersImpl::mergedWeights(const TransformerImpl& tower, const std::string& prefix) const
{
    StateDict merged;
    torch::NoGradGuard noGrad;
    for (int layer = 0; layer < static_cast<int>(m_parameters.size()); ++layer)
        for (BlockLayer which : {BlockLayer::QkvProjection, BlockLayer::OutProjection, BlockLayer::MlpIn, BlockLayer::MlpOut})
            if (adapts(which))
                merged[prefix + "resblocks." + std::to_string(layer) + "." + blockWeightName(which)] =
                    effectiveWeight(layer, which, blockWeight(tower, layer, which)).detach().clone();
    return merged;
}

torch::Tensor LowRankHooks::linear(int layer, BlockLayer which, const torch::Tensor& input, const torch::Tensor& weight,
                                   const torch::Tensor& bias)
{
    return m_adapters->linear(layer, which, input, weight, bias);
}

} // namespace tunebench
