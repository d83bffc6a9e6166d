// PackedWeights: panel packing, and the products through the active path's kernels.
#include "core/packed_gemm.hpp"

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "core/bf16_gemm.hpp"
#include "core/isa_internal.hpp"
#include "core/vector_kernels.hpp"
#include "lstm/error.hpp"
#include "lstm/precision.hpp"

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
      transpose_rows(w + (b * rows_per_block_ + p * kPanel) * ldw, ldw, columns, k_, panel, kPanel);
      for (int64_t i = 0; columns < kPanel && i < k_; ++i)
        std::fill(panel + i * kPanel + columns, panel + (i + 1) * kPanel, T(0));
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

// The active path's copy of the vector kernels (core/vector_kernels.hpp); double always takes
// the portable one.
template <typename T>
VectorKernels<T> vector_kernels() {
  if constexpr (std::is_same_v<T, float>) {
    switch (vector_path(active_isa())) {
      case VectorPath::avx512: return avx512::vector_kernels<T>();
      case VectorPath::avx2: return avx2::vector_kernels<T>();
      case VectorPath::scalar: break;
    }
  }
  return scalar::vector_kernels<T>();
}

template <typename T>
const VectorKernels<T>& chosen_vector_kernels() {
  static const VectorKernels<T> kernels = vector_kernels<T>();
  return kernels;
}

template VectorKernels<float> vector_kernels<float>();
template VectorKernels<double> vector_kernels<double>();
template const VectorKernels<float>& chosen_vector_kernels<float>();
template const VectorKernels<double>& chosen_vector_kernels<double>();

template <typename T>
void PackedWeights<T>::multiply(int64_t m, const T* a, int64_t lda, T* c, int64_t ldc,
                                int64_t unit_begin, int64_t unit_end, bool accumulate,
                                const T* bias) const {
  unit_end = std::min(unit_end, rows_per_block_);
  if (unit_begin >= unit_end || m == 0) return;
  if (bias && accumulate) throw Error("PackedWeights::multiply: a bias with accumulation is not built");
  if (bias && !bf16_) {  // the bf16 products add it as they store C
    for (int64_t r = 0; r < m; ++r)
      for (int64_t b = 0; b < blocks_; ++b)
        std::copy(bias + b * rows_per_block_ + unit_begin, bias + b * rows_per_block_ + unit_end,
                  c + r * ldc + b * rows_per_block_ + unit_begin);
    accumulate = true;
  }
  const VectorKernels<T>& kernels = chosen_vector_kernels<T>();
  if (in_place_) {
    kernels.multiply_in_place({m, a, lda, c, ldc, in_place_, in_place_ld_, blocks_, rows_per_block_, k_,
                               unit_begin, unit_end, accumulate});
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
        bf16::multiply(
            m, a16.data(), kpad,
            bf16_data_.data() + (b * panels_per_block_ + unit_begin / kPanel) * kpad * kPanel,
            c + b * rows_per_block_ + unit_begin, ldc, unit_end - unit_begin,
            {accumulate, false, bias ? bias + b * rows_per_block_ + unit_begin : nullptr});
      return;
    }
  }
  // Streaming the next panels into L2 pays when they do not stay there: over 1 MiB, half of L2
  // here (with panels that stay in L2 it only costs, 1% on lstm 128/128/32/100).
  kernels.multiply_panels({m, a, lda, c, ldc, data_.data(), blocks_, panels_per_block_, rows_per_block_, k_,
                           unit_begin, unit_end, accumulate, data_.size() * sizeof(T) > (size_t{1} << 20)});
}

template class PackedWeights<float>;
template class PackedWeights<double>;

}  // namespace lstm
