#pragma once
// LibTorch's autocast (mixed precision), one device type at a time. Its API changed in LibTorch 2.4; both
// spellings live in Autocast.cpp only.

#include <c10/core/DeviceType.h>
#include <c10/core/ScalarType.h>

#include <string>

namespace tunebench {

struct AutocastState
{
    bool enabled = false;
    at::ScalarType dtype = at::kBFloat16;

    static AutocastState current(c10::DeviceType device);
    void apply(c10::DeviceType device) const;
};

// Autocast in `precision` on `device` while the scope lives: bf16 or fp16 turn it on, fp32 leaves the
// state as it is. The previous state comes back, and the cast-weight cache is cleared, at the end.
class AutocastScope
{
public:
    AutocastScope(const std::string& precision, c10::DeviceType device);
    ~AutocastScope();
    AutocastScope(const AutocastScope&) = delete;
    AutocastScope& operator=(const AutocastScope&) = delete;

private:
    c10::DeviceType m_device;
    AutocastState m_previous;
    bool m_changed = false;
};

} // namespace tunebench
