// LSTM postgemm, with optional peephole connections: gate order i, f, g, o (SPEC.md §2).
#include <cmath>

#include "cells/cell.hpp"
#include "core/activations.hpp"

namespace lstm {

namespace {

//   i = σ(a_i [+ p_i⊙c_{t-1}])   f = σ(a_f [+ p_f⊙c_{t-1}])   g = tanh(a_g)
//   c_t = f⊙c_{t-1} + i⊙g         o = σ(a_o [+ p_o⊙c_t])       h_t = o⊙tanh(c_t)
template <typename T, bool kPeephole>
void lstm_forward(const CellForward<T>& s) {
  const int64_t H = s.hidden;
  const T zero = 0;
  for (int64_t b = 0; b < s.batch; ++b) {
    if (s.active && !s.active[b]) continue;
    T* gate = s.gates + b * 4 * H;
    const T* rec = s.recurrent + b * 4 * H;
    const T* c_prev = s.c_prev + b * H;
    T* c = s.c + b * H;
    T* h = s.h + b * H;
    for (int64_t j = 0; j < H; ++j) {
      const T* bias = s.bias_hh;
      T a_i = gate[j] + rec[j] + (bias ? bias[j] : zero);
      T a_f = gate[H + j] + rec[H + j] + (bias ? bias[H + j] : zero);
      T a_g = gate[2 * H + j] + rec[2 * H + j] + (bias ? bias[2 * H + j] : zero);
      T a_o = gate[3 * H + j] + rec[3 * H + j] + (bias ? bias[3 * H + j] : zero);
      if constexpr (kPeephole) {
        a_i += s.peephole[j] * c_prev[j];
        a_f += s.peephole[H + j] * c_prev[j];
      }
      const T i = sigmoid(a_i), f = sigmoid(a_f), g = std::tanh(a_g);
      const T c_new = f * c_prev[j] + i * g;
      if constexpr (kPeephole) a_o += s.peephole[2 * H + j] * c_new;
      const T o = sigmoid(a_o);
      gate[j] = i;
      gate[H + j] = f;
      gate[2 * H + j] = g;
      gate[3 * H + j] = o;
      c[j] = c_new;
      h[j] = o * std::tanh(c_new);
    }
  }
}

// From dh_t and dc_t (from step t+1):
//   dc  = dc_t + dh⊙o⊙(1 − tanh²c_t) [+ da_o⊙p_o]      da_o = dh⊙tanh(c_t)⊙σ'
//   da_i = dc⊙g⊙σ'   da_f = dc⊙c_{t-1}⊙σ'   da_g = dc⊙i⊙tanh'
//   dc_{t-1} = dc⊙f [+ da_i⊙p_i + da_f⊙p_f]
template <typename T, bool kPeephole>
void lstm_backward(const CellBackward<T>& s) {
  const int64_t H = s.hidden;
  for (int64_t b = 0; b < s.batch; ++b) {
    T* dgate = s.dgates + b * 4 * H;
    if (s.active && !s.active[b]) {
      for (int64_t j = 0; j < 4 * H; ++j) dgate[j] = 0;
      continue;
    }
    const T* gate = s.gates + b * 4 * H;
    const T* c_prev = s.c_prev + b * H;
    const T* c = s.c + b * H;
    const T* dh = s.dh + b * H;
    T* dc = s.dc + b * H;
    for (int64_t j = 0; j < H; ++j) {
      const T i = gate[j], f = gate[H + j], g = gate[2 * H + j], o = gate[3 * H + j];
      const T tanh_c = std::tanh(c[j]);
      const T da_o = dh[j] * tanh_c * sigmoid_grad_from_output(o);
      T dc_t = dc[j] + dh[j] * o * tanh_grad_from_output(tanh_c);
      if constexpr (kPeephole) dc_t += da_o * s.peephole[2 * H + j];
      const T da_i = dc_t * g * sigmoid_grad_from_output(i);
      const T da_f = dc_t * c_prev[j] * sigmoid_grad_from_output(f);
      const T da_g = dc_t * i * tanh_grad_from_output(g);
      T dc_prev = dc_t * f;
      if constexpr (kPeephole) {
        dc_prev += da_i * s.peephole[j] + da_f * s.peephole[H + j];
        s.dpeephole[j] += da_i * c_prev[j];
        s.dpeephole[H + j] += da_f * c_prev[j];
        s.dpeephole[2 * H + j] += da_o * c[j];
      }
      dgate[j] = da_i;
      dgate[H + j] = da_f;
      dgate[2 * H + j] = da_g;
      dgate[3 * H + j] = da_o;
      dc[j] = dc_prev;
    }
  }
}

}  // namespace

template <typename T>
CellKernels<T> lstm_kernels(bool peephole) {
  if (peephole) return {lstm_forward<T, true>, lstm_backward<T, true>, false};
  return {lstm_forward<T, false>, lstm_backward<T, false>, false};
}

template CellKernels<float> lstm_kernels<float>(bool);
template CellKernels<double> lstm_kernels<double>(bool);

}  // namespace lstm
