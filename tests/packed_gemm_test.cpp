// The packed per-step product against the naive GEMM it replaces: every row-tile size, partial
// panels, depths that span several blocks, unit ranges packed and multiplied piecewise; and the
// same product reading the weights in place.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/blas.hpp"
#include "core/packed_gemm.hpp"
#include "core/random.hpp"
#include "lstm/lstm.hpp"
#include "test_util.hpp"

namespace {

template <typename T>
std::vector<T> random_values(size_t n, uint64_t seed) {
  std::vector<T> values(n);
  for (size_t k = 0; k < n; ++k) values[k] = static_cast<T>(2.0 * lstm::uniform01(seed, k) - 1.0);
  return values;
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

  // Packed and multiplied in two unit ranges, as two threads would.
  lstm::PackedWeights<T> packed;
  packed.shape(blocks, rows_per_block, k);
  const int64_t split = rows_per_block > 32 ? 32 : rows_per_block;
  packed.pack(w.data(), k, 0, split);
  packed.pack(w.data(), k, split, rows_per_block);
  packed.multiply(m, a.data(), k, c.data(), n, 0, split, accumulate);
  packed.multiply(m, a.data(), k, c.data(), n, split, rows_per_block, accumulate);
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
}

TEST(PackedGemm, MatchesNaiveFloat) {
  for (int64_t m : {1, 2, 3, 4, 5, 7, 12, 13, 31, 64})
    for (int64_t rows : {1, 5, 16, 32, 33, 70, 160})
      for (int64_t k : {1, 7, 16, 64, 300, 600}) check_product<float>(m, rows, 4, k, (m + k) % 2 == 1, 2e-6);
}

TEST(PackedGemm, MatchesNaiveDouble) {
  for (int64_t m : {1, 3, 13})
    for (int64_t rows : {5, 33})
      for (int64_t k : {7, 300}) check_product<double>(m, rows, 3, k, m % 2 == 1, 1e-13);
}

}  // namespace
