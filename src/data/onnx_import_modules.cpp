// ONNX import: the modules around the recurrent layers, an embedding (Gather from a constant
// table) before the first and a linear head (MatMul + Add, or Gemm) after the last.
#include "data/onnx_importer.hpp"

namespace lstm::onnx_detail {

using detail::fail;
using detail::quote_name;
using detail::shape_string;

int Importer::sole_consumer(const std::string& name) const {
  const auto found = consumers_.find(name);
  return found != consumers_.end() && found->second.size() == 1 ? found->second[0] : -1;
}

const ConstTensor* Importer::find_embedding(const std::string& origin) {
  const int index = folder_.producer_index(origin);
  if (index < 0) return nullptr;
  const onnx::NodeProto& node = graph_.node(index);
  if (node.op_type() != "Gather" || node.input_size() != 2) return nullptr;
  const ConstTensor* table = folder_.value(node.input(0));
  if (!table || table->integer) return nullptr;
  const std::string label = node_label(node, index);
  for (const auto& attribute : node.attribute())
    if (attribute.name() != "axis" || attribute.i() != 0)
      fail(file_, label + ": an embedding Gather must gather rows (axis 0)");
  if (table->shape.size() != 2)
    fail(file_,
         label + ": embedding table has shape " + shape_string(table->shape) + ", expected [V, E]");
  std::string indices = node.input(1);
  while (const onnx::NodeProto* producer = folder_.producer(indices)) {
    if (producer->op_type() != "Cast" || producer->input_size() == 0) break;
    indices = producer->input(0);
  }
  if (!folder_.is_graph_input(indices))
    fail(file_,
         label + ": the embedding's indices (" + quote_name(indices) + ") are not a graph input");
  claimed_.insert(index);
  return table;
}

int Importer::reach_product(std::string& name, int depth) const {
  constexpr int max_layout_steps = 16;  // torch writes two or three (Transpose, Reshape, Squeeze)
  const auto readers = consumers_.find(name);
  if (depth > max_layout_steps || readers == consumers_.end()) return -1;
  for (int index : readers->second) {
    const onnx::NodeProto& node = graph_.node(index);
    if (node.input_size() == 0 || node.input(0) != name) continue;
    if (node.op_type() == "MatMul" || node.op_type() == "Gemm") return index;
    if (!layout_operators.count(node.op_type()) || node.output_size() != 1) continue;
    std::string next = node.output(0);
    const int found = reach_product(next, depth + 1);
    if (found >= 0) {
      name = next;
      return found;
    }
  }
  return -1;
}

std::optional<Head> Importer::find_head(const Layer& last, int64_t width) {
  // every_step: the head reads Y [T, D, B, H] (as [T, B, D*H]); last_step: Y_h [D, B, H] (as [B,
  // D*H]).
  bool last_step = false;
  std::string name = last.node->output_size() > 0 ? last.node->output(0) : "";
  int index = name.empty() ? -1 : reach_product(name, 0);
  if (index < 0 && last.node->output_size() > 1 && !last.node->output(1).empty()) {
    name = last.node->output(1);
    index = reach_product(name, 0);
    last_step = true;
  }
  if (index < 0) return std::nullopt;
  const onnx::NodeProto& node = graph_.node(index);
  const std::string label = node_label(node, index);
  if (node.op_type() != "MatMul" && node.op_type() != "Gemm") return std::nullopt;
  if (node.input_size() < 2 || node.input(0) != name || node.output_size() != 1)
    fail(file_, label + ": a linear head must multiply the network's output by a constant matrix");
  const ConstTensor* matrix = folder_.value(node.input(1));
  if (!matrix || matrix->integer || matrix->shape.size() != 2)
    fail(file_, label + ": the head's weight is not a constant float matrix");
  bool transposed = false;  // B is [O, Hcat] (Gemm transB = 1) rather than [Hcat, O]
  const ConstTensor* bias = nullptr;
  if (node.op_type() == "Gemm") {
    for (const auto& attribute : node.attribute()) {
      const bool unit = attribute.name() == "alpha" || attribute.name() == "beta";
      if (attribute.name() == "transB")
        transposed = attribute.i() != 0;
      else if (!(unit && attribute.f() == 1.0f) &&
               !(attribute.name() == "transA" && attribute.i() == 0))
        fail(file_,
             label + ": attribute " + quote_name(attribute.name()) + " is not supported in a head");
    }
    if (node.input_size() > 2 && !node.input(2).empty()) bias = folder_.value(node.input(2));
    if (node.input_size() > 2 && !node.input(2).empty() && !bias)
      fail(file_, label + ": the head's bias is not a constant");
  }
  claimed_.insert(index);
  const int64_t in = transposed ? matrix->shape[1] : matrix->shape[0];
  const int64_t outputs = transposed ? matrix->shape[0] : matrix->shape[1];
  if (in != width)
    fail(file_, label + ": the head's weight has shape " + shape_string(matrix->shape) +
                    ", which does not take the network's output width " + std::to_string(width));
  if (node.op_type() == "MatMul") {
    const int add_index = sole_consumer(node.output(0));
    if (add_index >= 0 && graph_.node(add_index).op_type() == "Add") {
      const onnx::NodeProto& add = graph_.node(add_index);
      const std::string other =
          add.input_size() == 2 ? add.input(add.input(0) == node.output(0) ? 1 : 0) : "";
      bias = other.empty() ? nullptr : folder_.value(other);
      if (!bias) fail(file_, node_label(add, add_index) + ": the head's bias is not a constant");
      claimed_.insert(add_index);
    }
  }
  Head head;
  head.last_step = last_step;
  head.outputs = outputs;
  head.weight.resize(static_cast<size_t>(outputs * in));
  for (int64_t o = 0; o < outputs; ++o)
    for (int64_t k = 0; k < in; ++k)
      head.weight[static_cast<size_t>(o * in + k)] =
          matrix->floats[static_cast<size_t>(transposed ? o * in + k : k * outputs + o)];
  head.bias.assign(static_cast<size_t>(outputs), 0.0f);
  if (bias) {
    if (bias->integer || bias->numel() != outputs)
      fail(file_, label + ": the head's bias has shape " + shape_string(bias->shape) +
                      ", expected [" + std::to_string(outputs) + "]");
    head.bias = bias->floats;
  }
  return head;
}

}  // namespace lstm::onnx_detail
