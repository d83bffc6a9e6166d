// The driver: runs cells over layers, directions, steps and variable lengths, and owns every
// GEMM — the input GEMM over all steps before the time loop, one recurrent GEMM per step,
// and the weight-gradient GEMMs over all steps after the backward loop (DESIGN.md).
#include <algorithm>
#include <cstring>
#include <string>
#include <utility>

#include "cells/cell.hpp"
#include "core/blas.hpp"
#include "core/random.hpp"
#include "lstm/error.hpp"
#include "network/workspace.hpp"

namespace lstm {

template <typename T>
Workspace<T>::Workspace() : state(std::make_unique<State>()) {}
template <typename T>
Workspace<T>::~Workspace() = default;
template <typename T>
Workspace<T>::Workspace(Workspace&&) noexcept = default;
template <typename T>
Workspace<T>& Workspace<T>::operator=(Workspace&&) noexcept = default;

namespace {

// Every size the loops need, derived once from the configuration and the call.
struct Dims {
  Dims(const NetworkConfig& c, int64_t steps, int64_t batch)
      : T(steps), B(batch), H(c.hidden_size), Hout(c.output_size()), Hcat(c.layer_output_size()),
        GH(gate_count(c.cell) * c.hidden_size), P(c.proj_size), L(c.num_layers), D(c.directions()),
        lstm(c.cell == CellType::lstm), gru(c.cell == CellType::gru), proj(c.proj_size > 0) {}
  int64_t T, B, H, Hout, Hcat, GH, P, L, D;
  bool lstm, gru, proj;
};

// One layer-direction's parameters, or their gradients, inside a flat buffer.
template <typename T>
struct DirectionParams {
  T* w_ih = nullptr;      // [G*H, in]
  T* w_hh = nullptr;      // [G*H, Hout]
  T* b_ih = nullptr;      // [G*H] or null
  T* b_hh = nullptr;      // [G*H] or null
  T* w_hr = nullptr;      // [P, H] or null
  T* peephole = nullptr;  // [3H] or null
};

// parameter_layout() lists each direction's tensors contiguously in this order.
template <typename T>
DirectionParams<T> direction_params(const std::vector<ParameterInfo>& layout,
                                    const NetworkConfig& c, int64_t layer, int64_t direction,
                                    T* base) {
  const int64_t per_direction = 2 + (c.bias ? 2 : 0) + (c.proj_size > 0 ? 1 : 0) + (c.peephole ? 1 : 0);
  auto info = layout.begin() + (layer * c.directions() + direction) * per_direction;
  DirectionParams<T> p;
  p.w_ih = base + (info++)->offset;
  p.w_hh = base + (info++)->offset;
  if (c.bias) {
    p.b_ih = base + (info++)->offset;
    p.b_hh = base + (info++)->offset;
  }
  if (c.proj_size > 0) p.w_hr = base + (info++)->offset;
  if (c.peephole) p.peephole = base + info->offset;
  return p;
}

// The state slot before (after = false) or after step t, which is step `step` of the direction's
// order. Training keeps every state: forward slot t is h_{t-1}; reverse slot t+1 precedes step
// t. Inference alternates two slots.
int64_t state_slot(bool training, int64_t direction, int64_t step, int64_t t, bool after) {
  if (!training) return (step + (after ? 1 : 0)) % 2;
  return direction == 0 ? t + (after ? 1 : 0) : t + (after ? 0 : 1);
}

template <typename T>
void copy_rows(const T* from, T* to, int64_t count) {
  if (from) std::memcpy(to, from, sizeof(T) * static_cast<size_t>(count));
  else std::fill(to, to + count, T(0));
}

// out[j] += Σ_rows m[row, j]
template <typename T>
void add_column_sums(const T* m, int64_t rows, int64_t cols, T* out) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j) out[j] += m[r * cols + j];
}

// Inverted dropout on a layer's output [T, B, Hcat] (forward), or on its gradient (backward).
template <typename T>
void apply_dropout(T* values, int64_t count, uint64_t seed, int64_t layer, double p) {
  const T scale = static_cast<T>(1.0 / (1.0 - p));
  for (int64_t k = 0; k < count; ++k)
    values[k] = dropout_keep(seed, layer, static_cast<uint64_t>(k), p) ? values[k] * scale : T(0);
}

