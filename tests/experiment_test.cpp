// The long-lag experiments: the adding and temporal-order generators against the tasks'
// definitions, the constant answers' scores against their closed forms, and short training
// runs that must beat those baselines clearly.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <set>

#include "apps/experiment.hpp"

namespace {

using lstm::apps::ExperimentOptions;
using lstm::apps::ExperimentTask;
using lstm::apps::make_task_batch;
using lstm::apps::TaskBatch;

// Input feature f of sequence b at step t of a [T, B, F] batch.
float at(const TaskBatch& batch, int64_t t, int64_t b, int64_t f) {
  return batch.inputs[static_cast<size_t>((t * batch.batch + b) * batch.features + f)];
}

// The one symbol (one-hot index) of sequence b at step t; -1 unless exactly one input is 1.
int64_t symbol_at(const TaskBatch& batch, int64_t t, int64_t b) {
  int64_t symbol = -1, ones = 0;
  for (int64_t f = 0; f < batch.features; ++f) {
    const float value = at(batch, t, b, f);
    if (value != 0.0f && value != 1.0f) return -1;
    if (value == 1.0f) {
      symbol = f;
      ++ones;
    }
  }
  return ones == 1 ? symbol : -1;
}

TEST(AddingTask, MarkersOneInEachHalfAndTargetIsTheirSum) {
  for (int64_t T : {2, 7, 10, 51}) {
    const TaskBatch batch = make_task_batch(ExperimentTask::adding, T, 42, 0, 400);
    ASSERT_EQ(batch.features, 2);
    ASSERT_EQ(batch.inputs.size(), static_cast<size_t>(T * 400 * 2));
    ASSERT_EQ(batch.targets.size(), 400u);
    std::set<int64_t> first_positions, second_positions;
    for (int64_t b = 0; b < 400; ++b) {
      std::vector<int64_t> marked;
      for (int64_t t = 0; t < T; ++t) {
        const float value = at(batch, t, b, 0), marker = at(batch, t, b, 1);
        ASSERT_TRUE(value >= 0.0f && value <= 1.0f) << "T " << T << " b " << b << " t " << t;
        ASSERT_TRUE(marker == 0.0f || marker == 1.0f);
        if (marker == 1.0f) marked.push_back(t);
      }
      ASSERT_EQ(marked.size(), 2u) << "T " << T << " b " << b;
      EXPECT_LT(marked[0], T / 2);  // first half [0, T/2), second half [T/2, T)
      EXPECT_GE(marked[1], T / 2);
      first_positions.insert(marked[0]);
      second_positions.insert(marked[1]);
      EXPECT_EQ(batch.targets[b], at(batch, marked[0], b, 0) + at(batch, marked[1], b, 0));
    }
    // 400 draws cover every position of each half (at most 26 of them) almost surely.
    EXPECT_EQ(static_cast<int64_t>(first_positions.size()), T / 2) << "T " << T;
    EXPECT_EQ(static_cast<int64_t>(second_positions.size()), T - T / 2) << "T " << T;
  }
}

TEST(AddingTask, DeterministicPerSequenceAndDifferentPerStream) {
  const TaskBatch whole = make_task_batch(ExperimentTask::adding, 12, 7, 0, 10);
  const TaskBatch again = make_task_batch(ExperimentTask::adding, 12, 7, 0, 10);
  EXPECT_EQ(whole.inputs, again.inputs);
  EXPECT_EQ(whole.targets, again.targets);
  // Sequences 4..6 alone are the same sequences as inside the larger batch.
  const TaskBatch part = make_task_batch(ExperimentTask::adding, 12, 7, 4, 3);
  for (int64_t b = 0; b < 3; ++b) {
    EXPECT_EQ(part.targets[b], whole.targets[b + 4]);
    for (int64_t t = 0; t < 12; ++t)
      for (int64_t f = 0; f < 2; ++f) EXPECT_EQ(at(part, t, b, f), at(whole, t, b + 4, f));
  }
  const TaskBatch other = make_task_batch(ExperimentTask::adding, 12, 8, 0, 10);
  EXPECT_NE(other.inputs, whole.inputs);
}

// Answering 1 always: E[(v1 + v2 − 1)²] = Var(v1 + v2) = 2/12 for independent U[0,1) values.
// (v1 + v2 − 1)² has variance E[D⁴] − (1/6)² = 1/15 − 1/36 = 7/180 (D triangular on [−1, 1]),
// so over 40000 sequences the standard error is sqrt(7/180/40000) ≈ 0.001.
TEST(AddingTask, ConstantOnePredictorScoresOneSixth) {
  const int64_t count = 40000;
  const TaskBatch batch = make_task_batch(ExperimentTask::adding, 6, 3, 0, count);
  double squared = 0.0, values = 0.0;
  for (int64_t b = 0; b < count; ++b) {
    squared += (batch.targets[b] - 1.0) * (batch.targets[b] - 1.0);
    for (int64_t t = 0; t < 6; ++t) values += at(batch, t, b, 0);
  }
  EXPECT_NEAR(squared / count, 1.0 / 6.0, 0.005);
  EXPECT_NEAR(values / (count * 6), 0.5, 0.005);  // sd 1/sqrt(12·240000) ≈ 0.0006
  EXPECT_DOUBLE_EQ(lstm::apps::baseline_loss(ExperimentTask::adding), 1.0 / 6.0);
}

TEST(TemporalOrderTask, SymbolsPositionsAndClasses) {
  // For T = 100 the relevant positions are the paper's: t1 in 10..20, t2 in 50..60.
  const int64_t T = 100, count = 4000;
  const TaskBatch batch = make_task_batch(ExperimentTask::temporal_order, T, 5, 0, count);
  ASSERT_EQ(batch.features, 8);
  ASSERT_EQ(batch.classes.size(), static_cast<size_t>(count));
  std::vector<int64_t> class_count(4, 0);
  std::set<int64_t> t1_seen, t2_seen;
  using lstm::apps::sym_B, lstm::apps::sym_d, lstm::apps::sym_E, lstm::apps::sym_X,
      lstm::apps::sym_Y;
  for (int64_t b = 0; b < count; ++b) {
    std::vector<int64_t> relevant;
    for (int64_t t = 0; t < T; ++t) {
      const int64_t symbol = symbol_at(batch, t, b);
      ASSERT_GE(symbol, 0) << "not one-hot at t " << t << " b " << b;
      if (t == 0) {
        EXPECT_EQ(symbol, sym_E);
      } else if (t == T - 1) {
        EXPECT_EQ(symbol, sym_B);
      } else if (symbol == sym_X || symbol == sym_Y) {
        relevant.push_back(t);
      } else {
        EXPECT_LE(symbol, sym_d) << "t " << t;  // a distractor a, b, c or d
      }
    }
    ASSERT_EQ(relevant.size(), 2u) << "b " << b;
    EXPECT_TRUE(relevant[0] >= 10 && relevant[0] <= 20) << relevant[0];
    EXPECT_TRUE(relevant[1] >= 50 && relevant[1] <= 60) << relevant[1];
    t1_seen.insert(relevant[0]);
    t2_seen.insert(relevant[1]);
    // Classes in the paper's order Q, R, S, U = XX, XY, YX, YY.
    const bool first_y = symbol_at(batch, relevant[0], b) == sym_Y;
    const bool second_y = symbol_at(batch, relevant[1], b) == sym_Y;
    const int64_t expected = first_y ? (second_y ? 3 : 2) : (second_y ? 1 : 0);
    EXPECT_EQ(batch.classes[b], expected);
    ++class_count[static_cast<size_t>(batch.classes[b])];
  }
  EXPECT_EQ(t1_seen.size(), 11u);
  EXPECT_EQ(t2_seen.size(), 11u);
  // Each class 1/4: sd of a count sqrt(4000·3/16) ≈ 27, so ±150 is over 5 sd.
  for (int64_t n : class_count) EXPECT_NEAR(n, 1000, 150);
  EXPECT_DOUBLE_EQ(lstm::apps::baseline_loss(ExperimentTask::temporal_order), std::log(4.0));
}

TEST(TemporalOrderTask, ShortestSequencesAndTooShort) {
  const TaskBatch batch = make_task_batch(ExperimentTask::temporal_order, 4, 1, 0, 50);
  for (int64_t b = 0; b < 50; ++b) {  // E, (X|Y), (X|Y), B
    EXPECT_EQ(symbol_at(batch, 0, b), lstm::apps::sym_E);
    EXPECT_GE(symbol_at(batch, 1, b), lstm::apps::sym_X);
    EXPECT_LE(symbol_at(batch, 2, b), lstm::apps::sym_Y);
    EXPECT_GE(symbol_at(batch, 2, b), lstm::apps::sym_X);
    EXPECT_EQ(symbol_at(batch, 3, b), lstm::apps::sym_B);
  }
  EXPECT_THROW(make_task_batch(ExperimentTask::temporal_order, 3, 1, 0, 5), lstm::Error);
  EXPECT_THROW(make_task_batch(ExperimentTask::adding, 1, 1, 0, 5), lstm::Error);
}

TEST(Experiment, OptionsAndModels) {
  ExperimentOptions options;
  options.cell = "lstm2";
  EXPECT_THROW(options.validate(), lstm::Error);
  options.cell = "peephole";
  options.seq_len = 1;
  EXPECT_THROW(options.validate(), lstm::Error);
  options.seq_len = 20;
  options.hidden = 4;
  options.forget_bias = 1.0;
  lstm::SequenceModel peephole = lstm::apps::make_experiment_model(options);
  EXPECT_TRUE(peephole.network().config().peephole);
  EXPECT_EQ(peephole.config().head_mode, lstm::HeadMode::last_step);
  // bias_ih_l0 in gate order i, f, g, o: the forget block [H, 2H) is the requested bias.
  const std::span<float> bias = peephole.parameter("rnn.bias_ih_l0");
  for (int64_t k = 4; k < 8; ++k) EXPECT_EQ(bias[k], 1.0f);
  // Chrono: forget bias b_h in [0, log(T − 1)] = [0, log 19] per unit, input bias −b_h.
  options.forget_bias = NAN;
  options.hidden = 64;
  lstm::SequenceModel chrono = lstm::apps::make_experiment_model(options);
  const std::span<float> bias_ih = chrono.parameter("rnn.bias_ih_l0");
  const std::span<float> bias_hh = chrono.parameter("rnn.bias_hh_l0");
  float low = 1e9f, high = -1e9f;
  for (int64_t h = 0; h < 64; ++h) {
    const float forget = bias_ih[64 + h];
    EXPECT_TRUE(forget >= 0.0f && forget <= std::log(19.0f) + 1e-6f) << forget;
    EXPECT_EQ(bias_ih[h], -forget);
    EXPECT_EQ(bias_hh[h], 0.0f);
    EXPECT_EQ(bias_hh[64 + h], 0.0f);
    low = std::min(low, forget);
    high = std::max(high, forget);
  }
  EXPECT_LT(low, 1.5f);  // spread over the range: 64 draws of log(1 + 18u)
  EXPECT_GT(high, 2.5f);
  options.cell = "gru";
  options.task = ExperimentTask::temporal_order;
  lstm::SequenceModel gru = lstm::apps::make_experiment_model(options);
  EXPECT_EQ(gru.network().config().cell, lstm::CellType::gru);
  EXPECT_EQ(gru.config().rnn.input_size, 8);
  EXPECT_EQ(gru.config().output_size, 4);
}

TEST(Experiment, SolvedThresholds) {
  using lstm::apps::is_solved;
  EXPECT_TRUE(is_solved(ExperimentTask::adding, {.loss = 0.0099, .accuracy = NAN}));
  EXPECT_FALSE(is_solved(ExperimentTask::adding, {.loss = 0.01, .accuracy = NAN}));
  EXPECT_FALSE(is_solved(ExperimentTask::adding, {.loss = 0.0085, .accuracy = NAN}, 0.8));
  EXPECT_FALSE(is_solved(ExperimentTask::adding, {.loss = NAN, .accuracy = NAN}));
  EXPECT_TRUE(is_solved(ExperimentTask::temporal_order, {.loss = 9, .accuracy = 990 / 1000.0}));
  EXPECT_FALSE(is_solved(ExperimentTask::temporal_order, {.loss = 0, .accuracy = 989 / 1000.0}));
  EXPECT_FALSE(is_solved(ExperimentTask::temporal_order, {.loss = 0, .accuracy = 0.991}, 0.8));
  EXPECT_TRUE(is_solved(ExperimentTask::temporal_order, {.loss = 0, .accuracy = 0.992}, 0.8));
}

// A model whose head ignores the network and answers its bias: the adding score is the MSE of
// answering 1, the temporal-order accuracy the share of the favoured class, both computed here.
TEST(Experiment, EvaluateConstantAnswers) {
  ExperimentOptions options;
  options.hidden = 3;
  options.seq_len = 8;
  lstm::SequenceModel adding = lstm::apps::make_experiment_model(options);
  std::ranges::fill(adding.parameter("head.weight"), 0.0f);
  adding.parameter("head.bias")[0] = 1.0f;
  const lstm::apps::TaskScore score =
      lstm::apps::evaluate_task(adding, ExperimentTask::adding, 8, 11, 1234);  // 3 chunks
  const TaskBatch batch = make_task_batch(ExperimentTask::adding, 8, 11, 0, 1234);
  double squared = 0.0;
  for (float target : batch.targets) squared += (target - 1.0) * (target - 1.0);
  EXPECT_NEAR(score.loss, squared / 1234, 1e-6);
  EXPECT_TRUE(std::isnan(score.accuracy));

  options.task = ExperimentTask::temporal_order;
  lstm::SequenceModel order = lstm::apps::make_experiment_model(options);
  std::ranges::fill(order.parameter("head.weight"), 0.0f);
  std::ranges::fill(order.parameter("head.bias"), 0.0f);
  order.parameter("head.bias")[2] = 1.0f;  // always class 2 (YX)
  const lstm::apps::TaskScore guess =
      lstm::apps::evaluate_task(order, ExperimentTask::temporal_order, 8, 11, 700);
  const TaskBatch symbols = make_task_batch(ExperimentTask::temporal_order, 8, 11, 0, 700);
  const double share =
      static_cast<double>(std::count(symbols.classes.begin(), symbols.classes.end(), int64_t{2})) /
      700.0;
  EXPECT_NEAR(guess.accuracy, share, 1e-12);
  // Logits (0, 0, 1, 0): cross-entropy log(3 + e) − [class = 2].
  const double expected = std::log(3.0 + std::numbers::e) - share;
  EXPECT_NEAR(guess.loss, expected, 1e-5);
}

// A short run: 16 units, `batches` batches of 32 sequences, lr 1e-2, no time limit.
ExperimentOptions short_run(ExperimentTask task, int64_t seq_len, int64_t batches) {
  ExperimentOptions options;
  options.task = task;
  options.seq_len = seq_len;
  options.hidden = 16;
  options.batch = 32;
  options.lr = 1e-2;
  options.eval_every = 50;
  options.eval_size = 500;
  options.test_size = 1000;
  options.max_sequences = 32 * batches;
  options.time_limit_seconds = 0;
  return options;
}

// Short runs on short sequences must get well below the constant answer's score.
TEST(Experiment, TrainingBeatsTheBaseline) {
  const ExperimentOptions options = short_run(ExperimentTask::adding, 20, 400);
  lstm::SequenceModel model = lstm::apps::make_experiment_model(options);
  int64_t calls = 0;
  const lstm::apps::ExperimentResult result =
      lstm::apps::run_experiment(model, options, [&](const lstm::apps::HistoryPoint&) { ++calls; });
  EXPECT_LT(result.test.loss, 0.04) << "baseline 0.167";
  EXPECT_EQ(calls, static_cast<int64_t>(result.history.size()));
  ASSERT_GE(result.history.size(), 2u);
  EXPECT_EQ(result.history.front().sequences_seen, 0);
  for (size_t k = 1; k < result.history.size(); ++k)
    EXPECT_GT(result.history[k].sequences_seen, result.history[k - 1].sequences_seen);
  EXPECT_EQ(result.sequences_seen, result.steps * 32);
  if (result.stop == lstm::apps::ExperimentStop::solved) {
    EXPECT_LT(result.history.back().eval.loss, 0.01);
  } else {
    EXPECT_EQ(result.sequences_seen, options.max_sequences);
  }
}

TEST(Experiment, TemporalOrderTrainingBeatsGuessing) {
  const ExperimentOptions options = short_run(ExperimentTask::temporal_order, 30, 300);
  lstm::SequenceModel model = lstm::apps::make_experiment_model(options);
  const lstm::apps::ExperimentResult result = lstm::apps::run_experiment(model, options);
  EXPECT_GT(result.test.accuracy, 0.9) << "guessing 0.25";
  EXPECT_LT(result.test.loss, 0.5) << "guessing ln 4 = 1.386";
  EXPECT_EQ(result.solved, result.test.accuracy >= 0.99);
}

TEST(Experiment, SameSeedSameRun) {
  ExperimentOptions options;
  options.cell = "rnn_tanh";
  options.seq_len = 6;
  options.hidden = 8;
  options.batch = 8;
  options.eval_every = 5;
  options.eval_size = 100;
  options.test_size = 100;
  options.max_sequences = 8 * 20;
  options.time_limit_seconds = 0;
  lstm::SequenceModel first = lstm::apps::make_experiment_model(options);
  lstm::SequenceModel second = lstm::apps::make_experiment_model(options);
  const auto a = lstm::apps::run_experiment(first, options);
  const auto b = lstm::apps::run_experiment(second, options);
  ASSERT_EQ(a.history.size(), b.history.size());
  for (size_t k = 0; k < a.history.size(); ++k) {
    if (k > 0) {  // point 0 has no training loss yet
      EXPECT_EQ(a.history[k].train_loss, b.history[k].train_loss) << k;
    }
    EXPECT_EQ(a.history[k].eval.loss, b.history[k].eval.loss) << k;
  }
  EXPECT_EQ(a.test.loss, b.test.loss);
  EXPECT_EQ(a.stop, lstm::apps::ExperimentStop::max_sequences);
}

}  // namespace
