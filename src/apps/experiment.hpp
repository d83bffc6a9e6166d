// Long-lag experiments from the LSTM literature: task generators (pure functions of a seed and a
// sequence number), and a training loop over an endless stream of fresh batches with periodic
// evaluation on held-out sequences, an early finish once solved, and a time limit.
//
//   adding          Hochreiter & Schmidhuber (1997), experiment 4, in its common modern form:
//                   each step is [value in U[0,1), marker 0/1]; one marked step in each half;
//                   the target is the sum of the two marked values. Answering 1 always gives
//                   MSE = Var(v1 + v2) = 1/6. Solved: test MSE < 0.01.
//   temporal_order  Hochreiter & Schmidhuber (1997), experiment 6a: one-hot symbols, E first,
//                   B last, random distractors a b c d elsewhere except two steps, one in
//                   [T/10, T/5] and one in [T/2, 6T/10], that hold X or Y; the class (4) is the
//                   order XX, XY, YX, YY. Guessing gives accuracy 1/4, cross-entropy ln 4.
//                   Solved: test accuracy >= 0.99.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "apps/report.hpp"
#include "lstm/train.hpp"

namespace lstm::apps {

enum class ExperimentTask { adding, temporal_order };
std::string_view task_name(ExperimentTask task);   // "adding", "temporal_order"
ExperimentTask parse_task(std::string_view name);  // throws lstm::Error on anything else

int64_t task_features(ExperimentTask task);  // F: 2 (adding), 8 (temporal_order)
int64_t task_outputs(ExperimentTask task);   // the head's width: 1 (adding), 4 (temporal_order)
int64_t task_min_seq_len(ExperimentTask task);
// Throws lstm::Error naming --seq-len unless seq_len fits the task.
void check_seq_len(ExperimentTask task, int64_t seq_len);

// The temporal-order alphabet, one-hot in this order (F = 8).
enum TemporalSymbol : int64_t { sym_a, sym_b, sym_c, sym_d, sym_X, sym_Y, sym_E, sym_B };

// Sequences first .. first+count−1 of the stream `stream`, sequence-first. Sequence n depends only
// on (stream, n, T), so a batch is the same whatever other batches were drawn.
struct TaskBatch {
  int64_t seq_len = 0, batch = 0, features = 0;  // T, B, F
  std::vector<float> inputs;                     // [T, B, F]
  std::vector<float> targets;                    // [B] adding: v1 + v2; else empty
  std::vector<int64_t> classes;                  // [B] temporal_order: 0..3; else empty
};
TaskBatch make_task_batch(ExperimentTask task, int64_t seq_len, uint64_t stream, int64_t first,
                          int64_t count);

// The cells compared: "lstm", "peephole" (LSTM with peephole connections), "cifg" (coupled input
// and forget gates), "layer_norm" (the layer-normalised LSTM), "gru", "gru_reset_before" (reset
// gate before the product), "rnn_tanh".
const std::vector<std::string>& experiment_cells();
// The recurrent core for a cell name (input size and hidden size filled in), layer-normalised
// with `layer_norm` (lstm and cifg only, as apply_cell_variant); throws on others.
NetworkConfig experiment_network(std::string_view cell, ExperimentTask task, int64_t hidden,
                                 bool layer_norm = false);

struct ExperimentOptions {
  ExperimentTask task = ExperimentTask::adding;
  std::string cell = "lstm";
  bool layer_norm = false;  // --layer-norm: the cell (lstm or cifg) layer-normalised
  int64_t seq_len = 100;   // T
  int64_t hidden = 128;    // H
  int64_t batch = 50;      // sequences per step
  double lr = 3e-3;        // Adam, constant (1e-3 needed twice the sequences at T = 100)
  double clip_norm = 1.0;  // clip_grad_norm before every step; 0: off
  double zoneout = 0.0;    // NetworkConfig::zoneout, for every cell
  int64_t layers = 1;      // stacked layers of the cell
  bool residual = false;   // NetworkConfig::residual (layers ≥ 2)
  bool highway = false;    // NetworkConfig::highway (layers ≥ 2, not with residual)
  // LSTM and peephole: the forget gate's initial bias. NaN (the default): chrono initialisation
  // (Tallec & Ollivier 2018), unit h's bias_ih b_h = log(U(1, T − 1)) and its input gate's −b_h;
  // a number: that bias for every unit (set_forget_bias). The bias_hh parts are 0.
  double forget_bias = std::numeric_limits<double>::quiet_NaN();
  double time_limit_seconds = 600;  // training stops once exceeded; 0: none
  int64_t max_sequences = 0;        // training stops once this many were seen; 0: none
  int64_t eval_every = 100;         // optimiser steps between evaluations
  int64_t eval_size = 1000;         // held-out sequences per evaluation (one fixed set)
  int64_t test_size = 5000;         // fresh sequences for the final test
  uint64_t seed = 0;                // weights and every data stream
  void validate() const;            // throws lstm::Error naming the option
};

// The task's score on a set of sequences.
struct TaskScore {
  double loss = 0.0;      // mean MSE (adding) or cross-entropy (temporal_order)
  double accuracy = 0.0;  // temporal_order: fraction classified correctly; adding: NaN
};
// Whether a score counts as solved: MSE < 0.01 · margin, or accuracy >= 1 − 0.01 ·
// margin. Training stops once the held-out score is solved with kStopMargin, so that the final
// test on fresh sequences (margin 1, which decides `solved`) does not land on the threshold.
constexpr double kStopMargin = 0.8;
bool is_solved(ExperimentTask task, const TaskScore& score, double margin = 1.0);
// Loss of the best constant answer: 1/6 (adding, answer 1), ln 4 (temporal_order, uniform).
double baseline_loss(ExperimentTask task);

// One point of the learning curve, taken at every evaluation.
struct HistoryPoint {
  int64_t sequences_seen = 0;
  double seconds = 0.0;     // since training started
  double train_loss = 0.0;  // mean over the steps since the previous point
  TaskScore eval;           // on the held-out set
};

enum class ExperimentStop { solved, time_limit, max_sequences, diverged };
std::string_view stop_name(ExperimentStop stop);  // "solved", "time_limit", ...

struct ExperimentResult {
  std::string cell;
  int64_t steps = 0;
  int64_t sequences_seen = 0;
  double seconds = 0.0;      // training, including the periodic evaluations; not the final test
  double cpu_seconds = 0.0;  // processor time of the whole process (every thread) in `seconds`
  ExperimentStop stop = ExperimentStop::time_limit;
  TaskScore test;       // on test_size fresh sequences
  bool solved = false;  // is_solved(test)
  std::vector<HistoryPoint> history;
};

// Scores a last_step model on sequences first .. first+count−1 of `stream` (inference mode).
TaskScore evaluate_task(SequenceModel& model, ExperimentTask task, int64_t seq_len, uint64_t stream,
                        int64_t count);

// A fresh model for the options: experiment_network core, last_step head, initialised from
// the seed, forget-gate bias set for LSTM cells; metadata "experiment" names the task.
SequenceModel make_experiment_model(const ExperimentOptions& options);

// Trains `model` (from make_experiment_model) on fresh batches until solved on the held-out set
// (with kStopMargin), the time limit or max_sequences; then tests it on fresh sequences. `progress`
// is called after every evaluation with the point just added. Deterministic in the seed for one
// thread count.
ExperimentResult run_experiment(SequenceModel& model, const ExperimentOptions& options,
                                const std::function<void(const HistoryPoint&)>& progress = {});

// Records the result in the model's metadata "experiment" (task, cell, seq_len, seed, test score).
void record_result(SequenceModel& model, const ExperimentOptions& options,
                   const ExperimentResult& result);

// An HTML report of runs on the same task and options (one result per cell): the learning curves
// (held-out loss against sequences seen, log y, with the constant-answer baseline and the
// solved threshold dashed), the training loss, and a table of the results.
report::Document experiment_report(const ExperimentOptions& options,
                                   const std::vector<ExperimentResult>& results);

}  // namespace lstm::apps
