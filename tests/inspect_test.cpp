// Inspection library: the gradient by distance against finite differences of the naive reference
// and a 1-unit RNN worked by hand; Network::record against the naive reference's trace; gate
// traces obey the cell equations and reproduce the forecast path.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <numeric>
#include <vector>

#include "apps/forecast.hpp"
#include "apps/inspect.hpp"
#include "lstm/lstm.hpp"
#include "reference/naive_network.hpp"
#include "test_util.hpp"

namespace {

using lstm::CellType;
using lstm::NetworkConfig;

template <typename T>
std::vector<T> uniform_values(size_t count, uint64_t seed, double low, double high) {
  std::vector<T> values(count);
  for (size_t k = 0; k < count; ++k)
    values[k] = static_cast<T>(low + (high - low) * lstm::uniform01(seed, k));
  return values;
}

NetworkConfig small_config(CellType cell, int64_t layers, int64_t proj = 0) {
  NetworkConfig config;
  config.cell = cell;
  config.input_size = 2;
  config.hidden_size = 3;
  config.proj_size = proj;
  config.num_layers = layers;
  config.dropout = layers > 1 ? 0.4 : 0.0;  // must not be applied by the probe
  return config;
}

// ‖∂L/∂h_t‖ averaged over the batch by central differences of L = Σ_b ⟨u, h_{T-1,b}⟩ (top
// layer), perturbing the top layer's h entering the suffix in the naive reference.
double finite_difference_norm(const NetworkConfig& config, std::span<const double> params,
                              std::span<const double> x, int64_t T, int64_t B,
                              std::span<const double> u, int64_t distance) {
  const int64_t L = config.num_layers, I = config.input_size, H = config.hidden_size;
  const int64_t Hout = config.output_size(), start = T - distance;
  const auto whole =
      lstm::naive::naive_forward<double>(config, params, T, B, x, {}, {}, {}, 0, false);
  // The states entering step `start`, [L, B, Hout] and [L, B, H] (zeros when start = 0).
  std::vector<double> h0(L * B * Hout), c0(config.has_cell_state() ? L * B * H : 0);
  for (int64_t layer = 0; layer < L; ++layer) {
    const auto& trace = whole.traces[layer];
    for (int64_t b = 0; b < B; ++b) {
      for (int64_t j = 0; j < Hout; ++j)
        h0[(layer * B + b) * Hout + j] = trace.h_prev[(start * B + b) * Hout + j];
      for (int64_t j = 0; j < (c0.empty() ? 0 : H); ++j)
        c0[(layer * B + b) * H + j] = trace.c_prev[(start * B + b) * H + j];
    }
  }
  const std::span<const double> suffix = x.subspan(start * B * I, distance * B * I);
  auto loss = [&](const std::vector<double>& h) {
    const auto run = lstm::naive::naive_forward<double>(config, params, distance, B, suffix, {}, h,
                                                        c0, 0, false);
    double sum = 0.0;
    for (int64_t b = 0; b < B; ++b)
      for (int64_t j = 0; j < Hout; ++j) sum += u[j] * run.h_n[((L - 1) * B + b) * Hout + j];
    return sum;
  };
  const double eps = 1e-6;
  double total = 0.0;
  for (int64_t b = 0; b < B; ++b) {
    double square = 0.0;
    for (int64_t j = 0; j < Hout; ++j) {
      std::vector<double> plus = h0, minus = h0;
      plus[((L - 1) * B + b) * Hout + j] += eps;
      minus[((L - 1) * B + b) * Hout + j] -= eps;
      const double g = (loss(plus) - loss(minus)) / (2 * eps);
      square += g * g;
    }
    total += std::sqrt(square);
  }
  return total / static_cast<double>(B);
}

struct GradientCase {
  CellType cell;
  int64_t layers, proj;
};

class GradientByDistance : public ::testing::TestWithParam<GradientCase> {};

TEST_P(GradientByDistance, MatchesFiniteDifferences) {
  const GradientCase c = GetParam();
  const NetworkConfig config = small_config(c.cell, c.layers, c.proj);
  lstm::Network<double> network(config);
  network.init_uniform(7);
  // Larger weights than the default, so that the gradient does not vanish within T steps.
  for (double& w : network.parameters()) w *= 2.0;
  const int64_t T = 6, B = 2;
  const std::vector<double> x = uniform_values<double>(T * B * 2, 11, -1.0, 1.0);
  const std::vector<double> u = lstm::apps::unit_vector<double>(config.output_size(), 3);
  std::vector<int64_t> distances(T);
  std::iota(distances.begin(), distances.end(), 1);
  const lstm::apps::GradientCurve curve =
      lstm::apps::gradient_by_distance<double>(network, x, T, B, u, distances);
  ASSERT_EQ(curve.distance, distances);
  for (size_t k = 0; k < distances.size(); ++k) {
    const double expected =
        finite_difference_norm(config, network.parameters(), x, T, B, u, distances[k]);
    EXPECT_GT(expected, 1e-4) << "distance " << distances[k];
    EXPECT_NEAR(curve.grad_norm[k], expected, 1e-7 * std::max(1.0, expected))
        << "distance " << distances[k];
  }
}

INSTANTIATE_TEST_SUITE_P(Cells, GradientByDistance,
                         ::testing::Values(GradientCase{CellType::lstm, 2, 0},
                                           GradientCase{CellType::lstm, 1, 2},
                                           GradientCase{CellType::gru, 2, 0},
                                           GradientCase{CellType::rnn_tanh, 1, 0}),
                         [](const auto& test_case) {
                           const GradientCase& c = test_case.param;
                           return std::string(lstm::cell_name(c.cell)) + "_layers" +
                                  std::to_string(c.layers) + "_proj" + std::to_string(c.proj);
                         });

// A 1-unit tanh RNN: h_t = tanh(a x_t + b + w h_{t-1}), so ∂h_{T-1}/∂h_t = Π_{s>t} w (1 − h_s²),
// and with u = ±1 the norm is the absolute value of that product.
TEST(GradientByDistance, OneUnitRnnByHand) {
  NetworkConfig config;
  config.cell = CellType::rnn_tanh;
  config.input_size = 1;
  config.hidden_size = 1;
  lstm::Network<double> network(config);
  const double a = 0.8, w = 0.3, b_ih = 0.1, b_hh = -0.05;
  network.parameter("weight_ih_l0")[0] = a;
  network.parameter("weight_hh_l0")[0] = w;
  network.parameter("bias_ih_l0")[0] = b_ih;
  network.parameter("bias_hh_l0")[0] = b_hh;
  const int64_t T = 9, B = 1;
  const std::vector<double> x = {0.5, -1.0, 0.25, 1.0, 0.0, -0.5, 0.75, 0.3, -0.2};
  std::vector<double> h(T);  // h[t] after step t
  double previous = 0.0;
  for (int64_t t = 0; t < T; ++t)
    previous = h[t] = std::tanh(a * x[t] + b_ih + b_hh + w * previous);

  const std::vector<double> u = lstm::apps::unit_vector<double>(1, 5);
  ASSERT_EQ(std::abs(u[0]), 1.0);
  const std::vector<int64_t> distances = {1, 2, 5, 8, 9};
  const auto curve = lstm::apps::gradient_by_distance<double>(network, x, T, B, u, distances);
  for (size_t k = 0; k < distances.size(); ++k) {
    const int64_t t = T - 1 - distances[k];
    double product = 1.0;
    for (int64_t s = t + 1; s < T; ++s) product *= w * (1.0 - h[s] * h[s]);
    EXPECT_NEAR(curve.grad_norm[k], std::abs(product), 1e-14) << "distance " << distances[k];
  }
}

TEST(GradientByDistance, RejectsBadArguments) {
  lstm::Network<float> network(small_config(CellType::lstm, 1));
  const std::vector<float> x(4 * 1 * 2), u(3, 0.5f);
  const std::vector<int64_t> too_far = {5};
  EXPECT_THROW(lstm::apps::gradient_by_distance<float>(network, x, 4, 1, u, too_far), lstm::Error);
  const std::vector<int64_t> ok = {1};
  EXPECT_THROW(lstm::apps::gradient_by_distance<float>(network, x, 4, 2, u, ok), lstm::Error);
  NetworkConfig bidirectional = small_config(CellType::lstm, 1);
  bidirectional.bidirectional = true;
  EXPECT_THROW(
      lstm::apps::gradient_by_distance<float>(lstm::Network<float>(bidirectional), x, 4, 1, u, ok),
      lstm::Error);
}

TEST(ProbeHelpers, DistancesUnitVectorsInputs) {
  EXPECT_EQ(lstm::apps::probe_distances(100), (std::vector<int64_t>{1, 2, 5, 10, 20, 50, 100}));
  EXPECT_EQ(lstm::apps::probe_distances(300),
            (std::vector<int64_t>{1, 2, 5, 10, 20, 50, 100, 200, 300}));
  EXPECT_EQ(lstm::apps::probe_distances(1), (std::vector<int64_t>{1}));
  const std::vector<double> u = lstm::apps::unit_vector<double>(64, 9);
  EXPECT_NEAR(std::inner_product(u.begin(), u.end(), u.begin(), 0.0), 1.0, 1e-12);
  // Adding-problem inputs: values in [0, 1), exactly two markers per sequence.
  const int64_t T = 20, B = 4;
  const std::vector<float> x = lstm::apps::probe_inputs(T, B, 2, 1);
  ASSERT_EQ(x.size(), static_cast<size_t>(T * B * 2));
  for (int64_t b = 0; b < B; ++b) {
    float markers = 0;
    for (int64_t t = 0; t < T; ++t) {
      EXPECT_GE(x[(t * B + b) * 2], 0.0f);
      EXPECT_LT(x[(t * B + b) * 2], 1.0f);
      markers += x[(t * B + b) * 2 + 1];
    }
    EXPECT_EQ(markers, 2.0f);
  }
}

// ---------------------------------------------------------------------------------------------
// Network::record against the naive reference's trace.

struct RecordCase {
  CellType cell;
  int64_t layers, proj;
  bool bidirectional, peephole;
};

class Record : public ::testing::TestWithParam<RecordCase> {};

TEST_P(Record, MatchesNaiveTrace) {
  const RecordCase c = GetParam();
  NetworkConfig config = small_config(c.cell, c.layers, c.proj);
  config.hidden_size = 4;
  config.bidirectional = c.bidirectional;
  config.peephole = c.peephole;
  lstm::Network<double> network(config);
  network.init_uniform(3);
  const int64_t T = 5, B = 3, G = lstm::gate_count(c.cell), H = 4, Hout = config.output_size();
  const std::vector<double> x = uniform_values<double>(T * B * 2, 4, -1.0, 1.0);
  const std::vector<double> h0 =
      uniform_values<double>(c.layers * config.directions() * B * Hout, 5, -0.5, 0.5);
  const std::vector<double> c0 =
      uniform_values<double>(c.layers * config.directions() * B * H, 6, -0.5, 0.5);
  const std::vector<int64_t> lengths = {5, 2, 4};
  std::vector<double> output(T * B * config.layer_output_size());
  lstm::ForwardArgs<double> args;
  args.seq_len = T;
  args.batch = B;
  args.input = x.data();
  args.lengths = lengths.data();
  args.h0 = h0.data();
  args.c0 = config.has_cell_state() ? c0.data() : nullptr;
  args.output = output.data();
  args.dropout_seed = 99;
  lstm::Workspace<double> workspace;
  network.forward(lstm::Mode::training, args, workspace);
  const auto ref = lstm::naive::naive_forward<double>(
      config, network.parameters(), T, B, x, lengths, h0,
      config.has_cell_state() ? std::span<const double>(c0) : std::span<const double>(), 99, true);

  for (int64_t layer = 0; layer < c.layers; ++layer)
    for (int64_t d = 0; d < config.directions(); ++d) {
      const lstm::ForwardRecord<double> kept = network.record(workspace, layer, d);
      const auto& trace = ref.traces[layer * config.directions() + d];
      ASSERT_EQ(kept.steps, T);
      ASSERT_EQ(kept.batch, B);
      ASSERT_EQ(kept.gate_count, G);
      ASSERT_EQ(kept.hidden, H);
      ASSERT_EQ(kept.h_width, Hout);
      ASSERT_EQ(kept.c != nullptr, config.has_cell_state());
      for (int64_t b = 0; b < B; ++b)
        for (int64_t t = 0; t < lengths[b]; ++t) {
          const std::string where = "layer " + std::to_string(layer) + " direction " +
                                    std::to_string(d) + " t " + std::to_string(t) + " b " +
                                    std::to_string(b);
          const int64_t before = d == 0 ? t : t + 1, after = d == 0 ? t + 1 : t;  // state rows
          EXPECT_TRUE(test_util::compare_tensors(
              where + " gates", std::span(trace.gates).subspan((t * B + b) * G * H, G * H),
              std::span<const double>(kept.gates + (t * B + b) * G * H, G * H), 1e-12));
          EXPECT_TRUE(test_util::compare_tensors(
              where + " h before", std::span(trace.h_prev).subspan((t * B + b) * Hout, Hout),
              std::span<const double>(kept.h + (before * B + b) * Hout, Hout), 1e-12));
          if (!kept.c) continue;
          EXPECT_TRUE(test_util::compare_tensors(
              where + " c before", std::span(trace.c_prev).subspan((t * B + b) * H, H),
              std::span<const double>(kept.c + (before * B + b) * H, H), 1e-12));
          EXPECT_TRUE(test_util::compare_tensors(
              where + " c after", std::span(trace.c).subspan((t * B + b) * H, H),
              std::span<const double>(kept.c + (after * B + b) * H, H), 1e-12));
        }
    }
  // The top layer's final state is the last state recorded (forward direction).
  const auto top = network.record(workspace, c.layers - 1, 0);
  for (int64_t b = 0; b < B; ++b)
    EXPECT_TRUE(test_util::compare_tensors(
        "h_n",
        std::span(ref.h_n).subspan(((c.layers - 1) * config.directions() * B + b) * Hout, Hout),
        std::span<const double>(top.h + (lengths[b] * B + b) * Hout, Hout), 1e-12));
}

INSTANTIATE_TEST_SUITE_P(Cells, Record,
                         ::testing::Values(RecordCase{CellType::lstm, 2, 0, true, false},
                                           RecordCase{CellType::lstm, 1, 3, false, true},
                                           RecordCase{CellType::gru, 2, 0, true, false},
                                           RecordCase{CellType::rnn_relu, 2, 0, false, false},
                                           RecordCase{CellType::rnn_tanh, 1, 0, true, false}),
                         [](const auto& test_case) {
                           const RecordCase& c = test_case.param;
                           return std::string(lstm::cell_name(c.cell)) + "_layers" +
                                  std::to_string(c.layers) + "_proj" + std::to_string(c.proj) +
                                  (c.bidirectional ? "_bidirectional" : "") +
                                  (c.peephole ? "_peephole" : "");
                         });

TEST(RecordErrors, NeedsTrainingForwardOfThisNetwork) {
  const NetworkConfig config = small_config(CellType::gru, 2);
  lstm::Network<float> network(config), other(config);
  lstm::Workspace<float> workspace;
  EXPECT_THROW(network.record(workspace, 0, 0), lstm::Error);  // no forward yet
  const std::vector<float> x(3 * 2);
  std::vector<float> y(3 * 3);
  lstm::ForwardArgs<float> args;
  args.seq_len = 3;
  args.batch = 1;
  args.input = x.data();
  args.output = y.data();
  network.forward(lstm::Mode::inference, args, workspace);
  EXPECT_THROW(network.record(workspace, 0, 0), lstm::Error);
  network.forward(lstm::Mode::training, args, workspace);
  EXPECT_NO_THROW(network.record(workspace, 1, 0));
  EXPECT_THROW(network.record(workspace, 2, 0), lstm::Error);
  EXPECT_THROW(network.record(workspace, 0, 1), lstm::Error);
  EXPECT_THROW(other.record(workspace, 0, 0), lstm::Error);
}

// ---------------------------------------------------------------------------------------------
// Gate traces of a SequenceModel.

lstm::SequenceModel small_model(CellType cell, int64_t layers, double dropout) {
  lstm::SequenceModelConfig config;
  config.rnn = small_config(cell, layers);
  config.rnn.hidden_size = 5;
  config.rnn.dropout = dropout;
  config.output_size = 1;
  config.head_mode = lstm::HeadMode::last_step;
  lstm::SequenceModel model(config);
  model.init(21);
  return model;
}

const lstm::HostTensor& tensor_named(const lstm::apps::GateTrace& trace, const std::string& name) {
  for (const auto& [key, tensor] : trace.tensors)
    if (key == name) return tensor;
  throw lstm::Error("no tensor " + name);
}

TEST(TraceGates, LstmObeysItsEquationsAndIgnoresDropout) {
  const int64_t T = 7;
  lstm::SequenceModel model = small_model(CellType::lstm, 2, 0.5);
  const std::vector<float> x = uniform_values<float>(T * 2, 8, -1.0, 1.0);
  const std::vector<std::string> labels(T, "x");
  const auto trace = lstm::apps::trace_gates(model, -1, T, x, {}, labels);
  EXPECT_EQ(trace.layer, 1);
  std::vector<std::string> names;
  for (const auto& [name, tensor] : trace.tensors) {
    names.push_back(name);
    EXPECT_EQ(tensor.shape, (std::vector<int64_t>{T, 5})) << name;
  }
  EXPECT_EQ(names, (std::vector<std::string>{"i", "f", "g", "o", "c", "h"}));
  const auto &i = tensor_named(trace, "i").data, &f = tensor_named(trace, "f").data;
  const auto &g = tensor_named(trace, "g").data, &o = tensor_named(trace, "o").data;
  const auto &c = tensor_named(trace, "c").data, &h = tensor_named(trace, "h").data;
  for (int64_t t = 0; t < T; ++t)
    for (int64_t u = 0; u < 5; ++u) {
      const size_t k = t * 5 + u;
      const float c_prev = t > 0 ? c[k - 5] : 0.0f;
      EXPECT_NEAR(c[k], f[k] * c_prev + i[k] * g[k], 1e-6);
      EXPECT_NEAR(h[k], o[k] * std::tanh(c[k]), 1e-6);
      EXPECT_TRUE(i[k] > 0 && i[k] < 1 && g[k] > -1 && g[k] < 1);
    }
  // Dropout is off: twice the same, and the last h is what an inference forward ends with.
  const auto again = lstm::apps::trace_gates(model, 1, T, x, {}, labels);
  EXPECT_EQ(tensor_named(again, "h").data, h);
  std::vector<float> h_n(2 * 5), out(1);
  lstm::ModelForwardArgs args;
  args.seq_len = T;
  args.batch = 1;
  args.input = x.data();
  args.output = out.data();
  args.h_n = h_n.data();
  model.forward(lstm::Mode::inference, args);
  EXPECT_TRUE(test_util::compare_tensors("h_n", std::span<const float>(h_n).subspan(5, 5),
                                         std::span<const float>(h).subspan((T - 1) * 5, 5), 1e-6));
  EXPECT_THROW(lstm::apps::trace_gates(model, 2, T, x, {}, labels), lstm::Error);
  EXPECT_THROW(lstm::apps::trace_gates(model, 0, T + 1, x, {}, labels), lstm::Error);
}

TEST(TraceGates, GruObeysItsEquations) {
  const int64_t T = 6;
  lstm::SequenceModel model = small_model(CellType::gru, 1, 0.0);
  const std::vector<float> x = uniform_values<float>(T * 2, 9, -1.0, 1.0);
  const auto trace = lstm::apps::trace_gates(model, 0, T, x, {}, std::vector<std::string>(T));
  ASSERT_EQ(trace.tensors.size(), 4u);
  const auto &z = tensor_named(trace, "z").data, &n = tensor_named(trace, "n").data;
  const auto& h = tensor_named(trace, "h").data;
  for (int64_t t = 0; t < T; ++t)
    for (int64_t u = 0; u < 5; ++u) {
      const size_t k = t * 5 + u;
      const float h_prev = t > 0 ? h[k - 5] : 0.0f;
      EXPECT_NEAR(h[k], (1 - z[k]) * n[k] + z[k] * h_prev, 1e-6);
    }
  const auto summary = lstm::apps::summarize_gates(trace);
  ASSERT_EQ(summary.size(), 4u);
  EXPECT_EQ(summary[2].name, "n");
  double saturated = 0;
  for (float v : n) saturated += std::abs(v) > 0.9f;
  EXPECT_DOUBLE_EQ(summary[2].saturated, saturated / n.size());
  EXPECT_TRUE(std::isnan(summary[3].saturated));  // h is not a gate
}

// The trace of a forecast model runs on exactly what the forecast path feeds the model: the last
// h through the head gives the one-step forecast.
TEST(TraceGates, ForecastModelSeesTheForecastInput) {
  test_util::TempDir dir;
  const std::string csv = dir.file("s.csv");
  {
    std::ofstream out(csv);
    out << "step,y,x\n";
    for (int t = 0; t < 40; ++t)
      out << t << ',' << std::sin(0.5 * t) + 0.1 * t << ',' << std::cos(0.3 * t) << '\n';
  }
  lstm::apps::ForecastSetup setup;
  setup.target = "y";
  setup.features = {"x"};
  setup.window = 6;
  setup.differencing = 1;
  setup.hidden_size = 4;
  const lstm::apps::ForecastData data = lstm::apps::prepare_forecast_data(csv, setup);
  lstm::SequenceModel model = lstm::apps::make_forecast_model(data, setup);
  const lstm::apps::ForecastInfo info = lstm::apps::forecast_info(model, "m");
  const auto trace = lstm::apps::trace_forecast_gates(model, "m", csv, 0, -1);
  ASSERT_EQ(trace.steps, 6);
  EXPECT_EQ(trace.labels, (std::vector<std::string>{"34", "35", "36", "37", "38", "39"}));
  const std::vector<float>& h = tensor_named(trace, "h").data;     // [6, 4]
  const std::span<float> weight = model.parameter("head.weight");  // [2, 4]
  const std::span<float> bias = model.parameter("head.bias");      // [2]
  double out = bias[0];
  for (int64_t j = 0; j < 4; ++j) out += weight[j] * h[5 * 4 + j];
  // Differencing: the output is the normalised change of the target, in units of the step scale.
  const double last =
      (data.series.values[39 * 2] - info.normalization.mean[0]) / info.normalization.stddev[0];
  const double expected = info.normalization.invert(last + out * info.difference_scale[0], 0);
  const std::vector<double> forecast = lstm::apps::forecast_recursive(model, info, data.series, 1);
  EXPECT_NEAR(forecast[0], expected, 1e-4 * std::max(1.0, std::abs(expected)));
  EXPECT_THROW(lstm::apps::trace_forecast_gates(model, "m", csv, 41, -1), lstm::Error);
}

}  // namespace
