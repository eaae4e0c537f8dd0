#pragma once

#include "core/tuning/classic/ClassicPetlStrategy.h"

namespace tunebench {

// Linear and MLP-k: only a classifier head on the frozen feature trains (the encoder stays in eval mode).
// MLP-k counts k layers in total: k - 1 hidden blocks Linear -> ReLU -> BatchNorm1d -> Dropout, then the
// final Linear. MLP-3 (2 hidden layers) is what matches the VPT paper's 1.35x; MLP-1 is Linear.
class HeadTuning : public ClassicPetlStrategy
{
public:
    explicit HeadTuning(bool multiLayer) : m_multiLayer(multiLayer) {}
    std::string name() const override { return m_multiLayer ? "mlp" : "linear"; }
    TrainerConfig defaultTrainerConfig(int shots) const override;

    static ParamSchema schema(bool multiLayer);

protected:
    ParamSchema paramSchema() const override { return schema(m_multiLayer); }
    int headHiddenLayers() const override;

private:
    bool m_multiLayer;
};

StrategyInfo linearStrategyInfo();
StrategyInfo mlpStrategyInfo();

} // namespace tunebench
