#include "core/train/GeneratorLock.h"

#include "core/Error.h"

#include <chrono>
#include <mutex>

namespace tunebench {

namespace {

std::recursive_timed_mutex& generatorMutex()
{
    static std::recursive_timed_mutex mutex;
    return mutex;
}

} // namespace

GeneratorLock::GeneratorLock(const std::string& who, const std::function<bool()>& giveUp)
{
    std::recursive_timed_mutex& mutex = generatorMutex();
    if (!giveUp) {
        mutex.lock();
        return;
    }
    while (!mutex.try_lock_for(std::chrono::milliseconds(50)))
        if (giveUp())
            throw Error((who.empty() ? std::string("the work") : who) + " gave up waiting for LibTorch's random generator, which a run holds");
}

bool GeneratorLock::heldElsewhere()
{
    std::recursive_timed_mutex& mutex = generatorMutex();
    if (!mutex.try_lock())
        return true;
    mutex.unlock();
    return false;
}

GeneratorLock::~GeneratorLock()
{
    generatorMutex().unlock();
}

} // namespace tunebench
