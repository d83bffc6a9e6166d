// NetworkConfig: validation, naming, and the parameter layout with PyTorch's state_dict names.
#include <cmath>
#include <sstream>

#include "lstm/config.hpp"
#include "lstm/error.hpp"

namespace lstm {

int64_t gate_count(CellType cell) {
  switch (cell) {
    case CellType::lstm: return 4;
    case CellType::gru: return 3;
    case CellType::rnn_tanh:
    case CellType::rnn_relu: return 1;
  }
  return 0;
}

int64_t gate_count(const NetworkConfig& config) {
  return config.coupled_gates ? 3 : gate_count(config.cell);
}

std::string_view cell_name(CellType cell) {
  switch (cell) {
    case CellType::lstm: return "lstm";
    case CellType::gru: return "gru";
    case CellType::rnn_tanh: return "rnn_tanh";
    case CellType::rnn_relu: return "rnn_relu";
  }
  return "?";
}

CellType parse_cell(std::string_view name) {
  if (name == "lstm") return CellType::lstm;
  if (name == "gru") return CellType::gru;
  if (name == "rnn_tanh" || name == "rnn") return CellType::rnn_tanh;
  if (name == "rnn_relu") return CellType::rnn_relu;
  throw Error("unknown cell '" + std::string(name) + "' (expected lstm, gru, rnn_tanh or rnn_relu)");
}

void apply_cell_variant(NetworkConfig& config, std::string_view name, bool layer_norm_too) {
  const bool peephole = name == "peephole", coupled = name == "cifg", reset_before = name == "gru_reset_before";
  const bool layer_norm = name == "layer_norm";
  if (peephole || coupled || layer_norm) {
    config.cell = CellType::lstm;
  } else if (reset_before) {
    config.cell = CellType::gru;
  } else {
    try {
      config.cell = parse_cell(name);
    } catch (const Error&) {
      throw Error("unknown cell '" + std::string(name) +
                  "' (expected lstm, peephole, cifg, layer_norm, gru, gru_reset_before, rnn_tanh or rnn_relu)");
    }
  }
  config.peephole = peephole;
  config.coupled_gates = coupled;
  config.reset_before = reset_before;
  config.layer_norm = layer_norm;
  if (!layer_norm_too) return;
  if (config.cell != CellType::lstm || peephole)
    throw Error("--layer-norm is an option of --cell lstm and cifg; it does not combine with --cell " +
                std::string(name));
  config.layer_norm = true;
}

void NetworkConfig::validate() const {
  auto fail = [](const std::string& what) { throw Error("invalid network configuration: " + what); };
  if (input_size < 1) fail("input size must be at least 1, got " + std::to_string(input_size));
  if (hidden_size < 1) fail("hidden size must be at least 1, got " + std::to_string(hidden_size));
  if (num_layers < 1) fail("number of layers must be at least 1, got " + std::to_string(num_layers));
  if (proj_size < 0) fail("projection size must not be negative");
  if (proj_size > 0 && cell != CellType::lstm) fail("projection (proj_size) exists only for LSTM");
  if (proj_size >= hidden_size && proj_size > 0)
    fail("projection size " + std::to_string(proj_size) + " must be smaller than hidden size " +
         std::to_string(hidden_size));
  if (peephole && cell != CellType::lstm) fail("peephole connections exist only for LSTM");
  if (coupled_gates && cell != CellType::lstm) fail("coupled input and forget gates exist only for LSTM");
  if (reset_before && cell != CellType::gru) fail("the reset gate before the product (reset_before) exists only for GRU");
  if (layer_norm && cell != CellType::lstm) fail("layer normalisation (layer_norm) exists only for LSTM");
  if (layer_norm && peephole) fail("layer normalisation and peephole connections do not combine");
  if (highway && num_layers < 2)
    fail("highway gates (highway) connect stacked layers: they need 2 layers or more, got " +
         std::to_string(num_layers));
  if (highway && residual)
    fail("highway gates (highway) and residual connections (residual) do not combine: choose one");
  if (!(dropout >= 0.0 && dropout < 1.0)) fail("dropout must be in [0, 1)");
  if (!(zoneout >= 0.0 && zoneout < 1.0)) fail("zoneout must be in [0, 1)");
  const int64_t limit = int64_t{1} << 24;
  if (input_size > limit || hidden_size > limit || num_layers > 1024)
    fail("sizes are implausibly large");
}

std::string NetworkConfig::describe() const {
  std::ostringstream out;
  out << cell_name(cell) << " input=" << input_size << " hidden=" << hidden_size;
  if (proj_size > 0) out << " proj=" << proj_size;
  out << " layers=" << num_layers;
  if (bidirectional) out << " bidirectional";
  if (peephole) out << " peephole";
  if (coupled_gates) out << " coupled-gates";
  if (reset_before) out << " reset-before";
  if (layer_norm) out << " layer-norm";
  if (!bias) out << " no-bias";
  if (dropout > 0) out << " dropout=" << dropout;
  if (zoneout > 0) out << " zoneout=" << zoneout;
  if (residual) out << " residual";
  if (highway) out << " highway";
  return out.str();
}

std::vector<ParameterInfo> parameter_layout(const NetworkConfig& config) {
  config.validate();
  std::vector<ParameterInfo> layout;
  int64_t offset = 0;
  auto add = [&](std::string name, std::vector<int64_t> shape) {
    int64_t numel = 1;
    for (int64_t extent : shape) numel *= extent;
    layout.push_back({std::move(name), std::move(shape), offset, numel});
    offset += numel;
  };
  const int64_t gates = gate_count(config) * config.hidden_size;
  for (int64_t layer = 0; layer < config.num_layers; ++layer) {
    for (int64_t direction = 0; direction < config.directions(); ++direction) {
      const std::string suffix = std::to_string(layer) + (direction ? "_reverse" : "");
      add("weight_ih_l" + suffix, {gates, config.layer_input_size(layer)});
      add("weight_hh_l" + suffix, {gates, config.output_size()});
      if (config.bias) {
        add("bias_ih_l" + suffix, {gates});
        add("bias_hh_l" + suffix, {gates});
      }
      if (config.proj_size > 0) add("weight_hr_l" + suffix, {config.proj_size, config.hidden_size});
      if (config.peephole) add("weight_peephole_l" + suffix, {config.peephole_size()});
      if (config.layer_norm) {  // contiguous: the cell reads them as one [2GH+2H] block
        add("weight_ln_ih_l" + suffix, {gates});
        add("weight_ln_hh_l" + suffix, {gates});
        add("weight_ln_c_l" + suffix, {config.hidden_size});
        add("bias_ln_c_l" + suffix, {config.hidden_size});
      }
    }
  }
  for (int64_t layer = 1; config.highway && layer < config.num_layers; ++layer) {
    add("weight_highway_l" + std::to_string(layer), {config.layer_output_size(), config.layer_output_size()});
    add("bias_highway_l" + std::to_string(layer), {config.layer_output_size()});
  }
  return layout;
}

}  // namespace lstm
