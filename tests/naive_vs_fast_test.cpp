// The fast Network forward/backward against the naive reference, over a grid of configurations,
// plus the gradient conventions, workspace reuse and null optional pointers.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <ostream>
#include <string>
#include <vector>

#include "core/random.hpp"
#include "lstm/lstm.hpp"
#include "reference/naive_network.hpp"
#include "isa_test_util.hpp"
#include "test_util.hpp"

LSTM_TEST_PER_ISA_PATH();

namespace {

using lstm::CellType;
using lstm::Mode;
using lstm::NetworkConfig;

// One point of the grid.
struct Case {
  std::string name;
  NetworkConfig config;
  int64_t seq_len = 5;           // T
  int64_t batch = 3;             // B
  std::vector<int64_t> lengths;  // [B]; empty passes a null lengths pointer (all T)
  bool initial_states = false;   // random h0/c0, or null pointers
};

NetworkConfig make_config(CellType cell, int64_t layers, bool bidirectional, int64_t input = 5,
                          int64_t hidden = 6) {
  NetworkConfig config;
  config.cell = cell;
  config.input_size = input;
  config.hidden_size = hidden;
  config.num_layers = layers;
  config.bidirectional = bidirectional;
  return config;
}

// gtest prints a case by its name.
void PrintTo(const Case& c, std::ostream* os) {
  *os << c.name;
}

std::vector<Case> grid() {
  const std::vector<int64_t> var = {5, 1, 3};  // T = 5: includes 1 and T
  std::vector<Case> cases;
  auto add = [&](std::string name, NetworkConfig config, std::vector<int64_t> lengths, bool states,
                 int64_t seq_len = 5, int64_t batch = 3) {
    cases.push_back({std::move(name), config, seq_len, batch, std::move(lengths), states});
  };
  NetworkConfig c;

  add("lstm", make_config(CellType::lstm, 1, false), {}, false);
  add("lstm_states_var", make_config(CellType::lstm, 1, false), var, true);
  c = make_config(CellType::lstm, 1, false), c.peephole = true;
  add("lstm_peephole", c, var, true);
  c = make_config(CellType::lstm, 1, false), c.proj_size = 3;
  add("lstm_proj", c, var, true);
  c = make_config(CellType::lstm, 2, true), c.peephole = true, c.proj_size = 4;
  add("lstm_peephole_proj_bi_2l", c, var, true);
  add("lstm_bi_3l_var", make_config(CellType::lstm, 3, true), var, false);
  c = make_config(CellType::lstm, 2, true), c.bias = false;
  add("lstm_nobias_bi_2l", c, {}, true);
  c = make_config(CellType::lstm, 3, true), c.dropout = 0.4;
  add("lstm_dropout_bi_3l", c, var, true);

  add("gru", make_config(CellType::gru, 1, false), {}, false);
  add("gru_bi_2l_states_var", make_config(CellType::gru, 2, true), var, true);
  c = make_config(CellType::gru, 3, false), c.bias = false, c.dropout = 0.3;
  add("gru_nobias_dropout_3l", c, var, true);
  add("gru_lengths_all_T", make_config(CellType::gru, 1, true), {5, 5, 5}, true);

  add("rnn_tanh", make_config(CellType::rnn_tanh, 1, false), {}, true);
  c = make_config(CellType::rnn_tanh, 3, true), c.dropout = 0.5;
  add("rnn_tanh_bi_3l_dropout_var", c, var, false);
  add("rnn_relu_2l_states_var", make_config(CellType::rnn_relu, 2, false), var, true);
  c = make_config(CellType::rnn_relu, 1, true), c.bias = false;
  add("rnn_relu_bi_nobias", c, var, true);

  c = make_config(CellType::lstm, 3, true), c.peephole = true, c.proj_size = 2, c.dropout = 0.25;
  add("lstm_everything", c, var, true);
  add("single_step", make_config(CellType::lstm, 2, true), {}, true, 1, 1);
  add("batch1_var", make_config(CellType::gru, 2, true), {4}, true, 6, 1);
  // Odd, larger sizes that do not fit any vector width or blocking of the fast path.
  c = make_config(CellType::lstm, 2, true, 17, 33), c.peephole = true, c.proj_size = 13,
  c.dropout = 0.2;
  add("lstm_wide", c, {8, 3, 1, 7, 8}, true, 8, 5);
  c = make_config(CellType::gru, 2, true, 17, 33), c.dropout = 0.2;
  add("gru_wide", c, {8, 3, 1, 7, 8}, true, 8, 5);
  add("rnn_relu_wide", make_config(CellType::rnn_relu, 2, true, 17, 33), {2, 8, 8, 1, 5}, true, 8,
      5);
  // Wide enough that the time loop splits hidden units (and projection columns) across the
  // thread team, with a partial last panel; on one core these run single-threaded.
  c = make_config(CellType::lstm, 2, true, 24, 80), c.peephole = true, c.proj_size = 40;
  add("lstm_threaded", c, {6, 1, 4, 6, 2, 6, 5, 3}, true, 6, 8);
  add("gru_threaded", make_config(CellType::gru, 2, true, 24, 80), {6, 1, 4, 6, 2, 6, 5, 3}, true, 6, 8);
  add("rnn_tanh_threaded", make_config(CellType::rnn_tanh, 1, true, 24, 200), {6, 1, 4, 6, 2, 6, 5, 3},
      true, 6, 8);
  // Batch 1 with W_hh larger than a core's L2: training reads it in place, inference packs it
  // (a hidden size that is not a multiple of the 32-unit slices, and a sequence shorter than T).
  add("lstm_batch1_in_place", make_config(CellType::lstm, 2, true, 24, 370), {7}, true, 9, 1);
  add("gru_batch1_in_place", make_config(CellType::gru, 1, false, 24, 430), {}, true, 9, 1);
  c = make_config(CellType::lstm, 1, false, 24, 370), c.proj_size = 300;
  add("lstm_proj_batch1_in_place", c, {}, true, 9, 1);
  // A wide input and few rows (T*B ≤ 64, W_ih of at least 2^18 weights): the input part is
  // computed as W_ih xᵀ, by rows of W_ih (layer 1's input is 2*200 wide).
  c = make_config(CellType::lstm, 2, true, 330, 200), c.peephole = true;
  add("lstm_wide_input_few_rows", c, var, true);
  add("gru_wide_input_batch1", make_config(CellType::gru, 1, false, 330, 300), {}, true, 7, 1);
  // Batches of 16 rows and more with small weights: the time loop is split by batch rows
  // (17 rows: 9 and 8 on two threads), with variable lengths, states and projection.
  const std::vector<int64_t> long_var{6, 1, 4, 6, 2, 6, 5, 3, 6, 6, 1, 2, 6, 4, 3, 5, 6};
  c = make_config(CellType::lstm, 2, true, 24, 40), c.proj_size = 20, c.dropout = 0.2;
  add("lstm_proj_batch_split", c, long_var, true, 6, 17);
  add("gru_batch_split", make_config(CellType::gru, 2, true, 24, 40), long_var, true, 6, 17);
  add("rnn_tanh_batch_split", make_config(CellType::rnn_tanh, 1, false, 24, 70), {}, true, 6, 16);
  // Coupled input and forget gates (CIFG): 3 gates f, g, o; peepholes f, o.
  c = make_config(CellType::lstm, 1, false), c.coupled_gates = true;
  add("lstm_coupled", c, var, true);
  c = make_config(CellType::lstm, 2, true), c.coupled_gates = true, c.peephole = true, c.proj_size = 4,
  c.dropout = 0.25;
  add("lstm_coupled_peephole_proj_bi_2l", c, var, true);
  c = make_config(CellType::lstm, 2, true, 24, 80), c.coupled_gates = true, c.peephole = true;
  add("lstm_coupled_threaded", c, {6, 1, 4, 6, 2, 6, 5, 3}, true, 6, 8);
  c = make_config(CellType::lstm, 1, true, 24, 40), c.coupled_gates = true;
  add("lstm_coupled_batch_split", c, long_var, true, 6, 17);
  // GRU with the reset gate before the product: two products and two cell phases per step.
  c = make_config(CellType::gru, 1, false), c.reset_before = true;
  add("gru_reset_before", c, {}, false);
  c = make_config(CellType::gru, 3, true), c.reset_before = true, c.bias = false, c.dropout = 0.3;
  add("gru_reset_before_nobias_bi_3l", c, var, true);
  c = make_config(CellType::gru, 2, true, 24, 80), c.reset_before = true;
  add("gru_reset_before_threaded", c, {6, 1, 4, 6, 2, 6, 5, 3}, true, 6, 8);
  c = make_config(CellType::gru, 2, true, 24, 40), c.reset_before = true;
  add("gru_reset_before_batch_split", c, long_var, true, 6, 17);
  c = make_config(CellType::gru, 1, false, 24, 430), c.reset_before = true;
  add("gru_reset_before_batch1_in_place", c, {}, true, 9, 1);
  // Fewer units than one panel: one thread packs them all, the other an empty range.
  add("gru_batch_split_narrow", make_config(CellType::gru, 1, true, 8, 16), long_var, true, 6, 17);
  // The layer-normalised LSTM: alone, with every option, with a forward split by rows.
  c = make_config(CellType::lstm, 1, false), c.layer_norm = true;
  add("lstm_layer_norm", c, var, true);
  c = make_config(CellType::lstm, 3, true), c.layer_norm = true, c.proj_size = 4, c.dropout = 0.25;
  add("lstm_layer_norm_proj_bi_dropout_3l", c, var, true);
  c = make_config(CellType::lstm, 2, true, 17, 33), c.layer_norm = true, c.bias = false;
  add("lstm_layer_norm_wide_nobias", c, {8, 3, 1, 7, 8}, true, 8, 5);
  c = make_config(CellType::lstm, 2, true, 24, 40), c.layer_norm = true;
  add("lstm_layer_norm_batch_split", c, long_var, true, 6, 17);
  // One direction: the backward splits by rows too, each thread summing its own gain and bias
  // gradients (on two threads or more).
  c = make_config(CellType::lstm, 1, false, 24, 40), c.layer_norm = true;
  add("lstm_layer_norm_backward_batch_split", c, long_var, true, 6, 17);
  // Layer normalisation with coupled gates (3H values per part): alone, with the options, wide,
  // and split by rows forward and backward (each thread's own gain and bias gradients).
  c = make_config(CellType::lstm, 1, false), c.layer_norm = true, c.coupled_gates = true;
  add("lstm_coupled_layer_norm", c, var, true);
  c = make_config(CellType::lstm, 2, true), c.layer_norm = true, c.coupled_gates = true, c.proj_size = 4,
  c.dropout = 0.25;
  add("lstm_coupled_layer_norm_proj_bi_dropout_2l", c, var, true);
  c = make_config(CellType::lstm, 2, true, 17, 33), c.layer_norm = true, c.coupled_gates = true, c.bias = false;
  add("lstm_coupled_layer_norm_wide_nobias", c, {8, 3, 1, 7, 8}, true, 8, 5);
  c = make_config(CellType::lstm, 1, false, 24, 40), c.layer_norm = true, c.coupled_gates = true;
  add("lstm_coupled_layer_norm_backward_batch_split", c, long_var, true, 6, 17);
  c = make_config(CellType::lstm, 3, false), c.layer_norm = true, c.coupled_gates = true, c.residual = true,
  c.zoneout = 0.3;
  add("lstm_coupled_layer_norm_residual_zoneout_3l", c, var, true);
  // Zoneout: split by units (threaded), by rows, with projection, peepholes and layer norm.
  c = make_config(CellType::lstm, 2, true, 24, 80), c.zoneout = 0.3, c.peephole = true, c.proj_size = 40;
  add("lstm_zoneout_threaded", c, {6, 1, 4, 6, 2, 6, 5, 3}, true, 6, 8);
  c = make_config(CellType::lstm, 2, true, 24, 40), c.zoneout = 0.25, c.dropout = 0.2;
  add("lstm_zoneout_batch_split", c, long_var, true, 6, 17);
  c = make_config(CellType::gru, 2, true, 24, 80), c.zoneout = 0.2;
  add("gru_zoneout_threaded", c, {6, 1, 4, 6, 2, 6, 5, 3}, true, 6, 8);
  c = make_config(CellType::lstm, 2, true), c.zoneout = 0.4, c.layer_norm = true;
  add("lstm_layer_norm_zoneout_bi", c, var, true);
  c = make_config(CellType::rnn_relu, 1, true), c.zoneout = 0.5;
  add("rnn_relu_zoneout_bi", c, var, true);
  // Zoneout on the cell variants: split by units (threaded) and by batch rows.
  c = make_config(CellType::lstm, 2, true, 24, 80), c.zoneout = 0.3, c.coupled_gates = true, c.peephole = true;
  add("lstm_coupled_zoneout_threaded", c, {6, 1, 4, 6, 2, 6, 5, 3}, true, 6, 8);
  c = make_config(CellType::gru, 2, true, 24, 80), c.zoneout = 0.3, c.reset_before = true;
  add("gru_reset_before_zoneout_threaded", c, {6, 1, 4, 6, 2, 6, 5, 3}, true, 6, 8);
  c = make_config(CellType::gru, 1, true, 24, 40), c.zoneout = 0.25, c.reset_before = true;
  add("gru_reset_before_zoneout_batch_split", c, long_var, true, 6, 17);
  c = make_config(CellType::lstm, 3, true), c.coupled_gates = true, c.residual = true, c.zoneout = 0.2;
  add("lstm_coupled_residual_zoneout_bi_3l", c, var, true);
  // Residual connections between stacked layers.
  c = make_config(CellType::lstm, 3, true), c.residual = true, c.peephole = true, c.dropout = 0.25;
  add("lstm_residual_peephole_bi_dropout_3l", c, var, true);
  c = make_config(CellType::lstm, 2, false), c.residual = true, c.layer_norm = true;
  add("lstm_residual_layer_norm_2l", c, var, true);
  c = make_config(CellType::rnn_tanh, 2, true, 24, 70), c.residual = true, c.zoneout = 0.2;
  add("rnn_tanh_residual_zoneout_batch_split", c, long_var, true, 6, 17);
  c = make_config(CellType::lstm, 2, false, 24, 80), c.residual = true, c.proj_size = 40;
  add("lstm_residual_proj_threaded", c, {6, 1, 4, 6, 2, 6, 5, 3}, true, 6, 8);
  // Highway gates between stacked layers (every cell; split by units, by rows, wide).
  c = make_config(CellType::lstm, 3, true), c.highway = true, c.peephole = true, c.dropout = 0.25;
  add("lstm_highway_peephole_bi_dropout_3l", c, var, true);
  c = make_config(CellType::lstm, 2, false), c.highway = true, c.layer_norm = true, c.zoneout = 0.2;
  add("lstm_highway_layer_norm_zoneout_2l", c, var, true);
  c = make_config(CellType::gru, 2, true), c.highway = true, c.reset_before = true;
  add("gru_reset_before_highway_bi_2l", c, var, true);
  c = make_config(CellType::rnn_tanh, 2, true, 24, 70), c.highway = true, c.zoneout = 0.2;
  add("rnn_tanh_highway_zoneout_batch_split", c, long_var, true, 6, 17);
  c = make_config(CellType::lstm, 2, true, 24, 80), c.highway = true, c.coupled_gates = true, c.proj_size = 40;
  add("lstm_coupled_highway_proj_threaded", c, {6, 1, 4, 6, 2, 6, 5, 3}, true, 6, 8);
  return cases;
}

// Deterministic values in [-scale, scale].
template <typename T>
std::vector<T> random_vector(size_t n, uint64_t seed, double scale = 1.0) {
  std::vector<T> values(n);
  for (size_t k = 0; k < n; ++k)
    values[k] = static_cast<T>((2.0 * lstm::uniform01(seed, k) - 1.0) * scale);
  return values;
}

template <typename To, typename From>
std::vector<To> convert(const std::vector<From>& values) {
  return std::vector<To>(values.begin(), values.end());
}

template <typename T>
std::span<const T> cspan(const std::vector<T>& values) {
  return std::span<const T>(values);
}

// Everything one run needs: the network and random inputs of the right shapes.
template <typename T>
struct Problem {
  lstm::Network<T> net;
  int64_t seq_len, batch;
  std::vector<int64_t> lengths;
  std::vector<T> x, h0, c0, dY, dh_n, dc_n;  // h0/c0 empty when the case has no initial states
  uint64_t dropout_seed = 0x5EED;

