// Layer-normalised LSTM postgemm (Ba et al. 2016, as haste's LayerNormLSTM): gate order i, f, g, o,
// or f, g, o with coupled input and forget gates (i = 1 − f).
#include <algorithm>
#include <cmath>
#include <utility>

#include "cells/cell.hpp"
#include "core/simd.hpp"

LSTM_BEGIN_TARGET
namespace lstm::LSTM_ISA_NS {
namespace {

// LN(v) = γ ⊙ n + β with n = (v − mean(v)) / sqrt(var(v) + ε), mean and (biased) variance over
// the row, as torch.nn.functional.layer_norm.
constexpr double kEpsilon = 1e-5;

// Σ over the lanes of a and of b (a partial last group is loaded with zeros in its spare lanes).
template <typename T, typename S = Simd<T>>
std::pair<T, T> sum_lanes(typename S::V a, typename S::V b) {
  const typename S::V v[4] = {a, b, S::zero(), S::zero()};
  T sums[4];
  S::sum4(v, sums);
  return {sums[0], sums[1]};
}

// n = (v − mean) · rstd over `count` values; returns rstd = 1 / sqrt(var + ε). Three passes over
// the row in lanes: the mean, then v − mean into n with the sum of its squares (read back from n,
// whose spare lanes a partial load zeroes), then the scaling.
template <typename T>
T normalise(const T* v, int64_t count, T* n) {
  using S = Simd<T>;
  using V = typename S::V;
  V sum = S::zero();
  for (int64_t k = 0; k < count; k += S::width) sum = sum + S::load(v + k, std::min(S::width, count - k));
  const T mean = sum_lanes<T>(sum, S::zero()).first / static_cast<T>(count);
  const V mean_lanes = S::set(mean);
  V squares = S::zero();
  for (int64_t k = 0; k < count; k += S::width) {
    const int64_t lanes = std::min(S::width, count - k);
    S::store(n + k, S::load(v + k, lanes) - mean_lanes, lanes);
    const V centred = S::load(n + k, lanes);
    squares = squares + centred * centred;
  }
  const T rstd = T(1) / std::sqrt(sum_lanes<T>(squares, S::zero()).first / static_cast<T>(count) +
                                  static_cast<T>(kEpsilon));
  const V rstd_lanes = S::set(rstd);
  for (int64_t k = 0; k < count; k += S::width) {
    const int64_t lanes = std::min(S::width, count - k);
    S::store(n + k, S::load(n + k, lanes) * rstd_lanes, lanes);
  }
  return rstd;
}

// Backward of n = normalise(v) for dn = dL/dn: writes dv = rstd (dn − mean(dn) − n mean(dn⊙n)).
// dn and dv may be the same buffer.
template <typename T>
void normalise_backward(const T* dn, const T* n, T rstd, int64_t count, T* dv) {
  using S = Simd<T>;
  using V = typename S::V;
  V sum = S::zero(), dot = S::zero();
  for (int64_t k = 0; k < count; k += S::width) {
    const int64_t lanes = std::min(S::width, count - k);
    const V d = S::load(dn + k, lanes);
    sum = sum + d;
    dot = dot + d * S::load(n + k, lanes);
  }
  const auto [total, total_dot] = sum_lanes<T>(sum, dot);
  const V mean_dn = S::set(total / static_cast<T>(count)), mean_dot = S::set(total_dot / static_cast<T>(count));
  const V rstd_lanes = S::set(rstd);
  for (int64_t k = 0; k < count; k += S::width) {
    const int64_t lanes = std::min(S::width, count - k);
    S::store(dv + k, rstd_lanes * (S::load(dn + k, lanes) - mean_dn - S::load(n + k, lanes) * mean_dot), lanes);
  }
}

//   a   = γ_ih⊙n(x W_ihᵀ) + b_ih + γ_hh⊙n(h_{t-1} W_hhᵀ) + b_hh       [G*H], each n over all G*H
//   i = σ(a_i)   f = σ(a_f)   g = tanh(a_g)   o = σ(a_o)   c_t = f⊙c_{t-1} + i⊙g
//   h_t = o⊙tanh(γ_c⊙n(c_t) + β_c)                                    n over the H units
// G = 4 gates i, f, g, o; with coupled gates (kCoupled, CIFG) G = 3 gates f, g, o and i = 1 − f.
template <typename T, bool kCoupled>
void layer_norm_lstm_forward(const CellForward<T>& s) {
  using S = Simd<T>;
  using V = typename S::V;
  constexpr int64_t kGates = kCoupled ? 3 : 4;
  constexpr int64_t F = kCoupled ? 0 : 1;  // the forget gate's block; g and o follow it
  const int64_t H = s.hidden, G = kGates * H;
  const V one = S::set(T(1));
  const T* gain_ih = s.layer_norm;
  const T* gain_hh = s.layer_norm + G;
  const T* gain_c = s.layer_norm + 2 * G;
  const T* bias_c = gain_c + H;
  for (int64_t b = 0; b < s.batch; ++b) {
    if (s.active && !s.active[b]) continue;
    T* gate = s.gates + b * G;
    T* saved = s.norm_saved + b * layer_norm_saved_width(H, kGates);
    T* n_x = saved;               // [G*H]
    T* n_h = saved + G;           // [G*H]
    T* n_c = saved + 2 * G;       // [H]
    T* rstd = saved + 2 * G + H;  // [3]
    rstd[0] = normalise(gate, G, n_x);
    rstd[1] = normalise(s.recurrent + b * G, G, n_h);
    for (int64_t j = 0; j < H; j += S::width) {
      const int64_t n = std::min(S::width, H - j);
      auto pre_activation = [&](int64_t g) {
        const int64_t k = g * H + j;
        return S::load(gain_ih + k, n) * S::load(n_x + k, n) +
               S::load_or_zero(s.bias_ih ? s.bias_ih + k : nullptr, n) +
               S::load(gain_hh + k, n) * S::load(n_h + k, n) +
               S::load_or_zero(s.bias_hh ? s.bias_hh + k : nullptr, n);
      };
      const V f = S::sigmoid(pre_activation(F));
      const V g = S::tanh(pre_activation(F + 1)), o = S::sigmoid(pre_activation(F + 2));
      const V i = kCoupled ? one - f : S::sigmoid(pre_activation(0));
      if constexpr (!kCoupled) S::store(gate + j, i, n);
      S::store(gate + F * H + j, f, n);
      S::store(gate + (F + 1) * H + j, g, n);
      S::store(gate + (F + 2) * H + j, o, n);
      S::store(s.c + b * H + j, f * S::load(s.c_prev + b * H + j, n) + i * g, n);
    }
    rstd[2] = normalise(s.c + b * H, H, n_c);
    for (int64_t j = 0; j < H; j += S::width) {
      const int64_t n = std::min(S::width, H - j);
      const V c_hat = S::load(gain_c + j, n) * S::load(n_c + j, n) + S::load(bias_c + j, n);
      S::store(s.h + b * H + j, S::load(gate + (F + 2) * H + j, n) * S::tanh(c_hat), n);
    }
  }
}

// From dh_t and dc_t (from step t+1), with ĉ = γ_c⊙n_c + β_c:
//   da_o = dh⊙tanh(ĉ)⊙σ'(o)   dĉ = dh⊙o⊙tanh'(tanh ĉ)   dγ_c += dĉ⊙n_c   dβ_c += dĉ
//   dc = dc_t + LN_backward(dĉ⊙γ_c)
//   da_i = dc⊙g⊙σ'(i)   da_f = dc⊙c_{t-1}⊙σ'(f)   da_g = dc⊙i⊙tanh'(g)   dc_{t-1} = dc⊙f
//   (coupled gates, i = 1 − f: da_f = dc⊙(c_{t-1} − g)⊙σ'(f), da_g = dc⊙(1 − f)⊙tanh'(g))
//   db_ih, db_hh += da   dγ_ih += da⊙n_x   dγ_hh += da⊙n_h                 da: [G*H]
//   dgates = LN_backward(da⊙γ_ih)   dgates_hh = LN_backward(da⊙γ_hh)
template <typename T, bool kCoupled>
void layer_norm_lstm_backward(const CellBackward<T>& s) {
  using S = Simd<T>;
  using V = typename S::V;
  constexpr int64_t kGates = kCoupled ? 3 : 4;
  constexpr int64_t F = kCoupled ? 0 : 1;
  const int64_t H = s.hidden, G = kGates * H;
  const V one = S::set(T(1));
  const T* gain_ih = s.layer_norm;
  const T* gain_hh = s.layer_norm + G;
  const T* gain_c = s.layer_norm + 2 * G;
  const T* bias_c = gain_c + H;
  T* dgain_ih = s.dlayer_norm;
  T* dgain_hh = s.dlayer_norm + G;
  T* dgain_c = s.dlayer_norm + 2 * G;
  T* dbias_c = dgain_c + H;
  for (int64_t b = 0; b < s.batch; ++b) {
    T* dgate = s.dgates + b * G;
    T* dgate_hh = s.dgates_hh + b * G;
    if (s.active && !s.active[b]) {
      std::fill(dgate, dgate + G, T(0));
      std::fill(dgate_hh, dgate_hh + G, T(0));
      continue;
    }
    const T* gate = s.gates + b * G;
    const T* saved = s.norm_saved + b * layer_norm_saved_width(H, kGates);
    const T* n_x = saved;
    const T* n_h = saved + G;
    const T* n_c = saved + 2 * G;
    const T* rstd = saved + 2 * G + H;
    T* dc_row = s.dc + b * H;
    // dL/dn_c into dgate's o block for now (it is overwritten below), then dc from h through LN.
    T* dn_c = dgate + (F + 2) * H;
    for (int64_t j = 0; j < H; j += S::width) {
      const int64_t n = std::min(S::width, H - j);
      const V o = S::load(gate + (F + 2) * H + j, n), dh = S::load(s.dh + b * H + j, n);
      const V nc = S::load(n_c + j, n);
      const V tanh_c = S::tanh(S::load(gain_c + j, n) * nc + S::load(bias_c + j, n));
      const V dc_hat = dh * o * (one - tanh_c * tanh_c);
      S::store(dgain_c + j, S::load(dgain_c + j, n) + dc_hat * nc, n);
      S::store(dbias_c + j, S::load(dbias_c + j, n) + dc_hat, n);
      S::store(dn_c + j, dc_hat * S::load(gain_c + j, n), n);
    }
    T* dc_from_h = dgate + (F + 1) * H;  // [H] scratch in the g block, overwritten below
    normalise_backward(dn_c, n_c, rstd[2], H, dc_from_h);
    for (int64_t j = 0; j < H; j += S::width) {
      const int64_t n = std::min(S::width, H - j);
      const V f = S::load(gate + F * H + j, n);
      const V i = kCoupled ? one - f : S::load(gate + j, n);
      const V g = S::load(gate + (F + 1) * H + j, n), o = S::load(gate + (F + 2) * H + j, n);
      const V c_prev = S::load(s.c_prev + b * H + j, n), dh = S::load(s.dh + b * H + j, n);
      const V tanh_c =
          S::tanh(S::load(gain_c + j, n) * S::load(n_c + j, n) + S::load(bias_c + j, n));
      const V dc = S::load(dc_row + j, n) + S::load(dc_from_h + j, n);
      if constexpr (!kCoupled) S::store(dgate + j, dc * g * i * (one - i), n);
      S::store(dgate + F * H + j, dc * (kCoupled ? c_prev - g : c_prev) * f * (one - f), n);
      S::store(dgate + (F + 1) * H + j, dc * i * (one - g * g), n);
      S::store(dgate + (F + 2) * H + j, dh * tanh_c * o * (one - o), n);
      S::store(dc_row + j, dc * f, n);
    }
    // dgate holds da [G*H]: the parameters' gradients, then through both normalisations.
    for (int64_t k = 0; k < G; k += S::width) {
      const int64_t n = std::min(S::width, G - k);
      const V da = S::load(dgate + k, n);
      if (s.dbias_ih) S::store(s.dbias_ih + k, S::load(s.dbias_ih + k, n) + da, n);
      if (s.dbias_hh) S::store(s.dbias_hh + k, S::load(s.dbias_hh + k, n) + da, n);
      S::store(dgain_ih + k, S::load(dgain_ih + k, n) + da * S::load(n_x + k, n), n);
      S::store(dgain_hh + k, S::load(dgain_hh + k, n) + da * S::load(n_h + k, n), n);
      S::store(dgate_hh + k, da * S::load(gain_hh + k, n), n);
      S::store(dgate + k, da * S::load(gain_ih + k, n), n);
    }
    normalise_backward(dgate_hh, n_h, rstd[1], G, dgate_hh);
    normalise_backward(dgate, n_x, rstd[0], G, dgate);
  }
}

}  // namespace
}  // namespace lstm::LSTM_ISA_NS
LSTM_END_TARGET

namespace lstm::LSTM_ISA_NS {

template <typename T>
CellKernels<T> layer_norm_lstm_kernels(bool coupled) {
  if (coupled) return {layer_norm_lstm_forward<T, true>, layer_norm_lstm_backward<T, true>, false, nullptr, nullptr};
  return {layer_norm_lstm_forward<T, false>, layer_norm_lstm_backward<T, false>, false, nullptr, nullptr};
}

template CellKernels<float> layer_norm_lstm_kernels<float>(bool);
template CellKernels<double> layer_norm_lstm_kernels<double>(bool);

}  // namespace lstm::LSTM_ISA_NS
