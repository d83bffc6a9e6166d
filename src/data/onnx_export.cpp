// ONNX export: a network as one LSTM/GRU/RNN node per layer (layout 0), joined by
// Transpose + Reshape, with optional sequence_lens and initial-state graph inputs.
#include <onnx/onnx_pb.h>  // defines ONNX_API, then includes onnx-ml.pb.h (ONNX_ML=1)

#include <cstring>

#include "data/io_detail.hpp"
#include "lstm/error.hpp"
#include "lstm/onnx.hpp"

namespace lstm {
namespace {

using detail::fail;

// One of ONNX's gate blocks, taken from our block `block` times `sign` (0: zeros).
struct BlockSource {
  int64_t block;
  float sign;
};

// For ONNX's gate blocks in order, our (PyTorch's): LSTM i,o,f,c <- i,f,g,o; GRU z,r,h <- r,z,n.
// Coupled gates (input_forget=1, where onnxruntime computes f = 1 − i): ONNX's i is our −a_f,
// since σ(−a) = 1 − σ(a), and its f block is ignored (zeros): i,o,f,c <- −f,o,0,g.
std::vector<BlockSource> onnx_gate_source(const NetworkConfig& config) {
  if (config.coupled_gates) return {{0, -1}, {2, 1}, {0, 0}, {1, 1}};
  if (config.cell == CellType::lstm) return {{0, 1}, {3, 1}, {1, 1}, {2, 1}};
  if (config.cell == CellType::gru) return {{1, 1}, {0, 1}, {2, 1}};
  return {{0, 1}};
}

// Peepholes, ONNX i,o,f <- ours i,f,o; coupled: ONNX i,o,f <- ours −f,o,0.
std::vector<BlockSource> onnx_peephole_source(const NetworkConfig& config) {
  if (config.coupled_gates) return {{0, -1}, {1, 1}, {0, 0}};
  return {{0, 1}, {2, 1}, {1, 1}};
}

const char* onnx_operator(CellType cell) {
  return cell == CellType::lstm ? "LSTM" : cell == CellType::gru ? "GRU" : "RNN";
}

// A dimension of a graph input or output: a number, or a name for one known at run time.
struct Dim {
  int64_t value = -1;
  const char* symbol = nullptr;
};

void set_value_info(onnx::ValueInfoProto& info, const std::string& name, int element_type,
                    const std::vector<Dim>& dims) {
  info.set_name(name);
  auto* tensor_type = info.mutable_type()->mutable_tensor_type();
  tensor_type->set_elem_type(element_type);
  auto* shape = tensor_type->mutable_shape();
  for (const Dim& dim : dims) {
    auto* out = shape->add_dim();
    if (dim.symbol)
      out->set_dim_param(dim.symbol);
    else
      out->set_dim_value(dim.value);
  }
}

void add_float_initializer(onnx::GraphProto& graph, const std::string& name,
                           const std::vector<int64_t>& dims, const std::vector<float>& values) {
  auto* tensor = graph.add_initializer();
  tensor->set_name(name);
  tensor->set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t dim : dims) tensor->add_dims(dim);
  std::string raw(values.size() * sizeof(float), '\0');  // little-endian, as x86 holds them
  if (!values.empty()) std::memcpy(raw.data(), values.data(), raw.size());
  tensor->set_raw_data(std::move(raw));
}

void add_int_initializer(onnx::GraphProto& graph, const std::string& name,
                         const std::vector<int64_t>& values) {
  auto* tensor = graph.add_initializer();
  tensor->set_name(name);
  tensor->set_data_type(onnx::TensorProto::INT64);
  tensor->add_dims(static_cast<int64_t>(values.size()));
  for (int64_t value : values) tensor->add_int64_data(value);
}

onnx::NodeProto& add_node(onnx::GraphProto& graph, const std::string& op,
                          const std::vector<std::string>& inputs,
                          const std::vector<std::string>& outputs) {
  auto* node = graph.add_node();
  node->set_op_type(op);
  node->set_name(op + "_" + std::to_string(graph.node_size()));
  for (const auto& input : inputs) node->add_input(input);
  for (const auto& output : outputs) node->add_output(output);
  return *node;
}

void add_int_attribute(onnx::NodeProto& node, const std::string& name, int64_t value) {
  auto* attribute = node.add_attribute();
  attribute->set_name(name);
  attribute->set_type(onnx::AttributeProto::INT);
  attribute->set_i(value);
}

void add_ints_attribute(onnx::NodeProto& node, const std::string& name,
                        const std::vector<int64_t>& values) {
  auto* attribute = node.add_attribute();
  attribute->set_name(name);
  attribute->set_type(onnx::AttributeProto::INTS);
  for (int64_t value : values) attribute->add_ints(value);
}

// Rows of `values` ([G*H, cols] per direction, our gate order) regrouped into ONNX's order.
void append_reordered(std::vector<float>& out, std::span<const float> values,
                      const std::vector<BlockSource>& source, int64_t hidden, int64_t cols) {
  for (const BlockSource& from : source) {
    const auto begin = values.begin() + from.block * hidden * cols;
    for (auto value = begin; value != begin + hidden * cols; ++value)
      out.push_back(from.sign == 0 ? 0.0f : from.sign * *value);
  }
}

// Rows [k*D, (k+1)*D) of the state input `name` for layer k (the whole input when L == 1).
std::string layer_state(onnx::GraphProto& graph, const std::string& name, int64_t layer,
                        int64_t layers, int64_t directions, int opset) {
  if (layers == 1) return name;
  const std::string out = name + "_l" + std::to_string(layer);
  const std::vector<int64_t> starts{layer * directions}, ends{(layer + 1) * directions}, axes{0};
  if (opset < 10) {
    onnx::NodeProto& node = add_node(graph, "Slice", {name}, {out});
    add_ints_attribute(node, "starts", starts);
    add_ints_attribute(node, "ends", ends);
    add_ints_attribute(node, "axes", axes);
  } else {
    add_int_initializer(graph, out + "_starts", starts);
    add_int_initializer(graph, out + "_ends", ends);
    add_int_initializer(graph, out + "_axes", axes);
    add_node(graph, "Slice", {name, out + "_starts", out + "_ends", out + "_axes"}, {out});
  }
  return out;
}

// The optional embedding and head must fit the network.
void check_modules(const OnnxExportOptions& options, const NetworkConfig& config,
                   const std::string& name) {
  if (options.embedding &&
      (options.embedding->shape.size() != 2 || options.embedding->shape[1] != config.input_size ||
       options.embedding->shape[0] < 1))
    fail(name, "embedding table has shape " + detail::shape_string(options.embedding->shape) +
                   ", expected [V, " + std::to_string(config.input_size) + "]");
  if ((options.head_weight == nullptr) != (options.head_bias == nullptr))
    fail(name, "a head needs both its weight and its bias");
  if (!options.head_weight && options.embedding)
    fail(name, "an embedding without a head cannot be exported");
  if (!options.head_weight) return;
  const std::vector<int64_t>& shape = options.head_weight->shape;
  if (shape.size() != 2 || shape[1] != config.layer_output_size() || shape[0] < 1)
    fail(name, "head weight has shape " + detail::shape_string(shape) + ", expected [O, " +
                   std::to_string(config.layer_output_size()) + "]");
  if (options.head_bias->shape != std::vector<int64_t>{shape[0]})
    fail(name, "head bias has shape " + detail::shape_string(options.head_bias->shape) +
                   ", expected [" + std::to_string(shape[0]) + "]");
}

}  // namespace

