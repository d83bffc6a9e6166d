// Highway gates between stacked layers (Srivastava, Greff & Schmidhuber 2015): what the driver
// calls around the cells of each layer k ≥ 1 when NetworkConfig::highway is on.
//
//   x = the layer's input, h = its cells' output (both [T, B, Hcat], D directions concatenated)
//   t = σ(x W_tᵀ + b_t)                W_t = weight_highway_l{k} [Hcat, Hcat], b_t =
//   bias_highway_l{k} [Hcat] y = t ⊙ h + (1 − t) ⊙ x            the layer's output (then dropout,
//   as without the gate)
//
// The product x W_tᵀ of every step is one GEMM (bf16 or int8 with the matmul precision), and its
// gradients dW_t = daᵀ x and da W_t are one GEMM each (da = dL/d(x W_tᵀ + b_t)).
#pragma once

#include <cstdint>
#include <vector>

#include "core/int8_gemm.hpp"
#include "lstm/config.hpp"

namespace lstm::driver {

// What the gates keep and work in, inside the Workspace; laid out by highway_forward.
template <typename T>
struct HighwayState {
  int64_t rows = 0;         // T*B of the last forward
  std::vector<T> gate;      // training [L-1, T*B, Hcat] t per layer k ≥ 1; inference [T*B, Hcat]
  std::vector<T> cells;     // training [L-1, T*B, Hcat] h, the cells' output before the gate
  std::vector<T> backward;  // [2, T*B, Hcat] dL/dh for the cells, and da
  // --precision int8: W_t of each layer k ≥ 1 quantized ([L-1]), the version they came from, and
  // the layer input's rows quantized.
  std::vector<int8::Weights> int8_weights;
  uint64_t int8_version = 0;
  int8::Rows int8_rows;
};

// Forward of layer `layer` ≥ 1's gate over rows = T*B: y [rows, Hcat] holds the cells' h on entry
// and the gated output on return; x [rows, Hcat] is the layer's input. `parameters` is the flat
// buffer laid out by parameter_layout(config); `version` its weights_version() (int8).
template <typename T>
void highway_forward(const NetworkConfig& config, const std::vector<ParameterInfo>& layout,
                     const T* parameters, uint64_t version, int64_t layer, int64_t rows, const T* x,
                     T* y, bool training, HighwayState<T>& state);

// First half of layer `layer`'s backward, before its cells' backward: from d_out = dL/dy it
// accumulates dW_t and db_t into grad_parameters and returns dL/dh [rows, Hcat] for the cells.
template <typename T>
const T* highway_backward_gate(const NetworkConfig& config,
                               const std::vector<ParameterInfo>& layout, int64_t layer, const T* x,
                               const T* d_out, T* grad_parameters, HighwayState<T>& state);

// Second half, after the cells' backward wrote their dL/dx into d_in [rows, Hcat]:
// d_in += (1 − t) ⊙ d_out + da W_t.
template <typename T>
void highway_backward_input(const NetworkConfig& config, const std::vector<ParameterInfo>& layout,
                            const T* parameters, int64_t layer, const T* d_out, T* d_in,
                            HighwayState<T>& state);

}  // namespace lstm::driver
