// The packed per-step product against the naive GEMM it replaces: every row-tile size, partial
// panels, depths that span several blocks, unit ranges packed and multiplied piecewise; and the
// same product reading the weights in place; and a workspace that keeps its packed weights
// between inference calls only while they are the network's.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <tuple>
#include <string>
#include <vector>

#include "core/bf16_gemm.hpp"
#include "core/blas.hpp"
#include "core/packed_gemm.hpp"
#include "core/random.hpp"
#include "core/vector_kernels.hpp"
#include "isa_test_util.hpp"
#include "lstm/lstm.hpp"
#include "test_util.hpp"

LSTM_TEST_PER_ISA_PATH();

namespace {

template <typename T>
std::vector<T> random_values(size_t n, uint64_t seed) {
  std::vector<T> values(n);
  for (size_t k = 0; k < n; ++k) values[k] = static_cast<T>(2.0 * lstm::uniform01(seed, k) - 1.0);
  return values;
}

// C (+)= A Wᵀ with W [blocks*rows_per_block, k] packed and multiplied in two unit ranges, as two
// threads would.
template <typename T>
void packed_product(int64_t m, int64_t rows_per_block, int64_t blocks, int64_t k, const std::vector<T>& a,
                    const std::vector<T>& w, std::vector<T>& c, bool accumulate) {
  const int64_t n = blocks * rows_per_block, split = rows_per_block > 32 ? 32 : rows_per_block;
  lstm::PackedWeights<T> packed;
  packed.shape(blocks, rows_per_block, k);
  packed.pack(w.data(), k, 0, split);
  packed.pack(w.data(), k, split, rows_per_block);
  packed.multiply(m, a.data(), k, c.data(), n, 0, split, accumulate);
  packed.multiply(m, a.data(), k, c.data(), n, split, rows_per_block, accumulate);
}

template <typename T>
void check_product(int64_t m, int64_t rows_per_block, int64_t blocks, int64_t k, bool accumulate,
                   double tolerance) {
  const int64_t n = blocks * rows_per_block;
  const auto a = random_values<T>(static_cast<size_t>(m * k), 1);
  const auto w = random_values<T>(static_cast<size_t>(n * k), 2);
  auto c = random_values<T>(static_cast<size_t>(m * n), 3);
  auto expected = c;
  lstm::naive_gemm<T>(false, true, m, n, k, T(1), a.data(), k, w.data(), k, accumulate ? T(1) : T(0),
                      expected.data(), n);

  packed_product(m, rows_per_block, blocks, k, a, w, c, accumulate);
  const int64_t split = rows_per_block > 32 ? 32 : rows_per_block;
  const std::string name = "m=" + std::to_string(m) + " rows=" + std::to_string(rows_per_block) +
                           " blocks=" + std::to_string(blocks) + " k=" + std::to_string(k);
  EXPECT_TRUE(test_util::compare_tensors(name, std::span<const T>(expected), std::span<const T>(c), tolerance));

  // The same product reading W in place, in the same two unit ranges.
  auto c_in_place = random_values<T>(static_cast<size_t>(m * n), 3);
  lstm::PackedWeights<T> in_place;
  in_place.read_in_place(w.data(), k, blocks, rows_per_block, k);
  in_place.pack(w.data(), k, 0, rows_per_block);  // does nothing in place
  in_place.multiply(m, a.data(), k, c_in_place.data(), n, 0, split, accumulate);
  in_place.multiply(m, a.data(), k, c_in_place.data(), n, split, rows_per_block, accumulate);
  EXPECT_TRUE(test_util::compare_tensors(name + " in place", std::span<const T>(expected),
                                         std::span<const T>(c_in_place), tolerance));


  // The transposed form: C = A V with V [k, n].
  const auto v = random_values<T>(static_cast<size_t>(k * n), 4);
  std::vector<T> c2(static_cast<size_t>(m * n)), expected2(static_cast<size_t>(m * n));
  lstm::naive_gemm<T>(false, false, m, n, k, T(1), a.data(), k, v.data(), n, T(0), expected2.data(), n);
  lstm::PackedWeights<T> transposed;
  transposed.shape(1, n, k);
  transposed.pack_transposed(v.data(), n, 0, n);
  transposed.multiply(m, a.data(), k, c2.data(), n, 0, n, false);
  EXPECT_TRUE(test_util::compare_tensors(name + " transposed", std::span<const T>(expected2),
                                         std::span<const T>(c2), tolerance));

  // The same with V read in place (the batch-1 backward's form): V's first rows into C, then the
  // rest added, each in two column ranges; and once more onto C as it was.
  const lstm::VectorKernels<T> kernels = lstm::vector_kernels<T>();
  const std::vector<T> before = random_values<T>(static_cast<size_t>(m * n), 5);
  std::vector<T> c3 = before, plus = before, expected_plus = before;
  for (size_t i = 0; i < expected_plus.size(); ++i) expected_plus[i] += expected2[i];
  const int64_t first_rows = k / 3, columns[] = {0, n / 2, n};
  for (int part = 0; part < 2; ++part) {
    const int64_t i0 = part == 0 ? 0 : first_rows, i1 = part == 0 ? first_rows : k;
    for (int range = 0; range < 2; ++range)
      for (std::vector<T>* target : {&c3, &plus})
        kernels.multiply_in_place({m, a.data() + i0, k, target->data(), n, v.data() + i0 * n, n, 1, n, i1 - i0,
                                   columns[range], columns[range + 1], part > 0 || target == &plus, true});
  }
  EXPECT_TRUE(test_util::compare_tensors(name + " transposed in place", std::span<const T>(expected2),
                                         std::span<const T>(c3), tolerance));
  EXPECT_TRUE(test_util::compare_tensors(name + " transposed in place, added", std::span<const T>(expected_plus),
                                         std::span<const T>(plus), tolerance));
}

// k = 512, 600 and 1100: the vector paths first copy A with each row tile's rows interleaved
// (m ≥ 3 on AVX2, ≥ 4 on AVX-512, more than 64 columns; tiles of unequal heights from m = 7, 13,
// 31 and 64); 600 and 1100 cross their depth blocks of 512 once and twice. A float sum's rounding
// error grows with its length: the tolerance with it, past 600 terms.
TEST(PackedGemm, MatchesNaiveFloat) {
  for (int64_t m : {1, 2, 3, 4, 5, 7, 12, 13, 31, 64})
    for (int64_t rows : {1, 5, 16, 32, 33, 70, 160})
      for (int64_t k : {1, 7, 16, 64, 300, 512, 600, 1100})
        check_product<float>(m, rows, 4, k, (m + k) % 2 == 1, 2e-6 * std::max(1.0, static_cast<double>(k) / 600));
}

TEST(PackedGemm, MatchesNaiveDouble) {
  for (int64_t m : {1, 3, 13})
    for (int64_t rows : {5, 33})
      for (int64_t k : {7, 300}) check_product<double>(m, rows, 3, k, m % 2 == 1, 1e-13);
}

// The bias gradients' column sums against a double sum: widths around the vector paths' blocks
// of 4 vectors (16 and 64 floats wide), from an offset column of a wider matrix, into two targets.
TEST(ColumnSums, MatchNaiveDoubleSums) {
  const lstm::VectorKernels<float> kernels = lstm::vector_kernels<float>();
  const int64_t lda = 150, offset = 3;
  for (int64_t rows : {1, 7, 200})
    for (int64_t width : {1, 5, 15, 16, 17, 31, 32, 63, 64, 65, 100, 130, 147}) {
      const auto a = random_values<float>(static_cast<size_t>(rows * lda), 5);
      auto sum = random_values<float>(static_cast<size_t>(width), 6),
           also = random_values<float>(static_cast<size_t>(width), 7);
      auto past_end = sum;
      past_end.push_back(42.0f);  // the sums stop at `width`
      std::vector<double> want(static_cast<size_t>(width)), want_also(want.size());
      for (int64_t k = 0; k < width; ++k) {
        double total = 0;
        for (int64_t r = 0; r < rows; ++r) total += a[static_cast<size_t>(r * lda + offset + k)];
        want[static_cast<size_t>(k)] = sum[static_cast<size_t>(k)] + total;
        want_also[static_cast<size_t>(k)] = also[static_cast<size_t>(k)] + total;
      }
      kernels.add_column_sums(a.data() + offset, rows, lda, width, sum.data(), also.data());
      kernels.add_column_sums(a.data() + offset, rows, lda, width, past_end.data(), nullptr);
      for (int64_t k = 0; k < width; ++k) {
        const size_t i = static_cast<size_t>(k);
        EXPECT_NEAR(sum[i], want[i], 1e-6 * rows)
            << "rows " << rows << " width " << width << " column " << k;
        EXPECT_NEAR(also[i], want_also[i], 1e-6 * rows)
            << "rows " << rows << " width " << width << " column " << k;
        EXPECT_EQ(past_end[i], sum[i]);
      }
      EXPECT_EQ(past_end.back(), 42.0f) << "rows " << rows << " width " << width;
    }
}

// bf16 rounding done independently of bf16::from_float: 8 significant bits, ties to even
// (nearbyint in the default rounding mode).
float round_to_bf16(float x) {
  if (x == 0.0f) return x;
  int exponent = 0;
  std::frexp(static_cast<double>(x), &exponent);
  const double scaled = std::ldexp(static_cast<double>(x), 8 - exponent);  // in [128, 256)
  return static_cast<float>(std::ldexp(std::nearbyint(scaled), exponent - 8));
}

TEST(Bf16, RoundsToNearestEven) {
  const float cases[] = {1.0f, -2.5f, 1.0f + 0x1p-8f, 1.0f + 0x3p-8f, 1.0f + 0x1p-9f,
                         1.0f + 0x1.8p-8f, 3.14159265f, -1e-3f, 65504.0f, 1e-30f};
  for (float x : cases)
    EXPECT_EQ(lstm::bf16::to_float(lstm::bf16::from_float(x)), round_to_bf16(x)) << x;
  // By hand: 1 + 2^-8 is halfway between 1 and 1 + 2^-7 and goes to the even 1; 1 + 3·2^-8
  // goes up to 1 + 2^-6.
  EXPECT_EQ(lstm::bf16::from_float(1.0f + 0x1p-8f), 0x3F80);
  EXPECT_EQ(lstm::bf16::from_float(1.0f + 0x3p-8f), 0x3F82);
}

// The bf16 path in force (AMX tiles or VDPBF16PS) against a double product of the same operands rounded to bf16: only the float
// accumulation may differ.
void check_bf16_product(int64_t m, int64_t rows_per_block, int64_t blocks, int64_t k, bool accumulate) {
  const int64_t n = blocks * rows_per_block;
  const auto a = random_values<float>(static_cast<size_t>(m * k), 5);
  const auto w = random_values<float>(static_cast<size_t>(n * k), 6);
  const auto v = random_values<float>(static_cast<size_t>(k * n), 7);
  const auto c0 = random_values<float>(static_cast<size_t>(m * n), 8);
  std::vector<double> expected(static_cast<size_t>(m * n)), expected_t(expected.size());
  for (int64_t r = 0; r < m; ++r)
    for (int64_t j = 0; j < n; ++j) {
      double sum = accumulate ? c0[r * n + j] : 0.0, sum_t = 0.0;
      for (int64_t i = 0; i < k; ++i) {
        const double x = round_to_bf16(a[r * k + i]);
        sum += x * round_to_bf16(w[j * k + i]);
        sum_t += x * round_to_bf16(v[i * n + j]);
      }
      expected[r * n + j] = sum;
      expected_t[r * n + j] = sum_t;
    }
  const std::string name = "m=" + std::to_string(m) + " rows=" + std::to_string(rows_per_block) +
                           " k=" + std::to_string(k);
  const test_util::PrecisionScope bf16(lstm::MatmulPrecision::bf16);
  auto c = c0;
  packed_product(m, rows_per_block, blocks, k, a, w, c, accumulate);
  const int64_t split = rows_per_block > 32 ? 32 : rows_per_block;
  const std::vector<double> got(c.begin(), c.end());
  EXPECT_TRUE(test_util::compare_tensors(name, std::span<const double>(expected), std::span<const double>(got), 1e-5));

  std::vector<float> c_t(static_cast<size_t>(m * n), -1.0f);
  lstm::PackedWeights<float> transposed;
  transposed.shape(1, n, k);
  transposed.pack_transposed(v.data(), n, 0, split);
  transposed.pack_transposed(v.data(), n, split, n);
  transposed.multiply(m, a.data(), k, c_t.data(), n, 0, n, false);
  const std::vector<double> got_t(c_t.begin(), c_t.end());
  EXPECT_TRUE(test_util::compare_tensors(name + " transposed", std::span<const double>(expected_t),
                                         std::span<const double>(got_t), 1e-5));
}

TEST(Bf16, PackedProductsMatchARoundedDoubleReference) {
  if (!lstm::bf16_available()) GTEST_SKIP() << "the " << lstm::isa_name(lstm::active_isa()) << " path has no bf16 products";
  for (int64_t m : {1, 5, 16, 17, 32, 33, 64})
    for (int64_t rows : {5, 32, 33, 70})
      for (int64_t k : {1, 7, 32, 33, 300, 512}) check_bf16_product(m, rows, 3, k, (m + k) % 2 == 1);
}

// Packing that does not follow the precision (the input side's products) stays in float under
// bf16: the product is bit-identical to the one packed at fp32.
TEST(Bf16, PackingThatIgnoresThePrecisionStaysFloat) {
  if (!lstm::bf16_available()) GTEST_SKIP() << "the " << lstm::isa_name(lstm::active_isa()) << " path has no bf16 products";
  const int64_t m = 20, rows = 40, k = 300;
  const auto a = random_values<float>(static_cast<size_t>(m * k), 9);
  const auto w = random_values<float>(static_cast<size_t>(rows * k), 10);
  std::vector<float> at_fp32(static_cast<size_t>(m * rows)), at_bf16(at_fp32.size());
  lstm::PackedWeights<float> packed;
  packed.shape(1, rows, k);
  packed.pack(w.data(), k, 0, rows);
  packed.multiply(m, a.data(), k, at_fp32.data(), rows, 0, rows, false);
  const test_util::PrecisionScope bf16(lstm::MatmulPrecision::bf16);
  packed.shape(1, rows, k, false);
  EXPECT_FALSE(packed.bf16());
  packed.pack(w.data(), k, 0, rows);
  packed.multiply(m, a.data(), k, at_bf16.data(), rows, 0, rows, false);
  EXPECT_EQ(at_fp32, at_bf16);
  packed.shape(1, rows, k);
  EXPECT_TRUE(packed.bf16());
}

// A weight gradient over many steps, dW[i0:i1] += Gᵀ X, against the rounded double reference.
TEST(Bf16, GradientMatchesARoundedDoubleReference) {
  if (!lstm::bf16_available()) GTEST_SKIP() << "the " << lstm::isa_name(lstm::active_isa()) << " path has no bf16 products";
  for (int64_t depth : {1, 33, 640})
    for (int64_t n : {5, 33, 64})
      for (auto [i0, i1] : {std::pair<int64_t, int64_t>{0, 70}, {16, 49}, {64, 96}}) {
        const int64_t m = 100;
        const auto g = random_values<float>(static_cast<size_t>(depth * m), 9);
        const auto x = random_values<float>(static_cast<size_t>(depth * n), 10);
        auto c = random_values<float>(static_cast<size_t>(m * n), 11);
        std::vector<double> expected(c.begin(), c.end());
        for (int64_t i = i0; i < i1; ++i)
          for (int64_t j = 0; j < n; ++j)
            for (int64_t k = 0; k < depth; ++k)
              expected[i * n + j] += static_cast<double>(round_to_bf16(g[k * m + i])) * round_to_bf16(x[k * n + j]);
        lstm::bf16::add_gradient(depth, i0, i1, n, g.data(), m, x.data(), n, c.data(), n);
        const std::vector<double> got(c.begin(), c.end());
        EXPECT_TRUE(test_util::compare_tensors(
            "depth=" + std::to_string(depth) + " n=" + std::to_string(n) + " rows " + std::to_string(i0) +
                ".." + std::to_string(i1),
            std::span<const double>(expected), std::span<const double>(got), 1e-5));
      }
}

// The products with weights outside the time loop (x W_ihᵀ, dX = dgates W_ih, dW += Gᵀ X), in
// each of bf16::gemm's three forms, against the rounded double reference.
TEST(Bf16, GemmFormsMatchARoundedDoubleReference) {
  if (!lstm::bf16_available()) GTEST_SKIP() << "the " << lstm::isa_name(lstm::active_isa()) << " path has no bf16 products";
  for (const int form : {0, 1, 2})  // A Bᵀ, A B, Aᵀ B
    for (const int64_t m : {1, 6, 37})
      for (const int64_t n : {5, 40, 97})
        for (const int64_t k : {3, 33, 130}) {
          const bool ta = form == 2, tb = form == 0, accumulate = form == 2 || (m + n) % 2 == 1;
          const int64_t lda = ta ? m + 2 : k + 1, ldb = tb ? k + 3 : n + 1, ldc = n + 2;  // padded strides
          const auto a = random_values<float>(static_cast<size_t>((ta ? k : m) * lda), 12);
          const auto b = random_values<float>(static_cast<size_t>((tb ? n : k) * ldb), 13);
          auto c = random_values<float>(static_cast<size_t>(m * ldc), 14);
          std::vector<double> expected(c.begin(), c.end());
          for (int64_t i = 0; i < m; ++i)
            for (int64_t j = 0; j < n; ++j) {
              double sum = accumulate ? c[i * ldc + j] : 0.0;
              for (int64_t q = 0; q < k; ++q)
                sum += static_cast<double>(round_to_bf16(ta ? a[q * lda + i] : a[i * lda + q])) *
                       round_to_bf16(tb ? b[j * ldb + q] : b[q * ldb + j]);
              expected[i * ldc + j] = sum;
            }
          lstm::bf16::gemm(ta, tb, m, n, k, a.data(), lda, b.data(), ldb, accumulate, c.data(), ldc);
          const std::vector<double> got(c.begin(), c.end());
          EXPECT_TRUE(test_util::compare_tensors("form " + std::to_string(form) + " m=" + std::to_string(m) +
                                                     " n=" + std::to_string(n) + " k=" + std::to_string(k),
                                                 std::span<const double>(expected), std::span<const double>(got), 1e-5));
        }
}

// x W_ihᵀ + b_ih as the input part over every step computes it: the bias added as C is stored,
// in a product small enough to stay in the caches, in one large enough (over 4 MiB of C, 64-byte
// aligned) to stream past them, and in one of several blocks of rows (the vector path's blocks
// of 256 KiB of A: 312 rows at depth 400); all against the rounded double reference.
TEST(Bf16, GemmWithBiasMatchesARoundedDoubleReference) {
  if (!lstm::bf16_available()) GTEST_SKIP() << "the " << lstm::isa_name(lstm::active_isa()) << " path has no bf16 products";
  for (const auto& [m, n, k] : {std::tuple<int64_t, int64_t, int64_t>{37, 97, 40}, {1100, 1024, 40}, {700, 97, 400}}) {
    const auto a = random_values<float>(static_cast<size_t>(m * k), 15);
    const auto b = random_values<float>(static_cast<size_t>(n * k), 16);
    const auto bias = random_values<float>(static_cast<size_t>(n), 17);
    std::vector<float> storage(static_cast<size_t>(m * n + 16), 5.0f);
    const std::span<float> c(storage.data() + (64 - reinterpret_cast<uintptr_t>(storage.data()) % 64) % 64 / 4,
                             static_cast<size_t>(m * n));
    std::vector<double> expected(c.size());
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double sum = bias[static_cast<size_t>(j)];
        for (int64_t q = 0; q < k; ++q)
          sum += static_cast<double>(round_to_bf16(a[i * k + q])) * round_to_bf16(b[j * k + q]);
        expected[static_cast<size_t>(i * n + j)] = sum;
      }
    lstm::bf16::gemm(false, true, m, n, k, a.data(), k, b.data(), k, false, c.data(), n, bias.data());
    const std::vector<double> got(c.begin(), c.end());
    EXPECT_TRUE(test_util::compare_tensors("m=" + std::to_string(m) + " n=" + std::to_string(n) + " k=" + std::to_string(k),
                                           std::span<const double>(expected), std::span<const double>(got), 1e-5));
  }
  std::vector<float> c(4, 0.0f), a(4, 1.0f), bias(2, 1.0f);
  EXPECT_THROW(lstm::bf16::gemm(false, true, 2, 2, 2, a.data(), 2, a.data(), 2, true, c.data(), 2, bias.data()),
               lstm::Error);
}

