#pragma once

#include "core/tuning/prompt/ClipStrategy.h"

namespace tunebench {

// Tip-Adapter: a training-free key-value cache of the few-shot images beside zero-shot CLIP:
// logits = 100 f W^T + alpha exp(-beta (1 - f K^T)) V, keys K = normalised image features averaged over
// augmented passes, values V = one-hot labels. Tip-Adapter-F (fineTune) trains the keys.
// On classes other than the cached ones the cache term is dropped (zero-shot part only).
class TipAdapterStrategy : public ClipStrategy
{
public:
    explicit TipAdapterStrategy(bool fineTune) : m_fineTune(fineTune) {}
    std::string name() const override { return m_fineTune ? "tip-adapter-f" : "tip-adapter"; }
    bool needsTraining() const override { return m_fineTune; }
    void prepare(BatchSource& train) override;
    void tuneOnValidation(BatchSource& val) override;
    std::vector<at::Tensor> trainableParameters() override;
    StateDict trainableState() override;
    void loadTrainableState(const StateDict& state) override;
    TrainerConfig defaultTrainerConfig(int shots) const override;
    int defaultBatchSize(int shots) const override { return 256; }
    at::Tensor classTextFeatures() override { return m_textFeatures; }
    DeployableModel deployable() override;
    nlohmann::json exportManifest() override;

    // The formula on normalised image features [B, E].
    at::Tensor logitsFromFeatures(const at::Tensor& features, double alpha, double beta);
    double alpha() const { return m_alpha; }
    double beta() const { return m_beta; }
    // Tests and imports may set the cache directly: keys [N, E] (normalised), values [N, C].
    void setCache(const at::Tensor& keys, const at::Tensor& values);

protected:
    void onAttach() override;
    void onClassesChanged() override;
    at::Tensor classLogits(const at::Tensor& images) override;

private:
    bool m_fineTune;
    double m_alpha = 1.17, m_beta = 1.0;
    at::Tensor m_textFeatures;
    at::Tensor m_keys;    // [N, E]; a trainable leaf for Tip-Adapter-F
    at::Tensor m_values;  // [N, C_cache]
    std::vector<std::string> m_cacheClasses;
};

StrategyInfo tipAdapterStrategyInfo();
StrategyInfo tipAdapterFStrategyInfo();

} // namespace tunebench
