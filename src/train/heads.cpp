// Linear and Embedding layers: forward and backward side by side; every product through gemm().
#include "train/heads.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>

#include "core/blas.hpp"
#include "core/random.hpp"
#include "core/vector_kernels.hpp"
#include "lstm/error.hpp"

namespace lstm {

template <typename T>
void linear_forward(int64_t rows, int64_t in, int64_t out, const T* x, const T* weight,
                    const T* bias, T* y) {
  // y [N, out] starts as the bias in every row, then y += x [N, in] · weightᵀ [in, out].
  for (int64_t n = 0; n < rows; ++n) {
    T* row = y + n * out;
    if (bias)
      std::copy(bias, bias + out, row);
    else
      std::fill(row, row + out, T(0));
  }
  gemm<T>(false, true, rows, out, in, T(1), x, in, weight, in, T(1), y, out);
}

template <typename T>
void linear_backward(int64_t rows, int64_t in, int64_t out, const T* x, const T* weight,
                     const T* grad_y, T* grad_x, T* grad_weight, T* grad_bias) {
  // grad_x [N, in] = dy [N, out] · weight [out, in]
  if (grad_x) gemm<T>(false, false, rows, in, out, T(1), grad_y, out, weight, in, T(0), grad_x, in);
  // grad_weight [out, in] += dyᵀ [out, N] · x [N, in]
  if (rows > 0)
    gemm<T>(true, false, out, in, rows, T(1), grad_y, out, x, in, T(1), grad_weight, in);
  // grad_bias [out] += Σ_n dy [n, :]
  if (grad_bias)
    chosen_vector_kernels<T>().add_column_sums(grad_y, rows, out, out, grad_bias, nullptr);
}

template <typename T>
void linear_init(int64_t in, int64_t out, uint64_t seed, T* weight, T* bias) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(in));
  const uint64_t weight_seed = mix64(seed ^ 0x11), bias_seed = mix64(seed ^ 0x22);
  for (int64_t k = 0; k < out * in; ++k)
    weight[k] =
        static_cast<T>((2.0 * uniform01(weight_seed, static_cast<uint64_t>(k)) - 1.0) * bound);
  if (bias)
    for (int64_t k = 0; k < out; ++k)
      bias[k] =
          static_cast<T>((2.0 * uniform01(bias_seed, static_cast<uint64_t>(k)) - 1.0) * bound);
}

template <typename T>
void embedding_forward(int64_t rows, int64_t vocab, int64_t dim, const int64_t* ids,
                       const T* weight, T* y) {
  for (int64_t n = 0; n < rows; ++n) {
    const int64_t id = ids[n];
    T* row = y + n * dim;  // [dim]
    if (id == -1) {
      std::fill(row, row + dim, T(0));
      continue;
    }
    if (id < 0 || id >= vocab) {
      std::string message = "token id ";
      message += std::to_string(id);
      message += " at position ";
      message += std::to_string(n);
      message += " is outside the vocabulary [0, ";
      message += std::to_string(vocab);
      message += ")";
      throw Error(message);
    }
    std::copy(weight + id * dim, weight + (id + 1) * dim, row);
  }
}

template <typename T>
void embedding_backward(int64_t rows, int64_t dim, const int64_t* ids, const T* grad_y,
                        T* grad_weight) {
  for (int64_t n = 0; n < rows; ++n) {
    if (ids[n] < 0) continue;  // padding; forward has already checked the range
    T* row = grad_weight + ids[n] * dim;
    for (int64_t j = 0; j < dim; ++j) row[j] += grad_y[n * dim + j];
  }
}

template <typename T>
void embedding_init(int64_t vocab, int64_t dim, uint64_t seed, T* weight) {
  // Box-Muller: z = √(−2 ln u1) · cos(2π u2) with u1 in (0, 1], u2 in [0, 1); two draws a value.
  const uint64_t stream = mix64(seed ^ 0x33);
  for (int64_t k = 0; k < vocab * dim; ++k) {
    const uint64_t index = 2 * static_cast<uint64_t>(k);
    const double u1 = 1.0 - uniform01(stream, index), u2 = uniform01(stream, index + 1);
    weight[k] =
        static_cast<T>(std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2));
  }
}

#define LSTM_INSTANTIATE_HEADS(T)                                                               \
  template void linear_forward<T>(int64_t, int64_t, int64_t, const T*, const T*, const T*, T*); \
  template void linear_backward<T>(int64_t, int64_t, int64_t, const T*, const T*, const T*, T*, \
                                   T*, T*);                                                     \
  template void linear_init<T>(int64_t, int64_t, uint64_t, T*, T*);                             \
  template void embedding_forward<T>(int64_t, int64_t, int64_t, const int64_t*, const T*, T*);  \
  template void embedding_backward<T>(int64_t, int64_t, const int64_t*, const T*, T*);          \
  template void embedding_init<T>(int64_t, int64_t, uint64_t, T*);
LSTM_INSTANTIATE_HEADS(float)
LSTM_INSTANTIATE_HEADS(double)
#undef LSTM_INSTANTIATE_HEADS

}  // namespace lstm
