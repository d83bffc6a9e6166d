// The CLI's subcommands and the helpers they share (model loading, input checks, threads).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "lstm/lstm.hpp"

namespace lstm_cli {

// Options that every subcommand accepts (also before the subcommand's name).
struct GlobalOptions {
  int threads = 0;  // 0: $LSTM_NUM_THREADS if set, else every core
  std::string precision = "fp32";  // of the matrix products: fp32, bf16 or int8
};

// Each adds its subcommand to `app`; the subcommand's callback does the work and throws
// lstm::Error (or any std::exception) on failure, which main() turns into one line on stderr.
void add_forward_command(CLI::App& app, GlobalOptions& global);
void add_info_command(CLI::App& app, GlobalOptions& global);
void add_bench_command(CLI::App& app, GlobalOptions& global);
void add_train_command(CLI::App& app, GlobalOptions& global);
void add_forecast_command(CLI::App& app, GlobalOptions& global);
void add_eval_command(CLI::App& app, GlobalOptions& global);
void add_generate_command(CLI::App& app, GlobalOptions& global);
void add_experiment_command(CLI::App& app, GlobalOptions& global);
void add_inspect_command(CLI::App& app, GlobalOptions& global);
void add_convert_command(CLI::App& app, GlobalOptions& global);

// `lstm eval` of a language model: bits per character on a text, last line JSON.
void eval_charlm(lstm::SequenceModel& model, const std::string& model_path,
                 const std::string& data_path, int64_t window);

// Adds --threads and --precision to `command`, bound to `global`.
void add_compute_options(CLI::App& command, GlobalOptions& global);
// Adds --report-series (models of several series: how many the report draws) to `command`.
void add_report_series_option(CLI::App& command, int64_t& report_series);
// Sets the library's thread count from --threads, $LSTM_NUM_THREADS or the core count, and the
// matmul precision; returns the thread count. `gradients`: what needs gradients in this command
// (int8 is then an error naming it), or null.
int apply_compute_options(const GlobalOptions& global, const char* gradients = nullptr);
// The matmul precision in force: "fp32", "bf16" or "int8".
const char* precision_name();
// The instruction-set path in force (lstm/isa.hpp), as LSTM_MAX_ISA names it.
const char* isa_in_force();
// "N thread(s)", and ", bf16 products" when they are: the end of a training header line.
std::string compute_summary(int threads);

// A network read from a model file, with the file's other contents.
struct LoadedModel {
  lstm::SafetensorsContents contents;  // every tensor and the metadata, as read
  std::string prefix;                  // "" for a bare network, "rnn." inside a trained model
  lstm::Network<float> network;
};

// "rnn." if the file holds tensors named rnn.*, else "" (the rule load_network follows).
std::string network_prefix(const lstm::SafetensorsContents& contents);
// Reads and validates a model file (network_from_tensors also rejects NaN or Inf in it).
LoadedModel load_model(const std::string& path, const lstm::ConfigOverrides& overrides);

// "[2, 3, 4]"
std::string shape_string(const std::vector<int64_t>& shape);
int64_t shape_numel(const std::vector<int64_t>& shape);
// Throws "<file>: <what> has NaN at flat index k (index [t, b, i])" on the first non-finite value.
void check_finite(std::span<const float> values, const std::vector<int64_t>& shape,
                  const std::string& file, const std::string& what);
// Swaps the first two axes of a 3-D tensor ([B, T, X] <-> [T, B, X]).
lstm::HostTensor swap_leading_axes(const lstm::HostTensor& tensor);
// Throws unless `path` can be created: its directory exists and it is not itself a directory.
void check_output_path(const std::string& path);
// A command's output file and the option that names it.
struct OutputFile {
  const char* option;
  const std::string& path;  // empty: not asked for
};
// check_output_path for each output asked for, and that no two name the same file ("f", "./f"
// and a symbolic link to f alike), which the later write would replace; throws "<file>: --a
// and --b name the same file".
void check_output_files(std::initializer_list<OutputFile> outputs);
// --forget-bias of experiment and train: "chrono" (NaN) or a finite number; throws otherwise.
double parse_forget_bias(const std::string& text);
// --residual and --highway against --layers (train, bench): each needs 2 layers or more, and
// they do not combine. Throws lstm::Error naming the options.
void check_stack_options(int64_t layers, bool residual, bool highway);

}  // namespace lstm_cli
