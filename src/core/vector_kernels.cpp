// The packed and in-place products (and an activation entry point for the tests), written once
// over core/simd.hpp's lane types and compiled once per instruction-set path.
#include "core/vector_kernels.hpp"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/simd.hpp"
#include "core/thread_team.hpp"

LSTM_BEGIN_TARGET
namespace lstm::LSTM_ISA_NS {
namespace {

constexpr int64_t kPanel = 32;       // columns per packed panel
// Depth of one pass over a panel: 512 × 32 floats = 64 KiB, from L2 for the row tiles after the
// first. Blocks of 256, whose slice fits L1, were slower on Zen 4: each block stores and reloads
// the tile's sums (`lstm bench --phases --threads 2`, recurrent products, GFLOP/s a thread, 256 →
// 512: lstm 512/512/64/50 infer 104 → 110, train 106 → 109; 1024/1024/64/25 infer 95 → 97–99,
// train 97 → 100; gru 512/512/64/50 108 → 111; batch 1 and 128/128/32/100 unchanged; 1024 gave
// the same as 512).
constexpr int64_t kDepthBlock = 512;

template <typename T>
using Kernel = void (*)(int64_t, const T*, int64_t, const T*, int64_t, T*, int64_t, int64_t, bool, const T*, int64_t);

// C tile [MR rows, NV·width columns] (+)= A[MR, k] × panels, with `panels` at the tile's first
// column (panels follow each other at panel_stride) and `columns` bounding the last ones. A's
// rows lie lda apart, or, Interleaved, side by side: A[r, i] at a[i·MR + r].
// With one panel per tile, it also asks for `next_steps` depth steps of panel at `next` into
// L2; with several and next_steps > 0, for each panel's lines a few depth steps ahead.
template <typename S, typename T, int MR, int NV, bool Interleaved>
void tile_kernel(int64_t k, const T* a, int64_t lda, const T* panels, int64_t panel_stride, T* c,
                 int64_t ldc, int64_t columns, bool accumulate, const T* next, int64_t next_steps) {
  using V = typename S::V;
  constexpr int64_t W = S::width;
  constexpr int64_t kPanels = (NV * W + kPanel - 1) / kPanel;
  V acc[MR][NV];
  for (auto& row : acc)
    for (V& v : row) v = S::zero();
  for (int64_t i = 0; i < k; ++i) {
    if constexpr (W > 1 && kPanels > 1) {
      // With few rows the product streams the panels from L2, and runs faster when each
      // panel's lines are asked for 8 depth steps ahead (lstm 256/256/1/100 infer 1.23 → 1.14 ms).
      if (next_steps > 0) {
        const int64_t ahead = std::min(i + 8, k - 1);
        for (int64_t p = 0; p < kPanels; ++p) {
          const T* line = panels + p * panel_stride + ahead * kPanel;
          __builtin_prefetch(line, 0, 3);
          __builtin_prefetch(line + 16, 0, 3);
        }
      }
    }
    if constexpr (W > 1 && kPanels == 1) {
      if (i < next_steps) {
        __builtin_prefetch(next + i * kPanel, 0, 2);
        __builtin_prefetch(next + i * kPanel + 16, 0, 2);
      }
    }
    V w[NV];
    for (int v = 0; v < NV; ++v) w[v] = S::loadu(panels + (v * W / kPanel) * panel_stride + i * kPanel + (v * W) % kPanel);
    for (int r = 0; r < MR; ++r) {
      const V x = S::set(Interleaved ? a[i * MR + r] : a[r * lda + i]);
      for (int v = 0; v < NV; ++v) acc[r][v] = S::fmadd(x, w[v], acc[r][v]);
    }
  }
  for (int v = 0; v < NV; ++v) {
    const int64_t first = v * W, count = std::clamp<int64_t>(columns - first, 0, W);
    if (count == 0) continue;
    for (int r = 0; r < MR; ++r) {
      T* out = c + r * ldc + first;
      S::store(out, accumulate ? acc[r][v] + S::load(out, count) : acc[r][v], count);
    }
  }
}

// The kernel for `rows` (≤ R) rows.
template <typename S, typename T, int NV, int R, bool Interleaved>
Kernel<T> pick_kernel(int64_t rows) {
  if constexpr (R == 1)
    return tile_kernel<S, T, 1, NV, Interleaved>;
  else
    return rows >= R ? tile_kernel<S, T, R, NV, Interleaved>
                     : pick_kernel<S, T, NV, R - 1, Interleaved>(rows);
}

// One column tile of the product, `columns` (≤ NV·width) columns from `unit` of block b, in row
// tiles of up to MaxRows rows.
template <typename S, typename T, int NV, int MaxRows, bool Interleaved>
void run_tile(const PanelProduct<T>& p, int64_t b, int64_t unit, int64_t columns) {
  constexpr int64_t kPanels = (NV * S::width + kPanel - 1) / kPanel;
  const int64_t panel_stride = p.k * kPanel, row_tiles = (p.m + MaxRows - 1) / MaxRows;
  const T* block = p.panels + b * p.panels_per_block * panel_stride;
  const T* tile_panels = block + unit / kPanel * panel_stride + unit % kPanel;
  T* c_tile = p.c + b * p.rows_per_block + unit;
  // Tiles of several panels ask for their lines ahead, except for a single row of A with panels
  // over 1 MiB: those stream from L3, and the hardware streams them faster alone, the prefetches
  // taking load slots that the stream needs (2 threads each reading 8 MiB of panels 50 times:
  // 70–72 → 79–87 GB/s a thread). With two rows, lstm 1024/1024/2/25 infer was 2–3% slower
  // without them.
  const int64_t several_ahead = p.stream_next && p.m == 1 ? 0 : 1;
  // Depth in blocks, so that a panel's slice stays in L2 while every row tile uses it.
  for (int64_t k0 = 0; k0 < p.k; k0 += kDepthBlock) {
    const int64_t depth = std::min(kDepthBlock, p.k - k0);
    // With one panel per tile and panels over 1 MiB, the row tiles share out asking for the
    // next slice of the panels into L2 while they work on this one, so that streaming W from
    // L3 overlaps the arithmetic (lstm 512/512/64/50 infer and train about 3% faster).
    const T* next = nullptr;
    int64_t next_depth = 0;
    if (kPanels == 1 && p.stream_next) {
      const int64_t next_unit = unit + NV * S::width;
      if (k0 + depth < p.k) next = tile_panels - unit % kPanel + (k0 + depth) * kPanel;
      else if (next_unit < p.unit_end) next = block + next_unit / kPanel * panel_stride;
      else if (b + 1 < p.blocks) next = p.panels + ((b + 1) * p.panels_per_block + p.unit_begin / kPanel) * panel_stride;
      if (next) next_depth = std::min(kDepthBlock, k0 + depth < p.k ? p.k - k0 - depth : p.k);
    }
    const int64_t per_tile = (next_depth + row_tiles - 1) / row_tiles;  // depth steps of `next`
    // The rows shared evenly between the tiles: 32 rows on AVX2 as 5 5 6 5 5 6, not 6 6 6 6 6 2,
    // whose 2-row tile ran at half the others' rate (lstm 512/512/64/50 infer, avx2, recurrent
    // products 97 → 101 GFLOP/s a thread; the avx512 path unchanged).
    for (int tile = 0; tile < row_tiles; ++tile) {
      const auto [row, row_end] = split_range(p.m, static_cast<int>(row_tiles), tile);
      const int64_t from = std::min(next_depth, tile * per_tile);
      const T* a = p.a + row * p.lda + k0 * (Interleaved ? row_end - row : 1);
      if (k0 == 0 && p.accumulate)
        prefetch_block(c_tile + row * p.ldc, p.ldc, row_end - row, columns);
      pick_kernel<S, T, NV, MaxRows, Interleaved>(row_end - row)(
          depth, a, p.lda, tile_panels + k0 * kPanel, panel_stride, c_tile + row * p.ldc, p.ldc,
          columns, p.accumulate || k0 > 0, next ? next + from * kPanel : nullptr,
          kPanels > 1 ? several_ahead : std::min(per_tile, next_depth - from));
    }
  }
}

// A last tile that spans fewer panels than NV vectors would: the kernel with one panel less
// until it fits (kernels read whole panels, which must exist).
template <typename S, typename T, int NV, int MaxRows, bool Interleaved>
void run_last_tile(const PanelProduct<T>& p, int64_t b, int64_t unit, int64_t columns) {
  constexpr int kPerPanel = static_cast<int>(kPanel / S::width);
  if constexpr (NV > kPerPanel) {
    if ((columns + kPanel - 1) / kPanel * kPerPanel < NV)
      return run_last_tile<S, T, NV - kPerPanel, MaxRows, Interleaved>(p, b, unit, columns);
  }
  run_tile<S, T, NV, MaxRows, Interleaved>(p, b, unit, columns);
}

// Every tile of the product: NV vectors of columns by up to MaxRows rows each.
template <typename S, typename T, int NV, int MaxRows, bool Interleaved>
void run_tiles(const PanelProduct<T>& p) {
  constexpr int64_t kColumns = NV * S::width;
  for (int64_t b = 0; b < p.blocks; ++b)
    for (int64_t unit = p.unit_begin; unit < p.unit_end; unit += kColumns) {
      const int64_t columns = std::min(kColumns, p.unit_end - unit);
      if (columns == kColumns)
        run_tile<S, T, NV, MaxRows, Interleaved>(p, b, unit, columns);
      else
        run_last_tile<S, T, NV, MaxRows, Interleaved>(p, b, unit, columns);
    }
}

// A copied once per product, row tile by row tile (the tiles of run_tile), each tile's rows
// interleaved: one stream for the tile's broadcasts instead of one per row, and no rows up to
// 4 KiB apart that fall into one set of the 8-way L1 and evict each other (h of 512 or 1024
// floats: the L1 index repeats every 4 KiB).
//
// Only at depths of 512 or more, and only for an A that more than two panels of columns read:
// below either, the copy costs more than it gains. Zen 4, one thread, the product alone, 64 rows
// by 4096 columns, GFLOP/s, A where it lies → interleaved: AVX2 at depth 1024 93 → 102, at depth
// 4096 (the backward's dgates W_hh) 90 → 99, at depth 512 105 → 108; AVX-512 97 → 102, 100 →
// 105, 110 → 111; at depth 256, AVX2 103 → 106 but AVX-512 110 → 108; 32 rows at depth 128,
// AVX2 106 → 103, AVX-512 111 → 108. An A read by two panels is W_ih at batch 2 (lstm
// 1024/1024/2/25 infer: input products 65–68 → 60 GFLOP/s a thread with the copy).
template <typename T>
bool interleaving_pays(const PanelProduct<T>& p) {
  return p.blocks * (p.unit_end - p.unit_begin) > 2 * kPanel && p.k >= 512;
}

template <typename T>
PanelProduct<T> with_rows_interleaved(PanelProduct<T> p, int64_t max_rows, std::vector<T>& copy) {
  if (static_cast<int64_t>(copy.size()) < p.m * p.k) copy.resize(p.m * p.k);
  const int64_t row_tiles = (p.m + max_rows - 1) / max_rows;
  for (int tile = 0; tile < row_tiles; ++tile) {
    const auto [row, row_end] = split_range(p.m, static_cast<int>(row_tiles), tile);
    transpose_rows(p.a + row * p.lda, p.lda, row_end - row, p.k, copy.data() + row * p.k,
                   row_end - row);
  }
  p.a = copy.data();
  p.lda = p.k;
  return p;
}

// The tiles for many rows, on A as it lies or interleaved.
template <typename S, typename T, int NV, int MaxRows>
void run_row_tiles(const PanelProduct<T>& p) {
  // The kernels own no workspace: one copy buffer per thread, grown to the largest A it has seen.
  thread_local std::vector<T> a_copy;
  if (S::width > 1 && interleaving_pays(p))
    run_tiles<S, T, NV, MaxRows, true>(with_rows_interleaved(p, MaxRows, a_copy));
  else
    run_tiles<S, T, NV, MaxRows, false>(p);
}

// Few rows (small batches) leave the FMA units idle unless a tile spans more columns: each
// path's tiles keep about 8-24 accumulators and the weights of one depth step in registers.
template <typename T>
void multiply_panels(const PanelProduct<T>& p) {
  using S = Simd<T>;
  if constexpr (S::width == 16) {  // 32 registers
    if (p.m >= 4) run_row_tiles<S, T, 2, 12>(p);
    else if (p.m == 3) run_tiles<S, T, 4, 3, false>(p);
    else run_tiles<S, T, 8, 2, false>(p);
  } else if constexpr (S::width == 8) {  // 16 registers
    if (p.m >= 3) run_row_tiles<S, T, 2, 6>(p);
    else if (p.m == 2) run_tiles<S, T, 4, 2, false>(p);
    else run_tiles<S, T, 8, 1, false>(p);
  } else {
    if (p.m >= 4) run_tiles<S, T, 32, 12, false>(p);
    else if (p.m == 3) run_tiles<S, T, 64, 3, false>(p);
    else run_tiles<S, T, 128, 2, false>(p);
  }
}

// One row of A at a time: c[j] (+)= Σ_i a[i] w[j*ldw + i] for j in [0, n).
template <typename T>
void dot_rows(int64_t k, const T* a, const T* w, int64_t ldw, T* c, int64_t n, bool accumulate) {
  using S = Simd<T>;
  using V = typename S::V;
  constexpr int64_t W = S::width;
  int64_t j = 0;
  if constexpr (W > 1) {
    // Four rows at a time: four memory streams (more slow the hardware prefetchers down), each
    // with two chains of partial sums to cover the FMA latency.
    const int64_t whole = k - k % W;
    for (; j + 4 <= n; j += 4) {
      const T* row = w + j * ldw;
      V acc[4][2];
      for (auto& pair : acc) pair[0] = pair[1] = S::zero();
      int64_t i = 0;
      for (; i + 2 * W <= whole; i += 2 * W) {
        const V x0 = S::loadu(a + i), x1 = S::loadu(a + i + W);
        for (int r = 0; r < 4; ++r) {
          acc[r][0] = S::fmadd(x0, S::loadu(row + r * ldw + i), acc[r][0]);
          acc[r][1] = S::fmadd(x1, S::loadu(row + r * ldw + i + W), acc[r][1]);
        }
      }
      for (; i < k; i += W) {
        const int64_t count = std::min(W, k - i);
        const V x = S::load(a + i, count);
        for (int r = 0; r < 4; ++r) acc[r][0] = S::fmadd(x, S::load(row + r * ldw + i, count), acc[r][0]);
      }
      V sum[4];
      for (int r = 0; r < 4; ++r) sum[r] = acc[r][0] + acc[r][1];
      T sums[4];
      S::sum4(sum, sums);
      for (int r = 0; r < 4; ++r) c[j + r] = accumulate ? sums[r] + c[j + r] : sums[r];
    }
  }
  for (; j < n; ++j) {
    T sum = 0;
    for (int64_t i = 0; i < k; ++i) sum += a[i] * w[j * ldw + i];
    c[j] = sum + (accumulate ? c[j] : T(0));
  }
}

// c[j] (+)= Σ_i a[i] v[i·ldv + j] for j < n: v's rows added into c (in L1) four at a time, each
// row a contiguous stream, where reading v by columns would jump a row at every element.
template <typename T>
void add_weighted_rows(int64_t k, const T* a, const T* v, int64_t ldv, T* c, int64_t n,
                       bool accumulate) {
  using S = Simd<T>;
  using V = typename S::V;
  constexpr int64_t W = S::width;
  if (!accumulate) std::fill(c, c + n, T(0));
  int64_t i = 0;
  for (; i + 4 <= k; i += 4) {
    const T* row = v + i * ldv;
    const V a0 = S::set(a[i]), a1 = S::set(a[i + 1]), a2 = S::set(a[i + 2]), a3 = S::set(a[i + 3]);
    for (int64_t j = 0; j < n; j += W) {
      const int64_t count = std::min(W, n - j);
      V sum = S::fmadd(a0, S::load(row + j, count), S::load(c + j, count));
      sum = S::fmadd(a1, S::load(row + ldv + j, count), sum);
      sum = S::fmadd(a2, S::load(row + 2 * ldv + j, count), sum);
      sum = S::fmadd(a3, S::load(row + 3 * ldv + j, count), sum);
      S::store(c + j, sum, count);
    }
  }
  for (; i < k; ++i) {
    const V ai = S::set(a[i]);
    for (int64_t j = 0; j < n; j += W) {
      const int64_t count = std::min(W, n - j);
      S::store(c + j, S::fmadd(ai, S::load(v + i * ldv + j, count), S::load(c + j, count)), count);
    }
  }
}

template <typename T>
void multiply_in_place(const InPlaceProduct<T>& p) {
  if (p.transposed) {
    for (int64_t r = 0; r < p.m; ++r)
      add_weighted_rows(p.k, p.a + r * p.lda, p.w + p.unit_begin, p.ldw,
                        p.c + r * p.ldc + p.unit_begin, p.unit_end - p.unit_begin, p.accumulate);
    return;
  }
  for (int64_t r = 0; r < p.m; ++r)
    for (int64_t b = 0; b < p.blocks; ++b) {
      const int64_t first = b * p.rows_per_block + p.unit_begin;
      dot_rows(p.k, p.a + r * p.lda, p.w + first * p.ldw, p.ldw, p.c + r * p.ldc + first, p.unit_end - p.unit_begin,
               p.accumulate);
    }
}

// m ← β1·m + (1 − β1)·d, v ← β2·v + (1 − β2)·d·d, p ← p + step·m / (√v / √(1 − β2ᵗ) + ε), in
// PyTorch's order. The portable path gives the scalar loop's bits; the vector paths may fuse a
// product with its sum, a few ulps from it.
template <typename T>
void adam(const AdamStep<T>& s) {
  using S = Simd<T>;
  using V = typename S::V;
  const V decay = S::set(s.decay), l2 = S::set(s.l2), beta1 = S::set(s.beta1), beta2 = S::set(s.beta2);
  const V keep1 = S::set(s.one_minus_beta1), keep2 = S::set(s.one_minus_beta2);
  const V step = S::set(s.step_size), correction2 = S::set(s.correction2_sqrt), eps = S::set(s.eps);
  for (int64_t i = 0; i < s.n; i += S::width) {
    const int64_t count = std::min(S::width, s.n - i);
    V p = S::load(s.p + i, count);
    if (s.decay != T(1)) p = p * decay;
    V d = S::load(s.g + i, count);
    if (s.l2 != T(0)) d = d + l2 * p;
    const V m = S::load(s.m + i, count) * beta1 + keep1 * d;
    const V v = S::load(s.v + i, count) * beta2 + keep2 * d * d;
    p = p + step * (m / (S::sqrt(v) / correction2 + eps));
    S::store(s.p + i, p, count);
    S::store(s.m + i, m, count);
    S::store(s.v + i, v, count);
  }
}

// Four vectors of columns at a time, summed in registers down the rows, then added to sum.
template <typename T>
void add_column_sums(const T* a, int64_t rows, int64_t lda, int64_t width, T* sum, T* also) {
  using S = Simd<T>;
  using V = typename S::V;
  auto add = [&](int64_t k, V total, int64_t n) {
    S::store(sum + k, S::load(sum + k, n) + total, n);
    if (also) S::store(also + k, S::load(also + k, n) + total, n);
  };
  constexpr int64_t kVectors = 4;
  int64_t k = 0;
  for (; k + kVectors * S::width <= width; k += kVectors * S::width) {
    V total[kVectors];
    for (V& v : total) v = S::zero();
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t v = 0; v < kVectors; ++v)
        total[v] = total[v] + S::loadu(a + r * lda + k + v * S::width);
    for (int64_t v = 0; v < kVectors; ++v) add(k + v * S::width, total[v], S::width);
  }
  for (; k < width; k += S::width) {
    const int64_t n = std::min(S::width, width - k);
    V total = S::zero();
    for (int64_t r = 0; r < rows; ++r) total = total + S::load(a + r * lda + k, n);
    add(k, total, n);
  }
}

template <typename T>
void activation(int kind, const T* in, T* out, int64_t n) {
  using S = Simd<T>;
  for (int64_t i = 0; i < n; i += S::width) {
    const int64_t count = std::min(S::width, n - i);
    const auto x = S::load(in + i, count);
    S::store(out + i, kind == 0 ? S::exp(x) : kind == 1 ? S::sigmoid(x) : S::tanh(x), count);
  }
}

}  // namespace
}  // namespace lstm::LSTM_ISA_NS
LSTM_END_TARGET

namespace lstm::LSTM_ISA_NS {

template <typename T>
VectorKernels<T> vector_kernels() {
  return {multiply_panels<T>, multiply_in_place<T>, adam<T>, add_column_sums<T>, activation<T>};
}

template VectorKernels<float> vector_kernels<float>();
template VectorKernels<double> vector_kernels<double>();

}  // namespace lstm::LSTM_ISA_NS
