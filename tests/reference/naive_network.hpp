// Naive reference of SPEC §2–§3: every cell, layer, direction, length and dropout rule as plain
// loops (one sequence, one step, one unit at a time; no BLAS), with BPTT written from the
// equations.
#pragma once

#include <cmath>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "core/random.hpp"
#include "lstm/config.hpp"
#include "int8_reference.hpp"

namespace lstm::naive {

// ---------------------------------------------------------------------------------------------
// Parameters: pointers to one (layer, direction)'s tensors inside a flat buffer, found by name.

template <typename T>
struct CellParams {
  T* w_ih = nullptr;      // [G*H, in]
  T* w_hh = nullptr;      // [G*H, Hout]
  T* b_ih = nullptr;      // [G*H] or null (bias=false)
  T* b_hh = nullptr;      // [G*H] or null
  T* w_hr = nullptr;      // [P, H] or null (no projection)
  T* peephole = nullptr;  // [3H] (i, f, o), [2H] (f, o) with coupled gates, or null
  T* ln_ih = nullptr;     // [G*H] layer-norm gains of the input part, or null (no layer norm)
  T* ln_hh = nullptr;     // [G*H] of the recurrent part
  T* ln_c = nullptr;      // [H] of the cell state
  T* ln_c_bias = nullptr; // [H]
};

// Finds the tensors of layer `layer`, direction `direction` in `flat` (laid out as
// parameter_layout).
template <typename T>
CellParams<T> cell_params(const NetworkConfig& config, std::span<T> flat, int64_t layer,
                          int64_t direction) {
  const std::string suffix = std::to_string(layer) + (direction ? "_reverse" : "");
  CellParams<T> params;
  for (const ParameterInfo& info : parameter_layout(config)) {
    if (info.offset + info.numel > static_cast<int64_t>(flat.size()))
      throw std::runtime_error("naive: parameter buffer too small for " + info.name);
    T* data = flat.data() + info.offset;
    if (info.name == "weight_ih_l" + suffix) params.w_ih = data;
    if (info.name == "weight_hh_l" + suffix) params.w_hh = data;
    if (info.name == "bias_ih_l" + suffix) params.b_ih = data;
    if (info.name == "bias_hh_l" + suffix) params.b_hh = data;
    if (info.name == "weight_hr_l" + suffix) params.w_hr = data;
    if (info.name == "weight_peephole_l" + suffix) params.peephole = data;
    if (info.name == "weight_ln_ih_l" + suffix) params.ln_ih = data;
    if (info.name == "weight_ln_hh_l" + suffix) params.ln_hh = data;
    if (info.name == "weight_ln_c_l" + suffix) params.ln_c = data;
    if (info.name == "bias_ln_c_l" + suffix) params.ln_c_bias = data;
  }
  if (!params.w_ih || !params.w_hh)
    throw std::runtime_error("naive: missing weights for layer " + suffix);
  return params;
}

// Layer k ≥ 1's highway gate W_t [Hcat, Hcat] and b_t [Hcat] in `flat`, found by name.
template <typename T>
std::pair<T*, T*> highway_params(const NetworkConfig& config, std::span<T> flat, int64_t layer) {
  std::pair<T*, T*> found{nullptr, nullptr};
  for (const ParameterInfo& info : parameter_layout(config)) {
    if (info.name == "weight_highway_l" + std::to_string(layer)) found.first = flat.data() + info.offset;
    if (info.name == "bias_highway_l" + std::to_string(layer)) found.second = flat.data() + info.offset;
  }
  if (!found.first || !found.second) throw std::runtime_error("naive: no highway gate for layer " + std::to_string(layer));
  return found;
}

// Tests: moves the layer-norm gains off 1 and biases off 0 (where init_uniform puts them) to
// values in 1 ± 0.5 and ±0.5, so that every gain and bias matters.
template <typename T>
void spread_layer_norm_parameters(const NetworkConfig& config, std::span<T> flat, uint64_t seed) {
  for (const ParameterInfo& info : parameter_layout(config)) {
    const bool gain = info.name.starts_with("weight_ln_"), bias = info.name.starts_with("bias_ln_");
    if (!gain && !bias) continue;
    for (int64_t k = 0; k < info.numel; ++k)
      flat[info.offset + k] = static_cast<T>((gain ? 1.0 : 0.0) + (uniform01(seed, info.offset + k) - 0.5));
  }
}

template <typename T>
T sigmoid(T a) {
  return T(1) / (T(1) + std::exp(-a));
}

// Sizes that every loop below needs, derived once from the configuration.
struct Dims {
  int64_t seq_len, batch, hidden, hout, directions, layers, gates;
  int64_t hcat() const { return directions * hout; }
};

inline Dims dims_of(const NetworkConfig& config, int64_t seq_len, int64_t batch) {
  return {seq_len,
          batch,
          config.hidden_size,
          config.output_size(),
          config.directions(),
          config.num_layers,
          gate_count(config)};
}

// The step index t of the s-th step a direction takes over a sequence of length len.
inline int64_t step_time(int64_t direction, int64_t s, int64_t len) {
  return direction == 0 ? s : len - 1 - s;
}

// ---------------------------------------------------------------------------------------------
// Forward.

// What forward remembers of one (layer, direction), for every step t < lengths[b]; entries at
// t >= lengths[b] stay zero and are never read.
template <typename T>
struct DirectionTrace {
  std::vector<T> gates;   // [T, B, G*H] activated: LSTM i,f,g,o; GRU r,z,n; RNN h
  std::vector<T> h_prev;  // [T, B, Hout] recurrent input of the step
  std::vector<T> c_prev;  // [T, B, H] LSTM: cell state entering the step
  std::vector<T> c;       // [T, B, H] LSTM: cell state leaving the step
  std::vector<T> m;       // [T, B, H] LSTM: o ⊙ tanh(c), the h before projection
  std::vector<T> hn_lin;  // [T, B, H] GRU: h_prev W_hnᵀ + b_hn (what r multiplies); with the
                          // reset gate before the product: r ⊙ h_prev (what W_hn multiplies)
  std::vector<T> raw_x;   // [T, B, G*H] layer-norm LSTM: x W_ihᵀ before normalisation
  std::vector<T> raw_h;   // [T, B, G*H] layer-norm LSTM: h_prev W_hhᵀ before normalisation
};

// Layer normalisation of v [N]: gain ⊙ (v − mean) / sqrt(var + 1e-5) + bias (bias may be null).
template <typename T>
std::vector<T> layer_norm(const T* v, int64_t N, const T* gain, const T* bias) {
  T mean = 0, var = 0;
  for (int64_t k = 0; k < N; ++k) mean += v[k] / T(N);
  for (int64_t k = 0; k < N; ++k) var += (v[k] - mean) * (v[k] - mean) / T(N);
  std::vector<T> out(N);
  for (int64_t k = 0; k < N; ++k)
    out[k] = gain[k] * (v[k] - mean) / std::sqrt(var + T(1e-5)) + (bias ? bias[k] : T(0));
  return out;
}

// For out = layer_norm(v): accumulates dgain += dout ⊙ n (and dbias += dout) and returns
// dL/dv through the full Jacobian ∂n_k/∂v_j = (δ_kj − 1/N − n_k n_j / N) / sqrt(var + 1e-5).
template <typename T>
std::vector<T> layer_norm_backward(const T* v, int64_t N, const T* gain, const T* dout, T* dgain, T* dbias) {
  T mean = 0, var = 0;
  for (int64_t k = 0; k < N; ++k) mean += v[k] / T(N);
  for (int64_t k = 0; k < N; ++k) var += (v[k] - mean) * (v[k] - mean) / T(N);
  const T scale = T(1) / std::sqrt(var + T(1e-5));
  std::vector<T> n(N), dv(N, T(0));
  for (int64_t k = 0; k < N; ++k) n[k] = (v[k] - mean) * scale;
  for (int64_t k = 0; k < N; ++k) {
    dgain[k] += dout[k] * n[k];
    if (dbias) dbias[k] += dout[k];
  }
  for (int64_t j = 0; j < N; ++j)
    for (int64_t k = 0; k < N; ++k)
      dv[j] += dout[k] * gain[k] * scale * ((k == j ? T(1) : T(0)) - T(1) / T(N) - n[k] * n[j] / T(N));
  return dv;
}

template <typename T>
struct ForwardResult {
  std::vector<T> output;  // [T, B, Hcat]
  std::vector<T> h_n;     // [L*D, B, Hout]
  std::vector<T> c_n;     // [L*D, B, H], LSTM only (else empty)

