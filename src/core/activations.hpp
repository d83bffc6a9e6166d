// Scalar activations and their derivatives written in terms of the activation's output.
#pragma once

#include <cmath>

namespace lstm {

template <typename T>
inline T sigmoid(T x) { return T(1) / (T(1) + std::exp(-x)); }
template <typename T>
inline T sigmoid_grad_from_output(T y) { return y * (T(1) - y); }  // σ' = σ(1 − σ)
template <typename T>
inline T tanh_grad_from_output(T y) { return T(1) - y * y; }       // tanh' = 1 − tanh²

}  // namespace lstm
