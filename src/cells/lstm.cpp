// LSTM postgemm, with optional peephole connections: gate order i, f, g, o (SPEC.md §2).
#include <algorithm>

#include "cells/cell.hpp"
#include "core/simd.hpp"

LSTM_BEGIN_TARGET
namespace lstm::LSTM_ISA_NS {
namespace {

//   i = σ(a_i [+ p_i⊙c_{t-1}])   f = σ(a_f [+ p_f⊙c_{t-1}])   g = tanh(a_g)
//   c_t = f⊙c_{t-1} + i⊙g         o = σ(a_o [+ p_o⊙c_t])       h_t = o⊙tanh(c_t)
template <typename T, bool kPeephole>
void lstm_forward(const CellForward<T>& s) {
  using S = Simd<T>;
  using V = typename S::V;
  const int64_t H = s.hidden;
  for (int64_t b = 0; b < s.batch; ++b) {
    if (s.active && !s.active[b]) continue;
    T* gate = s.gates + b * 4 * H;
    const T* rec = s.recurrent + b * 4 * H;
    for (int64_t j = s.unit_begin; j < s.unit_end; j += S::width) {
      const int64_t n = std::min(S::width, s.unit_end - j);
      auto pre_activation = [&](int64_t g) {
        const int64_t k = g * H + j;
        return S::load(gate + k, n) + S::load(rec + k, n) + S::load_or_zero(s.bias_hh ? s.bias_hh + k : nullptr, n);
      };
      V a_i = pre_activation(0), a_f = pre_activation(1), a_g = pre_activation(2), a_o = pre_activation(3);
      const V c_prev = S::load(s.c_prev + b * H + j, n);
      if constexpr (kPeephole) {
        a_i = a_i + S::load(s.peephole + j, n) * c_prev;
        a_f = a_f + S::load(s.peephole + H + j, n) * c_prev;
      }
      const V i = S::sigmoid(a_i), f = S::sigmoid(a_f), g = S::tanh(a_g);
      const V c = f * c_prev + i * g;
      if constexpr (kPeephole) a_o = a_o + S::load(s.peephole + 2 * H + j, n) * c;
      const V o = S::sigmoid(a_o);
      S::store(gate + j, i, n);
      S::store(gate + H + j, f, n);
      S::store(gate + 2 * H + j, g, n);
      S::store(gate + 3 * H + j, o, n);
      S::store(s.c + b * H + j, c, n);
      S::store(s.h + b * H + j, o * S::tanh(c), n);
    }
  }
}

// From dh_t and dc_t (from step t+1), with σ' = y(1 − y) and tanh' = 1 − y²:
//   da_o = dh⊙tanh(c_t)⊙σ'(o)     dc = dc_t + dh⊙o⊙tanh'(tanh c_t) [+ da_o⊙p_o]
//   da_i = dc⊙g⊙σ'(i)   da_f = dc⊙c_{t-1}⊙σ'(f)   da_g = dc⊙i⊙tanh'(g)
//   dc_{t-1} = dc⊙f [+ da_i⊙p_i + da_f⊙p_f]
template <typename T, bool kPeephole>
void lstm_backward(const CellBackward<T>& s) {
  using S = Simd<T>;
  using V = typename S::V;
  const int64_t H = s.hidden;
  const V one = S::set(T(1));
  for (int64_t b = 0; b < s.batch; ++b) {
    T* dgate = s.dgates + b * 4 * H;
    if (s.active && !s.active[b]) {
      for (int64_t g = 0; g < 4; ++g)
        std::fill(dgate + g * H + s.unit_begin, dgate + g * H + s.unit_end, T(0));
      continue;
    }
    const T* gate = s.gates + b * 4 * H;
    for (int64_t j = s.unit_begin; j < s.unit_end; j += S::width) {
      const int64_t n = std::min(S::width, s.unit_end - j);
      const V i = S::load(gate + j, n), f = S::load(gate + H + j, n);
      const V g = S::load(gate + 2 * H + j, n), o = S::load(gate + 3 * H + j, n);
      const V c = S::load(s.c + b * H + j, n), c_prev = S::load(s.c_prev + b * H + j, n);
      const V dh = S::load(s.dh + b * H + j, n);
      const V tanh_c = S::tanh(c);
      const V da_o = dh * tanh_c * o * (one - o);
      V dc = S::load(s.dc + b * H + j, n) + dh * o * (one - tanh_c * tanh_c);
      if constexpr (kPeephole) dc = dc + da_o * S::load(s.peephole + 2 * H + j, n);
      const V da_i = dc * g * i * (one - i);
      const V da_f = dc * c_prev * f * (one - f);
      const V da_g = dc * i * (one - g * g);
      V dc_prev = dc * f;
      if constexpr (kPeephole) {
        dc_prev = dc_prev + da_i * S::load(s.peephole + j, n) + da_f * S::load(s.peephole + H + j, n);
        T* dp = s.dpeephole;
        S::store(dp + j, S::load(dp + j, n) + da_i * c_prev, n);
        S::store(dp + H + j, S::load(dp + H + j, n) + da_f * c_prev, n);
        S::store(dp + 2 * H + j, S::load(dp + 2 * H + j, n) + da_o * c, n);
      }
      S::store(dgate + j, da_i, n);
      S::store(dgate + H + j, da_f, n);
      S::store(dgate + 2 * H + j, da_g, n);
      S::store(dgate + 3 * H + j, da_o, n);
      S::store(s.dc + b * H + j, dc_prev, n);
    }
  }
}

}  // namespace
}  // namespace lstm::LSTM_ISA_NS
LSTM_END_TARGET

namespace lstm::LSTM_ISA_NS {

template <typename T>
CellKernels<T> lstm_kernels(bool peephole) {
  if (peephole) return {lstm_forward<T, true>, lstm_backward<T, true>, false};
  return {lstm_forward<T, false>, lstm_backward<T, false>, false};
}

template CellKernels<float> lstm_kernels<float>(bool);
template CellKernels<double> lstm_kernels<double>(bool);

}  // namespace lstm::LSTM_ISA_NS
