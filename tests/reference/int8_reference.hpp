// The int8 products of --precision int8 written out for the naive reference, from the scheme in
// the README ("int8 inference"): quantization in float as the scheme defines it, exact integer
// sums, dequantization in double. Independent of core/int8_gemm.cpp (no packing, no kernels).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace lstm::naive::int8 {

// While true, naive_forward computes its products with W_ih, W_hh and W_hr as below.
inline bool& enabled() {
  static bool on = false;
  return on;
}

struct Quantized {
  std::vector<int64_t> q;
  double scale = 0;
  int64_t zero = 0;
};

inline int64_t round_clamp(float x, int64_t low, int64_t high) {
  return std::clamp(static_cast<int64_t>(std::nearbyint(x)), low, high);
}

// One row of activations: unsigned bytes with a zero point, over [min(0, min x), max(0, max x)].
template <typename T>
Quantized quantize_unsigned(const T* x, int64_t k) {
  Quantized r;
  r.q.assign(static_cast<size_t>(k), 0);
  float lo = 0, hi = 0;
  bool nan = false;
  for (int64_t i = 0; i < k; ++i) {
    const float v = static_cast<float>(x[i]);
    nan = nan || std::isnan(v);
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  const float range = hi - lo;
  if (nan || !std::isfinite(range)) r.scale = std::numeric_limits<double>::quiet_NaN();
  if (nan || !std::isfinite(range) || range == 0) return r;
  const float inverse = 255.0f / range;
  r.zero = round_clamp(-lo * inverse, 0, 255);
  for (int64_t i = 0; i < k; ++i)
    r.q[static_cast<size_t>(i)] = std::clamp(static_cast<int64_t>(std::nearbyint(static_cast<float>(x[i]) * inverse)) + r.zero,
                                             int64_t{0}, int64_t{255});
  r.scale = range / 255.0f;
  return r;
}

// One row of weights: signed, symmetric, ±127 at the largest magnitude.
template <typename T>
Quantized quantize_signed(const T* w, int64_t k) {
  Quantized r;
  r.q.assign(static_cast<size_t>(k), 0);
  float largest = 0;
  for (int64_t i = 0; i < k; ++i) largest = std::max(largest, std::fabs(static_cast<float>(w[i])));
  if (largest == 0) return r;
  const float inverse = 127.0f / largest;
  for (int64_t i = 0; i < k; ++i) r.q[static_cast<size_t>(i)] = round_clamp(static_cast<float>(w[i]) * inverse, -127, 127);
  r.scale = largest / 127.0f;
  return r;
}

// y[j] = Σ_i W[j, i] x[i] for j < rows (W [rows, k]), as the int8 product computes it.
template <typename T>
void product(const T* w, int64_t rows, int64_t k, const T* x, T* y) {
  const Quantized a = quantize_unsigned(x, k);
  for (int64_t j = 0; j < rows; ++j) {
    const Quantized b = quantize_signed(w + j * k, k);
    int64_t exact = 0;
    for (int64_t i = 0; i < k; ++i) exact += (a.q[static_cast<size_t>(i)] - a.zero) * b.q[static_cast<size_t>(i)];
    y[j] = static_cast<T>(a.scale * b.scale * static_cast<double>(exact));
  }
}

}  // namespace lstm::naive::int8