template <typename T>
using State = typename Workspace<T>::State;

// Lays out the forward buffers for this call shape (allocating only when they must grow).
template <typename T>
void lay_out_forward(State<T>& s, const NetworkConfig& c, const Dims& d, Mode mode) {
  const bool training = mode == Mode::training;
  const int64_t slots = training ? d.T + 1 : 2;
  const int64_t kept = training ? d.T : 1;
  const int64_t per_direction = d.T * d.B * d.GH + slots * d.B * d.Hout +
                                (d.lstm ? slots * d.B * d.H : 0) + (d.proj ? kept * d.B * d.H : 0) +
                                (d.gru ? kept * d.B * d.H : 0);
  const int64_t direction_sets = training ? d.L * d.D : 1;
  const int64_t layer_buffers = training ? d.L - 1 : std::min<int64_t>(d.L - 1, 2);
  s.saved.resize(static_cast<size_t>(direction_sets * per_direction + layer_buffers * d.T * d.B * d.Hcat));
  s.recurrent.resize(static_cast<size_t>(d.B * d.GH));

  T* next = s.saved.data();
  auto take = [&next](int64_t count) { T* p = next; next += count; return p; };
  s.directions.assign(static_cast<size_t>(d.L * d.D), {});
  for (int64_t k = 0; k < direction_sets; ++k) {
    DirectionBuffers<T>& buf = s.directions[static_cast<size_t>(k)];
    buf.gates = take(d.T * d.B * d.GH);
    buf.h_states = take(slots * d.B * d.Hout);
    if (d.lstm) buf.c_states = take(slots * d.B * d.H);
    if (d.proj) buf.cell_out = take(kept * d.B * d.H);
    if (d.gru) buf.gru_saved = take(kept * d.B * d.H);
  }
  // Inference runs one direction at a time, so every direction shares the first set.
  for (auto& buf : s.directions) if (!training) buf = s.directions[0];
  s.layer_inputs.assign(static_cast<size_t>(d.L), nullptr);
  for (int64_t layer = 1; layer < d.L; ++layer) {
    s.layer_inputs[static_cast<size_t>(layer)] =
        training || layer <= 2 ? take(d.T * d.B * d.Hcat) : s.layer_inputs[static_cast<size_t>(layer - 2)];
  }
  s.config = c;
  s.mode = mode;
  s.steps = d.T;
  s.batch = d.B;
}

// Everything one direction of one layer needs for its forward loop.
template <typename T>
struct DirectionForward {
  const Dims& d;
  const CellKernels<T>& kernels;
  const State<T>& s;
  DirectionParams<const T> params;
  DirectionBuffers<T> buf;
  bool training;
  int64_t direction;
  const T* x;         // [T, B, in] layer input
  int64_t in;
  T* y;               // [T, B, Hcat] layer output; this direction writes columns [dir*Hout, +Hout)
  const T* h0;        // [B, Hout] or null
  const T* c0;        // [B, H] or null
  T* h_n;             // [B, Hout] or null
  T* c_n;             // [B, H] or null
};

template <typename T>
const uint8_t* active_rows(const State<T>& s, int64_t t) {
  return s.step_has_inactive[static_cast<size_t>(t)] ? &s.active[static_cast<size_t>(t * s.batch)] : nullptr;
}

