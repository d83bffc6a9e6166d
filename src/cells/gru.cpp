// GRU postgemm in PyTorch's form (ONNX linear_before_reset=1), and with the reset gate before the
// recurrent product (linear_before_reset=0): gate order r, z, n (SPEC.md §2).
#include <algorithm>

#include "cells/cell.hpp"
#include "core/simd.hpp"

LSTM_BEGIN_TARGET
namespace lstm::LSTM_ISA_NS {
namespace {

//   r = σ(a_r + u_r)   z = σ(a_z + u_z)   n = tanh(a_n + r⊙u_n)   h_t = (1 − z)⊙n + z⊙h_{t-1}
// where a = x W_ihᵀ + b_ih and u = h_{t-1} W_hhᵀ + b_hh.
template <typename T>
void gru_forward(const CellForward<T>& s) {
  using S = Simd<T>;
  using V = typename S::V;
  const int64_t H = s.hidden;
  const V one = S::set(T(1));
  for (int64_t b = 0; b < s.batch; ++b) {
    if (s.active && !s.active[b]) continue;
    T* gate = s.gates + b * 3 * H;
    const T* rec = s.recurrent + b * 3 * H;
    for (int64_t j = s.unit_begin; j < s.unit_end; j += S::width) {
      const int64_t n = std::min(S::width, s.unit_end - j);
      auto u = [&](int64_t g) {
        const int64_t k = g * H + j;
        return S::load(rec + k, n) + S::load_or_zero(s.bias_hh ? s.bias_hh + k : nullptr, n);
      };
      const V r = S::sigmoid(S::load(gate + j, n) + u(0));
      const V z = S::sigmoid(S::load(gate + H + j, n) + u(1));
      const V u_n = u(2);
      const V candidate = S::tanh(S::load(gate + 2 * H + j, n) + r * u_n);
      if (s.keep_gates) {
        S::store(gate + j, r, n);
        S::store(gate + H + j, z, n);
        S::store(gate + 2 * H + j, candidate, n);
        S::store(s.saved + b * H + j, u_n, n);
      }
      S::store(s.h + b * H + j, (one - z) * candidate + z * S::load(s.h_prev + b * H + j, n), n);
    }
  }
}

//   da_n = dh⊙(1 − z)⊙tanh'(n)   du_n = da_n⊙r   da_r = du_r = da_n⊙u_n⊙σ'(r)
//   da_z = du_z = dh⊙(h_{t-1} − n)⊙σ'(z)        dh_{t-1} ⊇ dh⊙z (the path around W_hh)
// With the reset gate before the product (kResetBefore) this is phase 1 of two (see
// gru_reset_before_backward below): du_n = da_n, and r is left to phase 2.
template <typename T, bool kResetBefore>
void gru_backward(const CellBackward<T>& s) {
  using S = Simd<T>;
  using V = typename S::V;
  const int64_t H = s.hidden;
  const V one = S::set(T(1));
  for (int64_t b = 0; b < s.batch; ++b) {
    if (s.active && !s.active[b]) {
      zero_inactive_row(s, b, 3, true);
      continue;
    }
    T* dgate = s.dgates + b * 3 * H;
    T* dgate_hh = s.dgates_hh + b * 3 * H;
    const T* gate = s.gates + b * 3 * H;
    for (int64_t j = s.unit_begin; j < s.unit_end; j += S::width) {
      const int64_t n = std::min(S::width, s.unit_end - j);
      const V z = S::load(gate + H + j, n), candidate = S::load(gate + 2 * H + j, n);
      const V dh = S::load(s.dh + b * H + j, n);
      const V da_n = dh * (one - z) * (one - candidate * candidate);
      const V da_z = dh * (S::load(s.h_prev + b * H + j, n) - candidate) * z * (one - z);
      V du_n = da_n;
      if constexpr (!kResetBefore) {
        const V r = S::load(gate + j, n);
        const V da_r = da_n * S::load(s.saved + b * H + j, n) * r * (one - r);
        S::store(dgate + j, da_r, n);
        S::store(dgate_hh + j, da_r, n);
        du_n = da_n * r;
      }
      S::store(dgate + H + j, da_z, n);
      S::store(dgate_hh + H + j, da_z, n);
      S::store(dgate + 2 * H + j, da_n, n);
      S::store(dgate_hh + 2 * H + j, du_n, n);
      S::store(s.dh_prev + b * H + j, dh * z, n);
    }
  }
}

// Reset gate before the product (linear_before_reset=0), in two phases around the driver's
// u_n = (r⊙h_{t-1}) W_hnᵀ:
//   phase 1: r = σ(a_r + u_r)   z = σ(a_z + u_z)   m = r⊙h_{t-1} (kept in `saved`)
//   phase 2: n = tanh(a_n + u_n + b_hn)            h_t = (1 − z)⊙n + z⊙h_{t-1}
template <typename T>
void gru_reset_gates(const CellForward<T>& s) {
  using S = Simd<T>;
  using V = typename S::V;
  const int64_t H = s.hidden;
  for (int64_t b = 0; b < s.batch; ++b) {
    T* m = s.saved + b * H;
    if (s.active && !s.active[b]) {  // read by the products (as 0, so that 0 times it stays 0)
      std::fill(m + s.unit_begin, m + s.unit_end, T(0));
      continue;
    }
    T* gate = s.gates + b * 3 * H;
    const T* rec = s.recurrent + b * 3 * H;
    for (int64_t j = s.unit_begin; j < s.unit_end; j += S::width) {
      const int64_t n = std::min(S::width, s.unit_end - j);
      auto pre_activation = [&](int64_t g) {
        const int64_t k = g * H + j;
        return S::load(gate + k, n) + S::load(rec + k, n) +
               S::load_or_zero(s.bias_hh ? s.bias_hh + k : nullptr, n);
      };
      const V r = S::sigmoid(pre_activation(0));
      S::store(gate + j, r, n);
      S::store(gate + H + j, S::sigmoid(pre_activation(1)), n);
      S::store(m + j, r * S::load(s.h_prev + b * H + j, n), n);
    }
  }
}

template <typename T>
void gru_reset_before_forward(const CellForward<T>& s) {
  using S = Simd<T>;
  using V = typename S::V;
  const int64_t H = s.hidden;
  const V one = S::set(T(1));
  for (int64_t b = 0; b < s.batch; ++b) {
    if (s.active && !s.active[b]) continue;
    T* gate = s.gates + b * 3 * H;
    const T* rec = s.recurrent + b * 3 * H;
    for (int64_t j = s.unit_begin; j < s.unit_end; j += S::width) {
      const int64_t n = std::min(S::width, s.unit_end - j);
      const int64_t k = 2 * H + j;
      const V candidate = S::tanh(S::load(gate + k, n) + S::load(rec + k, n) +
                                  S::load_or_zero(s.bias_hh ? s.bias_hh + k : nullptr, n));
      const V z = S::load(gate + H + j, n);
      S::store(gate + k, candidate, n);
      S::store(s.h + b * H + j, (one - z) * candidate + z * S::load(s.h_prev + b * H + j, n), n);
    }
  }
}

// Backward in two phases around the driver's d_reset_h = dL/dm = da_n W_hn:
//   phase 1 (gru_backward<T, true>): da_n = du_n = dh⊙(1 − z)⊙tanh'(n)
//            da_z = du_z = dh⊙(h_{t-1} − n)⊙σ'(z)   dh_{t-1} = dh⊙z
//   phase 2: da_r = du_r = dm⊙h_{t-1}⊙σ'(r)       dh_{t-1} += dm⊙r
// (dgates and dgates_hh may be the same buffer: both get the same values.)
template <typename T>
void gru_reset_backward(const CellBackward<T>& s) {
  using S = Simd<T>;
  using V = typename S::V;
  const int64_t H = s.hidden;
  const V one = S::set(T(1));
  for (int64_t b = 0; b < s.batch; ++b) {
    if (s.active && !s.active[b]) continue;  // zeroed in phase 1
    const T* gate = s.gates + b * 3 * H;
    T* dgate = s.dgates + b * 3 * H;
    T* dgate_hh = s.dgates_hh + b * 3 * H;
    for (int64_t j = s.unit_begin; j < s.unit_end; j += S::width) {
      const int64_t n = std::min(S::width, s.unit_end - j);
      const V r = S::load(gate + j, n);
      const V dm = S::load(s.d_reset_h + b * H + j, n);
      const V da_r = dm * S::load(s.h_prev + b * H + j, n) * r * (one - r);
      S::store(dgate + j, da_r, n);
      S::store(dgate_hh + j, da_r, n);
      T* dh_prev = s.dh_prev + b * H + j;
      S::store(dh_prev, S::load(dh_prev, n) + dm * r, n);
    }
  }
}

}  // namespace
}  // namespace lstm::LSTM_ISA_NS
LSTM_END_TARGET

namespace lstm::LSTM_ISA_NS {

template <typename T>
CellKernels<T> gru_kernels(bool reset_before) {
  if (reset_before)
    return {gru_reset_before_forward<T>, gru_backward<T, true>, true, gru_reset_gates<T>,
            gru_reset_backward<T>};
  return {gru_forward<T>, gru_backward<T, false>, true, nullptr, nullptr};
}

template CellKernels<float> gru_kernels<float>(bool);
template CellKernels<double> gru_kernels<double>(bool);

}  // namespace lstm::LSTM_ISA_NS
