// GRU postgemm in PyTorch's form (ONNX linear_before_reset=1): gate order r, z, n (SPEC.md §2).
#include <cmath>

#include "cells/cell.hpp"
#include "core/activations.hpp"

namespace lstm {

namespace {

//   r = σ(a_r + u_r)   z = σ(a_z + u_z)   n = tanh(a_n + r⊙u_n)   h_t = (1 − z)⊙n + z⊙h_{t-1}
// where a = x W_ihᵀ + b_ih and u = h_{t-1} W_hhᵀ + b_hh.
template <typename T>
void gru_forward(const CellForward<T>& s) {
  const int64_t H = s.hidden;
  const T zero = 0;
  for (int64_t b = 0; b < s.batch; ++b) {
    if (s.active && !s.active[b]) continue;
    T* gate = s.gates + b * 3 * H;
    const T* rec = s.recurrent + b * 3 * H;
    const T* h_prev = s.h_prev + b * H;
    T* h = s.h + b * H;
    T* u_n_saved = s.saved + b * H;
    for (int64_t j = 0; j < H; ++j) {
      const T* bias = s.bias_hh;
      const T r = sigmoid(gate[j] + rec[j] + (bias ? bias[j] : zero));
      const T z = sigmoid(gate[H + j] + rec[H + j] + (bias ? bias[H + j] : zero));
      const T u_n = rec[2 * H + j] + (bias ? bias[2 * H + j] : zero);
      const T n = std::tanh(gate[2 * H + j] + r * u_n);
      gate[j] = r;
      gate[H + j] = z;
      gate[2 * H + j] = n;
      u_n_saved[j] = u_n;
      h[j] = (T(1) - z) * n + z * h_prev[j];
    }
  }
}

//   dn = dh⊙(1 − z)   dz = dh⊙(h_{t-1} − n)   da_n = dn⊙tanh'   du_n = da_n⊙r
//   dr = da_n⊙u_n     da_r = du_r = dr⊙σ'      da_z = du_z = dz⊙σ'   dh_{t-1} ⊇ dh⊙z
template <typename T>
void gru_backward(const CellBackward<T>& s) {
  const int64_t H = s.hidden;
  for (int64_t b = 0; b < s.batch; ++b) {
    T* dgate = s.dgates + b * 3 * H;
    T* dgate_hh = s.dgates_hh + b * 3 * H;
    T* dh_prev = s.dh_prev + b * H;
    if (s.active && !s.active[b]) {
      for (int64_t j = 0; j < 3 * H; ++j) dgate[j] = dgate_hh[j] = 0;
      for (int64_t j = 0; j < H; ++j) dh_prev[j] = 0;
      continue;
    }
    const T* gate = s.gates + b * 3 * H;
    const T* h_prev = s.h_prev + b * H;
    const T* u_n = s.saved + b * H;
    const T* dh = s.dh + b * H;
    for (int64_t j = 0; j < H; ++j) {
      const T r = gate[j], z = gate[H + j], n = gate[2 * H + j];
      const T da_n = dh[j] * (T(1) - z) * tanh_grad_from_output(n);
      const T da_r = da_n * u_n[j] * sigmoid_grad_from_output(r);
      const T da_z = dh[j] * (h_prev[j] - n) * sigmoid_grad_from_output(z);
      dgate[j] = dgate_hh[j] = da_r;
      dgate[H + j] = dgate_hh[H + j] = da_z;
      dgate[2 * H + j] = da_n;
      dgate_hh[2 * H + j] = da_n * r;
      dh_prev[j] = dh[j] * z;
    }
  }
}

}  // namespace

template <typename T>
CellKernels<T> gru_kernels() {
  return {gru_forward<T>, gru_backward<T>, true};
}

template CellKernels<float> gru_kernels<float>();
template CellKernels<double> gru_kernels<double>();

}  // namespace lstm
