// The vector work of the int8 products around their integer sums (core/int8_gemm.hpp): a row's
// range and its quantization to bytes, and the dequantization of the sums, written once over
// core/simd.hpp's lanes and compiled once per instruction-set path.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "core/int8_gemm.hpp"
#include "core/simd.hpp"

LSTM_BEGIN_TARGET
namespace lstm::LSTM_ISA_NS {
namespace {

using S = Simd<float>;
using V = S::V;
constexpr int64_t W = S::width;

// lo = min(0, min x), hi = max(0, max x), and whether a value is not finite (x·0 is NaN then).
void row_range(const float* x, int64_t k, float& lo, float& hi, bool& finite) {
  V low = S::zero(), high = S::zero(), bad = S::zero();
  for (int64_t i = 0; i < k; i += W) {
    const V v = S::load(x + i, std::min(W, k - i));  // zeros past k: within [lo, hi] anyway
    low = S::min(low, v);
    high = S::max(high, v);
    bad = S::fmadd(v, S::zero(), bad);
  }
  float lows[W], highs[W], bads[W];
  S::store(lows, low, W);
  S::store(highs, high, W);
  S::store(bads, bad, W);
  lo = hi = 0.0f;
  finite = true;
  for (int64_t l = 0; l < W; ++l) {
    lo = std::min(lo, lows[l]);
    hi = std::max(hi, highs[l]);
    finite = finite && bads[l] == 0.0f;
  }
}

void quantize_row(const float* x, int64_t k, uint8_t* out, float* scale, int32_t* zero) {
  float lo, hi;
  bool finite;
  row_range(x, k, lo, hi, finite);
  const float range = hi - lo;
  if (!finite || !std::isfinite(range) || range == 0.0f) {
    // All zeros, or not finite: every byte 0, and a scale that makes the products 0 (or NaN).
    std::memset(out, 0, static_cast<size_t>(k));
    *scale = finite && range == 0.0f ? 0.0f : std::numeric_limits<float>::quiet_NaN();
    *zero = 0;
    return;
  }
  const float inverse = 255.0f / range;
  const int32_t z = int8::quantize_value(-lo, inverse, 0, 0, 255);
  // q = clamp(round(x · 255/range) + z, 0, 255): the integers are exact in float.
  const V v_inverse = S::set(inverse), v_zero = S::set(static_cast<float>(z)), v_low = S::zero(),
          v_high = S::set(255.0f);
  for (int64_t i = 0; i < k; i += W) {
    const int64_t n = std::min(W, k - i);
    const V v = S::load(x + i, n);
    S::store_bytes(out + i, S::min(S::max(S::round(v * v_inverse) + v_zero, v_low), v_high), n);
  }
  *scale = range / 255.0f;
  *zero = z;
}

// C = sa · sw · (Σ qa qw − za Σ qw). |Σ (qa − za) qw| ≤ 255 · 127 · k fits an int32, though the
// two terms alone need not: their difference is taken modulo 2^32 (unsigned), which is exact.
// One branch-free loop per kind of destination, so that the compiler vectorises each.
void dequantize(const int32_t* sums, int64_t sums_ld, int64_t rows, int64_t width, const float* scale_a,
                const int32_t* zero_a, const float* scale_w, const int32_t* sum_w, float* c, int64_t ldc,
                bool accumulate, const float* bias) {
  for (int64_t r = 0; r < rows; ++r) {
    const float sa = scale_a[r];
    const uint32_t za = static_cast<uint32_t>(zero_a[r]);
    const int32_t* __restrict s = sums + r * sums_ld;
    float* __restrict out = c + r * ldc;
    auto value = [&](int64_t j) {
      const auto exact = static_cast<int32_t>(static_cast<uint32_t>(s[j]) - za * static_cast<uint32_t>(sum_w[j]));
      return sa * scale_w[j] * static_cast<float>(exact);
    };
    if (accumulate)
      for (int64_t j = 0; j < width; ++j) out[j] = out[j] + value(j);
    else if (bias)
      for (int64_t j = 0; j < width; ++j) out[j] = bias[j] + value(j);
    else
      for (int64_t j = 0; j < width; ++j) out[j] = value(j);
  }
}

}  // namespace

int8::RowKernels int8_row_kernels() { return {quantize_row, dequantize}; }

}  // namespace lstm::LSTM_ISA_NS
LSTM_END_TARGET