// multiply() with a bias, as the bf16 input part over every step uses it: C = A Wᵀ + bias in
// every row (what C held does not count), over three blocks in two unit ranges, packed, read in
// place and packed in bf16; against double sums (of the rounded operands, for bf16).
TEST(PackedGemm, AddsTheBiasToEveryRow) {
  const int64_t m = 7, rows = 40, blocks = 3, k = 50, n = blocks * rows, split = 32;
  const auto a = random_values<float>(static_cast<size_t>(m * k), 11);
  const auto w = random_values<float>(static_cast<size_t>(n * k), 12);
  const auto bias = random_values<float>(static_cast<size_t>(n), 13);
  auto check = [&](const std::string& name, const lstm::PackedWeights<float>& packed,
                   bool rounded) {
    std::vector<float> c(static_cast<size_t>(m * n), 7.0f);
    packed.multiply(m, a.data(), k, c.data(), n, 0, split, false, bias.data());
    packed.multiply(m, a.data(), k, c.data(), n, split, rows, false, bias.data());
    std::vector<double> expected(c.size());
    for (int64_t r = 0; r < m; ++r)
      for (int64_t j = 0; j < n; ++j) {
        double sum = bias[static_cast<size_t>(j)];
        for (int64_t i = 0; i < k; ++i) {
          const float x = a[static_cast<size_t>(r * k + i)], y = w[static_cast<size_t>(j * k + i)];
          sum += rounded ? static_cast<double>(round_to_bf16(x)) * round_to_bf16(y)
                         : static_cast<double>(x) * y;
        }
        expected[static_cast<size_t>(r * n + j)] = sum;
      }
    const std::vector<double> got(c.begin(), c.end());
    EXPECT_TRUE(test_util::compare_tensors(name, std::span<const double>(expected),
                                           std::span<const double>(got), 1e-5));
  };
  auto packed = [&] {
    lstm::PackedWeights<float> p;
    p.shape(blocks, rows, k);
    p.pack(w.data(), k, 0, split);
    p.pack(w.data(), k, split, rows);
    return p;
  };
  check("packed", packed(), false);
  lstm::PackedWeights<float> in_place;
  in_place.read_in_place(w.data(), k, blocks, rows, k);
  check("in place", in_place, false);
  if (lstm::bf16_available()) {
    const test_util::PrecisionScope bf16(lstm::MatmulPrecision::bf16);
    const lstm::PackedWeights<float> rounded = packed();
    EXPECT_TRUE(rounded.bf16());
    check("bf16", rounded, true);
  }
  std::vector<float> c(static_cast<size_t>(m * n));
  EXPECT_THROW(packed().multiply(m, a.data(), k, c.data(), n, 0, rows, true, bias.data()), lstm::Error);
}

