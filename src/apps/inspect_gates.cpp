// Inspection: the gates and states of every step of one sequence, on a forecast model's series
// or a language model's text.
#include <algorithm>
#include <cmath>
#include <limits>

#include "apps/charlm.hpp"
#include "apps/forecast.hpp"
#include "apps/inspect.hpp"
#include "lstm/error.hpp"

namespace lstm::apps {
namespace {

size_t to_size(int64_t value) {
  return static_cast<size_t>(value);
}

// The same model with dropout off, so that a training forward computes what inference does.
SequenceModel without_dropout(SequenceModel& model) {
  SequenceModelConfig config = model.config();
  config.rnn.dropout = 0.0;
  config.rnn.zoneout = 0.0;
  SequenceModel copy(config);
  const std::vector<ParameterView> from = model.parameters(), to = copy.parameters();
  for (size_t k = 0; k < from.size(); ++k) std::ranges::copy(from[k].value, to[k].value.begin());
  return copy;
}

std::vector<std::string> gate_names(const NetworkConfig& rnn) {
  switch (rnn.cell) {
    case CellType::lstm:
      if (rnn.coupled_gates) return {"f", "g", "o"};  // i = 1 − f is not kept
      return {"i", "f", "g", "o"};
    case CellType::gru:
      return {"r", "z", "n"};
    case CellType::rnn_tanh:
    case CellType::rnn_relu:
      return {};  // the RNN's one "gate" is h itself
  }
  return {};
}

bool is_tanh_gate(const std::string& name) {
  return name == "g" || name == "n";
}

// Rows [first, first + T) of a recorded [T+1, B=1, width] state buffer as a [T, width] tensor.
HostTensor state_rows(const float* states, int64_t first, int64_t steps, int64_t width) {
  HostTensor tensor;
  tensor.shape = {steps, width};
  tensor.data.assign(states + first * width, states + (first + steps) * width);
  return tensor;
}

// The first `chars` characters of a text (bytes for a byte vocabulary), cut before the start of
// the next UTF-8 sequence; validity is checked when the prefix is encoded.
std::string_view text_prefix(const Vocabulary& vocabulary, std::string_view text, int64_t chars) {
  if (vocabulary.kind() == VocabularyKind::bytes)
    return text.substr(0, std::min(text.size(), to_size(chars)));
  int64_t seen = 0;
  for (size_t k = 0; k < text.size(); ++k) {
    const bool starts_character = (static_cast<unsigned char>(text[k]) & 0xC0) != 0x80;
    if (starts_character && seen++ == chars) return text.substr(0, k);
  }
  return text;
}

// A symbol as it reads under a time axis: itself when printable, a visible stand-in otherwise.
std::string symbol_label(const Vocabulary& vocabulary, char32_t symbol) {
  if (symbol == ' ') return "\u2423";   // ␣
  if (symbol == '\n') return "\u21B5";  // ↵
  if (symbol == '\t') return "\u21E5";  // ⇥
  const bool ascii = symbol >= 0x20 && symbol < 0x7F;
  if (ascii || (vocabulary.kind() == VocabularyKind::chars && symbol > 0x9F)) {
    std::string text;
    append_utf8(text, symbol);
    return text;
  }
  return vocabulary.describe(symbol);
}

}  // namespace

GateTrace trace_gates(SequenceModel& model, int64_t layer, int64_t steps,
                      std::span<const float> input, std::span<const int64_t> tokens,
                      std::vector<std::string> labels) {
  const SequenceModelConfig& config = model.config();
  const int64_t layers = config.rnn.num_layers;
  if (layer == -1) layer = layers - 1;
  if (layer < 0 || layer >= layers)
    throw Error("layer " + std::to_string(layer) + " is outside 0.." + std::to_string(layers - 1) +
                " (the model has " + std::to_string(layers) + " layer(s))");
  const bool embedded = config.vocab_size > 0;
  const size_t expected = embedded ? to_size(steps) : to_size(steps * config.rnn.input_size);
  if (steps < 1 || (embedded ? tokens.size() : input.size()) != expected ||
      labels.size() != to_size(steps))
    throw Error("trace_gates: the input does not hold " + std::to_string(steps) + " steps");

  SequenceModel probe = without_dropout(model);
  std::vector<float> output(to_size(steps * config.output_size));  // [T, 1, O] or [1, O]
  ModelForwardArgs args;
  args.seq_len = steps;
  args.batch = 1;
  if (embedded)
    args.tokens = tokens.data();
  else
    args.input = input.data();
  args.output = output.data();
  probe.forward(Mode::training, args);
  const ForwardRecord<float> kept = probe.record(layer, 0);

  GateTrace trace;
  trace.cell = config.rnn.cell;
  trace.layer = layer;
  trace.steps = steps;
  trace.labels = std::move(labels);
  const int64_t H = kept.hidden, G = kept.gate_count;
  const std::vector<std::string> names = gate_names(config.rnn);
  for (int64_t g = 0; g < static_cast<int64_t>(names.size()); ++g) {
    HostTensor gate;  // [T, H] from the record's [T, 1, G*H]
    gate.shape = {steps, H};
    gate.data.resize(to_size(steps * H));
    for (int64_t t = 0; t < steps; ++t)
      std::copy_n(kept.gates + t * G * H + g * H, H, gate.data.begin() + t * H);
    trace.tensors.emplace_back(names[to_size(g)], std::move(gate));
  }
  // The forward direction leaves step t in row t+1.
  if (kept.c) trace.tensors.emplace_back("c", state_rows(kept.c, 1, steps, H));
  trace.tensors.emplace_back("h", state_rows(kept.h, 1, steps, kept.h_width));
  return trace;
}

GateTrace trace_forecast_gates(SequenceModel& model, const std::string& model_path,
                               const std::string& data_path, int64_t rows, int64_t layer) {
  const ForecastInfo info = forecast_info(model, model_path);
  const Series series =
      load_series(data_path, info.target,
                  std::vector<std::string>(info.columns.begin() + 1, info.columns.end()));
  const int64_t steps = rows > 0 ? rows : info.window;
  const std::vector<float> input = forecast_input(info, series, steps);  // [T, F]
  std::vector<std::string> labels;
  for (int64_t t = series.rows - steps; t < series.rows; ++t)
    labels.push_back(series.index.kind != IndexKind::none ? series.index.text[to_size(t)]
                                                          : std::to_string(t + 1));
  return trace_gates(model, layer, steps, input, {}, std::move(labels));
}

GateTrace trace_text_gates(SequenceModel& model, const std::string& model_path,
                           std::string_view name, std::string_view text, int64_t chars,
                           int64_t layer) {
  const CharLmInfo info = charlm_info(model, model_path);
  const std::string_view prefix =
      text_prefix(info.vocabulary, text, chars > 0 ? chars : info.window);
  const std::vector<int32_t> ids = info.vocabulary.encode(name, prefix);
  if (ids.empty()) throw Error(std::string(name) + ": the text is empty");
  const std::vector<int64_t> tokens(ids.begin(), ids.end());
  std::vector<std::string> labels;
  for (int32_t id : ids)
    labels.push_back(symbol_label(info.vocabulary, info.vocabulary.symbols()[to_size(id)]));
  return trace_gates(model, layer, static_cast<int64_t>(tokens.size()), {}, tokens,
                     std::move(labels));
}

std::vector<GateSummary> summarize_gates(const GateTrace& trace) {
  std::vector<GateSummary> summary;
  for (const auto& [name, tensor] : trace.tensors) {
    GateSummary line{name, 0.0, std::numeric_limits<double>::quiet_NaN()};
    const bool gate = name != "c" && name != "h";
    int64_t saturated = 0;
    for (float value : tensor.data) {
      line.mean += value;
      if (is_tanh_gate(name))
        saturated += std::abs(value) > 0.9f;
      else
        saturated += value < 0.1f || value > 0.9f;
    }
    const double count = static_cast<double>(tensor.data.size());
    line.mean /= count;
    if (gate) line.saturated = static_cast<double>(saturated) / count;
    summary.push_back(line);
  }
  return summary;
}

}  // namespace lstm::apps