template <typename T>
void forward_direction(const DirectionForward<T>& f) {
  const Dims& d = f.d;
  const DirectionParams<const T>& p = f.params;
  const DirectionBuffers<T>& buf = f.buf;
  const int64_t rows = d.T * d.B;

  // Input part of every step in one GEMM: gates = x W_ihᵀ + b_ih     [T*B, G*H]
  if (p.b_ih) {
    for (int64_t r = 0; r < rows; ++r) std::memcpy(buf.gates + r * d.GH, p.b_ih, sizeof(T) * static_cast<size_t>(d.GH));
  }
  gemm<T>(false, true, rows, d.GH, f.in, T(1), f.x, f.in, p.w_ih, f.in, p.b_ih ? T(1) : T(0), buf.gates, d.GH);

  const int64_t first_t = f.direction == 0 ? 0 : d.T - 1;
  const int64_t first_slot = state_slot(f.training, f.direction, 0, first_t, false);
  copy_rows(f.h0, buf.h_states + first_slot * d.B * d.Hout, d.B * d.Hout);
  if (d.lstm) copy_rows(f.c0, buf.c_states + first_slot * d.B * d.H, d.B * d.H);

  T* recurrent = const_cast<T*>(f.s.recurrent.data());
  for (int64_t step = 0; step < d.T; ++step) {
    const int64_t t = f.direction == 0 ? step : d.T - 1 - step;
    const int64_t prev = state_slot(f.training, f.direction, step, t, false);
    const int64_t next = state_slot(f.training, f.direction, step, t, true);
    const int64_t kept = f.training ? t : 0;
    const uint8_t* active = active_rows<T>(f.s, t);
    T* h_prev = buf.h_states + prev * d.B * d.Hout;
    T* h_next = buf.h_states + next * d.B * d.Hout;

    // Recurrent part: h_{t-1} W_hhᵀ     [B, G*H]
    gemm<T>(false, true, d.B, d.GH, d.Hout, T(1), h_prev, d.Hout, p.w_hh, d.Hout, T(0), recurrent, d.GH);

    CellForward<T> cell;
    cell.batch = d.B;
    cell.hidden = d.H;
    cell.active = active;
    cell.gates = buf.gates + t * d.B * d.GH;
    cell.recurrent = recurrent;
    cell.bias_hh = p.b_hh;
    cell.h_prev = h_prev;
    if (d.lstm) {
      cell.c_prev = buf.c_states + prev * d.B * d.H;
      cell.c = buf.c_states + next * d.B * d.H;
    }
    cell.h = d.proj ? buf.cell_out + kept * d.B * d.H : h_next;
    if (d.gru) cell.saved = buf.gru_saved + kept * d.B * d.H;
    cell.peephole = p.peephole;
    f.kernels.forward(cell);

    // Projection: h_t = (o⊙tanh c_t) W_hrᵀ     [B, P]
    if (d.proj) gemm<T>(false, true, d.B, d.P, d.H, T(1), cell.h, d.H, p.w_hr, d.H, T(0), h_next, d.P);

    for (int64_t b = 0; b < d.B; ++b) {
      T* out = f.y + (t * d.B + b) * d.Hcat + f.direction * d.Hout;
      if (active && !active[b]) {
        // Past this sequence's end: the state is carried, the output is zero.
        std::memcpy(h_next + b * d.Hout, h_prev + b * d.Hout, sizeof(T) * static_cast<size_t>(d.Hout));
        if (d.lstm) std::memcpy(cell.c + b * d.H, cell.c_prev + b * d.H, sizeof(T) * static_cast<size_t>(d.H));
        if (d.proj) std::fill(cell.h + b * d.H, cell.h + (b + 1) * d.H, T(0));
        std::fill(out, out + d.Hout, T(0));
      } else {
        std::memcpy(out, h_next + b * d.Hout, sizeof(T) * static_cast<size_t>(d.Hout));
      }
    }
  }

  const int64_t last_t = f.direction == 0 ? d.T - 1 : 0;
  const int64_t last_slot = state_slot(f.training, f.direction, d.T - 1, last_t, true);
  if (f.h_n) copy_rows(buf.h_states + last_slot * d.B * d.Hout, f.h_n, d.B * d.Hout);
  if (f.c_n && d.lstm) copy_rows(buf.c_states + last_slot * d.B * d.H, f.c_n, d.B * d.H);
}

// Backward-only scratch, laid out after the forward buffers.
template <typename T>
struct BackwardScratch {
  T* dgates;     // [T, B, G*H] dL/d(input part)
  T* dgates_hh;  // [T, B, G*H] dL/d(recurrent part); == dgates unless GRU
  T* d_layer[2]; // [T, B, Hcat] gradients of layer outputs/inputs, alternating by layer
  T* dh[2];      // [B, Hout] dL/dh after and before the current step
  T* dh_step;    // [T, B, Hout] dL/dh_t from above and from the future, zero past the end
  T* dc;         // [B, H] dL/dc (LSTM)
  T* dm;         // [B, H] dL/d(o⊙tanh c) (projection)
};

