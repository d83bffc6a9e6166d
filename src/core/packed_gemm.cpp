// PackedWeights: panel packing and register-blocked kernels (AVX-512 for float, portable for any T).
#include "core/packed_gemm.hpp"

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "core/bf16_gemm.hpp"
#include "lstm/precision.hpp"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace lstm {

template <typename T>
void PackedWeights<T>::shape(int64_t blocks, int64_t rows_per_block, int64_t k, bool follow_precision) {
  blocks_ = blocks;
  rows_per_block_ = rows_per_block;
  k_ = k;
  panels_per_block_ = (rows_per_block + kPanel - 1) / kPanel;
  bf16_ = std::is_same_v<T, float> && follow_precision && matmul_precision() == MatmulPrecision::bf16;
  if (bf16_) bf16_data_.resize(static_cast<size_t>(blocks * panels_per_block_ * bf16::padded_depth(k) * kPanel));
  else data_.resize(static_cast<size_t>(blocks * panels_per_block_ * k * kPanel));
  in_place_ = nullptr;
}

template <typename T>
void PackedWeights<T>::read_in_place(const T* w, int64_t ld, int64_t blocks, int64_t rows_per_block,
                                     int64_t k) {
  blocks_ = blocks;
  rows_per_block_ = rows_per_block;
  k_ = k;
  in_place_ = w;
  in_place_ld_ = ld;
  bf16_ = false;
}

template <typename T>
void PackedWeights<T>::pack(const T* w, int64_t ldw, int64_t unit_begin, int64_t unit_end) {
  if (in_place_ || unit_begin >= unit_end) return;
  if constexpr (std::is_same_v<T, float>) {
    if (bf16_) {
      const int64_t kpad = bf16::padded_depth(k_), first = unit_begin / kPanel * kPanel;  // whole panels
      const int64_t columns = std::min(unit_end, rows_per_block_) - first;
      for (int64_t b = 0; b < blocks_; ++b)
        bf16::pack_columns(k_, columns, w + (b * rows_per_block_ + first) * ldw, ldw,
                           bf16_data_.data() + (b * panels_per_block_ + first / kPanel) * kpad * kPanel);
      return;
    }
  }
  for (int64_t b = 0; b < blocks_; ++b) {
    for (int64_t p = unit_begin / kPanel; p * kPanel < unit_end; ++p) {
      T* panel = data_.data() + (b * panels_per_block_ + p) * k_ * kPanel;
      const int64_t columns = std::min(kPanel, rows_per_block_ - p * kPanel);
      for (int64_t i = 0; i < k_; ++i) {
        T* out = panel + i * kPanel;
        for (int64_t col = 0; col < columns; ++col) out[col] = w[(b * rows_per_block_ + p * kPanel + col) * ldw + i];
        std::fill(out + columns, out + kPanel, T(0));
      }
    }
  }
}

template <typename T>
void PackedWeights<T>::pack_transposed(const T* v, int64_t ldv, int64_t unit_begin, int64_t unit_end) {
  if (unit_begin >= unit_end) return;
  if constexpr (std::is_same_v<T, float>) {
    if (bf16_) {
      const int64_t first = unit_begin / kPanel * kPanel;  // whole panels
      bf16::pack_rows(k_, std::min(unit_end, rows_per_block_) - first, v + first, ldv,
                      bf16_data_.data() + first / kPanel * bf16::padded_depth(k_) * kPanel);
      return;
    }
  }
  for (int64_t p = unit_begin / kPanel; p * kPanel < unit_end; ++p) {
    T* panel = data_.data() + p * k_ * kPanel;
    const int64_t columns = std::min(kPanel, rows_per_block_ - p * kPanel);
    for (int64_t i = 0; i < k_; ++i) {
      std::memcpy(panel + i * kPanel, v + i * ldv + p * kPanel, sizeof(T) * static_cast<size_t>(columns));
      std::fill(panel + i * kPanel + columns, panel + (i + 1) * kPanel, T(0));
    }
  }
}

