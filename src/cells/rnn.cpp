// Vanilla RNN postgemm: h_t = act(x W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh), act = tanh or relu.
#include <cmath>

#include "cells/cell.hpp"
#include "core/activations.hpp"

namespace lstm {

namespace {

template <typename T, bool kRelu>
void rnn_forward(const CellForward<T>& s) {
  const int64_t H = s.hidden;
  const T zero = 0;
  for (int64_t b = 0; b < s.batch; ++b) {
    if (s.active && !s.active[b]) continue;
    T* gate = s.gates + b * H;
    const T* rec = s.recurrent + b * H;
    T* h = s.h + b * H;
    for (int64_t j = 0; j < H; ++j) {
      const T a = gate[j] + rec[j] + (s.bias_hh ? s.bias_hh[j] : zero);
      const T y = kRelu ? (a > zero ? a : zero) : std::tanh(a);
      gate[j] = y;
      h[j] = y;
    }
  }
}

// da = dh⊙act'(a), with tanh' = 1 − y² and relu' = [y > 0].
template <typename T, bool kRelu>
void rnn_backward(const CellBackward<T>& s) {
  const int64_t H = s.hidden;
  for (int64_t b = 0; b < s.batch; ++b) {
    T* dgate = s.dgates + b * H;
    const bool active = !s.active || s.active[b];
    const T* gate = s.gates + b * H;
    const T* dh = s.dh + b * H;
    for (int64_t j = 0; j < H; ++j) {
      if (!active) {
        dgate[j] = 0;
      } else if constexpr (kRelu) {
        dgate[j] = gate[j] > T(0) ? dh[j] : T(0);
      } else {
        dgate[j] = dh[j] * tanh_grad_from_output(gate[j]);
      }
    }
  }
}

}  // namespace

template <typename T>
CellKernels<T> rnn_kernels(bool relu) {
  if (relu) return {rnn_forward<T, true>, rnn_backward<T, true>, false};
  return {rnn_forward<T, false>, rnn_backward<T, false>, false};
}

template CellKernels<float> rnn_kernels<float>(bool);
template CellKernels<double> rnn_kernels<double>(bool);

}  // namespace lstm
