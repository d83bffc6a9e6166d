// Linear and Embedding layers against PyTorch (tests/data/train/heads.safetensors), gradient
// checks in double, initialisation, padding ids and bad ids.
#include <gtest/gtest.h>

#include <cmath>
#include <span>
#include <vector>

#include "train/heads.hpp"
#include "train_test_util.hpp"

namespace {

using test_util::compare_tensors;
using train_test::random_values;

constexpr double kTolerance = 1e-6;

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double sum = 0.0;
  for (size_t k = 0; k < a.size(); ++k) sum += a[k] * b[k];
  return sum;
}

TEST(TrainHeads, LinearMatchesPyTorch) {
  const train_test::Reference ref("heads.safetensors");
  const std::vector<float>& x = ref.floats("linear.x");
  const int64_t rows = ref.tensor("linear.x").shape.at(0), in = ref.tensor("linear.x").shape.at(1);
  const int64_t out = ref.tensor("linear.weight").shape.at(0);
  const std::vector<float>& weight = ref.floats("linear.weight");
  const std::vector<float>& bias = ref.floats("linear.bias");
  std::vector<float> y(static_cast<size_t>(rows * out));
  lstm::linear_forward(rows, in, out, x.data(), weight.data(), bias.data(), y.data());
  EXPECT_TRUE(compare_tensors("y", ref.floats("linear.y"), y, kTolerance));

  // Gradients accumulate onto what is there (1.0); grad_x is overwritten (starts as garbage).
  std::vector<float> dx(x.size(), 123.0f), dweight(weight.size(), 1.0f), dbias(bias.size(), 1.0f);
  lstm::linear_backward(rows, in, out, x.data(), weight.data(), ref.floats("linear.dy").data(),
                        dx.data(), dweight.data(), dbias.data());
  std::vector<float> want_dweight = ref.floats("linear.dweight"),
                     want_dbias = ref.floats("linear.dbias");
  for (float& value : want_dweight) value += 1.0f;
  for (float& value : want_dbias) value += 1.0f;
  EXPECT_TRUE(compare_tensors("dx", ref.floats("linear.dx"), dx, kTolerance));
  EXPECT_TRUE(compare_tensors("dweight", want_dweight, dweight, kTolerance));
  EXPECT_TRUE(compare_tensors("dbias", want_dbias, dbias, kTolerance));
}

TEST(TrainHeads, EmbeddingMatchesPyTorch) {
  const train_test::Reference ref("heads.safetensors");
  const std::vector<int64_t> ids = ref.integers("embedding.ids");
  const std::vector<float>& weight = ref.floats("embedding.weight");
  const int64_t vocab = ref.tensor("embedding.weight").shape.at(0),
                dim = ref.tensor("embedding.weight").shape.at(1);
  const auto rows = static_cast<int64_t>(ids.size());
  std::vector<float> y(static_cast<size_t>(rows * dim));
  lstm::embedding_forward(rows, vocab, dim, ids.data(), weight.data(), y.data());
  EXPECT_TRUE(compare_tensors("y", ref.floats("embedding.y"), y, 0.0));
  std::vector<float> dweight(weight.size(), 0.0f);
  lstm::embedding_backward(rows, dim, ids.data(), ref.floats("embedding.dy").data(),
                           dweight.data());
  EXPECT_TRUE(compare_tensors("dweight", ref.floats("embedding.dweight"), dweight, kTolerance));
}

TEST(TrainHeads, LinearGradientsMatchFiniteDifferences) {
  const int64_t rows = 4, in = 3, out = 5;
  std::vector<double> x = random_values(1, rows * in), weight = random_values(2, out * in);
  std::vector<double> bias = random_values(3, out);
  const std::vector<double> probe = random_values(4, rows * out);  // loss = Σ y ⊙ probe
  auto loss = [&] {
    std::vector<double> y(static_cast<size_t>(rows * out));
    lstm::linear_forward(rows, in, out, x.data(), weight.data(), bias.data(), y.data());
    return dot(y, probe);
  };
  std::vector<double> dx(x.size()), dweight(weight.size(), 0.0), dbias(bias.size(), 0.0);
  lstm::linear_backward(rows, in, out, x.data(), weight.data(), probe.data(), dx.data(),
                        dweight.data(), dbias.data());
  train_test::expect_gradient_matches("dx", &x, loss, dx, 1e-8);
  train_test::expect_gradient_matches("dweight", &weight, loss, dweight, 1e-8);
  train_test::expect_gradient_matches("dbias", &bias, loss, dbias, 1e-8);
}

