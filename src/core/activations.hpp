// Activations for the cells, in a SIMD form that the same cell code uses for every scalar type.
//
// Simd<T> packs `width` lanes: 16 floats in an AVX-512 register when the compiler targets
// AVX-512, otherwise one scalar. Cells loop over hidden units in steps of `width`, loading the
// last partial group with a mask, and write the equations once with +, −, ⊙ and these functions.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace lstm {

// Scalar lanes: double always (gradient checks), float when AVX-512 is not available.
template <typename T>
struct ScalarSimd {
  using V = T;
  static constexpr int64_t width = 1;
  static V load(const T* p, int64_t) { return *p; }
  static V load_or_zero(const T* p, int64_t) { return p ? *p : T(0); }
  static void store(T* p, V v, int64_t) { *p = v; }
  static V set(T value) { return value; }
  static V sigmoid(V x) { return T(1) / (T(1) + std::exp(-x)); }
  static V tanh(V x) { return std::tanh(x); }
  static V relu(V x) { return x > T(0) ? x : T(0); }
  static V where_positive(V y, V x) { return y > T(0) ? x : T(0); }  // y > 0 ? x : 0
};

#if defined(__AVX512F__)
struct Avx512Simd {
  using V = __m512;
  static constexpr int64_t width = 16;
  static __mmask16 mask(int64_t n) { return n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1u); }
  static V load(const float* p, int64_t n) { return _mm512_maskz_loadu_ps(mask(n), p); }
  static V load_or_zero(const float* p, int64_t n) { return p ? load(p, n) : _mm512_setzero_ps(); }
  static void store(float* p, V v, int64_t n) { _mm512_mask_storeu_ps(p, mask(n), v); }
  static V set(float value) { return _mm512_set1_ps(value); }
  // The all-lanes forms of these intrinsics start from an undefined register, which GCC 12
  // reports as maybe-uninitialised; the zero-masked forms compile to the same instructions.
  static constexpr __mmask16 kAll = 0xFFFF;
  static V max(V a, V b) { return _mm512_maskz_max_ps(kAll, a, b); }
  static V min(V a, V b) { return _mm512_maskz_min_ps(kAll, a, b); }

  // e^x: x = n ln2 + r with |r| ≤ ln2/2, e^r by its Taylor series to degree 7 (relative error
  // below 1e-8), then scaled by 2^n. Inputs are clamped to where float e^x is finite.
  static V exp(V x) {
    x = min(max(x, set(-87.0f)), set(88.0f));
    const V n = _mm512_maskz_roundscale_ps(kAll, _mm512_mul_ps(x, set(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT);
    V r = _mm512_fnmadd_ps(n, set(0.693359375f), x);     // ln2 split in two parts so that
    r = _mm512_fnmadd_ps(n, set(-2.12194440e-4f), r);    // n·ln2 is subtracted exactly
    V p = set(1.0f / 5040);
    p = _mm512_fmadd_ps(p, r, set(1.0f / 720));
    p = _mm512_fmadd_ps(p, r, set(1.0f / 120));
    p = _mm512_fmadd_ps(p, r, set(1.0f / 24));
    p = _mm512_fmadd_ps(p, r, set(1.0f / 6));
    p = _mm512_fmadd_ps(p, r, set(0.5f));
    p = _mm512_fmadd_ps(p, r, set(1.0f));
    p = _mm512_fmadd_ps(p, r, set(1.0f));
    return _mm512_maskz_scalef_ps(kAll, p, n);
  }
  static V sigmoid(V x) { return _mm512_div_ps(set(1.0f), _mm512_add_ps(set(1.0f), exp(_mm512_sub_ps(_mm512_setzero_ps(), x)))); }
  // tanh x = 1 − 2/(e^{2x} + 1); near 0, where that cancels, x − x³/3 + 2x⁵/15 − 17x⁷/315 +
  // 62x⁹/2835.
  static V tanh(V x) {
    const V wide = _mm512_sub_ps(set(1.0f), _mm512_div_ps(set(2.0f), _mm512_add_ps(exp(_mm512_add_ps(x, x)), set(1.0f))));
    const V x2 = _mm512_mul_ps(x, x);
    V p = _mm512_fmadd_ps(x2, set(62.0f / 2835), set(-17.0f / 315));
    p = _mm512_fmadd_ps(p, x2, set(2.0f / 15));
    p = _mm512_fmadd_ps(p, x2, set(-1.0f / 3));
    p = _mm512_fmadd_ps(_mm512_mul_ps(p, x2), x, x);
    const __mmask16 small = _mm512_cmp_ps_mask(x2, set(0.09f), _CMP_LT_OQ);  // |x| < 0.3
    return _mm512_mask_blend_ps(small, wide, p);
  }
  static V relu(V x) { return max(x, _mm512_setzero_ps()); }
  static V where_positive(V y, V x) {
    return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(y, _mm512_setzero_ps(), _CMP_GT_OQ), x);
  }
};
#endif

template <typename T>
struct SimdFor { using type = ScalarSimd<T>; };
#if defined(__AVX512F__)
template <>
struct SimdFor<float> { using type = Avx512Simd; };
#endif
template <typename T>
using Simd = typename SimdFor<T>::type;

}  // namespace lstm
