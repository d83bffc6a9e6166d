// SIMD lanes for the cells and the packed products, one type per instruction set, with the same
// interface, so that each kernel is written once with +, −, ⊙ and these functions.
//
// Simd<T> (in namespace lstm::LSTM_ISA_NS, see core/target.hpp) packs `width` lanes: 16 floats
// in an AVX-512 register, 8 in an AVX2 one, otherwise one scalar (always for double: the
// gradient checks). Kernels loop over columns in steps of `width`, loading the last partial
// group with a count n < width.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "core/target.hpp"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace lstm {

// Scalar lanes: double always, float on the portable path.
template <typename T>
struct ScalarSimd {
  using V = T;
  static constexpr int64_t width = 1;
  static V load(const T* p, int64_t) { return *p; }
  static V loadu(const T* p) { return *p; }
  static V load_or_zero(const T* p, int64_t) { return p ? *p : T(0); }
  static void store(T* p, V v, int64_t) { *p = v; }
  static V set(T value) { return value; }
  static V zero() { return T(0); }
  static V fmadd(V a, V b, V c) { return a * b + c; }  // not fused: the same bits on every path
  static V max(V a, V b) { return b > a ? b : a; }
  static V min(V a, V b) { return b < a ? b : a; }
  static V round(V x) { return std::nearbyint(x); }  // to nearest, ties to even
  // Lanes holding whole numbers in [0, 255] (int8 quantization) stored as n bytes.
  static void store_bytes(uint8_t* p, V v, int64_t) { *p = static_cast<uint8_t>(v); }
  // out[r] = the sum of v[r]'s lanes, r < 4
  static void sum4(const V v[4], T* out) { std::copy(v, v + 4, out); }
  static V exp(V x) { return std::exp(x); }
  static V sigmoid(V x) { return T(1) / (T(1) + std::exp(-x)); }
  static V tanh(V x) { return std::tanh(x); }
  static V relu(V x) { return x > T(0) ? x : T(0); }
  static V sqrt(V x) { return std::sqrt(x); }
  static V where_positive(V y, V x) { return y > T(0) ? x : T(0); }  // y > 0 ? x : 0
};

}  // namespace lstm

