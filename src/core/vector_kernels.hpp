// The vector kernels behind PackedWeights::multiply (and the activations), compiled once per instruction-set
// path (core/target.hpp) and chosen at run time.
#pragma once

#include <cstdint>

namespace lstm {

// C[m, b*rows_per_block + j] (+)= Σ_k A[m, k] W[b*rows_per_block + j, k] for every block b and
// j in [unit_begin, unit_end), W packed in panels of 32 columns: [blocks, panels_per_block, k, 32].
template <typename T>
struct PanelProduct {
  int64_t m = 0;
  const T* a = nullptr;            // [m, k], leading dimension lda
  int64_t lda = 0;
  T* c = nullptr;                  // [m, blocks*rows_per_block], leading dimension ldc
  int64_t ldc = 0;
  const T* panels = nullptr;       // [blocks, panels_per_block, k, 32], zero-padded
  int64_t blocks = 0, panels_per_block = 0, rows_per_block = 0, k = 0;
  int64_t unit_begin = 0, unit_end = 0;  // unit_begin a multiple of 32, unit_end ≤ rows_per_block
  bool accumulate = false;
  bool stream_next = false;        // ask for the next slice of panels into L2 (panels over 1 MiB)
};

// The same product with W [blocks*rows_per_block, k] read where it lies (leading dimension ldw);
// `transposed`: with one block, C = A W for W [k, rows_per_block] instead.
template <typename T>
struct InPlaceProduct {
  int64_t m = 0;
  const T* a = nullptr;
  int64_t lda = 0;
  T* c = nullptr;
  int64_t ldc = 0;
  const T* w = nullptr;
  int64_t ldw = 0;
  int64_t blocks = 0, rows_per_block = 0, k = 0;
  int64_t unit_begin = 0, unit_end = 0;
  bool accumulate = false;
  bool transposed = false;
};

// One Adam or AdamW step on n values, PyTorch 1.13's float update in its order of operations
// (lstm::Optimizer fills it in): p, g, m (exp_avg) and v (exp_avg_sq) [n].
template <typename T>
struct AdamStep {
  T* p = nullptr;
  const T* g = nullptr;
  T* m = nullptr;
  T* v = nullptr;
  int64_t n = 0;
  T decay = 1;  // AdamW: p ← p·decay (1 − lr·wd) first; 1: none
  T l2 = 0;     // Adam: d = g + l2·p; 0: d = g
  T beta1 = 0, beta2 = 0, one_minus_beta1 = 0, one_minus_beta2 = 0;
  T step_size = 0;         // −lr / (1 − β1ᵗ)
  T correction2_sqrt = 1;  // √(1 − β2ᵗ)
  T eps = 0;
};

template <typename T>
struct VectorKernels {
  void (*multiply_panels)(const PanelProduct<T>&);
  void (*multiply_in_place)(const InPlaceProduct<T>&);
  void (*adam)(const AdamStep<T>&);
  // sum[k] += Σ_r a[r·lda + k] for r < rows, k < width, and the same sums into `also` unless it
  // is null: the bias gradients, as column sums of the gate gradients [rows, lda].
  void (*add_column_sums)(const T* a, int64_t rows, int64_t lda, int64_t width, T* sum, T* also);
  // out[i] = f(in[i]) for i < n with the path's vector activations: 0 exp, 1 sigmoid, 2 tanh
  // (for the activation tests).
  void (*activation)(int kind, const T* in, T* out, int64_t n);
};

// out[i·out_stride + r] = a[r·lda + i] for r < rows, i < k: rows of A side by side, for packing
// and for the products' interleaved copies of A. Sixteen steps of i at a time, so that each row
// is read a cache line at a time: rows 4 KiB apart fall into one set of L1, and read a step at a
// time they evicted each other at every element (packing a 16 MiB W_hh took 7.8 ms on one
// thread, 2.8 this way).
template <typename T>
void transpose_rows(const T* a, int64_t lda, int64_t rows, int64_t k, T* out, int64_t out_stride) {
  constexpr int64_t kSteps = 16;
  for (int64_t i0 = 0; i0 < k; i0 += kSteps) {
    const int64_t i1 = i0 + kSteps < k ? i0 + kSteps : k;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t i = i0; i < i1; ++i) out[i * out_stride + r] = a[r * lda + i];
  }
}

// Asks for every line of C [rows, columns] (leading dimension ldc) into the caches: a product
// that adds to a C far in memory (the forward's input part over every step) calls it before a
// tile's arithmetic, so that the lines arrive amid it instead of stalling the tile's last loads.
template <typename T>
void prefetch_block(const T* c, int64_t ldc, int64_t rows, int64_t columns) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < columns; j += 64 / static_cast<int64_t>(sizeof(T)))
      __builtin_prefetch(c + r * ldc + j, 0, 3);
}

// The active path's kernels for float, the portable ones for double.
template <typename T>
VectorKernels<T> vector_kernels();

// The same, chosen once for the program (the path does not change while it runs).
template <typename T>
const VectorKernels<T>& chosen_vector_kernels();

#define LSTM_VECTOR_ENTRY_POINTS template <typename T> VectorKernels<T> vector_kernels();
namespace scalar { LSTM_VECTOR_ENTRY_POINTS }
namespace avx2 { LSTM_VECTOR_ENTRY_POINTS }
namespace avx512 { LSTM_VECTOR_ENTRY_POINTS }
#undef LSTM_VECTOR_ENTRY_POINTS

}  // namespace lstm
