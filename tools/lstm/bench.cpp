// `lstm bench`: times forward (inference) or forward + backward (training) on random data.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>

#include "commands.hpp"
#include "core/random.hpp"
#include "data/json_text.hpp"

namespace lstm_cli {
namespace {

struct BenchOptions {
  std::string cell = "lstm";
  std::string model;  // if set: time this model's network (.safetensors or .onnx) instead
  int64_t input_size = 256, hidden_size = 256, batch = 32, seq_len = 100, layers = 1;
  std::string mode = "infer";
  bool bidirectional = false, json = false;
  bool phases = false;  // --phases: time the kinds of work inside each call (PhaseSeconds)
  bool layer_norm = false;                 // --layer-norm: with --cell lstm or cifg
  bool residual = false, highway = false;  // how stacked layers connect (NetworkConfig)
  double zoneout = 0.0;
  int iters = 0;  // 0: auto
  int warmup = 3;
  uint64_t seed = 1;
};

constexpr double auto_seconds = 1.0;   // auto iteration count: run at least this long...
constexpr int auto_min_iters = 5;      // ...and at least this many times...
constexpr int auto_max_iters = 10000;  // ...but never more than this

// FLOPs of one call in each product phase of lstm::PhaseSeconds: the input products
// 2*G*H*I_k*B*T and the recurrent ones 2*G*H*H*B*T per layer k and direction (SPEC §5); training
// runs the recurrent products again backward, the weight gradients both, and dx the input part's.
struct PhaseFlops {
  double input_products = 0, recurrent_products = 0, weight_gradients = 0, input_gradients = 0;
};

PhaseFlops phase_flops(const lstm::NetworkConfig& config, int64_t batch, int64_t seq_len,
                       bool train) {
  const double per_input = static_cast<double>(config.directions()) * 2.0 *
                           static_cast<double>(lstm::gate_count(config) * config.hidden_size) *
                           static_cast<double>(batch * seq_len);
  PhaseFlops flops;
  for (int64_t layer = 0; layer < config.num_layers; ++layer) {
    flops.input_products += per_input * static_cast<double>(config.layer_input_size(layer));
    flops.recurrent_products += per_input * static_cast<double>(config.hidden_size);
  }
  if (train) {
    flops.weight_gradients = flops.input_products + flops.recurrent_products;
    flops.input_gradients = flops.input_products;
    flops.recurrent_products *= 2.0;
  }
  return flops;
}

// FLOPs of one forward: 2*G*H*(I_k + H)*B*T per layer k and direction (the two product phases),
// plus with highway gates the gate's product x W_tᵀ, 2*W*W*B*T with W = D*Hout, for each layer
// k ≥ 1.
double forward_flops(const lstm::NetworkConfig& config, int64_t batch, int64_t seq_len) {
  const PhaseFlops products = phase_flops(config, batch, seq_len, false);
  const double width = static_cast<double>(config.layer_output_size());
  const double highway_layers = config.highway ? static_cast<double>(config.num_layers - 1) : 0.0;
  return products.input_products + products.recurrent_products +
         highway_layers * 2.0 * width * width * static_cast<double>(batch * seq_len);
}

std::vector<float> random_values(size_t count, uint64_t seed) {
  std::vector<float> values(count);
  for (size_t k = 0; k < count; ++k)
    values[k] = static_cast<float>(2.0 * lstm::uniform01(seed, k) - 1.0);
  return values;
}

// The network to time: the model file's, or one of random weights shaped by the options.
lstm::Network<float> bench_network(const BenchOptions& options) {
  if (!options.model.empty()) return load_model(options.model, {}).network;
  lstm::NetworkConfig config;
  lstm::apply_cell_variant(config, options.cell, options.layer_norm);
  check_stack_options(options.layers, options.residual, options.highway);
  config.residual = options.residual;
  config.highway = options.highway;
  config.zoneout = options.zoneout;
  config.input_size = options.input_size;
  config.hidden_size = options.hidden_size;
  config.num_layers = options.layers;
  config.bidirectional = options.bidirectional;
  config.validate();
  lstm::Network<float> network(config);
  network.init_uniform(options.seed);
  return network;
}

void run_bench(const BenchOptions& options, int threads) {
  const lstm::Network<float> network = bench_network(options);
  const lstm::NetworkConfig& config = network.config();
  const double largest =
      static_cast<double>(options.seq_len) * static_cast<double>(options.batch) *
      static_cast<double>(std::max(config.input_size, config.layer_output_size()));
  if (largest > 1e10) throw lstm::Error("bench: T*B*width is too large (over 1e10 elements)");
  const bool train = options.mode == "train";
  const int64_t batch = options.batch, seq_len = options.seq_len;

  // [T, B, I] input, [T, B, Hcat] output and dY, flat parameter gradients, [T, B, I] dX.
  const std::vector<float> input =
      random_values(static_cast<size_t>(seq_len * batch * config.input_size), options.seed + 1);
  const size_t output_count = static_cast<size_t>(seq_len * batch * config.layer_output_size());
  std::vector<float> output(output_count);
  const std::vector<float> grad_output =
      train ? random_values(output_count, options.seed + 2) : std::vector<float>{};
  std::vector<float> grad_params(train ? static_cast<size_t>(network.num_parameters()) : 0);
  std::vector<float> grad_input(train ? input.size() : 0);

  lstm::ForwardArgs<float> args;
  args.seq_len = seq_len;
  args.batch = batch;
  args.input = input.data();
  args.output = output.data();
  args.dropout_seed = options.seed + 3;  // zoneout's masks (training)
  lstm::BackwardArgs<float> grad_args;
  grad_args.grad_output = grad_output.data();
  grad_args.grad_params = grad_params.data();
  grad_args.grad_input = grad_input.data();
  lstm::Workspace<float> workspace;
  auto step = [&] {
    if (!train) return network.forward(lstm::Mode::inference, args, workspace);
    std::fill(grad_params.begin(), grad_params.end(), 0.0f);
    network.forward(lstm::Mode::training, args, workspace);
    network.backward(grad_args, workspace);
  };

  using clock = std::chrono::steady_clock;
  for (int k = 0; k < options.warmup; ++k) step();
  workspace.count_phases = options.phases;
  std::vector<double> ms;
  const clock::time_point start = clock::now();
  for (;;) {
    const clock::time_point before = clock::now();
    step();
    ms.push_back(std::chrono::duration<double, std::milli>(clock::now() - before).count());
    const int done = static_cast<int>(ms.size());
    if (options.iters > 0
            ? done >= options.iters
            : done >= auto_max_iters ||
                  (done >= auto_min_iters &&
                   std::chrono::duration<double>(clock::now() - start).count() >= auto_seconds))
      break;
  }
  std::vector<double> sorted = ms;
  std::sort(sorted.begin(), sorted.end());
  const size_t n = sorted.size();
  const double median = n % 2 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
  double mean = 0;
  for (double value : ms) mean += value / static_cast<double>(n);
  const double flops = forward_flops(config, batch, seq_len) * (train ? 3.0 : 1.0);
  const double gflops = flops / (median * 1e-3) * 1e-9;

  // --phases: each phase's thread-milliseconds per call, and the products' GFLOP/s per thread.
  struct Phase {
    const char* name;
    double ms, flops;
  };
  std::vector<Phase> phases;
  if (options.phases) {
    const lstm::PhaseSeconds& s = workspace.phases;
    const PhaseFlops f = phase_flops(config, batch, seq_len, train);
    const double per_call = 1e3 / static_cast<double>(n);
    phases = {{"input_products", s.input_products * per_call, f.input_products},
              {"recurrent_products", s.recurrent_products * per_call, f.recurrent_products},
              {"cells", s.cells * per_call, 0}};
    if (train)
      phases.insert(phases.end(),
                    {{"weight_gradients", s.weight_gradients * per_call, f.weight_gradients},
                     {"input_gradients", s.input_gradients * per_call, f.input_gradients}});
    double counted = 0;
    for (const Phase& phase : phases) counted += phase.ms;
    phases.push_back({"other", std::max(0.0, mean * threads - counted), 0});
  }
  auto phase_gflops = [](const Phase& phase) {
    return phase.ms > 0 ? phase.flops / (phase.ms * 1e-3) * 1e-9 : 0.0;
  };

  if (options.json) {
    nlohmann::ordered_json out = {{"cell", std::string(lstm::cell_name(config.cell))},
                                  {"mode", options.mode},
                                  {"input_size", config.input_size},
                                  {"hidden_size", config.hidden_size},
                                  {"batch", batch},
                                  {"seq_len", seq_len},
                                  {"layers", config.num_layers},
                                  {"bidirectional", config.bidirectional},
                                  {"peephole", config.peephole},
                                  {"coupled_gates", config.coupled_gates},
                                  {"reset_before", config.reset_before},
                                  {"layer_norm", config.layer_norm},
                                  {"residual", config.residual},
                                  {"highway", config.highway},
                                  {"zoneout", config.zoneout},
                                  {"threads", threads},
                                  {"precision", precision_name()},
                                  {"isa", isa_in_force()},
                                  {"blas", lstm::blas_kernels()},
                                  {"warmup", options.warmup},
                                  {"iters", static_cast<int64_t>(n)},
                                  {"ms_median", median},
                                  {"ms_min", sorted.front()},
                                  {"ms_mean", mean},
                                  {"ms_max", sorted.back()},
                                  {"flops", flops},
                                  {"gflops", gflops}};
    if (options.phases) {
      nlohmann::ordered_json times;
      for (const Phase& phase : phases) {
        times[phase.name] = {{"thread_ms", phase.ms}};
        if (phase.flops > 0) times[phase.name]["gflops_per_thread"] = phase_gflops(phase);
      }
      out["phases"] = times;
    }
    std::cout << lstm::json_text::dump(out) << '\n';
    return;
  }
  char zoneout[40] = "";
  if (config.zoneout > 0) std::snprintf(zoneout, sizeof zoneout, " zoneout=%g", config.zoneout);
  std::string variant;  // " cifg layer-norm", ...
  if (config.peephole) variant += " peephole";
  if (config.coupled_gates) variant += " cifg";
  if (config.reset_before) variant += " reset-before";
  if (config.layer_norm) variant += " layer-norm";
  std::printf("%s%s %s  I=%lld H=%lld B=%lld T=%lld layers=%lld%s%s%s%s  threads=%d  %s  %s\n",
              std::string(lstm::cell_name(config.cell)).c_str(), variant.c_str(), options.mode.c_str(),
              static_cast<long long>(config.input_size), static_cast<long long>(config.hidden_size),
              static_cast<long long>(batch), static_cast<long long>(seq_len),
              static_cast<long long>(config.num_layers),
              config.bidirectional ? " bidirectional" : "", config.residual ? " residual" : "",
              config.highway ? " highway" : "",
              zoneout, threads,
              precision_name(), isa_in_force());
  std::printf("  iterations  %zu (after %d warm-up)\n", n, options.warmup);
  std::printf("  median      %.3f ms\n  min         %.3f ms\n  mean        %.3f ms\n", median,
              sorted.front(), mean);
  std::printf("  throughput  %.2f GFLOP/s (at the median)\n", gflops);
  if (options.phases) {
    std::printf(
        "  phases      thread-ms per call (summed over %d threads; other = threads x mean - the "
        "rest)\n",
        threads);
    for (const Phase& phase : phases) {
      std::printf("    %-19s %10.3f ms", phase.name, phase.ms);
      if (phase.flops > 0) std::printf("  %8.2f GFLOP/s per thread", phase_gflops(phase));
      std::printf("\n");
    }
  }
}

}  // namespace

void add_bench_command(CLI::App& app, GlobalOptions& global) {
  auto options = std::make_shared<BenchOptions>();
  CLI::App* command = app.add_subcommand(
      "bench", "Time a network of random weights on random data (forward, or forward + backward)");
  command->add_option("--cell", options->cell, "Cell type (or variant: peephole, cifg, layer_norm, gru_reset_before)")
      ->check(CLI::IsMember(
          {"lstm", "peephole", "cifg", "layer_norm", "gru", "gru_reset_before", "rnn", "rnn_tanh", "rnn_relu"}));
  command->add_option("--model", options->model,
                      "Time this model's network (.safetensors or .onnx); overrides --cell, "
                      "--layer-norm, --input-size, --hidden-size, --layers, --bidirectional, --residual, "
                      "--highway, --zoneout");
  command->add_option("--input-size", options->input_size, "I")->check(CLI::Range(1, 1 << 20));
  command->add_option("--hidden-size", options->hidden_size, "H")->check(CLI::Range(1, 1 << 20));
  command->add_option("--batch", options->batch, "B")->check(CLI::Range(1, 1 << 20));
  command->add_option("--seq-len", options->seq_len, "T")->check(CLI::Range(1, 1 << 24));
  command->add_option("--layers", options->layers, "L")->check(CLI::Range(1, 1024));
  command->add_flag("--bidirectional", options->bidirectional, "Two directions (D = 2)");
  command->add_flag("--layer-norm", options->layer_norm,
                    "Layer-normalised gates and cell state (with --cell lstm, as --cell layer_norm, "
                    "or with --cell cifg)");
  command->add_flag("--residual", options->residual,
                    "Residual connections between the layers (needs --layers 2 or more)");
  command->add_flag("--highway", options->highway,
                    "Highway gates between the layers (needs --layers 2 or more; not with --residual)");
  command->add_option("--zoneout", options->zoneout,
                      "Zoneout probability for every cell's h (and c): training only")
      ->check(CLI::Range(0.0, 0.99));
  command
      ->add_option("--mode", options->mode,
                   "infer: inference forward; train: training forward + backward (with dX)")
      ->check(CLI::IsMember({"infer", "train"}));
  command
      ->add_option("--iters", options->iters,
                   "Timed iterations (0: auto, at least 5 and at least 1 s, at most 10000)")
      ->check(CLI::Range(0, 1000000));
  command->add_option("--warmup", options->warmup, "Untimed iterations first")
      ->check(CLI::Range(0, 1000000));
  command->add_option("--seed", options->seed, "Seed of the random weights, input and dY");
  command->add_flag("--json", options->json,
                    "Print one JSON object (ms_median, ms_min, gflops, ...)");
  command->add_flag(
      "--phases", options->phases,
      "Also time the kinds of work inside each call (input and recurrent products, cells, weight "
      "and "
      "input gradients): thread-milliseconds per call and each product's GFLOP/s per thread");
  add_compute_options(*command, global);
  command->footer(
      "Each iteration is timed with a steady clock. FLOPs of one forward = sum over layers k and "
      "directions of 2*G*H*(I_k + H)*B*T, with G = 4 (LSTM), 3 (GRU), 1 (RNN) and I_k = I for "
      "layer 0, D*H above; with --highway each layer k >= 1 adds its gate's product, 2*W*W*B*T with "
      "W = D*H (D*P with a projection); train counts 3x that. Residual sums and zoneout's mixing are not counted (no "
      "products). gflops uses the median time.");
  command->callback([options, &global] { run_bench(*options, apply_compute_options(global, options->mode == "train" ? "--mode train" : nullptr)); });
}

}  // namespace lstm_cli