namespace {

// Depth of one pass over a panel: 256 × 32 floats = 32 KiB, within L1.
constexpr int64_t kDepthBlock = 256;
// Rows of a tile with one panel: 12 × 2 accumulators of 16 floats.
constexpr int64_t kRowsOnePanel = 12;

#if defined(__AVX512F__)
template <int MR, int NP>
void avx512_kernel(int64_t k, const float* a, int64_t lda, const float* panels, int64_t panel_stride,
            float* c, int64_t ldc, int64_t columns, bool accumulate, const float* next, int64_t next_steps) {
  __m512 acc[MR][NP][2];
  for (int r = 0; r < MR; ++r)
    for (int p = 0; p < NP; ++p) acc[r][p][0] = acc[r][p][1] = _mm512_setzero_ps();
  for (int64_t i = 0; i < k; ++i) {
    __m512 w[NP][2];
    // With few rows (several panels per tile) the product streams the panels from L2, and
    // runs faster when each panel's lines are asked for a few depth steps ahead (lstm
    // 256/256/1/100 infer: 1.23 → 1.14 ms).
    if constexpr (NP > 1) {
      const int64_t ahead_step = std::min(i + 8, k - 1);
      for (int p = 0; p < NP; ++p) {
        const char* ahead = reinterpret_cast<const char*>(panels + p * panel_stride + ahead_step * 32);
        _mm_prefetch(ahead, _MM_HINT_T0);
        _mm_prefetch(ahead + 64, _MM_HINT_T0);
      }
    }
    if constexpr (NP == 1) {
      if (i < next_steps) {
        _mm_prefetch(reinterpret_cast<const char*>(next + i * 32), _MM_HINT_T1);
        _mm_prefetch(reinterpret_cast<const char*>(next + i * 32) + 64, _MM_HINT_T1);
      }
    }
    for (int p = 0; p < NP; ++p) {
      w[p][0] = _mm512_loadu_ps(panels + p * panel_stride + i * 32);
      w[p][1] = _mm512_loadu_ps(panels + p * panel_stride + i * 32 + 16);
    }
    for (int r = 0; r < MR; ++r) {
      const __m512 x = _mm512_set1_ps(a[r * lda + i]);
      for (int p = 0; p < NP; ++p) {
        acc[r][p][0] = _mm512_fmadd_ps(x, w[p][0], acc[r][p][0]);
        acc[r][p][1] = _mm512_fmadd_ps(x, w[p][1], acc[r][p][1]);
      }
    }
  }
  for (int p = 0; p < NP; ++p) {
    for (int half = 0; half < 2; ++half) {
      const int64_t first = p * 32 + half * 16;
      const int64_t count = std::clamp<int64_t>(columns - first, 0, 16);
      if (count == 0) continue;
      const __mmask16 mask = static_cast<__mmask16>((1u << count) - 1u);
      for (int r = 0; r < MR; ++r) {
        float* out = c + r * ldc + first;
        __m512 value = acc[r][p][half];
        if (accumulate) value = _mm512_add_ps(value, _mm512_maskz_loadu_ps(mask, out));
        _mm512_mask_storeu_ps(out, mask, value);
      }
    }
  }
}
#endif

// C tile [MR rows, NP panels of 32 columns] (+)= A[MR, K] × panels; `columns` bounds the last panel.
// With one panel, the AVX-512 kernel also asks for `next_steps` depth steps at `next` into L2.
template <typename T, int MR, int NP>
void kernel(int64_t k, const T* a, int64_t lda, const T* panels, int64_t panel_stride, T* c,
            int64_t ldc, int64_t columns, bool accumulate, [[maybe_unused]] const T* next,
            [[maybe_unused]] int64_t next_steps) {
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<T, float>) {
    avx512_kernel<MR, NP>(k, a, lda, panels, panel_stride, c, ldc, columns, accumulate, next, next_steps);
    return;
  }
#endif
  T acc[MR][NP * 32] = {};
  for (int64_t i = 0; i < k; ++i)
    for (int r = 0; r < MR; ++r) {
      const T x = a[r * lda + i];
      for (int p = 0; p < NP; ++p)
        for (int j = 0; j < 32; ++j) acc[r][p * 32 + j] += x * panels[p * panel_stride + i * 32 + j];
    }
  for (int r = 0; r < MR; ++r)
    for (int64_t j = 0; j < std::min<int64_t>(columns, NP * 32); ++j)
      c[r * ldc + j] = acc[r][j] + (accumulate ? c[r * ldc + j] : T(0));
}

