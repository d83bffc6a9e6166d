// The forward driver: layers, directions, steps and variable lengths around the cells. It owns
// the GEMMs: the input part X W_ihᵀ of every step at once (as (W_ih Xᵀ)ᵀ when X has few rows),
// then per step h_{t-1} W_hhᵀ (and the projection). Each thread of the team owns a slice of the
// hidden units, or of the batch rows, for the whole time loop (ThreadSlice in driver.hpp); the
// two directions of a layer run at once, on half of the team each (run_directions). With int8
// products, the per-step products run fused with the cell (network/forward_int8.hpp).
#include <string>
#include <vector>

#include "cells/cell.hpp"
#include "core/blas.hpp"
#include "lstm/error.hpp"
#include "lstm/precision.hpp"
#include "network/driver.hpp"
#include "network/forward_int8.hpp"

namespace lstm {

using namespace driver;

template <typename T>
Workspace<T>::Workspace() : state(std::make_unique<State>()) {}
template <typename T>
Workspace<T>::~Workspace() = default;
template <typename T>
Workspace<T>::Workspace(Workspace&&) noexcept = default;
template <typename T>
Workspace<T>& Workspace<T>::operator=(Workspace&&) noexcept = default;

namespace {

// Lays out the forward buffers for this call shape (allocating only when they must grow).
template <typename T>
void lay_out_forward(State<T>& s, const Dims& d, Mode mode) {
  const bool training = mode == Mode::training;
  const int64_t slots = training ? d.T + 1 : 2;
  const int64_t kept = training ? d.T : 1;
  const int64_t per_direction = d.T * d.B * d.GH + slots * d.B * d.Hout +
                                (d.lstm ? slots * d.B * d.H : 0) + (d.proj ? kept * d.B * d.H : 0) +
                                (d.gru ? kept * d.B * d.H : 0) +
                                (d.layer_norm ? kept * d.B * layer_norm_saved_width(d.H, d.G) : 0) +
                                (training && d.zoneout > 0 && d.lstm ? d.T * d.B * d.H : 0);
  const int64_t direction_sets = training ? d.L * d.D : d.D;
  const int64_t layer_buffers = training ? d.L - 1 : std::min<int64_t>(d.L - 1, 2);
  s.saved.resize(static_cast<size_t>(direction_sets * per_direction +
                                     layer_buffers * d.T * d.B * d.Hcat + kLineSlack<T>));
  for (int64_t direction = 0; direction < d.D; ++direction)
    s.loops[direction].recurrent.resize(static_cast<size_t>(d.B * d.GH + kLineSlack<T>));

  T* next = first_line(s.saved.data());
  auto take = [&next](int64_t count) {
    T* p = next;
    next += count;
    return p;
  };
  s.directions.assign(static_cast<size_t>(d.L * d.D), {});
  for (int64_t k = 0; k < direction_sets; ++k) {
    DirectionBuffers<T>& buf = s.directions[static_cast<size_t>(k)];
    buf.gates = take(d.T * d.B * d.GH);
    buf.h_states = take(slots * d.B * d.Hout);
    if (d.lstm) buf.c_states = take(slots * d.B * d.H);
    if (d.proj) buf.cell_out = take(kept * d.B * d.H);
    if (d.gru) buf.gru_saved = take(kept * d.B * d.H);
    if (d.layer_norm) buf.norm_saved = take(kept * d.B * layer_norm_saved_width(d.H, d.G));
    if (training && d.zoneout > 0 && d.lstm) buf.cell_states = take(d.T * d.B * d.H);
  }
  // Inference keeps nothing for later: each layer's directions reuse the first layer's sets,
  // and layers alternate between two input buffers.
  if (!training)
    for (size_t k = 0; k < s.directions.size(); ++k) s.directions[k] = s.directions[k % static_cast<size_t>(d.D)];
  s.layer_inputs.assign(static_cast<size_t>(d.L), nullptr);
  for (int64_t layer = 1; layer < d.L; ++layer) {
    s.layer_inputs[static_cast<size_t>(layer)] =
        training || layer <= 2 ? take(d.T * d.B * d.Hcat) : s.layer_inputs[static_cast<size_t>(layer - 2)];
  }
  s.steps = d.T;
  s.batch = d.B;
}

// Everything one direction of one layer needs for its forward loop.
template <typename T>
struct DirectionForward {
  const Dims& d;
  const CellKernels<T>& kernels;
  State<T>& s;
  LoopScratch<T>& loop;  // this direction's
  DirectionParams<const T> params;
  DirectionBuffers<T> buf;
  bool training;
  int64_t direction;
  const T* x;   // [T, B, in] layer input
  int64_t in;
  T* y;         // [T, B, Hcat] layer output; this direction writes columns [dir*Hout, +Hout)
  const T* h0;  // [B, Hout] or null
  const T* c0;  // [B, H] or null
  T* h_n;       // [B, Hout] or null
  T* c_n;       // [B, H] or null
  int64_t layer;
  double zoneout;  // 0 at inference
  uint64_t seed;   // of the zoneout masks
  const Int8Direction* int8;  // the weights in int8 with --precision int8, else null
  uint64_t weights_version;   // the network's weights_version()
};

// The input part with int8 weights, b_ih added as the sums are turned back to float (not for the
// layer-normalised LSTM, whose cell adds it after normalising): each thread
// quantizes its share of x's rows, then multiplies them (many rows), or, after a barrier, every
// row by its units [u0, u1) of every gate.
template <typename T>
void input_part_int8(const DirectionForward<T>& f, int64_t u0, int64_t u1, int index, int count, bool quantize_only) {
  if constexpr (std::is_same_v<T, float>) {
    const Dims& d = f.d;
    const int64_t rows = d.T * d.B;
    const auto [r0, r1] = split_range(rows, count, index);
    int8::Rows& q = f.loop.int8_input;
    const T* bias = d.layer_norm ? nullptr : f.params.b_ih;
    q.quantize(r0, r1, f.x, f.in);
    if (quantize_only) return;  // the tiles compute it step by step, after the loop's first barrier
    if (rows >= 2 * int8::kRowBlock * count) {
      int8::multiply(q, r0, r1, f.int8->w_ih, f.buf.gates + r0 * d.GH, d.GH, 0, d.H, false, bias);
      return;
    }
    f.loop.barrier.wait(count);
    int8::multiply(q, 0, rows, f.int8->w_ih, f.buf.gates, d.GH, u0, u1, false, bias);
  }
}


// Zoneout after step t, rows [b0, b1) that are active: h_t = h_{t-1} where the unit holds, else
// the cell's h̃_t (columns [o0, o1)); c_t = c_{t-1} where it holds, else c̃_t (units [u0, u1)).
template <typename T>
void zone_out(const DirectionForward<T>& f, int64_t t, int64_t b0, int64_t b1, int64_t u0, int64_t u1, int64_t o0,
              int64_t o1, const uint8_t* active, const T* h_prev, T* h_next, const T* c_prev, const T* c_cell, T* c_next) {
  const Dims& d = f.d;
  for (int64_t b = b0; b < b1; ++b) {
    if (active && !active[b]) continue;
    for (int64_t o = o0; o < o1; ++o)
      if (zoneout_holds(f.seed, f.layer, f.direction, 0, static_cast<uint64_t>((t * d.B + b) * d.Hout + o), f.zoneout))
        h_next[b * d.Hout + o] = h_prev[b * d.Hout + o];
    for (int64_t u = u0; c_cell && u < u1; ++u) {
      const bool holds =
          zoneout_holds(f.seed, f.layer, f.direction, 1, static_cast<uint64_t>((t * d.B + b) * d.H + u), f.zoneout);
      c_next[b * d.H + u] = holds ? c_prev[b * d.H + u] : c_cell[b * d.H + u];
    }
  }
}

// Input part of every step: gates = x W_ihᵀ + b_ih     [T*B, G*H] (without b_ih for the
// layer-normalised LSTM, whose cell adds it after normalising). Thread `index` of `count`
// computes its rows or its units [u0, u1) of every gate for every row.
template <typename T>
void input_part(const DirectionForward<T>& f, int64_t u0, int64_t u1, int index, int count) {
  const Dims& d = f.d;
  DirectionParams<const T> p = f.params;
  if (d.layer_norm) p.b_ih = nullptr;
  T* gates = f.buf.gates;
  const int64_t rows = d.T * d.B;
  if (input_by_weight_rows(d, f.in)) {
    T* part = f.loop.input_part.data();  // [G*H, T*B] = W_ih xᵀ
    for (int64_t g = 0; g < d.G; ++g)
      f.loop.packed_x.multiply(u1 - u0, p.w_ih + (g * d.H + u0) * f.in, f.in, part + (g * d.H + u0) * rows, rows,
                               0, rows, false);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t g = 0; g < d.G; ++g)
        for (int64_t k = g * d.H + u0; k < g * d.H + u1; ++k)
          gates[r * d.GH + k] = part[k * rows + r] + (p.b_ih ? p.b_ih[k] : T(0));
    return;
  }
  // With fewer rows than gate columns, each thread takes its units of every gate for all rows,
  // and the BLAS packs only those rows of W_ih, not all of them for each thread's few rows (lstm
  // 256/256/1/100 infer, 2 threads: 0.65 → 0.57 thread-ms).
  if (input_by_units(d, f.in, count)) {
    if (f.loop.bf16) {
      // x rounded to bf16 once for every gate, not once a gate, against W_ih packed by this
      // thread for its units, kept from one inference call to the next while the weights are
      // unchanged (lstm 1024/1024/64/25 infer, bf16: 1.7–3.1 ms faster in 6 of 6 pairs, of 67–76).
      if (f.loop.pack_input_weights) f.loop.packed_ih.pack(p.w_ih, f.in, u0, u1);
      f.loop.packed_ih.multiply(rows, f.x, f.in, gates, d.GH, u0, u1, false, p.b_ih);
      return;
    }
    for (int64_t g = 0; g < d.G; ++g) {
      const int64_t k = g * d.H + u0;
      weight_product<T>(false, false, true, rows, u1 - u0, f.in, f.x, f.in, p.w_ih + k * f.in,
                        f.in, false, gates + k, d.GH, p.b_ih ? p.b_ih + k : nullptr);
    }
    return;
  }
  const auto [r0, r1] = split_range(rows, count, index);
  weight_product<T>(f.loop.bf16, false, true, r1 - r0, d.GH, f.in, f.x + r0 * f.in, f.in, p.w_ih,
                    f.in, false, gates + r0 * d.GH, d.GH, p.b_ih);
}

// The part of the loop one thread runs: units [u0, u1) of the cell and columns [o0, o1) of h,
// for rows [b0, b1) of the batch (see ThreadSlice).
template <typename T>
void forward_direction_thread(const DirectionForward<T>& f, bool by_batch, int index, int count) {
  const Dims& d = f.d;
  const DirectionParams<const T>& p = f.params;
  const DirectionBuffers<T>& buf = f.buf;
  const ThreadSlice sl = thread_slice(d, by_batch, index, count);
  const int64_t u0 = sl.u0, u1 = sl.u1, o0 = sl.o0, o1 = sl.o1, b0 = sl.b0, b1 = sl.b1;

  const int8::AmxScope tiles(f.int8 ? b1 - b0 : 0);  // the tiles stay configured for the whole loop
  const bool input_per_step = f.int8 && int8_input_per_step(d, f.in, by_batch, count);
  PhaseClock clock(f.s.phases);
  if (f.int8) {
    input_part_int8(f, sl.pack_u0, sl.pack_u1, index, count, input_per_step);
    clock.lap(&PhaseSeconds::input_products);
  } else {
    input_part(f, sl.pack_u0, sl.pack_u1, index, count);
    clock.lap(&PhaseSeconds::input_products);
    if (f.loop.pack_weights) {
      f.loop.packed_hh.pack(p.w_hh, d.Hout, sl.pack_u0, sl.pack_u1);
      if (d.reset_before) f.loop.packed_hn.pack(p.w_hh + 2 * d.H * d.Hout, d.Hout, sl.pack_u0, sl.pack_u1);
      if (d.proj) f.loop.packed_hr.pack(p.w_hr, d.H, sl.pack_o0, sl.pack_o1);
    }
  }

  const int64_t first_slot = state_slot(f.training, f.direction, 0, f.direction == 0 ? 0 : d.T - 1, false);
  copy_block(f.h0, buf.h_states + first_slot * d.B * d.Hout, d.Hout, b0, b1, o0, o1);
  if (d.lstm) copy_block(f.c0, buf.c_states + first_slot * d.B * d.H, d.H, b0, b1, u0, u1);
  f.loop.barrier.wait(count);

  T* recurrent = first_line(f.loop.recurrent.data());  // [B, G*H]
  // Split by units over several threads, the LSTM and RNN cells' sum x W_ihᵀ + b_ih + h W_hhᵀ is
  // made by the recurrent product itself, into the input part where it lies: the product asks for
  // those sums early and loads them amid its arithmetic, where the cell waited for them from memory
  // between the product and the step's barrier (and the other thread waited at the barrier). lstm
  // 1024/1024/64/25, 2 threads, interleaved pairs: infer 132–148 → 131–138 ms (6 of 6 pairs
  // faster), train 406–433 → 389–417 (5 of 6). With no barrier to hold up (split by rows, or one
  // thread) the product's loads cost about what the cell saved, or more: one thread 249–251 →
  // 251–253 ms; lstm 512/512/64/50 bf16 train, by rows, 116–123 → 117–127. There the two parts
  // stay apart, as they do for the GRU and the layer-normalised LSTM, which need them so.
  const bool into_gates = !f.int8 && !by_batch && count > 1 && !d.gru && !d.layer_norm;
  for (int64_t step = 0; step < d.T; ++step) {
    const int64_t t = f.direction == 0 ? step : d.T - 1 - step;
    const int64_t prev = state_slot(f.training, f.direction, step, t, false);
    const int64_t next = state_slot(f.training, f.direction, step, t, true);
    const int64_t kept = f.training ? t : 0;
    const uint8_t* active = active_rows<T>(f.s, t);
    T* h_prev = buf.h_states + prev * d.B * d.Hout;
    T* h_next = buf.h_states + next * d.B * d.Hout;
    T* c_prev = d.lstm ? buf.c_states + prev * d.B * d.H : nullptr;
    T* c_next = d.lstm ? buf.c_states + next * d.B * d.H : nullptr;
    T* cell_h = d.proj ? buf.cell_out + kept * d.B * d.H : h_next;  // [B, H] o⊙tanh(c) or h
    // [B, H] c̃_t before zoneout, or c_t itself
    T* c_cell = f.zoneout > 0 && d.lstm ? buf.cell_states + t * d.B * d.H : c_next;

    CellForward<T> cell;  // rows b0.. of every buffer
    cell.batch = b1 - b0;
    cell.hidden = d.H;
    cell.unit_begin = u0;
    cell.unit_end = u1;
    cell.active = active ? active + b0 : nullptr;
    // With the input part computed step by step at inference, every step uses step 0's gates,
    // which stay in cache.
    const int64_t gates_step = input_per_step && !f.training ? 0 : t;
    cell.gates = buf.gates + (gates_step * d.B + b0) * d.GH;
    cell.recurrent = into_gates ? nullptr : recurrent + b0 * d.GH;
    cell.bias_hh = p.b_hh;
    cell.h_prev = h_prev + b0 * d.Hout;
    if (d.lstm) {
      cell.c_prev = c_prev + b0 * d.H;
      cell.c = c_cell + b0 * d.H;
    }
    cell.h = cell_h + b0 * d.H;
    if (d.gru) cell.saved = buf.gru_saved + (kept * d.B + b0) * d.H;
    cell.peephole = p.peephole;
    cell.keep_gates = f.training;
    if (d.layer_norm) {
      cell.bias_ih = p.b_ih;
      cell.layer_norm = p.layer_norm;
      cell.norm_saved = buf.norm_saved + (kept * d.B + b0) * layer_norm_saved_width(d.H, d.G);
    }
    T* reset_h = d.reset_before ? buf.gru_saved + kept * d.B * d.H : nullptr;  // [B, H] r⊙h_{t-1}

    clock.lap(nullptr);
    if (f.int8) {
      // The same products and cell as below, fused tile by tile (int8_cell_tiles).
      int8::Rows& q = f.loop.int8_state[static_cast<size_t>(index)];
      const Int8StepInput<T> step_input{&f.loop.int8_input, t * d.B + b0, &f.int8->w_ih,
                                     d.layer_norm ? nullptr : p.b_ih};
      const Int8StepInput<T>* input = input_per_step ? &step_input : nullptr;
      quantize_rows(q, h_prev, d.Hout, b0, b1);
      clock.lap(&PhaseSeconds::recurrent_products);
      if (d.reset_before) {
        int8_cell_tiles(d, cell, f.kernels.reset_gates, q, f.int8->w_hh, recurrent + b0 * d.GH, 0,
                        input, clock);
        if (!by_batch) f.loop.barrier.wait(count);
        clock.lap(nullptr);
        quantize_rows(q, reset_h, d.H, b0, b1);
        int8_cell_tiles(d, cell, f.kernels.forward, q, f.int8->w_hn, recurrent + b0 * d.GH, 2 * d.H,
                        static_cast<const Int8StepInput<T>*>(nullptr), clock);
      } else {
        int8_cell_tiles(d, cell, f.kernels.forward, q, f.int8->w_hh, recurrent + b0 * d.GH, 0,
                        input, clock);
      }
    } else {
      // Recurrent part: h_{t-1} W_hhᵀ     [B, G*H], this thread's rows and units of every gate
      // (of r and z only when the reset gate comes before the product), added into the input
      // part where the cell takes the sum.
      f.loop.packed_hh.multiply(b1 - b0, h_prev + b0 * d.Hout, d.Hout,
                                into_gates ? cell.gates : recurrent + b0 * d.GH, d.GH, u0, u1,
                                into_gates);
      clock.lap(&PhaseSeconds::recurrent_products);
      if (d.reset_before) {
        // r and z, then u_n = (r⊙h_{t-1}) W_hnᵀ     [B, H], which needs every unit of r⊙h_{t-1}.
        f.kernels.reset_gates(cell);
        clock.lap(&PhaseSeconds::cells);
        if (!by_batch) f.loop.barrier.wait(count);
        clock.lap(nullptr);
        f.loop.packed_hn.multiply(b1 - b0, cell.saved, d.H, recurrent + b0 * d.GH + 2 * d.H, d.GH, u0, u1, false);
        clock.lap(&PhaseSeconds::recurrent_products);
      }
      f.kernels.forward(cell);
      clock.lap(&PhaseSeconds::cells);
    }

    // Projection: h_t = (o⊙tanh c_t) W_hrᵀ     [B, P], needs every unit of the cell output. The
    // cell output of rows past their end is zero (kept for the record), and zeroed before the
    // barrier, since the other threads read it.
    if (d.proj) {
      for (int64_t b = b0; active && b < b1; ++b)
        if (!active[b]) std::fill(cell_h + b * d.H + u0, cell_h + b * d.H + u1, T(0));
      if (!by_batch) f.loop.barrier.wait(count);
      clock.lap(nullptr);
      if (f.int8)
        int8_product(f.loop.int8_state[static_cast<size_t>(index)], cell_h, d.H, b0, b1, f.int8->w_hr, h_next, d.P,
                     o0, o1, false);
      else
        f.loop.packed_hr.multiply(b1 - b0, cell.h, d.H, h_next + b0 * d.Hout, d.P, o0, o1, false);
      clock.lap(&PhaseSeconds::recurrent_products);
    }

    if (f.zoneout > 0)
      zone_out(f, t, b0, b1, u0, u1, o0, o1, active, h_prev, h_next, c_prev, d.lstm ? c_cell : nullptr, c_next);

    for (int64_t b = b0; b < b1; ++b) {
      T* out = f.y + (t * d.B + b) * d.Hcat + f.direction * d.Hout;
      if (active && !active[b]) {
        // Past this sequence's end: the state is carried, the output is zero.
        std::copy(h_prev + b * d.Hout + o0, h_prev + b * d.Hout + o1, h_next + b * d.Hout + o0);
        if (d.lstm) std::copy(c_prev + b * d.H + u0, c_prev + b * d.H + u1, c_next + b * d.H + u0);
        std::fill(out + o0, out + o1, T(0));
      } else {
        std::copy(h_next + b * d.Hout + o0, h_next + b * d.Hout + o1, out + o0);
      }
    }
    if (!by_batch) f.loop.barrier.wait(count);
  }

  const int64_t last_slot = state_slot(f.training, f.direction, d.T - 1, f.direction == 0 ? d.T - 1 : 0, true);
  if (f.h_n) copy_block<T>(buf.h_states + last_slot * d.B * d.Hout, f.h_n, d.Hout, b0, b1, o0, o1);
  if (f.c_n && d.lstm) copy_block<T>(buf.c_states + last_slot * d.B * d.H, f.c_n, d.H, b0, b1, u0, u1);
}

// Packs or points at the weights for direction f's loop on at most `team` threads.
template <typename T>
LoopPlan prepare_direction(const DirectionForward<T>& f, int team) {
  const Dims& d = f.d;
  const size_t element = f.int8 ? sizeof(int8_t) : sizeof(T);
  const LoopPlan plan = d.layer_norm ? layer_norm_plan(d, team)
                                     : LoopPlan{split_by_batch(d, element, team), 0};
  const bool by_batch = plan.by_batch;
  const int threads = d.layer_norm ? plan.threads : loop_threads(d, by_batch, team);
  f.loop.bf16 = !f.int8 && bf16_products<T>();
  if (f.int8) {
    f.loop.int8_input.shape(d.T * d.B, f.in);
    f.loop.int8_state.resize(static_cast<size_t>(threads));
    for (int8::Rows& rows : f.loop.int8_state) rows.shape(d.B, std::max(d.Hout, d.H));
    return {by_batch, threads};
  }
  const T* w_hn = f.params.w_hh + 2 * d.H * d.Hout;  // GRU's n block, with reset_before
  using PackedFor = typename LoopScratch<T>::PackedFor;
  const PackedFor wanted{f.weights_version, f.layer, f.loop.bf16};
  f.loop.pack_weights = true;
  if (!wanted.bf16 && f.training && read_in_place(d, threads, sizeof(T))) {
    f.loop.packed_hh.read_in_place(f.params.w_hh, d.Hout, d.hh_blocks(), d.H, d.Hout);
    if (d.proj) f.loop.packed_hr.read_in_place(f.params.w_hr, d.H, 1, d.P, d.H);
    if (d.reset_before) f.loop.packed_hn.read_in_place(w_hn, d.Hout, 1, d.H, d.Hout);
    f.loop.packed_for = {};
  } else if (!f.training && f.loop.packed_for == wanted) {
    f.loop.pack_weights = false;  // packed by an earlier inference call, from the same weights
  } else {
    f.loop.packed_hh.shape(d.hh_blocks(), d.H, d.Hout);
    if (d.proj) f.loop.packed_hr.shape(1, d.P, d.H);
    if (d.reset_before) f.loop.packed_hn.shape(1, d.H, d.Hout);
    f.loop.packed_for = f.training ? PackedFor{} : wanted;
  }
  f.loop.pack_input_weights = false;
  if (f.training) f.loop.packed_ih_for = {};
  if (f.loop.bf16 && input_by_units(d, f.in, threads) &&
      (f.training || f.loop.packed_ih_for != wanted)) {
    f.loop.packed_ih.shape(d.G, d.H, f.in);
    f.loop.pack_input_weights = true;
    if (!f.training) f.loop.packed_ih_for = wanted;
  }
  if (input_by_weight_rows(d, f.in)) {
    f.loop.packed_x.shape(1, d.T * d.B, f.in, false);  // input-side products stay in T
    f.loop.packed_x.pack(f.x, f.in, 0, d.T * d.B);
    f.loop.input_part.resize(static_cast<size_t>(d.GH * d.T * d.B));
  }
  return {by_batch, threads};
}

template <typename T>
void forward_layer(const DirectionForward<T>* directions, int64_t count) {
  run_directions(directions, count, [](const DirectionForward<T>& f, int team) { return prepare_direction(f, team); },
                 [](const DirectionForward<T>& f, LoopPlan plan, int index, int threads) {
                   forward_direction_thread(f, plan.by_batch, index, threads);
                 });
}

// The int8 weights of every layer and direction, quantized again only when the network or its
// weights changed since this workspace last quantized them; the team shares the rows.
template <typename T>
void quantize_weights(const NetworkConfig& c, const std::vector<ParameterInfo>& layout, const T* parameters,
                      uint64_t version, State<T>& s) {
  if constexpr (std::is_same_v<T, float>) {
    if (s.int8_version == version && s.int8.size() == static_cast<size_t>(c.num_layers * c.directions())) return;
    const Dims d(c, 1, 1);
    s.int8.resize(static_cast<size_t>(d.L * d.D));
    for (int64_t layer = 0; layer < d.L; ++layer)
      for (int64_t direction = 0; direction < d.D; ++direction) {
        const int64_t in = c.layer_input_size(layer);
        if (in > int8::kMaxDepth || d.Hout > int8::kMaxDepth)
          throw Error("--precision int8: layer " + std::to_string(layer) + " has " + std::to_string(std::max(in, d.Hout)) +
                      " inputs per unit, more than the " + std::to_string(int8::kMaxDepth) + " its int32 sums allow");
        Int8Direction& q = s.int8[static_cast<size_t>(layer * d.D + direction)];
        const DirectionParams<const T> p = as_const(direction_params(layout, c, layer, direction, parameters));
        q.w_ih.shape(d.G, d.H, in);
        q.w_hh.shape(d.hh_blocks(), d.H, d.Hout);
        if (d.reset_before) q.w_hn.shape(1, d.H, d.Hout);
        if (d.proj) q.w_hr.shape(1, d.P, d.H);
        thread_team().run(thread_team().size(), [&](int index, int count) {
          const auto [u0, u1] = split_range(d.H, count, index, int8::kPanel);
          q.w_ih.quantize(p.w_ih, in, u0, u1);
          q.w_hh.quantize(p.w_hh, d.Hout, u0, u1);
          if (d.reset_before) q.w_hn.quantize(p.w_hh + 2 * d.H * d.Hout, d.Hout, u0, u1);
          if (d.proj) {
            const auto [o0, o1] = split_range(d.P, count, index, int8::kPanel);
            q.w_hr.quantize(p.w_hr, d.H, o0, o1);
          }
        });
      }
    s.int8_version = version;
  }
}

}  // namespace


