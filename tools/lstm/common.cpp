// Helpers shared by the subcommands: threads and precision, model loading, finiteness and
// output-path checks.
#include <unistd.h>

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>

#include "commands.hpp"
#include "lstm/isa.hpp"
#include "lstm/precision.hpp"
#include "lstm/threads.hpp"

namespace lstm_cli {

void add_report_series_option(CLI::App& command, int64_t& report_series) {
  command
      .add_option("--report-series", report_series,
                  "Several series: how many are drawn in the --report (the first ones)")
      ->check(CLI::Range(int64_t{0}, int64_t{100000}))
      ->capture_default_str();
}

void add_compute_options(CLI::App& command, GlobalOptions& global) {
  command
      .add_option("--threads", global.threads,
                  "Threads to compute with (0: $LSTM_NUM_THREADS if set, else all cores)")
      ->check(CLI::Range(0, 4096));
  command
      .add_option("--precision", global.precision,
                  "Matrix products with the weights: fp32; bf16 on CPUs with AVX512-BF16 or AMX "
                  "(bfloat16 operands, float sums); int8 for inference (weights int8 per row, "
                  "inputs and states uint8 per row and step, exact int32 sums)")
      ->check(CLI::IsMember({"fp32", "bf16", "int8"}))
      ->capture_default_str();
}

int apply_compute_options(const GlobalOptions& global, const char* gradients) {
  if (global.precision == "int8" && gradients)
    throw lstm::Error(std::string("--precision int8 is for inference, and ") + gradients +
                      " needs gradients: use fp32 or bf16");
  int threads = global.threads;
  if (threads == 0) {
    if (const char* env = std::getenv("LSTM_NUM_THREADS"); env != nullptr && *env != '\0') {
      const std::string text(env);
      const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), threads);
      if (error != std::errc() || end != text.data() + text.size() || threads < 1 || threads > 4096)
        throw lstm::Error("LSTM_NUM_THREADS: expected a whole number in 1..4096, got '" + text +
                          "'");
    }
  }
  lstm::set_num_threads(threads);  // 0: every core
  lstm::set_matmul_precision(global.precision == "bf16"   ? lstm::MatmulPrecision::bf16
                             : global.precision == "int8" ? lstm::MatmulPrecision::int8
                                                          : lstm::MatmulPrecision::fp32);
  return lstm::num_threads();
}

const char* isa_in_force() { return lstm::isa_name(lstm::active_isa()); }

const char* precision_name() { return lstm::precision_name(lstm::matmul_precision()); }

std::string compute_summary(int threads) {
  const lstm::MatmulPrecision precision = lstm::matmul_precision();
  return std::to_string(threads) + " thread(s)" +
         (precision == lstm::MatmulPrecision::fp32 ? "" : std::string(", ") + precision_name() + " products");
}

std::string network_prefix(const lstm::SafetensorsContents& contents) {
  for (const auto& [name, tensor] : contents.tensors)
    if (name.starts_with("rnn.")) return "rnn.";
  return "";
}

LoadedModel load_model(const std::string& path, const lstm::ConfigOverrides& overrides) {
  lstm::SafetensorsContents contents = lstm::read_model_contents(path);  // .safetensors or .onnx
  std::string prefix = network_prefix(contents);
  lstm::Network<float> network = lstm::network_from_tensors(contents, path, prefix, overrides);
  return LoadedModel{std::move(contents), std::move(prefix), std::move(network)};
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (size_t k = 0; k < shape.size(); ++k) text += (k ? ", " : "") + std::to_string(shape[k]);
  return text + "]";
}

int64_t shape_numel(const std::vector<int64_t>& shape) {
  int64_t count = 1;
  for (int64_t extent : shape) count *= extent;
  return count;
}

void check_finite(std::span<const float> values, const std::vector<int64_t>& shape,
                  const std::string& file, const std::string& what) {
  for (size_t flat = 0; flat < values.size(); ++flat) {
    if (std::isfinite(values[flat])) continue;
    // Row-major multi-index of the flat position.
    std::vector<int64_t> index(shape.size());
    int64_t rest = static_cast<int64_t>(flat);
    for (size_t axis = shape.size(); axis-- > 0;) {
      index[axis] = shape[axis] > 0 ? rest % shape[axis] : 0;
      rest = shape[axis] > 0 ? rest / shape[axis] : 0;
    }
    const char* kind = std::isnan(values[flat]) ? "NaN" : "Inf";
    throw lstm::Error(file + ": " + what + " has " + kind + " at flat index " +
                      std::to_string(flat) + " (index " + shape_string(index) +
                      "); NaN or Inf in an input file is an error");
  }
}

lstm::HostTensor swap_leading_axes(const lstm::HostTensor& tensor) {
  const int64_t outer = tensor.shape.at(0), inner = tensor.shape.at(1), width = tensor.shape.at(2);
  lstm::HostTensor swapped;
  swapped.shape = {inner, outer, width};
  swapped.data.resize(tensor.data.size());
  for (int64_t a = 0; a < outer; ++a)
    for (int64_t b = 0; b < inner; ++b)
      std::copy_n(tensor.data.begin() + (a * inner + b) * width, width,
                  swapped.data.begin() + (b * outer + a) * width);
  return swapped;
}

void check_output_path(const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path file(path);
  if (file.empty() || !file.has_filename())
    throw lstm::Error(path + ": output path does not name a file");
  std::error_code error;
  if (fs::is_directory(file, error)) throw lstm::Error(path + ": output path is a directory");
  const fs::path directory = file.has_parent_path() ? file.parent_path() : fs::path(".");
  if (!fs::is_directory(directory, error))
    throw lstm::Error(path + ": output directory '" + directory.string() +
                      (fs::exists(directory, error) ? "' is not a directory" : "' does not exist"));
  if (access(directory.c_str(), W_OK | X_OK) != 0)
    throw lstm::Error(path + ": output directory '" + directory.string() + "' is not writable");
}

void check_output_files(std::initializer_list<OutputFile> outputs) {
  namespace fs = std::filesystem;
  std::vector<std::pair<fs::path, const char*>> seen;  // resolved path, option
  for (const OutputFile& output : outputs) {
    if (output.path.empty()) continue;
    check_output_path(output.path);
    std::error_code error;
    fs::path resolved = fs::weakly_canonical(fs::absolute(output.path), error);
    if (error) resolved = fs::absolute(output.path).lexically_normal();
    for (const auto& [earlier, option] : seen)
      if (earlier == resolved)
        throw lstm::Error(output.path + ": " + option + " and " + output.option +
                          " name the same file");
    seen.emplace_back(resolved, output.option);
  }
}

double parse_forget_bias(const std::string& text) {
  if (text == "chrono") return std::numeric_limits<double>::quiet_NaN();
  double value = 0.0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || !std::isfinite(value))
    throw lstm::Error("--forget-bias '" + text + "': expected chrono or a number");
  return value;
}

void check_stack_options(int64_t layers, bool residual, bool highway) {
  if (residual && layers < 2)
    throw lstm::Error("--residual connects stacked layers; it needs --layers 2 or more");
  if (highway && layers < 2)
    throw lstm::Error("--highway gates stacked layers; it needs --layers 2 or more");
  if (highway && residual)
    throw lstm::Error("--highway and --residual do not combine: each connects the layers its own way; choose one");
}

}  // namespace lstm_cli
