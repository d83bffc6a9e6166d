// Model files (SPEC.md §4): a Network as tensors with PyTorch's state_dict names; the
// configuration is inferred from names and shapes and completed by the "config" metadata entry.
#include <algorithm>
#include <cmath>
#include <set>
#include <string>

#include "data/io_detail.hpp"
#include "data/json_text.hpp"
#include "lstm/error.hpp"
#include "lstm/io.hpp"
#include "lstm/onnx.hpp"

namespace lstm {
namespace {

using detail::fail;
using detail::quote_name;
using detail::shape_string;
using nlohmann::json;

// The tensors whose names start with `prefix`, keyed by the rest of the name.
using TensorMap = std::map<std::string, const HostTensor*>;

TensorMap tensors_under(const SafetensorsContents& contents, const std::string& prefix) {
  TensorMap tensors;
  for (const auto& [name, tensor] : contents.tensors)
    if (name.starts_with(prefix)) tensors.emplace(name.substr(prefix.size()), &tensor);
  return tensors;
}

std::string gates_description(int64_t gates) {
  const std::string kind = gates == 4 ? "an LSTM" : gates == 3 ? "a GRU or coupled-gate LSTM" : "an RNN";
  return std::to_string(gates) + (gates == 1 ? " gate" : " gates") + " per unit (" + kind + ")";
}

// Completes `config` (inferred from the shapes) with the metadata entry "config", checking that
// every field it states agrees with the shapes.
void apply_config_metadata(const SafetensorsContents& contents, const std::string& path,
                           NetworkConfig& config) {
  const auto entry = contents.metadata.find("config");
  if (entry == contents.metadata.end()) return;
  const std::string where = "metadata 'config': ";
  json stated;
  try {
    stated = json_text::parse(entry->second);
  } catch (const json::exception&) {
    fail(path, where + "not valid JSON");
  }
  if (!stated.is_object()) fail(path, where + "not a JSON object");

  // The variants that change what the shapes mean come first: with coupled gates, weights of 3
  // gates per unit are an LSTM's (f, g, o), not a GRU's.
  const int64_t gates = gate_count(config);
  for (const auto& [key, member] : {std::pair{"coupled_gates", &NetworkConfig::coupled_gates},
                                    std::pair{"reset_before", &NetworkConfig::reset_before}}) {
    const auto found = stated.find(key);
    if (found == stated.end()) continue;
    if (!found->is_boolean()) fail(path, where + quote_name(key) + " is not true or false");
    config.*member = found->get<bool>();
  }
  if (config.coupled_gates && config.cell == CellType::gru) config.cell = CellType::lstm;
  if (gate_count(config) != gates)  // only coupled_gates changes the count here
    fail(path, where + "says coupled_gates " + (config.coupled_gates ? "true" : "false") + " but the tensors say " +
                   gates_description(gates));

  struct IntField {
    const char* key;
    int64_t NetworkConfig::*member;
  };
  struct BoolField {
    const char* key;
    bool NetworkConfig::*member;
  };
  static const IntField int_fields[] = {{"input_size", &NetworkConfig::input_size},
                                        {"hidden_size", &NetworkConfig::hidden_size},
                                        {"proj_size", &NetworkConfig::proj_size},
                                        {"num_layers", &NetworkConfig::num_layers}};
  static const BoolField bool_fields[] = {{"bidirectional", &NetworkConfig::bidirectional},
                                          {"peephole", &NetworkConfig::peephole},
                                          {"layer_norm", &NetworkConfig::layer_norm},
                                          {"highway", &NetworkConfig::highway},
                                          {"bias", &NetworkConfig::bias}};
  for (const auto& item : stated.items()) {
    const std::string& key = item.key();  // not a structured binding: lambdas below capture it
    const json& value = item.value();
    const auto disagree = [&](const std::string& says, const std::string& shapes_say) {
      fail(path, where + "says " + key + " " + says + " but the tensors say " + shapes_say);
    };
    if (key == "cell") {
      if (!value.is_string()) fail(path, where + "'cell' is not a string");
      CellType cell;
      try {
        cell = parse_cell(value.get<std::string>());
      } catch (const Error& error) {
        fail(path, where + error.what());
      }
      NetworkConfig stated_cell = config;
      stated_cell.cell = cell;
      if (gate_count(stated_cell) != gates) disagree(value.get<std::string>(), gates_description(gates));
      config.cell = cell;
      continue;
    }
    if (key == "coupled_gates" || key == "reset_before") continue;  // read above
    if (key == "residual") {  // not in the tensors: the metadata decides
      if (!value.is_boolean()) fail(path, where + "'residual' is not true or false");
      config.residual = value.get<bool>();
      continue;
    }
    if (key == "dropout" || key == "zoneout") {
      if (!value.is_number()) fail(path, where + quote_name(key) + " is not a number");
      (key == "dropout" ? config.dropout : config.zoneout) = value.get<double>();
      continue;
    }
    const auto int_field = std::find_if(std::begin(int_fields), std::end(int_fields),
                                        [&](const IntField& field) { return key == field.key; });
    if (int_field != std::end(int_fields)) {
      if (!value.is_number_integer()) fail(path, where + quote_name(key) + " is not an integer");
      const int64_t inferred = config.*(int_field->member);
      const bool same = value.is_number_unsigned()
                            ? value.get<uint64_t>() == static_cast<uint64_t>(inferred)
                            : value.get<int64_t>() == inferred;
      if (!same) disagree(json_text::dump(value), std::to_string(inferred));
      continue;
    }
    const auto bool_field = std::find_if(std::begin(bool_fields), std::end(bool_fields),
                                         [&](const BoolField& field) { return key == field.key; });
    if (bool_field != std::end(bool_fields)) {
      if (!value.is_boolean()) fail(path, where + quote_name(key) + " is not true or false");
      const bool inferred = config.*(bool_field->member);
      if (value.get<bool>() != inferred)
        disagree(json_text::dump(value), inferred ? "true" : "false");
      continue;
    }
    fail(path, where + "unknown key " + quote_name(key));
  }
}

}  // namespace

NetworkConfig infer_config(const SafetensorsContents& contents, const std::string& path,
                           const std::string& prefix, const ConfigOverrides& overrides) {
  const TensorMap tensors = tensors_under(contents, prefix);
  const auto find = [&](const std::string& name) -> const HostTensor* {
    const auto found = tensors.find(name);
    return found == tensors.end() ? nullptr : found->second;
  };
  const auto matrix = [&](const std::string& name, bool required) -> const HostTensor* {
    const HostTensor* tensor = find(name);
    if (!tensor && required)
      fail(path, "no tensor " + quote_name(prefix + name) + ": not a recurrent network's weights");
    if (tensor && tensor->shape.size() != 2)
      fail(path, "tensor " + quote_name(prefix + name) + " should be a matrix but has shape " +
                     shape_string(tensor->shape));
    return tensor;
  };
  const HostTensor* weight_ih = matrix("weight_ih_l0", true);
  const HostTensor* weight_hh = matrix("weight_hh_l0", true);
  const HostTensor* weight_hr = matrix("weight_hr_l0", false);

  NetworkConfig config;
  config.input_size = weight_ih->shape[1];
  if (weight_hr) {  // projection: W_hr is [P, H] and W_hh is [G*H, P]
    config.proj_size = weight_hr->shape[0];
    config.hidden_size = weight_hr->shape[1];
  } else {
    config.hidden_size = weight_hh->shape[1];
  }
  const int64_t rows = weight_ih->shape[0], hidden = config.hidden_size;
  const int64_t gates = hidden > 0 && rows % hidden == 0 ? rows / hidden : 0;
  if (gates != 4 && gates != 3 && gates != 1)
    fail(path, "tensor " + quote_name(prefix + "weight_ih_l0") + " has " + std::to_string(rows) +
                   " rows, which is not 4, 3 or 1 times the hidden size " + std::to_string(hidden) +
                   " (taken from " +
                   quote_name(prefix + (weight_hr ? "weight_hr_l0" : "weight_hh_l0")) + ")");
  config.cell = gates == 4 ? CellType::lstm : gates == 3 ? CellType::gru : CellType::rnn_tanh;
  config.num_layers = 0;
  while (find("weight_ih_l" + std::to_string(config.num_layers))) ++config.num_layers;
  config.bidirectional = find("weight_ih_l0_reverse") != nullptr;
  config.peephole = find("weight_peephole_l0") != nullptr;
  config.layer_norm = find("weight_ln_ih_l0") != nullptr;
  if (config.layer_norm && gates == 3) {  // no GRU is layer-normalised: an LSTM's f, g, o
    config.cell = CellType::lstm;
    config.coupled_gates = true;
  }
  config.highway = find("weight_highway_l1") != nullptr;
  config.bias = std::any_of(tensors.begin(), tensors.end(), [](const auto& item) {
    return item.first.starts_with("bias_ih_l") || item.first.starts_with("bias_hh_l");
  });

  apply_config_metadata(contents, path, config);
  if (overrides.cell) {
    NetworkConfig overridden = config;
    overridden.cell = *overrides.cell;
    overridden.coupled_gates = overrides.coupled_gates;
    overridden.reset_before = overrides.reset_before;
    const std::string asked = overrides.coupled_gates  ? "cifg"
                              : overrides.reset_before ? "gru_reset_before"
                                                       : std::string(cell_name(*overrides.cell));
    if (gate_count(overridden) != gates)
      fail(path, "cell " + asked + " was asked for, but the tensors have " + gates_description(gates));
    config = overridden;
  }
  if (overrides.dropout) config.dropout = *overrides.dropout;
  try {
    config.validate();
  } catch (const Error& error) {
    fail(path, error.what());
  }
  return config;
}

Network<float> network_from_tensors(const SafetensorsContents& contents, const std::string& path,
                                    const std::string& prefix, const ConfigOverrides& overrides) {
  const NetworkConfig config = infer_config(contents, path, prefix, overrides);
  const TensorMap tensors = tensors_under(contents, prefix);
  const std::vector<ParameterInfo> layout = parameter_layout(config);
  const std::string network_name = "the network (" + config.describe() + ")";

  // Every check comes before the network is allocated: a small file must not make us allocate
  // a large configuration whose tensors it does not hold.
  std::set<std::string> expected;
  for (const ParameterInfo& info : layout) {
    expected.insert(info.name);
    const std::string name = quote_name(prefix + info.name);
    const auto found = tensors.find(info.name);
    if (found == tensors.end())
      fail(path, "missing tensor " + name + " " + shape_string(info.shape) + " of " + network_name);
    const HostTensor& tensor = *found->second;
    if (tensor.shape != info.shape)
      fail(path, "tensor " + name + " has shape " + shape_string(tensor.shape) + ", expected " +
                     shape_string(info.shape) + " for " + network_name);
    for (size_t k = 0; k < tensor.data.size(); ++k)
      if (!std::isfinite(tensor.data[k]))
        fail(path, "tensor " + name + " has a non-finite value (" +
                       (std::isnan(tensor.data[k]) ? "nan"
                        : tensor.data[k] > 0       ? "inf"
                                                   : "-inf") +
                       ") at flat index " + std::to_string(k));
  }
  for (const auto& item : tensors)
    if (!expected.count(item.first))
      fail(path,
           "unknown tensor " + quote_name(prefix + item.first) + ": not part of " + network_name);

  Network<float> network(config);
  for (const ParameterInfo& info : layout) {
    const std::vector<float>& values = tensors.at(info.name)->data;
    std::copy(values.begin(), values.end(),
              network.parameters().begin() + static_cast<ptrdiff_t>(info.offset));
  }
  return network;
}

Network<float> load_network(const std::string& path, const ConfigOverrides& overrides) {
  const SafetensorsContents contents = read_model_contents(path);
  const bool trained_model =
      std::any_of(contents.tensors.begin(), contents.tensors.end(),
                  [](const auto& item) { return item.first.starts_with("rnn."); });
  return network_from_tensors(contents, path, trained_model ? "rnn." : "", overrides);
}

std::vector<std::pair<std::string, HostTensor>> network_tensors(const Network<float>& network,
                                                                const std::string& prefix) {
  std::vector<std::pair<std::string, HostTensor>> tensors;
  for (const ParameterInfo& info : network.layout()) {
    const auto values = network.parameters().subspan(static_cast<size_t>(info.offset),
                                                     static_cast<size_t>(info.numel));
    tensors.emplace_back(prefix + info.name,
                         HostTensor{info.shape, {values.begin(), values.end()}});
  }
  return tensors;
}

std::string config_metadata(const NetworkConfig& config) {
  nlohmann::ordered_json json;
  json["cell"] = std::string(cell_name(config.cell));
  json["input_size"] = config.input_size;
  json["hidden_size"] = config.hidden_size;
  json["proj_size"] = config.proj_size;
  json["num_layers"] = config.num_layers;
  json["bidirectional"] = config.bidirectional;
  json["peephole"] = config.peephole;
  if (config.coupled_gates) json["coupled_gates"] = true;  // absent when false, as files had it
  if (config.reset_before) json["reset_before"] = true;
  if (config.layer_norm) json["layer_norm"] = true;  // absent otherwise: older readers load the file
  json["bias"] = config.bias;
  json["dropout"] = config.dropout;
  if (config.zoneout > 0) json["zoneout"] = config.zoneout;
  if (config.residual) json["residual"] = true;  // absent otherwise: older readers load the file
  if (config.highway) json["highway"] = true;    // the tensors say it too
  return json_text::dump(json);
}

void save_network(const std::string& path, const Network<float>& network,
                  std::map<std::string, std::string> metadata) {
  metadata["config"] = config_metadata(network.config());
  const auto tensors = network_tensors(network);
  detail::require_finite_tensors(path, tensors);
  write_safetensors(path, tensors, metadata);
}

}  // namespace lstm
