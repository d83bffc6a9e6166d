// Vanilla RNN postgemm: h_t = act(x W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh), act = tanh or relu.
#include <algorithm>

#include "cells/cell.hpp"
#include "core/simd.hpp"

LSTM_BEGIN_TARGET
namespace lstm::LSTM_ISA_NS {
namespace {

template <typename T, bool kRelu>
void rnn_forward(const CellForward<T>& s) {
  using S = Simd<T>;
  const int64_t H = s.hidden;
  for (int64_t b = 0; b < s.batch; ++b) {
    if (s.active && !s.active[b]) continue;
    T* gate = s.gates + b * H;
    const T* rec = s.recurrent ? s.recurrent + b * H : nullptr;
    for (int64_t j = s.unit_begin; j < s.unit_end; j += S::width) {
      const int64_t n = std::min(S::width, s.unit_end - j);
      const auto sum = rec ? S::load(gate + j, n) + S::load(rec + j, n) : S::load(gate + j, n);
      const auto a = sum + S::load_or_zero(s.bias_hh ? s.bias_hh + j : nullptr, n);
      const auto y = kRelu ? S::relu(a) : S::tanh(a);
      S::store(gate + j, y, n);
      S::store(s.h + b * H + j, y, n);
    }
  }
}

// da = dh⊙act'(a), with tanh' = 1 − y² and relu' = [y > 0].
template <typename T, bool kRelu>
void rnn_backward(const CellBackward<T>& s) {
  using S = Simd<T>;
  const int64_t H = s.hidden;
  const auto one = S::set(T(1));
  for (int64_t b = 0; b < s.batch; ++b) {
    T* dgate = s.dgates + b * H;
    if (s.active && !s.active[b]) {
      zero_inactive_row(s, b, 1, false);
      continue;
    }
    for (int64_t j = s.unit_begin; j < s.unit_end; j += S::width) {
      const int64_t n = std::min(S::width, s.unit_end - j);
      const auto y = S::load(s.gates + b * H + j, n);
      const auto dh = S::load(s.dh + b * H + j, n);
      S::store(dgate + j, kRelu ? S::where_positive(y, dh) : dh * (one - y * y), n);
    }
  }
}

}  // namespace
}  // namespace lstm::LSTM_ISA_NS
LSTM_END_TARGET

namespace lstm::LSTM_ISA_NS {

template <typename T>
CellKernels<T> rnn_kernels(bool relu) {
  if (relu) return {rnn_forward<T, true>, rnn_backward<T, true>, false, nullptr, nullptr};
  return {rnn_forward<T, false>, rnn_backward<T, false>, false, nullptr, nullptr};
}

template CellKernels<float> rnn_kernels<float>(bool);
template CellKernels<double> rnn_kernels<double>(bool);

}  // namespace lstm::LSTM_ISA_NS
