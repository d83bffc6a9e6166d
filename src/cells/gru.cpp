// GRU postgemm in PyTorch's form (ONNX linear_before_reset=1): gate order r, z, n (SPEC.md §2).
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
      S::store(gate + j, r, n);
      S::store(gate + H + j, z, n);
      S::store(gate + 2 * H + j, candidate, n);
      S::store(s.saved + b * H + j, u_n, n);
      S::store(s.h + b * H + j, (one - z) * candidate + z * S::load(s.h_prev + b * H + j, n), n);
    }
  }
}

//   da_n = dh⊙(1 − z)⊙tanh'(n)   du_n = da_n⊙r   da_r = du_r = da_n⊙u_n⊙σ'(r)
//   da_z = du_z = dh⊙(h_{t-1} − n)⊙σ'(z)        dh_{t-1} ⊇ dh⊙z (the path around W_hh)
template <typename T>
void gru_backward(const CellBackward<T>& s) {
  using S = Simd<T>;
  using V = typename S::V;
  const int64_t H = s.hidden;
  const V one = S::set(T(1));
  for (int64_t b = 0; b < s.batch; ++b) {
    T* dgate = s.dgates + b * 3 * H;
    T* dgate_hh = s.dgates_hh + b * 3 * H;
    if (s.active && !s.active[b]) {
      for (int64_t g = 0; g < 3; ++g) {
        std::fill(dgate + g * H + s.unit_begin, dgate + g * H + s.unit_end, T(0));
        std::fill(dgate_hh + g * H + s.unit_begin, dgate_hh + g * H + s.unit_end, T(0));
      }
      std::fill(s.dh_prev + b * H + s.unit_begin, s.dh_prev + b * H + s.unit_end, T(0));
      continue;
    }
    const T* gate = s.gates + b * 3 * H;
    for (int64_t j = s.unit_begin; j < s.unit_end; j += S::width) {
      const int64_t n = std::min(S::width, s.unit_end - j);
      const V r = S::load(gate + j, n), z = S::load(gate + H + j, n), candidate = S::load(gate + 2 * H + j, n);
      const V dh = S::load(s.dh + b * H + j, n);
      const V da_n = dh * (one - z) * (one - candidate * candidate);
      const V da_r = da_n * S::load(s.saved + b * H + j, n) * r * (one - r);
      const V da_z = dh * (S::load(s.h_prev + b * H + j, n) - candidate) * z * (one - z);
      S::store(dgate + j, da_r, n);
      S::store(dgate_hh + j, da_r, n);
      S::store(dgate + H + j, da_z, n);
      S::store(dgate_hh + H + j, da_z, n);
      S::store(dgate + 2 * H + j, da_n, n);
      S::store(dgate_hh + 2 * H + j, da_n * r, n);
      S::store(s.dh_prev + b * H + j, dh * z, n);
    }
  }
}

}  // namespace
}  // namespace lstm::LSTM_ISA_NS
LSTM_END_TARGET

namespace lstm::LSTM_ISA_NS {

template <typename T>
CellKernels<T> gru_kernels() {
  return {gru_forward<T>, gru_backward<T>, true};
}

template CellKernels<float> gru_kernels<float>();
template CellKernels<double> gru_kernels<double>();

}  // namespace lstm::LSTM_ISA_NS
