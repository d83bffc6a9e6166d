// What forward keeps for backward and what both use as scratch, laid out once per call shape.
#pragma once

#include <cstdint>
#include <mutex>
#include <vector>

#include "core/int8_gemm.hpp"
#include "core/packed_gemm.hpp"
#include "core/thread_team.hpp"
#include "lstm/network.hpp"
#include "network/highway.hpp"

namespace lstm {

// Threads write neighbouring column ranges of the loops' buffers (their units of every row). A
// range that starts on a 64-byte line shares no line with the next, so no line bounces between
// cores at every step; but malloc aligns large blocks to 16 bytes only. So each buffer gets
// kLineSlack<T> more elements and is used from its first whole line. Measured on the machine of
// 2026-12-06 (lstm bench, 2 threads): see the README, "Buffers on cache lines".
template <typename T>
constexpr int64_t kLineSlack = 64 / sizeof(T);
template <typename T>
T* first_line(T* p) {
  return p + (64 - reinterpret_cast<uintptr_t>(p) % 64) % 64 / sizeof(T);
}

// Per layer and direction, the buffers one direction's time loop reads and writes.
template <typename T>
struct DirectionBuffers {
  T* gates = nullptr;     // [T, B, G*H] input part, then activated gates (kept in training)
  T* h_states = nullptr;  // training [T+1, B, Hout] every state; inference [2, B, Hout] ping-pong
  T* c_states = nullptr;  // like h_states with H columns (LSTM)
  T* cell_out = nullptr;  // [T, B, H] training / [B, H] inference: o⊙tanh(c) before projection
  T* gru_saved = nullptr; // [T, B, H] training / [B, H] inference: h W_hnᵀ + b_hn (GRU), or
                          // r⊙h_{t-1} with the reset gate before the product
  T* cell_states = nullptr; // [T, B, H] training with zoneout (LSTM): c_t before zoneout
  T* norm_saved = nullptr; // [T, B, 2GH+H+3] training / [B, 2GH+H+3] inference: the layer-normalised
                           // LSTM's normalised values and inverse deviations (cells/cell.hpp)
};

// What one direction's time loop works in besides its DirectionBuffers: one per direction, so
// that the two directions of a layer can run at once (forward and backward alike).
template <typename T>
struct LoopScratch {
  std::vector<T> recurrent;    // [B, G*H] h_{t-1} W_hhᵀ for the current step, from first_line()
  PackedWeights<T> packed_hh;  // W_hh (forward) or W_hhᵀ (backward)
  PackedWeights<T> packed_hr;  // W_hr (forward) or W_hrᵀ (backward), with projection
  PackedWeights<T> packed_hn;  // W_hn (forward) or W_hnᵀ (backward), GRU with reset_before
  PackedWeights<T> packed_ih;  // W_ih in bf16, for a bf16 input part split by units
  PackedWeights<T> packed_x;   // a few rows of a layer's input, when input_by_weight_rows()
  std::vector<T> input_part;   // [G*H, T*B] W_ih xᵀ, when input_by_weight_rows()
  // Backward with W_hh read in place (backward_by_own_rows): each thread's share of dL/dh_{t-1}
  // from its units' rows, for odd and even steps [2, threads, B, Hout] from first_line(); empty
  // otherwise.
  std::vector<T> partial_dh;
  SpinBarrier barrier;         // where the threads running the loop meet
  // At inference, which forward weights packed_hh, packed_hn and packed_hr hold: a forward of the
  // same layer with the same weights_version() and precision uses them as they are instead of
  // packing them again (generate calls forward once a character). A training forward, a
  // backward and reading in place clear it, since training changes the weights through views.
  struct PackedFor {
    uint64_t version = 0;  // 0: nothing reusable
    int64_t layer = -1;
    bool bf16 = false;
    bool operator==(const PackedFor&) const = default;
  };
  PackedFor packed_for;
  bool pack_weights = true;  // whether this call's forward threads pack them (prepare_direction)
  // The same for packed_ih, which only calls whose bf16 input part is split by units pack.
  PackedFor packed_ih_for;
  bool pack_input_weights = false;
  // Whether this call's products with the weights take bf16 operands: read once from
  // matmul_precision() by prepare_direction, so that every thread of the call agrees.
  bool bf16 = false;
  // The layer-normalised LSTM's backward split by rows: each thread's gradients of the gains and
  // biases [threads, 4GH+2H] (γ_ih, γ_hh [G*H], γ_c, β_c [H], then b_ih, b_hh [G*H]), summed after the loop.
  std::vector<T> layer_norm_grads;
  // int8 inference: the layer input's rows quantized [T*B, in], and each thread's rows of
  // h_{t-1} (or of the cell output, for the projection) quantized at every step.
  int8::Rows int8_input;
  std::vector<int8::Rows> int8_state;  // [threads]
};

// Where the threads of a call add the PhaseSeconds they timed (Workspace::count_phases), or
// nowhere (into null).
struct PhaseCounter {
  PhaseSeconds* into = nullptr;
  std::mutex mutex;
};

// One layer-direction's weights in int8, quantized once per weights version.
struct Int8Direction {
  int8::Weights w_ih, w_hh, w_hr;
  int8::Weights w_hn;  // GRU with the reset gate before the product: W_hh's n block, apart
};

template <typename T>
struct Workspace<T>::State {
  // The call shape the buffers are laid out for.
  int64_t steps = 0, batch = 0;

  // Forward's record, read by backward.
  bool has_training_forward = false;
  const void* network = nullptr;  // the Network that ran the forward
  const T* input = nullptr;       // [T, B, I] the caller's layer-0 input
  uint64_t dropout_seed = 0;
  std::vector<uint8_t> active;       // [T, B] 1 where t < lengths[b]
  std::vector<uint8_t> step_has_inactive;  // [T] any row inactive at t

  // One allocation per purpose.
  std::vector<T> saved;     // per (layer, direction) DirectionBuffers, then layer inputs for k > 0
  std::vector<T> backward;  // backward-only scratch, laid out in backward.cpp
  LoopScratch<T> loops[2];  // [D]

  std::vector<DirectionBuffers<T>> directions;  // [L*D]
  std::vector<T*> layer_inputs;                 // [L] input of layer k (k > 0), [T, B, Hcat]

  // --precision int8: the weights last quantized here, and the weights_version() they came from.
  std::vector<Int8Direction> int8;  // [L*D]
  uint64_t int8_version = 0;

  driver::HighwayState<T> highway;  // the gates between layers (NetworkConfig::highway)

  PhaseCounter phases;  // the calling Workspace's `phases` while it counts them
};

}  // namespace lstm