template <typename T>
BackwardScratch<T> lay_out_backward(State<T>& s, const Dims& d) {
  const int64_t gates = d.T * d.B * d.GH;
  s.backward.resize(static_cast<size_t>(gates * (d.gru ? 2 : 1) + 2 * d.T * d.B * d.Hcat + 2 * d.B * d.Hout +
                                        d.T * d.B * d.Hout + 2 * d.B * d.H));
  T* next = s.backward.data();
  auto take = [&next](int64_t count) { T* p = next; next += count; return p; };
  BackwardScratch<T> scratch;
  scratch.dgates = take(gates);
  scratch.dgates_hh = d.gru ? take(gates) : scratch.dgates;
  scratch.d_layer[0] = take(d.T * d.B * d.Hcat);
  scratch.d_layer[1] = take(d.T * d.B * d.Hcat);
  scratch.dh[0] = take(d.B * d.Hout);
  scratch.dh[1] = take(d.B * d.Hout);
  scratch.dh_step = take(d.T * d.B * d.Hout);
  scratch.dc = take(d.B * d.H);
  scratch.dm = take(d.B * d.H);
  return scratch;
}

template <typename T>
struct DirectionBackward {
  const Dims& d;
  const CellKernels<T>& kernels;
  const State<T>& s;
  const BackwardScratch<T>& scratch;
  DirectionParams<const T> params;
  DirectionParams<T> grads;
  DirectionBuffers<T> buf;
  int64_t direction;
  const T* x;            // [T, B, in] the layer's input in forward
  int64_t in;
  const T* d_out;        // [T, B, Hcat] dL/d(layer output)
  T* d_in;               // [T, B, in] dL/d(layer input), or null to skip
  bool accumulate_d_in;  // the second direction adds to the first's
  const T* grad_h_n;     // [B, Hout] or null
  const T* grad_c_n;     // [B, H] or null
  T* grad_h0;            // [B, Hout] or null
  T* grad_c0;            // [B, H] or null
};

