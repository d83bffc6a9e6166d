// The vectorised activations of the active instruction-set path (LSTM_MAX_ISA: CTest runs this
// once per path) against the C library's in double: exp, sigmoid and tanh over the range the cells meet, including the far tails and the
// small arguments where tanh switches to its series.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/vector_kernels.hpp"
#include "isa_test_util.hpp"

LSTM_TEST_PER_ISA_PATH();

namespace {

enum Kind { kExp = 0, kSigmoid = 1, kTanh = 2 };

// The activation applied lane by lane to `inputs` by the active path's vector code.
std::vector<float> through_simd(const std::vector<float>& inputs, Kind kind) {
  std::vector<float> out(inputs.size());
  lstm::vector_kernels<float>().activation(kind, inputs.data(), out.data(), static_cast<int64_t>(inputs.size()));
  return out;
}

std::vector<float> grid() {
  std::vector<float> x;
  for (double v = -30.0; v <= 30.0; v += 1.0 / 1024) x.push_back(static_cast<float>(v));
  for (double v = 1e-8; v < 0.2; v *= 1.1) {
    x.push_back(static_cast<float>(v));
    x.push_back(static_cast<float>(-v));
  }
  for (float v : {0.0f, -0.0f, 80.0f, -80.0f, 87.0f, -87.0f, 100.0f, -100.0f, 1e30f, -1e30f}) x.push_back(v);
  return x;
}

// The largest error relative to max(|reference|, floor) over the grid.
template <typename Reference>
double worst_error(const std::vector<float>& x, const std::vector<float>& got, Reference reference,
                   double floor) {
  double worst = 0;
  for (size_t k = 0; k < x.size(); ++k) {
    const double want = reference(static_cast<double>(x[k]));
    worst = std::max(worst, std::abs(got[k] - want) / std::max(std::abs(want), floor));
  }
  return worst;
}

TEST(Activations, SigmoidWithinFloatPrecision) {
  const auto x = grid();
  const auto got = through_simd(x, kSigmoid);
  const double error = worst_error(x, got, [](double v) { return 1.0 / (1.0 + std::exp(-v)); }, 1e-30);
  EXPECT_LT(error, 4e-7);  // a few units in the last place of a float (2^-23 = 1.2e-7)
}

TEST(Activations, TanhWithinFloatPrecision) {
  const auto x = grid();
  const auto got = through_simd(x, kTanh);
  const double error = worst_error(x, got, [](double v) { return std::tanh(v); }, 1e-30);
  EXPECT_LT(error, 5e-7);  // largest just past |x| = 0.3, where 1 − 2/(e^{2x} + 1) loses a bit
}

TEST(Activations, ExpWithinFloatPrecision) {
  std::vector<float> x;
  for (double v = -87.0; v <= 88.0; v += 1.0 / 256) x.push_back(static_cast<float>(v));
  const auto got = through_simd(x, kExp);
  EXPECT_LT(worst_error(x, got, [](double v) { return std::exp(v); }, 0.0), 4e-7);
}

}  // namespace
