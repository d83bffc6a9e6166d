// ONNX import: recognises one LSTM/GRU/RNN node per layer (as torch.onnx.export and the ONNX
// operator tests write them) and returns the network's tensors with PyTorch's names.
#include <algorithm>
#include <climits>
#include <optional>
#include <set>

#include "data/io_detail.hpp"
#include "data/onnx_constants.hpp"
#include "lstm/error.hpp"
#include "lstm/onnx.hpp"

namespace lstm {
namespace {

using detail::fail;
using detail::quote_name;
using detail::shape_string;
using onnx_detail::ConstantFolder;
using onnx_detail::ConstTensor;
using onnx_detail::node_label;

// Operators that may appear in an importable graph besides the recurrent nodes: the weight
// reordering and layout plumbing torch.onnx.export writes, and the zero initial states it
// builds with Shape/Gather/Expand.
const std::set<std::string> plumbing_operators = {
    "Constant", "Identity", "Cast",   "Unsqueeze", "Squeeze",         "Reshape", "Transpose",
    "Concat",   "Slice",    "Shape",  "Gather",    "ConstantOfShape", "Expand",  "Dropout"};
// Operators allowed only as part of a recognised embedding (Gather) or linear head
// (MatMul + Add, or Gemm): anywhere else they are an error.
const std::set<std::string> module_operators = {"MatMul", "Add", "Gemm"};
// Operators that only move data between layers (X of layer k from Y of layer k-1).
const std::set<std::string> layout_operators = {"Transpose", "Reshape", "Squeeze",
                                                "Unsqueeze", "Identity", "Dropout"};

// For PyTorch's gate block j, the ONNX block it comes from.
std::vector<int64_t> gate_source(CellType cell) {
  if (cell == CellType::lstm) return {0, 2, 3, 1};  // PyTorch i,f,g,o <- ONNX i,o,f,c
  if (cell == CellType::gru) return {1, 0, 2};      // PyTorch r,z,n <- ONNX z,r,h
  return {0};
}

// A linear head after the last layer: y = x Wᵀ + b.
struct Head {
  std::vector<float> weight;  // [O, Hcat] (PyTorch's Linear.weight)
  std::vector<float> bias;    // [O]
  int64_t outputs = 0;        // O
};

// One recurrent node, its attributes read and its constant inputs evaluated.
struct Layer {
  const onnx::NodeProto* node = nullptr;
  std::string label;
  CellType cell = CellType::lstm;
  int64_t hidden = 0;
  int64_t directions = 1;
  const ConstTensor* W = nullptr;  // [D, G*H, I]
  const ConstTensor* R = nullptr;  // [D, G*H, H]
  const ConstTensor* B = nullptr;  // [D, 2*G*H] or null
  const ConstTensor* P = nullptr;  // [D, 3H] or null (LSTM)
};

class Importer {
 public:
  Importer(const std::string& file, const onnx::GraphProto& graph)
      : file_(file), graph_(graph), folder_(graph, file) {}

  SafetensorsContents run(const onnx::ModelProto& model);

 private:
  [[noreturn]] void fail_at(const Layer& layer, const std::string& what) const {
    fail(file_, layer.label + ": " + what);
  }
  void read_attributes(Layer& layer) const;
  const ConstTensor* constant_input(Layer& layer, int position, const char* what, bool required);
  void check_initial_state(const Layer& layer, int position, const char* what);
  std::string trace_back(std::string name) const;
  void check_shapes(const Layer& layer) const;

  // The embedding table if layer 0's input is a Gather from a constant [V, E] float table.
  const ConstTensor* find_embedding(const std::string& origin);
  // The linear head fed by the last layer's output Y, if any.
  std::optional<Head> find_head(const Layer& last, int64_t width);
  // The one node that reads `name`, or -1 (none, or several).
  int sole_consumer(const std::string& name) const;

