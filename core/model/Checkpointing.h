#pragma once
// Gradient checkpointing (methods-3.md §6): a checkpointed transformer block or ResNet stage keeps only its
// input during the forward pass and computes its forward again in the backward pass, so the activations
// held for a backward drop to one per block, for about one extra forward.

#include <functional>
#include <string>
#include <vector>

namespace at {
class Tensor;  // the options and scopes below need no LibTorch header (the window lists the options)
}

namespace tunebench {

// Which towers checkpoint their blocks while training (--checkpointing none|image|text|both).
enum class CheckpointTowers { None, Image, Text, Both };
enum class Tower { Image, Text };

// "none", "image", "text", "both" -> the value; an Error "<what> must be none, image, text or both, got
// '<value>'" for anything else.
CheckpointTowers parseCheckpointing(const std::string& value, const std::string& what = "--checkpointing");
std::string checkpointingName(CheckpointTowers towers);
const std::vector<std::string>& checkpointingNames();  // none, image, text, both

// Checkpointing is on, for this thread, inside a scope: the trainer opens one around each training step's
// forward pass. A tower's own is_training() cannot say it: prompt learners keep CLIP in eval mode while
// they train. Scopes nest; the innermost wins.
class CheckpointingScope
{
public:
    explicit CheckpointingScope(CheckpointTowers towers);
    ~CheckpointingScope();
    CheckpointingScope(const CheckpointingScope&) = delete;
    CheckpointingScope& operator=(const CheckpointingScope&) = delete;

private:
    CheckpointTowers m_previous;
};

// Whether `tower` checkpoints its blocks now: inside a scope naming it, with grad mode on (evaluation and
// no-grad passes keep nothing for a backward anyway).
bool checkpointsBlocks(Tower tower);

// Whether this thread is recomputing a checkpointed block in the backward pass: what records the forward
// (AttentionRecorder) skips it, having seen the first pass.
bool recomputingCheckpoint();

// run(inputs) computed under no-grad, keeping only `inputs` (and the random generators' states); the
// backward pass runs it again with grad enabled on detached copies of them and back-propagates through that:
// the parameters it uses, and any tensor it captures, get their gradients there; `inputs` get theirs through
// this function's node. A torch.utils.checkpoint(use_reentrant=True) for LibTorch: the loss must be reduced
// with backward(), not autograd::grad(). `run` must compute the same outputs from the same inputs whenever
// it is called (what it captures must live until the backward pass). Inputs must be defined tensors.
using CheckpointedRun = std::function<std::vector<at::Tensor>(const std::vector<at::Tensor>& inputs)>;
std::vector<at::Tensor> checkpointed(CheckpointedRun run, const std::vector<at::Tensor>& inputs);

} // namespace tunebench
