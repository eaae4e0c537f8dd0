#pragma once
// LibTorch draws every random number on the CPU (initial weights and prompts, dropout, randn) from one
// generator per process. A run seeds it and then depends on every draw that follows, so where other work
// goes on beside a run in one process (the window: the parameter count, the memory plan, a tuned model
// rebuilt for Try it, Mistakes or an ONNX export), whatever draws holds a GeneratorLock while it draws: a
// run for its whole length, the others while they build and compute. Then a run in the window draws exactly
// what the same run draws in tunebench-cli. Recursive: a holder may take it again on the same thread.

#include <functional>
#include <string>

namespace tunebench {

class GeneratorLock
{
public:
    // Waits until no other thread holds it. `giveUp`, asked every 50 ms while waiting, ends the wait with
    // an Error that names `who` (a superseded estimate, a stopped run).
    explicit GeneratorLock(const std::string& who = {}, const std::function<bool()>& giveUp = {});
    ~GeneratorLock();
    GeneratorLock(const GeneratorLock&) = delete;
    GeneratorLock& operator=(const GeneratorLock&) = delete;

    // Whether another thread holds it now: what the window says a task is waiting for. A moment's answer.
    static bool heldElsewhere();
};

} // namespace tunebench