// In place, one row of A at a time: c[j] (+)= Σ_i a[i] w[j*ldw + i] for j in [0, n).
template <typename T>
void dot_rows(int64_t k, const T* a, const T* w, int64_t ldw, T* c, int64_t n, bool accumulate) {
  int64_t j = 0;
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<T, float>) {
    // GCC 12 flags the unmasked shuffles' undefined pass-through; the all-ones masked forms
    // compile to the same instructions.
    constexpr __mmask16 kAll = 0xFFFF;
    const int64_t whole = k - k % 16;
    const __mmask16 tail = static_cast<__mmask16>((1u << (k % 16)) - 1u);
    // Four rows at a time: four memory streams (more slow the hardware prefetchers down), each
    // with two chains of partial sums to cover the FMA latency.
    for (; j + 4 <= n; j += 4) {
      const float* row = w + j * ldw;
      __m512 acc[4][2];
      for (auto& pair : acc) pair[0] = pair[1] = _mm512_setzero_ps();
      int64_t i = 0;
      for (; i + 32 <= whole; i += 32) {
        const __m512 x0 = _mm512_loadu_ps(a + i), x1 = _mm512_loadu_ps(a + i + 16);
        for (int r = 0; r < 4; ++r) {
          acc[r][0] = _mm512_fmadd_ps(x0, _mm512_loadu_ps(row + r * ldw + i), acc[r][0]);
          acc[r][1] = _mm512_fmadd_ps(x1, _mm512_loadu_ps(row + r * ldw + i + 16), acc[r][1]);
        }
      }
      for (; i < k; i += 16) {
        const __mmask16 mask = i < whole ? kAll : tail;
        const __m512 x = _mm512_maskz_loadu_ps(mask, a + i);
        for (int r = 0; r < 4; ++r)
          acc[r][0] = _mm512_fmadd_ps(x, _mm512_maskz_loadu_ps(mask, row + r * ldw + i), acc[r][0]);
      }
      __m512 sum[4];
      for (int r = 0; r < 4; ++r) sum[r] = _mm512_add_ps(acc[r][0], acc[r][1]);
      // Halves then quarters: 128-bit lane q of `rows` ends up holding four partial sums of row q.
      auto halves = [](__m512 x, __m512 y) {  // lanes: x's 0+2, 1+3, then y's
        return _mm512_add_ps(_mm512_maskz_shuffle_f32x4(kAll, x, y, 0x44), _mm512_maskz_shuffle_f32x4(kAll, x, y, 0xEE));
      };
      auto quarters = [](__m512 x, __m512 y) {  // lanes: x's 0+1, 2+3, then y's
        return _mm512_add_ps(_mm512_maskz_shuffle_f32x4(kAll, x, y, 0x88), _mm512_maskz_shuffle_f32x4(kAll, x, y, 0xDD));
      };
      __m512 rows = quarters(halves(sum[0], sum[1]), halves(sum[2], sum[3]));
      rows = _mm512_add_ps(rows, _mm512_maskz_shuffle_ps(kAll, rows, rows, 0x4E));
      rows = _mm512_add_ps(rows, _mm512_maskz_shuffle_ps(kAll, rows, rows, 0xB1));
      __m512 sums = _mm512_maskz_compress_ps(0x1111, rows);  // elements 0, 4, 8, 12
      if (accumulate) sums = _mm512_add_ps(sums, _mm512_maskz_loadu_ps(0xF, c + j));
      _mm512_mask_storeu_ps(c + j, 0xF, sums);
    }
  }
#endif
  for (; j < n; ++j) {
    T sum = 0;
    for (int64_t i = 0; i < k; ++i) sum += a[i] * w[j * ldw + i];
    c[j] = sum + (accumulate ? c[j] : T(0));
  }
}

template <typename T>
using Kernel = void (*)(int64_t, const T*, int64_t, const T*, int64_t, T*, int64_t, int64_t, bool, const T*, int64_t);

// Rows per tile and the kernel for `rows` remaining rows and `panels` panels per tile.
template <typename T, int NP>
Kernel<T> pick_kernel(int64_t rows) {
  constexpr int kMaxRows = NP == 1 ? kRowsOnePanel : NP == 2 ? 6 : 3;
  switch (std::min<int64_t>(rows, kMaxRows)) {
    case 1: return kernel<T, 1, NP>;
    case 2: return kernel<T, 2, NP>;
    case 3: return kernel<T, 3, NP>;
    case 4: if constexpr (kMaxRows >= 4) return kernel<T, 4, NP>; break;
    case 5: if constexpr (kMaxRows >= 5) return kernel<T, 5, NP>; break;
    case 6: if constexpr (kMaxRows >= 6) return kernel<T, 6, NP>; break;
    case 7: if constexpr (kMaxRows >= 7) return kernel<T, 7, NP>; break;
    case 8: if constexpr (kMaxRows >= 8) return kernel<T, 8, NP>; break;
    case 9: if constexpr (kMaxRows >= 9) return kernel<T, 9, NP>; break;
    case 10: if constexpr (kMaxRows >= 10) return kernel<T, 10, NP>; break;
    case 11: if constexpr (kMaxRows >= 11) return kernel<T, 11, NP>; break;
    default: break;
  }
  return kernel<T, kMaxRows, NP>;
}

}  // namespace

