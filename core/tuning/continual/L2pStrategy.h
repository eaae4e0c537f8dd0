#pragma once

#include "core/tuning/classic/ClassicPetlStrategy.h"
#include "core/tuning/continual/ContinualLearner.h"

#include <memory>

namespace tunebench {

// L2P, learning to prompt (Wang et al. 2022; methods.md 1.11): a pool of M prompts of L tokens with one
// learnable key each. The frozen tower's final [CLS] feature (ln_post, no projection) is the query; the N
// keys of highest cosine similarity choose the prompts, batch-wise by majority vote when `batchwise`, and
// their N x L tokens join the input after [CLS] (no position embedding). The classifier sees the mean of
// the prompt positions' outputs after ln_post. Loss: cross-entropy with the logits of classes outside the
// current task set to -inf, minus `pull_coefficient` x the summed similarity of the chosen keys to the
// query (per image). The head starts at zero, so classes not yet trained score 0.
//
// `seq-ft` is the same trainable set without a pool: one prompt of N x L tokens and the head, trained task
// after task with no mask (the lower bound of the L2P paper's tables).
class L2pStrategy : public ClassicPetlStrategy, public ContinualLearner
{
public:
    explicit L2pStrategy(bool pool);
    ~L2pStrategy() override;

    std::string name() const override { return m_pool ? "l2p" : "seq-ft"; }
    void attach(ClipModel model, const TaskSetup& setup, const nlohmann::json& params) override;
    TrainerConfig defaultTrainerConfig(int shots) const override;
    int defaultBatchSize(int shots) const override { return 16; }
    bool scoresDependOnBatch() const override;
    at::Tensor features(const at::Tensor& images) override;
    // The prompted tower pooled over the prompt rows; with keys, the pool's choice per image (promptPool),
    // without, the first top_k prompts as constant rows.
    DeployableModel deployable() override;
    StepOutput trainStep(const Batch& batch) override;
    TransformerHooks* hooks() override;
    nlohmann::json exportManifest() override;

    void setTaskClasses(const std::vector<std::int64_t>& labels) override;
    std::vector<std::int64_t> selectionCounts() const override;
    void resetSelectionCounts() override;

    // The pool's choice for these queries ([B, width], the frozen [CLS] features): prompt ids [B, N]. Without
    // keys only the batch size of `queries` matters.
    at::Tensor selectPrompts(const at::Tensor& queries);
    at::Tensor queries(const at::Tensor& images);  // the frozen tower's ln_post([CLS]), no gradient

    static ParamSchema schema(bool pool);

protected:
    ParamSchema paramSchema() const override { return schema(m_pool); }
    std::shared_ptr<torch::nn::Module> createMethodModule(const VisionSpec& vision) override;
    std::string methodModuleName() const override { return "prompt_pool"; }

private:
    class Pool;
    class Hooks;
    at::Tensor promptedFeatures(const at::Tensor& images, at::Tensor* pullSimilarity);
    at::Tensor queriesOfEmbedded(const at::Tensor& embedded);  // queries() from embed()'s tokens

    bool m_pool;
    std::shared_ptr<Pool> m_poolModule;
    std::unique_ptr<Hooks> m_hooks;
    std::vector<std::int64_t> m_taskClasses;
    std::vector<std::int64_t> m_counts;
};

StrategyInfo l2pStrategyInfo();
StrategyInfo seqFtStrategyInfo();

} // namespace tunebench
