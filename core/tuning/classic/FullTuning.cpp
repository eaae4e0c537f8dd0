#include "core/tuning/classic/FullTuning.h"

#include <torch/torch.h>

namespace tunebench {

TrainerConfig FullTuning::defaultTrainerConfig(int shots) const
{
    // lr: not in the reference notes, a usual AdamW fine-tuning rate for ViT-B.
    return adamwRecipe(1e-4, 1e-4, 5);
}

StrategyInfo fullStrategyInfo()
{
    return {"full", "Full", StrategyFamily::ClassicPetl,
            "Fine-tunes the whole image tower and the head (AdamW); every task stores its own backbone.", {},
            [] { return std::make_unique<FullTuning>(); }, StrategyCapabilities{}};
}

} // namespace tunebench
