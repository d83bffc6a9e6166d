// The layers around the recurrent core: Linear (the head) and Embedding, forward and backward
// side by side, for any floating type (float in models, double in the gradient checks).
// Gradient convention: weight and bias gradients ACCUMULATE (+=); input gradients are OVERWRITTEN.
#pragma once

#include <cstdint>

namespace lstm {

// y [N, out] = x [N, in] · weightᵀ [in, out] + bias [out]   (PyTorch's nn.Linear; bias may be null)
template <typename T>
void linear_forward(int64_t rows, int64_t in, int64_t out, const T* x, const T* weight,
                    const T* bias, T* y);

// From dy [N, out]: grad_x [N, in] = dy · weight (skipped if null), grad_weight [out, in] +=
// dyᵀ · x, grad_bias [out] += Σ_rows dy (skipped if null).
template <typename T>
void linear_backward(int64_t rows, int64_t in, int64_t out, const T* x, const T* weight,
                     const T* grad_y, T* grad_x, T* grad_weight, T* grad_bias);

// PyTorch's nn.Linear initialisation: weight [out, in] and bias [out] U(−1/√in, 1/√in).
template <typename T>
void linear_init(int64_t in, int64_t out, uint64_t seed, T* weight, T* bias);

// y [N, dim] = weight [vocab, dim] rows ids [N]; id −1 gives a zero row (padding).
// Throws lstm::Error for any other id outside [0, vocab).
template <typename T>
void embedding_forward(int64_t rows, int64_t vocab, int64_t dim, const int64_t* ids,
                       const T* weight, T* y);

// grad_weight [vocab, dim] row ids[n] += dy [N, dim] row n (a scatter-add; ids −1 are skipped).
template <typename T>
void embedding_backward(int64_t rows, int64_t dim, const int64_t* ids, const T* grad_y,
                        T* grad_weight);

// PyTorch's nn.Embedding initialisation: weight [vocab, dim] N(0, 1), by Box-Muller on the
// counter-based stream `seed`.
template <typename T>
void embedding_init(int64_t vocab, int64_t dim, uint64_t seed, T* weight);

}  // namespace lstm
