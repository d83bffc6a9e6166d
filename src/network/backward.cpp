// The backward driver: backpropagation through time. Per step it runs the cells' backward and
// one product with W_hh for dL/dh_{t-1}; the weight gradients dW_ih, dW_hh, dW_hr and the bias
// gradients are single products over all steps after the loop, and dL/dx one product after
// the loops of both directions (which run at once, as in forward).
#include <vector>

#include "cells/cell.hpp"
#include "core/bf16_gemm.hpp"
#include "core/blas.hpp"
#include "core/vector_kernels.hpp"
#include "lstm/error.hpp"
#include "lstm/precision.hpp"
#include "network/driver.hpp"

namespace lstm {

using namespace driver;

namespace {

// Backward-only scratch, laid out after the forward buffers: the gradients of the layers'
// outputs and inputs, and one set of loop buffers per direction (they may run at once).
template <typename T>
struct BackwardScratch {
  T* d_layer[2];  // [T, B, Hcat] gradients of layer outputs and inputs, alternating by layer
  struct Loop {
    T* dgates;     // [T, B, G*H] dL/d(input part)
    T* dgates_hh;  // [T, B, G*H] dL/d(recurrent part); the same buffer unless PyTorch's GRU or layer norm
    T* dh[2];      // [B, Hout] dL/dh after and before the current step
    T* dh_step;    // [T, B, Hout] dL/dh_t from above and from later steps, zero past the end
    T* dc;         // [B, H] dL/dc (LSTM)
    T* dm;         // [B, H] dL/d(o⊙tanh c) (projection), dL/d(r⊙h_{t-1}) (GRU, reset_before)
    T* dh_held;    // [B, Hout] zoneout: the part of dL/dh_t that goes straight to h_{t-1}
    T* dc_held;    // [B, H] zoneout: the part of dL/dc_t that goes straight to c_{t-1}
  } loops[2];      // [D]
};

template <typename T>
BackwardScratch<T> lay_out_backward(State<T>& s, const Dims& d) {
  const int64_t gates = d.T * d.B * d.GH;
  const bool separate_hh = (d.gru && !d.reset_before) || d.layer_norm;  // dgates_hh differs from dgates
  const int64_t per_direction =
      gates * (separate_hh ? 2 : 1) + 3 * d.B * d.Hout + d.T * d.B * d.Hout + 3 * d.B * d.H;
  s.backward.resize(
      static_cast<size_t>(2 * d.T * d.B * d.Hcat + d.D * per_direction + kLineSlack<T>));
  T* next = first_line(s.backward.data());
  auto take = [&next](int64_t count) {
    T* p = next;
    next += count;
    return p;
  };
  BackwardScratch<T> scratch{};
  scratch.d_layer[0] = take(d.T * d.B * d.Hcat);
  scratch.d_layer[1] = take(d.T * d.B * d.Hcat);
  for (int64_t direction = 0; direction < d.D; ++direction) {
    typename BackwardScratch<T>::Loop& loop = scratch.loops[direction];
    loop.dgates = take(gates);
    loop.dgates_hh = separate_hh ? take(gates) : loop.dgates;
    loop.dh[0] = take(d.B * d.Hout);
    loop.dh[1] = take(d.B * d.Hout);
    loop.dh_step = take(d.T * d.B * d.Hout);
    loop.dc = take(d.B * d.H);
    loop.dm = take(d.B * d.H);
    loop.dh_held = take(d.B * d.Hout);
    loop.dc_held = take(d.B * d.H);
  }
  return scratch;
}

template <typename T>
struct DirectionBackward {
  const Dims& d;
  const CellKernels<T>& kernels;
  State<T>& s;
  LoopScratch<T>& loop;  // this direction's packed weights and barrier
  const typename BackwardScratch<T>::Loop& scratch;  // this direction's gradients in the loop
  DirectionParams<const T> params;
  DirectionParams<T> grads;
  DirectionBuffers<T> buf;
  int64_t direction;
  const T* x;            // [T, B, in] the layer's input in forward
  int64_t in;
  const T* d_out;        // [T, B, Hcat] dL/d(layer output)
  const T* grad_h_n;     // [B, Hout] or null
  const T* grad_c_n;     // [B, H] or null
  T* grad_h0;            // [B, Hout] or null
  T* grad_c0;            // [B, H] or null
  int64_t layer;
  double zoneout;        // as in forward (training)
  uint64_t seed;         // of the zoneout masks
};

// Zoneout at step t (forward: h_t = h_{t-1} where unit holds, else h̃_t; c likewise): moves the
// held units' dL/dh_t (columns [o0, o1)) from dh to dh_held and their dL/dc_t (units [u0, u1))
// from dc to dc_held, zeroing the other entries of the held buffers. Inactive rows are left alone.
template <typename T>
void split_zoneout(const DirectionBackward<T>& g, int64_t t, int64_t b0, int64_t b1, int64_t u0, int64_t u1,
                   int64_t o0, int64_t o1, const uint8_t* active, T* dh, T* dc) {
  const Dims& d = g.d;
  const typename BackwardScratch<T>::Loop& sc = g.scratch;
  for (int64_t b = b0; b < b1; ++b) {
    if (active && !active[b]) continue;
    for (int64_t o = o0; o < o1; ++o) {
      const bool holds =
          zoneout_holds(g.seed, g.layer, g.direction, 0, static_cast<uint64_t>((t * d.B + b) * d.Hout + o), g.zoneout);
      sc.dh_held[b * d.Hout + o] = holds ? dh[b * d.Hout + o] : T(0);
      if (holds) dh[b * d.Hout + o] = T(0);
    }
    for (int64_t u = u0; dc && u < u1; ++u) {
      const bool holds =
          zoneout_holds(g.seed, g.layer, g.direction, 1, static_cast<uint64_t>((t * d.B + b) * d.H + u), g.zoneout);
      sc.dc_held[b * d.H + u] = holds ? dc[b * d.H + u] : T(0);
      if (holds) dc[b * d.H + u] = T(0);
    }
  }
}

// Adds the held parts back after the step: dL/dh_{t-1} += dh_held, dL/dc_{t-1} += dc_held.
template <typename T>
void merge_zoneout(const DirectionBackward<T>& g, int64_t b0, int64_t b1, int64_t u0, int64_t u1, int64_t o0,
                   int64_t o1, const uint8_t* active, T* dh_prev, T* dc) {
  const Dims& d = g.d;
  const typename BackwardScratch<T>::Loop& sc = g.scratch;
  for (int64_t b = b0; b < b1; ++b) {
    if (active && !active[b]) continue;
    for (int64_t o = o0; o < o1; ++o) dh_prev[b * d.Hout + o] += sc.dh_held[b * d.Hout + o];
    for (int64_t u = u0; dc && u < u1; ++u) dc[b * d.H + u] += sc.dc_held[b * d.H + u];
  }
}

// The layer-normalised LSTM's backward split by rows: adds the threads' own gain and bias
// gradients (LoopScratch::layer_norm_grads) into the network's, each thread a share of the entries.
template <typename T>
void sum_layer_norm_grads(const DirectionBackward<T>& g, int index, int count) {
  const int64_t gains = layer_norm_params_width(g.d.H, g.d.G), width = layer_norm_grads_width(g.d);
  const auto [e0, e1] = split_range(width, count, index);
  for (int64_t e = e0; e < e1; ++e) {
    T* target = e < gains ? g.grads.layer_norm + e : e < gains + g.d.GH ? g.grads.b_ih : g.grads.b_hh;
    if (!target) continue;  // no bias
    if (e >= gains) target += e < gains + g.d.GH ? e - gains : e - gains - g.d.GH;
    T total = 0;
    for (int k = 0; k < count; ++k) total += g.loop.layer_norm_grads[static_cast<size_t>(k * width + e)];
    *target += total;
  }
}

// The part of BPTT one thread runs: units [u0, u1) of the cell and columns [o0, o1) of h for
// rows [b0, b1) of the batch (see ThreadSlice), then its share of rows of the weight gradients.
template <typename T>
void backward_direction_thread(const DirectionBackward<T>& g, bool by_batch, int index, int count) {
  const Dims& d = g.d;
  const typename BackwardScratch<T>::Loop& sc = g.scratch;
  const DirectionParams<const T>& p = g.params;
  const DirectionBuffers<T>& buf = g.buf;
  const ThreadSlice sl = thread_slice(d, by_batch, index, count);
  const int64_t u0 = sl.u0, u1 = sl.u1, o0 = sl.o0, o1 = sl.o1, b0 = sl.b0, b1 = sl.b1;
  const int64_t rows = d.T * d.B;

  if (g.loop.partial_dh.empty())
    g.loop.packed_hh.pack_transposed(p.w_hh, d.Hout, sl.pack_o0, sl.pack_o1);
  if (d.reset_before) g.loop.packed_hn.pack_transposed(p.w_hh + 2 * d.H * d.Hout, d.Hout, sl.pack_o0, sl.pack_o1);
  if (d.proj) g.loop.packed_hr.pack_transposed(p.w_hr, d.H, sl.pack_u0, sl.pack_u1);
  T* dh_after = sc.dh[0];   // dL/dh_t flowing back from later steps
  T* dh_before = sc.dh[1];  // dL/dh_{t-1}, being computed
  copy_block(g.grad_h_n, dh_after, d.Hout, b0, b1, o0, o1);
  if (d.lstm) copy_block(g.grad_c_n, sc.dc, d.H, b0, b1, u0, u1);
  // Split by units, the loop's barriers come before each packed product; by rows, there are none.
  if (by_batch) g.loop.barrier.wait(count);
  PhaseClock clock(g.s.phases);

  for (int64_t step = d.T - 1; step >= 0; --step) {
    const int64_t t = g.direction == 0 ? step : d.T - 1 - step;
    const int64_t prev = state_slot(true, g.direction, step, t, false);
    const int64_t next = state_slot(true, g.direction, step, t, true);
    const uint8_t* active = active_rows<T>(g.s, t);

    // dL/dh_t = from the layer's output + from step t+1; zero on rows past their end.
    T* dh_step = sc.dh_step + t * d.B * d.Hout;
    for (int64_t b = b0; b < b1; ++b) {
      T* row = dh_step + b * d.Hout;
      if (active && !active[b]) {
        std::fill(row + o0, row + o1, T(0));
        continue;
      }
      const T* from_output = g.d_out + (t * d.B + b) * d.Hcat + g.direction * d.Hout;
      const T* from_later = dh_after + b * d.Hout;
      for (int64_t j = o0; j < o1; ++j) row[j] = from_output[j] + from_later[j];
    }
    if (g.zoneout > 0) split_zoneout(g, t, b0, b1, u0, u1, o0, o1, active, dh_step, d.lstm ? sc.dc : nullptr);
    // Through the projection: dL/d(o⊙tanh c) = dh W_hr     [B, H], needs every column of dh.
    if (d.proj) {
      if (!by_batch) g.loop.barrier.wait(count);
      clock.lap(nullptr);
      g.loop.packed_hr.multiply(b1 - b0, dh_step + b0 * d.P, d.P, sc.dm + b0 * d.H, d.H, u0, u1, false);
      clock.lap(&PhaseSeconds::recurrent_products);
    }

    CellBackward<T> cell;  // rows b0.. of every buffer
    cell.batch = b1 - b0;
    cell.hidden = d.H;
    cell.unit_begin = u0;
    cell.unit_end = u1;
    cell.active = active ? active + b0 : nullptr;
    cell.gates = buf.gates + (t * d.B + b0) * d.GH;
    cell.dgates = sc.dgates + (t * d.B + b0) * d.GH;
    cell.dgates_hh = sc.dgates_hh + (t * d.B + b0) * d.GH;
    cell.dh = (d.proj ? sc.dm : dh_step) + b0 * d.H;
    if (d.lstm) {
      cell.dc = sc.dc + b0 * d.H;
      cell.c_prev = buf.c_states + (prev * d.B + b0) * d.H;
      cell.c = (g.zoneout > 0 ? buf.cell_states + t * d.B * d.H : buf.c_states + next * d.B * d.H) + b0 * d.H;
    }
    cell.h_prev = buf.h_states + (prev * d.B + b0) * d.Hout;
    cell.dh_prev = dh_before + b0 * d.Hout;
    if (d.gru) cell.saved = buf.gru_saved + (t * d.B + b0) * d.H;
    cell.peephole = p.peephole;
    cell.dpeephole = g.grads.peephole;
    if (d.layer_norm) {
      cell.layer_norm = p.layer_norm;
      cell.norm_saved = buf.norm_saved + (t * d.B + b0) * layer_norm_saved_width(d.H, d.G);
      // Split by rows: this thread's own [γ_ih, γ_hh, γ_c, β_c | b_ih | b_hh].
      T* own = count > 1 ? g.loop.layer_norm_grads.data() + index * layer_norm_grads_width(d) : nullptr;
      const int64_t gains = layer_norm_params_width(d.H, d.G);
      cell.dlayer_norm = own ? own : g.grads.layer_norm;
      cell.dbias_ih = own && g.grads.b_ih ? own + gains : g.grads.b_ih;
      cell.dbias_hh = own && g.grads.b_hh ? own + gains + d.GH : g.grads.b_hh;
    }
    clock.lap(nullptr);
    g.kernels.backward(cell);
    clock.lap(&PhaseSeconds::cells);
    if (!g.loop.partial_dh.empty()) {
      // dL/dh_{t-1} = dgates_hh W_hh (+ the cell's direct path) with W_hh in place: this thread's
      // share from the rows of its units, then, after the barrier, its columns of the shares' sum.
      T* shares = first_line(g.loop.partial_dh.data()) +
                  (step % 2) * count * d.B * d.Hout;  // [threads, B, Hout]
      T* own = shares + index * d.B * d.Hout;
      const VectorKernels<T>& vector = chosen_vector_kernels<T>();
      for (int64_t gate = 0; gate < d.hh_blocks(); ++gate) {
        const int64_t k0 = gate * d.H + u0;
        vector.multiply_in_place({d.B, cell.dgates_hh + k0, d.GH, own, d.Hout, p.w_hh + k0 * d.Hout,
                                  d.Hout, 1, d.Hout, u1 - u0, 0, d.Hout, gate > 0, true});
      }
      clock.lap(&PhaseSeconds::recurrent_products);
      g.loop.barrier.wait(count);
      clock.lap(nullptr);
      for (int64_t b = 0; b < d.B; ++b)
        for (int64_t o = o0; o < o1; ++o) {
          T sum = g.kernels.direct_hidden_path ? dh_before[b * d.Hout + o] : T(0);
          for (int k = 0; k < count; ++k) sum += shares[(k * d.B + b) * d.Hout + o];
          dh_before[b * d.Hout + o] = sum;
        }
    } else {
      if (!by_batch) g.loop.barrier.wait(count);
      clock.lap(nullptr);
      if (d.reset_before) {
        // dL/d(r⊙h_{t-1}) = da_n W_hn     [B, H], needs every unit of da_n; then the reset gate.
        g.loop.packed_hn.multiply(b1 - b0, cell.dgates_hh + 2 * d.H, d.GH, sc.dm + b0 * d.H, d.H,
                                  u0, u1, false);
        clock.lap(&PhaseSeconds::recurrent_products);
        cell.d_reset_h = sc.dm + b0 * d.H;
        g.kernels.reset_backward(cell);
        clock.lap(&PhaseSeconds::cells);
        if (!by_batch) g.loop.barrier.wait(count);
        clock.lap(nullptr);
      }

      // dL/dh_{t-1} = dgates_hh W_hh (+ the cell's direct path)     [B, Hout], needs every gate.
      g.loop.packed_hh.multiply(b1 - b0, cell.dgates_hh, d.GH, cell.dh_prev, d.Hout, o0, o1,
                                g.kernels.direct_hidden_path);
    }
    clock.lap(&PhaseSeconds::recurrent_products);
    if (g.zoneout > 0) merge_zoneout(g, b0, b1, u0, u1, o0, o1, active, dh_before, d.lstm ? sc.dc : nullptr);
    if (active) {
      for (int64_t b = b0; b < b1; ++b)
        if (!active[b]) std::copy(dh_after + b * d.Hout + o0, dh_after + b * d.Hout + o1, dh_before + b * d.Hout + o0);
    }
    std::swap(dh_after, dh_before);
  }
  if (g.grad_h0) copy_block<T>(dh_after, g.grad_h0, d.Hout, b0, b1, o0, o1);
  if (g.grad_c0 && d.lstm) copy_block<T>(sc.dc, g.grad_c0, d.H, b0, b1, u0, u1);
  g.loop.barrier.wait(count);
  if (d.layer_norm && count > 1) sum_layer_norm_grads(g, index, count);
  clock.lap(nullptr);

  // Weight gradients over all steps at once, each thread its share of output rows.
  const auto [k0, k1] = split_range(d.GH, count, index);
  // dW_ih += dgatesᵀ x     [G*H, in]
  const bool bf16 = g.loop.bf16;
  weight_product<T>(bf16, true, false, k1 - k0, g.in, rows, sc.dgates + k0, d.GH, g.x, g.in, true,
                    g.grads.w_ih + k0 * g.in, g.in);
  // dW_hh += dgates_hhᵀ h_prev; in time order h_prev starts at slot 0 (forward) or 1 (reverse).
  // With the reset gate before the product, W_hn's rows take (r⊙h_prev) instead: dgates_hhᵀ m.
  const T* h_prev_all = buf.h_states + (g.direction == 0 ? 0 : d.B * d.Hout);
  const int64_t hh_rows = d.hh_blocks() * d.H;
  if (k0 < hh_rows)
    weight_product<T>(bf16, true, false, std::min(k1, hh_rows) - k0, d.Hout, rows, sc.dgates_hh + k0, d.GH,
                      h_prev_all, d.Hout, true, g.grads.w_hh + k0 * d.Hout, d.Hout);
  if (k1 > hh_rows) {
    const int64_t n0 = std::max(k0, hh_rows);
    weight_product<T>(bf16, true, false, k1 - n0, d.Hout, rows, sc.dgates_hh + n0, d.GH, buf.gru_saved, d.H, true,
                      g.grads.w_hh + n0 * d.Hout, d.Hout);
  }
  // db_ih += Σ_rows dgates, db_hh += Σ_rows dgates_hh     [G*H]
  if (g.grads.b_ih && !d.layer_norm) {  // the layer-normalised cell accumulated its own
    const VectorKernels<T>& vector = chosen_vector_kernels<T>();
    const bool same = sc.dgates_hh == sc.dgates;
    vector.add_column_sums(sc.dgates + k0, rows, d.GH, k1 - k0, g.grads.b_ih + k0,
                           same ? g.grads.b_hh + k0 : nullptr);
    if (!same)
      vector.add_column_sums(sc.dgates_hh + k0, rows, d.GH, k1 - k0, g.grads.b_hh + k0, nullptr);
  }
  // dW_hr += dhᵀ (o⊙tanh c)     [P, H]
  if (d.proj) {
    const auto [q0, q1] = split_range(d.P, count, index);
    gemm<T>(true, false, q1 - q0, d.H, rows, T(1), sc.dh_step + q0, d.P, buf.cell_out, d.H, T(1),
            g.grads.w_hr + q0 * d.H, d.H);
  }
  clock.lap(&PhaseSeconds::weight_gradients);
}

// Whether BPTT reads W_hh where it lies, as the forward does (read_in_place), for float products:
// each thread adds up the rows of W_hh of its own units, weighted by their gate gradients, into
// its share of dL/dh_{t-1}, and the shares are summed after the step's barrier. Nothing is packed,
// and each thread streams the rows it streams forward. (By columns of W_hh, each thread would read
// half of every row, short runs that the prefetchers follow badly: lstm 1024/1024/1/25 train, 2
// threads, recurrent products 14.4–15.9 thread-ms packed (plus 2–3 packing), 18.0–18.4 by columns
// in place, 16.4–16.7 by own rows.) Not with a projection or the GRU's reset gate before the
// product, whose products stay packed.
template <typename T>
bool backward_by_own_rows(const Dims& d, const LoopPlan& plan, bool bf16) {
  return !bf16 && !plan.by_batch && !d.proj && !d.reset_before &&
         read_in_place(d, plan.threads, sizeof(T));
}

// Packs W_hhᵀ (and W_hrᵀ) for direction g's loop on at most `team` threads, unless it is read in
// place.
template <typename T>
LoopPlan prepare_direction(const DirectionBackward<T>& g, int team) {
  const Dims& d = g.d;
  LoopPlan plan;
  if (d.layer_norm) {
    plan = layer_norm_plan(d, team);
    if (plan.threads > 1)
      g.loop.layer_norm_grads.assign(static_cast<size_t>(plan.threads * layer_norm_grads_width(d)),
                                     T(0));
  } else {
    plan.by_batch = split_by_batch(d, sizeof(T), team);
    plan.threads = loop_threads(d, plan.by_batch, team);
  }
  g.loop.packed_for = {};  // W_hhᵀ replaces the forward's packing
  g.loop.partial_dh.clear();
  g.loop.bf16 = bf16_products<T>();
  if (backward_by_own_rows<T>(d, plan, g.loop.bf16)) {
    g.loop.partial_dh.resize(static_cast<size_t>(2 * plan.threads * d.B * d.Hout + kLineSlack<T>));
    return plan;
  }
  g.loop.packed_hh.shape(1, d.Hout, d.hh_blocks() * d.H);
  if (d.reset_before) g.loop.packed_hn.shape(1, d.Hout, d.H);
  if (d.proj) g.loop.packed_hr.shape(1, d.H, d.P);
  return plan;
}

// BPTT through the directions of one layer (at once, each on half of the team, as in forward),
// then dL/dx = Σ_direction dgates W_ih     [T*B, in], or null to skip, over the whole team.
template <typename T>
void backward_layer(const DirectionBackward<T>* directions, int64_t count, T* d_in) {
  run_directions(directions, count, [](const DirectionBackward<T>& g, int team) { return prepare_direction(g, team); },
                 [](const DirectionBackward<T>& g, LoopPlan plan, int index, int threads) {
                   backward_direction_thread(g, plan.by_batch, index, threads);
                 });
  if (!d_in) return;
  ThreadTeam& team = thread_team();
  team.run(team.size(), [directions, count, d_in](int index, int threads) {
    const DirectionBackward<T>& first = directions[0];
    const int64_t rows = first.d.T * first.d.B, in = first.in, gh = first.d.GH;
    // Each thread its rows of dx, or, with fewer rows than inputs, its columns: then it reads
    // only its columns of W_ih, not all of it.
    const bool by_columns = rows < in;
    const auto [r0, r1] =
        by_columns ? std::pair<int64_t, int64_t>{0, rows} : split_range(rows, threads, index);
    const auto [c0, c1] =
        by_columns ? split_range(in, threads, index, 16) : std::pair<int64_t, int64_t>{0, in};
    PhaseClock clock(first.s.phases);
    for (int64_t k = 0; k < count; ++k)
      weight_product<T>(directions[k].loop.bf16, false, false, r1 - r0, c1 - c0, gh,
                        directions[k].scratch.dgates + r0 * gh, gh, directions[k].params.w_ih + c0,
                        in, k > 0, d_in + r0 * in + c0, in);
    clock.lap(&PhaseSeconds::input_gradients);
  });
}

}  // namespace

template <typename T>
void Network<T>::backward(const BackwardArgs<T>& a, Workspace<T>& workspace) const {
  State<T>& s = *workspace.state;
  s.phases.into = workspace.count_phases ? &workspace.phases : nullptr;
  if (!s.has_training_forward || s.network != this)
    throw Error("backward: run forward in training mode with this network and workspace first");
  if (!a.grad_params) throw Error("backward: grad_params is required");
  if (std::is_same_v<T, float> && matmul_precision() == MatmulPrecision::int8)
    throw Error("backward: int8 precision is for inference; gradients need fp32 or bf16");
  const Dims d(config_, s.steps, s.batch);
  const BackwardScratch<T> scratch = lay_out_backward<T>(s, d);
  const CellKernels<T> kernels = cell_kernels<T>(config_);

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
    std::vector<DirectionBackward<T>> directions;
    for (int64_t direction = 0; direction < d.D; ++direction) {
      const int64_t row = layer * d.D + direction;
      directions.push_back({d, kernels, s, s.loops[direction], scratch.loops[direction],
                            as_const(direction_params(layout_, config_, layer, direction, parameters_.data())),
                            direction_params(layout_, config_, layer, direction, a.grad_params),
                            s.directions[static_cast<size_t>(row)], direction, x, config_.layer_input_size(layer),
                            d_out, state_row(a.grad_h_n, row, d.Hout, d.B), state_row(a.grad_c_n, row, d.H, d.B),
                            state_row(a.grad_h0, row, d.Hout, d.B), state_row(a.grad_c0, row, d.H, d.B), layer,
                            config_.zoneout, s.dropout_seed});
    }
    // With a highway gate, the cells see dL/dh = t ⊙ dL/dy (highway.hpp).
    const T* d_cells = config_.highway && layer > 0
                           ? highway_backward_gate<T>(config_, layout_, layer, x, d_out, a.grad_params, s.highway)
                           : d_out;
    for (DirectionBackward<T>& direction : directions) direction.d_out = d_cells;
    backward_layer(directions.data(), d.D, d_in);
    if (config_.residual && layer > 0)  // y = cell(x) + x: dL/dx += dL/dy
      for (int64_t k = 0; k < layer_values; ++k) d_in[k] += d_out[k];
    if (config_.highway && layer > 0)
      highway_backward_input<T>(config_, layout_, parameters_.data(), layer, d_out, d_in, s.highway);
    if (layer > 0 && config_.dropout > 0)
      apply_dropout(d_in, layer_values, s.dropout_seed, layer - 1, config_.dropout);
    d_out = d_in;
  }
}

template void Network<float>::backward(const BackwardArgs<float>&, Workspace<float>&) const;
template void Network<double>::backward(const BackwardArgs<double>&, Workspace<double>&) const;

}  // namespace lstm