  Problem(const Case& c, uint64_t seed)
      : net(c.config), seq_len(c.seq_len), batch(c.batch), lengths(c.lengths) {
    net.init_uniform(seed);
    lstm::naive::spread_layer_norm_parameters(c.config, net.parameters(), seed + 7);
    const NetworkConfig& config = c.config;
    const int64_t rows = config.num_layers * config.directions() * batch;
    x = random_vector<T>(seq_len * batch * config.input_size, seed + 1);
    if (c.initial_states) {
      h0 = random_vector<T>(rows * config.output_size(), seed + 2, 0.8);
      if (config.has_cell_state()) c0 = random_vector<T>(rows * config.hidden_size, seed + 3, 1.5);
    }
    dY = random_vector<T>(seq_len * batch * config.layer_output_size(), seed + 4);
    dh_n = random_vector<T>(rows * config.output_size(), seed + 5);
    if (config.has_cell_state()) dc_n = random_vector<T>(rows * config.hidden_size, seed + 6);
  }
  const NetworkConfig& config() const { return net.config(); }
  int64_t state_rows() const { return config().num_layers * config().directions() * batch; }
};

// What the fast path produced.
template <typename T>
struct FastResult {
  std::vector<T> output, h_n, c_n;
  std::vector<T> grad_params, grad_input, grad_h0, grad_c0;
};

template <typename T>
FastResult<T> run_fast(const Problem<T>& p, Mode mode, bool backward, lstm::Workspace<T>& ws) {
  const NetworkConfig& config = p.config();
  FastResult<T> r;
  const T garbage = std::numeric_limits<T>::quiet_NaN();  // overwritten outputs must not read it
  r.output.assign(p.seq_len * p.batch * config.layer_output_size(), garbage);
  r.h_n.assign(p.state_rows() * config.output_size(), garbage);
  if (config.has_cell_state()) r.c_n.assign(p.state_rows() * config.hidden_size, garbage);

  lstm::ForwardArgs<T> args;
  args.seq_len = p.seq_len;
  args.batch = p.batch;
  args.input = p.x.data();
  args.lengths = p.lengths.empty() ? nullptr : p.lengths.data();
  args.h0 = p.h0.empty() ? nullptr : p.h0.data();
  args.c0 = p.c0.empty() ? nullptr : p.c0.data();
  args.output = r.output.data();
  args.h_n = r.h_n.data();
  args.c_n = r.c_n.empty() ? nullptr : r.c_n.data();
  args.dropout_seed = p.dropout_seed;
  p.net.forward(mode, args, ws);
  if (!backward) return r;

  r.grad_params.assign(p.net.num_parameters(), T(0));
  r.grad_input.assign(p.x.size(), garbage);
  r.grad_h0.assign(r.h_n.size(), garbage);
  if (config.has_cell_state()) r.grad_c0.assign(r.c_n.size(), garbage);
  lstm::BackwardArgs<T> bargs;
  bargs.grad_output = p.dY.data();
  bargs.grad_h_n = p.dh_n.data();
  bargs.grad_c_n = p.dc_n.empty() ? nullptr : p.dc_n.data();
  bargs.grad_params = r.grad_params.data();
  bargs.grad_input = r.grad_input.data();
  bargs.grad_h0 = r.grad_h0.data();
  bargs.grad_c0 = r.grad_c0.empty() ? nullptr : r.grad_c0.data();
  p.net.backward(bargs, ws);
  return r;
}

// The reference in double, from the (possibly float) values of the problem.
struct Reference {
  lstm::naive::ForwardResult<double> fwd;
  lstm::naive::Gradients<double> grads;
};

template <typename T>
Reference run_naive(const Problem<T>& p, bool training) {
  const auto params =
      convert<double>(std::vector<T>(p.net.parameters().begin(), p.net.parameters().end()));
  const auto x = convert<double>(p.x), h0 = convert<double>(p.h0), c0 = convert<double>(p.c0);
  Reference ref;
  ref.fwd = lstm::naive::naive_forward<double>(p.config(), params, p.seq_len, p.batch, x, p.lengths,
                                               h0, c0, p.dropout_seed, training);
  if (training)
    ref.grads = lstm::naive::naive_backward<double>(params, ref.fwd, cspan(convert<double>(p.dY)),
                                                    cspan(convert<double>(p.dh_n)),
                                                    cspan(convert<double>(p.dc_n)));
  return ref;
}

template <typename T>
::testing::AssertionResult matches(const std::string& name, const std::vector<double>& expected,
                                   const std::vector<T>& actual, double tol) {
  const std::vector<T> rounded = convert<T>(expected);
  return test_util::compare_tensors(name, cspan(rounded), cspan(actual), tol);
}

template <typename T>
constexpr double tolerance() {
  return std::is_same_v<T, double> ? 1e-10 : 1e-5;
}

// Tracks the worst scaled error of one case, for the line it prints.
template <typename T>
void note_error(double& worst, const std::vector<double>& expected, const std::vector<T>& actual) {
  const std::vector<T> rounded = convert<T>(expected);
  worst = std::max(worst, test_util::scaled_error(cspan(rounded), cspan(actual)).error);
}

template <typename T>
void check_case(const Case& c, double tol = tolerance<T>(), bool gradients = true) {
  double worst = 0.0;
  for (Mode mode : {Mode::inference, Mode::training}) {
    SCOPED_TRACE(mode == Mode::training ? "training" : "inference");
    const Problem<T> p(c, 1234);
    const bool training = mode == Mode::training;
    const Reference ref = run_naive(p, training);
    lstm::Workspace<T> ws;
    const FastResult<T> fast = run_fast(p, mode, training, ws);
    EXPECT_TRUE(matches("output", ref.fwd.output, fast.output, tol));
    EXPECT_TRUE(matches("h_n", ref.fwd.h_n, fast.h_n, tol));
    EXPECT_TRUE(matches("c_n", ref.fwd.c_n, fast.c_n, tol));
    note_error(worst, ref.fwd.output, fast.output);
    note_error(worst, ref.fwd.h_n, fast.h_n);
    if (!training || !gradients) continue;
    // Per-tensor comparison of the parameter gradient, so that a failure names the tensor.
    for (const lstm::ParameterInfo& info : p.net.layout()) {
      const auto first = static_cast<size_t>(info.offset),
                 last = first + static_cast<size_t>(info.numel);
      const std::vector<double> expected(ref.grads.params.begin() + first,
                                         ref.grads.params.begin() + last);
      const std::vector<T> actual(fast.grad_params.begin() + first,
                                  fast.grad_params.begin() + last);
      EXPECT_TRUE(matches("grad " + info.name, expected, actual, tol));
      note_error(worst, expected, actual);
    }
    EXPECT_TRUE(matches("grad_input", ref.grads.input, fast.grad_input, tol));
    EXPECT_TRUE(matches("grad_h0", ref.grads.h0, fast.grad_h0, tol));
    EXPECT_TRUE(matches("grad_c0", ref.grads.c0, fast.grad_c0, tol));
    note_error(worst, ref.grads.input, fast.grad_input);
    note_error(worst, ref.grads.h0, fast.grad_h0);
    note_error(worst, ref.grads.c0, fast.grad_c0);
  }
  std::printf("%s (%s): worst scaled error %.3g (tolerance %.0e)\n", c.name.c_str(),
              std::is_same_v<T, double> ? "double" : "float", worst, tol);
}

class NaiveVsFast : public ::testing::TestWithParam<Case> {};

TEST_P(NaiveVsFast, Double) {
  check_case<double>(GetParam());
}
TEST_P(NaiveVsFast, Float) {
  // Layer normalisation divides float rounding by each row's deviation: up to 2e-5 through three
  // layers (a Release build passes 1e-5, ASan's -O1 code rounds differently).
  check_case<float>(GetParam(), GetParam().config.layer_norm ? 4e-5 : tolerance<float>());
}
// With bf16 recurrent products (operands rounded to 8 significant bits, so a looser tolerance);
// FloatBf16Differs checks that the setting takes effect.
TEST_P(NaiveVsFast, FloatBf16) {
  if (!lstm::bf16_available()) GTEST_SKIP() << "the " << lstm::isa_name(lstm::active_isa()) << " path has no bf16 products";
  const test_util::PrecisionScope bf16(lstm::MatmulPrecision::bf16);
  // relu' jumps at 0: a pre-activation that the rounded input part moves across 0 switches a
  // whole gradient path on or off, so relu networks' gradients are only compared in fp32.
  // Layer normalisation divides the rounding error of each product by the deviation of its row
  // (about 0.3 here), which the plain cells add to a bias instead: 3 to 4 times the error. Through
  // three such layers with a 4-wide projection the gradients' error reaches 0.5 (fp32 and double
  // agree with the reference there): only the outputs are compared.
  const NetworkConfig& config = GetParam().config;
  check_case<float>(GetParam(), config.layer_norm ? 8e-2 : 2e-2,
                    config.cell != CellType::rnn_relu && !(config.layer_norm && config.num_layers > 2));
}

// With int8 products (inference forward, and the training-mode forward that keeps a record): the
// naive reference computes the same scheme (reference/int8_reference.hpp). The products are exact
// to float rounding (int8_gemm_test), and most cases agree to 2e-7. But a state that differs from
// the reference's double in its last float bit can round to the neighbouring integer at a later
// step: gru_batch_split on the scalar path then differs by 1.4e-4. The tolerance allows such a
// step; FloatInt8Differs shows int8 lying far outside it from fp32.
struct Int8Scope {
  test_util::PrecisionScope precision{lstm::MatmulPrecision::int8};
  Int8Scope() { lstm::naive::int8::enabled() = true; }
  ~Int8Scope() { lstm::naive::int8::enabled() = false; }
};
constexpr double kInt8Tolerance = 5e-4;

TEST_P(NaiveVsFast, FloatInt8) {
  const Int8Scope int8;
  const Problem<float> p(GetParam(), 1234);
  for (Mode mode : {Mode::inference, Mode::training}) {
    const Reference ref = run_naive(p, mode == Mode::training);
    lstm::Workspace<float> ws;
    const FastResult<float> fast = run_fast(p, mode, false, ws);
    EXPECT_TRUE(matches("output", ref.fwd.output, fast.output, kInt8Tolerance));
    EXPECT_TRUE(matches("h_n", ref.fwd.h_n, fast.h_n, kInt8Tolerance));
    EXPECT_TRUE(matches("c_n", ref.fwd.c_n, fast.c_n, kInt8Tolerance));
    double worst = 0.0;
    note_error(worst, ref.fwd.output, fast.output);
    note_error(worst, ref.fwd.h_n, fast.h_n);
    std::printf("%s (int8, %s): worst scaled error %.3g (tolerance %.0e)\n", GetParam().name.c_str(),
                mode == Mode::training ? "training" : "inference", worst, kInt8Tolerance);
  }
}

// The int8 recurrent product runs fused with the cell in tiles of 32 rows by 64 units
// (forward_int8.hpp), and with 32 rows a thread or more each step's input part as well: batches of 70
// rows (split by rows, 35 a thread: a full tile and a tail of 3, which the AMX path leaves to the
// vector kernel) and 70 units (a full tile and a tail of 6), for every cell that int8 supports;
// the peephole LSTM splits by units, the layer-normalised one takes all units of its rows at
// once. Variable lengths and initial states, inference and the training-mode forward.
TEST(NaiveVsFast, FloatInt8Tiles) {
  const Int8Scope int8;
  std::vector<int64_t> lengths(70);
  for (size_t b = 0; b < lengths.size(); ++b) lengths[b] = 1 + static_cast<int64_t>(b * 7 % 4);
  std::vector<Case> cases;
  auto add = [&](std::string name, NetworkConfig config) {
    config.input_size = 9;
    config.hidden_size = 70;
    cases.push_back({std::move(name), config, 4, 70, lengths, true});
  };
  add("lstm", make_config(CellType::lstm, 1, false));
  NetworkConfig c = make_config(CellType::lstm, 1, false);
  c.peephole = true, c.proj_size = 5;
  add("lstm_peephole_proj", c);
  c = make_config(CellType::lstm, 1, false), c.coupled_gates = true;
  add("lstm_coupled", c);
  c = make_config(CellType::lstm, 1, false), c.layer_norm = true;
  add("lstm_layer_norm", c);
  c = make_config(CellType::lstm, 1, false), c.layer_norm = true, c.coupled_gates = true;
  add("lstm_coupled_layer_norm", c);
  add("gru_bi", make_config(CellType::gru, 1, true));
  c = make_config(CellType::gru, 1, false), c.reset_before = true;
  add("gru_reset_before", c);
  add("rnn_relu", make_config(CellType::rnn_relu, 1, false));
  for (const Case& k : cases)
    for (Mode mode : {Mode::inference, Mode::training}) {
      SCOPED_TRACE(k.name + (mode == Mode::training ? " training" : " inference"));
      const Problem<float> p(k, 99);
      const Reference ref = run_naive(p, mode == Mode::training);
      lstm::Workspace<float> ws;
      const FastResult<float> fast = run_fast(p, mode, false, ws);
      EXPECT_TRUE(matches("output", ref.fwd.output, fast.output, kInt8Tolerance));
      EXPECT_TRUE(matches("h_n", ref.fwd.h_n, fast.h_n, kInt8Tolerance));
      EXPECT_TRUE(matches("c_n", ref.fwd.c_n, fast.c_n, kInt8Tolerance));
    }
}

// Inputs with one large value per row, as real features have: the row's scale grows with it,
// and int8 moves far from fp32 while still following the scheme.
TEST(NaiveVsFast, FloatInt8Differs) {
  Case c;
  c.config = make_config(CellType::rnn_tanh, 1, false, 24, 80);
  Problem<float> p(c, 1234);
  for (size_t row = 0; row < p.x.size() / 24; ++row) p.x[row * 24 + row % 24] = 50.0f;
  lstm::Workspace<float> ws;
  const FastResult<float> exact = run_fast(p, Mode::inference, false, ws);
  const Int8Scope int8;
  const FastResult<float> quantized = run_fast(p, Mode::inference, false, ws);
  const Reference ref = run_naive(p, false);
  const double from_fp32 = test_util::scaled_error(cspan(exact.output), cspan(quantized.output)).error;
  const double from_reference =
      test_util::scaled_error(cspan(convert<float>(ref.fwd.output)), cspan(quantized.output)).error;
  EXPECT_GT(from_fp32, 10 * kInt8Tolerance);
  EXPECT_LT(from_fp32, 0.2);
  EXPECT_LT(from_reference, kInt8Tolerance);
  std::printf("int8 against fp32: %.3g; against the int8 reference: %.3g\n", from_fp32, from_reference);
}

INSTANTIATE_TEST_SUITE_P(Grid, NaiveVsFast, ::testing::ValuesIn(grid()),
                         [](const ::testing::TestParamInfo<Case>& param_info) {
                           return param_info.param.name;
                         });

// Team sizes other than this machine's: one thread (the directions of a layer one after the
// other); three, four and five (the two directions at once on unequal or equal halves, whose
// loops then meet at barriers of their own). Bidirectional cases that split by units and by
// batch rows, with projection, variable lengths and states. Double always runs the portable
// code, so its half is one test that CMake runs on the scalar path only.
const std::vector<std::string> kTeamSizeCases = {
    "lstm_threaded", "gru_threaded", "lstm_proj_batch_split", "gru_batch_split", "lstm_batch1_in_place",
    "lstm_everything", "gru_reset_before_threaded", "gru_reset_before_batch_split",
    "lstm_layer_norm_backward_batch_split", "lstm_coupled_layer_norm_backward_batch_split",
    "rnn_tanh_highway_zoneout_batch_split"};

template <typename T>
void check_team_sizes() {
  for (const int threads : {1, 3, 4, 5}) {
    lstm::set_num_threads(threads);
    for (const Case& c : grid())
      for (const std::string& name : kTeamSizeCases)
        if (c.name == name) {
          SCOPED_TRACE(name + " on " + std::to_string(threads) + " threads");
          check_case<T>(c);
        }
  }
  lstm::set_num_threads(0);
}

TEST(NaiveVsFast, TeamSizes) { check_team_sizes<float>(); }
TEST(NaiveVsFast, TeamSizesDouble) { check_team_sizes<double>(); }

TEST(NaiveVsFast, FloatBf16Differs) {
  if (!lstm::bf16_available()) GTEST_SKIP() << "the " << lstm::isa_name(lstm::active_isa()) << " path has no bf16 products";
  Case c;
  c.config = make_config(CellType::lstm, 1, false, 24, 80);
  const Problem<float> p(c, 1234);
  lstm::Workspace<float> ws;
  const FastResult<float> exact = run_fast(p, Mode::training, true, ws);
  const FastResult<float> rounded = [&] {
    const test_util::PrecisionScope bf16(lstm::MatmulPrecision::bf16);
    return run_fast(p, Mode::training, true, ws);
  }();
  const double output = test_util::scaled_error(cspan(exact.output), cspan(rounded.output)).error;
  const double grads = test_util::scaled_error(cspan(exact.grad_params), cspan(rounded.grad_params)).error;
  EXPECT_GT(output, 1e-5);
  EXPECT_GT(grads, 1e-5);
  EXPECT_LT(output, 2e-2);
  EXPECT_LT(grads, 2e-2);
}

// Zoneout is training only: at inference a network with zoneout computes exactly what the plain
// one does; in training, a probability so small that no unit holds reproduces the plain network
// exactly (outputs and gradients, through the zoneout code path); 0.5 changes it.
TEST(Zoneout, ZeroEffectSettingsReproduceThePlainNetwork) {
  for (CellType cell : {CellType::lstm, CellType::gru}) {
    NetworkConfig plain = make_config(cell, 2, true, 24, 40);
    const Case plain_case{"plain", plain, 6, 17, {6, 1, 4, 6, 2, 6, 5, 3, 6, 6, 1, 2, 6, 4, 3, 5, 6}, true};
    const Problem<float> reference(plain_case, 5);
    lstm::Workspace<float> ws;
    const FastResult<float> trained = run_fast(reference, Mode::training, true, ws);
    const FastResult<float> inferred = run_fast(reference, Mode::inference, false, ws);
    for (double p : {1e-12, 0.5}) {
      Case zoned_case = plain_case;
      zoned_case.config.zoneout = p;
      Problem<float> zoned(zoned_case, 5);
      std::copy(reference.net.parameters().begin(), reference.net.parameters().end(), zoned.net.parameters().begin());
      const FastResult<float> zoned_inferred = run_fast(zoned, Mode::inference, false, ws);
      EXPECT_EQ(zoned_inferred.output, inferred.output);
      EXPECT_EQ(zoned_inferred.h_n, inferred.h_n);
      const FastResult<float> zoned_trained = run_fast(zoned, Mode::training, true, ws);
      if (p < 1e-6) {
        EXPECT_EQ(zoned_trained.output, trained.output);
        EXPECT_EQ(zoned_trained.c_n, trained.c_n);
        EXPECT_EQ(zoned_trained.grad_params, trained.grad_params);
        EXPECT_EQ(zoned_trained.grad_input, trained.grad_input);
        EXPECT_EQ(zoned_trained.grad_h0, trained.grad_h0);
      } else {
        EXPECT_GT(test_util::scaled_error(cspan(trained.output), cspan(zoned_trained.output)).error, 1e-2);
      }
    }
  }
}

// The naive reference in float agrees with itself in double (exercises naive<float>).
TEST(NaiveReference, FloatMatchesDouble) {
  NetworkConfig config = make_config(CellType::lstm, 2, true);
  config.peephole = true, config.proj_size = 3, config.dropout = 0.3;
  const Case c{"", config, 5, 3, {5, 1, 3}, true};
  const Problem<float> p(c, 99);
  const Reference ref = run_naive(p, true);
  const std::vector<float> params(p.net.parameters().begin(), p.net.parameters().end());
  const auto fwd = lstm::naive::naive_forward<float>(config, params, p.seq_len, p.batch, p.x,
                                                     p.lengths, p.h0, p.c0, p.dropout_seed, true);
  const auto grads = lstm::naive::naive_backward<float>(params, fwd, p.dY, p.dh_n, p.dc_n);
  EXPECT_TRUE(matches("output", ref.fwd.output, fwd.output, 1e-5));
  EXPECT_TRUE(matches("grad_params", ref.grads.params, grads.params, 1e-5));
  EXPECT_TRUE(matches("grad_input", ref.grads.input, grads.input, 1e-5));
}

// grad_params accumulates: two forward+backward passes into one buffer that already holds G0
// give G0 + 2g, with g from a fresh buffer.
TEST(GradientConventions, ParamsAccumulate) {
  NetworkConfig config = make_config(CellType::lstm, 2, true);
  config.peephole = true, config.proj_size = 3;
  const Problem<double> p({"", config, 5, 3, {5, 1, 3}, true}, 7);
  lstm::Workspace<double> ws;
  const FastResult<double> once = run_fast(p, Mode::training, true, ws);

  const std::vector<double> start = random_vector<double>(p.net.num_parameters(), 77);
  std::vector<double> accumulated = start;
  std::vector<double> grad_input(p.x.size());
  lstm::BackwardArgs<double> bargs;
  bargs.grad_output = p.dY.data();
  bargs.grad_h_n = p.dh_n.data();
  bargs.grad_c_n = p.dc_n.data();
  bargs.grad_params = accumulated.data();
  bargs.grad_input = grad_input.data();
  for (int pass = 0; pass < 2; ++pass) {
    run_fast(p, Mode::training, false, ws);  // forward only
    p.net.backward(bargs, ws);
  }
  std::vector<double> expected(start.size());
  for (size_t k = 0; k < start.size(); ++k) expected[k] = start[k] + 2.0 * once.grad_params[k];
  EXPECT_TRUE(test_util::compare_tensors("grad_params after two passes", cspan(expected),
                                         cspan(accumulated), 1e-12));
  // grad_input was overwritten, not accumulated.
  EXPECT_TRUE(
      test_util::compare_tensors("grad_input", cspan(once.grad_input), cspan(grad_input), 1e-12));
}

// grad_input, grad_h0, grad_c0 are overwritten: NaN garbage in them must not leak (run_fast
// pre-fills them with NaN; here with a finite value too, for every cell type).
TEST(GradientConventions, OverwrittenOutputsIgnoreGarbage) {
  for (CellType cell : {CellType::lstm, CellType::gru, CellType::rnn_tanh}) {
    const NetworkConfig config = make_config(cell, 2, true);
    const Problem<double> p({"", config, 5, 3, {5, 1, 3}, true}, 8);
    lstm::Workspace<double> ws;
    const FastResult<double> clean = run_fast(p, Mode::training, true, ws);
    std::vector<double> grad_params(p.net.num_parameters(), 0.0), grad_input(p.x.size(), 1e6),
        grad_h0(clean.grad_h0.size(), -3e5), grad_c0(clean.grad_c0.size(), 4e4);
    run_fast(p, Mode::training, false, ws);
    lstm::BackwardArgs<double> bargs;
    bargs.grad_output = p.dY.data();
    bargs.grad_h_n = p.dh_n.data();
    bargs.grad_c_n = p.dc_n.empty() ? nullptr : p.dc_n.data();
    bargs.grad_params = grad_params.data();
    bargs.grad_input = grad_input.data();
    bargs.grad_h0 = grad_h0.data();
    bargs.grad_c0 = grad_c0.empty() ? nullptr : grad_c0.data();
    p.net.backward(bargs, ws);
    SCOPED_TRACE(std::string(lstm::cell_name(cell)));
    EXPECT_TRUE(
        test_util::compare_tensors("grad_input", cspan(clean.grad_input), cspan(grad_input), 0.0));
    EXPECT_TRUE(test_util::compare_tensors("grad_h0", cspan(clean.grad_h0), cspan(grad_h0), 0.0));
    EXPECT_TRUE(test_util::compare_tensors("grad_c0", cspan(clean.grad_c0), cspan(grad_c0), 0.0));
  }
}

template <typename T>
void expect_identical(const FastResult<T>& a, const FastResult<T>& b, const std::string& what) {
  SCOPED_TRACE(what);
  EXPECT_TRUE(test_util::compare_tensors("output", cspan(a.output), cspan(b.output), 0.0));
  EXPECT_TRUE(test_util::compare_tensors("h_n", cspan(a.h_n), cspan(b.h_n), 0.0));
  EXPECT_TRUE(test_util::compare_tensors("c_n", cspan(a.c_n), cspan(b.c_n), 0.0));
  EXPECT_TRUE(
      test_util::compare_tensors("grad_params", cspan(a.grad_params), cspan(b.grad_params), 0.0));
  EXPECT_TRUE(
      test_util::compare_tensors("grad_input", cspan(a.grad_input), cspan(b.grad_input), 0.0));
  EXPECT_TRUE(test_util::compare_tensors("grad_h0", cspan(a.grad_h0), cspan(b.grad_h0), 0.0));
  EXPECT_TRUE(test_util::compare_tensors("grad_c0", cspan(a.grad_c0), cspan(b.grad_c0), 0.0));
}

// One workspace through big, small, big calls (training with backward, then inference) gives
// exactly what fresh workspaces give.
TEST(WorkspaceReuse, BigSmallBigMatchesFresh) {
  NetworkConfig config = make_config(CellType::lstm, 2, true);
  config.peephole = true, config.proj_size = 4, config.dropout = 0.3;
  const Problem<double> big({"", config, 9, 4, {9, 2, 9, 5}, true}, 21);
  const Problem<double> small({"", config, 3, 2, {1, 3}, true}, 22);
  lstm::Workspace<double> shared;
  for (Mode mode : {Mode::training, Mode::inference}) {
    const bool training = mode == Mode::training;
    for (const Problem<double>* p : {&big, &small, &big, &small}) {
      lstm::Workspace<double> fresh;
      const FastResult<double> expected = run_fast(*p, mode, training, fresh);
      const FastResult<double> reused = run_fast(*p, mode, training, shared);
      expect_identical(
          expected, reused,
          std::string(training ? "training " : "inference ") + (p == &big ? "big" : "small"));
    }
  }
  // A workspace that last ran inference can run training again, and vice versa across cells.
  const Problem<double> gru({"", make_config(CellType::gru, 2, true), 6, 3, {6, 2, 4}, true}, 23);
  lstm::Workspace<double> fresh;
  expect_identical(run_fast(gru, Mode::training, true, fresh),
                   run_fast(gru, Mode::training, true, shared),
                   "gru after lstm in the same workspace");
}

// Null optional pointers: no lengths, no h0/c0, no h_n/c_n, no grad_output / grad_h_n /
// grad_c_n, no grad_input / grad_h0 / grad_c0; results equal the naive reference with zeros.
TEST(NullPointers, OptionalArgumentsMayBeNull) {
  NetworkConfig config = make_config(CellType::lstm, 2, true);
  config.peephole = true;
  Problem<double> p({"", config, 5, 3, {}, false}, 31);
  const Reference ref = run_naive(p, true);  // h0/c0 empty -> zeros; all T steps

  std::vector<double> output(ref.fwd.output.size());
  lstm::ForwardArgs<double> args;
  args.seq_len = p.seq_len;
  args.batch = p.batch;
  args.input = p.x.data();
  args.output = output.data();
  lstm::Workspace<double> ws;
  p.net.forward(Mode::inference, args, ws);
  EXPECT_TRUE(
      test_util::compare_tensors("inference output", cspan(ref.fwd.output), cspan(output), 1e-10));
  p.net.forward(Mode::training, args, ws);
  EXPECT_TRUE(
      test_util::compare_tensors("training output", cspan(ref.fwd.output), cspan(output), 1e-10));

  // Only grad_output given, only grad_params requested.
  std::vector<double> grad_params(p.net.num_parameters(), 0.0);
  lstm::BackwardArgs<double> bargs;
  bargs.grad_output = p.dY.data();
  bargs.grad_params = grad_params.data();
  p.net.backward(bargs, ws);
  const auto only_dY =
      lstm::naive::naive_backward<double>(p.net.parameters(), ref.fwd, p.dY, {}, {});
  EXPECT_TRUE(test_util::compare_tensors("grad_params (dY only)", cspan(only_dY.params),
                                         cspan(grad_params), 1e-10));

  // Only grad_h_n given (grad_output null), with grad_h0 requested but not grad_input.
  p.net.forward(Mode::training, args, ws);
  std::fill(grad_params.begin(), grad_params.end(), 0.0);
  std::vector<double> grad_h0(p.state_rows() * config.output_size(), 5.0);
  bargs = {};
  bargs.grad_h_n = p.dh_n.data();
  bargs.grad_params = grad_params.data();
  bargs.grad_h0 = grad_h0.data();
  p.net.backward(bargs, ws);
  const auto only_dh =
      lstm::naive::naive_backward<double>(p.net.parameters(), ref.fwd, {}, p.dh_n, {});
  EXPECT_TRUE(test_util::compare_tensors("grad_params (dh_n only)", cspan(only_dh.params),
                                         cspan(grad_params), 1e-10));
  EXPECT_TRUE(
      test_util::compare_tensors("grad_h0 (dh_n only)", cspan(only_dh.h0), cspan(grad_h0), 1e-10));
}

}  // namespace

// The path in force is the CPU's best (read from /proc/cpuinfo, not from the library) capped by
// LSTM_MAX_ISA, and the driver takes its kernels from that path's copy, no other.
TEST(Dispatch, ComputesOnTheRequestedPath) {
  const lstm::Isa expected = std::min(test_util::requested_isa(), test_util::isa_from_cpuinfo());
  EXPECT_STREQ(lstm::isa_name(lstm::active_isa()), lstm::isa_name(expected));
  std::vector<unsigned long long> before;
  for (const lstm::Isa isa : lstm::all_isas()) before.push_back(lstm::isa_dispatch_count(isa));
  Case c;
  c.config = make_config(CellType::gru, 1, true, 6, 40);
  const Problem<float> p(c, 99);
  lstm::Workspace<float> ws;
  run_fast(p, Mode::training, true, ws);
  for (const lstm::Isa isa : lstm::all_isas()) {
    const unsigned long long calls = lstm::isa_dispatch_count(isa) - before[static_cast<size_t>(isa)];
    if (isa == expected) EXPECT_GT(calls, 0u) << lstm::isa_name(isa);
    else EXPECT_EQ(calls, 0u) << lstm::isa_name(isa);
  }
}
