// Products with a weight matrix packed once and reused every time step: C = A Wᵀ.
//
// A recurrent layer multiplies by the same W_hh at every step. A general GEMM re-packs W on
// every call; here W is packed into column panels once per forward/backward call, and each
// step streams the panels it needs. Columns are grouped into `blocks` (the gates), so a thread
// can compute the columns of a range of hidden units for every gate at once.
//
// With a batch of one and weights larger than L2, a forward step is a matrix-vector product that
// streams W from L3 whatever its layout, so packing would only add a pass: read_in_place()
// leaves W where it lies and takes dot products with its rows.
//
// With the matmul precision at bf16 when shape() runs (float only), the panels are bfloat16 for
// the AMX tile kernels of core/bf16_gemm.hpp, and multiply() rounds A to bf16 as it goes.
#pragma once

#include <cstdint>
#include <vector>

namespace lstm {

template <typename T>
class PackedWeights {
 public:
  static constexpr int64_t kPanel = 32;  // columns of C per panel

  // Sizes the buffer for W [blocks*rows_per_block, k] (allocates only when it must grow), in
  // bf16 when the matmul precision is and `follow_precision` (else always in T).
  void shape(int64_t blocks, int64_t rows_per_block, int64_t k, bool follow_precision = true);
  // Instead of shape() and pack(): products read W [blocks*rows_per_block, k] (leading dimension
  // ld) where it lies; pack() then does nothing. Not for pack_transposed().
  void read_in_place(const T* w, int64_t ld, int64_t blocks, int64_t rows_per_block, int64_t k);
  // Packs rows [unit_begin, unit_end) of every block of W (row-major, leading dimension ldw),
  // for C = A Wᵀ. Threads may pack disjoint unit ranges concurrently.
  void pack(const T* w, int64_t ldw, int64_t unit_begin, int64_t unit_end);
  // With one block: packs columns [unit_begin, unit_end) of V [k, rows_per_block] (leading
  // dimension ldv), so that multiply() computes C = A V.
  void pack_transposed(const T* v, int64_t ldv, int64_t unit_begin, int64_t unit_end);

  int64_t blocks() const { return blocks_; }
  int64_t rows_per_block() const { return rows_per_block_; }
  int64_t depth() const { return k_; }
  bool bf16() const { return bf16_; }  // packed in bf16 (the matmul precision when shape() ran)

  // C[m, b*rows_per_block + j] (+)= Σ_k A[m, k] W[b*rows_per_block + j, k] for every block b
  // and j in [unit_begin, unit_end); unit_begin must be a multiple of kPanel. With `bias`
  // [blocks*rows_per_block], C = A Wᵀ + bias in every row (with accumulate: lstm::Error).
  void multiply(int64_t m, const T* a, int64_t lda, T* c, int64_t ldc, int64_t unit_begin,
                int64_t unit_end, bool accumulate, const T* bias = nullptr) const;

 private:
  int64_t blocks_ = 0, rows_per_block_ = 0, k_ = 0, panels_per_block_ = 0;
  std::vector<T> data_;  // [blocks, panels_per_block, k, kPanel], zero-padded
  bool bf16_ = false;
  std::vector<uint16_t> bf16_data_;  // bf16: [blocks, panels_per_block, padded_depth(k) * kPanel]
  const T* in_place_ = nullptr;  // W as the caller holds it, when read in place
  int64_t in_place_ld_ = 0;
};

extern template class PackedWeights<float>;
extern template class PackedWeights<double>;

}  // namespace lstm
