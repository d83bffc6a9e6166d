// Highway gates between stacked layers, forward and backward side by side (equations in
// highway.hpp). Every loop is split by rows over the thread team; the GEMMs go through
// weight_product (fp32 or bf16) or the int8 products, as the cells' products do.
#include "network/highway.hpp"

#include <cmath>
#include <string>

#include "lstm/error.hpp"
#include "lstm/precision.hpp"
#include "network/driver.hpp"

namespace lstm::driver {
namespace {

// Layer `layer` ≥ 1's W_t [Hcat, Hcat] and b_t [Hcat]: after every layer's recurrent tensors,
// parameter_layout lists weight_highway_l{k}, bias_highway_l{k} for k = 1 … L−1.
struct HighwayTensors {
  int64_t weight, bias;  // offsets into the flat buffer
};

HighwayTensors highway_tensors(const NetworkConfig& config,
                               const std::vector<ParameterInfo>& layout, int64_t layer) {
  const size_t first = layout.size() - static_cast<size_t>(2 * (config.num_layers - 1));
  const ParameterInfo& weight = layout[first + static_cast<size_t>(2 * (layer - 1))];
  const ParameterInfo& bias = layout[first + static_cast<size_t>(2 * (layer - 1) + 1)];
  if (weight.name != "weight_highway_l" + std::to_string(layer) ||
      bias.name != "bias_highway_l" + std::to_string(layer))
    throw Error("highway: the parameter layout has no gate for layer " + std::to_string(layer));
  return {weight.offset, bias.offset};
}

template <typename T>
T sigmoid(T a) {
  return T(1) / (T(1) + std::exp(-a));
}

// W_t of every layer k ≥ 1 in int8, quantized again only when the weights changed.
void quantize_highway(const NetworkConfig& config, const std::vector<ParameterInfo>& layout,
                      const float* parameters, uint64_t version, HighwayState<float>& state) {
  const size_t gates = static_cast<size_t>(config.num_layers - 1);
  if (state.int8_version == version && state.int8_weights.size() == gates) return;
  const int64_t width = config.layer_output_size();
  if (width > int8::kMaxDepth)
    throw Error("--precision int8: the highway gates have " + std::to_string(width) +
                " inputs per unit, more than the " + std::to_string(int8::kMaxDepth) +
                " its int32 sums allow");
  state.int8_weights.resize(gates);
  for (int64_t layer = 1; layer < config.num_layers; ++layer) {
    int8::Weights& w = state.int8_weights[static_cast<size_t>(layer - 1)];
    w.shape(1, width, width);
    const float* weight = parameters + highway_tensors(config, layout, layer).weight;
    thread_team().run(thread_team().size(), [&](int index, int count) {
      const auto [u0, u1] = split_range(width, count, index, int8::kPanel);
      w.quantize(weight, width, u0, u1);
    });
  }
  state.int8_version = version;
}

}  // namespace

template <typename T>
void highway_forward(const NetworkConfig& config, const std::vector<ParameterInfo>& layout,
                     const T* parameters, uint64_t version, int64_t layer, int64_t rows, const T* x,
                     T* y, bool training, HighwayState<T>& state) {
  const int64_t n = config.layer_output_size();  // Hcat
  const int64_t values = rows * n;
  if (layer == 1) {  // lay out for this call shape (growing only)
    const size_t kept = static_cast<size_t>(training ? (config.num_layers - 1) * values : values);
    if (state.gate.size() < kept) state.gate.resize(kept);
    if (training && state.cells.size() < kept) state.cells.resize(kept);
    state.rows = rows;
  }
  const HighwayTensors at = highway_tensors(config, layout, layer);
  const T* weight = parameters + at.weight;                                   // [Hcat, Hcat]
  const T* bias = parameters + at.bias;                                       // [Hcat]
  T* gate = state.gate.data() + (training ? (layer - 1) * values : 0);        // [rows, Hcat] t
  T* cells = training ? state.cells.data() + (layer - 1) * values : nullptr;  // [rows, Hcat] h

  bool int8 = false;
  if constexpr (std::is_same_v<T, float>) {
    int8 = matmul_precision() == MatmulPrecision::int8;
    if (int8) {
      quantize_highway(config, layout, parameters, version, state);
      state.int8_rows.shape(rows, n);
    }
  }
  thread_team().run(thread_team().size(), [&](int index, int count) {
    const auto [r0, r1] = split_range(rows, count, index);
    // a = x W_tᵀ + b_t     [rows, Hcat], this thread's rows
    if constexpr (std::is_same_v<T, float>) {
      if (int8) {
        state.int8_rows.quantize(r0, r1, x, n);
        int8::multiply(state.int8_rows, r0, r1, state.int8_weights[static_cast<size_t>(layer - 1)],
                       gate + r0 * n, n, 0, n, false, bias);
      }
    }
    if (!int8) {
      weight_product<T>(bf16_products<T>(), false, true, r1 - r0, n, n, x + r0 * n, n, weight, n,
                        false, gate + r0 * n, n, bias);
    }
    // t = σ(a);  y = t ⊙ h + (1 − t) ⊙ x = x + t ⊙ (h − x)
    for (int64_t k = r0 * n; k < r1 * n; ++k) {
      const T t = sigmoid(gate[k]);
      gate[k] = t;
      if (cells) cells[k] = y[k];
      y[k] = x[k] + t * (y[k] - x[k]);
    }
  });
}

template <typename T>
const T* highway_backward_gate(const NetworkConfig& config,
                               const std::vector<ParameterInfo>& layout, int64_t layer, const T* x,
                               const T* d_out, T* grad_parameters, HighwayState<T>& state) {
  const int64_t n = config.layer_output_size(), rows = state.rows, values = rows * n;
  if (state.backward.size() < static_cast<size_t>(2 * values))
    state.backward.resize(static_cast<size_t>(2 * values));
  const T* gate = state.gate.data() + (layer - 1) * values;
  const T* cells = state.cells.data() + (layer - 1) * values;
  T* d_cells = state.backward.data();          // [rows, Hcat] dL/dh = t ⊙ dL/dy
  T* d_gate = state.backward.data() + values;  // [rows, Hcat] da = dL/dy ⊙ (h − x) ⊙ t(1 − t)
  const HighwayTensors at = highway_tensors(config, layout, layer);
  T* d_weight = grad_parameters + at.weight;
  T* d_bias = grad_parameters + at.bias;
  ThreadTeam& team = thread_team();
  team.run(team.size(), [&](int index, int count) {
    const auto [r0, r1] = split_range(rows, count, index);
    for (int64_t k = r0 * n; k < r1 * n; ++k) {
      const T t = gate[k];
      d_cells[k] = t * d_out[k];
      d_gate[k] = d_out[k] * (cells[k] - x[k]) * t * (T(1) - t);
    }
  });
  team.run(team.size(), [&](int index, int count) {
    // dW_t += daᵀ x     [Hcat, Hcat], db_t += Σ_rows da: this thread's rows of W_t
    const auto [k0, k1] = split_range(n, count, index);
    weight_product<T>(bf16_products<T>(), true, false, k1 - k0, n, rows, d_gate + k0, n, x, n, true,
                      d_weight + k0 * n, n);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t k = k0; k < k1; ++k) d_bias[k] += d_gate[r * n + k];
  });
  return d_cells;
}

