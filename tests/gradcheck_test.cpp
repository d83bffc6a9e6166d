// Finite-difference gradient checks in double: backward's gradient of every parameter, input and
// initial-state element against central differences of L = Σ(Y⊙W1) + Σ(h_n⊙W2) + Σ(c_n⊙W3).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "core/random.hpp"
#include "lstm/lstm.hpp"
#include "reference/naive_network.hpp"

namespace {

using lstm::CellType;
using lstm::Mode;
using lstm::NetworkConfig;

// The finite-difference scheme. A five-point central stencil,
//   f'(x) ≈ (f(x-2h) - 8 f(x-h) + 8 f(x+h) - f(x+2h)) / (12h),
// has truncation error h⁴ f⁽⁵⁾/30 ≈ 1e-13 at h = 1e-3, and rounding error about
// ε·|Y|·√N / h ≈ 1e-12 (the loss differences are formed element by element, before summing).
// The plain two-point stencil at its best step (≈1e-5) is two orders of magnitude worse.
constexpr double default_step = 1e-3;
// Pass: relative error |a-n| / (|a|+|n|) below rel_tol, or absolute error below abs_tol (for
// gradients so small that the relative error measures only the FD noise floor).
constexpr double rel_tol = 1e-6;
constexpr double abs_tol = 1e-9;

struct GradcheckCase {
  std::string name;
  NetworkConfig config;
  int64_t seq_len = 4;           // T
  int64_t batch = 2;             // B
  std::vector<int64_t> lengths;  // [B]; empty = all T
  bool initial_states = false;   // random h0/c0 (checked too), or zeros
  bool check_naive = true;       // also check the naive reference (not where it is slow)
  double step = default_step;    // the stencil's h
};

NetworkConfig make_config(CellType cell, int64_t layers, bool bidirectional) {
  NetworkConfig config;
  config.cell = cell;
  config.input_size = 3;
  config.hidden_size = 4;
  config.num_layers = layers;
  config.bidirectional = bidirectional;
  return config;
}

// gtest prints a case by its name.
void PrintTo(const GradcheckCase& c, std::ostream* os) {
  *os << c.name;
}

std::vector<GradcheckCase> grid() {
  std::vector<GradcheckCase> cases;
  auto add = [&](std::string name, NetworkConfig config, std::vector<int64_t> lengths, bool states,
                 int64_t seq_len = 4, int64_t batch = 2) {
    cases.push_back({std::move(name), config, seq_len, batch, std::move(lengths), states});
  };
  NetworkConfig c;
  add("lstm", make_config(CellType::lstm, 1, false), {}, false);
  add("lstm_states", make_config(CellType::lstm, 1, false), {}, true);
  c = make_config(CellType::lstm, 1, false), c.peephole = true;
  add("lstm_peephole", c, {4, 2}, true);
  c = make_config(CellType::lstm, 1, false), c.proj_size = 2;
  add("lstm_proj", c, {}, true);
  add("lstm_bi_var_2l", make_config(CellType::lstm, 2, true), {4, 1}, true);
  c = make_config(CellType::lstm, 3, false), c.dropout = 0.3;
  add("lstm_dropout_3l", c, {}, true);
  add("gru", make_config(CellType::gru, 1, false), {}, true);
  add("gru_bi_var", make_config(CellType::gru, 1, true), {3, 4, 1}, true, 4, 3);
  c = make_config(CellType::gru, 3, false), c.dropout = 0.4, c.bias = false;
  add("gru_nobias_dropout_3l", c, {2, 4}, true);
  add("rnn_tanh_2l_var", make_config(CellType::rnn_tanh, 2, false), {4, 2}, true);
  c = make_config(CellType::rnn_tanh, 3, true), c.dropout = 0.3;
  add("rnn_tanh_bi_dropout_3l", c, {1, 4}, false);
  add("rnn_relu", make_config(CellType::rnn_relu, 1, false), {}, true);
  add("rnn_relu_bi_var_2l", make_config(CellType::rnn_relu, 2, true), {4, 3, 1}, true, 4, 3);
  // Coupled input and forget gates (CIFG), alone and with peepholes, projection, directions.
  c = make_config(CellType::lstm, 1, false), c.coupled_gates = true;
  add("lstm_coupled", c, {}, true);
  c = make_config(CellType::lstm, 2, true), c.coupled_gates = true, c.peephole = true, c.proj_size = 2;
  add("lstm_coupled_peephole_proj_bi_var_2l", c, {4, 2}, true);
  // GRU with the reset gate before the recurrent product (ONNX linear_before_reset=0).
  c = make_config(CellType::gru, 1, false), c.reset_before = true;
  add("gru_reset_before", c, {}, true);
  c = make_config(CellType::gru, 2, true), c.reset_before = true;
  add("gru_reset_before_bi_var_2l", c, {3, 4, 1}, true, 4, 3);
  c = make_config(CellType::gru, 2, false), c.reset_before = true, c.bias = false, c.dropout = 0.3;
  add("gru_reset_before_nobias_dropout_2l", c, {2, 4}, true);
  c = make_config(CellType::lstm, 3, true), c.peephole = true, c.proj_size = 3, c.dropout = 0.25;
  add("lstm_everything", c, {5, 1, 3}, true, 5, 3);
  cases.back().check_naive = false;  // its parts are covered above; naive here dominates the time
  c = make_config(CellType::lstm, 1, false), c.layer_norm = true;
  add("lstm_layer_norm", c, {4, 2}, true);
  c = make_config(CellType::lstm, 2, true), c.layer_norm = true, c.proj_size = 2, c.dropout = 0.3;
  add("lstm_layer_norm_proj_bi_dropout_2l", c, {3, 4, 1}, true, 4, 3);
  // A 2-wide projection feeds W_hh: the recurrent part's variance is small, the normalisation
  // steep, and h⁴f⁽⁵⁾/30 reaches 3e-5 relative at h = 1e-3 (1.2e-7 at h = 2.5e-4).
  cases.back().step = 2.5e-4;
  c = make_config(CellType::lstm, 1, false), c.layer_norm = true, c.bias = false;
  add("lstm_layer_norm_nobias", c, {}, false);
  // Layer normalisation with coupled gates: each part normalised over its 3H values (f, g, o).
  c = make_config(CellType::lstm, 1, false), c.layer_norm = true, c.coupled_gates = true;
  add("lstm_coupled_layer_norm", c, {4, 2}, true);
  c = make_config(CellType::lstm, 2, true), c.layer_norm = true, c.coupled_gates = true, c.proj_size = 2,
  c.dropout = 0.3;
  add("lstm_coupled_layer_norm_proj_bi_dropout_2l", c, {3, 4, 1}, true, 4, 3);
  // Layer norm after a narrow projection, as above; steeper still over 3H values than over 4H:
  // 1.0e-6 relative at h = 2.5e-4, 2.6e-8 at h = 1e-4 (the h⁴ of the truncation error).
  cases.back().step = 1e-4;
  c = make_config(CellType::lstm, 2, false), c.layer_norm = true, c.coupled_gates = true, c.residual = true,
  c.zoneout = 0.3, c.bias = false;
  add("lstm_coupled_layer_norm_residual_zoneout_nobias_2l", c, {4, 3}, true);
  c = make_config(CellType::lstm, 2, true), c.layer_norm = true, c.coupled_gates = true, c.highway = true;
  add("lstm_coupled_layer_norm_highway_bi_2l", c, {4, 2}, true);
  // Zoneout with its masks fixed by the seed (training mode throughout).
  c = make_config(CellType::lstm, 2, true), c.zoneout = 0.4, c.proj_size = 2;
  add("lstm_zoneout_proj_bi_2l", c, {4, 2}, true);
  c = make_config(CellType::gru, 2, false), c.zoneout = 0.3, c.dropout = 0.2;
  add("gru_zoneout_dropout_2l", c, {3, 4}, true);
  c = make_config(CellType::rnn_tanh, 1, true), c.zoneout = 0.5;
  add("rnn_tanh_zoneout_bi", c, {}, true);
  c = make_config(CellType::lstm, 1, false), c.zoneout = 0.3, c.layer_norm = true;
  add("lstm_layer_norm_zoneout", c, {4, 3}, true);
  c = make_config(CellType::lstm, 1, false), c.zoneout = 0.3, c.peephole = true;
  add("lstm_peephole_zoneout", c, {4, 3}, true);
  // Zoneout on the cell variants (branches cells and lnorm together).
  c = make_config(CellType::lstm, 2, false), c.zoneout = 0.3, c.coupled_gates = true, c.peephole = true;
  add("lstm_coupled_peephole_zoneout_2l", c, {4, 3}, true);
  c = make_config(CellType::gru, 1, true), c.zoneout = 0.3, c.reset_before = true;
  add("gru_reset_before_zoneout_bi", c, {4, 2}, true);
  c = make_config(CellType::gru, 2, false), c.zoneout = 0.2, c.reset_before = true, c.residual = true;
  add("gru_reset_before_residual_zoneout_2l", c, {3, 4}, true);
  c = make_config(CellType::lstm, 2, true), c.coupled_gates = true, c.residual = true, c.proj_size = 2;
  add("lstm_coupled_residual_proj_bi_2l", c, {4, 2}, true);
  // Residual connections between stacked layers.
  c = make_config(CellType::lstm, 3, true), c.residual = true, c.dropout = 0.3;
  add("lstm_residual_bi_dropout_3l", c, {4, 1}, true);
  c = make_config(CellType::gru, 2, false), c.residual = true, c.zoneout = 0.3;
  add("gru_residual_zoneout_2l", c, {3, 4}, true);
  c = make_config(CellType::lstm, 2, false), c.residual = true, c.layer_norm = true, c.proj_size = 3;
  add("lstm_residual_layer_norm_proj_2l", c, {4, 2}, true);
  cases.back().step = 2.5e-4;  // layer norm after a narrow projection, as above
  // Highway gates between stacked layers, with every cell and the options around them.
  c = make_config(CellType::lstm, 3, true), c.highway = true, c.dropout = 0.3;
  add("lstm_highway_bi_dropout_3l", c, {4, 1}, true);
  c = make_config(CellType::gru, 2, false), c.highway = true, c.zoneout = 0.3, c.reset_before = true;
  add("gru_reset_before_highway_zoneout_2l", c, {3, 4}, true);
  c = make_config(CellType::rnn_tanh, 2, true), c.highway = true, c.bias = false;
  add("rnn_tanh_highway_bi_nobias_2l", c, {4, 2}, true);
  c = make_config(CellType::lstm, 2, false), c.highway = true, c.coupled_gates = true, c.peephole = true,
  c.proj_size = 2;
  add("lstm_coupled_peephole_highway_proj_2l", c, {4, 3}, true);
  c = make_config(CellType::lstm, 2, false), c.highway = true, c.layer_norm = true, c.proj_size = 3;
  add("lstm_highway_layer_norm_proj_2l", c, {4, 2}, true);
  cases.back().step = 2.5e-4;  // layer norm after a narrow projection, as above
  return cases;
}

std::vector<double> random_vector(size_t n, uint64_t seed, double scale = 1.0) {
  std::vector<double> values(n);
  for (size_t k = 0; k < n; ++k) values[k] = (2.0 * lstm::uniform01(seed, k) - 1.0) * scale;
  return values;
}

// The variables L depends on.
struct Point {
  std::vector<double> params;  // flat, layout order
  std::vector<double> x;       // [T, B, I]
  std::vector<double> h0;      // [L*D, B, Hout], empty = zeros
  std::vector<double> c0;      // [L*D, B, H], empty = zeros or no cell state
};

struct Outputs {
  std::vector<double> y, h_n, c_n;
};

struct Analytic {
  std::vector<double> params, x, h0, c0;
};

// A network implementation under test: forward at a point, and backward's gradient of L.
struct Backend {
  std::function<Outputs(const Point&)> forward;
  std::function<Analytic(const Point&, const Outputs& weights)> gradient;
};

constexpr uint64_t dropout_seed = 0xD0D0;

// The fast path, Network<double>, always in training mode (dropout on).
Backend fast_backend(const GradcheckCase& c) {
  auto net = std::make_shared<lstm::Network<double>>(c.config);
  auto ws = std::make_shared<lstm::Workspace<double>>();
  const NetworkConfig config = c.config;
  const int64_t rows = config.num_layers * config.directions() * c.batch;
  auto run = [=](const Point& p, Outputs& out) {
    std::copy(p.params.begin(), p.params.end(), net->parameters().begin());
    out.y.assign(c.seq_len * c.batch * config.layer_output_size(), 0.0);
    out.h_n.assign(rows * config.output_size(), 0.0);
    out.c_n.assign(config.has_cell_state() ? rows * config.hidden_size : 0, 0.0);
    lstm::ForwardArgs<double> args;
    args.seq_len = c.seq_len;
    args.batch = c.batch;
    args.input = p.x.data();
    args.lengths = c.lengths.empty() ? nullptr : c.lengths.data();
    args.h0 = p.h0.empty() ? nullptr : p.h0.data();
    args.c0 = p.c0.empty() ? nullptr : p.c0.data();
    args.output = out.y.data();
    args.h_n = out.h_n.data();
    args.c_n = out.c_n.empty() ? nullptr : out.c_n.data();
    args.dropout_seed = dropout_seed;
    net->forward(Mode::training, args, *ws);
  };
  Backend backend;
  backend.forward = [=](const Point& p) {
    Outputs out;
    run(p, out);
    return out;
  };
  backend.gradient = [=](const Point& p, const Outputs& w) {
    Outputs out;
    run(p, out);
    Analytic g;
    g.params.assign(p.params.size(), 0.0);
    g.x.assign(p.x.size(), 0.0);
    g.h0.assign(rows * config.output_size(), 0.0);
    g.c0.assign(config.has_cell_state() ? rows * config.hidden_size : 0, 0.0);
    lstm::BackwardArgs<double> args;
    args.grad_output = w.y.data();
    args.grad_h_n = w.h_n.data();
    args.grad_c_n = w.c_n.empty() ? nullptr : w.c_n.data();
    args.grad_params = g.params.data();
    args.grad_input = g.x.data();
    args.grad_h0 = g.h0.data();
    args.grad_c0 = g.c0.empty() ? nullptr : g.c0.data();
    net->backward(args, *ws);
    return g;
  };
  return backend;
}

// The naive reference, checked the same way (it is what the fast path is compared with).
Backend naive_backend(const GradcheckCase& c) {
  Backend backend;
  backend.forward = [=](const Point& p) {
    const auto fwd = lstm::naive::naive_forward<double>(c.config, p.params, c.seq_len, c.batch, p.x,
                                                        c.lengths, p.h0, p.c0, dropout_seed, true);
    return Outputs{fwd.output, fwd.h_n, fwd.c_n};
  };
  backend.gradient = [=](const Point& p, const Outputs& w) {
    const auto fwd = lstm::naive::naive_forward<double>(c.config, p.params, c.seq_len, c.batch, p.x,
                                                        c.lengths, p.h0, p.c0, dropout_seed, true);
    const auto g = lstm::naive::naive_backward<double>(p.params, fwd, w.y, w.h_n, w.c_n);
    return Analytic{g.params, g.input, g.h0, g.c0};
  };
  return backend;
}

// Σ_e weights[e] · Σ_k coef[k] · outputs_k[e]: the stencil applied element by element.
double stencil_dot(const std::vector<Outputs>& outs, const double* coef, const Outputs& w) {
  auto part = [&](auto member) {
    double sum = 0.0;
    const std::vector<double>& weights = w.*member;
    for (size_t e = 0; e < weights.size(); ++e) {
      double difference = 0.0;
      for (size_t k = 0; k < outs.size(); ++k) difference += coef[k] * (outs[k].*member)[e];
      sum += weights[e] * difference;
    }
    return sum;
  };
  return part(&Outputs::y) + part(&Outputs::h_n) + part(&Outputs::c_n);
}

// dL/d(variable) by the five-point stencil with step h; the variable is restored afterwards.
double numeric_derivative(const Backend& backend, Point& point, double& variable, double h,
                          const Outputs& w) {
  static constexpr double offsets[4] = {-2, -1, 1, 2};
  static constexpr double coef[4] = {1, -8, 8, -1};
  const double saved = variable;
  std::vector<Outputs> outs;
  for (double offset : offsets) {
    variable = saved + offset * h;
    outs.push_back(backend.forward(point));
  }
  variable = saved;
  return stencil_dot(outs, coef, w) / (12.0 * h);
}

struct Summary {
  int64_t checked = 0, failed = 0, skipped_kinks = 0;
  double worst_rel = 0.0;  // over elements with |a|+|n| > 1e-7
  double worst_abs = 0.0;
  std::string first_failure;
};

void check_group(const Backend& backend, Point& point, std::vector<double>& variables,
                 const std::vector<double>& analytic, const std::string& group, const Outputs& w,
                 bool kinks, double step, Summary& summary, const std::function<std::string(size_t)>& describe) {
  ASSERT_EQ(variables.size(), analytic.size()) << group;
  for (size_t e = 0; e < variables.size(); ++e) {
    const double n = numeric_derivative(backend, point, variables[e], step, w);
    if (kinks) {  // relu: a kink inside the stencil shows as disagreement with a halved step
      const double n_half = numeric_derivative(backend, point, variables[e], step / 2, w);
      if (std::abs(n - n_half) > 1e-6 * (std::abs(n) + std::abs(n_half)) + abs_tol) {
        ++summary.skipped_kinks;
        continue;
      }
    }
    const double a = analytic[e];
    const double abs_err = std::abs(a - n);
    const double rel_err = abs_err / std::max(std::abs(a) + std::abs(n), 1e-300);
    ++summary.checked;
    summary.worst_abs = std::max(summary.worst_abs, abs_err);
    if (std::abs(a) + std::abs(n) > 1e-7) summary.worst_rel = std::max(summary.worst_rel, rel_err);
    if (!(abs_err <= abs_tol || rel_err < rel_tol)) {
      if (summary.failed++ == 0) {
        char line[256];
        std::snprintf(line, sizeof line, "analytic %.12g numeric %.12g (rel %.3g)", a, n, rel_err);
        summary.first_failure = group + " " + describe(e) + ": " + line;
      }
      if (summary.failed <= 10)
        ADD_FAILURE() << group << " " << describe(e) << ": analytic " << a << " numeric " << n
                      << " rel " << rel_err;
    }
  }
}

// "[e]", built by appending (GCC 12 warns falsely, -Wrestrict, on "[" + std::to_string(e)).
std::string index_text(int64_t e) {
  std::string text = "[";
  text += std::to_string(e);
  text += ']';
  return text;
}

void run_gradcheck(const GradcheckCase& c, bool use_fast) {
  const NetworkConfig& config = c.config;
  const Backend backend = use_fast ? fast_backend(c) : naive_backend(c);
  const int64_t rows = config.num_layers * config.directions() * c.batch;

  lstm::Network<double> init(config);
  init.init_uniform(4242);
  lstm::naive::spread_layer_norm_parameters(config, init.parameters(), 4243);
  Point point;
  point.params.assign(init.parameters().begin(), init.parameters().end());
  point.x = random_vector(c.seq_len * c.batch * config.input_size, 11);
  if (c.initial_states) {
    point.h0 = random_vector(rows * config.output_size(), 12, 0.8);
    if (config.has_cell_state()) point.c0 = random_vector(rows * config.hidden_size, 13, 1.5);
  }
  Outputs w;  // the loss weights W1, W2, W3
  w.y = random_vector(c.seq_len * c.batch * config.layer_output_size(), 14);
  w.h_n = random_vector(rows * config.output_size(), 15);
  if (config.has_cell_state()) w.c_n = random_vector(rows * config.hidden_size, 16);

  const Analytic analytic = backend.gradient(point, w);
  const bool kinks = config.cell == CellType::rnn_relu;
  Summary summary;
  const auto layout = init.layout();
  check_group(backend, point, point.params, analytic.params, "param", w, kinks, c.step, summary,
              [&](size_t e) {
                for (const lstm::ParameterInfo& info : layout)
                  if (static_cast<int64_t>(e) < info.offset + info.numel)
                    return info.name + index_text(static_cast<int64_t>(e) - info.offset);
                return std::string("?");
              });
  auto plain = [](size_t e) { return index_text(static_cast<int64_t>(e)); };
  check_group(backend, point, point.x, analytic.x, "input", w, kinks, c.step, summary, plain);
  if (c.initial_states) {
    check_group(backend, point, point.h0, analytic.h0, "h0", w, kinks, c.step, summary, plain);
    if (config.has_cell_state())
      check_group(backend, point, point.c0, analytic.c0, "c0", w, kinks, c.step, summary, plain);
  }
  std::printf(
      "%s (%s): %lld elements, worst rel err %.3g, worst abs err %.3g, %lld relu kinks skipped\n",
      c.name.c_str(), use_fast ? "fast" : "naive", static_cast<long long>(summary.checked),
      summary.worst_rel, summary.worst_abs, static_cast<long long>(summary.skipped_kinks));
  EXPECT_EQ(summary.failed, 0) << "first failure: " << summary.first_failure;
  // Kinks are rare by construction of the random point; many skips would hide real errors.
  EXPECT_LE(summary.skipped_kinks * 20, summary.checked + summary.skipped_kinks)
      << "too many relu kinks skipped";
  EXPECT_GT(summary.checked, 0);
}

std::string case_name(const ::testing::TestParamInfo<GradcheckCase>& param_info) {
  return param_info.param.name;
}

// The fast path on every configuration.
class Gradcheck : public ::testing::TestWithParam<GradcheckCase> {};
TEST_P(Gradcheck, Fast) {
  run_gradcheck(GetParam(), true);
}
INSTANTIATE_TEST_SUITE_P(Grid, Gradcheck, ::testing::ValuesIn(grid()), case_name);

// The naive reference, on the configurations where it is cheap.
std::vector<GradcheckCase> naive_grid() {
  std::vector<GradcheckCase> cases;
  for (const GradcheckCase& c : grid())
    if (c.check_naive) cases.push_back(c);
  return cases;
}
class GradcheckNaive : public ::testing::TestWithParam<GradcheckCase> {};
TEST_P(GradcheckNaive, Naive) {
  run_gradcheck(GetParam(), false);
}
INSTANTIATE_TEST_SUITE_P(Grid, GradcheckNaive, ::testing::ValuesIn(naive_grid()), case_name);

}  // namespace
