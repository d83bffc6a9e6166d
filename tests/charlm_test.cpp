// The character-level language model: carried state equals one long forward, scoring equals
// window-by-window scoring, sampling follows the model's distribution, and a small text is learnt.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include "apps/charlm.hpp"
#include "lstm/isa.hpp"
#include "test_util.hpp"

namespace {

using lstm::apps::CharLmData;
using lstm::apps::CharLmSetup;

std::string write_text(const test_util::TempDir& dir, const std::string& text) {
  const std::string path = dir.file("text.txt");
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

// A text with structure a small model can learn.
std::string rhyme(int repeats) {
  std::string text;
  const char* lines[] = {"the cat sat on the mat.\n", "a dog ran to the log.\n",
                         "the hen met ten men.\n"};
  for (int k = 0; k < repeats; ++k) text += lines[(k * 7 + k / 3) % 3];
  return text;
}

CharLmSetup small_setup() {
  CharLmSetup setup;
  setup.window = 6;
  setup.batch = 3;
  setup.embedding = 5;
  setup.hidden_size = 7;
  setup.validation_fraction = 0.2;
  setup.seed = 11;
  return setup;
}

// Mean cross-entropy of steps [first, first + count) of a [T, 1, V] forward of `ids[0, T]`.
double direct_loss(lstm::SequenceModel& model, const std::vector<int32_t>& ids, int64_t begin,
                   int64_t steps, int64_t first, int64_t count) {
  const int64_t V = model.config().output_size;
  std::vector<int64_t> tokens(ids.begin() + begin, ids.begin() + begin + steps);
  std::vector<float> logits(static_cast<size_t>(steps * V));
  lstm::ModelForwardArgs args;
  args.seq_len = steps;
  args.batch = 1;
  args.tokens = tokens.data();
  args.output = logits.data();
  model.forward(lstm::Mode::inference, args);
  double sum = 0.0;
  for (int64_t t = first; t < first + count; ++t) {
    const float* z = logits.data() + t * V;
    double total = 0.0;
    for (int64_t v = 0; v < V; ++v) total += std::exp(static_cast<double>(z[v]));
    sum += std::log(total) - z[ids[begin + t + 1]];
  }
  return sum / static_cast<double>(count);
}

TEST(CharLm, DataSplitsAndRejectsShortText) {
  test_util::TempDir dir;
  const CharLmData data = lstm::apps::prepare_charlm_data(write_text(dir, rhyme(20)), small_setup());
  EXPECT_EQ(data.vocabulary.size(), 16);  // 13 letters, space, full stop and newline
  EXPECT_EQ(data.split, static_cast<int64_t>(data.ids.size()) -
                            std::llround(0.2 * static_cast<double>(data.ids.size())));
  EXPECT_THROW(lstm::apps::prepare_charlm_data(write_text(dir, "abcd"), small_setup()),
               lstm::Error);
}

// Truncated BPTT: window k of a stream continues from the state window k−1 ended in, so its loss
// equals that of steps [kW, (k+1)W) of one forward over the whole stream from zero state.
TEST(CharLm, CarriedStateEqualsOneLongForward) {
  test_util::TempDir dir;
  CharLmSetup setup = small_setup();
  setup.carry_state = true;
  const CharLmData data = lstm::apps::prepare_charlm_data(write_text(dir, rhyme(30)), setup);
  lstm::SequenceModel model = lstm::apps::make_charlm_model(data, setup);
  auto task = lstm::apps::make_charlm_task(data, setup);
  ASSERT_TRUE(task->ordered());
  const int64_t W = setup.window, B = setup.batch;
  const int64_t stream = (data.split - 1) / B;
  EXPECT_EQ(task->count(), stream / W * B);
  for (int64_t k = 0; k < 3; ++k) {
    std::vector<int64_t> samples(static_cast<size_t>(B));
    for (int64_t b = 0; b < B; ++b) samples[b] = k * B + b;
    const double loss = task->train_batch(model, samples, k, 0);
    double expected = 0.0;
    for (int64_t b = 0; b < B; ++b)
      expected += direct_loss(model, data.ids, b * stream, (k + 1) * W, k * W, W) / B;
    EXPECT_NEAR(loss, expected, 1e-5) << "window " << k;
  }
  // The carried state is what a checkpoint stores: h [L*D*B*H] and c.
  const auto carried = task->carried_state();
  ASSERT_EQ(carried.size(), 2u);
  EXPECT_EQ(carried[0].second.data.size(), static_cast<size_t>(B * setup.hidden_size));
}

// score_text batches windows (padding the last); scoring each window alone must agree.
TEST(CharLm, ScoreEqualsWindowByWindow) {
  test_util::TempDir dir;
  const CharLmSetup setup = small_setup();
  const CharLmData data = lstm::apps::prepare_charlm_data(write_text(dir, rhyme(12)), setup);
  lstm::SequenceModel model = lstm::apps::make_charlm_model(data, setup);
  const int64_t n = static_cast<int64_t>(data.ids.size()), W = 10;
  ASSERT_NE((n - 1) % W, 0) << "the test wants a shorter last window";
  double sum = 0.0;
  int64_t predicted = 0;
  for (int64_t start = 0; start < n - 1; start += W) {
    const int64_t length = std::min(W, n - 1 - start);
    sum += direct_loss(model, data.ids, start, length, 0, length) * static_cast<double>(length);
    predicted += length;
  }
  const lstm::apps::TextScore score = lstm::apps::score_text(model, data.ids, W, 4);
  EXPECT_EQ(score.predicted, n - 1);
  EXPECT_EQ(predicted, n - 1);
  EXPECT_NEAR(score.loss, sum / static_cast<double>(predicted), 1e-5);
  EXPECT_NEAR(score.bits_per_char(), score.loss / std::log(2.0), 1e-12);
}

// With a zero head weight the logits are head.bias whatever the input: the sampled frequencies
// must follow softmax(bias / temperature), and temperature 0 always takes the largest.
TEST(CharLm, SamplingFollowsTheDistribution) {
  test_util::TempDir dir;
  const CharLmSetup setup = small_setup();
  const CharLmData data = lstm::apps::prepare_charlm_data(write_text(dir, rhyme(12)), setup);
  lstm::SequenceModel model = lstm::apps::make_charlm_model(data, setup);
  std::ranges::fill(model.parameter("head.weight"), 0.0f);
  std::span<float> bias = model.parameter("head.bias");
  const int64_t V = static_cast<int64_t>(bias.size());
  std::ranges::fill(bias, -30.0f);
  bias[1] = std::log(0.5f);
  bias[4] = std::log(0.3f);
  bias[7] = std::log(0.2f);
  const double temperature = 0.7;
  std::vector<double> expected(static_cast<size_t>(V), 0.0);
  double total = 0.0;
  for (int64_t v = 0; v < V; ++v) total += expected[v] = std::exp(bias[v] / temperature);
  for (double& p : expected) p /= total;

  const int draws = 20000;
  std::vector<int> counts(static_cast<size_t>(V), 0);
  const std::vector<int32_t> prompt = {0, 2};
  lstm::apps::generate(model, prompt, draws, temperature, 5, [&](int32_t id) { counts[id]++; });
  for (int64_t v = 0; v < V; ++v) {
    const double sd = std::sqrt(expected[v] * (1 - expected[v]) / draws);
    EXPECT_NEAR(counts[v] / static_cast<double>(draws), expected[v], 5 * sd + 1e-9) << v;
  }
  std::vector<int32_t> greedy;
  lstm::apps::generate(model, prompt, 5, 0.0, 5, [&](int32_t id) { greedy.push_back(id); });
  EXPECT_EQ(greedy, std::vector<int32_t>(5, 1));
}

// Truncated BPTT stopped within an epoch (the stop flag, as Ctrl-C sets it) and resumed from its
// checkpoint, carried state included, ends with exactly the weights of an uninterrupted run.
TEST(CharLm, CarriedStateResumesExactly) {
  test_util::TempDir dir;
  CharLmSetup setup = small_setup();
  setup.carry_state = true;
  const CharLmData data = lstm::apps::prepare_charlm_data(write_text(dir, rhyme(60)), setup);
  lstm::apps::TrainerOptions options;
  options.batch_size = setup.batch;
  options.max_epochs = 3;
  options.checkpoint_path = dir.file("run.ckpt");
  auto run = [&](const lstm::apps::TrainProgress& progress) {
    lstm::SequenceModel model = lstm::apps::make_charlm_model(data, setup);
    auto task = lstm::apps::make_charlm_task(data, setup);
    const lstm::apps::TrainResult result = lstm::apps::train(model, *task, options, progress);
    return std::pair(std::move(model), result);
  };
  const auto [whole, whole_result] = run({});
  ASSERT_EQ(whole_result.stop, lstm::apps::StopReason::max_epochs);

  std::atomic<bool> stop{false};
  options.stop_requested = &stop;
  lstm::apps::TrainProgress progress;
  progress.batch = [&](const lstm::apps::BatchReport& report) {
    if (report.epoch == 1 && report.batch == 2) stop = true;
  };
  const auto [stopped, stopped_result] = run(progress);
  ASSERT_EQ(stopped_result.stop, lstm::apps::StopReason::interrupted);
  EXPECT_EQ(lstm::load_checkpoint(options.checkpoint_path).metadata.at("batch"), "2");
  stop = false;
  options.resume = true;
  const auto [resumed, resumed_result] = run({});
  EXPECT_TRUE(resumed_result.resumed);
  const auto a = whole.tensors(), b = resumed.tensors();
  ASSERT_EQ(a.size(), b.size());
  for (size_t k = 0; k < a.size(); ++k)
    EXPECT_TRUE(a[k].second.data == b[k].second.data) << a[k].first;
}

// A time limit (1 s) with a cool-down over all of it: the rate falls at every epoch, from below
// the peak, and the run ends by the clock. A fraction outside [0, 1] is an error.
TEST(CharLm, CooldownLowersTheRateTowardsTheTimeLimit) {
  test_util::TempDir dir;
  const CharLmSetup setup = small_setup();
  const CharLmData data = lstm::apps::prepare_charlm_data(write_text(dir, rhyme(60)), setup);
  lstm::SequenceModel model = lstm::apps::make_charlm_model(data, setup);
  auto task = lstm::apps::make_charlm_task(data, setup);
  lstm::apps::TrainerOptions options;
  options.batch_size = setup.batch;
  options.max_epochs = 1000000;
  options.patience = 1000000;
  options.lr = 1e-2;
  options.warmup_fraction = 0;
  options.schedule = lstm::ScheduleKind::constant;
  options.time_limit_seconds = 1.0;
  options.cooldown_fraction = 1.0;
  std::vector<double> rates;
  const lstm::apps::TrainResult result = lstm::apps::train(
      model, *task, options,
      {.epoch = [&](const lstm::apps::EpochReport& report) { rates.push_back(report.lr); },
       .batch = {}});
  EXPECT_EQ(result.stop, lstm::apps::StopReason::time_limit);
  ASSERT_GE(rates.size(), 3u);
  EXPECT_LT(rates.front(), options.lr);
  for (size_t k = 1; k < rates.size(); ++k) EXPECT_LT(rates[k], rates[k - 1]) << k;
  EXPECT_LT(rates.back(), 0.5 * options.lr);

  options.cooldown_fraction = 1.5;
  EXPECT_THROW(lstm::apps::train(model, *task, options), lstm::Error);
}

void learns_a_small_text() {
  test_util::TempDir dir;
  CharLmSetup setup = small_setup();
  setup.window = 24;
  setup.batch = 16;
  setup.embedding = 16;
  setup.hidden_size = 48;
  setup.validation_fraction = 0.1;
  const CharLmData data = lstm::apps::prepare_charlm_data(write_text(dir, rhyme(240)), setup);
  lstm::SequenceModel model = lstm::apps::make_charlm_model(data, setup);
  auto task = lstm::apps::make_charlm_task(data, setup);
  lstm::apps::TrainerOptions options;
  options.batch_size = setup.batch;
  options.max_epochs = 40;
  options.lr = 1e-2;
  options.schedule = lstm::ScheduleKind::constant;
  const double before = lstm::apps::score_text(model, data.ids, setup.window).bits_per_char();
  const lstm::apps::TrainResult result = lstm::apps::train(model, *task, options);
  const double bits = result.best_validation_loss / std::log(2.0);
  // Uniform guessing costs log2(16) = 4 bits; the lines are nearly predictable after their
  // first letters, so a model that learnt them is far below 1 bit per character.
  EXPECT_GT(before, 3.5);
  EXPECT_LT(bits, 0.6) << "after " << result.epochs << " epochs";
}

TEST(CharLm, LearnsASmallText) {
  learns_a_small_text();
}

TEST(CharLm, LearnsASmallTextWithBf16Products) {
  if (!lstm::bf16_available()) GTEST_SKIP() << "the " << lstm::isa_name(lstm::active_isa()) << " path has no bf16 products";
  const test_util::PrecisionScope bf16(lstm::MatmulPrecision::bf16);
  learns_a_small_text();
}

}  // namespace