template <typename T>
void highway_backward_input(const NetworkConfig& config, const std::vector<ParameterInfo>& layout,
                            const T* parameters, int64_t layer, const T* d_out, T* d_in,
                            HighwayState<T>& state) {
  const int64_t n = config.layer_output_size(), rows = state.rows, values = rows * n;
  const T* gate = state.gate.data() + (layer - 1) * values;
  const T* d_gate = state.backward.data() + values;
  const T* weight = parameters + highway_tensors(config, layout, layer).weight;
  thread_team().run(thread_team().size(), [&](int index, int count) {
    const auto [r0, r1] = split_range(rows, count, index);
    // dL/dx += (1 − t) ⊙ dL/dy + da W_t     [rows, Hcat]
    for (int64_t k = r0 * n; k < r1 * n; ++k) d_in[k] += (T(1) - gate[k]) * d_out[k];
    weight_product<T>(bf16_products<T>(), false, false, r1 - r0, n, n, d_gate + r0 * n, n, weight,
                      n, true, d_in + r0 * n, n);
  });
}

template void highway_forward<float>(const NetworkConfig&, const std::vector<ParameterInfo>&,
                                     const float*, uint64_t, int64_t, int64_t, const float*, float*,
                                     bool, HighwayState<float>&);
template void highway_forward<double>(const NetworkConfig&, const std::vector<ParameterInfo>&,
                                      const double*, uint64_t, int64_t, int64_t, const double*,
                                      double*, bool, HighwayState<double>&);
template const float* highway_backward_gate<float>(const NetworkConfig&,
                                                   const std::vector<ParameterInfo>&, int64_t,
                                                   const float*, const float*, float*,
                                                   HighwayState<float>&);
template const double* highway_backward_gate<double>(const NetworkConfig&,
                                                     const std::vector<ParameterInfo>&, int64_t,
                                                     const double*, const double*, double*,
                                                     HighwayState<double>&);
template void highway_backward_input<float>(const NetworkConfig&, const std::vector<ParameterInfo>&,
                                            const float*, int64_t, const float*, float*,
                                            HighwayState<float>&);
template void highway_backward_input<double>(const NetworkConfig&,
                                             const std::vector<ParameterInfo>&, const double*,
                                             int64_t, const double*, double*,
                                             HighwayState<double>&);

}  // namespace lstm::driver
