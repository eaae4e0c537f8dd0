#pragma once

#include "core/tuning/classic/ClassicPetlStrategy.h"

namespace tunebench {

// Side-tune: a side network on the image, projected to the feature width and blended with the frozen
// tower's feature, a * tower + (1 - a) * side, a = sigmoid(learned scalar, init 0 -> 0.5); then the head.
// Deviation: the reference's side network is an ImageNet-pretrained AlexNet feature stack (9,216-d,
// 9,547,585 parameters with its projection) that we do not have. Ours is a small randomly initialised
// conv stack (conv 5x5/2 32, conv 3x3/2 64, conv 3x3/2 128, each ReLU, average-pooled to 4x4 = 2,048-d)
// and a Linear(2048 -> width, no bias): 1,667,649 parameters on ViT-B/16 (see docs/petl-parameters.md).
class SideTuning : public ClassicPetlStrategy
{
public:
    SideTuning();
    ~SideTuning() override;
    std::string name() const override { return "sidetune"; }
    TrainerConfig defaultTrainerConfig(int shots) const override;
    // The classic description with the side network and the blend weight (sideNetwork).
    DeployableModel deployable() override;

    // The blend weight a = sigmoid(alpha).
    double blendWeight() const;

protected:
    ParamSchema paramSchema() const override { return {}; }
    std::shared_ptr<torch::nn::Module> createMethodModule(const VisionSpec& vision) override;
    std::string methodModuleName() const override { return "side"; }
    at::Tensor combineFeatures(const at::Tensor& images, const at::Tensor& pooled) override;
};

StrategyInfo sidetuneStrategyInfo();

} // namespace tunebench
