#include "tests/ModelFixtures.h"

#include "core/io/CheckpointWriter.h"
#include "core/model/ClipModel.h"

#include <torch/torch.h>

namespace tunebench::test {

ModelSpec tinyClipSpec()
{
    ModelSpec spec;
    spec.family = ModelSpec::Family::Clip;
    spec.vision.width = 128;
    spec.vision.layers = 2;
    spec.vision.heads = 2;
    spec.vision.mlpWidth = 512;
    spec.vision.patchSize = 8;
    spec.vision.imageSize = 32;
    spec.vision.outputDim = 48;
    TextSpec text;
    text.width = 64;
    text.layers = 2;
    text.heads = 1;
    text.mlpWidth = 256;
    text.outputDim = 48;
    spec.text = text;
    return spec;
}

ModelSpec tinyResNetClipSpec()
{
    ModelSpec spec = tinyClipSpec();
    spec.vision = VisionSpec();
    spec.vision.stageBlocks = {1, 1, 1, 1};
    spec.vision.layers = 4;
    spec.vision.width = 8;
    spec.vision.heads = 4;
    spec.vision.imageSize = 64;
    spec.vision.outputDim = 48;
    spec.vision.preNorm = false;
    return spec;
}

ModelSpec tinyTimmSpec()
{
    ModelSpec spec;
    spec.family = ModelSpec::Family::Vit;
    spec.vision.width = 128;
    spec.vision.layers = 2;
    spec.vision.heads = 2;
    spec.vision.mlpWidth = 512;
    spec.vision.patchSize = 8;
    spec.vision.imageSize = 32;
    spec.vision.preNorm = false;
    spec.vision.patchBias = true;
    spec.vision.activation = Activation::Gelu;
    spec.vision.layerNormEps = 1e-6;
    spec.headClasses = 10;
    return spec;
}

StateDict randomWeights(const ModelSpec& spec, int seed)
{
    torch::manual_seed(seed);
    ClipModel model(spec);
    StateDict weights = canonicalWeights(*model);
    for (auto& [name, tensor] : weights) {
        if (name.find("ln_") != std::string::npos && name.size() > 7 && name.compare(name.size() - 7, 7, ".weight") == 0)
            tensor = 1.0 + 0.1 * torch::randn_like(tensor);
        else if (name.size() > 5 && name.compare(name.size() - 5, 5, ".bias") == 0)
            tensor = 0.02 * torch::randn_like(tensor);
        tensor = tensor.to(torch::kHalf).to(torch::kFloat);
    }
    weights["logit_scale"] = torch::full({}, std::log(100.0));
    if (!spec.text)
        weights.erase("logit_scale");
    return weights;
}

} // namespace tunebench::test
