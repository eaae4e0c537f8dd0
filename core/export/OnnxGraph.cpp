#include "core/export/OnnxGraph.h"

#include "core/Error.h"
#include "core/io/AtomicFile.h"

#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#include <torch/torch.h>

#include <fstream>
#include <map>

namespace tunebench {

struct OnnxGraph::Impl
{
    onnx::ModelProto model;
    onnx::GraphProto* graph = nullptr;
    std::map<std::string, int> used;  // name hint -> how many values took it

    std::string unique(const std::string& hint)
    {
        const int n = used[hint]++;
        return n == 0 ? hint : hint + "_" + std::to_string(n);
    }
};

namespace {

void setShape(onnx::ValueInfoProto* info, const std::vector<std::int64_t>& dims)
{
    auto* tensorType = info->mutable_type()->mutable_tensor_type();
    tensorType->set_elem_type(onnx::TensorProto::FLOAT);
    auto* shape = tensorType->mutable_shape();
    for (std::int64_t d : dims) {
        auto* dim = shape->add_dim();
        if (d < 0)
            dim->set_dim_param("N");
        else
            dim->set_dim_value(d);
    }
}

} // namespace

OnnxGraph::OnnxGraph(const std::string& name)
    : m(std::make_unique<Impl>())
{
    m->graph = m->model.mutable_graph();
    m->graph->set_name(name);
}

OnnxGraph::~OnnxGraph() = default;

void OnnxGraph::addInput(const std::string& name, const std::vector<std::int64_t>& dims)
{
    setShape(m->graph->add_input(), dims);
    m->graph->mutable_input()->rbegin()->set_name(name);
    m->used[name]++;
}

void OnnxGraph::addOutput(const std::string& name, const std::vector<std::int64_t>& dims)
{
    setShape(m->graph->add_output(), dims);
    m->graph->mutable_output()->rbegin()->set_name(name);
}

std::string OnnxGraph::constant(const at::Tensor& value, const std::string& hint, bool half)
{
    const std::string name = m->unique(hint);
    auto* tensor = m->graph->add_initializer();
    tensor->set_name(name);
    for (std::int64_t d : value.sizes())
        tensor->add_dims(d);
    const auto cpu = value.detach().to(torch::kCPU).contiguous();
    if (at::isFloatingType(cpu.scalar_type())) {
        // Raw little-endian bytes: compact for weights of hundreds of MB.
        const auto typed = cpu.to(half ? torch::kHalf : torch::kFloat).contiguous();
        tensor->set_data_type(half ? onnx::TensorProto::FLOAT16 : onnx::TensorProto::FLOAT);
        tensor->set_raw_data(typed.data_ptr(), static_cast<size_t>(typed.numel()) * typed.element_size());
    } else {
        const auto typed = cpu.to(torch::kLong).contiguous();
        tensor->set_data_type(onnx::TensorProto::INT64);
        tensor->set_raw_data(typed.data_ptr(), static_cast<size_t>(typed.numel()) * sizeof(std::int64_t));
    }
    return name;
}

std::string OnnxGraph::ints(const std::vector<std::int64_t>& values, const std::string& hint)
{
    return constant(torch::tensor(values, torch::kLong), hint);
}

std::string OnnxGraph::scalar(float value, bool half)
{
    return constant(torch::tensor(value), "scalar", half);
}

std::string OnnxGraph::op(const std::string& type, const std::vector<std::string>& inputs, const std::vector<OnnxAttribute>& attributes,
                          const std::string& hint)
{
    auto* node = m->graph->add_node();
    node->set_op_type(type);
    for (const auto& input : inputs)
        node->add_input(input);
    const std::string output = m->unique(hint.empty() ? type : hint);
    node->add_output(output);
    node->set_name(output);
    for (const auto& attribute : attributes) {
        auto* a = node->add_attribute();
        a->set_name(attribute.name);
        if (const auto* i = std::get_if<std::int64_t>(&attribute.value)) {
            a->set_type(onnx::AttributeProto::INT);
            a->set_i(*i);
        } else if (const auto* f = std::get_if<float>(&attribute.value)) {
            a->set_type(onnx::AttributeProto::FLOAT);
            a->set_f(*f);
        } else {
            a->set_type(onnx::AttributeProto::INTS);
            for (std::int64_t v : std::get<std::vector<std::int64_t>>(attribute.value))
                a->add_ints(v);
        }
    }
    return output;
}

void OnnxGraph::rename(const std::string& value, const std::string& name)
{
    auto* node = m->graph->add_node();
    node->set_op_type("Identity");
    node->add_input(value);
    node->add_output(name);
    node->set_name(name);
}

void OnnxGraph::setMetadata(const std::string& key, const std::string& value)
{
    auto* entry = m->model.add_metadata_props();
    entry->set_key(key);
    entry->set_value(value);
}

std::int64_t OnnxGraph::nodeCount() const
{
    return m->graph->node_size();
}

std::int64_t OnnxGraph::initializerCount() const
{
    return m->graph->initializer_size();
}

void OnnxGraph::write(const std::string& path, int opset, const std::string& producerVersion) const
{
    onnx::ModelProto model = m->model;
    model.set_ir_version(8);  // what opsets 13..17 are read with (ONNX 1.10 .. 1.12)
    model.set_producer_name("tunebench");
    model.set_producer_version(producerVersion);
    auto* imported = model.add_opset_import();
    imported->set_domain("");
    imported->set_version(opset);
    try {
        onnx::checker::check_model(model);
    } catch (const std::exception& e) {
        throw Error(path + ": the ONNX checker refuses the graph: " + e.what());
    }
    std::string bytes;
    if (!model.SerializeToString(&bytes))
        throw Error(path + ": the graph does not serialise (protobuf's 2 GB limit?)");
    writeFileAtomically(path, bytes);
}

} // namespace tunebench