TEST(TrainHeads, EmbeddingGradientMatchesFiniteDifferences) {
  const int64_t vocab = 5, dim = 3;
  const std::vector<int64_t> ids = {4, 1, -1, 4, 0};  // a repeat and a padding id
  const auto rows = static_cast<int64_t>(ids.size());
  std::vector<double> weight = random_values(5, vocab * dim);
  const std::vector<double> probe = random_values(6, rows * dim);
  auto loss = [&] {
    std::vector<double> y(static_cast<size_t>(rows * dim));
    lstm::embedding_forward(rows, vocab, dim, ids.data(), weight.data(), y.data());
    return dot(y, probe);
  };
  std::vector<double> dweight(weight.size(), 0.0);
  lstm::embedding_backward(rows, dim, ids.data(), probe.data(), dweight.data());
  train_test::expect_gradient_matches("dweight", &weight, loss, dweight, 1e-8);
}

TEST(TrainHeads, EmbeddingPaddingAndBadIds) {
  const std::vector<float> weight = {1, 2, 3, 4};  // [2, 2]
  const std::vector<int64_t> ids = {1, -1};
  std::vector<float> y(4, 9.0f);
  lstm::embedding_forward(2, 2, 2, ids.data(), weight.data(), y.data());
  EXPECT_EQ(y, (std::vector<float>{3, 4, 0, 0}));
  for (int64_t bad : {int64_t{2}, int64_t{-2}}) {
    const std::vector<int64_t> bad_ids = {0, bad};
    train_test::expect_error(
        [&] { lstm::embedding_forward(2, 2, 2, bad_ids.data(), weight.data(), y.data()); },
        {"token id " + std::to_string(bad) + " at position 1"});
  }
}

TEST(TrainHeads, LinearInitIsPyTorchsUniformAndDeterministic) {
  const int64_t in = 16, out = 300;
  std::vector<float> weight(in * out), bias(out), again(in * out), other(in * out), again_bias(out);
  lstm::linear_init(in, out, 7, weight.data(), bias.data());
  lstm::linear_init(in, out, 7, again.data(), again_bias.data());
  lstm::linear_init(in, out, 8, other.data(), again_bias.data());
  EXPECT_EQ(weight, again);
  EXPECT_NE(weight, other);
  const float bound = 1.0f / std::sqrt(static_cast<float>(in));
  float largest = 0.0f;
  for (float value : weight) largest = std::max(largest, std::abs(value));
  for (float value : bias) largest = std::max(largest, std::abs(value));
  EXPECT_LE(largest, bound);
  EXPECT_GT(largest, 0.95f * bound);  // fills the range
}

TEST(TrainHeads, EmbeddingInitIsStandardNormal) {
  const int64_t vocab = 200, dim = 100;
  std::vector<double> weight(static_cast<size_t>(vocab * dim));
  lstm::embedding_init(vocab, dim, 3, weight.data());
  double sum = 0.0, squares = 0.0, fourth = 0.0;
  for (double value : weight) {
    ASSERT_TRUE(std::isfinite(value));
    sum += value;
    squares += value * value;
    fourth += value * value * value * value;
  }
  const double n = static_cast<double>(weight.size());
  EXPECT_NEAR(sum / n, 0.0, 0.03);
  EXPECT_NEAR(squares / n, 1.0, 0.04);
  EXPECT_NEAR(fourth / n, 3.0, 0.25);  // a normal's fourth moment, not a uniform's 1.8
  std::vector<double> again(weight.size());
  lstm::embedding_init(vocab, dim, 3, again.data());
  EXPECT_EQ(weight, again);
}

}  // namespace