template <typename T>
void PackedWeights<T>::multiply(int64_t m, const T* a, int64_t lda, T* c, int64_t ldc,
                             int64_t unit_begin, int64_t unit_end, bool accumulate) const {
  unit_end = std::min(unit_end, rows_per_block_);
  if (unit_begin >= unit_end || m == 0) return;
  if (in_place_) {
    for (int64_t r = 0; r < m; ++r)
      for (int64_t b = 0; b < blocks_; ++b) {
        const int64_t first = b * rows_per_block_ + unit_begin;
        dot_rows(k_, a + r * lda, in_place_ + first * in_place_ld_, in_place_ld_, c + r * ldc + first,
                 unit_end - unit_begin, accumulate);
      }
    return;
  }
  if constexpr (std::is_same_v<T, float>) {
    if (bf16_) {
      // Each thread rounds its own copy of A: [padded_rows(m), padded_depth(k)].
      thread_local std::vector<uint16_t> a16;
      const int64_t kpad = bf16::padded_depth(k_);
      a16.resize(static_cast<size_t>(bf16::padded_rows(m) * kpad));
      bf16::convert_rows(m, k_, a, lda, a16.data(), kpad);
      for (int64_t b = 0; b < blocks_; ++b)
        bf16::multiply(m, a16.data(), kpad,
                       bf16_data_.data() + (b * panels_per_block_ + unit_begin / kPanel) * kpad * kPanel,
                       c + b * rows_per_block_ + unit_begin, ldc, unit_end - unit_begin, accumulate);
      return;
    }
  }
  const int64_t panel_stride = k_ * kPanel;
  // Few rows (small batches) leave the FMA units idle unless several panels share a tile.
  const int64_t panels_per_tile = m >= 4 ? 1 : m >= 3 ? 2 : 4;
  for (int64_t b = 0; b < blocks_; ++b) {
    const T* block = data_.data() + b * panels_per_block_ * panel_stride;
    for (int64_t unit = unit_begin; unit < unit_end; unit += panels_per_tile * kPanel) {
      const int64_t panels = std::min(panels_per_tile, (unit_end - unit + kPanel - 1) / kPanel);
      const T* tile_panels = block + (unit / kPanel) * panel_stride;
      T* c_tile = c + b * rows_per_block_ + unit;
      const int64_t columns = std::min(panels * kPanel, unit_end - unit);
      // Depth in blocks, so that a panel's slice stays in L1 while every row tile uses it.
      for (int64_t k0 = 0; k0 < k_; k0 += kDepthBlock) {
        const int64_t depth = std::min(kDepthBlock, k_ - k0);
        const bool add = accumulate || k0 > 0;
        // With one panel per tile and panels over 1 MiB (half of L2 here), the row tiles share
        // out asking for the next slice of the panels into L2 while they work on this one, so
        // that streaming W from L3 overlaps the arithmetic (lstm 512/512/64/50 infer and train
        // about 3% faster; with panels that stay in L2 it only costs, 1% on 128/128/32/100).
        const T* next = nullptr;
        int64_t next_depth = 0;
        if (panels == 1 && data_.size() * sizeof(T) > (size_t{1} << 20)) {
          if (k0 + depth < k_) next = tile_panels + (k0 + depth) * kPanel;
          else if (unit + kPanel < unit_end) next = tile_panels + panel_stride;
          else if (b + 1 < blocks_) next = data_.data() + ((b + 1) * panels_per_block_ + unit_begin / kPanel) * panel_stride;
          if (next) next_depth = std::min(kDepthBlock, k0 + depth < k_ ? k_ - k0 - depth : k_);
        }
        const int64_t row_tiles = (m + kRowsOnePanel - 1) / kRowsOnePanel;
        const int64_t per_tile = (next_depth + row_tiles - 1) / row_tiles;  // depth steps of `next`
        for (int64_t row = 0; row < m;) {
          const int64_t rows_left = m - row;
          Kernel<T> run;
          int64_t rows;
          if (panels == 1) { run = pick_kernel<T, 1>(rows_left); rows = std::min(rows_left, kRowsOnePanel); }
          else if (panels == 2) { run = pick_kernel<T, 2>(rows_left); rows = std::min<int64_t>(rows_left, 6); }
          else if (panels == 3) { run = pick_kernel<T, 3>(rows_left); rows = std::min<int64_t>(rows_left, 3); }
          else { run = pick_kernel<T, 4>(rows_left); rows = std::min<int64_t>(rows_left, 3); }
          const int64_t from = std::min(next_depth, row / kRowsOnePanel * per_tile);
          run(depth, a + row * lda + k0, lda, tile_panels + k0 * kPanel, panel_stride, c_tile + row * ldc, ldc,
              columns, add, next ? next + from * kPanel : nullptr, std::min(per_tile, next_depth - from));
          row += rows;
        }
      }
    }
  }
}

template class PackedWeights<float>;
template class PackedWeights<double>;

}  // namespace lstm
