// The one BLAS wrapper: every matrix product in the library goes through gemm().
#pragma once

#include <cstdint>

namespace lstm {

// Row-major C[m, n] = alpha * op(A)[m, k] * op(B)[k, n] + beta * C, where op(X) is X or Xᵀ.
// lda, ldb, ldc are the row strides of A, B, C as stored.
template <typename T>
void gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, T alpha,
          const T* a, int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

// The same product by three plain loops: the reference the BLAS path is tested against.
template <typename T>
void naive_gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, T alpha,
                const T* a, int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

// Threads the BLAS may use (0 or less: all cores).
void set_blas_threads(int threads);

}  // namespace lstm