template <typename T>
void backward_direction(const DirectionBackward<T>& g) {
  const Dims& d = g.d;
  const BackwardScratch<T>& sc = g.scratch;
  const DirectionParams<const T>& p = g.params;
  const DirectionBuffers<T>& buf = g.buf;
  const int64_t rows = d.T * d.B;
  T* dh_after = sc.dh[0];   // dL/dh_t flowing back from later steps
  T* dh_before = sc.dh[1];  // dL/dh_{t-1}, being computed
  copy_rows(g.grad_h_n, dh_after, d.B * d.Hout);
  if (d.lstm) copy_rows(g.grad_c_n, sc.dc, d.B * d.H);

  for (int64_t step = d.T - 1; step >= 0; --step) {
    const int64_t t = g.direction == 0 ? step : d.T - 1 - step;
    const int64_t prev = state_slot(true, g.direction, step, t, false);
    const int64_t next = state_slot(true, g.direction, step, t, true);
    const uint8_t* active = active_rows<T>(g.s, t);

    // dL/dh_t = from the layer's output + from step t+1; zero on rows past their end.
    T* dh_step = sc.dh_step + t * d.B * d.Hout;
    for (int64_t b = 0; b < d.B; ++b) {
      T* row = dh_step + b * d.Hout;
      if (active && !active[b]) {
        std::fill(row, row + d.Hout, T(0));
        continue;
      }
      const T* from_output = g.d_out + (t * d.B + b) * d.Hcat + g.direction * d.Hout;
      const T* from_future = dh_after + b * d.Hout;
      for (int64_t j = 0; j < d.Hout; ++j) row[j] = from_output[j] + from_future[j];
    }
    // Through the projection: dL/d(o⊙tanh c) = dh W_hr     [B, H]
    if (d.proj) gemm<T>(false, false, d.B, d.H, d.P, T(1), dh_step, d.P, p.w_hr, d.H, T(0), sc.dm, d.H);

    CellBackward<T> cell;
    cell.batch = d.B;
    cell.hidden = d.H;
    cell.active = active;
    cell.gates = buf.gates + t * d.B * d.GH;
    cell.dgates = sc.dgates + t * d.B * d.GH;
    cell.dgates_hh = sc.dgates_hh + t * d.B * d.GH;
    cell.dh = d.proj ? sc.dm : dh_step;
    if (d.lstm) {
      cell.dc = sc.dc;
      cell.c_prev = buf.c_states + prev * d.B * d.H;
      cell.c = buf.c_states + next * d.B * d.H;
    }
    cell.h_prev = buf.h_states + prev * d.B * d.Hout;
    cell.dh_prev = dh_before;
    if (d.gru) cell.saved = buf.gru_saved + t * d.B * d.H;
    cell.peephole = p.peephole;
    cell.dpeephole = g.grads.peephole;
    g.kernels.backward(cell);

    // dL/dh_{t-1} = dgates_hh W_hh (+ the cell's direct path)     [B, Hout]
    gemm<T>(false, false, d.B, d.Hout, d.GH, T(1), cell.dgates_hh, d.GH, p.w_hh, d.Hout,
            g.kernels.direct_hidden_path ? T(1) : T(0), dh_before, d.Hout);
    if (active) {
      for (int64_t b = 0; b < d.B; ++b) {
        if (!active[b]) std::memcpy(dh_before + b * d.Hout, dh_after + b * d.Hout, sizeof(T) * static_cast<size_t>(d.Hout));
      }
    }
    std::swap(dh_after, dh_before);
  }
  if (g.grad_h0) copy_rows(dh_after, g.grad_h0, d.B * d.Hout);
  if (g.grad_c0 && d.lstm) copy_rows(sc.dc, g.grad_c0, d.B * d.H);

  // Weight gradients over all steps at once.
  // dW_ih += dgatesᵀ x     [G*H, in]
  gemm<T>(true, false, d.GH, g.in, rows, T(1), sc.dgates, d.GH, g.x, g.in, T(1), g.grads.w_ih, g.in);
  // dW_hh += dgates_hhᵀ h_prev, where h_prev in time order starts at slot 0 (forward) or 1 (reverse)
  const T* h_prev_all = buf.h_states + (g.direction == 0 ? 0 : d.B * d.Hout);
  gemm<T>(true, false, d.GH, d.Hout, rows, T(1), sc.dgates_hh, d.GH, h_prev_all, d.Hout, T(1), g.grads.w_hh, d.Hout);
  if (g.grads.b_ih) {
    add_column_sums<T>(sc.dgates, rows, d.GH, g.grads.b_ih);
    add_column_sums<T>(sc.dgates_hh, rows, d.GH, g.grads.b_hh);
  }
  // dW_hr += dhᵀ (o⊙tanh c)     [P, H]
  if (d.proj) gemm<T>(true, false, d.P, d.H, rows, T(1), sc.dh_step, d.P, buf.cell_out, d.H, T(1), g.grads.w_hr, d.H);
  // dL/dx = dgates W_ih     [T*B, in]
  if (g.d_in) gemm<T>(false, false, rows, g.in, d.GH, T(1), sc.dgates, d.GH, p.w_ih, g.in, g.accumulate_d_in ? T(1) : T(0), g.d_in, g.in);
}

template <typename T>
const T* state_row(const T* states, int64_t row, int64_t width, int64_t batch) {
  return states ? states + row * batch * width : nullptr;
}
template <typename T>
T* state_row(T* states, int64_t row, int64_t width, int64_t batch) {
  return states ? states + row * batch * width : nullptr;
}

}  // namespace

