// Losses against PyTorch (tests/data/train/losses.safetensors), finite-difference gradient
// checks in double, the stability of the log-softmax, and the errors.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "lstm/train.hpp"
#include "train_test_util.hpp"

namespace {

using lstm::LossConfig;
using lstm::LossKind;
using test_util::compare_tensors;
using train_test::random_values;

constexpr double kTolerance = 2e-6;  // float32 against PyTorch, scaled by max(1, max |expected|)

TEST(TrainLosses, RegressionLossesMatchPyTorch) {
  const train_test::Reference ref("losses.safetensors");
  const std::vector<float>& pred = ref.floats("pred");
  const std::vector<float>& target = ref.floats("target");
  const std::vector<float>& weight = ref.floats("row_weight");
  const double delta = std::stod(ref.contents.metadata.at("huber_delta"));
  for (LossKind kind : {LossKind::mse, LossKind::mae, LossKind::huber}) {
    for (bool weighted : {false, true}) {
      const std::string key = std::string(lstm::loss_name(kind)) + (weighted ? "_weighted" : "");
      SCOPED_TRACE(key);
      std::vector<float> grad(pred.size());
      const float loss = lstm::regression_loss(
          LossConfig{kind, delta}, pred, target, grad,
          weighted ? std::span<const float>(weight) : std::span<const float>());
      EXPECT_NEAR(loss, ref.floats(key + ".loss")[0], 1e-6);
      EXPECT_TRUE(compare_tensors(key + ".grad", ref.floats(key + ".grad"), grad, kTolerance));
      // The loss alone (no gradient) is the same number.
      EXPECT_EQ(loss, lstm::regression_loss(
                          LossConfig{kind, delta}, pred, target, {},
                          weighted ? std::span<const float>(weight) : std::span<const float>()));
    }
  }
}

TEST(TrainLosses, CrossEntropyMatchesPyTorch) {
  const train_test::Reference ref("losses.safetensors");
  const std::vector<float>& logits = ref.floats("logits");
  const std::vector<int64_t> classes = ref.integers("classes");
  const std::vector<float>& weight = ref.floats("class_weight");
  const int64_t vocab = ref.tensor("logits").shape.at(1);
  for (bool weighted : {false, true}) {
    const std::string key = weighted ? "cross_entropy_weighted" : "cross_entropy";
    std::vector<float> grad(logits.size());
    const float loss = lstm::cross_entropy_loss(
        logits, vocab, classes, grad,
        weighted ? std::span<const float>(weight) : std::span<const float>());
    EXPECT_NEAR(loss, ref.floats(key + ".loss")[0], 1e-6) << key;
    EXPECT_TRUE(compare_tensors(key + ".grad", ref.floats(key + ".grad"), grad, kTolerance));
  }
}

TEST(TrainLosses, RegressionGradientsMatchFiniteDifferences) {
  const size_t rows = 5, cols = 3;
  const std::vector<double> target = random_values(1, rows * cols, 2.0);
  std::vector<double> pred = random_values(2, rows * cols, 2.0);
  const double delta = 0.6;
  for (size_t k = 0; k < pred.size(); ++k) {  // keep away from the kinks at 0 and ±delta
    const double d = std::abs(pred[k] - target[k]);
    if (d < 1e-2 || std::abs(d - delta) < 1e-2) pred[k] += 0.05;
  }
  const std::vector<double> weight = {1.0, 0.0, 0.25, 2.0, 1.0};
  for (LossKind kind : {LossKind::mse, LossKind::mae, LossKind::huber}) {
    for (bool weighted : {false, true}) {
      const LossConfig config{kind, delta};
      const std::span<const double> w =
          weighted ? std::span<const double>(weight) : std::span<const double>();
      std::vector<double> grad(pred.size());
      lstm::regression_loss(config, pred, target, grad, w);
      train_test::expect_gradient_matches(
          std::string(lstm::loss_name(kind)) + (weighted ? " weighted" : ""), &pred,
          [&] { return lstm::regression_loss(config, pred, target, {}, w); }, grad, 1e-7);
    }
  }
}

TEST(TrainLosses, CrossEntropyGradientMatchesFiniteDifferences) {
  const int64_t vocab = 6;
  std::vector<double> logits = random_values(3, 4 * vocab, 3.0);
  const std::vector<int64_t> classes = {5, -1, 0, 3};
  const std::vector<double> weight = {0.5, 1.0, 2.0, 1.0};
  for (bool weighted : {false, true}) {
    const std::span<const double> w =
        weighted ? std::span<const double>(weight) : std::span<const double>();
    std::vector<double> grad(logits.size());
    lstm::cross_entropy_loss(logits, vocab, classes, grad, w);
    train_test::expect_gradient_matches(
        weighted ? "cross_entropy weighted" : "cross_entropy", &logits,
        [&] { return lstm::cross_entropy_loss(logits, vocab, classes, {}, w); }, grad, 1e-7);
  }
}

TEST(TrainLosses, CrossEntropyIsStableForHugeLogits) {
  const std::vector<float> logits = {1.0f, -2.0f, 0.5f, 3.0f, 0.0f, -1.0f};
  std::vector<float> shifted(logits.size());
  for (size_t k = 0; k < logits.size(); ++k) shifted[k] = logits[k] + 1000.0f;
  const std::vector<int64_t> classes = {2, 0};
  std::vector<float> grad(logits.size()), grad_shifted(logits.size());
  const float loss = lstm::cross_entropy_loss(logits, 3, classes, grad);
  const float loss_shifted = lstm::cross_entropy_loss(shifted, 3, classes, grad_shifted);
  EXPECT_NEAR(loss, loss_shifted, 1e-5);
  EXPECT_TRUE(compare_tensors("grad", grad, grad_shifted, 1e-5));
  const std::vector<float> extreme = {1e30f, -1e30f, 0.0f};
  const float confident = lstm::cross_entropy_loss(extreme, 3, std::vector<int64_t>{1}, {});
  EXPECT_TRUE(std::isfinite(confident));
  EXPECT_GT(confident, 1e29f);
}

TEST(TrainLosses, ZeroTotalWeightGivesZero) {
  const std::vector<float> pred = {1, 2, 3, 4}, target = {0, 0, 0, 0}, weight = {0, 0};
  std::vector<float> grad(4, 7.0f);
  EXPECT_EQ(lstm::regression_loss(LossConfig{}, pred, target, grad, weight), 0.0f);
  for (float g : grad) EXPECT_EQ(g, 0.0f);
  const std::vector<int64_t> ignored = {-1, -1};
  EXPECT_EQ(lstm::cross_entropy_loss(pred, 2, ignored, grad), 0.0f);
  for (float g : grad) EXPECT_EQ(g, 0.0f);
}

TEST(TrainLosses, BadArgumentsThrow) {
  const std::vector<float> four = {1, 2, 3, 4}, three = {1, 2, 3};
  std::vector<float> grad(4);
  EXPECT_THROW(lstm::regression_loss(LossConfig{}, four, three, grad), lstm::Error);
  EXPECT_THROW(lstm::regression_loss(LossConfig{}, four, four, grad, three),
               lstm::Error);  // 4 values, 3 rows
  EXPECT_THROW(lstm::regression_loss(LossConfig{LossKind::cross_entropy}, four, four, grad),
               lstm::Error);
  EXPECT_THROW(lstm::regression_loss(LossConfig{LossKind::huber, 0.0}, four, four, grad),
               lstm::Error);
  const std::vector<float> negative = {1, -1};
  EXPECT_THROW(lstm::regression_loss(LossConfig{}, four, four, grad, negative), lstm::Error);
  EXPECT_THROW(lstm::cross_entropy_loss(four, 2, std::vector<int64_t>{0, 2}, grad), lstm::Error);
  EXPECT_THROW(lstm::cross_entropy_loss(four, 2, std::vector<int64_t>{0, -2}, grad), lstm::Error);
  EXPECT_THROW(lstm::cross_entropy_loss(four, 3, std::vector<int64_t>{0}, grad), lstm::Error);
  train_test::expect_error(
      [&] {
        lstm::cross_entropy_loss(four, 2, std::vector<int64_t>{0, 5}, grad);
      },
      {"cross_entropy", "class 5 of row 1"});
}

TEST(TrainLosses, NamesRoundTrip) {
  train_test::expect_names_round_trip(
      {LossKind::mse, LossKind::mae, LossKind::huber, LossKind::cross_entropy}, lstm::loss_name,
      lstm::parse_loss, "l2");
  train_test::expect_error([] { lstm::parse_loss("l2"); },
                           {"unknown loss 'l2' (expected mse, mae, huber or cross_entropy)"});
}

}  // namespace
