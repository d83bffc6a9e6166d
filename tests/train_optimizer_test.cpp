// Optimisers and gradient clipping against PyTorch (tests/data/train/optim.safetensors), state
// export/import, and the learning-rate schedules.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <span>
#include <string>
#include <vector>

#include "lstm/threads.hpp"
#include "lstm/train.hpp"
#include "train_test_util.hpp"

namespace {

using lstm::Optimizer;
using lstm::ParameterView;
using test_util::compare_tensors;

// Two parameters p0 [3, 4] and p1 [5] with their gradients in one flat buffer, as a model has.
struct TwoParameters {
  std::vector<float> p0, p1;
  std::vector<float> grads;  // [12 | 5]
  std::vector<ParameterView> views() {
    const std::span<float> g(grads);
    return {{"p0", {3, 4}, p0, g.subspan(0, 12)}, {"p1", {5}, p1, g.subspan(12, 5)}};
  }
};

// Steps s of the reference's gradient sequence into the flat gradient buffer.
void load_grads(const train_test::Reference& ref, int64_t step, TwoParameters& params) {
  const std::vector<float>& g0 = ref.floats("grads.p0");
  const std::vector<float>& g1 = ref.floats("grads.p1");
  std::copy(g0.begin() + step * 12, g0.begin() + (step + 1) * 12, params.grads.begin());
  std::copy(g1.begin() + step * 5, g1.begin() + (step + 1) * 5, params.grads.begin() + 12);
}

TEST(TrainOptimizer, StepsMatchPyTorch) {
  const train_test::Reference ref("optim.safetensors");
  const nlohmann::json optimizers = ref.json("optimizers");
  const int64_t steps = std::stoll(ref.contents.metadata.at("steps"));
  const double max_norm = std::stod(ref.contents.metadata.at("max_norm"));
  ASSERT_EQ(optimizers.size(), 7u);
  for (const auto& [name, settings] : optimizers.items()) {
    SCOPED_TRACE(name);
    TwoParameters params{ref.floats("p0"), ref.floats("p1"), std::vector<float>(17)};
    Optimizer optimizer(train_test::optimizer_config(settings), params.views());
    for (int64_t s = 0; s < steps; ++s) {
      load_grads(ref, s, params);
      const double norm = lstm::clip_grad_norm(params.grads, max_norm);
      EXPECT_NEAR(norm, ref.floats(name + ".norm")[s], 1e-6 * std::max(1.0, norm)) << "step " << s;
      optimizer.step(params.views(), ref.floats(name + ".lr")[s]);
      const std::vector<float>& want0 = ref.floats(name + ".p0");
      const std::vector<float>& want1 = ref.floats(name + ".p1");
      const std::string at = " after step " + std::to_string(s);
      EXPECT_TRUE(
          compare_tensors("p0" + at, std::span(want0).subspan(s * 12, 12), params.p0, 1e-6));
      EXPECT_TRUE(compare_tensors("p1" + at, std::span(want1).subspan(s * 5, 5), params.p1, 1e-6));
    }
    EXPECT_EQ(optimizer.step_count(), steps);
    // The exported state is PyTorch's optimizer.state[p] (momentum_buffer, exp_avg, exp_avg_sq).
    const lstm::OptimizerState state = optimizer.state();
    EXPECT_EQ(state.step_count, steps);
    for (const auto& [tensor_name, tensor] : state.tensors)
      EXPECT_TRUE(compare_tensors(tensor_name, ref.floats(name + ".state." + tensor_name),
                                  tensor.data, 1e-6));
    const bool has_state = settings["kind"] != "sgd" || settings.value("momentum", 0.0) != 0.0;
    EXPECT_EQ(state.tensors.size(), has_state ? (settings["kind"] == "sgd" ? 2u : 4u) : 0u);
  }
}

TEST(TrainOptimizer, StateRoundTripContinuesBitIdentically) {
  const train_test::Reference ref("optim.safetensors");
  for (const char* kind : {"adamw", "sgd"}) {
    lstm::OptimizerConfig config;
    config.kind = lstm::parse_optimizer(kind);
    config.momentum = config.kind == lstm::OptimizerKind::sgd ? 0.9 : 0.0;
    config.weight_decay = 0.01;
    TwoParameters a{ref.floats("p0"), ref.floats("p1"), std::vector<float>(17)};
    Optimizer first(config, a.views());
    for (int64_t s = 0; s < 2; ++s) {
      load_grads(ref, s, a);
      first.step(a.views(), 0.01);
    }
    TwoParameters b = a;
    lstm::OptimizerState state = first.state();
    std::reverse(state.tensors.begin(), state.tensors.end());  // order does not matter
    lstm::OptimizerConfig other = config;
    other.momentum = 0.5;  // replaced by the state's config
    Optimizer second(other, b.views());
    second.load_state(state, "test");
    EXPECT_EQ(second.step_count(), 2);
    for (int64_t s = 2; s < 5; ++s) {
      load_grads(ref, s, a);
      load_grads(ref, s, b);
      first.step(a.views(), 0.01);
      second.step(b.views(), 0.01);
    }
    EXPECT_EQ(a.p0, b.p0) << kind;
    EXPECT_EQ(a.p1, b.p1) << kind;
  }
}

// The vector kernel that steps Adam and AdamW (one per instruction-set path: this test runs once
// per path) against the update written out one value at a time, on two threads (each stepping
// its share of the tensor) and over a length that leaves a partial vector at the end. The vector
// paths may fuse a product with its sum (FMA): a few ulps apart, no more.
TEST(TrainOptimizer, AdamKernelMatchesTheUpdateValueByValue) {
  for (const char* kind : {"adam", "adamw"}) {
    for (const double decay : {0.0, 0.05}) {
      lstm::OptimizerConfig config;
      config.kind = lstm::parse_optimizer(kind);
      config.weight_decay = decay;
      lstm::set_num_threads(2);
      const size_t n = 2 * 65536 + 13;  // two threads' worth (Optimizer::step splits from 2 × 65536)
      std::vector<float> p(n), grads(n);
      const std::vector<double> start = train_test::random_values(7, n);
      std::copy(start.begin(), start.end(), p.begin());
      std::vector<float> want = p, m(n, 0.0f), v(n, 0.0f);
      const std::vector<ParameterView> views = {{"w", {static_cast<int64_t>(n)}, p, grads}};
      Optimizer optimizer(config, views);
      for (int64_t t = 1; t <= 3; ++t) {
        const std::vector<double> g = train_test::random_values(100 + static_cast<uint64_t>(t), n, 0.5);
        std::copy(g.begin(), g.end(), grads.begin());
        const double lr = 0.01 * static_cast<double>(t);
        optimizer.step(views, lr);
        // PyTorch 1.13's single-tensor Adam and AdamW in float, operation by operation.
        const bool decoupled = config.kind == lstm::OptimizerKind::adamw;
        const float step_size = static_cast<float>(-(lr / (1.0 - std::pow(0.9, static_cast<double>(t)))));
        const float correction2_sqrt = static_cast<float>(std::sqrt(1.0 - std::pow(0.999, static_cast<double>(t))));
        for (size_t k = 0; k < n; ++k) {
          if (decoupled && decay != 0) want[k] = want[k] * static_cast<float>(1.0 - lr * decay);
          float d = grads[k];
          if (!decoupled && decay != 0) d = d + static_cast<float>(decay) * want[k];
          m[k] = m[k] * 0.9f + static_cast<float>(1.0 - 0.9) * d;
          v[k] = v[k] * 0.999f + static_cast<float>(1.0 - 0.999) * d * d;
          want[k] = want[k] + step_size * (m[k] / (std::sqrt(v[k]) / correction2_sqrt + 1e-8f));
        }
        double worst = 0.0;
        for (size_t k = 0; k < n; ++k)
          worst = std::max(worst, std::abs(static_cast<double>(p[k]) - want[k]) / std::max(1.0, std::abs(double{want[k]})));
        ASSERT_LE(worst, 1e-6) << kind << " weight decay " << decay << " step " << t;
        EXPECT_GT(std::abs(p[n - 1] - start[n - 1]), 1e-4) << "the last, partial vector moved too";
      }
    }
  }
}

TEST(TrainOptimizer, LoadStateRejectsMismatches) {
  TwoParameters params{std::vector<float>(12), std::vector<float>(5), std::vector<float>(17)};
  Optimizer adam(lstm::OptimizerConfig{}, params.views());
  lstm::OptimizerState state = adam.state();
  lstm::OptimizerState wrong_kind = state;
  wrong_kind.config.kind = lstm::OptimizerKind::adamw;
  EXPECT_THROW(adam.load_state(wrong_kind, "x"), lstm::Error);
  lstm::OptimizerState missing = state;
  missing.tensors.pop_back();
  EXPECT_THROW(adam.load_state(missing, "x"), lstm::Error);
  lstm::OptimizerState reshaped = state;
  reshaped.tensors[0].second.shape = {4, 3};
  EXPECT_THROW(adam.load_state(reshaped, "x"), lstm::Error);
  lstm::OptimizerState renamed = state;
  renamed.tensors[1].first = "exp_avg.p9";
  train_test::expect_error([&] { adam.load_state(renamed, "ckpt.safetensors"); },
                           {"ckpt.safetensors", "missing tensor 'exp_avg.p1'"});
  // Stepping with other parameters than those the optimiser was built for.
  std::vector<ParameterView> views = params.views();
  views.pop_back();
  EXPECT_THROW(adam.step(views, 0.1), lstm::Error);
}

TEST(TrainOptimizer, ConfigValidation) {
  lstm::OptimizerConfig config;
  config.kind = lstm::OptimizerKind::sgd;
  config.nesterov = true;  // without momentum
  EXPECT_THROW(config.validate(), lstm::Error);
  config.momentum = 0.9;
  config.dampening = 0.1;
  EXPECT_THROW(config.validate(), lstm::Error);
  config.dampening = 0.0;
  EXPECT_NO_THROW(config.validate());
  config.beta2 = 1.0;
  EXPECT_THROW(config.validate(), lstm::Error);
  train_test::expect_names_round_trip(
      {lstm::OptimizerKind::sgd, lstm::OptimizerKind::adam, lstm::OptimizerKind::adamw},
      lstm::optimizer_name, lstm::parse_optimizer, "rmsprop");
}

TEST(TrainOptimizer, ClipGradNorm) {
  std::vector<float> grads = {3.0f, 4.0f};
  EXPECT_DOUBLE_EQ(lstm::clip_grad_norm(grads, 10.0), 5.0);
  EXPECT_EQ(grads, (std::vector<float>{3.0f, 4.0f}));  // under the limit: unchanged
  EXPECT_DOUBLE_EQ(lstm::clip_grad_norm(grads, 1.0), 5.0);
  EXPECT_NEAR(std::hypot(grads[0], grads[1]), 1.0, 1e-6);
  EXPECT_NEAR(grads[0] / grads[1], 0.75, 1e-6);
  std::vector<float> bad = {1.0f, NAN};
  EXPECT_TRUE(std::isnan(lstm::clip_grad_norm(bad, 1.0)));
  EXPECT_EQ(bad[0], 1.0f);
}

TEST(TrainSchedule, ConstantAndWarmup) {
  lstm::LrSchedule schedule;
  schedule.lr = 0.1;
  EXPECT_DOUBLE_EQ(schedule.lr_at(0), 0.1);
  EXPECT_DOUBLE_EQ(schedule.lr_at(1000), 0.1);
  schedule.warmup_steps = 4;
  EXPECT_DOUBLE_EQ(schedule.lr_at(0), 0.025);
  EXPECT_DOUBLE_EQ(schedule.lr_at(3), 0.1);
  EXPECT_DOUBLE_EQ(schedule.lr_at(4), 0.1);
}

TEST(TrainSchedule, CosineDecaysToTheFloor) {
  const lstm::LrSchedule schedule{.kind = lstm::ScheduleKind::cosine,
                                  .lr = 1.0,
                                  .warmup_steps = 10,
                                  .total_steps = 110,
                                  .min_lr = 0.1};
  ASSERT_NO_THROW(schedule.validate());
  EXPECT_DOUBLE_EQ(schedule.lr_at(4), 0.5);
  EXPECT_DOUBLE_EQ(schedule.lr_at(10), 1.0);
  EXPECT_NEAR(schedule.lr_at(60), 0.55, 1e-12);
  EXPECT_NEAR(schedule.lr_at(35), 0.1 + 0.9 * 0.5 * (1 + std::cos(std::numbers::pi / 4)), 1e-12);
  EXPECT_DOUBLE_EQ(schedule.lr_at(110), 0.1);
  EXPECT_DOUBLE_EQ(schedule.lr_at(500), 0.1);
  for (int64_t s = 11; s < 110; ++s) EXPECT_LT(schedule.lr_at(s), schedule.lr_at(s - 1));
}

TEST(TrainSchedule, StepDecay) {
  const lstm::LrSchedule schedule{
      .kind = lstm::ScheduleKind::step, .lr = 1.0, .step_size = 3, .gamma = 0.5};
  const double want[] = {1, 1, 1, 0.5, 0.5, 0.5, 0.25};
  for (int64_t s = 0; s < 7; ++s) EXPECT_DOUBLE_EQ(schedule.lr_at(s), want[s]) << s;
}

TEST(TrainSchedule, CooldownFallsLinearlyOverTheLastPartOfTheBudget) {
  // 100 s with the last 20% cooling down: full rate until 80 s, half at 90 s, 0 from 100 s.
  EXPECT_DOUBLE_EQ(lstm::cooldown_factor(0, 100, 0.2), 1.0);
  EXPECT_DOUBLE_EQ(lstm::cooldown_factor(80, 100, 0.2), 1.0);
  EXPECT_DOUBLE_EQ(lstm::cooldown_factor(85, 100, 0.2), 0.75);
  EXPECT_DOUBLE_EQ(lstm::cooldown_factor(90, 100, 0.2), 0.5);
  EXPECT_DOUBLE_EQ(lstm::cooldown_factor(100, 100, 0.2), 0.0);
  EXPECT_DOUBLE_EQ(lstm::cooldown_factor(130, 100, 0.2), 0.0);
  EXPECT_DOUBLE_EQ(lstm::cooldown_factor(25, 100, 1.0), 0.75);
  EXPECT_DOUBLE_EQ(lstm::cooldown_factor(99, 0, 0.2), 1.0);   // no budget
  EXPECT_DOUBLE_EQ(lstm::cooldown_factor(99, 100, 0), 1.0);   // no cool-down
}

TEST(TrainSchedule, Validation) {
  lstm::LrSchedule schedule;
  schedule.kind = lstm::ScheduleKind::cosine;
  EXPECT_THROW(schedule.validate(), lstm::Error);  // total_steps 0
  schedule.total_steps = 10;
  schedule.min_lr = 1.0;  // above lr
  EXPECT_THROW(schedule.validate(), lstm::Error);
  schedule.kind = lstm::ScheduleKind::step;
  schedule.step_size = 0;
  EXPECT_THROW(schedule.validate(), lstm::Error);
  train_test::expect_names_round_trip(
      {lstm::ScheduleKind::constant, lstm::ScheduleKind::cosine, lstm::ScheduleKind::step},
      lstm::schedule_name, lstm::parse_schedule, "linear");
}

}  // namespace
