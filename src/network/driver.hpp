// What forward.cpp and backward.cpp share: sizes, parameter views, state slots, thread counts.
#pragma once

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/random.hpp"
#include "core/thread_team.hpp"
#include "lstm/network.hpp"
#include "network/workspace.hpp"

namespace lstm::driver {

// Every size the loops need, derived once from the configuration and the call.
struct Dims {
  Dims(const NetworkConfig& c, int64_t steps, int64_t batch)
      : T(steps), B(batch), H(c.hidden_size), Hout(c.output_size()), Hcat(c.layer_output_size()),
        GH(gate_count(c.cell) * c.hidden_size), G(gate_count(c.cell)), P(c.proj_size),
        L(c.num_layers), D(c.directions()), lstm(c.cell == CellType::lstm),
        gru(c.cell == CellType::gru), proj(c.proj_size > 0) {}
  int64_t T, B, H, Hout, Hcat, GH, G, P, L, D;
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
  const int64_t per_direction =
      2 + (c.bias ? 2 : 0) + (c.proj_size > 0 ? 1 : 0) + (c.peephole ? 1 : 0);
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

template <typename T>
DirectionParams<const T> as_const(const DirectionParams<T>& p) {
  return {p.w_ih, p.w_hh, p.b_ih, p.b_hh, p.w_hr, p.peephole};
}

// The state slot before (after = false) or after step t, which is step `step` of the
// direction's order. Training keeps every state: forward slot t holds h_{t-1}; in reverse,
// slot t+1 precedes step t. Inference alternates two slots.
inline int64_t state_slot(bool training, int64_t direction, int64_t step, int64_t t, bool after) {
  if (!training) return (step + (after ? 1 : 0)) % 2;
  return direction == 0 ? t + (after ? 1 : 0) : t + (after ? 0 : 1);
}

template <typename T>
using State = typename Workspace<T>::State;

// [B] mask of the rows still inside their sequence at step t, or null when all are.
template <typename T>
const uint8_t* active_rows(const State<T>& s, int64_t t) {
  return s.step_has_inactive[static_cast<size_t>(t)] ? &s.active[static_cast<size_t>(t * s.batch)]
                                                      : nullptr;
}

// Columns [begin, end) of a [rows, width] block: copied from `from`, or zeroed when it is null.
template <typename T>
void copy_columns(const T* from, T* to, int64_t rows, int64_t width, int64_t begin, int64_t end) {
  for (int64_t r = 0; r < rows; ++r) {
    T* out = to + r * width + begin;
    if (from) std::memcpy(out, from + r * width + begin, sizeof(T) * static_cast<size_t>(end - begin));
    else std::fill(out, out + (end - begin), T(0));
  }
}

// The share of one direction's time loop that thread `index` of `count` owns: hidden units
// [u0, u1) of the cell (whole 32-unit panels), and columns [o0, o1) of h (of P with projection).
struct ThreadSlice {
  int64_t u0, u1, o0, o1;
};
inline ThreadSlice thread_slice(const Dims& d, int index, int count) {
  const auto [u0, u1] = split_range(d.H, count, index, 32);
  const auto [o0, o1] = d.proj ? split_range(d.P, count, index, 32) : std::pair{u0, u1};
  return {u0, u1, o0, o1};
}

// Threads worth using for one direction's time loop: each thread owns whole 32-unit panels,
// and a step must carry enough arithmetic to pay for a barrier.
inline int loop_threads(const Dims& d) {
  const int team = thread_team().size();
  const int64_t panels = (d.H + 31) / 32;
  const double step_flops = 2.0 * static_cast<double>(d.B * d.GH * d.Hout);
  if (panels < 2 || step_flops < 2.0e5) return 1;
  return static_cast<int>(std::min<int64_t>(team, panels));
}

// Whether the forward loop reads W_hh where it lies instead of packing it: with a batch of one,
// when each thread's share is over 1 MiB (half of a core's L2 here). Every step then streams that
// share from L3 either way, and packing would add a pass over all of it (lstm 1024/1024/1/25 runs
// about 12% faster in place); a share that stays in L2 is about 10% faster packed (256/256/1).
inline bool read_in_place(const Dims& d, int threads, size_t element_size) {
  const int64_t share_bytes = d.GH * d.Hout * static_cast<int64_t>(element_size) / threads;
  return d.B == 1 && share_bytes > (int64_t{1} << 20);
}

// Whether the input part of the gates is computed as W_ih xᵀ, with x packed as the panels and
// W_ih read once where it lies, instead of x W_ihᵀ by the BLAS: for at most two panels of rows
// (T*B ≤ 64) and W_ih [G*H, in] of at least 2^18 weights. There the BLAS packs all of W_ih for
// each thread's handful of rows, while this reads each thread's share once (lstm 1024/1024/1/25
// infer: 10.3 → 8.8 ms). A smaller W_ih stays in cache, and the BLAS is as fast or faster.
inline bool input_by_weight_rows(const Dims& d, int64_t in) {
  return d.T * d.B <= 2 * PackedWeights<float>::kPanel && d.GH * in >= (int64_t{1} << 18);
}

// Inverted dropout on a layer's output [T, B, Hcat] (forward), or on its gradient (backward).
template <typename T>
void apply_dropout(T* values, int64_t count, uint64_t seed, int64_t layer, double p) {
  const T scale = static_cast<T>(1.0 / (1.0 - p));
  for (int64_t k = 0; k < count; ++k)
    values[k] = dropout_keep(seed, layer, static_cast<uint64_t>(k), p) ? values[k] * scale : T(0);
}

// Row `row` of an [L*D, B, width] state tensor, or null.
template <typename T>
T* state_row(T* states, int64_t row, int64_t width, int64_t batch) {
  return states ? states + row * batch * width : nullptr;
}

}  // namespace lstm::driver
