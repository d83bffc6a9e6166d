// ONNX import: recognises one LSTM/GRU/RNN node per layer (as torch.onnx.export and the ONNX
// operator tests write them) and returns the network's tensors with PyTorch's names.
#include <algorithm>
#include <climits>

#include "data/onnx_importer.hpp"
#include "lstm/error.hpp"
#include "lstm/onnx.hpp"

namespace lstm {
namespace onnx_detail {

using detail::fail;
using detail::quote_name;
using detail::shape_string;

SafetensorsContents Importer::run(const onnx::ModelProto& model) {
  std::vector<Layer> layers;
  const ConstTensor* embedding = nullptr;
  for (int index = 0; index < graph_.node_size(); ++index) {
    const onnx::NodeProto& node = graph_.node(index);
    const std::string& op = node.op_type();
    const bool default_domain = node.domain().empty() || node.domain() == "ai.onnx";
    const bool recurrent = op == "LSTM" || op == "GRU" || op == "RNN";
    if (!default_domain ||
        (!recurrent && !plumbing_operators.count(op) && !module_operators.count(op)))
      fail(file_,
           node_label(node, index) + ": operator " + quote_name(op) +
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
          layer.input_forget != previous.input_forget || layer.reset_before != previous.reset_before ||
          layer.directions != previous.directions ||
          (layer.B == nullptr) != (previous.B == nullptr) ||
          (layer.P == nullptr) != (previous.P == nullptr))
        fail_at(layer,
                "differs from " + previous.label +
                    " in cell, input_forget, linear_before_reset, hidden_size, direction, bias or "
                    "peepholes; lstm's layers are alike");
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
                              folder_.value(node.input(0)) &&
                              !folder_.value(node.input(0))->integer;
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
  config.coupled_gates = first.input_forget;
  config.reset_before = first.reset_before;
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
  const int64_t gates = gate_count(config.cell), H = config.hidden_size;  // ONNX's: 4 for an LSTM
  const std::vector<OnnxBlock> source = gate_source(config.cell, config.coupled_gates);
  // Rows [block*H, block*H + H) of direction d of `tensor` ([D, rows, cols]), blocks reordered
  // (and negated where the source says so).
  const auto reorder = [&](const ConstTensor& tensor, int64_t d, int64_t row_offset,
                           const std::vector<OnnxBlock>& blocks, int64_t cols) {
    const int64_t rows_per_direction = tensor.shape[1];
    std::vector<float> out;
    for (const OnnxBlock& from : blocks) {
      const int64_t start = (d * rows_per_direction + row_offset + from.block * H) * cols;
      for (int64_t k = start; k < start + H * cols; ++k)
        out.push_back(from.sign * tensor.floats[static_cast<size_t>(k)]);
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
      values = reorder(*layer.P, d, 0, peephole_source(config.coupled_gates), 1);
    else
      fail(file_, "internal: no ONNX source for tensor " + quote_name(info.name));
    contents.tensors.emplace_back(prefix + info.name, HostTensor{info.shape, std::move(values)});
  }
  if (head && head->last_step) {
    const auto stated = contents.metadata.find("sequence_model");
    if (stated == contents.metadata.end())
      contents.metadata["sequence_model"] = R"({"head_mode":"last_step"})";
    else if (stated->second.find("last_step") == std::string::npos)
      fail(file_,
           "metadata 'sequence_model' does not say last_step, but the head reads the final state");
  }
  if (head) {  // a sequence model: names as its PyTorch module's (SequenceModel's) state_dict
    contents.tensors.emplace_back(
        "head.weight", HostTensor{{head->outputs, config.layer_output_size()}, head->weight});
    contents.tensors.emplace_back("head.bias", HostTensor{{head->outputs}, head->bias});
  }
  if (embedding)
    contents.tensors.emplace_back("embedding.weight",
                                  HostTensor{embedding->shape, embedding->floats});
  return contents;
}

}  // namespace onnx_detail

using detail::fail;

SafetensorsContents parse_onnx(const std::string& name, const unsigned char* bytes, size_t size) {
  if (size > static_cast<size_t>(INT_MAX)) fail(name, "ONNX files over 2 GiB are not supported");
  onnx::ModelProto model;
  if (!model.ParseFromArray(bytes, static_cast<int>(size)))
    fail(name,
         "not a valid ONNX model (the protobuf message does not parse; truncated or not ONNX?)");
  if (!model.has_graph()) fail(name, "the ONNX model has no graph");
  onnx_detail::Importer importer(name, model.graph());
  return importer.run(model);
}

SafetensorsContents read_onnx(const std::string& path) {
  const std::vector<unsigned char> bytes = detail::read_file_bytes(path);
  return parse_onnx(path, bytes.data(), bytes.size());
}

bool is_onnx_path(const std::string& path) {
  if (path.size() < 5) return false;
  std::string tail = path.substr(path.size() - 5);
  std::transform(tail.begin(), tail.end(), tail.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return tail == ".onnx";
}

SafetensorsContents read_model_contents(const std::string& path) {
  return is_onnx_path(path) ? read_onnx(path) : read_safetensors(path);
}

}  // namespace lstm
