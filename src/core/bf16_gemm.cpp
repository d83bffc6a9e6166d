// bf16 conversions and panel packing, the choice between the AMX and VDPBF16PS products, and the
// matmul-precision setting.
#include "core/bf16_gemm.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <string>
#include <vector>

#include "lstm/error.hpp"
#include "lstm/isa.hpp"
#include "lstm/precision.hpp"

#if defined(__x86_64__) && (defined(__clang__) || __GNUC__ >= 11)
#define LSTM_BF16_BUILT 1
#include <immintrin.h>
#define LSTM_AVX512_TARGET __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl")))
#endif

namespace lstm {
namespace {

std::atomic<MatmulPrecision> precision{MatmulPrecision::fp32};

}  // namespace

bool bf16_available() { return active_isa() >= Isa::avx512_bf16; }

void set_matmul_precision(MatmulPrecision p) {
  if (p == MatmulPrecision::bf16 && !bf16_available()) {
    if (cpu_isa() >= Isa::avx512_bf16)
      throw Error(std::string("bf16 matrix products need the avx512_bf16 or amx path, and LSTM_MAX_ISA caps "
                              "the kernels at ") + isa_name(active_isa()) + "; use fp32");
    throw Error("bf16 matrix products need a CPU with AVX512-BF16 (Zen 4, Cooper Lake) or AMX-BF16 "
                "(Sapphire Rapids), which this machine (" + cpu_name() + ") does not have; use fp32");
  }
  precision.store(p);
}

MatmulPrecision matmul_precision() { return precision.load(); }

const char* precision_name(MatmulPrecision p) {
  return p == MatmulPrecision::bf16 ? "bf16" : p == MatmulPrecision::int8 ? "int8" : "fp32";
}

namespace bf16 {

uint16_t from_float(float x) {
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  u += 0x7FFFu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

float to_float(uint16_t x) {
  const uint32_t u = static_cast<uint32_t>(x) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

#if defined(LSTM_BF16_BUILT)

namespace {

// GCC 12 flags the unmasked shifts' and conversions' undefined pass-through; the all-ones masked
// forms compile to the same instructions.
constexpr __mmask16 kAll = 0xFFFF;

// Each lane rounded to bf16 (ties to even) in its upper 16 bits, as from_float() does.
LSTM_AVX512_TARGET inline __m512i round_lanes(__m512 v) {
  const __m512i u = _mm512_castps_si512(v);
  const __m512i odd = _mm512_and_si512(_mm512_maskz_srli_epi32(kAll, u, 16), _mm512_set1_epi32(1));
  return _mm512_add_epi32(u, _mm512_add_epi32(_mm512_set1_epi32(0x7FFF), odd));
}

// Lane j: the bf16 pair (even[j] in the low half, odd[j] in the high half), as a tile row holds
// (k, k+1) of column j.
LSTM_AVX512_TARGET inline __m512i pair_lanes(__m512 even, __m512 odd) {
  return _mm512_or_si512(_mm512_maskz_srli_epi32(kAll, round_lanes(even), 16),
                         _mm512_and_si512(round_lanes(odd), _mm512_set1_epi32(static_cast<int>(0xFFFF0000u))));
}

// 32 consecutive floats as 32 bf16 in order: lane i holds elements 2i (low) and 2i+1 (high).
LSTM_AVX512_TARGET inline __m512i consecutive_pairs(__m512 first, __m512 second) {
  const __m256i low = _mm512_maskz_cvtepi32_epi16(kAll, _mm512_maskz_srli_epi32(kAll, round_lanes(first), 16));
  const __m256i high = _mm512_maskz_cvtepi32_epi16(kAll, _mm512_maskz_srli_epi32(kAll, round_lanes(second), 16));
  return _mm512_maskz_inserti64x4(0xFF, _mm512_maskz_inserti64x4(0xFF, _mm512_setzero_si512(), low, 0), high, 1);
}

// In place, 16 × 16 32-bit elements: lane j of r[i] becomes lane i of r[j].
LSTM_AVX512_TARGET inline void transpose16(__m512i r[16]) {
  __m512i t[16];
  for (int i = 0; i < 16; i += 2) {  // 128-bit lane L of t[i]: rows i, i+1 at columns 4L, 4L+1
    t[i] = _mm512_maskz_unpacklo_epi32(kAll, r[i], r[i + 1]);
    t[i + 1] = _mm512_maskz_unpackhi_epi32(kAll, r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {  // lane L of r[i + c]: rows i..i+3 at column 4L + c
    r[i] = _mm512_maskz_unpacklo_epi64(0xFF, t[i], t[i + 2]);
    r[i + 1] = _mm512_maskz_unpackhi_epi64(0xFF, t[i], t[i + 2]);
    r[i + 2] = _mm512_maskz_unpacklo_epi64(0xFF, t[i + 1], t[i + 3]);
    r[i + 3] = _mm512_maskz_unpackhi_epi64(0xFF, t[i + 1], t[i + 3]);
  }
  for (int c = 0; c < 4; ++c) {  // column 4L + c gathers lane L of r[c], r[4+c], r[8+c], r[12+c]
    const __m512i a = _mm512_maskz_shuffle_i32x4(kAll, r[c], r[4 + c], 0x44);
    const __m512i b = _mm512_maskz_shuffle_i32x4(kAll, r[c], r[4 + c], 0xEE);
    const __m512i e = _mm512_maskz_shuffle_i32x4(kAll, r[8 + c], r[12 + c], 0x44);
    const __m512i f = _mm512_maskz_shuffle_i32x4(kAll, r[8 + c], r[12 + c], 0xEE);
    t[c] = _mm512_maskz_shuffle_i32x4(kAll, a, e, 0x88);
    t[4 + c] = _mm512_maskz_shuffle_i32x4(kAll, a, e, 0xDD);
    t[8 + c] = _mm512_maskz_shuffle_i32x4(kAll, b, f, 0x88);
    t[12 + c] = _mm512_maskz_shuffle_i32x4(kAll, b, f, 0xDD);
  }
  for (int i = 0; i < 16; ++i) r[i] = t[i];
}

LSTM_AVX512_TARGET inline __mmask16 first_lanes(int64_t count) {
  return static_cast<__mmask16>((1u << std::clamp<int64_t>(count, 0, 16)) - 1u);
}

}  // namespace

LSTM_AVX512_TARGET void convert_rows(int64_t m, int64_t k, const float* a, int64_t lda, uint16_t* out,
                                  int64_t kpad) {
  for (int64_t r = 0; r < m; ++r) {
    for (int64_t i = 0; i < kpad; i += 16) {  // kpad is a multiple of 32: whole stores
      const __m512i u = round_lanes(_mm512_maskz_loadu_ps(first_lanes(k - i), a + r * lda + i));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + r * kpad + i),
                          _mm512_maskz_cvtepi32_epi16(kAll, _mm512_maskz_srli_epi32(kAll, u, 16)));
    }
  }
  const int64_t rows = padded_rows(m);
  std::memset(out + m * kpad, 0, sizeof(uint16_t) * static_cast<size_t>((rows - m) * kpad));
}

LSTM_AVX512_TARGET void convert_columns(int64_t depth, int64_t n, const float* x, int64_t ldx, uint16_t* out,
                                     int64_t kpad) {
  __m512i r[16];
  for (int64_t j0 = 0; j0 < padded_rows(n); j0 += 16) {
    const __mmask16 mask = first_lanes(n - j0);
    for (int64_t k0 = 0; k0 < kpad; k0 += 32) {
      for (int64_t i = 0; i < 16; ++i) {  // r[i] lane j: the pair (k0 + 2i, +1) of column j0 + j
        const int64_t k = k0 + 2 * i;
        r[i] = pair_lanes(_mm512_maskz_loadu_ps(k < depth ? mask : 0, x + std::min(k, depth - 1) * ldx + j0),
                          _mm512_maskz_loadu_ps(k + 1 < depth ? mask : 0, x + std::min(k + 1, depth - 1) * ldx + j0));
      }
      transpose16(r);  // r[j]: column j0 + j's 32 values from k0, a line of out
      for (int64_t j = 0; j < 16; ++j) _mm512_storeu_si512(out + (j0 + j) * kpad + k0, r[j]);
    }
  }
}

LSTM_AVX512_TARGET void pack_rows(int64_t depth, int64_t columns, const float* x, int64_t ldx, uint16_t* panels) {
  const int64_t kpad = padded_depth(depth);
  // Row pairs outermost, so that X is read in order.
  for (int64_t k = 0; k < kpad; k += 2) {
    for (int64_t j0 = 0; j0 < (columns + 31) / 32 * 32; j0 += 16) {
      const __mmask16 mask = first_lanes(columns - j0);
      const __m512 even = _mm512_maskz_loadu_ps(k < depth ? mask : 0, x + std::min(k, depth - 1) * ldx + j0);
      const __m512 odd = _mm512_maskz_loadu_ps(k + 1 < depth ? mask : 0, x + std::min(k + 1, depth - 1) * ldx + j0);
      _mm512_storeu_si512(panels + (j0 / 32) * kpad * 32 + panel_index(k, j0 % 32), pair_lanes(even, odd));
    }
  }
}

LSTM_AVX512_TARGET void pack_columns(int64_t depth, int64_t columns, const float* w, int64_t ldw, uint16_t* panels) {
  const int64_t kpad = padded_depth(depth);
  __m512i r[16];
  for (int64_t j0 = 0; j0 < (columns + 31) / 32 * 32; j0 += 16) {
    uint16_t* panel = panels + (j0 / 32) * kpad * 32;
    for (int64_t k0 = 0; k0 < kpad; k0 += 32) {
      for (int64_t j = 0; j < 16; ++j) {  // r[j] lane i: the pair (k0 + 2i, +1) of column j0 + j
        const bool inside = j0 + j < columns;
        const float* row = w + std::min(j0 + j, columns - 1) * ldw + k0;
        r[j] = consecutive_pairs(_mm512_maskz_loadu_ps(inside ? first_lanes(depth - k0) : 0, row),
                                 _mm512_maskz_loadu_ps(inside ? first_lanes(depth - k0 - 16) : 0, row + 16));
      }
      transpose16(r);  // r[i]: the tile row of pair i for these 16 columns
      for (int64_t i = 0; i < 16; ++i) _mm512_storeu_si512(panel + panel_index(k0 + 2 * i, j0 % 32), r[i]);
    }
  }
}

LSTM_AVX512_TARGET void store_block(const float* out, int64_t out_ld, int64_t rows, int64_t width, float* c,
                                    int64_t ldc, int64_t row0, int64_t column0, const Store& store) {
  if (store.transposed) {
    for (int64_t j = 0; j < width; ++j) {
      float* line = c + (column0 + j) * ldc + row0;
      for (int64_t r = 0; r < rows; ++r) line[r] = out[r * out_ld + j] + (store.accumulate ? line[r] : 0.0f);
    }
    return;
  }
  const float* bias = store.bias ? store.bias + column0 : nullptr;
  for (int64_t r = 0; r < rows; ++r) {
    float* row = c + (row0 + r) * ldc + column0;
    for (int64_t h = 0; h < width; h += 16) {
      const __mmask16 mask = first_lanes(width - h);
      __m512 value = _mm512_maskz_loadu_ps(mask, out + r * out_ld + h);
      if (store.accumulate) value = _mm512_add_ps(value, _mm512_maskz_loadu_ps(mask, row + h));
      if (bias) value = _mm512_add_ps(value, _mm512_maskz_loadu_ps(mask, bias + h));
      // Whole aligned lines stream past the caches (multiply checked the alignment of C).
      if (store.stream && mask == 0xFFFF) _mm512_stream_ps(row + h, value);
      else _mm512_mask_storeu_ps(row + h, mask, value);
    }
  }
}

void multiply(int64_t m, const uint16_t* a16, int64_t kpad, const uint16_t* panels, float* c, int64_t ldc,
              int64_t columns, Store store) {
  static const bool tiles = active_isa() == Isa::amx;
  // The input part over every step writes 26 MB for lstm 512/512/64/50 and the cells read it
  // back step by step: storing it around the caches saves reading each line before writing it.
  store.stream = !store.accumulate && !store.transposed && m * columns * 4 >= (int64_t{4} << 20) &&
                 reinterpret_cast<uintptr_t>(c) % 64 == 0 && ldc % 16 == 0;
  if (tiles) amx_multiply(m, a16, kpad, panels, c, ldc, columns, store);
  else dot_multiply(m, a16, kpad, panels, c, ldc, columns, store);
  if (store.stream) _mm_sfence();  // the streamed lines are visible before anyone reads C
}

void gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
          const float* b, int64_t ldb, bool accumulate, float* c, int64_t ldc, const float* bias) {
  if (bias && accumulate) throw Error("bf16::gemm: a bias with accumulation is not built");
  if (transpose_a) {
    if (transpose_b || !accumulate) throw Error("bf16::gemm: Aᵀ Bᵀ, and Aᵀ B without accumulating, are not built");
    // C [m, n] += Aᵀ B with A [k, m]: the rows of C are A's columns, as add_gradient() takes them.
    return add_gradient(k, 0, m, n, a, lda, b, ldb, c, ldc);
  }
  if (m == 0 || n == 0) return;
  thread_local std::vector<uint16_t> a16, panels;
  const int64_t kpad = padded_depth(k);
  a16.resize(static_cast<size_t>(padded_rows(m) * kpad));
  convert_rows(m, k, a, lda, a16.data(), kpad);
  panels.resize(static_cast<size_t>((n + 31) / 32 * kpad * 32));
  if (transpose_b) pack_columns(k, n, b, ldb, panels.data());
  else pack_rows(k, n, b, ldb, panels.data());
  multiply(m, a16.data(), kpad, panels.data(), c, ldc, n, {accumulate, false, bias});
}

void add_gradient(int64_t depth, int64_t i0, int64_t i1, int64_t n, const float* g, int64_t ldg,
                  const float* x, int64_t ldx, float* c, int64_t ldc) {
  if (i1 <= i0 || n == 0 || depth == 0) return;
  // Cᵀ[n, i1 - i0] = Xᵀ G[:, i0:i1]: Xᵀ is the row operand, G's columns the panels.
  thread_local std::vector<uint16_t> xt, panels;
  const int64_t kpad = padded_depth(depth);
  xt.resize(static_cast<size_t>(padded_rows(n) * kpad));
  convert_columns(depth, n, x, ldx, xt.data(), kpad);
  const int64_t columns = i1 - i0;
  panels.resize(static_cast<size_t>((columns + 31) / 32 * kpad * 32));
  pack_rows(depth, columns, g + i0, ldg, panels.data());
  multiply(n, xt.data(), kpad, panels.data(), c + i0 * ldc, ldc, columns, {true, true});
}

#else

// Unreachable: set_matmul_precision() refuses bf16 where bf16_available() is false.
[[noreturn]] void not_built() { throw Error("bf16 products are not built for this CPU architecture"); }

void convert_rows(int64_t, int64_t, const float*, int64_t, uint16_t*, int64_t) { not_built(); }
void convert_columns(int64_t, int64_t, const float*, int64_t, uint16_t*, int64_t) { not_built(); }
void pack_rows(int64_t, int64_t, const float*, int64_t, uint16_t*) { not_built(); }
void pack_columns(int64_t, int64_t, const float*, int64_t, uint16_t*) { not_built(); }
void multiply(int64_t, const uint16_t*, int64_t, const uint16_t*, float*, int64_t, int64_t, Store) { not_built(); }
void store_block(const float*, int64_t, int64_t, int64_t, float*, int64_t, int64_t, int64_t, const Store&) {
  not_built();
}
void gemm(bool, bool, int64_t, int64_t, int64_t, const float*, int64_t, const float*, int64_t, bool, float*, int64_t,
          const float*) {
  not_built();
}
void add_gradient(int64_t, int64_t, int64_t, int64_t, const float*, int64_t, const float*, int64_t, float*,
                  int64_t) {
  not_built();
}

#endif

}  // namespace bf16
}  // namespace lstm
