#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace tunebench {

struct OnnxAttribute
{
    std::string name;
    std::variant<std::int64_t, float, std::vector<std::int64_t>> value;
};

// One ONNX graph under construction, held in the ONNX project's own message classes (libonnx): named
// values, nodes in order, weights as initializers, the model's metadata. write() runs ONNX's checker
// before anything reaches the disk.
class OnnxGraph
{
public:
    explicit OnnxGraph(const std::string& name);
    ~OnnxGraph();
    OnnxGraph(const OnnxGraph&) = delete;
    OnnxGraph& operator=(const OnnxGraph&) = delete;

    // Float tensors of the graph's boundary; a dimension of -1 is the symbolic batch axis "N".
    void addInput(const std::string& name, const std::vector<std::int64_t>& dims);
    void addOutput(const std::string& name, const std::vector<std::int64_t>& dims);
    // An initializer holding `value` (float as fp32, or fp16 when `half`; integer tensors as int64); returns its name.
    std::string constant(const at::Tensor& value, const std::string& hint, bool half = false);
    std::string ints(const std::vector<std::int64_t>& values, const std::string& hint);
    std::string scalar(float value, bool half = false);
    // Appends a node; returns its (single) output's name, made unique from `hint` (the op's name when empty).
    std::string op(const std::string& type, const std::vector<std::string>& inputs, const std::vector<OnnxAttribute>& attributes = {},
                   const std::string& hint = {});
    // Names the output of the last node producing `value` as `name` (an Identity).
    void rename(const std::string& value, const std::string& name);
    void setMetadata(const std::string& key, const std::string& value);
    std::int64_t nodeCount() const;
    std::int64_t initializerCount() const;

    // Checks the model (ONNX's checker, at `opset`) and writes it atomically; an Error naming `path` and
    // the checker's complaint otherwise.
    void write(const std::string& path, int opset, const std::string& producerVersion) const;

private:
    struct Impl;
    std::unique_ptr<Impl> m;
};

} // namespace tunebench
