// LSTM postgemm, with optional peephole connections and coupled gates: gate order i, f, g, o
// (SPEC.md §2), or f, g, o with coupled input and forget gates (CIFG, i = 1 − f).
#include <algorithm>

#include "cells/cell.hpp"
#include "core/simd.hpp"

LSTM_BEGIN_TARGET
namespace lstm::LSTM_ISA_NS {
namespace {

//   i = σ(a_i [+ p_i⊙c_{t-1}])   f = σ(a_f [+ p_f⊙c_{t-1}])   g = tanh(a_g)
//   c_t = f⊙c_{t-1} + i⊙g         o = σ(a_o [+ p_o⊙c_t])       h_t = o⊙tanh(c_t)
// Coupled gates (CIFG): the gates are f, g, o (peepholes p_f, p_o) and i = 1 − f.
template <typename T, bool kPeephole, bool kCoupled>
void lstm_forward(const CellForward<T>& s) {
  using S = Simd<T>;
  using V = typename S::V;
  constexpr int64_t G = kCoupled ? 3 : 4;
  constexpr int64_t F = kCoupled ? 0 : 1;  // the forget gate's block (of gates and peepholes)
  const int64_t H = s.hidden;
  const V one = S::set(T(1));
  for (int64_t b = 0; b < s.batch; ++b) {
    if (s.active && !s.active[b]) continue;
    T* gate = s.gates + b * G * H;
    const T* rec = s.recurrent ? s.recurrent + b * G * H : nullptr;
    for (int64_t j = s.unit_begin; j < s.unit_end; j += S::width) {
      const int64_t n = std::min(S::width, s.unit_end - j);
      auto pre_activation = [&](int64_t g) {
        const int64_t k = g * H + j;
        const V sum = rec ? S::load(gate + k, n) + S::load(rec + k, n) : S::load(gate + k, n);
        return sum + S::load_or_zero(s.bias_hh ? s.bias_hh + k : nullptr, n);
      };
      V a_f = pre_activation(F), a_g = pre_activation(F + 1), a_o = pre_activation(F + 2);
      V a_i = kCoupled ? a_f : pre_activation(0);
      const V c_prev = S::load(s.c_prev + b * H + j, n);
      if constexpr (kPeephole) {
        if constexpr (!kCoupled) a_i = a_i + S::load(s.peephole + j, n) * c_prev;
        a_f = a_f + S::load(s.peephole + F * H + j, n) * c_prev;
      }
      const V f = S::sigmoid(a_f), g = S::tanh(a_g);
      const V i = kCoupled ? one - f : S::sigmoid(a_i);
      const V c = f * c_prev + i * g;
      if constexpr (kPeephole) a_o = a_o + S::load(s.peephole + (F + 1) * H + j, n) * c;
      const V o = S::sigmoid(a_o);
      if (s.keep_gates) {
        if constexpr (!kCoupled) S::store(gate + j, i, n);
        S::store(gate + F * H + j, f, n);
        S::store(gate + (F + 1) * H + j, g, n);
        S::store(gate + (F + 2) * H + j, o, n);
      }
      S::store(s.c + b * H + j, c, n);
      S::store(s.h + b * H + j, o * S::tanh(c), n);
    }
  }
}

// From dh_t and dc_t (from step t+1), with σ' = y(1 − y) and tanh' = 1 − y²:
//   da_o = dh⊙tanh(c_t)⊙σ'(o)     dc = dc_t + dh⊙o⊙tanh'(tanh c_t) [+ da_o⊙p_o]
//   da_i = dc⊙g⊙σ'(i)   da_f = dc⊙c_{t-1}⊙σ'(f)   da_g = dc⊙i⊙tanh'(g)
//   dc_{t-1} = dc⊙f [+ da_i⊙p_i + da_f⊙p_f]
// Coupled gates (i = 1 − f): da_f = dc⊙(c_{t-1} − g)⊙σ'(f), da_g = dc⊙(1 − f)⊙tanh'(g).
template <typename T, bool kPeephole, bool kCoupled>
void lstm_backward(const CellBackward<T>& s) {
  using S = Simd<T>;
  using V = typename S::V;
  constexpr int64_t G = kCoupled ? 3 : 4;
  constexpr int64_t F = kCoupled ? 0 : 1;
  const int64_t H = s.hidden;
  const V one = S::set(T(1));
  for (int64_t b = 0; b < s.batch; ++b) {
    T* dgate = s.dgates + b * G * H;
    if (s.active && !s.active[b]) {
      zero_inactive_row(s, b, G, false);
      continue;
    }
    const T* gate = s.gates + b * G * H;
    for (int64_t j = s.unit_begin; j < s.unit_end; j += S::width) {
      const int64_t n = std::min(S::width, s.unit_end - j);
      const V f = S::load(gate + F * H + j, n);
      const V i = kCoupled ? one - f : S::load(gate + j, n);
      const V g = S::load(gate + (F + 1) * H + j, n), o = S::load(gate + (F + 2) * H + j, n);
      const V c = S::load(s.c + b * H + j, n), c_prev = S::load(s.c_prev + b * H + j, n);
      const V dh = S::load(s.dh + b * H + j, n);
      const V tanh_c = S::tanh(c);
      const V da_o = dh * tanh_c * o * (one - o);
      V dc = S::load(s.dc + b * H + j, n) + dh * o * (one - tanh_c * tanh_c);
      if constexpr (kPeephole) dc = dc + da_o * S::load(s.peephole + (F + 1) * H + j, n);
      const V da_i = dc * g * i * (one - i);
      const V da_f = dc * (kCoupled ? c_prev - g : c_prev) * f * (one - f);
      const V da_g = dc * i * (one - g * g);
      V dc_prev = dc * f;
      if constexpr (kPeephole) {
        T* dp = s.dpeephole;
        if constexpr (!kCoupled) {
          dc_prev = dc_prev + da_i * S::load(s.peephole + j, n);
          S::store(dp + j, S::load(dp + j, n) + da_i * c_prev, n);
        }
        dc_prev = dc_prev + da_f * S::load(s.peephole + F * H + j, n);
        S::store(dp + F * H + j, S::load(dp + F * H + j, n) + da_f * c_prev, n);
        S::store(dp + (F + 1) * H + j, S::load(dp + (F + 1) * H + j, n) + da_o * c, n);
      }
      if constexpr (!kCoupled) S::store(dgate + j, da_i, n);
      S::store(dgate + F * H + j, da_f, n);
      S::store(dgate + (F + 1) * H + j, da_g, n);
      S::store(dgate + (F + 2) * H + j, da_o, n);
      S::store(s.dc + b * H + j, dc_prev, n);
    }
  }
}

}  // namespace
}  // namespace lstm::LSTM_ISA_NS
LSTM_END_TARGET

namespace lstm::LSTM_ISA_NS {

template <typename T>
CellKernels<T> lstm_kernels(bool peephole, bool coupled) {
  if (coupled && peephole) return {lstm_forward<T, true, true>, lstm_backward<T, true, true>, false, nullptr, nullptr};
  if (coupled) return {lstm_forward<T, false, true>, lstm_backward<T, false, true>, false, nullptr, nullptr};
  if (peephole) return {lstm_forward<T, true, false>, lstm_backward<T, true, false>, false, nullptr, nullptr};
  return {lstm_forward<T, false, false>, lstm_backward<T, false, false>, false, nullptr, nullptr};
}

template CellKernels<float> lstm_kernels<float>(bool, bool);
template CellKernels<double> lstm_kernels<double>(bool, bool);

}  // namespace lstm::LSTM_ISA_NS
