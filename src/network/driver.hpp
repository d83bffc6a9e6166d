// What forward.cpp and backward.cpp share: sizes, parameter views, state slots, thread counts.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstring>
#include <mutex>
#include <vector>

#include "core/bf16_gemm.hpp"
#include "core/blas.hpp"
#include "core/random.hpp"
#include "core/thread_team.hpp"
#include "lstm/network.hpp"
#include "lstm/precision.hpp"
#include "network/workspace.hpp"

namespace lstm::driver {

// One thread's clock for PhaseSeconds: lap(&PhaseSeconds::cells) adds the time since the last lap
// to that phase, lap(nullptr) to none; the sums go to the counter when the clock is destroyed.
// Without a counter it reads no clock.
class PhaseClock {
 public:
  explicit PhaseClock(PhaseCounter& counter) : counter_(counter.into ? &counter : nullptr) {
    if (counter_) last_ = Clock::now();
  }
  ~PhaseClock() {
    if (!counter_) return;
    const std::lock_guard<std::mutex> lock(counter_->mutex);
    PhaseSeconds& into = *counter_->into;
    into.input_products += own_.input_products;
    into.recurrent_products += own_.recurrent_products;
    into.cells += own_.cells;
    into.weight_gradients += own_.weight_gradients;
    into.input_gradients += own_.input_gradients;
  }
  PhaseClock(const PhaseClock&) = delete;
  PhaseClock& operator=(const PhaseClock&) = delete;

  void lap(double PhaseSeconds::*phase) {
    if (!counter_) return;
    const Clock::time_point now = Clock::now();
    if (phase) own_.*phase += std::chrono::duration<double>(now - last_).count();
    last_ = now;
  }

