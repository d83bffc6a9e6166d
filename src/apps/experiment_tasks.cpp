// The long-lag tasks' sequence generators and the cells they compare (see experiment.hpp).
#include <algorithm>
#include <cmath>
#include <string>

#include "apps/experiment.hpp"
#include "core/random.hpp"
#include "train/names.hpp"

namespace lstm::apps {
namespace {

constexpr detail::NameTable<ExperimentTask, 2> kTaskNames = {
    {ExperimentTask::adding, "adding"}, {ExperimentTask::temporal_order, "temporal_order"}};

// Sequence n of a stream draws its numbers from its own counter-based stream: draw j of sequence
// n is uniform01(sequence_key(stream, n), j).
uint64_t sequence_key(uint64_t stream, int64_t n) {
  return mix64(stream ^ mix64(static_cast<uint64_t>(n)));
}

// Uniform integer in [lo, hi] from draw j.
int64_t uniform_int(uint64_t key, uint64_t j, int64_t lo, int64_t hi) {
  const auto offset = static_cast<int64_t>(uniform01(key, j) * static_cast<double>(hi - lo + 1));
  return lo + std::min(offset, hi - lo);
}

// Where the temporal-order task's two relevant symbols may be: t1 in [lo1, hi1], t2 in [lo2, hi2]
// (0-based; for T = 100 this is 10..20 and 50..60, as in the paper).
struct RelevantSpans {
  int64_t lo1, hi1, lo2, hi2;
};
RelevantSpans relevant_spans(int64_t T) {
  RelevantSpans spans;
  spans.lo1 = std::max<int64_t>(1, T / 10);
  spans.hi1 = std::max(spans.lo1, T / 5);
  spans.lo2 = std::max(spans.hi1 + 1, T / 2);
  spans.hi2 = std::max(spans.lo2, 6 * T / 10);
  return spans;
}

// Draws 0..T−1: the values; T, T+1: the marker positions.
void fill_adding(uint64_t key, int64_t T, int64_t B, int64_t b, TaskBatch& out) {
  const int64_t half = T / 2;
  const int64_t first = uniform_int(key, static_cast<uint64_t>(T), 0, half - 1);
  const int64_t second = uniform_int(key, static_cast<uint64_t>(T) + 1, half, T - 1);
  float sum = 0.0f;
  for (int64_t t = 0; t < T; ++t) {
    float* step = out.inputs.data() + (t * B + b) * 2;  // [value, marker]
    step[0] = static_cast<float>(uniform01(key, static_cast<uint64_t>(t)));
    step[1] = t == first || t == second ? 1.0f : 0.0f;
    if (step[1] != 0.0f) sum += step[0];
  }
  out.targets[b] = sum;
}

// Draws 0..T−1: the distractors; T, T+1: the positions; T+2, T+3: X or Y at each.
void fill_temporal_order(uint64_t key, int64_t T, int64_t B, int64_t b, TaskBatch& out) {
  const RelevantSpans spans = relevant_spans(T);
  const uint64_t n = static_cast<uint64_t>(T);
  const int64_t t1 = uniform_int(key, n, spans.lo1, spans.hi1);
  const int64_t t2 = uniform_int(key, n + 1, spans.lo2, spans.hi2);
  const bool first_is_y = uniform01(key, n + 2) >= 0.5;
  const bool second_is_y = uniform01(key, n + 3) >= 0.5;
  for (int64_t t = 0; t < T; ++t) {
    int64_t symbol = uniform_int(key, static_cast<uint64_t>(t), sym_a, sym_d);
    if (t == 0) symbol = sym_E;
    if (t == T - 1) symbol = sym_B;
    if (t == t1) symbol = first_is_y ? sym_Y : sym_X;
    if (t == t2) symbol = second_is_y ? sym_Y : sym_X;
    out.inputs[static_cast<size_t>((t * B + b) * 8 + symbol)] = 1.0f;  // the rest stays 0
  }
  out.classes[b] = 2 * int64_t{first_is_y} + int64_t{second_is_y};  // XX, XY, YX, YY
}

}  // namespace

std::string_view task_name(ExperimentTask task) {
  return detail::name_of(kTaskNames, task);
}
ExperimentTask parse_task(std::string_view name) {
  return detail::parse_name(kTaskNames, name, "experiment");
}

int64_t task_features(ExperimentTask task) {
  return task == ExperimentTask::adding ? 2 : 8;
}
int64_t task_outputs(ExperimentTask task) {
  return task == ExperimentTask::adding ? 1 : 4;
}
int64_t task_min_seq_len(ExperimentTask task) {
  return task == ExperimentTask::adding ? 2 : 4;
}

void check_seq_len(ExperimentTask task, int64_t seq_len) {
  const int64_t min = task_min_seq_len(task);
  if (seq_len >= min && seq_len <= 1000000) return;
  std::string message = "--seq-len ";
  message += std::to_string(seq_len);
  message += ": the ";
  message += task_name(task);
  message += " task needs 2 marked steps";
  message += task == ExperimentTask::adding ? "" : " between a start and an end symbol";
  message += ", so a length in ";
  message += std::to_string(min);
  message += "..1000000";
  throw Error(message);
}

TaskBatch make_task_batch(ExperimentTask task, int64_t seq_len, uint64_t stream, int64_t first,
                          int64_t count) {
  check_seq_len(task, seq_len);
  if (count < 1 || first < 0) throw Error("task batch: needs at least one sequence");
  TaskBatch out;
  out.seq_len = seq_len;
  out.batch = count;
  out.features = task_features(task);
  out.inputs.assign(static_cast<size_t>(seq_len * count * out.features), 0.0f);
  if (task == ExperimentTask::adding)
    out.targets.resize(static_cast<size_t>(count));
  else
    out.classes.resize(static_cast<size_t>(count));
  for (int64_t b = 0; b < count; ++b) {
    const uint64_t key = sequence_key(stream, first + b);
    if (task == ExperimentTask::adding)
      fill_adding(key, seq_len, count, b, out);
    else
      fill_temporal_order(key, seq_len, count, b, out);
  }
  return out;
}

const std::vector<std::string>& experiment_cells() {
  static const std::vector<std::string> cells = {"lstm",          "peephole", "cifg", "layer_norm", "gru",
                                                 "gru_reset_before", "rnn_tanh"};
  return cells;
}

NetworkConfig experiment_network(std::string_view cell, ExperimentTask task, int64_t hidden,
                                 bool layer_norm) {
  const auto& cells = experiment_cells();
  if (std::find(cells.begin(), cells.end(), cell) == cells.end()) {
    std::string message = "--cell '";
    message += cell;
    message += "': expected lstm, peephole, cifg, layer_norm, gru, gru_reset_before or rnn_tanh";
    throw Error(message);
  }
  NetworkConfig config;
  apply_cell_variant(config, cell, layer_norm);
  config.input_size = task_features(task);
  config.hidden_size = hidden;
  config.validate();
  return config;
}

}  // namespace lstm::apps