template <typename T>
void Network<T>::forward(Mode mode, const ForwardArgs<T>& a, Workspace<T>& workspace) const {
  if (a.seq_len < 1 || a.batch < 1)
    throw Error("forward: sequence length and batch must be at least 1, got T=" +
                std::to_string(a.seq_len) + " B=" + std::to_string(a.batch));
  if (!a.input || !a.output) throw Error("forward: input and output buffers are required");
  const Dims d(config_, a.seq_len, a.batch);
  State<T>& s = *workspace.state;
  s.has_training_forward = false;
  s.phases.into = workspace.count_phases ? &workspace.phases : nullptr;

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
  lay_out_forward<T>(s, d, mode);

  const bool training = mode == Mode::training;
  const bool int8 = std::is_same_v<T, float> && matmul_precision() == MatmulPrecision::int8;
  if (int8) quantize_weights<T>(config_, layout_, parameters_.data(), weights_version_, s);
  const CellKernels<T> kernels = cell_kernels<T>(config_);
  for (int64_t layer = 0; layer < d.L; ++layer) {
    const T* x = layer == 0 ? a.input : s.layer_inputs[static_cast<size_t>(layer)];
    T* y = layer == d.L - 1 ? a.output : s.layer_inputs[static_cast<size_t>(layer + 1)];
    std::vector<DirectionForward<T>> directions;
    for (int64_t direction = 0; direction < d.D; ++direction) {
      const int64_t row = layer * d.D + direction;
      directions.push_back({d, kernels, s, s.loops[direction],
                            as_const(direction_params(layout_, config_, layer, direction, parameters_.data())),
                            s.directions[static_cast<size_t>(row)], training, direction, x,
                            config_.layer_input_size(layer), y, state_row(a.h0, row, d.Hout, d.B),
                            state_row(a.c0, row, d.H, d.B), state_row(a.h_n, row, d.Hout, d.B),
                            state_row(a.c_n, row, d.H, d.B), layer, training ? config_.zoneout : 0.0,
                            a.dropout_seed, int8 ? &s.int8[static_cast<size_t>(row)] : nullptr,
                            weights_version_});
    }
    forward_layer(directions.data(), d.D);
    if (config_.residual && layer > 0)  // y += x: zero past each sequence's end in both
      for (int64_t k = 0; k < d.T * d.B * d.Hcat; ++k) y[k] += x[k];
    if (config_.highway && layer > 0)  // y = t ⊙ y + (1 − t) ⊙ x (highway.hpp)
      highway_forward<T>(config_, layout_, parameters_.data(), weights_version_, layer, d.T * d.B, x, y, training,
                         s.highway);
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

template class Workspace<float>;
template class Workspace<double>;
template void Network<float>::forward(Mode, const ForwardArgs<float>&, Workspace<float>&) const;
template void Network<double>::forward(Mode, const ForwardArgs<double>&, Workspace<double>&) const;

}  // namespace lstm
