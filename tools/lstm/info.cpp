// `lstm info`: describes a safetensors file: the network it holds, its tensors, its metadata.
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <memory>
#include <optional>

#include "commands.hpp"
#include "data/json_text.hpp"
#include "lstm/precision.hpp"

namespace lstm_cli {
namespace {

struct InfoOptions {
  std::string file;
  bool json = false;
  bool system = false;
};

// The CPU, the instruction-set paths it supports, the one in force and the precisions it offers.
nlohmann::ordered_json system_json() {
  nlohmann::ordered_json paths = nlohmann::ordered_json::array();
  for (const lstm::Isa isa : lstm::all_isas())
    if (lstm::isa_supported(isa)) paths.push_back(lstm::isa_name(isa));
  nlohmann::ordered_json precisions = {"fp32"};
  if (lstm::bf16_available()) precisions.push_back("bf16");
  precisions.push_back("int8");
  return {{"cpu", lstm::cpu_name()},
          {"features", lstm::cpu_features()},
          {"paths", paths},
          {"best", lstm::isa_name(lstm::cpu_isa())},
          {"in_force", lstm::isa_name(lstm::active_isa())},
          {"precisions", precisions},
          {"int8_kernel", lstm::int8_kernel_name()},
          {"blas", lstm::blas_kernels()},
          {"threads", lstm::num_threads()}};
}

void print_system(const nlohmann::ordered_json& s) {
  std::cout << "cpu: " << s["cpu"].get<std::string>() << '\n'
            << "features: " << s["features"].get<std::string>() << '\n'
            << "paths:";
  for (const auto& path : s["paths"]) std::cout << ' ' << path.get<std::string>();
  std::cout << "\nin force: " << s["in_force"].get<std::string>() << " (best "
            << s["best"].get<std::string>() << "; LSTM_MAX_ISA caps it)\nprecisions:";
  for (const auto& p : s["precisions"]) std::cout << ' ' << p.get<std::string>();
  std::cout << " (int8 products: " << s["int8_kernel"].get<std::string>() << ")";
  std::cout << "\nblas: " << s["blas"].get<std::string>();
  std::cout << "\nthreads: " << s["threads"].get<int>() << '\n';
}

// The file's contents and, if its tensors form a network, that network's configuration.
struct FileInfo {
  lstm::SafetensorsContents contents;
  std::string prefix;
  std::optional<lstm::NetworkConfig> config;
  int64_t num_parameters = 0;
  lstm::ParameterBytes bytes;
  std::string network_error;  // why the tensors are not a network, if they are not
  bool in_network(const std::string& name) const {
    return config.has_value() && name.starts_with(prefix);
  }
};

FileInfo inspect(const std::string& path) {
  FileInfo info;
  info.contents = lstm::read_model_contents(path);  // .safetensors or .onnx
  info.prefix = network_prefix(info.contents);
  try {
    const lstm::Network<float> network =
        lstm::network_from_tensors(info.contents, path, info.prefix);
    info.config = network.config();
    info.num_parameters = network.num_parameters();
    info.bytes = lstm::parameter_bytes(network.config());
  } catch (const lstm::Error& error) {
    info.network_error = error.what();  // a valid file that is not a model (states, gradients)
  }
  return info;
}

nlohmann::ordered_json to_json(const std::string& path, const FileInfo& info) {
  nlohmann::ordered_json out;
  out["file"] = path;
  if (info.config) {
    const lstm::NetworkConfig& config = *info.config;
    out["network"] = {{"cell", std::string(lstm::cell_name(config.cell))},
                      {"input_size", config.input_size},
                      {"hidden_size", config.hidden_size},
                      {"proj_size", config.proj_size},
                      {"num_layers", config.num_layers},
                      {"bidirectional", config.bidirectional},
                      {"peephole", config.peephole},
                      {"coupled_gates", config.coupled_gates},
                      {"reset_before", config.reset_before},
                      {"bias", config.bias},
                      {"dropout", config.dropout},
                      {"description", config.describe()},
                      {"prefix", info.prefix},
                      {"num_parameters", info.num_parameters},
                      {"bytes_fp32", info.bytes.fp32},
                      {"bytes_int8", info.bytes.int8}};
  } else {
    out["network"] = nullptr;
    out["network_error"] = info.network_error;
  }
  out["tensors"] = nlohmann::ordered_json::array();
  for (const auto& [name, tensor] : info.contents.tensors)
    out["tensors"].push_back({{"name", name},
                              {"shape", tensor.shape},
                              {"count", shape_numel(tensor.shape)},
                              {"part", info.in_network(name) ? "network" : "other"}});
  out["metadata"] = info.contents.metadata;
  return out;
}

std::string mebibytes(int64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f MiB", static_cast<double>(bytes) / (1 << 20));
  return text;
}

void print_tensor_table(const FileInfo& info, bool network_part) {
  size_t name_width = 4, shape_width = 5;
  for (const auto& [name, tensor] : info.contents.tensors) {
    name_width = std::max(name_width, name.size());
    shape_width = std::max(shape_width, shape_string(tensor.shape).size());
  }
  for (const auto& [name, tensor] : info.contents.tensors) {
    if (info.in_network(name) != network_part) continue;
    std::cout << "  " << std::left << std::setw(static_cast<int>(name_width)) << name << "  "
              << std::setw(static_cast<int>(shape_width)) << shape_string(tensor.shape) << "  "
              << std::right << shape_numel(tensor.shape) << '\n';
  }
}

void print_text(const std::string& path, const FileInfo& info) {
  std::cout << "file:       " << path << '\n';
  if (info.config) {
    std::cout << "network:    " << info.config->describe() << '\n';
    if (!info.prefix.empty()) std::cout << "prefix:     " << info.prefix << '\n';
    std::cout << "parameters: " << info.num_parameters << '\n';
    std::cout << "in memory:  " << mebibytes(info.bytes.fp32) << " fp32, " << mebibytes(info.bytes.int8)
              << " with --precision int8\n";
    std::cout << "network tensors (name, shape, count):\n";
    print_tensor_table(info, true);
    const bool has_others =
        std::any_of(info.contents.tensors.begin(), info.contents.tensors.end(),
                    [&](const auto& entry) { return !info.in_network(entry.first); });
    if (has_others) {
      std::cout << "other tensors:\n";
      print_tensor_table(info, false);
    }
  } else {
    std::cout << "network:    none (" << info.network_error << ")\n";
    std::cout << "tensors (name, shape, count):\n";
    print_tensor_table(info, false);
  }
  if (info.contents.metadata.empty()) return;
  std::cout << "metadata:\n";
  constexpr size_t max_shown = 100;
  for (const auto& [key, value] : info.contents.metadata) {
    std::string shown = value.substr(0, max_shown);
    std::replace(shown.begin(), shown.end(), '\n', ' ');
    if (value.size() > max_shown) shown += "... (" + std::to_string(value.size()) + " bytes)";
    std::cout << "  " << key << ": " << shown << '\n';
  }
}

}  // namespace

void add_info_command(CLI::App& app, GlobalOptions& global) {
  auto options = std::make_shared<InfoOptions>();
  CLI::App* command = app.add_subcommand(
      "info",
      "Describe a safetensors or ONNX file: network configuration, parameter count, tensors, "
      "metadata; or, with --system, this machine's CPU and the kernels in force");
  command->add_option("file", options->file, "The .safetensors file (model, states or gradients) or .onnx model");
  command->add_flag("--system", options->system,
                    "Describe the CPU: its instruction-set paths, the one in force, the precisions");
  command->add_flag("--json", options->json, "Print one JSON object instead of text");
  add_compute_options(*command, global);
  command->footer(
      "A readable file whose tensors do not form a network (a state or gradient file) is listed "
      "with 'network: none' and the reason; an unreadable or malformed file is an error.");
  command->callback([options, &global] {
    if (options->system) {
      apply_compute_options(global);
      const nlohmann::ordered_json system = system_json();
      if (options->json)
        std::cout << lstm::json_text::dump(system, 2) << '\n';
      else print_system(system);
      if (options->file.empty()) return;
    }
    if (options->file.empty()) throw CLI::RequiredError("file (or --system)");
    const FileInfo info = inspect(options->file);
    if (options->json)
      std::cout << lstm::json_text::dump(to_json(options->file, info), 2) << '\n';
    else
      print_text(options->file, info);
  });
}

}  // namespace lstm_cli
