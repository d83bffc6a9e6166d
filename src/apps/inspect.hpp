// Looking inside a recurrent network: how far back the gradient of a loss at the last step
// reaches (the vanishing-gradient curve), and the gates and states of every step of a sequence.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "apps/report.hpp"
#include "lstm/io.hpp"
#include "lstm/train.hpp"

namespace lstm::apps {

// ---------------------------------------------------------------------------------------------
// Gradient by distance.
//
// The loss sits at the last step: L = Σ_b ⟨u, h_{T−1,b}⟩, with u a unit vector and h the top
// layer's state. For a distance k in 1..T, the probe measures ‖∂L/∂h_{t,b}‖ at t = T−1−k
// (t = −1 is the initial state) for the top layer's h, as a total derivative with the other
// states at t (c_t, lower layers' h_t) held fixed, averaged over the batch. It equals grad_h0 of
// a forward and backward over the suffix x_{t+1..T−1} started from the states at t, which one
// training forward over the whole sequence records (Network::record). Dropout is not applied.

// Inputs [T, B, I] to probe a network with, deterministic in seed: for I = 2 the adding
// problem's (make_task_batch), otherwise U(−1, 1) in every column.
std::vector<float> probe_inputs(int64_t steps, int64_t batch, int64_t width, uint64_t seed);
// For a model with an embedding [V, E]: the rows of token ids drawn uniformly, [T, B, E].
std::vector<float> probe_embedded_inputs(const HostTensor& embedding, int64_t steps, int64_t batch,
                                         uint64_t seed);
// A unit vector [width] in a direction drawn uniformly from seed.
template <typename T>
std::vector<T> unit_vector(int64_t width, uint64_t seed);
// 1, 2, 5, 10, 20, 50, 100, 200, 500, ... below seq_len, then seq_len itself.
std::vector<int64_t> probe_distances(int64_t seq_len);

struct GradientCurve {
  std::vector<int64_t> distance;  // k = T−1−t
  std::vector<double> grad_norm;  // mean over the batch of ‖∂L/∂h_t‖
};

// The curve for a unidirectional network: input [T, B, I], direction u [Hout], each distance
// in 1..T. Throws lstm::Error for a bidirectional network or sizes that do not match.
template <typename T>
GradientCurve gradient_by_distance(const Network<T>& network, std::span<const T> input,
                                   int64_t seq_len, int64_t batch, std::span<const T> direction,
                                   std::span<const int64_t> distances);

// ---------------------------------------------------------------------------------------------
// Gates and states over one sequence.

struct GateTrace {
  CellType cell = CellType::lstm;
  int64_t layer = 0;                // traced layer (forward direction)
  int64_t steps = 0;                // T
  std::vector<std::string> labels;  // [T] what each step saw: a character, a date, a row number
  // In this order: LSTM i, f, g, o, c, h (coupled gates: f, g, o, c, h); GRU r, z, n, h; RNN h.
  // Each [T, H] (h: [T, Hout]);
  // row t is step t's activated gate, or the state after step t.
  std::vector<std::pair<std::string, HostTensor>> tensors;
};

// Runs a copy of the model without dropout in training mode over one sequence (batch 1) and
// reads layer `layer` (−1: the last). input: [T, I] for a model without an embedding, or
// tokens [T] for one with; labels [T] are stored in the trace.
GateTrace trace_gates(SequenceModel& model, int64_t layer, int64_t steps,
                      std::span<const float> input, std::span<const int64_t> tokens,
                      std::vector<std::string> labels);

// A forecast model (see forecast_info) over the last `rows` rows of the CSV file `data_path`
// (0: the model's window), normalised as the forecast path does; labels are the index cells
// (dates) or 1-based row numbers.
GateTrace trace_forecast_gates(SequenceModel& model, const std::string& model_path,
                               const std::string& data_path, int64_t rows, int64_t layer);
// A language model (see charlm_info) over the first `chars` characters of `text` (0: the
// model's window; `name` names the text in messages); labels are the characters.
GateTrace trace_text_gates(SequenceModel& model, const std::string& model_path,
                           std::string_view name, std::string_view text, int64_t chars,
                           int64_t layer);

struct GateSummary {
  std::string name;
  double mean = 0.0;
  // Gates only (NaN for c and h): the fraction of values saturated, σ gates < 0.1 or > 0.9,
  // tanh gates (g, n) |v| > 0.9.
  double saturated = 0.0;
};
std::vector<GateSummary> summarize_gates(const GateTrace& trace);

// ---------------------------------------------------------------------------------------------
// HTML reports.

// A curve as a report shows it: untrained networks solid, trained ones dashed.
struct LabelledCurve {
  std::string name;
  bool trained = false;
  GradientCurve curve;
};
// One log-scale line chart of ‖∂L/∂h_t‖ against the distance, and the numbers as a table.
report::Document gradient_report(const std::vector<LabelledCurve>& curves, int64_t seq_len,
                                 int64_t batch, uint64_t seed);
// One heatmap per gate and for c and h: units × time, the labels under the time axis.
report::Document gate_report(const GateTrace& trace, const std::string& title);
// The same sections (a description, the summary table, the heatmaps) added to a document.
void add_gate_sections(report::Document& document, const GateTrace& trace);

}  // namespace lstm::apps
