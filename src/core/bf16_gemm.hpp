// bfloat16 products: C (+)= A B with A rounded to bf16 on the fly and B packed once into bf16
// panels, accumulated in float, on the AMX tile units (the amx path) or with VDPBF16PS on the
// vector units (the avx512_bf16 path). PackedWeights<float> uses this when the matmul precision
// is bf16 (include/lstm/precision.hpp).
//
// A panel holds 32 columns of B at a depth padded to a multiple of 32, laid out as the tile unit
// reads it: for each 32-deep chunk, two 16-column tiles of 16 rows, row r holding the pairs
// (k = 2r, 2r+1) of its 16 columns ("VNNI" order); 32 × 32 × 2 bytes per chunk.
#pragma once

#include <cstdint>

namespace lstm::bf16 {

// Depths pad to whole 32-deep chunks, rows of A to whole 16-row tiles.
inline int64_t padded_depth(int64_t k) { return (k + 31) / 32 * 32; }
inline int64_t padded_rows(int64_t m) { return (m + 15) / 16 * 16; }

// Rounds to the nearest bf16, ties to even.
uint16_t from_float(float x);
float to_float(uint16_t x);

// Index of B's element (k, column) within its panel (column < 32).
inline int64_t panel_index(int64_t k, int64_t column) {
  return (((k / 32) * 2 + column / 16) * 16 + (k % 32) / 2) * 32 + (column % 16) * 2 + k % 2;
}

// out [padded_rows(m), kpad] = A [m, k] (leading dimension lda) rounded, zero beyond m and k.
void convert_rows(int64_t m, int64_t k, const float* a, int64_t lda, uint16_t* out, int64_t kpad);

// out [padded_rows(n), kpad] = Xᵀ rounded: out(j, k) = X[k*ldx + j] for j < n, k < depth; zero
// beyond.
void convert_columns(int64_t depth, int64_t n, const float* x, int64_t ldx, uint16_t* out, int64_t kpad);

// Consecutive panels (padded_depth(depth) × 32 elements each) holding B [depth, columns], zero
// beyond: from the rows of X, B(k, j) = X[k*ldx + j] (pack_rows), or from the rows of W,
// B(k, j) = W[j*ldw + k] (pack_columns).
void pack_rows(int64_t depth, int64_t columns, const float* x, int64_t ldx, uint16_t* panels);
void pack_columns(int64_t depth, int64_t columns, const float* w, int64_t ldw, uint16_t* panels);

// How multiply() puts its result into C.
struct Store {
  bool accumulate = false;      // C += the result (else C = the result)
  bool transposed = false;      // the result's (i, j) goes to c[j*ldc + i]
  const float* bias = nullptr;  // [columns] added to every row of the result (not accumulating)
  bool stream = false;          // non-temporal stores: C is large and not read again soon
};

// C[m, columns] (+)= A16 × panels: `a16` from convert_rows, `panels` consecutive panels of
// kpad × 32 elements covering `columns` columns, stored as `store` says (a C of 4 MiB or more that
// is only written streams past the caches). Only where bf16_available().
void multiply(int64_t m, const uint16_t* a16, int64_t kpad, const uint16_t* panels, float* c,
              int64_t ldc, int64_t columns, Store store);
// multiply() on each path: the AMX tiles (bf16_amx.cpp) and VDPBF16PS (bf16_dot.cpp).
void amx_multiply(int64_t m, const uint16_t* a16, int64_t kpad, const uint16_t* panels, float* c,
                  int64_t ldc, int64_t columns, const Store& store);
void dot_multiply(int64_t m, const uint16_t* a16, int64_t kpad, const uint16_t* panels, float* c,
                  int64_t ldc, int64_t columns, const Store& store);
// Their results, out [rows, width] (leading dimension out_ld), into C at (row0, column0), as
// `store` says.
void store_block(const float* out, int64_t out_ld, int64_t rows, int64_t width, float* c, int64_t ldc,
                 int64_t row0, int64_t column0, const Store& store);

// C [m, n] (+)= op(A) op(B) as gemm() in core/blas.hpp has it (row-major, no transposes but
// these three): A Bᵀ (B [n, k]), A B (B [k, n]), and Aᵀ B (A [k, m], accumulating only), with
// both operands rounded to bf16 and packed in this thread's buffers. With `bias` [n] (not
// accumulating, not Aᵀ B): C = op(A) op(B) + bias in each row.
void gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
          const float* b, int64_t ldb, bool accumulate, float* c, int64_t ldc, const float* bias = nullptr);

// A weight gradient over all steps: C[i, j] += Σ_k G[k, i] X[k, j] for rows i in [i0, i1) of C
// [·, n] (leading dimension ldc), with G [depth, ·] and X [depth, n]. Rounds X transposed and G's
// columns into this thread's buffers, then multiplies on the tiles.
void add_gradient(int64_t depth, int64_t i0, int64_t i1, int64_t n, const float* g, int64_t ldg,
                  const float* x, int64_t ldx, float* c, int64_t ldc);

}  // namespace lstm::bf16
