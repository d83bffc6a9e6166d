// ONNX import: one LSTM/GRU/RNN node read as a layer: attributes, constant weights, initial
// states, shapes, and where its input comes from.
#include <algorithm>
#include <climits>

#include "data/onnx_importer.hpp"

namespace lstm::onnx_detail {

using detail::fail;
using detail::quote_name;
using detail::shape_string;

void Importer::read_attributes(Layer& layer) const {
  const onnx::NodeProto& node = *layer.node;
  const std::string& op = node.op_type();
  std::vector<std::string> activations;
  bool linear_before_reset = false;  // ONNX's default
  for (const auto& attribute : node.attribute()) {
    const std::string& name = attribute.name();
    const std::string said = "attribute " + quote_name(name);
    if (name == "hidden_size") {
      if (attribute.i() < 1 || attribute.i() > INT32_MAX)
        fail_at(layer, said + " = " + std::to_string(attribute.i()) + " is not a positive size");
      layer.hidden = attribute.i();
    } else if (name == "direction") {
      const std::string& direction = attribute.s();
      if (direction == "bidirectional")
        layer.directions = 2;
      else if (direction != "forward")
        fail_at(layer, said + " = " + quote_name(direction) +
                           " is not supported (only forward and bidirectional)");
    } else if (name == "activations") {
      for (const auto& value : attribute.strings()) activations.push_back(value);
    } else if (name == "activation_alpha" || name == "activation_beta") {
      fail_at(layer, said + " is not supported (only the default activations)");
    } else if (name == "clip") {
      fail_at(layer,
              said + " = " + std::to_string(attribute.f()) + " is not supported (no clipping)");
    } else if (name == "input_forget" && op == "LSTM") {
      layer.input_forget = attribute.i() != 0;
    } else if (name == "linear_before_reset" && op == "GRU") {
      linear_before_reset = attribute.i() != 0;
    } else if (name == "layout") {
      if (attribute.i() != 0 && attribute.i() != 1)
        fail_at(layer, said + " = " + std::to_string(attribute.i()) + " is not 0 or 1");
    } else {
      fail_at(layer, "unknown " + said);
    }
  }
  layer.reset_before = op == "GRU" && !linear_before_reset;
  // The defaults, or the same list once per direction.
  std::vector<std::string> defaults;
  if (op == "LSTM") defaults = {"Sigmoid", "Tanh", "Tanh"};
  if (op == "GRU") defaults = {"Sigmoid", "Tanh"};
  if (op == "RNN") {
    defaults = {"Tanh"};
    if (!activations.empty() && activations[0] == "Relu") {
      defaults = {"Relu"};
      layer.cell = CellType::rnn_relu;
    }
  }
  if (activations.empty()) return;
  bool same = activations.size() == defaults.size() ||
              activations.size() == defaults.size() * static_cast<size_t>(layer.directions);
  for (size_t k = 0; same && k < activations.size(); ++k)
    same = activations[k] == defaults[k % defaults.size()];
  if (!same) {
    std::string listed;
    for (const auto& value : activations) listed += (listed.empty() ? "" : ", ") + value;
    fail_at(layer, "attribute 'activations' = [" + listed +
                       "] is not supported (only the defaults" +
                       std::string(op == "RNN" ? ", or Relu" : "") + ")");
  }
}

const ConstTensor* Importer::constant_input(Layer& layer, int position, const char* what,
                                            bool required) {
  const onnx::NodeProto& node = *layer.node;
  if (position >= node.input_size() || node.input(position).empty()) {
    if (required) fail_at(layer, std::string("has no input ") + what);
    return nullptr;
  }
  const std::string& name = node.input(position);
  const ConstTensor* value = folder_.value(name);
  if (!value)
    fail_at(layer, std::string("input ") + what + " (" + quote_name(name) +
                       ") is not a constant: weights must be initializers or computed from them");
  if (value->integer) fail_at(layer, std::string("input ") + what + " is not a float tensor");
  return value;
}

// Initial states may be run-time inputs or zeros (what torch.onnx.export builds with Expand).
void Importer::check_initial_state(const Layer& layer, int position, const char* what) {
  const onnx::NodeProto& node = *layer.node;
  if (position >= node.input_size() || node.input(position).empty()) return;
  std::string name = node.input(position);
  // Rows of a graph input (the Slice per layer that our export writes) are run-time states too.
  std::string from = name;
  for (int steps = 0; steps <= graph_.node_size(); ++steps) {  // bounded: a cycle ends too
    if (folder_.is_graph_input(from)) return;
    const onnx::NodeProto* producer = folder_.producer(from);
    static const std::set<std::string> selections = {
        "Slice", "Squeeze", "Unsqueeze", "Reshape", "Transpose", "Identity", "Cast"};
    if (!producer || !selections.count(producer->op_type()) || producer->input_size() == 0 ||
        folder_.value(from))
      break;
    from = producer->input(0);
  }
  const onnx::NodeProto* producer = folder_.producer(name);
  if (producer && (producer->op_type() == "Expand" || producer->op_type() == "ConstantOfShape")) {
    if (producer->op_type() == "ConstantOfShape") {
      bool zero = true;  // absent value: zeros
      for (const auto& attribute : producer->attribute())
        if (attribute.name() == "value") {
          const ConstTensor value =
              onnx_detail::decode_tensor(attribute.t(), file_, layer.label, 1);
          zero = value.integer ? value.ints == std::vector<int64_t>{0}
                               : value.floats == std::vector<float>{0.0f};
        }
      if (zero) return;
    } else if (producer->input_size() > 0) {
      const ConstTensor* value = folder_.value(producer->input(0));
      if (value &&
          std::all_of(value->floats.begin(), value->floats.end(),
                      [](float v) { return v == 0.0f; }) &&
          std::all_of(value->ints.begin(), value->ints.end(), [](int64_t v) { return v == 0; }))
        return;
    }
  } else if (const ConstTensor* value = folder_.value(name)) {
    if (std::all_of(value->floats.begin(), value->floats.end(),
                    [](float v) { return v == 0.0f; }) &&
        value->ints.empty())
      return;
  }
  fail_at(layer,
          std::string("input ") + what + " (" + quote_name(name) +
              ") is neither a graph input nor zeros: a built-in initial state is not supported");
}

// Follows `name` back through layout operators to the value they started from.
std::string Importer::trace_back(std::string name) const {
  for (int steps = 0; steps <= graph_.node_size(); ++steps) {
    const onnx::NodeProto* producer = folder_.producer(name);
    if (!producer || !layout_operators.count(producer->op_type()) || producer->input_size() == 0)
      return name;
    name = producer->input(0);
  }
  return name;
}

void Importer::check_shapes(const Layer& layer) const {
  const int64_t gates = gate_count(layer.cell), D = layer.directions, H = layer.hidden;
  const auto expect = [&](const ConstTensor* tensor, const char* what,
                          const std::vector<int64_t>& shape, const char* meaning) {
    if (tensor && tensor->shape != shape)
      fail_at(layer, std::string("input ") + what + " has shape " + shape_string(tensor->shape) +
                         ", expected " + shape_string(shape) + " " + meaning);
  };
  if (layer.W->shape.size() != 3 || layer.W->shape[2] < 1)
    fail_at(layer, "input W has shape " + shape_string(layer.W->shape) + ", expected [D, G*H, I]");
  const std::string gates_text = std::to_string(gates) + " gates";
  expect(layer.W, "W", {D, gates * H, layer.W->shape[2]},
         ("([D, G*H, I] with " + gates_text + ")").c_str());
  expect(layer.R, "R", {D, gates * H, H}, "([D, G*H, H])");
  expect(layer.B, "B", {D, 2 * gates * H}, "([D, 2*G*H]: Wb then Rb)");
  expect(layer.P, "P", {D, 3 * H}, "([D, 3*H]: i, o, f)");
}

}  // namespace lstm::onnx_detail
