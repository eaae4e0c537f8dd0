#include "core/io/StateDict.h"

#include "core/Error.h"
#include "core/io/Safetensors.h"

#include <torch/torch.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#ifdef __unix__
#include <sys/mman.h>
#include <unistd.h>
#endif

namespace tunebench {

namespace {

// Copies out of the file mapping in chunks and drops each copied chunk's pages from this process, so
// that reading a checkpoint costs its size once (the tensors), not twice (tensors + mapped pages).
void copyReleasingPages(void* target, const std::uint8_t* source, size_t bytes)
{
#ifdef __unix__
    static const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
    constexpr size_t chunk = size_t(16) << 20;
    for (size_t done = 0; done < bytes; done += chunk) {
        const size_t n = std::min(chunk, bytes - done);
        std::memcpy(static_cast<std::uint8_t*>(target) + done, source + done, n);
        // Only whole pages inside this chunk: the neighbours' bytes may still be needed.
        const auto first = (reinterpret_cast<std::uintptr_t>(source + done) + page - 1) / page * page;
        const auto last = reinterpret_cast<std::uintptr_t>(source + done + n) / page * page;
        if (last > first)
            ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
    }
#else
    std::memcpy(target, source, bytes);
#endif
}

std::optional<torch::ScalarType> toTorchType(SafeDtype dtype)
{
    switch (dtype) {
    case SafeDtype::Bool: return torch::kBool;
    case SafeDtype::U8: return torch::kUInt8;
    case SafeDtype::I8: return torch::kInt8;
    case SafeDtype::I16: return torch::kInt16;
    case SafeDtype::F16: return torch::kHalf;
    case SafeDtype::BF16: return torch::kBFloat16;
    case SafeDtype::I32: return torch::kInt32;
    case SafeDtype::F32: return torch::kFloat;
    case SafeDtype::F64: return torch::kDouble;
    case SafeDtype::I64: return torch::kLong;
    case SafeDtype::C64: return torch::kComplexFloat;
    default: return std::nullopt;
    }
}

SafeDtype toSafeType(torch::ScalarType type, const std::string& name)
{
    switch (type) {
    case torch::kBool: return SafeDtype::Bool;
    case torch::kUInt8: return SafeDtype::U8;
    case torch::kInt8: return SafeDtype::I8;
    case torch::kInt16: return SafeDtype::I16;
    case torch::kHalf: return SafeDtype::F16;
    case torch::kBFloat16: return SafeDtype::BF16;
    case torch::kInt32: return SafeDtype::I32;
    case torch::kFloat: return SafeDtype::F32;
    case torch::kDouble: return SafeDtype::F64;
    case torch::kLong: return SafeDtype::I64;
    case torch::kComplexFloat: return SafeDtype::C64;
    default: throw Error("tensor '" + name + "': dtype " + std::string(c10::toString(type)) + " cannot be stored in safetensors");
    }
}

} // namespace

std::string shapeString(at::IntArrayRef shape)
{
    std::string out = "[";
    for (size_t i = 0; i < shape.size(); ++i)
        out += (i ? ", " : "") + std::to_string(shape[i]);
    return out + "]";
}

StateDict readSafetensors(const std::string& path, std::map<std::string, std::string>* metadata)
{
    SafetensorsFile file(path);
    if (metadata)
        *metadata = file.metadata();
    StateDict out;
    for (const SafetensorInfo& info : file.tensors()) {
        auto type = toTorchType(info.dtype);
        if (!type)
            throw Error(path + ": tensor '" + info.name + "' has dtype " + dtypeName(info.dtype) +
                        ", which Tunebench cannot compute with");
        auto tensor = torch::empty(info.shape, torch::TensorOptions().dtype(*type));
        const size_t bytes = info.end - info.begin;
        if (bytes > 0)
            copyReleasingPages(tensor.data_ptr(), file.data(info), bytes);
        out.emplace(info.name, std::move(tensor));
    }
    return out;
}

void writeSafetensors(const StateDict& tensors, const std::string& path, const std::map<std::string, std::string>& metadata)
{
    SafetensorsWriter writer;
    for (const auto& [name, tensor] : tensors) {
        auto cpu = tensor.detach().to(torch::kCPU).contiguous();
        writer.add(name, toSafeType(cpu.scalar_type(), name), cpu.sizes().vec(), cpu.data_ptr(), cpu.nbytes());
    }
    for (const auto& [key, value] : metadata)
        writer.setMetadata(key, value);
    writer.write(path);
}

void loadStateInto(const std::vector<std::pair<std::string, at::Tensor>>& targets, const StateDict& state,
                   const std::string& owner, const std::set<std::string>& ignored)
{
    torch::NoGradGuard noGrad;
    std::set<std::string> names;
    for (const auto& [name, target] : targets) {
        auto it = state.find(name);
        if (it == state.end())
            throw Error(owner + ": the saved state has no tensor '" + name + "'");
        if (it->second.sizes() != target.sizes())
            throw Error(owner + ": tensor '" + name + "' has shape " + shapeString(it->second.sizes()) + ", expected " +
                        shapeString(target.sizes()));
        at::Tensor(target).copy_(it->second.to(target.device(), target.scalar_type()));
        names.insert(name);
    }
    for (const auto& item : state)
        if (!names.count(item.first) && !ignored.count(item.first))
            throw Error(owner + ": the saved state has an unexpected tensor '" + item.first + "'");
}

} // namespace tunebench