LSTM_BEGIN_TARGET
namespace lstm::LSTM_ISA_NS {

// e^x for float lanes: x = n ln2 + r with |r| ≤ ln2/2, e^r by its Taylor series to degree 7
// (relative error below 1e-8), then scaled by 2^n. Inputs are clamped to where float e^x is
// finite. tanh x = 1 − 2/(e^{2x} + 1); near 0 (|x| < 0.3), where that cancels, its series
// x − x³/3 + 2x⁵/15 − 17x⁷/315 + 62x⁹/2835. Written once for both vector widths: S supplies
// round(), scale(p, n) = p·2^n and select(mask source...) helpers.
template <typename S, typename V>
inline V exp_lanes(V x) {
  x = S::min(S::max(x, S::set(-87.0f)), S::set(88.0f));
  const V n = S::round(x * S::set(1.44269504088896341f));
  V r = S::fnmadd(n, S::set(0.693359375f), x);   // ln2 split in two parts so that
  r = S::fnmadd(n, S::set(-2.12194440e-4f), r);  // n·ln2 is subtracted exactly
  V p = S::set(1.0f / 5040);
  for (float c : {1.0f / 720, 1.0f / 120, 1.0f / 24, 1.0f / 6, 0.5f, 1.0f, 1.0f}) p = S::fmadd(p, r, S::set(c));
  return S::scale(p, n);
}

template <typename S, typename V>
inline V tanh_lanes(V x) {
  const V one = S::set(1.0f);
  const V wide = one - S::set(2.0f) / (S::exp(x + x) + one);
  const V x2 = x * x;
  V p = S::fmadd(x2, S::set(62.0f / 2835), S::set(-17.0f / 315));
  p = S::fmadd(p, x2, S::set(2.0f / 15));
  p = S::fmadd(p, x2, S::set(-1.0f / 3));
  p = S::fmadd(p * x2, x, x);
  return S::select_less(x2, S::set(0.09f), p, wide);  // x² < 0.09 ? series : wide
}

#if defined(LSTM_ISA_AVX512)
struct Avx512Simd {
  using V = __m512;
  static constexpr int64_t width = 16;
  // GCC 12 flags the all-lanes forms of some intrinsics (an undefined pass-through register) as
  // maybe-uninitialised; the zero-masked forms with every lane set compile to the same code.
  static constexpr __mmask16 kAll = 0xFFFF;
  static __mmask16 mask(int64_t n) { return n >= 16 ? kAll : __mmask16((1u << n) - 1u); }
  static V load(const float* p, int64_t n) { return _mm512_maskz_loadu_ps(mask(n), p); }
  static V loadu(const float* p) { return _mm512_loadu_ps(p); }
  static V load_or_zero(const float* p, int64_t n) { return p ? load(p, n) : zero(); }
  static void store(float* p, V v, int64_t n) { _mm512_mask_storeu_ps(p, mask(n), v); }
  static void store_bytes(uint8_t* p, V v, int64_t n) {
    _mm512_mask_cvtusepi32_storeu_epi8(p, mask(n), _mm512_maskz_cvtps_epi32(kAll, v));
  }
  static V set(float value) { return _mm512_set1_ps(value); }
  static V zero() { return _mm512_setzero_ps(); }
  static V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V fnmadd(V a, V b, V c) { return _mm512_fnmadd_ps(a, b, c); }
  static V max(V a, V b) { return _mm512_maskz_max_ps(kAll, a, b); }
  static V min(V a, V b) { return _mm512_maskz_min_ps(kAll, a, b); }
  static V round(V x) { return _mm512_maskz_roundscale_ps(kAll, x, _MM_FROUND_TO_NEAREST_INT); }
  static V scale(V p, V n) { return _mm512_maskz_scalef_ps(kAll, p, n); }
  static V select_less(V a, V b, V if_less, V otherwise) {
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_LT_OQ), otherwise, if_less);
  }
  static V halves(V x, V y) {  // lanes: x's 0+2, 1+3, then y's
    return _mm512_add_ps(_mm512_maskz_shuffle_f32x4(kAll, x, y, 0x44), _mm512_maskz_shuffle_f32x4(kAll, x, y, 0xEE));
  }
  static V quarters(V x, V y) {  // lanes: x's 0+1, 2+3, then y's
    return _mm512_add_ps(_mm512_maskz_shuffle_f32x4(kAll, x, y, 0x88), _mm512_maskz_shuffle_f32x4(kAll, x, y, 0xDD));
  }
  // Halves then quarters: 128-bit lane q of `rows` ends up holding four partial sums of v[q].
  // (Not lambdas: their function-pointer thunks would be compiled without this target.)
  static void sum4(const V v[4], float* out) {
    V rows = quarters(halves(v[0], v[1]), halves(v[2], v[3]));
    rows = _mm512_add_ps(rows, _mm512_maskz_shuffle_ps(kAll, rows, rows, 0x4E));
    rows = _mm512_add_ps(rows, _mm512_maskz_shuffle_ps(kAll, rows, rows, 0xB1));
    _mm512_mask_storeu_ps(out, 0xF, _mm512_maskz_compress_ps(0x1111, rows));  // elements 0, 4, 8, 12
  }
  static V exp(V x) { return exp_lanes<Avx512Simd>(x); }
  static V sigmoid(V x) { return set(1.0f) / (set(1.0f) + exp(zero() - x)); }
  static V tanh(V x) { return tanh_lanes<Avx512Simd>(x); }
  static V relu(V x) { return max(x, zero()); }
  static V sqrt(V x) { return _mm512_maskz_sqrt_ps(kAll, x); }
  static V where_positive(V y, V x) { return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(y, zero(), _CMP_GT_OQ), x); }
};
template <typename T> struct SimdFor { using type = ScalarSimd<T>; };
template <> struct SimdFor<float> { using type = Avx512Simd; };