  const std::string& file_;
  const onnx::GraphProto& graph_;
  ConstantFolder folder_;
  std::set<int> claimed_;  // module_operators nodes (and the embedding Gather) recognised
};

int Importer::sole_consumer(const std::string& name) const {
  int found = -1;
  for (int index = 0; index < graph_.node_size(); ++index)
    for (const auto& input : graph_.node(index).input())
      if (input == name) {
        if (found >= 0 && found != index) return -1;
        found = index;
      }
  return found;
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
    fail(file_, label + ": embedding table has shape " + shape_string(table->shape) + ", expected [V, E]");
  std::string indices = node.input(1);
  while (const onnx::NodeProto* producer = folder_.producer(indices)) {
    if (producer->op_type() != "Cast" || producer->input_size() == 0) break;
    indices = producer->input(0);
  }
  if (!folder_.is_graph_input(indices))
    fail(file_, label + ": the embedding's indices (" + quote_name(indices) + ") are not a graph input");
  claimed_.insert(index);
  return table;
}

std::optional<Head> Importer::find_head(const Layer& last, int64_t width) {
  if (last.node->output_size() == 0 || last.node->output(0).empty()) return std::nullopt;
  std::string name = last.node->output(0);
  int index = sole_consumer(name);
  for (int steps = 0; index >= 0 && steps <= graph_.node_size(); ++steps) {
    const onnx::NodeProto& node = graph_.node(index);
    if (!layout_operators.count(node.op_type()) || node.output_size() != 1) break;
    name = node.output(0);
    index = sole_consumer(name);
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
      else if (!(unit && attribute.f() == 1.0f) && !(attribute.name() == "transA" && attribute.i() == 0))
        fail(file_, label + ": attribute " + quote_name(attribute.name()) + " is not supported in a head");
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
      const std::string other = add.input_size() == 2 ? add.input(add.input(0) == node.output(0) ? 1 : 0) : "";
      bias = other.empty() ? nullptr : folder_.value(other);
      if (!bias) fail(file_, node_label(add, add_index) + ": the head's bias is not a constant");
      claimed_.insert(add_index);
    }
  }
  Head head;
  head.outputs = outputs;
  head.weight.resize(static_cast<size_t>(outputs * in));
  for (int64_t o = 0; o < outputs; ++o)
    for (int64_t k = 0; k < in; ++k)
      head.weight[static_cast<size_t>(o * in + k)] =
          matrix->floats[static_cast<size_t>(transposed ? o * in + k : k * outputs + o)];
  head.bias.assign(static_cast<size_t>(outputs), 0.0f);
  if (bias) {
    if (bias->integer || bias->numel() != outputs)
      fail(file_, label + ": the head's bias has shape " + shape_string(bias->shape) + ", expected [" +
                      std::to_string(outputs) + "]");
    head.bias = bias->floats;
  }
  return head;
}

void Importer::read_attributes(Layer& layer) const {
  const onnx::NodeProto& node = *layer.node;
  const std::string& op = node.op_type();
  std::vector<std::string> activations;
  bool linear_before_reset = false;
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
      fail_at(layer, said + " = " + std::to_string(attribute.f()) + " is not supported (no clipping)");
    } else if (name == "input_forget" && op == "LSTM") {
      if (attribute.i() != 0)
        fail_at(layer, said + " = " + std::to_string(attribute.i()) +
                           " (coupled input and forget gates) is not supported");
    } else if (name == "linear_before_reset" && op == "GRU") {
      linear_before_reset = attribute.i() != 0;
    } else if (name == "layout") {
      if (attribute.i() != 0 && attribute.i() != 1)
        fail_at(layer, said + " = " + std::to_string(attribute.i()) + " is not 0 or 1");
    } else {
      fail_at(layer, "unknown " + said);
    }
  }
  if (op == "GRU" && !linear_before_reset)
    fail_at(layer, "attribute 'linear_before_reset' = 0 (ONNX's default: the reset gate applied "
                   "before the recurrent product) is not supported; lstm's GRU is PyTorch's, "
                   "linear_before_reset = 1");
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
    fail_at(layer, "attribute 'activations' = [" + listed + "] is not supported (only the defaults" +
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
  if (folder_.is_graph_input(name)) return;
  const onnx::NodeProto* producer = folder_.producer(name);
  if (producer && (producer->op_type() == "Expand" || producer->op_type() == "ConstantOfShape")) {
    if (producer->op_type() == "ConstantOfShape") {
      bool zero = true;  // absent value: zeros
      for (const auto& attribute : producer->attribute())
        if (attribute.name() == "value") {
          const ConstTensor value = onnx_detail::decode_tensor(attribute.t(), file_, layer.label, 1);
          zero = value.integer ? value.ints == std::vector<int64_t>{0}
                               : value.floats == std::vector<float>{0.0f};
        }
      if (zero) return;
    } else if (producer->input_size() > 0) {
      const ConstTensor* value = folder_.value(producer->input(0));
      if (value && std::all_of(value->floats.begin(), value->floats.end(), [](float v) { return v == 0.0f; }) &&
          std::all_of(value->ints.begin(), value->ints.end(), [](int64_t v) { return v == 0; }))
        return;
    }
  } else if (const ConstTensor* value = folder_.value(name)) {
    if (std::all_of(value->floats.begin(), value->floats.end(), [](float v) { return v == 0.0f; }) &&
        value->ints.empty())
      return;
  }
  fail_at(layer, std::string("input ") + what + " (" + quote_name(name) +
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
  expect(layer.W, "W", {D, gates * H, layer.W->shape[2]}, ("([D, G*H, I] with " + gates_text + ")").c_str());
  expect(layer.R, "R", {D, gates * H, H}, "([D, G*H, H])");
  expect(layer.B, "B", {D, 2 * gates * H}, "([D, 2*G*H]: Wb then Rb)");
  expect(layer.P, "P", {D, 3 * H}, "([D, 3*H]: i, o, f)");
}

SafetensorsContents Importer::run(const onnx::ModelProto& model) {
  std::vector<Layer> layers;
  const ConstTensor* embedding = nullptr;
  for (int index = 0; index < graph_.node_size(); ++index) {
    const onnx::NodeProto& node = graph_.node(index);
    const std::string& op = node.op_type();
    const bool default_domain = node.domain().empty() || node.domain() == "ai.onnx";
    const bool recurrent = op == "LSTM" || op == "GRU" || op == "RNN";
    if (!default_domain || (!recurrent && !plumbing_operators.count(op) && !module_operators.count(op)))
      fail(file_, node_label(node, index) + ": operator " + quote_name(op) +
                      (default_domain ? "" : " of domain " + quote_name(node.domain())) +
                      " is not supported (only LSTM, GRU or RNN nodes and the reshaping around them)");
    if (!recurrent) continue;
    Layer layer;
    layer.node = &node;
    layer.label = node_label(node, index);
    layer.cell = op == "LSTM" ? CellType::lstm : op == "GRU" ? CellType::gru : CellType::rnn_tanh;
    read_attributes(layer);
    layer.W = constant_input(layer, 1, "W", true);
    layer.R = constant_input(layer, 2, "R", true);
    layer.B = constant_input(layer, 3, "B", false);
    if (op == "LSTM") layer.P = constant_input(layer, 7, "P", false);
    if (layer.R->shape.size() == 3 && layer.hidden == 0) layer.hidden = layer.R->shape[2];
    if (layer.hidden == 0) fail_at(layer, "no attribute 'hidden_size' and R is not [D, G*H, H]");
    check_shapes(layer);
    check_initial_state(layer, 5, "initial_h");
    if (op == "LSTM") check_initial_state(layer, 6, "initial_c");
    if (node.input_size() == 0 || node.input(0).empty()) fail_at(layer, "has no input X");
    const std::string origin = trace_back(node.input(0));
    if (layers.empty()) {
      embedding = find_embedding(origin);
      if (embedding && embedding->shape[1] != layer.W->shape[2])
        fail_at(layer, "input size " + std::to_string(layer.W->shape[2]) +
                           " is not the embedding's width " + std::to_string(embedding->shape[1]));
      if (!embedding && !folder_.is_graph_input(origin))
        fail_at(layer, "input X comes from " + quote_name(origin) + ", which is not a graph input");
    } else {
      const Layer& previous = layers.back();
      if (previous.node->output_size() == 0 || origin != previous.node->output(0))
        fail_at(layer, "input X comes from " + quote_name(origin) +
                           ", not from the output Y of the previous layer, " + previous.label);
      if (layer.cell != previous.cell || layer.hidden != previous.hidden ||
          layer.directions != previous.directions || (layer.B == nullptr) != (previous.B == nullptr) ||
          (layer.P == nullptr) != (previous.P == nullptr))
        fail_at(layer, "differs from " + previous.label +
                           " in cell, hidden_size, direction, bias or peepholes; lstm's layers are alike");
      if (layer.W->shape[2] != previous.directions * previous.hidden)
        fail_at(layer, "input size " + std::to_string(layer.W->shape[2]) +
                           " is not the previous layer's output width " +
                           std::to_string(previous.directions * previous.hidden));
    }
    layers.push_back(layer);
  }
  if (layers.empty()) fail(file_, "the graph has no LSTM, GRU or RNN node");
  const std::optional<Head> head =
      find_head(layers.back(), layers.back().directions * layers.back().hidden);
  for (int index = 0; index < graph_.node_size(); ++index) {
    const onnx::NodeProto& node = graph_.node(index);
    const bool float_gather = node.op_type() == "Gather" && node.input_size() > 0 &&
                              folder_.value(node.input(0)) && !folder_.value(node.input(0))->integer;
    if ((module_operators.count(node.op_type()) || float_gather) && !claimed_.count(index))
      fail(file_, node_label(node, index) + ": operator " + quote_name(node.op_type()) +
                      " is not supported here (only as the embedding before the first layer or "
                      "the linear head after the last)");
  }
  if (embedding && !head)
    fail(file_, "an embedding without a linear head after the last layer is not supported");

  const Layer& first = layers.front();
  NetworkConfig config;
  config.cell = first.cell;
  config.input_size = first.W->shape[2];
  config.hidden_size = first.hidden;
  config.num_layers = static_cast<int64_t>(layers.size());
  config.bidirectional = first.directions == 2;
  config.peephole = first.P != nullptr;
  config.bias = first.B != nullptr;
  try {
    config.validate();
  } catch (const Error& error) {
    fail(file_, error.what());
  }

  SafetensorsContents contents;
  for (const auto& entry : model.metadata_props()) contents.metadata[entry.key()] = entry.value();
  if (!contents.metadata.count("config")) contents.metadata["config"] = config_metadata(config);

  const std::string prefix = head ? "rnn." : "";  // a trained model's network is under "rnn."
  const int64_t gates = gate_count(config.cell), H = config.hidden_size;
  const std::vector<int64_t> source = gate_source(config.cell);
  // Rows [block*H, block*H + H) of direction d of `tensor` ([D, rows, cols]), blocks reordered.
  const auto reorder = [&](const ConstTensor& tensor, int64_t d, int64_t row_offset,
                           const std::vector<int64_t>& blocks, int64_t cols) {
    const int64_t rows_per_direction = tensor.shape[1];
    std::vector<float> out;
    for (int64_t block : blocks) {
      const int64_t start = (d * rows_per_direction + row_offset + block * H) * cols;
      out.insert(out.end(), tensor.floats.begin() + start, tensor.floats.begin() + start + H * cols);
    }
    return out;
  };
  for (const ParameterInfo& info : parameter_layout(config)) {
    // info.name: weight_ih_l{k}{s}, ...; find k and s.
    const size_t at = info.name.find("_l") + 2;
    const int64_t k = std::stoll(info.name.substr(at));
    const int64_t d = info.name.ends_with("_reverse") ? 1 : 0;
    const Layer& layer = layers[static_cast<size_t>(k)];
    std::vector<float> values;
    if (info.name.starts_with("weight_ih"))
      values = reorder(*layer.W, d, 0, source, layer.W->shape[2]);
    else if (info.name.starts_with("weight_hh"))
      values = reorder(*layer.R, d, 0, source, H);
    else if (info.name.starts_with("bias_ih"))
      values = reorder(*layer.B, d, 0, source, 1);
    else if (info.name.starts_with("bias_hh"))
      values = reorder(*layer.B, d, gates * H, source, 1);
    else if (info.name.starts_with("weight_peephole"))
      values = reorder(*layer.P, d, 0, {0, 2, 1}, 1);  // ours i,f,o <- ONNX i,o,f
    else
      fail(file_, "internal: no ONNX source for tensor " + quote_name(info.name));
    contents.tensors.emplace_back(prefix + info.name, HostTensor{info.shape, std::move(values)});
  }
  if (head) {  // a sequence model: names as its PyTorch module's (SequenceModel's) state_dict
    contents.tensors.emplace_back("head.weight", HostTensor{{head->outputs, config.layer_output_size()}, head->weight});
    contents.tensors.emplace_back("head.bias", HostTensor{{head->outputs}, head->bias});
  }
  if (embedding) contents.tensors.emplace_back("embedding.weight", HostTensor{embedding->shape, embedding->floats});
  return contents;
}

}  // namespace

SafetensorsContents parse_onnx(const std::string& name, const unsigned char* bytes, size_t size) {
  if (size > static_cast<size_t>(INT_MAX)) fail(name, "ONNX files over 2 GiB are not supported");
  onnx::ModelProto model;
  if (!model.ParseFromArray(bytes, static_cast<int>(size)))
    fail(name, "not a valid ONNX model (the protobuf message does not parse; truncated or not ONNX?)");
  if (!model.has_graph()) fail(name, "the ONNX model has no graph");
  Importer importer(name, model.graph());
  return importer.run(model);
}

SafetensorsContents read_onnx(const std::string& path) {
  const std::vector<unsigned char> bytes = detail::read_file_bytes(path);
  return parse_onnx(path, bytes.data(), bytes.size());
}

bool is_onnx_path(const std::string& path) {
  if (path.size() < 5) return false;
  std::string tail = path.substr(path.size() - 5);
  std::transform(tail.begin(), tail.end(), tail.begin(), [](unsigned char c) { return std::tolower(c); });
  return tail == ".onnx";
}

SafetensorsContents read_model_contents(const std::string& path) {
  return is_onnx_path(path) ? read_onnx(path) : read_safetensors(path);
}

}  // namespace lstm
