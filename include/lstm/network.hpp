// A recurrent network (LSTM, peephole LSTM, LSTM with projection, GRU, RNN): parameters,
// forward in inference or training mode, and backpropagation through time.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "lstm/config.hpp"

namespace lstm {

enum class Mode {
  inference,  // keeps nothing beyond the current step's state
  training,   // keeps in the Workspace what backward needs; applies dropout
};

// Buffers for one forward call. All arrays are dense, sequence-first, owned by the caller.
// Shapes use the legend in lstm.hpp: Hout = P with projection else H; Hcat = D * Hout.
template <typename T>
struct ForwardArgs {
  int64_t seq_len = 0;               // T
  int64_t batch = 0;                 // B
  const T* input = nullptr;          // [T, B, I]; in training mode it must stay unchanged until backward
  const int64_t* lengths = nullptr;  // [B], each in 1..T; null means every sequence has T steps
  const T* h0 = nullptr;             // [L*D, B, Hout]; null means zeros
  const T* c0 = nullptr;             // [L*D, B, H], LSTM only; null means zeros
  T* output = nullptr;               // [T, B, Hcat] written; zero at t >= lengths[b]
  T* h_n = nullptr;                  // [L*D, B, Hout] written if not null
  T* c_n = nullptr;                  // [L*D, B, H] written if not null (LSTM only)
  uint64_t dropout_seed = 0;         // training with dropout or zoneout > 0: seeds the masks
};

// Buffers for one backward call, after a training forward with the same Workspace.
// Gradient convention: grad_params ACCUMULATES (+=); grad_input, grad_h0, grad_c0 are OVERWRITTEN.
template <typename T>
struct BackwardArgs {
  const T* grad_output = nullptr;  // [T, B, Hcat]; null means zeros
  const T* grad_h_n = nullptr;     // [L*D, B, Hout]; null means zeros
  const T* grad_c_n = nullptr;     // [L*D, B, H]; null means zeros (LSTM only)
  T* grad_params = nullptr;        // [num_parameters()] flat, same layout as parameters(); required
  T* grad_input = nullptr;         // [T, B, I] if not null
  T* grad_h0 = nullptr;            // [L*D, B, Hout] if not null
  T* grad_c0 = nullptr;            // [L*D, B, H] if not null (LSTM only)
};

// Thread-seconds (summed over the threads) that forward and backward calls spent in each kind of
// work, counted in a Workspace while its count_phases is set (`lstm bench --phases`). The rest of
// a call — packing weights, copies, threads waiting for each other, highway gates — is in none.
struct PhaseSeconds {
  // x W_ihᵀ (+ b_ih), over every step before the loop (forward)
  double input_products = 0;
  // each step's products with W_hh (W_hn, W_hr), forward and backward
  double recurrent_products = 0;
  // the cells' elementwise work, forward and backward
  double cells = 0;
  // dW_ih, dW_hh (dW_hr) and the bias gradients, over every step
  double weight_gradients = 0;
  // dx = dgates W_ih, over every step
  double input_gradients = 0;
};

// Memory a network uses during forward and backward. It grows to the largest call and is
// reused afterwards, so that steady-state calls do not allocate. One per concurrent caller.
template <typename T>
class Workspace {
 public:
  Workspace();
  ~Workspace();
  Workspace(Workspace&&) noexcept;
  Workspace& operator=(Workspace&&) noexcept;
  struct State;                      // defined by the driver
  std::unique_ptr<State> state;
  // Whether each call adds its PhaseSeconds to `phases` (it then reads a clock a few times a step).
  bool count_phases = false;
  PhaseSeconds phases;
};

// What the last TRAINING forward kept for one layer and direction, as read-only views into its
// Workspace: valid until the next forward with that workspace (backward leaves them unchanged).
// Time runs t = 0..T-1 whatever the direction. Dropout applies to a layer's output, not to these
// states. Steps past a sequence's end (t >= lengths[b]) hold no gates (those rows are not
// meaningful); the state is carried through them unchanged.
template <typename T>
struct ForwardRecord {
  int64_t steps = 0;         // T
  int64_t batch = 0;         // B
  int64_t gate_count = 0;    // G
  int64_t hidden = 0;        // H
  int64_t h_width = 0;       // Hout
  // [T, B, G*H] activated gates of step t: LSTM i, f, g, o (σ, σ, tanh, σ, with the peephole
  // terms); GRU r, z, n (σ, σ, tanh(a_n + r⊙(h W_hnᵀ + b_hn))); RNN act(a) = h.
  const T* gates = nullptr;
  // [T+1, B, Hout] states in time order: row t lies between steps t-1 and t, so the forward
  // direction starts from row 0 = h0 and leaves step t in row t+1, while the reverse direction
  // starts from row T = h0 and leaves step t in row t.
  const T* h = nullptr;
  const T* c = nullptr;      // [T+1, B, H] cell states, rows as h (LSTM; null otherwise)
};

template <typename T>
class Network {
 public:
  // Parameters start at zero; call init_uniform or load from a file.
  explicit Network(const NetworkConfig& config);

  const NetworkConfig& config() const { return config_; }
  const std::vector<ParameterInfo>& layout() const { return layout_; }
  int64_t num_parameters() const { return static_cast<int64_t>(parameters_.size()); }

  // All parameters as one flat buffer, in layout() order. Each mutable view (and init_uniform)
  // counts as a change of the weights: the next forward packs (or quantizes) them again.
  std::span<T> parameters() {
    weights_changed();
    return parameters_;
  }
  std::span<const T> parameters() const { return parameters_; }
  // One named tensor (PyTorch name); throws lstm::Error if the network has no such tensor.
  std::span<T> parameter(std::string_view name);
  std::span<const T> parameter(std::string_view name) const;
  const ParameterInfo* find_parameter(std::string_view name) const;  // null if absent

  // PyTorch's initialisation: every tensor U(-1/sqrt(H), 1/sqrt(H)), deterministic in seed.
  void init_uniform(uint64_t seed);

  // Runs the network over a batch. Throws lstm::Error on bad arguments (lengths out of 1..T,
  // missing buffers). NaN or Inf in the input propagate to the outputs of the affected
  // sequences; they are not an error here (the CLI rejects them when reading files).
  void forward(Mode mode, const ForwardArgs<T>& args, Workspace<T>& workspace) const;

  // Backpropagation through time for the last training forward run with `workspace`.
  void backward(const BackwardArgs<T>& args, Workspace<T>& workspace) const;

  // What the last forward with `workspace` kept for layer `layer`, direction `direction`. Throws
  // lstm::Error unless that forward was a training forward of this network, or if the layer or
  // direction is out of range.
  ForwardRecord<T> record(const Workspace<T>& workspace, int64_t layer, int64_t direction) const;

  // Changes whenever the weights may have: unique across every network of the process. A
  // Workspace keeps the int8 weights it quantized, and the weights it packed at inference, with
  // the version they came from, and uses them again while the version is the same.
  uint64_t weights_version() const { return weights_version_; }
  // Declares a change made through a view taken earlier (parameters() and parameter() declare
  // their own).
  void weights_changed();

 private:
  NetworkConfig config_;
  std::vector<ParameterInfo> layout_;
  std::vector<T> parameters_;
  uint64_t weights_version_ = 0;
};

extern template class Network<float>;
extern template class Network<double>;
extern template class Workspace<float>;
extern template class Workspace<double>;

}  // namespace lstm
