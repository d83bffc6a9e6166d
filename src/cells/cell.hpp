// The postgemm interface: the elementwise math of one time step, after the driver's GEMMs.
//
// The driver computes, for step t, the input part x_t W_ihᵀ + b_ih (one GEMM over all steps)
// and the recurrent part h_{t-1} W_hhᵀ (one GEMM per step). A cell turns them into the new
// state (forward) and turns the gradient of the state into gradients of the pre-activations
// (backward). Cells never touch weights matrices; gradients of those are GEMMs in the driver.
#pragma once

#include <algorithm>
#include <cstdint>

#include "lstm/config.hpp"

namespace lstm {

// One forward step over B rows. Fields a cell does not use are null.
template <typename T>
struct CellForward {
  int64_t batch = 0;               // B
  int64_t hidden = 0;              // H
  int64_t unit_begin = 0;          // hidden units [unit_begin, unit_end) to compute: a thread's share
  int64_t unit_end = 0;
  const uint8_t* active = nullptr; // [B] rows to compute; null = all. Inactive rows are left alone
  T* gates = nullptr;              // [B, G*H] in: x W_ihᵀ + b_ih; out: activated gates, kept for backward
                                   // (unless keep_gates is false)
  const T* recurrent = nullptr;    // [B, G*H] h_{t-1} W_hhᵀ, or null: added into `gates`
  const T* bias_hh = nullptr;      // [G*H] or null (no bias)
  const T* h_prev = nullptr;       // [B, H] h_{t-1} (GRU)
  const T* c_prev = nullptr;       // [B, H] c_{t-1} (LSTM)
  T* c = nullptr;                  // [B, H] out: c_t (LSTM)
  T* h = nullptr;                  // [B, H] out: h_t; with projection o⊙tanh(c_t), projected by the driver
  T* saved = nullptr;              // [B, H] GRU out: h_{t-1} W_hnᵀ + b_hn, kept for backward;
                                   // reset before the product: r⊙h_{t-1} (0 on inactive rows)
  const T* peephole = nullptr;     // [3H] p_i, p_f, p_o, or [2H] p_f, p_o (peephole LSTM)
  // false at inference: nothing reads `gates` (nor the PyTorch-form GRU's `saved`) after the step,
  // and the LSTM and GRU cells then skip storing them (6% of lstm 512/512/64/50 int8 inference)
  bool keep_gates = true;
  // Layer-normalised LSTM (lstm_layer_norm.cpp): every unit of a row at once, and `gates` comes
  // in without b_ih, which is added after the normalisation.
  // G = 4 gates, or 3 with coupled gates.
  const T* bias_ih = nullptr;      // [G*H] or null
  const T* layer_norm = nullptr;   // [2GH+2H] γ_ih [G*H], γ_hh [G*H], γ_c [H], β_c [H]
  T* norm_saved = nullptr;         // [B, 2GH+H+3] out: n_x [G*H], n_h [G*H], n_c [H], 1/σ_x, 1/σ_h, 1/σ_c
};

// One backward step over B rows. Inactive rows get zero gate gradients and keep their dc.
template <typename T>
struct CellBackward {
  int64_t batch = 0;
  int64_t hidden = 0;
  int64_t unit_begin = 0;          // hidden units [unit_begin, unit_end) to compute
  int64_t unit_end = 0;
  const uint8_t* active = nullptr; // [B] or null = all
  const T* gates = nullptr;        // [B, G*H] activated gates from forward
  T* dgates = nullptr;             // [B, G*H] out: dL/d(x W_ihᵀ + b_ih)
  T* dgates_hh = nullptr;          // [B, G*H] out: dL/d(h W_hhᵀ + b_hh); the same buffer unless GRU
  const T* dh = nullptr;           // [B, H] dL/dh_t (with projection dL/d(o⊙tanh c_t))
  T* dc = nullptr;                 // [B, H] LSTM in: dL/dc_t from later steps; out: dL/dc_{t-1}
  const T* c_prev = nullptr;       // [B, H] (LSTM)
  const T* c = nullptr;            // [B, H] (LSTM)
  const T* h_prev = nullptr;       // [B, H] (GRU)
  T* dh_prev = nullptr;            // [B, H] GRU out: z⊙dh, the path that bypasses W_hh (0 on inactive rows)
  const T* saved = nullptr;        // [B, H] (GRU)
  const T* d_reset_h = nullptr;    // [B, H] GRU, reset before the product: dL/d(r⊙h_{t-1})
  const T* peephole = nullptr;     // [3H] or [2H] (peephole LSTM)
  T* dpeephole = nullptr;          // [3H] or [2H] accumulated (+=)
  // Layer-normalised LSTM: dgates is dL/d(x W_ihᵀ), dgates_hh dL/d(h W_hhᵀ) (separate buffers);
  // the bias and layer-norm gradients are accumulated (+=) here, not by the driver.
  const T* layer_norm = nullptr;   // [2GH+2H] as in CellForward
  const T* norm_saved = nullptr;   // [B, 2GH+H+3] from forward
  T* dlayer_norm = nullptr;        // [2GH+2H] accumulated (+=)
  T* dbias_ih = nullptr;           // [G*H] accumulated (+=), or null
  T* dbias_hh = nullptr;           // [G*H] accumulated (+=), or null
};

// The layer-normalised LSTM with `gates` gates per unit (4, or 3 with coupled gates): the width
// of one row of its norm_saved, and of its gains and biases γ_ih, γ_hh, γ_c, β_c.
inline int64_t layer_norm_saved_width(int64_t hidden, int64_t gates) { return 2 * gates * hidden + hidden + 3; }
inline int64_t layer_norm_params_width(int64_t hidden, int64_t gates) { return 2 * gates * hidden + 2 * hidden; }

// Rows [first, first + count) of a forward step (`gates_width` G*H, h_prev's rows `h_prev_width`
// wide): the same step on fewer rows, for a driver that runs the cell block by block.
template <typename T>
CellForward<T> cell_rows(const CellForward<T>& s, int64_t first, int64_t count, int64_t gates_width,
                         int64_t h_prev_width) {
  auto at = [first](auto* p, int64_t width) { return p ? p + first * width : p; };
  CellForward<T> rows = s;
  rows.batch = count;
  rows.active = at(s.active, 1);
  rows.gates = at(s.gates, gates_width);
  rows.recurrent = at(s.recurrent, gates_width);
  rows.h_prev = at(s.h_prev, h_prev_width);
  rows.c_prev = at(s.c_prev, s.hidden);
  rows.c = at(s.c, s.hidden);
  rows.h = at(s.h, s.hidden);
  rows.saved = at(s.saved, s.hidden);
  rows.norm_saved = at(s.norm_saved, layer_norm_saved_width(s.hidden, gates_width / s.hidden));
  return rows;
}

// What a backward step leaves on inactive row b over its units [unit_begin, unit_end): zero
// gradients for the `gate_count` gate blocks of dgates and, with a direct hidden path (GRU),
// of dgates_hh and dh_prev too.
template <typename T>
void zero_inactive_row(const CellBackward<T>& s, int64_t b, int64_t gate_count, bool direct_hidden_path) {
  const int64_t H = s.hidden, u0 = s.unit_begin, u1 = s.unit_end;
  for (int64_t g = 0; g < gate_count; ++g) {
    const int64_t at = (b * gate_count + g) * H;
    std::fill(s.dgates + at + u0, s.dgates + at + u1, T(0));
    if (direct_hidden_path) std::fill(s.dgates_hh + at + u0, s.dgates_hh + at + u1, T(0));
  }
  if (direct_hidden_path) std::fill(s.dh_prev + b * H + u0, s.dh_prev + b * H + u1, T(0));
}

template <typename T>
struct CellKernels {
  void (*forward)(const CellForward<T>&);
  void (*backward)(const CellBackward<T>&);
  // True when h_{t-1} reaches h_t other than through W_hh (GRU): backward writes dh_prev.
  bool direct_hidden_path;
  // GRU with the reset gate before the product (NetworkConfig::reset_before); null otherwise.
  // Each step then runs in two phases around a second product of the driver's. Forward:
  // reset_gates (r, z, and r⊙h_{t-1} into `saved`), the driver's (r⊙h_{t-1}) W_hnᵀ into the n
  // block of `recurrent`, then forward (n and h_t); the first product covers the r, z blocks
  // only. Backward: backward (z, n and dh_prev = z⊙dh), the driver's d_reset_h = da_n W_hn, then
  // reset_backward (r, and dh_prev += r⊙d_reset_h); the driver adds (da_r, da_z) W_h{r,z}.
  void (*reset_gates)(const CellForward<T>&);
  void (*reset_backward)(const CellBackward<T>&);
};

// The kernels of a configuration's cell on the active instruction-set path (lstm/isa.hpp) for
// float, on the portable path for double.
template <typename T>
CellKernels<T> cell_kernels(const NetworkConfig& config);

// Per-cell entry points, defined in lstm.cpp, gru.cpp, rnn.cpp, each compiled once per path
// (core/target.hpp).
#define LSTM_CELL_ENTRY_POINTS                                 \
  template <typename T> CellKernels<T> lstm_kernels(bool peephole, bool coupled); \
  template <typename T> CellKernels<T> layer_norm_lstm_kernels(bool coupled); \
  template <typename T> CellKernels<T> gru_kernels(bool reset_before); \
  template <typename T> CellKernels<T> rnn_kernels(bool relu);
namespace scalar { LSTM_CELL_ENTRY_POINTS }
namespace avx2 { LSTM_CELL_ENTRY_POINTS }
namespace avx512 { LSTM_CELL_ENTRY_POINTS }
#undef LSTM_CELL_ENTRY_POINTS

}  // namespace lstm