#elif defined(LSTM_ISA_AVX2)
struct Avx2Simd {
  using V = __m256;
  static constexpr int64_t width = 8;
  // Lanes [0, n) set: a window into -1 × 8 followed by 0 × 8.
  static __m256i mask(int64_t n) {
    static const int32_t window[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(window + 8 - std::clamp<int64_t>(n, 0, 8)));
  }
  static V load(const float* p, int64_t n) { return n >= 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, mask(n)); }
  static V loadu(const float* p) { return _mm256_loadu_ps(p); }
  static V load_or_zero(const float* p, int64_t n) { return p ? load(p, n) : zero(); }
  static void store(float* p, V v, int64_t n) {
    if (n >= 8) _mm256_storeu_ps(p, v);
    else _mm256_maskstore_ps(p, mask(n), v);
  }
  static void store_bytes(uint8_t* p, V v, int64_t n) {
    const __m256i words = _mm256_packus_epi32(_mm256_cvtps_epi32(v), _mm256_setzero_si256());  // per 128-bit half
    const __m256i bytes = _mm256_packus_epi16(words, _mm256_setzero_si256());
    const uint64_t eight = static_cast<uint32_t>(_mm_cvtsi128_si32(_mm256_castsi256_si128(bytes))) |
                           uint64_t{static_cast<uint32_t>(_mm_cvtsi128_si32(_mm256_extracti128_si256(bytes, 1)))} << 32;
    std::memcpy(p, &eight, static_cast<size_t>(std::min<int64_t>(n, 8)));
  }
  static V set(float value) { return _mm256_set1_ps(value); }
  static V zero() { return _mm256_setzero_ps(); }
  static V fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V fnmadd(V a, V b, V c) { return _mm256_fnmadd_ps(a, b, c); }
  static V max(V a, V b) { return _mm256_max_ps(a, b); }
  static V min(V a, V b) { return _mm256_min_ps(a, b); }
  static V round(V x) { return _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  // p·2^n for whole n in [-126, 127] (exp's clamp keeps it there): n added to the exponent bits.
  static V scale(V p, V n) {
    const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return p * _mm256_castsi256_ps(bits);
  }
  static V select_less(V a, V b, V if_less, V otherwise) {
    return _mm256_blendv_ps(otherwise, if_less, _mm256_cmp_ps(a, b, _CMP_LT_OQ));
  }
  static void sum4(const V v[4], float* out) {
    const V pairs = _mm256_hadd_ps(_mm256_hadd_ps(v[0], v[1]), _mm256_hadd_ps(v[2], v[3]));
    _mm_storeu_ps(out, _mm_add_ps(_mm256_castps256_ps128(pairs), _mm256_extractf128_ps(pairs, 1)));
  }
  static V exp(V x) { return exp_lanes<Avx2Simd>(x); }
  static V sigmoid(V x) { return set(1.0f) / (set(1.0f) + exp(zero() - x)); }
  static V tanh(V x) { return tanh_lanes<Avx2Simd>(x); }
  static V relu(V x) { return max(x, zero()); }
  static V sqrt(V x) { return _mm256_sqrt_ps(x); }
  static V where_positive(V y, V x) { return _mm256_and_ps(_mm256_cmp_ps(y, zero(), _CMP_GT_OQ), x); }
};
template <typename T> struct SimdFor { using type = ScalarSimd<T>; };
template <> struct SimdFor<float> { using type = Avx2Simd; };

#else
template <typename T> struct SimdFor { using type = ScalarSimd<T>; };
#endif

template <typename T>
using Simd = typename SimdFor<T>::type;

}  // namespace lstm::LSTM_ISA_NS
LSTM_END_TARGET
