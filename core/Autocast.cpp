#include "core/Autocast.h"

#include <ATen/autocast_mode.h>

namespace tunebench {

#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)

AutocastState AutocastState::current(c10::DeviceType device)
{
    return {at::autocast::is_autocast_enabled(device), at::autocast::get_autocast_dtype(device)};
}

void AutocastState::apply(c10::DeviceType device) const
{
    at::autocast::set_autocast_dtype(device, dtype);
    at::autocast::set_autocast_enabled(device, enabled);
}

#else

AutocastState AutocastState::current(c10::DeviceType device)
{
    if (device == c10::DeviceType::CPU)
        return {at::autocast::is_cpu_enabled(), at::autocast::get_autocast_cpu_dtype()};
    return {at::autocast::is_enabled(), at::autocast::get_autocast_gpu_dtype()};
}

void AutocastState::apply(c10::DeviceType device) const
{
    if (device == c10::DeviceType::CPU) {
        at::autocast::set_autocast_cpu_dtype(dtype);
        at::autocast::set_cpu_enabled(enabled);
    } else {
        at::autocast::set_autocast_gpu_dtype(dtype);
        at::autocast::set_enabled(enabled);
    }
}

#endif

AutocastScope::AutocastScope(const std::string& precision, c10::DeviceType device)
    : m_device(device)
    , m_previous(AutocastState::current(device))
{
    if (precision == "fp32")
        return;
    AutocastState{true, precision == "bf16" ? at::kBFloat16 : at::kHalf}.apply(device);
    m_changed = true;
}

AutocastScope::~AutocastScope()
{
    if (!m_changed)
        return;
    m_previous.apply(m_device);
    at::autocast::clear_cache();
}

} // namespace tunebench