template <typename T>
void Network<T>::forward(Mode mode, const ForwardArgs<T>& a, Workspace<T>& workspace) const {
  if (a.seq_len < 1 || a.batch < 1)
    throw Error("forward: sequence length and batch must be at least 1, got T=" + std::to_string(a.seq_len) +
                " B=" + std::to_string(a.batch));
  if (!a.input || !a.output) throw Error("forward: input and output buffers are required");
  const Dims d(config_, a.seq_len, a.batch);
  State<T>& s = *workspace.state;
  s.has_training_forward = false;

  s.active.assign(static_cast<size_t>(d.T * d.B), 1);
  s.step_has_inactive.assign(static_cast<size_t>(d.T), 0);
  if (a.lengths) {
    for (int64_t b = 0; b < d.B; ++b) {
      const int64_t length = a.lengths[b];
      if (length < 1 || length > d.T)
        throw Error("forward: lengths[" + std::to_string(b) + "] = " + std::to_string(length) +
                    " is outside 1.." + std::to_string(d.T));
      for (int64_t t = length; t < d.T; ++t) {
        s.active[static_cast<size_t>(t * d.B + b)] = 0;
        s.step_has_inactive[static_cast<size_t>(t)] = 1;
      }
    }
  }
  lay_out_forward<T>(s, config_, d, mode);

  const bool training = mode == Mode::training;
  const CellKernels<T> kernels = cell_kernels<T>(config_);
  T* base = const_cast<T*>(parameters_.data());
  for (int64_t layer = 0; layer < d.L; ++layer) {
    const T* x = layer == 0 ? a.input : s.layer_inputs[static_cast<size_t>(layer)];
    T* y = layer == d.L - 1 ? a.output : s.layer_inputs[static_cast<size_t>(layer + 1)];
    for (int64_t direction = 0; direction < d.D; ++direction) {
      const int64_t row = layer * d.D + direction;
      const DirectionParams<T> p = direction_params(layout_, config_, layer, direction, base);
      DirectionForward<T> f{d, kernels, s,
                            {p.w_ih, p.w_hh, p.b_ih, p.b_hh, p.w_hr, p.peephole},
                            s.directions[static_cast<size_t>(row)], training, direction, x,
                            config_.layer_input_size(layer), y,
                            state_row(a.h0, row, d.Hout, d.B), state_row(a.c0, row, d.H, d.B),
                            state_row(a.h_n, row, d.Hout, d.B), state_row(a.c_n, row, d.H, d.B)};
      forward_direction(f);
    }
    if (training && config_.dropout > 0 && layer < d.L - 1)
      apply_dropout(y, d.T * d.B * d.Hcat, a.dropout_seed, layer, config_.dropout);
  }
  if (training) {
    s.has_training_forward = true;
    s.network = this;
    s.input = a.input;
    s.dropout_seed = a.dropout_seed;
  }
}

template <typename T>
void Network<T>::backward(const BackwardArgs<T>& a, Workspace<T>& workspace) const {
  State<T>& s = *workspace.state;
  if (!s.has_training_forward || s.network != this)
    throw Error("backward: run forward in training mode with this network and workspace first");
  if (!a.grad_params) throw Error("backward: grad_params is required");
  const Dims d(config_, s.steps, s.batch);
  const BackwardScratch<T> scratch = lay_out_backward<T>(s, d);
  const CellKernels<T> kernels = cell_kernels<T>(config_);
  T* base = const_cast<T*>(parameters_.data());

  const int64_t layer_values = d.T * d.B * d.Hcat;
  const T* d_out = a.grad_output;
  if (!d_out) {
    T* zeros = scratch.d_layer[d.L % 2];
    std::fill(zeros, zeros + layer_values, T(0));
    d_out = zeros;
  }
  for (int64_t layer = d.L - 1; layer >= 0; --layer) {
    const T* x = layer == 0 ? s.input : s.layer_inputs[static_cast<size_t>(layer)];
    T* d_in = layer == 0 ? a.grad_input : scratch.d_layer[layer % 2];
    for (int64_t direction = 0; direction < d.D; ++direction) {
      const int64_t row = layer * d.D + direction;
      const DirectionParams<T> p = direction_params(layout_, config_, layer, direction, base);
      DirectionBackward<T> g{d, kernels, s, scratch,
                             {p.w_ih, p.w_hh, p.b_ih, p.b_hh, p.w_hr, p.peephole},
                             direction_params(layout_, config_, layer, direction, a.grad_params),
                             s.directions[static_cast<size_t>(row)], direction, x,
                             config_.layer_input_size(layer), d_out, d_in, direction > 0,
                             state_row(a.grad_h_n, row, d.Hout, d.B), state_row(a.grad_c_n, row, d.H, d.B),
                             state_row(a.grad_h0, row, d.Hout, d.B), state_row(a.grad_c0, row, d.H, d.B)};
      backward_direction(g);
    }
    if (layer > 0 && config_.dropout > 0) apply_dropout(d_in, layer_values, s.dropout_seed, layer - 1, config_.dropout);
    d_out = d_in;
  }
}

template class Workspace<float>;
template class Workspace<double>;
template void Network<float>::forward(Mode, const ForwardArgs<float>&, Workspace<float>&) const;
template void Network<double>::forward(Mode, const ForwardArgs<double>&, Workspace<double>&) const;
template void Network<float>::backward(const BackwardArgs<float>&, Workspace<float>&) const;
template void Network<double>::backward(const BackwardArgs<double>&, Workspace<double>&) const;

}  // namespace lstm
