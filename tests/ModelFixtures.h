#pragma once

#include "core/io/StateDict.h"
#include "core/model/ModelSpec.h"

namespace tunebench::test {

// A CLIP of the real architecture at toy widths: 32x32 images, patch 8, vision width 128 (2 heads),
// text width 64 (1 head), 2 layers each, a token embedding of the real vocabulary's 49,408 rows and 77
// positions (any smaller vocabulary, such as the demo model's, fits it too).
ModelSpec tinyClipSpec();

// A ResNet CLIP (OpenAI's modified ResNet) at toy widths: stem width 8 (feature width 256, 4 heads), one
// bottleneck per stage, 64x64 images, embedding 48, and tinyClipSpec's text tower.
ModelSpec tinyResNetClipSpec();

// A timm-style ViT (no pre-norm, patch bias, GELU, eps 1e-6, 10-class head) at toy widths.
ModelSpec tinyTimmSpec();

// Random canonical weights for `spec`, rounded through fp16 so that archives storing fp16 hold the
// same values as fp32 ones; LayerNorm weights away from 1 so that they matter.
StateDict randomWeights(const ModelSpec& spec, int seed);

} // namespace tunebench::test
