#include "core/model/Checkpointing.h"

#include "core/Autocast.h"

#include <torch/torch.h>

#include <mutex>
#include <optional>

namespace tunebench {

namespace {

thread_local CheckpointTowers t_towers = CheckpointTowers::None;
thread_local bool t_recomputing = false;

// The autocast state around a forward pass (the trainer's on CUDA, a memory plan's on the CPU): the backward
// pass runs outside it, and the recomputation must compute in the precision the first pass did.
struct AutocastStates
{
    AutocastState cpu = AutocastState::current(c10::DeviceType::CPU);
    AutocastState cuda = AutocastState::current(c10::DeviceType::CUDA);

    static AutocastStates current() { return {}; }
    void apply() const
    {
        cpu.apply(c10::DeviceType::CPU);
        cuda.apply(c10::DeviceType::CUDA);
    }
};

at::Tensor generatorState(const at::Device& device)
{
    auto generator = at::globalContext().defaultGenerator(device);
    std::lock_guard<std::mutex> lock(generator.mutex());
    return generator.get_state();
}

void setGeneratorState(const at::Device& device, const at::Tensor& state)
{
    auto generator = at::globalContext().defaultGenerator(device);
    std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_state(state);
}

// What the backward pass needs to run the forward again as it ran: the function, the random generators'
// states before it (dropout draws the same masks, as torch.utils.checkpoint's preserve_rng_state) and
// the autocast state.
struct CheckpointState : torch::CustomClassHolder
{
    CheckpointedRun run;
    at::Tensor cpuRng;
    std::optional<at::Device> cuda;
    at::Tensor cudaRng;
    AutocastStates autocast;
};

// Sets the generators to the first pass's states and, on leaving, back to where they were: recomputing must
// not shift the random numbers the rest of the run draws.
class ReplayedRandomness
{
public:
    explicit ReplayedRandomness(const CheckpointState& state)
        : m_state(state), m_cpuRng(generatorState(at::kCPU)), m_autocast(AutocastStates::current())
    {
        if (m_state.cuda)
            m_cudaRng = generatorState(*m_state.cuda);
        setGeneratorState(at::kCPU, m_state.cpuRng);
        if (m_state.cuda)
            setGeneratorState(*m_state.cuda, m_state.cudaRng);
        m_state.autocast.apply();
        t_recomputing = true;
    }
    ~ReplayedRandomness()
    {
        t_recomputing = false;
        m_autocast.apply();
        setGeneratorState(at::kCPU, m_cpuRng);
        if (m_state.cuda)
            setGeneratorState(*m_state.cuda, m_cudaRng);
    }

private:
    const CheckpointState& m_state;
    at::Tensor m_cpuRng, m_cudaRng;
    AutocastStates m_autocast;
};

class CheckpointFunction : public torch::autograd::Function<CheckpointFunction>
{
public:
    static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx, at::TensorList inputs,
                                                  c10::intrusive_ptr<CheckpointState> state)
    {
        // Function::apply runs this under no-grad: nothing inside run() is kept for the backward.
        ctx->save_for_backward(inputs.vec());
        ctx->saved_data["state"] = c10::IValue::make_capsule(state);
        return state->run(withoutAnchor(inputs.vec()));
    }

    static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grads)
    {
        auto state = c10::static_intrusive_pointer_cast<CheckpointState>(ctx->saved_data["state"].toCapsule());
        std::vector<at::Tensor> inputs;
        for (const at::Tensor& saved : ctx->get_saved_variables())
            inputs.push_back(saved.detach().requires_grad_(saved.requires_grad()));
        std::vector<at::Tensor> outputs;
        {
            ReplayedRandomness replay(*state);
            torch::AutoGradMode gradMode(true);
            outputs = state->run(withoutAnchor(inputs));
        }
        std::vector<at::Tensor> roots, rootGrads;
        for (size_t i = 0; i < outputs.size(); ++i) {
            if (outputs[i].requires_grad() && grads[i].defined()) {
                roots.push_back(outputs[i]);
                rootGrads.push_back(grads[i]);
            }
        }
        // Accumulates into the parameters' .grad. retain_graph: a tensor the block captures (a prompt or a
        // scale computed once for all blocks) has a graph that the next block's recomputation walks again;
        // this block's own recomputed graph goes with `outputs` when this returns.
        if (!roots.empty())
            torch::autograd::backward(roots, rootGrads, /*retain_graph=*/true);
        torch::autograd::variable_list out;
        for (const at::Tensor& input : inputs)
            out.push_back(input.requires_grad() ? input.grad() : at::Tensor());
        out.emplace_back();  // `state`
        return out;
    }

private:
    // The last input only anchors the node (see checkpointed()); run() does not see it.
    static std::vector<at::Tensor> withoutAnchor(std::vector<at::Tensor> inputs)
    {
        inputs.pop_back();
        return inputs;
    }
};

} // namespace


CheckpointingScope::CheckpointingScope(CheckpointTowers towers)
    : m_previous(t_towers)
{
    t_towers = towers;
}

CheckpointingScope::~CheckpointingScope()
{
    t_towers = m_previous;
}

bool checkpointsBlocks(Tower tower)
{
    if (t_recomputing || !at::GradMode::is_enabled())
        return false;
    switch (t_towers) {
    case CheckpointTowers::None: return false;
    case CheckpointTowers::Image: return tower == Tower::Image;
    case CheckpointTowers::Text: return tower == Tower::Text;
    case CheckpointTowers::Both: return true;
    }
    return false;
}

bool recomputingCheckpoint()
{
    return t_recomputing;
}

std::vector<at::Tensor> checkpointed(CheckpointedRun run, const std::vector<at::Tensor>& inputs)
{
    auto state = c10::make_intrusive<CheckpointState>();
    state->run = std::move(run);
    state->cpuRng = generatorState(at::kCPU);
    for (const at::Tensor& input : inputs) {
        if (input.is_cuda()) {
            state->cuda = input.device();
            state->cudaRng = generatorState(input.device());
            break;
        }
    }
    state->autocast = AutocastStates::current();
    // The node must be recorded even when no input needs a gradient (a frozen embedding in front of blocks
    // that hold adapters or LoRA updates): an empty input that does makes it so.
    std::vector<at::Tensor> withAnchor = inputs;
    withAnchor.push_back(torch::empty({0}, torch::requires_grad()));
    auto outputs = CheckpointFunction::apply(at::TensorList(withAnchor), state);
    return outputs;
}

} // namespace tunebench
