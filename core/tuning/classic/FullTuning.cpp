#include "core/tuning/classic/FullTuning.h"

#include <torch/torch.h>

namespace tunebench {

TrainerConfig FullTuning::defaultTrainerConfig(int shots) const
{
    TrainerConfig config;
    config.optimizer = "adamw";
    config.lr = 1e-4;  // not in the reference notes: a usual AdamW fine-tuning rate for ViT-B
    config.weightDecay = 1e-4;
    config.epochs = 100;
    config.warmupEpochs = 5;
    config.warmupLr = config.lr * 0.5;  // mean of the reference's linear ramp (our warm-up is constant)
    return config;
}

StrategyInfo fullStrategyInfo()
{
    return {"full", "Full", StrategyFamily::ClassicPetl,
            "Fine-tunes the whole image tower and the head (AdamW); every task stores its own backbone.", {},
            [] { return std::make_unique<FullTuning>(); }, StrategyCapabilities{}};
}

} // namespace tunebench
