// `lstm inspect`: why the LSTM exists, seen from inside. `gradients` measures how the gradient of
// a loss at the last step fades with the distance back in time, for untrained cells side by side
// and for a trained model; `gates` records every gate and state over one sequence of the user's
// series or text. Both print a table and a JSON last line, and can write an HTML report.
#include <cmath>
#include <cstdio>
#include <iostream>
#include <optional>

#include "apps/charlm.hpp"
#include "apps/inspect.hpp"
#include "apps/report.hpp"
#include "commands.hpp"
#include "data/json_text.hpp"

namespace lstm_cli {
namespace {

using lstm::apps::GradientCurve;
using lstm::apps::LabelledCurve;
using ordered_json = nlohmann::ordered_json;

struct GradientOptions {
  std::string cells = "rnn_tanh,gru,lstm";
  std::string model, output, report;
  int64_t hidden = 64, seq_len = 100, batch = 32;
  uint64_t seed = 0;
  std::optional<double> forget_bias;  // untrained LSTMs: set instead of PyTorch's initial value
};

struct GateOptions {
  std::string model, data, text, output, report;
  int64_t rows = 0, chars = 0, layer = -1;
};

std::vector<lstm::CellType> parse_cells(const std::string& list) {
  std::vector<lstm::CellType> cells;
  size_t begin = 0;
  for (;;) {
    const size_t end = std::min(list.find(',', begin), list.size());
    const lstm::CellType cell = lstm::parse_cell(list.substr(begin, end - begin));
    if (std::find(cells.begin(), cells.end(), cell) != cells.end())
      throw lstm::Error("--cell: '" + std::string(lstm::cell_name(cell)) + "' is listed twice");
    cells.push_back(cell);
    if (end == list.size()) return cells;
    begin = end + 1;
  }
}

std::string number_text(double value, const char* format = "%.4g") {
  char text[32];
  std::snprintf(text, sizeof text, format, value);
  return text;
}

int column_width(const LabelledCurve& labelled) {
  return static_cast<int>(std::max<size_t>(10, labelled.name.size()));
}

void print_gradient_table(const std::vector<LabelledCurve>& curves, const GradientOptions& o) {
  std::printf(
      "||dL/dh_t|| by distance T-1-t, mean over %lld sequences: T = %lld, hidden %lld, "
      "seed %llu; L = <u, h_T-1> on the top layer\n",
      static_cast<long long>(o.batch), static_cast<long long>(o.seq_len),
      static_cast<long long>(o.hidden), static_cast<unsigned long long>(o.seed));
  std::printf("%8s", "distance");
  for (const LabelledCurve& labelled : curves)
    std::printf("  %*s", column_width(labelled), labelled.name.c_str());
  std::printf("\n");
  for (size_t k = 0; k < curves.front().curve.distance.size(); ++k) {
    std::printf("%8lld", static_cast<long long>(curves.front().curve.distance[k]));
    for (const LabelledCurve& labelled : curves)
      std::printf("  %*s", column_width(labelled),
                  number_text(labelled.curve.grad_norm[k], "%.3e").c_str());
    std::printf("\n");
  }
}

// columns: the cell names, "trained_<cell>" for a trained model.
std::string gradient_csv(const std::vector<LabelledCurve>& curves,
                         const std::vector<std::string>& columns) {
  std::string text = "distance";
  for (const std::string& column : columns) text += ',' + column;
  text += '\n';
  for (size_t k = 0; k < curves.front().curve.distance.size(); ++k) {
    text += std::to_string(curves.front().curve.distance[k]);
    for (const LabelledCurve& labelled : curves)
      text += ',' + number_text(labelled.curve.grad_norm[k], "%.9g");
    text += '\n';
  }
  return text;
}

ordered_json curve_json(const GradientCurve& curve) {
  return {{"distance", curve.distance}, {"grad_norm", curve.grad_norm}};
}

void run_gradients(const GradientOptions& o, const GlobalOptions& global) {
  check_output_files({{"--output", o.output}, {"--report", o.report}});
  const std::vector<lstm::CellType> cells = parse_cells(o.cells);
  apply_compute_options(global, "inspect gradients");

  // A trained network sets the input width; a model with an embedding reads embedded tokens.
  std::optional<LoadedModel> trained;
  if (!o.model.empty()) trained = load_model(o.model, {});
  const int64_t width = trained ? trained->network.config().input_size : 2;
  const lstm::HostTensor* embedding =
      trained ? trained->contents.find("embedding.weight") : nullptr;
  const std::vector<float> inputs =
      embedding ? lstm::apps::probe_embedded_inputs(*embedding, o.seq_len, o.batch, o.seed)
                : lstm::apps::probe_inputs(o.seq_len, o.batch, width, o.seed);
  const std::vector<int64_t> distances = lstm::apps::probe_distances(o.seq_len);
  auto measure = [&](const lstm::Network<float>& network) {
    const std::vector<float> u =
        lstm::apps::unit_vector<float>(network.config().output_size(), o.seed);
    return lstm::apps::gradient_by_distance<float>(network, inputs, o.seq_len, o.batch, u,
                                                   distances);
  };

  std::vector<LabelledCurve> curves;  // named for people
  std::vector<std::string> columns;   // named for programs
  ordered_json json = {{"seq_len", o.seq_len},
                       {"batch", o.batch},
                       {"hidden", o.hidden},
                       {"seed", o.seed},
                       {"input_size", width}};
  json["forget_bias"] = o.forget_bias ? ordered_json(*o.forget_bias) : ordered_json(nullptr);
  ordered_json untrained = ordered_json::object();
  for (const lstm::CellType cell : cells) {
    lstm::SequenceModelConfig config;  // the core of a model, as training starts from it
    config.rnn.cell = cell;
    config.rnn.input_size = width;
    config.rnn.hidden_size = o.hidden;
    config.output_size = 1;
    lstm::SequenceModel model(config);
    model.init(o.seed);
    std::string name(lstm::cell_name(cell));
    if (o.forget_bias && cell == lstm::CellType::lstm) {
      model.set_forget_bias(static_cast<float>(*o.forget_bias));
      name += " (forget bias " + number_text(*o.forget_bias) + ")";
    }
    curves.push_back({name, false, measure(model.network())});
    columns.emplace_back(lstm::cell_name(cell));
    untrained[columns.back()] = curve_json(curves.back().curve);
  }
  json["cells"] = untrained;
  if (trained) {
    const lstm::NetworkConfig& config = trained->network.config();
    curves.push_back(
        {"trained " + std::string(lstm::cell_name(config.cell)), true, measure(trained->network)});
    columns.push_back("trained_" + std::string(lstm::cell_name(config.cell)));
    ordered_json entry = {{"model", o.model},
                          {"cell", lstm::cell_name(config.cell)},
                          {"hidden", config.hidden_size},
                          {"layers", config.num_layers}};
    entry.update(curve_json(curves.back().curve));
    json["trained"] = entry;
  }

  print_gradient_table(curves, o);
  if (!o.output.empty()) lstm::write_file_atomically(o.output, gradient_csv(curves, columns));
  if (!o.report.empty())
    lstm::report::save(lstm::apps::gradient_report(curves, o.seq_len, o.batch, o.seed), o.report);
  std::cout << lstm::json_text::dump(json) << std::endl;
}

lstm::apps::GateTrace trace_model(lstm::SequenceModel& model, const GateOptions& o) {
  if (lstm::apps::is_charlm(model)) {
    if (o.rows > 0)
      throw lstm::Error("--rows is for forecast models; a language model takes --chars");
    if (!o.text.empty())
      return lstm::apps::trace_text_gates(model, o.model, "--text", o.text, o.chars, o.layer);
    const lstm::apps::CharLmInfo info = lstm::apps::charlm_info(model, o.model);
    const std::string text = lstm::read_text(o.data, info.vocabulary.kind());
    return lstm::apps::trace_text_gates(model, o.model, o.data, text, o.chars, o.layer);
  }
  if (!o.text.empty())
    throw lstm::Error(o.model + ": --text needs a language model (metadata 'charlm'); this one " +
                      "is not, so give its input as --data SERIES.csv");
  if (o.chars > 0)
    throw lstm::Error("--chars is for language models; a forecast model takes --rows");
  return lstm::apps::trace_forecast_gates(model, o.model, o.data, o.rows, o.layer);
}

void run_gates(const GateOptions& o, const GlobalOptions& global) {
  if (o.data.empty() && o.text.empty())
    throw lstm::Error("inspect gates: give the input as --data FILE or --text STRING");
  check_output_files({{"--output", o.output}, {"--report", o.report}});
  apply_compute_options(global);
  lstm::SequenceModel model = lstm::load_sequence_model(o.model);
  const lstm::apps::GateTrace trace = trace_model(model, o);
  const std::vector<lstm::apps::GateSummary> summary = lstm::apps::summarize_gates(trace);

  const std::string cell(lstm::cell_name(trace.cell));
  std::printf("%s layer %lld (forward direction), %lld steps of %s\n", cell.c_str(),
              static_cast<long long>(trace.layer), static_cast<long long>(trace.steps),
              o.text.empty() ? o.data.c_str() : "the text given");
  std::printf("%-6s %8s %10s\n", "tensor", "mean", "saturated");
  ordered_json tensors = ordered_json::object();
  for (const lstm::apps::GateSummary& line : summary) {
    const bool gate = !std::isnan(line.saturated);
    std::printf("%-6s %8.4f %10s\n", line.name.c_str(), line.mean,
                gate ? number_text(line.saturated, "%.4f").c_str() : "-");
    tensors[line.name] = {
        {"mean", line.mean},
        {"saturated", gate ? ordered_json(line.saturated) : ordered_json(nullptr)}};
  }
  ordered_json json = {{"cell", cell},
                       {"layer", trace.layer},
                       {"steps", trace.steps},
                       {"hidden", trace.tensors.front().second.shape[1]},
                       {"tensors", tensors}};
  if (!o.report.empty()) {
    std::string title = "Gates of " + cell + " layer " + std::to_string(trace.layer);
    title += " over " + (o.text.empty() ? o.data : std::string("the text given"));
    lstm::report::save(lstm::apps::gate_report(trace, title), o.report);
    json["report"] = o.report;
  }
  if (!o.output.empty()) {
    const ordered_json about = {{"cell", cell}, {"layer", trace.layer}, {"labels", trace.labels}};
    lstm::write_safetensors(o.output, trace.tensors, {{"inspect", lstm::json_text::dump(about)}});
    json["output"] = o.output;
  }
  std::cout << lstm::json_text::dump(json) << std::endl;
}

void add_gradients_command(CLI::App& inspect, GlobalOptions& global) {
  auto o = std::make_shared<GradientOptions>();
  CLI::App* command = inspect.add_subcommand(
      "gradients",
      "The vanishing-gradient curve: for L = <u, h_T-1> (u a random unit vector, h the top "
      "layer's last state) the norm of dL/dh_t against the distance T-1-t, mean over a batch, "
      "for untrained networks of each --cell (PyTorch's initialisation) and, with --model, a "
      "trained one. Inputs: the adding problem's for input width 2, U(-1, 1) otherwise, embedded "
      "random tokens for a model with an embedding. Prints a table; the last line is JSON");
  command->add_option("--cell", o->cells,
                      "Untrained cells to compare, a comma list of lstm, gru, "
                      "rnn_tanh, rnn_relu");
  command->add_option("--model", o->model,
                      "A trained model file (a bare network or a trained model) to measure too");
  command->add_option("--hidden", o->hidden, "Hidden size H of the untrained networks")
      ->check(CLI::Range(int64_t{1}, int64_t{4096}));
  command->add_option("--seq-len", o->seq_len, "Sequence length T (the work grows as T)")
      ->check(CLI::Range(int64_t{1}, int64_t{100000}));
  command->add_option("--batch", o->batch, "Sequences averaged over")
      ->check(CLI::Range(int64_t{1}, int64_t{100000}));
  command->add_option("--seed", o->seed, "Seed of the weights, the inputs and u");
  command->add_option("--forget-bias", o->forget_bias,
                      "Untrained LSTM: set the forget gate's bias_ih to this (bias_hh 0), a common "
                      "training choice (default: PyTorch's initialisation, no change)");
  command->add_option("--output", o->output,
                      "CSV file to write: distance and one column per curve");
  command->add_option("--report", o->report, "HTML report to write: the curves on a log scale");
  add_compute_options(*command, global);
  command->callback([o, &global] { run_gradients(*o, global); });
}

void add_gates_command(CLI::App& inspect, GlobalOptions& global) {
  auto o = std::make_shared<GateOptions>();
  CLI::App* command = inspect.add_subcommand(
      "gates",
      "Every gate and state of one layer over a sequence: for a forecast model the last rows of "
      "a CSV series (normalised as the forecast does), for a language model a text. Prints each "
      "tensor's mean and saturated fraction (sigmoid gates < 0.1 or > 0.9, tanh gates |v| > 0.9); "
      "the last line is JSON");
  command->add_option("--model", o->model, "A forecast or language model file")->required();
  auto* data = command->add_option(
      "--data", o->data, "Input file: a CSV series (forecast model) or a text (language model)");
  command->add_option("--text", o->text, "Input text for a language model")->excludes(data);
  command->add_option("--rows", o->rows, "Forecast model: the last N rows (0: the model's window)")
      ->check(CLI::Range(int64_t{0}, int64_t{1000000}));
  command
      ->add_option("--chars", o->chars,
                   "Language model: the first N characters (0: the model's window)")
      ->check(CLI::Range(int64_t{0}, int64_t{1000000}));
  command->add_option("--layer", o->layer, "Layer to record, from 0 (-1: the last)");
  command->add_option("--output", o->output,
                      "safetensors file to write: i, f, g, o, c, h (LSTM), r, z, n, h (GRU) or h "
                      "(RNN), each [T, H]");
  command->add_option("--report", o->report, "HTML report to write: a heatmap per tensor");
  add_compute_options(*command, global);
  command->callback([o, &global] { run_gates(*o, global); });
}

}  // namespace

void add_inspect_command(CLI::App& app, GlobalOptions& global) {
  CLI::App* inspect = app.add_subcommand(
      "inspect", "Look inside a network: gradients by distance, gates over a sequence");
  inspect->require_subcommand(1);
  add_gradients_command(*inspect, global);
  add_gates_command(*inspect, global);
}

}  // namespace lstm_cli
