// Network configuration: which cell, how wide, how deep, which options.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lstm {

enum class CellType { lstm, gru, rnn_tanh, rnn_relu };

// Gates per cell: 4 (LSTM: i, f, g, o), 3 (GRU: r, z, n), 1 (RNN).
int64_t gate_count(CellType cell);
struct NetworkConfig;
// Gates of a configuration's weights: gate_count(cell), but 3 (f, g, o) for coupled gates.
int64_t gate_count(const NetworkConfig& config);
// "lstm", "gru", "rnn_tanh", "rnn_relu".
std::string_view cell_name(CellType cell);
// Inverse of cell_name; also accepts "rnn" for rnn_tanh. Throws lstm::Error on anything else.
CellType parse_cell(std::string_view name);

// Names of the cells with their variants, as the command line takes them (--cell): "lstm",
// "peephole" (LSTM with peepholes), "cifg" (LSTM with coupled input and forget gates), "gru",
// "layer_norm" (the layer-normalised LSTM), "gru_reset_before" (the reset gate before the product),
// "rnn_tanh" (or "rnn"), "rnn_relu". Sets `config`'s cell, peephole, coupled_gates, reset_before
// and layer_norm; throws lstm::Error on others. With `layer_norm` (the CLI's --layer-norm) the
// cell is also layer-normalised: lstm, cifg and layer_norm only, lstm::Error for the others.
void apply_cell_variant(NetworkConfig& config, std::string_view name, bool layer_norm = false);

// The highway gates' initial bias b_t (Network::init_uniform): t = σ(−1) ≈ 0.27, so that each
// gated layer starts mostly carrying its input, as Srivastava et al. (2015) start theirs.
constexpr double kHighwayInitialBias = -1.0;

struct NetworkConfig {
  CellType cell = CellType::lstm;
  int64_t input_size = 0;   // I
  int64_t hidden_size = 0;  // H
  int64_t proj_size = 0;    // P, LSTM only; 0 = no projection
  int64_t num_layers = 1;   // L
  bool bidirectional = false;
  bool peephole = false;  // LSTM only: diagonal weights from the cell state to i, f, o
  // LSTM only: coupled input and forget gates (CIFG), i = 1 − f; the weights hold three gates,
  // f, g, o, and the peepholes two, f, o (ONNX input_forget=1, up to the sign of the gate).
  bool coupled_gates = false;
  // GRU only: the reset gate applied before the recurrent product,
  // n = tanh(a_n + (r⊙h_{t-1}) W_hnᵀ + b_hn) (ONNX linear_before_reset=0; Cho et al. 2014).
  bool reset_before = false;
  bool bias = true;       // false = no bias tensors (PyTorch's bias=False)
  double dropout = 0.0;   // on every layer's output but the last, training only
  // LSTM only: layer normalisation of the input part, the recurrent part and the cell state
  // (README "Layer-normalised LSTM"); adds weight_ln_ih, weight_ln_hh, weight_ln_c, bias_ln_c.
  // Combines with coupled_gates (then each normalisation of a part runs over its 3H values).
  bool layer_norm = false;
  // Zoneout (Krueger et al. 2016), training only: each unit of h (and of c, LSTM) keeps its
  // previous value with this probability at each step; identity at inference.
  double zoneout = 0.0;
  // Residual connections (GNMT): layer k ≥ 1 outputs its cell's h plus its input (both D*Hout
  // wide); the states h_n, c_n stay the cells'.
  bool residual = false;
  // Highway gates between stacked layers (Srivastava et al. 2015; README "Highway gates"): layer
  // k ≥ 1 outputs y = t ⊙ h + (1 − t) ⊙ x with t = σ(x W_tᵀ + b_t), x its input and h its cells'
  // output (both D*Hout wide); adds weight_highway_l{k} [D*Hout, D*Hout] and bias_highway_l{k}
  // [D*Hout]. Needs num_layers ≥ 2; does not combine with residual.
  bool highway = false;

  int64_t directions() const { return bidirectional ? 2 : 1; }  // D
  // Width of one direction's h: P with projection, else H.
  int64_t output_size() const { return proj_size > 0 ? proj_size : hidden_size; }
  // Width of the network's output and of layer k>0's input: D * output_size().
  int64_t layer_output_size() const { return directions() * output_size(); }
  int64_t layer_input_size(int64_t layer) const { return layer == 0 ? input_size : layer_output_size(); }
  bool has_cell_state() const { return cell == CellType::lstm; }
  // Peephole weights per direction: 3H (i, f, o), 2H (f, o) with coupled gates, 0 without.
  int64_t peephole_size() const { return peephole ? (coupled_gates ? 2 : 3) * hidden_size : 0; }

  // Throws lstm::Error naming the offending field.
  void validate() const;
  // One line, e.g. "lstm input=8 hidden=16 layers=2 bidirectional peephole".
  std::string describe() const;
};

// One named parameter tensor inside the flat parameter buffer.
struct ParameterInfo {
  std::string name;            // PyTorch state_dict name, e.g. "weight_ih_l0_reverse"
  std::vector<int64_t> shape;  // e.g. {4H, I}
  int64_t offset = 0;          // into the flat buffer, in elements
  int64_t numel = 0;
};

// Every parameter, in PyTorch's order (per layer, per direction: weight_ih, weight_hh, bias_ih,
// bias_hh, weight_hr) with our weight_peephole, then the layer-norm tensors (weight_ln_ih [G*H],
// weight_ln_hh [G*H], weight_ln_c [H], bias_ln_c [H]) last in each direction. Offsets are contiguous.
// With highway gates, weight_highway_l{k} [D*Hout, D*Hout] and bias_highway_l{k} [D*Hout] for
// k = 1 … L−1 come after every layer's tensors.
// Coupled gates: weight_ih, weight_hh, bias_*, weight_ln_ih, weight_ln_hh have 3H rows (f, g, o),
// weight_peephole 2H (f, o).
std::vector<ParameterInfo> parameter_layout(const NetworkConfig& config);

}  // namespace lstm