std::string serialize_onnx(const Network<float>& network, const OnnxExportOptions& options,
                           const std::string& name) {
  const NetworkConfig& config = network.config();
  if (config.proj_size > 0)
    fail(name, "an LSTM with projection (proj_size " + std::to_string(config.proj_size) +
                   ") has no ONNX operator and cannot be exported");
  if (config.layer_norm)
    fail(name, "a layer-normalised LSTM has no ONNX operator and cannot be exported");
  if (config.residual)
    fail(name, "residual connections between layers cannot be exported (ONNX's RNN operators are one layer each)");
  if (config.highway)
    fail(name, "highway gates between layers cannot be exported (ONNX's RNN operators are one layer each)");
  if (options.opset < 9 || options.opset > 17)
    fail(name, "opset " + std::to_string(options.opset) + " is not supported (9 to 17)");
  const int64_t L = config.num_layers, D = config.directions(), H = config.hidden_size;
  const int64_t gates = gate_count(config.cell);  // ONNX's: 4 for every LSTM
  const bool lstm_cell = config.cell == CellType::lstm;

  onnx::ModelProto model;
  model.set_ir_version(options.opset <= 14 ? 7 : 8);
  model.set_producer_name("lstm");
  model.set_producer_version("0.1.0");
  auto* opset = model.add_opset_import();
  opset->set_domain("");
  opset->set_version(options.opset);
  std::map<std::string, std::string> metadata = options.metadata;
  metadata["config"] = config_metadata(config);
  for (const auto& [key, value] : metadata) {
    auto* entry = model.add_metadata_props();
    entry->set_key(key);
    entry->set_value(value);
  }

  onnx::GraphProto& graph = *model.mutable_graph();
  graph.set_name("lstm_" + std::string(cell_name(config.cell)));
  const Dim seq{-1, "seq_len"}, batch{-1, "batch"};
  check_modules(options, config, name);
  std::string layer_input = "input";
  if (options.embedding) {  // tokens [T, B] -> Gather rows of the table -> [T, B, E]
    set_value_info(*graph.add_input(), "tokens", onnx::TensorProto::INT64, {seq, batch});
    add_float_initializer(graph, "embedding.weight", options.embedding->shape,
                          options.embedding->data);
    onnx::NodeProto& gather =
        add_node(graph, "Gather", {"embedding.weight", "tokens"}, {"embedded"});
    add_int_attribute(gather, "axis", 0);
    layer_input = "embedded";
  } else {
    set_value_info(*graph.add_input(), "input", onnx::TensorProto::FLOAT,
                   {seq, batch, {config.input_size}});
  }
  if (options.sequence_lens)
    set_value_info(*graph.add_input(), "sequence_lens", onnx::TensorProto::INT32, {batch});
  if (options.initial_states) {
    set_value_info(*graph.add_input(), "h0", onnx::TensorProto::FLOAT, {{L * D}, batch, {H}});
    if (lstm_cell)
      set_value_info(*graph.add_input(), "c0", onnx::TensorProto::FLOAT, {{L * D}, batch, {H}});
  }
  add_int_initializer(graph, "merge_directions_shape", {0, 0, -1});

  const std::vector<BlockSource> source = onnx_gate_source(config);
  const bool head = options.head_weight != nullptr;
  std::vector<std::string> final_h, final_c;
  for (int64_t k = 0; k < L; ++k) {
    const std::string suffix = "_l" + std::to_string(k);
    const int64_t in = config.layer_input_size(k);
    std::vector<float> W, R, B, P;
    for (int64_t d = 0; d < D; ++d) {
      const std::string tail = suffix + (d == 1 ? "_reverse" : "");
      append_reordered(W, network.parameter("weight_ih" + tail), source, H, in);
      append_reordered(R, network.parameter("weight_hh" + tail), source, H, H);
      if (config.bias) {
        append_reordered(B, network.parameter("bias_ih" + tail), source, H, 1);
        append_reordered(B, network.parameter("bias_hh" + tail), source, H, 1);
      }
      if (config.peephole)
        append_reordered(P, network.parameter("weight_peephole" + tail),
                         onnx_peephole_source(config), H, 1);
    }
    add_float_initializer(graph, "W" + suffix, {D, gates * H, in}, W);
    add_float_initializer(graph, "R" + suffix, {D, gates * H, H}, R);
    std::vector<std::string> inputs{layer_input, "W" + suffix, "R" + suffix, "", "", "", "", ""};
    if (config.bias) {
      add_float_initializer(graph, "B" + suffix, {D, 2 * gates * H}, B);
      inputs[3] = "B" + suffix;
    }
    if (options.sequence_lens) inputs[4] = "sequence_lens";
    if (options.initial_states) {
      inputs[5] = layer_state(graph, "h0", k, L, D, options.opset);
      if (lstm_cell) inputs[6] = layer_state(graph, "c0", k, L, D, options.opset);
    }
    if (config.peephole) {
      add_float_initializer(graph, "P" + suffix, {D, 3 * H}, P);
      inputs[7] = "P" + suffix;
    }
    inputs.resize(lstm_cell ? 8 : 6);
    while (inputs.back().empty()) inputs.pop_back();
    std::vector<std::string> outputs{"Y" + suffix, "Y_h" + suffix};
    if (lstm_cell) outputs.push_back("Y_c" + suffix);
    onnx::NodeProto& node = add_node(graph, onnx_operator(config.cell), inputs, outputs);
    add_int_attribute(node, "hidden_size", H);
    auto* direction = node.add_attribute();
    direction->set_name("direction");
    direction->set_type(onnx::AttributeProto::STRING);
    direction->set_s(D == 2 ? "bidirectional" : "forward");
    if (config.cell == CellType::gru)
      add_int_attribute(node, "linear_before_reset", config.reset_before ? 0 : 1);
    if (config.coupled_gates) add_int_attribute(node, "input_forget", 1);
    if (config.cell == CellType::rnn_relu) {
      auto* activations = node.add_attribute();
      activations->set_name("activations");
      activations->set_type(onnx::AttributeProto::STRINGS);
      for (int64_t d = 0; d < D; ++d) activations->add_strings("Relu");
    }
    // Y [T, D, B, H] -> [T, B, D, H] -> [T, B, D*H]
    onnx::NodeProto& transpose = add_node(graph, "Transpose", {"Y" + suffix}, {"Y_tbdh" + suffix});
    add_ints_attribute(transpose, "perm", {0, 2, 1, 3});
    if (k + 1 < L)
      layer_input = "X_l" + std::to_string(k + 1);
    else
      layer_input = head ? "rnn_output" : "output";
    add_node(graph, "Reshape", {"Y_tbdh" + suffix, "merge_directions_shape"}, {layer_input});
    final_h.push_back("Y_h" + suffix);
    if (lstm_cell) final_c.push_back("Y_c" + suffix);
  }
  const auto join_states = [&](const std::vector<std::string>& parts, const std::string& out) {
    onnx::NodeProto& node =
        add_node(graph, parts.size() == 1 ? "Identity" : "Concat", parts, {out});
    if (parts.size() > 1) add_int_attribute(node, "axis", 0);
  };
  join_states(final_h, "h_n");
  if (lstm_cell) join_states(final_c, "c_n");
  if (head) {
    std::string features = "rnn_output";  // [T, B, D*H]
    if (options.head_last_step) {         // Y_h [D, B, H] -> [B, D, H] -> [B, D*H]
      onnx::NodeProto& transpose = add_node(graph, "Transpose", {final_h.back()}, {"final_h_bdh"});
      add_ints_attribute(transpose, "perm", {1, 0, 2});
      add_int_initializer(graph, "merge_final_shape", {0, -1});
      add_node(graph, "Reshape", {"final_h_bdh", "merge_final_shape"}, {"final_h"});
      features = "final_h";
    }
    const int64_t outputs = options.head_weight->shape[0], width = D * H;
    std::vector<float> transposed(static_cast<size_t>(outputs * width));  // [D*H, O]
    for (int64_t o = 0; o < outputs; ++o)
      for (int64_t k = 0; k < width; ++k)
        transposed[static_cast<size_t>(k * outputs + o)] =
            options.head_weight->data[static_cast<size_t>(o * width + k)];
    add_float_initializer(graph, "head.weight_t", {width, outputs}, transposed);
    add_float_initializer(graph, "head.bias", {outputs}, options.head_bias->data);
    add_node(graph, "MatMul", {features, "head.weight_t"}, {"head_product"});
    add_node(graph, "Add", {"head_product", "head.bias"}, {"output"});
    if (options.head_last_step)
      set_value_info(*graph.add_output(), "output", onnx::TensorProto::FLOAT, {batch, {outputs}});
    else
      set_value_info(*graph.add_output(), "output", onnx::TensorProto::FLOAT,
                     {seq, batch, {outputs}});
  } else {
    set_value_info(*graph.add_output(), "output", onnx::TensorProto::FLOAT, {seq, batch, {D * H}});
  }
  set_value_info(*graph.add_output(), "h_n", onnx::TensorProto::FLOAT, {{L * D}, batch, {H}});
  if (lstm_cell)
    set_value_info(*graph.add_output(), "c_n", onnx::TensorProto::FLOAT, {{L * D}, batch, {H}});

  std::string bytes;
  if (!model.SerializeToString(&bytes))
    fail(name, "the ONNX model could not be serialised (over 2 GiB?)");
  return bytes;
}

void write_onnx(const std::string& path, const Network<float>& network,
                const OnnxExportOptions& options) {
  write_file_atomically(path, serialize_onnx(network, options, path));
}

}  // namespace lstm