 private:
  using Clock = std::chrono::steady_clock;
  PhaseCounter* counter_;
  PhaseSeconds own_;
  Clock::time_point last_;
};

// Every size the loops need, derived once from the configuration and the call.
struct Dims {
  Dims(const NetworkConfig& c, int64_t steps, int64_t batch)
      : T(steps), B(batch), H(c.hidden_size), Hout(c.output_size()), Hcat(c.layer_output_size()),
        GH(gate_count(c) * c.hidden_size), G(gate_count(c)), P(c.proj_size),
        L(c.num_layers), D(c.directions()), lstm(c.cell == CellType::lstm),
        gru(c.cell == CellType::gru), proj(c.proj_size > 0), peephole(c.peephole), layer_norm(c.layer_norm),
        reset_before(c.reset_before), zoneout(c.zoneout) {}
  int64_t T, B, H, Hout, Hcat, GH, G, P, L, D;
  bool lstm, gru, proj, peephole, layer_norm;
  bool reset_before;  // GRU: r⊙h_{t-1} W_hnᵀ, a second product per step (CellKernels::reset_gates)
  double zoneout;     // probability; applied in training only
  // Gate blocks of W_hh whose product with h_{t-1} (or dgates_hh) is the per-step product: all,
  // or r and z when the reset gate comes before the product (n's is a second product).
  int64_t hh_blocks() const { return reset_before ? 2 : G; }
};

// One layer-direction's parameters, or their gradients, inside a flat buffer.
template <typename T>
struct DirectionParams {
  T* w_ih = nullptr;      // [G*H, in]
  T* w_hh = nullptr;      // [G*H, Hout]
  T* b_ih = nullptr;      // [G*H] or null
  T* b_hh = nullptr;      // [G*H] or null
  T* w_hr = nullptr;      // [P, H] or null
  T* peephole = nullptr;  // [3H], [2H] (coupled gates) or null
  T* layer_norm = nullptr;  // [2GH+2H] γ_ih, γ_hh [G*H], γ_c, β_c [H], or null
};

// parameter_layout() lists each direction's tensors contiguously in this order.
template <typename T>
DirectionParams<T> direction_params(const std::vector<ParameterInfo>& layout,
                                    const NetworkConfig& c, int64_t layer, int64_t direction,
                                    T* base) {
  const int64_t per_direction =
      2 + (c.bias ? 2 : 0) + (c.proj_size > 0 ? 1 : 0) + (c.peephole ? 1 : 0) + (c.layer_norm ? 4 : 0);
  auto info = layout.begin() + (layer * c.directions() + direction) * per_direction;
  DirectionParams<T> p;
  p.w_ih = base + (info++)->offset;
  p.w_hh = base + (info++)->offset;
  if (c.bias) {
    p.b_ih = base + (info++)->offset;
    p.b_hh = base + (info++)->offset;
  }
  if (c.proj_size > 0) p.w_hr = base + (info++)->offset;
  if (c.peephole) p.peephole = base + (info++)->offset;
  if (c.layer_norm) p.layer_norm = base + info->offset;  // its four tensors are contiguous
  return p;
}

template <typename T>
DirectionParams<const T> as_const(const DirectionParams<T>& p) {
  return {p.w_ih, p.w_hh, p.b_ih, p.b_hh, p.w_hr, p.peephole, p.layer_norm};
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

// Rows [r0, r1), columns [begin, end) of a [rows, width] block: copied from `from`, or zeroed
// when it is null.
template <typename T>
void copy_block(const T* from, T* to, int64_t width, int64_t r0, int64_t r1, int64_t begin, int64_t end) {
  for (int64_t r = r0; r < r1; ++r) {
    T* out = to + r * width + begin;
    if (from) std::memcpy(out, from + r * width + begin, sizeof(T) * static_cast<size_t>(end - begin));
    else std::fill(out, out + (end - begin), T(0));
  }
}

// How the threads share one direction's time loop.
//
// By units: each thread owns whole 32-unit panels of every gate (and of the projection's
// columns) for every row, keeps its share of W_hh in its own L2, and meets the others at a
// barrier every step, where h is exchanged.
//
// By batch rows, when every thread has at least kBatchRowsPerThread rows and at most 128 KiB of
// packed weights per row: each thread then runs every unit for its own rows and reads all of the
// packed weights (from its L2, or streamed from L3 for a large W_hh over many rows), but needs no
// barrier inside the loop, nor h from another core. Measured here, against the split by units:
// lstm 128/128/32/100 infer 5.0 → 3.9 ms, train 16.1 → 12.7; lstm 512/512/64/50 and gru
// 512/512/64/50 train 2–3% faster; lstm 512/512/16/50 (512 KiB per row) 20% slower.
// Not with peepholes, whose gradient every row adds to. The layer-normalised LSTM needs every unit
// of a row in one thread: its loops are split by rows or run on one thread (layer_norm_plan); split
// by rows, each thread of its backward adds its rows' gain and bias gradients into a buffer of its
// own, and the threads sum those buffers after the loop (backward.cpp).
struct ThreadSlice {
  int64_t u0, u1, o0, o1;  // units of the cell and columns of h this thread computes each step
  int64_t b0, b1;          // for these rows of the batch
  int64_t pack_u0, pack_u1, pack_o0, pack_o1;  // its share of the work before the loop, by units
};

constexpr int64_t kBatchRowsPerThread = 8;

// How one direction's loop is shared: by batch rows or by units, over `threads` threads.
struct LoopPlan {
  bool by_batch;
  int threads;
};

// `team`: the threads available to the loop.
inline bool split_by_batch(const Dims& d, size_t element_size, int team) {
  const int64_t rows_per_thread = d.B / team;
  const int64_t packed = (d.GH * d.Hout + (d.proj ? d.P * d.H : 0)) * static_cast<int64_t>(element_size);
  return !d.peephole && rows_per_thread >= kBatchRowsPerThread &&
         packed <= rows_per_thread * (int64_t{128} << 10);
}

// Entries of one thread's gain and bias gradients when the layer-normalised LSTM's backward is
// split by rows: γ_ih, γ_hh [G*H], γ_c, β_c [H], then b_ih, b_hh [G*H] (LoopScratch::layer_norm_grads).
inline int64_t layer_norm_grads_width(const Dims& d) { return 4 * d.GH + 2 * d.H; }

// The layer-normalised LSTM's loop, forward and backward: split by rows whenever every thread
// gets kBatchRowsPerThread rows, whatever the size of the weights (the only other split it has is
// none), else one thread. Measured here (lstm bench --cell layer_norm, 2 threads, T = 50) against
// one thread for weights over split_by_batch's limit: 64/768/32 bf16 infer 23.0 → 15.4 ms, train
// 86.7 → 48.4; 1024/1024/64 fp32 infer 353 → 177, train 984 → 523.
inline LoopPlan layer_norm_plan(const Dims& d, int team) {
  const bool by_batch = team > 1 && d.B / team >= kBatchRowsPerThread;
  return {by_batch, by_batch ? static_cast<int>(std::min<int64_t>(team, d.B / kBatchRowsPerThread)) : 1};
}

inline ThreadSlice thread_slice(const Dims& d, bool by_batch, int index, int count) {
  const auto [u0, u1] = split_range(d.H, count, index, 32);
  const auto [o0, o1] = d.proj ? split_range(d.P, count, index, 32) : std::pair{u0, u1};
  if (!by_batch) return {u0, u1, o0, o1, 0, d.B, u0, u1, o0, o1};
  const auto [b0, b1] = split_range(d.B, count, index);
  return {0, d.H, 0, d.Hout, b0, b1, u0, u1, o0, o1};
}

// Threads worth using for one direction's time loop: by units, each thread owns whole 32-unit
// panels, and a step must carry enough arithmetic to pay for a barrier; by batch rows, each
// thread has at least kBatchRowsPerThread rows.
inline int loop_threads(const Dims& d, bool by_batch, int team) {
  if (by_batch) return static_cast<int>(std::min<int64_t>(team, d.B / kBatchRowsPerThread));
  const int64_t panels = (d.H + 31) / 32;
  const double step_flops = 2.0 * static_cast<double>(d.B * d.GH * d.Hout);
  if (panels < 2 || step_flops < 2.0e5) return 1;
  return static_cast<int>(std::min<int64_t>(team, panels));
}

// Runs the time loops of a layer's directions: one after the other on the whole team, or, with
// two directions and two threads or more, at once, each on half of the team. The directions
// share only what they read (the layer's input, the gradient of its output) and write separate
// columns of the output or separate gradients, and each loop's barriers then gather half as
// many threads. prepare(direction, threads available) → LoopPlan runs first, on the caller;
// then loop(direction, plan, index, threads) on each thread of the plan.
template <typename Direction, typename Prepare, typename Loop>
void run_directions(const Direction* directions, int64_t count, Prepare prepare, Loop loop) {
  ThreadTeam& team = thread_team();
  if (count == 1 || team.size() == 1) {
    for (int64_t k = 0; k < count; ++k) {
      const LoopPlan plan = prepare(directions[k], team.size());
      team.run(plan.threads, [&](int index, int threads) { loop(directions[k], plan, index, threads); });
    }
    return;
  }
  const int first_share = team.size() / 2;
  const LoopPlan plans[2] = {prepare(directions[0], first_share), prepare(directions[1], team.size() - first_share)};
  team.run(plans[0].threads + plans[1].threads, [&](int index, int) {
    const int k = index < plans[0].threads ? 0 : 1;
    loop(directions[k], plans[k], index - k * plans[0].threads, plans[k].threads);
  });
}

// Whether a training loop reads W_hh where it lies instead of packing it: in float, with a batch
// of one, when each thread's share is over 1 MiB (half of a core's L2 here). Every step then
// streams that share from L3 either way, and packing would add a pass over all of it in every
// call (lstm 1024/1024/1/25 train, 2 threads: 14.4–16.1 ms in place, 16.0–16.7 packed); a share
// that stays in L2 is about 10% faster packed (256/256/1). Inference always packs: the packed
// weights are kept for the next call from the same weights (LoopScratch::packed_for), and the
// packed panels stream faster than the rows in place (lstm 1024/1024/1/25 infer, 2 threads,
// 5.2–5.8 → 4.5–4.7 ms; the first call adds the packing, about 1.4 ms). With bf16 products the
// weights are packed in training too: half the bytes, so that generate's share of a 512-unit
// W_hh stays in L2 (15 100 characters a second instead of 8 700 in fp32's place).
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

// Whether each of `threads` threads computes the input part for its units of every gate over all
// rows, rather than its rows for every column: with fewer rows than gate columns, each then reads
// only its share of W_ih (input_by_weight_rows() goes first).
inline bool input_by_units(const Dims& d, int64_t in, int threads) {
  return threads > 1 && d.T * d.B < d.GH && !input_by_weight_rows(d, in);
}

// Whether a network of T's products with the weights take bf16 operands now: float networks
// while the matmul precision is bf16 (double ones never do).
template <typename T>
bool bf16_products() {
  return std::is_same_v<T, float> && matmul_precision() == MatmulPrecision::bf16;
}

// C (+)= op(A) op(B) for a product with weights or their gradient: by the BLAS, or with bf16
// operands (float sums) for float networks whose recurrent products are bf16 — then every
// product with W_ih, W_hh and their gradients is. With `bias` [n] (not accumulating), C =
// op(A) op(B) + bias in every row: the bf16 products add it as they store C.
template <typename T>
void weight_product(bool bf16, bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, const T* a,
                    int64_t lda, const T* b, int64_t ldb, bool accumulate, T* c, int64_t ldc,
                    const T* bias = nullptr) {
  if constexpr (std::is_same_v<T, float>) {
    if (bf16) return bf16::gemm(transpose_a, transpose_b, m, n, k, a, lda, b, ldb, accumulate, c, ldc, bias);
  }
  if (bias) {
    for (int64_t r = 0; r < m; ++r) std::copy(bias, bias + n, c + r * ldc);
    accumulate = true;
  }
  gemm<T>(transpose_a, transpose_b, m, n, k, T(1), a, lda, b, ldb, accumulate ? T(1) : T(0), c, ldc);
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