TEST(Bf16, UnavailablePrecisionIsAnError) {
  if (lstm::bf16_available()) {
    // Doubles ignore the setting: their packed products stay exact.
    const test_util::PrecisionScope bf16(lstm::MatmulPrecision::bf16);
    check_product<double>(13, 33, 3, 300, true, 1e-13);
  } else {
    EXPECT_THROW(lstm::set_matmul_precision(lstm::MatmulPrecision::bf16), lstm::Error);
    EXPECT_EQ(lstm::matmul_precision(), lstm::MatmulPrecision::fp32);
  }
}

// Inference with one workspace, as generate calls it once a character.
std::vector<float> infer(const lstm::Network<float>& net, const std::vector<float>& x,
                         lstm::Workspace<float>& ws, int64_t batch = 3) {
  const int64_t steps = 5;
  std::vector<float> y(static_cast<size_t>(steps * batch * net.config().layer_output_size()));
  lstm::ForwardArgs<float> args;
  args.seq_len = steps;
  args.batch = batch;
  args.input = x.data();
  args.output = y.data();
  net.forward(lstm::Mode::inference, args, ws);
  return y;
}

// A workspace packs W_hh (and W_hr, W_hn; with bf16 products W_ih too, when the input part is
// split by units) once for repeated inference calls, and packs them again whenever they may have
// changed: through parameter(), through an earlier view declared by weights_changed(), through a
// view the optimizer writes after a training step (which declares nothing: the training forward
// and the backward clear what the workspace kept), or with the precision; in fp32, then again in
// bf16 where the CPU has it. Each result must equal a fresh workspace's. The last case is a batch
// of one with W_hh over 1 MiB a thread (on up to 5 threads), which training reads in place and
// inference packs, and whose input part over 5 steps is split by units.
TEST(PackedReuse, InferenceRepacksWheneverTheWeightsMayHaveChanged) {
  struct ReuseCase {
    const char* cell;
    int64_t hidden, batch;
  };
  for (const ReuseCase& c : {ReuseCase{"lstm", 40, 3}, ReuseCase{"gru_reset_before", 40, 3},
                             ReuseCase{"lstm", 600, 1}}) {
    SCOPED_TRACE(std::string(c.cell) + " hidden " + std::to_string(c.hidden) + " batch " +
                 std::to_string(c.batch));
    lstm::NetworkConfig config;
    lstm::apply_cell_variant(config, c.cell);
    config.input_size = 12;
    config.hidden_size = c.hidden;
    if (config.cell == lstm::CellType::lstm && c.batch > 1) config.proj_size = 24;
    lstm::Network<float> net(config);
    net.init_uniform(5);
    const std::vector<float> x = random_values<float>(static_cast<size_t>(5 * c.batch * 12), 9);
    auto run = [&](lstm::Workspace<float>& ws) { return infer(net, x, ws, c.batch); };
    auto fresh = [&] {
      lstm::Workspace<float> ws;
      return run(ws);
    };
    lstm::Workspace<float> kept;
    auto check_changes = [&] {
      const std::vector<float> first = run(kept);
      EXPECT_EQ(first, fresh());
      EXPECT_EQ(run(kept), first);

      std::vector<float> before = first;
      for (const char* name : {"weight_hh_l0", "weight_ih_l0"}) {
        for (float& v : net.parameter(name)) v *= -1.0f;
        const std::vector<float> negated = run(kept);
        EXPECT_EQ(negated, fresh()) << name;
        EXPECT_NE(negated, before) << name;
        before = negated;
      }

      const std::span<float> view = net.parameters();
      (void)run(kept);
      for (float& v : view) v *= 0.5f;
      net.weights_changed();
      EXPECT_EQ(run(kept), fresh());

      // The trainer's order: views taken once, a training forward and backward, the optimizer
      // writing through the views, then a validation forward.
      (void)run(kept);
      std::vector<float> y(first.size()), grads(static_cast<size_t>(net.num_parameters()));
      lstm::ForwardArgs<float> args;
      args.seq_len = 5;
      args.batch = c.batch;
      args.input = x.data();
      args.output = y.data();
      net.forward(lstm::Mode::training, args, kept);
      lstm::BackwardArgs<float> back;
      back.grad_output = y.data();
      back.grad_params = grads.data();
      net.backward(back, kept);
      for (size_t k = 0; k < view.size(); ++k) view[k] -= 0.1f * grads[k];
      EXPECT_EQ(run(kept), fresh());
    };
    check_changes();
    if (lstm::bf16_available()) {
      SCOPED_TRACE("bf16");
      (void)run(kept);
      const test_util::PrecisionScope bf16(lstm::MatmulPrecision::bf16);
      check_changes();
    }
  }
}

}  // namespace