  // Kept for naive_backward.
  NetworkConfig config;
  int64_t seq_len = 0, batch = 0;
  std::vector<int64_t> lengths;  // [B]
  uint64_t dropout_seed = 0;
  bool dropout_active = false;               // training and p > 0
  bool zoneout_active = false;               // training and zoneout > 0
  std::vector<std::vector<T>> layer_inputs;  // [L] of [T, B, in_k]: layer k's input after dropout
  std::vector<DirectionTrace<T>> traces;     // [L*D], row k*D + d
  // Highway gates, [L] of [T, B, Hcat] (empty for layer 0): the gate t and the cells' output h.
  std::vector<std::vector<T>> highway_gate, highway_cells;
};

// a[j] = b_ih[j] + b_hh[j] + Σ_i W_ih[j, i] x[i] + Σ_p W_hh[j, p] h[p] for j < rows, split into
// its input part gi and hidden part gh (GRU needs them apart).
// With layer norm (w.ln_ih set) the biases are left out here.
template <typename T>
void affine(const CellParams<T>& w, int64_t rows, int64_t in, int64_t hout, const T* x, const T* h,
            std::vector<T>& gi, std::vector<T>& gh) {
  gi.assign(rows, T(0));
  gh.assign(rows, T(0));
  if (int8::enabled()) {
    int8::product(w.w_ih, rows, in, x, gi.data());
    int8::product(w.w_hh, rows, hout, h, gh.data());
    for (int64_t j = 0; j < rows; ++j) {  // the layer-normalised LSTM adds them after normalising
      gi[j] += w.b_ih && !w.ln_ih ? w.b_ih[j] : T(0);
      gh[j] += w.b_hh && !w.ln_ih ? w.b_hh[j] : T(0);
    }
    return;
  }
  for (int64_t j = 0; j < rows; ++j) {
    T sum_i = w.b_ih && !w.ln_ih ? w.b_ih[j] : T(0);
    for (int64_t i = 0; i < in; ++i) sum_i += w.w_ih[j * in + i] * x[i];
    T sum_h = w.b_hh && !w.ln_ih ? w.b_hh[j] : T(0);
    for (int64_t p = 0; p < hout; ++p) sum_h += w.w_hh[j * hout + p] * h[p];
    gi[j] = sum_i;
    gh[j] = sum_h;
  }
}

// The LSTM's output h [Hout] from m = o ⊙ tanh(c) [H]: h = W_hr m with a projection (in int8
// where the products are), else h = m.
template <typename T>
void project(const CellParams<T>& w, int64_t hout, int64_t H, const std::vector<T>& m,
             std::vector<T>& h) {
  if (!w.w_hr) {
    h = m;
  } else if (int8::enabled()) {
    int8::product(w.w_hr, hout, H, m.data(), h.data());
  } else {
    for (int64_t p = 0; p < hout; ++p) {
      T sum = 0;
      for (int64_t u = 0; u < H; ++u) sum += w.w_hr[p * H + u] * m[u];
      h[p] = sum;
    }
  }
}

// project's backward: returns dm = W_hrᵀ dh and adds dh mᵀ to dW_hr with a projection; else dm = dh.
template <typename T>
std::vector<T> project_backward(const CellParams<T>& w, CellParams<T>& dw, int64_t hout, int64_t H,
                                const T* m, const std::vector<T>& dh) {
  if (!w.w_hr) return std::vector<T>(dh.begin(), dh.begin() + H);
  std::vector<T> dm(H, T(0));
  for (int64_t p = 0; p < hout; ++p)
    for (int64_t u = 0; u < H; ++u) {
      dm[u] += w.w_hr[p * H + u] * dh[p];
      dw.w_hr[p * H + u] += dh[p] * m[u];
    }
  return dm;
}

// One step of one cell for one sequence. h [Hout] and c [H] are updated in place; the trace
// entry at `at` (= t*B + b) is filled.
template <typename T>
void cell_forward(const NetworkConfig& config, const Dims& dim, const CellParams<T>& w, int64_t in,
                  const T* x, std::vector<T>& h, std::vector<T>& c, DirectionTrace<T>& trace,
                  int64_t at) {
  const int64_t H = dim.hidden, G = dim.gates, hout = dim.hout;
  std::vector<T> gi, gh;
  affine(w, G * H, in, hout, x, h.data(), gi, gh);
  T* gates = &trace.gates[at * G * H];
  for (int64_t p = 0; p < hout; ++p) trace.h_prev[at * hout + p] = h[p];

  if (config.cell == CellType::lstm && w.ln_ih) {  // gi = LN(x W_ihᵀ; γ_ih, b_ih), gh = LN(h W_hhᵀ; γ_hh, b_hh)
    std::copy(gi.begin(), gi.end(), &trace.raw_x[at * G * H]);
    std::copy(gh.begin(), gh.end(), &trace.raw_h[at * G * H]);
    gi = layer_norm(&trace.raw_x[at * G * H], G * H, w.ln_ih, w.b_ih);
    gh = layer_norm(&trace.raw_h[at * G * H], G * H, w.ln_hh, w.b_hh);
  }
  if (config.cell == CellType::lstm && config.coupled_gates) {
    // Coupled gates: blocks f, g, o (peepholes f, o), and i = 1 - f.
    std::vector<T> m(H);
    for (int64_t u = 0; u < H; ++u) {
      const T c_prev = c[u];
      T a_f = gi[u] + gh[u];
      const T a_g = gi[H + u] + gh[H + u];
      T a_o = gi[2 * H + u] + gh[2 * H + u];
      if (w.peephole) a_f += w.peephole[u] * c_prev;
      const T f = sigmoid(a_f), g = std::tanh(a_g);
      const T c_new = f * c_prev + (T(1) - f) * g;
      if (w.peephole) a_o += w.peephole[H + u] * c_new;
      const T o = sigmoid(a_o);
      m[u] = o * std::tanh(c_new);
      gates[u] = f, gates[H + u] = g, gates[2 * H + u] = o;
      trace.c_prev[at * H + u] = c_prev;
      trace.c[at * H + u] = c_new;
      c[u] = c_new;
    }
    if (w.ln_c) {  // m = o tanh(LN(c; γ_c, β_c))
      const std::vector<T> c_hat = layer_norm(c.data(), H, w.ln_c, w.ln_c_bias);
      for (int64_t u = 0; u < H; ++u) m[u] = gates[2 * H + u] * std::tanh(c_hat[u]);
    }
    for (int64_t u = 0; u < H; ++u) trace.m[at * H + u] = m[u];
    project(w, hout, H, m, h);
  } else if (config.cell == CellType::lstm) {
    std::vector<T> m(H);
    for (int64_t u = 0; u < H; ++u) {
      const T c_prev = c[u];
      T a_i = gi[u] + gh[u], a_f = gi[H + u] + gh[H + u];
      const T a_g = gi[2 * H + u] + gh[2 * H + u];
      T a_o = gi[3 * H + u] + gh[3 * H + u];
      if (w.peephole) {
        a_i += w.peephole[u] * c_prev;
        a_f += w.peephole[H + u] * c_prev;
      }
      const T i = sigmoid(a_i), f = sigmoid(a_f), g = std::tanh(a_g);
      const T c_new = f * c_prev + i * g;
      if (w.peephole) a_o += w.peephole[2 * H + u] * c_new;  // the output gate sees the NEW cell
      const T o = sigmoid(a_o);
      m[u] = o * std::tanh(c_new);
      gates[u] = i, gates[H + u] = f, gates[2 * H + u] = g, gates[3 * H + u] = o;
      trace.c_prev[at * H + u] = c_prev;
      trace.c[at * H + u] = c_new;
      c[u] = c_new;
    }
    if (w.ln_c) {  // m = o tanh(LN(c; γ_c, β_c))
      const std::vector<T> c_hat = layer_norm(c.data(), H, w.ln_c, w.ln_c_bias);
      for (int64_t u = 0; u < H; ++u) m[u] = gates[3 * H + u] * std::tanh(c_hat[u]);
    }
    for (int64_t u = 0; u < H; ++u) trace.m[at * H + u] = m[u];
    project(w, hout, H, m, h);
  } else if (config.cell == CellType::gru && config.reset_before) {
    // n = tanh(gi_n + W_hn (r ⊙ h) + b_hn): gh's n rows (W_hn h + b_hn) are not used.
    std::vector<T> r(H), z(H), rh(H);
    for (int64_t u = 0; u < H; ++u) {
      r[u] = sigmoid(gi[u] + gh[u]);
      z[u] = sigmoid(gi[H + u] + gh[H + u]);
      rh[u] = r[u] * h[u];
    }
    std::vector<T> product(H);  // W_hn (r ⊙ h), in int8 where the products are
    if (int8::enabled()) int8::product(w.w_hh + 2 * H * H, H, H, rh.data(), product.data());
    for (int64_t u = 0; u < H; ++u) {
      T hn = w.b_hh ? w.b_hh[2 * H + u] : T(0);
      if (int8::enabled()) hn += product[u];
      else
        for (int64_t p = 0; p < H; ++p) hn += w.w_hh[(2 * H + u) * H + p] * rh[p];
      const T n = std::tanh(gi[2 * H + u] + hn);
      gates[u] = r[u], gates[H + u] = z[u], gates[2 * H + u] = n;
      trace.hn_lin[at * H + u] = rh[u];
    }
    for (int64_t u = 0; u < H; ++u) h[u] = (T(1) - z[u]) * gates[2 * H + u] + z[u] * h[u];
  } else if (config.cell == CellType::gru) {
    for (int64_t u = 0; u < H; ++u) {
      const T r = sigmoid(gi[u] + gh[u]);
      const T z = sigmoid(gi[H + u] + gh[H + u]);
      const T n = std::tanh(gi[2 * H + u] + r * gh[2 * H + u]);
      gates[u] = r, gates[H + u] = z, gates[2 * H + u] = n;
      trace.hn_lin[at * H + u] = gh[2 * H + u];
      h[u] = (T(1) - z) * n + z * h[u];
    }
  } else {  // rnn_tanh, rnn_relu
    for (int64_t u = 0; u < H; ++u) {
      const T a = gi[u] + gh[u];
      h[u] = config.cell == CellType::rnn_relu ? (a > T(0) ? a : T(0)) : std::tanh(a);
      gates[u] = h[u];
    }
  }
}

// Runs the network. params: flat, in parameter_layout(config) order. x: [T, B, I]. lengths: [B]
// or empty (all T). h0 [L*D, B, Hout], c0 [L*D, B, H]: empty means zeros. Dropout (mask from
// dropout_keep) only if training.
template <typename T>
ForwardResult<T> naive_forward(const NetworkConfig& config, std::span<const T> params,
                               int64_t seq_len, int64_t batch, std::span<const T> x,
                               std::span<const int64_t> lengths, std::span<const T> h0,
                               std::span<const T> c0, uint64_t dropout_seed, bool training) {
  const Dims dim = dims_of(config, seq_len, batch);
  const int64_t H = dim.hidden, hout = dim.hout, D = dim.directions, L = dim.layers, B = batch;
  const int64_t hcat = dim.hcat();
  std::span<T> mutable_params(const_cast<T*>(params.data()), params.size());  // read only below

  ForwardResult<T> result;
  result.config = config;
  result.seq_len = seq_len;
  result.batch = batch;
  result.lengths = lengths.empty() ? std::vector<int64_t>(B, seq_len)
                                   : std::vector<int64_t>(lengths.begin(), lengths.end());
  result.dropout_seed = dropout_seed;
  result.dropout_active = training && config.dropout > 0.0;
  result.zoneout_active = training && config.zoneout > 0.0;
  result.h_n.assign(L * D * B * hout, T(0));
  if (config.has_cell_state()) result.c_n.assign(L * D * B * H, T(0));
  result.layer_inputs.emplace_back(x.begin(), x.end());

  std::vector<T> layer_output;  // [T, B, Hcat]
  for (int64_t k = 0; k < L; ++k) {
    const int64_t in = config.layer_input_size(k);
    const std::vector<T>& layer_input = result.layer_inputs[k];
    layer_output.assign(seq_len * B * hcat, T(0));  // zero at t >= lengths[b]
    for (int64_t d = 0; d < D; ++d) {
      const int64_t row = k * D + d;
      const CellParams<T> w = cell_params(config, mutable_params, k, d);
      DirectionTrace<T> trace;
      trace.gates.assign(seq_len * B * dim.gates * H, T(0));
      trace.h_prev.assign(seq_len * B * hout, T(0));
      if (config.cell == CellType::lstm) {
        trace.c_prev.assign(seq_len * B * H, T(0));
        trace.c.assign(seq_len * B * H, T(0));
        trace.m.assign(seq_len * B * H, T(0));
      }
      if (config.cell == CellType::gru) trace.hn_lin.assign(seq_len * B * H, T(0));
      if (config.layer_norm) {
        trace.raw_x.assign(seq_len * B * dim.gates * H, T(0));
        trace.raw_h.assign(seq_len * B * dim.gates * H, T(0));
      }

      for (int64_t b = 0; b < B; ++b) {  // each sequence on its own
        std::vector<T> h(hout, T(0)), c(H, T(0));
        if (!h0.empty())
          for (int64_t p = 0; p < hout; ++p) h[p] = h0[(row * B + b) * hout + p];
        if (!c0.empty() && config.has_cell_state())
          for (int64_t u = 0; u < H; ++u) c[u] = c0[(row * B + b) * H + u];
        const int64_t len = result.lengths[b];
        for (int64_t s = 0; s < len; ++s) {
          const int64_t t = step_time(d, s, len);
          cell_forward(config, dim, w, in, &layer_input[(t * B + b) * in], h, c, trace, t * B + b);
          if (result.zoneout_active) {  // held units keep the state from before the step
            for (int64_t p = 0; p < hout; ++p)
              if (zoneout_holds(dropout_seed, k, d, 0, (t * B + b) * hout + p, config.zoneout))
                h[p] = trace.h_prev[(t * B + b) * hout + p];
            for (int64_t u = 0; u < H && config.has_cell_state(); ++u)
              if (zoneout_holds(dropout_seed, k, d, 1, (t * B + b) * H + u, config.zoneout))
                c[u] = trace.c_prev[(t * B + b) * H + u];
          }
          for (int64_t p = 0; p < hout; ++p) layer_output[(t * B + b) * hcat + d * hout + p] = h[p];
        }
        for (int64_t p = 0; p < hout; ++p) result.h_n[(row * B + b) * hout + p] = h[p];
        if (config.has_cell_state())
          for (int64_t u = 0; u < H; ++u) result.c_n[(row * B + b) * H + u] = c[u];
      }
      result.traces.push_back(std::move(trace));
    }
    if (config.residual && k > 0)  // the output is the cells' h plus the layer's input
      for (size_t e = 0; e < layer_output.size(); ++e) layer_output[e] += layer_input[e];
    result.highway_gate.emplace_back();
    result.highway_cells.emplace_back();
    if (config.highway && k > 0) {  // y = t ⊙ h + (1 − t) ⊙ x, t = σ(W_t x + b_t), row by row
      const auto [w_t, b_t] = highway_params(config, mutable_params, k);
      std::vector<T>& gate = result.highway_gate.back();
      result.highway_cells.back() = layer_output;
      gate.assign(layer_output.size(), T(0));
      for (int64_t r = 0; r < seq_len * B; ++r) {
        const T* x_r = &layer_input[r * hcat];
        std::vector<T> a(hcat, T(0));
        if (int8::enabled()) int8::product(w_t, hcat, hcat, x_r, a.data());
        for (int64_t j = 0; j < hcat; ++j) {
          T sum = b_t[j] + (int8::enabled() ? a[j] : T(0));
          for (int64_t i = 0; i < hcat && !int8::enabled(); ++i) sum += w_t[j * hcat + i] * x_r[i];
          const T t_j = sigmoid(sum);
          gate[r * hcat + j] = t_j;
          layer_output[r * hcat + j] = t_j * layer_output[r * hcat + j] + (T(1) - t_j) * x_r[j];
        }
      }
    }
    if (k + 1 < L) {  // dropout between layers
      std::vector<T> next_input = layer_output;
      if (result.dropout_active) {
        const T scale = T(1) / (T(1) - static_cast<T>(config.dropout));
        for (size_t e = 0; e < next_input.size(); ++e)
          next_input[e] =
              dropout_keep(dropout_seed, k, e, config.dropout) ? next_input[e] * scale : T(0);
      }
      result.layer_inputs.push_back(std::move(next_input));
    }
  }
  result.output = std::move(layer_output);
  return result;
}

// ---------------------------------------------------------------------------------------------
// Backward: backpropagation through time, one sequence and one step at a time.

template <typename T>
struct Gradients {
  std::vector<T> params;  // flat, parameter_layout order
  std::vector<T> input;   // [T, B, I]
  std::vector<T> h0;      // [L*D, B, Hout]
  std::vector<T> c0;      // [L*D, B, H], LSTM only (else empty)
};

// Given the gradients d_gi (of the input part of the pre-activations) and d_gh (hidden part),
// accumulates dW_ih, db_ih, dW_hh, db_hh, adds W_ihᵀ d_gi to dx and W_hhᵀ d_gh to dh_prev.
template <typename T>
void affine_backward(const CellParams<T>& w, CellParams<T>& dw, int64_t rows, int64_t in,
                     int64_t hout, const T* x, const T* h_prev, const std::vector<T>& d_gi,
                     const std::vector<T>& d_gh, T* dx, std::vector<T>& dh_prev) {
  for (int64_t j = 0; j < rows; ++j) {
    for (int64_t i = 0; i < in; ++i) {
      dw.w_ih[j * in + i] += d_gi[j] * x[i];
      dx[i] += w.w_ih[j * in + i] * d_gi[j];
    }
    for (int64_t p = 0; p < hout; ++p) {
      dw.w_hh[j * hout + p] += d_gh[j] * h_prev[p];
      dh_prev[p] += w.w_hh[j * hout + p] * d_gh[j];
    }
    if (dw.b_ih) dw.b_ih[j] += d_gi[j];
    if (dw.b_hh) dw.b_hh[j] += d_gh[j];
  }
}

// The LSTM's m = o ⊙ tanh(ĉ), ĉ = c or LN(c; γ_c, β_c) (layer norm): returns dL/dc through m
// (accumulating dγ_c, dβ_c) and sets tanh_c_hat = tanh(ĉ).
template <typename T>
std::vector<T> cell_output_backward(const CellParams<T>& w, CellParams<T>& dw, int64_t H, const T* c_row,
                                    const T* o, const std::vector<T>& dm, std::vector<T>& tanh_c_hat) {
  const std::vector<T> c_hat =
      w.ln_c ? layer_norm(c_row, H, w.ln_c, w.ln_c_bias) : std::vector<T>(c_row, c_row + H);
  std::vector<T> dc_from_m(H);
  tanh_c_hat.resize(H);
  for (int64_t u = 0; u < H; ++u) {
    tanh_c_hat[u] = std::tanh(c_hat[u]);
    dc_from_m[u] = dm[u] * o[u] * (T(1) - tanh_c_hat[u] * tanh_c_hat[u]);
  }
  if (w.ln_c) dc_from_m = layer_norm_backward(c_row, H, w.ln_c, dc_from_m.data(), dw.ln_c, dw.ln_c_bias);
  return dc_from_m;
}

// The layer-normalised LSTM, given da = dL/d(gi + gh) [rows]: back through gi = LN(x W_ihᵀ; γ_ih,
// b_ih) and gh = LN(h W_hhᵀ; γ_hh, b_hh), which take the biases' gradients, then through the
// products (dW_ih, dW_hh, dx += W_ihᵀ d_gi, dh_prev += W_hhᵀ d_gh).
template <typename T>
void layer_norm_parts_backward(const CellParams<T>& w, CellParams<T>& dw, int64_t rows, int64_t in, int64_t hout,
                               const T* x, const T* h_prev, const DirectionTrace<T>& trace, int64_t at,
                               const std::vector<T>& da, T* dx, std::vector<T>& dh_prev) {
  const std::vector<T> d_gi = layer_norm_backward(&trace.raw_x[at * rows], rows, w.ln_ih, da.data(), dw.ln_ih, dw.b_ih);
  const std::vector<T> d_gh = layer_norm_backward(&trace.raw_h[at * rows], rows, w.ln_hh, da.data(), dw.ln_hh, dw.b_hh);
  CellParams<T> dw_weights = dw;
  dw_weights.b_ih = dw_weights.b_hh = nullptr;
  affine_backward(w, dw_weights, rows, in, hout, x, h_prev, d_gi, d_gh, dx, dh_prev);
}

// One step backward. dh [Hout] = dL/dh_t (all paths), dc [H] = dL/dc_t from the future; on
// return they hold dL/dh_{t-1} and dL/dc_{t-1}. dx [in] is accumulated into.
template <typename T>
void cell_backward(const NetworkConfig& config, const Dims& dim, const CellParams<T>& w,
                   CellParams<T>& dw, int64_t in, const T* x, const DirectionTrace<T>& trace,
                   int64_t at, std::vector<T>& dh, std::vector<T>& dc, T* dx) {
  const int64_t H = dim.hidden, G = dim.gates, hout = dim.hout;
  const T* gates = &trace.gates[at * G * H];
  const T* h_prev = &trace.h_prev[at * hout];
  std::vector<T> d_gi(G * H, T(0)), d_gh(G * H, T(0)), dh_prev(hout, T(0));

  if (config.cell == CellType::lstm && config.coupled_gates) {
    const std::vector<T> dm = project_backward(w, dw, hout, H, &trace.m[at * H], dh);
    std::vector<T> tanh_c_hat;
    const std::vector<T> dc_from_m = cell_output_backward(w, dw, H, &trace.c[at * H], gates + 2 * H, dm, tanh_c_hat);
    for (int64_t u = 0; u < H; ++u) {
      const T f = gates[u], g = gates[H + u], o = gates[2 * H + u];
      const T c = trace.c[at * H + u], c_prev = trace.c_prev[at * H + u], tanh_c = tanh_c_hat[u];
      const T da_o = dm[u] * tanh_c * o * (T(1) - o);
      T dc_total = dc[u] + dc_from_m[u];
      if (w.peephole) dc_total += w.peephole[H + u] * da_o;
      // c = f c_prev + (1 - f) g
      const T da_f = dc_total * (c_prev - g) * f * (T(1) - f);
      const T da_g = dc_total * (T(1) - f) * (T(1) - g * g);
      T dc_prev = dc_total * f;
      if (w.peephole) {
        dc_prev += w.peephole[u] * da_f;
        dw.peephole[u] += da_f * c_prev;
        dw.peephole[H + u] += da_o * c;
      }
      dc[u] = dc_prev;
      d_gi[u] = da_f, d_gi[H + u] = da_g, d_gi[2 * H + u] = da_o;
    }
    d_gh = d_gi;
    if (w.ln_ih) {
      layer_norm_parts_backward(w, dw, G * H, in, hout, x, h_prev, trace, at, d_gi, dx, dh_prev);
      dh = dh_prev;
      return;
    }
  } else if (config.cell == CellType::lstm) {
    const std::vector<T> dm = project_backward(w, dw, hout, H, &trace.m[at * H], dh);
    // m = o tanh(ĉ), ĉ = c or LN(c): dc_from_m = dL/dc through m.
    std::vector<T> tanh_c_hat;
    const std::vector<T> dc_from_m = cell_output_backward(w, dw, H, &trace.c[at * H], gates + 3 * H, dm, tanh_c_hat);
    for (int64_t u = 0; u < H; ++u) {
      const T i = gates[u], f = gates[H + u], g = gates[2 * H + u], o = gates[3 * H + u];
      const T c = trace.c[at * H + u], c_prev = trace.c_prev[at * H + u], tanh_c = tanh_c_hat[u];
      const T da_o = dm[u] * tanh_c * o * (T(1) - o);
      T dc_total = dc[u] + dc_from_m[u];
      if (w.peephole) dc_total += w.peephole[2 * H + u] * da_o;  // a_o = ... + p_o c
      // c = f c_prev + i g
      const T da_i = dc_total * g * i * (T(1) - i);
      const T da_f = dc_total * c_prev * f * (T(1) - f);
      const T da_g = dc_total * i * (T(1) - g * g);
      T dc_prev = dc_total * f;
      if (w.peephole) {  // a_i = ... + p_i c_prev, a_f = ... + p_f c_prev
        dc_prev += w.peephole[u] * da_i + w.peephole[H + u] * da_f;
        dw.peephole[u] += da_i * c_prev;
        dw.peephole[H + u] += da_f * c_prev;
        dw.peephole[2 * H + u] += da_o * c;
      }
      dc[u] = dc_prev;
      d_gi[u] = da_i, d_gi[H + u] = da_f, d_gi[2 * H + u] = da_g, d_gi[3 * H + u] = da_o;
    }
    d_gh = d_gi;  // a = gi + gh: both parts get the same gradient
    if (w.ln_ih) {  // through the two normalisations; they take the biases' gradients too
      layer_norm_parts_backward(w, dw, G * H, in, hout, x, h_prev, trace, at, d_gi, dx, dh_prev);
      dh = dh_prev;
      return;
    }
  } else if (config.cell == CellType::gru && config.reset_before) {
    // The n rows of W_hh multiply rh = r ⊙ h_prev: handled here, and left out of affine_backward.
    std::vector<T> da_n(H), d_rh(H, T(0));
    for (int64_t u = 0; u < H; ++u) {
      const T z = gates[H + u], n = gates[2 * H + u];
      const T dn = dh[u] * (T(1) - z);
      const T dz = dh[u] * (h_prev[u] - n);
      dh_prev[u] += dh[u] * z;
      da_n[u] = dn * (T(1) - n * n);
      d_gi[H + u] = d_gh[H + u] = dz * z * (T(1) - z);
      d_gi[2 * H + u] = da_n[u];
      d_gh[2 * H + u] = T(0);
    }
    for (int64_t u = 0; u < H; ++u) {
      if (dw.b_hh) dw.b_hh[2 * H + u] += da_n[u];
      for (int64_t p = 0; p < H; ++p) {
        dw.w_hh[(2 * H + u) * H + p] += da_n[u] * trace.hn_lin[at * H + p];
        d_rh[p] += w.w_hh[(2 * H + u) * H + p] * da_n[u];
      }
    }
    for (int64_t u = 0; u < H; ++u) {
      const T r = gates[u];
      dh_prev[u] += d_rh[u] * r;
      d_gi[u] = d_gh[u] = d_rh[u] * h_prev[u] * r * (T(1) - r);
    }
  } else if (config.cell == CellType::gru) {
    for (int64_t u = 0; u < H; ++u) {
      const T r = gates[u], z = gates[H + u], n = gates[2 * H + u],
              hn_lin = trace.hn_lin[at * H + u];
      // h = (1 - z) n + z h_prev
      const T dn = dh[u] * (T(1) - z);
      const T dz = dh[u] * (h_prev[u] - n);
      dh_prev[u] += dh[u] * z;
      // n = tanh(gi_n + r hn_lin)
      const T da_n = dn * (T(1) - n * n);
      const T dr = da_n * hn_lin;
      d_gi[u] = d_gh[u] = dr * r * (T(1) - r);
      d_gi[H + u] = d_gh[H + u] = dz * z * (T(1) - z);
      d_gi[2 * H + u] = da_n;
      d_gh[2 * H + u] = da_n * r;
    }
  } else {  // rnn: h = act(a)
    for (int64_t u = 0; u < H; ++u) {
      const T h = gates[u];
      const T act_prime =
          config.cell == CellType::rnn_relu ? (h > T(0) ? T(1) : T(0)) : T(1) - h * h;
      d_gi[u] = d_gh[u] = dh[u] * act_prime;
    }
  }
  affine_backward(w, dw, G * H, in, hout, x, h_prev, d_gi, d_gh, dx, dh_prev);
  dh = dh_prev;
}

// Gradients of Σ(output ⊙ dY) + Σ(h_n ⊙ dh_n) + Σ(c_n ⊙ dc_n) for the run in `fwd`. Any of
// dY [T, B, Hcat], dh_n [L*D, B, Hout], dc_n [L*D, B, H] may be empty (zeros).
template <typename T>
Gradients<T> naive_backward(std::span<const T> params, const ForwardResult<T>& fwd,
                            std::span<const T> dY, std::span<const T> dh_n,
                            std::span<const T> dc_n) {
  const NetworkConfig& config = fwd.config;
  const Dims dim = dims_of(config, fwd.seq_len, fwd.batch);
  const int64_t H = dim.hidden, hout = dim.hout, D = dim.directions, L = dim.layers, B = fwd.batch;
  const int64_t hcat = dim.hcat(), seq_len = fwd.seq_len;
  std::span<T> mutable_params(const_cast<T*>(params.data()), params.size());  // read only below

  Gradients<T> grads;
  grads.params.assign(params.size(), T(0));
  grads.h0.assign(L * D * B * hout, T(0));
  if (config.has_cell_state()) grads.c0.assign(L * D * B * H, T(0));

  // d_output: dL/d(layer k's output), [T, B, Hcat]; starts as dY for the last layer.
  std::vector<T> d_output(seq_len * B * hcat, T(0));
  if (!dY.empty()) d_output.assign(dY.begin(), dY.end());

  for (int64_t k = L - 1; k >= 0; --k) {
    const int64_t in = config.layer_input_size(k);
    const std::vector<T>& layer_input = fwd.layer_inputs[k];
    std::vector<T> d_input(seq_len * B * in, T(0));  // [T, B, in_k]
    // Highway gate: the cells get t ⊙ dL/dy; da = dL/dy ⊙ (h − x) ⊙ t(1 − t) goes to W_t, b_t and x.
    std::vector<T> d_cells = d_output, d_gate;
    if (config.highway && k > 0) {
      const auto [dw_t, db_t] = highway_params(config, std::span<T>(grads.params), k);
      const std::vector<T>& gate = fwd.highway_gate[k];
      const std::vector<T>& cells = fwd.highway_cells[k];
      d_gate.assign(d_output.size(), T(0));
      for (int64_t r = 0; r < seq_len * B; ++r)
        for (int64_t j = 0; j < hcat; ++j) {
          const int64_t e = r * hcat + j;
          d_cells[e] = gate[e] * d_output[e];
          d_gate[e] = d_output[e] * (cells[e] - layer_input[e]) * gate[e] * (T(1) - gate[e]);
          db_t[j] += d_gate[e];
          for (int64_t i = 0; i < hcat; ++i) dw_t[j * hcat + i] += d_gate[e] * layer_input[r * hcat + i];
        }
    }
    for (int64_t d = 0; d < D; ++d) {
      const int64_t row = k * D + d;
      const CellParams<T> w = cell_params(config, mutable_params, k, d);
      CellParams<T> dw = cell_params(config, std::span<T>(grads.params), k, d);
      const DirectionTrace<T>& trace = fwd.traces[row];
      for (int64_t b = 0; b < B; ++b) {
        std::vector<T> dh(hout, T(0)), dc(H, T(0));
        if (!dh_n.empty())
          for (int64_t p = 0; p < hout; ++p) dh[p] = dh_n[(row * B + b) * hout + p];
        if (!dc_n.empty() && config.has_cell_state())
          for (int64_t u = 0; u < H; ++u) dc[u] = dc_n[(row * B + b) * H + u];
        const int64_t len = fwd.lengths[b];
        for (int64_t s = len - 1; s >= 0; --s) {  // the direction's steps, last first
          const int64_t t = step_time(d, s, len);
          for (int64_t p = 0; p < hout; ++p) dh[p] += d_cells[(t * B + b) * hcat + d * hout + p];
          // Zoneout: a held unit's gradient goes straight to the previous state, not the cell.
          std::vector<T> dh_held(hout, T(0)), dc_held(H, T(0));
          if (fwd.zoneout_active) {
            for (int64_t p = 0; p < hout; ++p)
              if (zoneout_holds(fwd.dropout_seed, k, d, 0, (t * B + b) * hout + p, config.zoneout))
                std::swap(dh[p], dh_held[p]);
            for (int64_t u = 0; u < H && config.has_cell_state(); ++u)
              if (zoneout_holds(fwd.dropout_seed, k, d, 1, (t * B + b) * H + u, config.zoneout))
                std::swap(dc[u], dc_held[u]);
          }
          cell_backward(config, dim, w, dw, in, &layer_input[(t * B + b) * in], trace, t * B + b,
                        dh, dc, &d_input[(t * B + b) * in]);
          for (int64_t p = 0; p < hout; ++p) dh[p] += dh_held[p];
          for (int64_t u = 0; u < H && config.has_cell_state(); ++u) dc[u] += dc_held[u];
        }
        for (int64_t p = 0; p < hout; ++p) grads.h0[(row * B + b) * hout + p] = dh[p];
        if (config.has_cell_state())
          for (int64_t u = 0; u < H; ++u) grads.c0[(row * B + b) * H + u] = dc[u];
      }
    }
    if (config.residual && k > 0)
      for (size_t e = 0; e < d_input.size(); ++e) d_input[e] += d_output[e];
    if (config.highway && k > 0) {  // dL/dx += (1 − t) ⊙ dL/dy + W_tᵀ da
      const T* w_t = highway_params(config, mutable_params, k).first;
      const std::vector<T>& gate = fwd.highway_gate[k];
      for (int64_t r = 0; r < seq_len * B; ++r)
        for (int64_t i = 0; i < hcat; ++i) {
          T sum = (T(1) - gate[r * hcat + i]) * d_output[r * hcat + i];
          for (int64_t j = 0; j < hcat; ++j) sum += w_t[j * hcat + i] * d_gate[r * hcat + j];
          d_input[r * hcat + i] += sum;
        }
    }
    if (k == 0) {
      grads.input = std::move(d_input);
    } else {  // through the dropout that fed this layer: d_output of layer k-1
      d_output = std::move(d_input);
      if (fwd.dropout_active) {
        const T scale = T(1) / (T(1) - static_cast<T>(config.dropout));
        for (size_t e = 0; e < d_output.size(); ++e)
          d_output[e] =
              dropout_keep(fwd.dropout_seed, k - 1, e, config.dropout) ? d_output[e] * scale : T(0);
      }
    }
  }
  return grads;
}

}  // namespace lstm::naive
