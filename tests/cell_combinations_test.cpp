// The cell variants of two branches together: coupled gates (CIFG) and the GRU with the reset gate
// before the product, with the layer-normalised LSTM and zoneout. What combines is checked by the
// grids (gradcheck_test, naive_vs_fast_test); here, what is refused and what the CLI writes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "data/json_text.hpp"
#include "lstm/lstm.hpp"
#include "test_util.hpp"

namespace {

using lstm::CellType;
using lstm::NetworkConfig;
using test_util::CommandResult;
using test_util::shell_quote;

NetworkConfig small_config(CellType cell) {
  NetworkConfig config;
  config.cell = cell;
  config.input_size = 3;
  config.hidden_size = 4;
  return config;
}

std::string validation_error(const NetworkConfig& config) {
  try {
    config.validate();
  } catch (const lstm::Error& error) {
    return error.what();
  }
  return "";
}

TEST(CellCombinations, LayerNormRefusesWhatItDoesNotCombineWith) {
  NetworkConfig config = small_config(CellType::lstm);
  config.layer_norm = true;
  config.peephole = true;
  EXPECT_NE(validation_error(config).find("layer normalisation and peephole connections do not combine"),
            std::string::npos)
      << validation_error(config);
  EXPECT_THROW(lstm::Network<float>{config}, lstm::Error);
  config = small_config(CellType::gru);
  config.layer_norm = true;
  config.reset_before = true;
  EXPECT_NE(validation_error(config).find("layer normalisation (layer_norm) exists only for LSTM"),
            std::string::npos)
      << validation_error(config);
  // Never a crash when a network is made from such a configuration: the constructor validates.
  EXPECT_THROW(lstm::Network<float>{config}, lstm::Error);
}

// Layer normalisation with coupled gates combines, and trains: 60 Adam steps on a fixed batch of
// a delayed-copy task take the library's model to a quarter of its first loss (the gradients
// themselves are checked in gradcheck_test).
TEST(CellCombinations, LayerNormWithCoupledGatesTrains) {
  lstm::SequenceModelConfig model_config;
  model_config.rnn = small_config(CellType::lstm);
  model_config.rnn.layer_norm = true;
  model_config.rnn.coupled_gates = true;
  model_config.rnn.hidden_size = 8;
  model_config.output_size = 3;
  EXPECT_EQ(validation_error(model_config.rnn), "");
  lstm::SequenceModel model(model_config);
  model.init(3);
  const int64_t steps = 6, batch = 4, width = 3;
  std::vector<float> input(static_cast<size_t>(steps * batch * width)), target(input.size(), 0.0f);
  for (size_t k = 0; k < input.size(); ++k) input[k] = static_cast<float>(std::sin(1.7 * static_cast<double>(k)));
  for (size_t k = static_cast<size_t>(batch * width); k < input.size(); ++k)  // y_t = x_{t-1}
    target[k] = input[k - static_cast<size_t>(batch * width)];
  std::vector<float> prediction(input.size()), grad(input.size());
  lstm::Optimizer optimizer({}, model.parameters());
  const lstm::LossConfig loss_config;
  float first = 0, last = 0;
  for (int step = 0; step < 60; ++step) {
    model.zero_grad();
    model.forward(lstm::Mode::training, {.seq_len = steps, .batch = batch, .input = input.data(), .output = prediction.data()});
    last = lstm::regression_loss(loss_config, prediction, target, grad);
    if (step == 0) first = last;
    model.backward({.grad_output = grad.data()});
    optimizer.step(model.parameters(), 0.03);
  }
  std::printf("coupled gates with layer norm: loss %.4g -> %.4g in 60 steps\n", first, last);
  EXPECT_TRUE(std::isfinite(last));
  EXPECT_LT(last, 0.25f * first) << "first loss " << first << ", last " << last;
}

TEST(CellCombinations, HighwayRefusesResidualAndASingleLayer) {
  NetworkConfig config = small_config(CellType::lstm);
  config.highway = true;
  EXPECT_NE(validation_error(config).find("highway gates (highway) connect stacked layers: they need 2 layers or more"),
            std::string::npos)
      << validation_error(config);
  config.num_layers = 2;
  EXPECT_EQ(validation_error(config), "");
  config.residual = true;
  EXPECT_NE(validation_error(config).find(
                "highway gates (highway) and residual connections (residual) do not combine"),
            std::string::npos)
      << validation_error(config);
  EXPECT_THROW(lstm::Network<float>{config}, lstm::Error);
  for (const char* name : {"lstm", "peephole", "cifg", "layer_norm", "gru", "gru_reset_before", "rnn_tanh"}) {
    lstm::apply_cell_variant(config, name);
    config.residual = false;
    config.zoneout = 0.2;
    EXPECT_EQ(validation_error(config), "") << name;
  }
}

TEST(CellCombinations, ZoneoutCombinesWithEveryVariant) {
  for (const char* name : {"lstm", "peephole", "cifg", "layer_norm", "gru", "gru_reset_before", "rnn_tanh"}) {
    NetworkConfig config = small_config(CellType::lstm);
    lstm::apply_cell_variant(config, name);
    config.zoneout = 0.3;
    EXPECT_EQ(validation_error(config), "") << name;
  }
}

TEST(CellCombinations, CellVariantNamesSetExactlyTheirFields) {
  NetworkConfig config = small_config(CellType::gru);
  config.reset_before = true;
  lstm::apply_cell_variant(config, "layer_norm");
  EXPECT_EQ(config.cell, CellType::lstm);
  EXPECT_TRUE(config.layer_norm);
  EXPECT_FALSE(config.reset_before || config.coupled_gates || config.peephole);
  lstm::apply_cell_variant(config, "cifg");
  EXPECT_TRUE(config.coupled_gates);
  EXPECT_FALSE(config.layer_norm);
  try {
    lstm::apply_cell_variant(config, "lnlstm");
    ADD_FAILURE() << "no error";
  } catch (const lstm::Error& error) {
    EXPECT_NE(std::string(error.what()).find("layer_norm"), std::string::npos) << error.what();
  }
}

const std::string cli = shell_quote(LSTM_CLI_PATH);

class CliCellCombinations : public ::testing::Test {
 protected:
  test_util::TempDir dir;
  std::string series = dir.file("sales.csv");
  void SetUp() override { test_util::write_monthly_series(series, 60, 10); }
  std::string forecast_args(const std::string& out, const std::string& extra) const {
    return cli + " train --task forecast --data " + shell_quote(series) + " --target sales --out " +
           shell_quote(out) + " --epochs 2 --hidden 8 --threads 1 --quiet " + extra;
  }
};

TEST_F(CliCellCombinations, TrainWritesVariantsWithZoneoutAndLayerNorm) {
  struct Variant {
    std::string options;
    bool coupled_gates, reset_before, layer_norm;
    double zoneout;
  };
  for (const Variant& v : {Variant{"--cell cifg --zoneout 0.2", true, false, false, 0.2},
                           Variant{"--cell gru_reset_before --zoneout 0.1", false, true, false, 0.1},
                           Variant{"--cell layer_norm --forget-bias 1", false, false, true, 0.0},
                           Variant{"--layer-norm --zoneout 0.15", false, false, true, 0.15},
                           Variant{"--cell cifg --layer-norm --zoneout 0.1", true, false, true, 0.1}}) {
    SCOPED_TRACE(v.options);
    const std::string model = dir.file("m.safetensors");
    const CommandResult trained = test_util::run_command(forecast_args(model, v.options));
    ASSERT_EQ(trained.exit_code, 0) << trained.err;
    const lstm::SequenceModel loaded = lstm::load_sequence_model(model);
    const NetworkConfig& config = loaded.config().rnn;
    EXPECT_EQ(config.coupled_gates, v.coupled_gates);
    EXPECT_EQ(config.reset_before, v.reset_before);
    EXPECT_EQ(config.layer_norm, v.layer_norm);
    EXPECT_EQ(config.zoneout, v.zoneout);
    const CommandResult forecast = test_util::run_command(
        cli + " forecast --model " + shell_quote(model) + " --data " + shell_quote(series) + " --steps 3 --output " +
        shell_quote(dir.file("f.csv")));
    EXPECT_EQ(forecast.exit_code, 0) << forecast.err;
    if (v.coupled_gates && v.layer_norm) {  // info says both (the description and the flags)
      const CommandResult info = test_util::run_command(cli + " info " + shell_quote(model));
      EXPECT_NE(info.out.find("coupled-gates layer-norm zoneout=0.1"), std::string::npos) << info.out;
    }
  }
}

TEST_F(CliCellCombinations, LayerNormWithAnotherCellIsOneClearError) {
  for (const char* cell : {"peephole", "gru", "gru_reset_before"}) {
    SCOPED_TRACE(cell);
    const std::string model = dir.file("bad.safetensors");
    test_util::expect_cli_failure(forecast_args(model, std::string("--layer-norm --cell ") + cell), dir.path(),
                                  {"--layer-norm", std::string("--cell ") + cell});
  }
}

TEST_F(CliCellCombinations, TrainAndExperimentWriteHighwayModels) {
  for (const std::string& options : {std::string("--cell cifg --layers 2 --highway"),
                                     std::string("--cell gru_reset_before --layers 3 --highway --zoneout 0.1")}) {
    SCOPED_TRACE(options);
    const std::string model = dir.file("m.safetensors");
    const CommandResult trained = test_util::run_command(forecast_args(model, options));
    ASSERT_EQ(trained.exit_code, 0) << trained.err;
    const lstm::SequenceModel loaded = lstm::load_sequence_model(model);
    EXPECT_TRUE(loaded.config().rnn.highway);
    const CommandResult forecast = test_util::run_command(
        cli + " forecast --model " + shell_quote(model) + " --data " + shell_quote(series) + " --steps 3 --output " +
        shell_quote(dir.file("f.csv")));
    EXPECT_EQ(forecast.exit_code, 0) << forecast.err;
  }
  test_util::expect_cli_failure(cli + " convert " + shell_quote(dir.file("m.safetensors")) + " " +
                                    shell_quote(dir.file("m.onnx")),
                                dir.path(), {"highway gates between layers cannot be exported"});
  const CommandResult experiment = test_util::run_command(
      cli + " experiment adding --cell lstm --layers 2 --highway --hidden 8 --seq-len 10 --batch 10 "
            "--max-sequences 40 --eval-every 2 --eval-size 20 --test-size 20 --threads 1 --quiet");
  ASSERT_EQ(experiment.exit_code, 0) << experiment.err;
  EXPECT_NE(experiment.out.find(R"("layers":2,"highway":true)"), std::string::npos) << experiment.out;
}

// `experiment --layer-norm` normalises lstm and cifg; the saved model is layer norm with coupled
// gates; other cells and --compare are refused.
TEST_F(CliCellCombinations, ExperimentTakesLayerNormWithCoupledGates) {
  const std::string model = dir.file("e.safetensors");
  const std::string experiment = cli + " experiment adding --hidden 8 --seq-len 10 --batch 10 --max-sequences 40 "
                                       "--eval-every 2 --eval-size 20 --test-size 20 --threads 1 --quiet ";
  const CommandResult run = test_util::run_command(experiment + "--cell cifg --layer-norm --save " + shell_quote(model));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find(R"("cell":"cifg","layer_norm":true)"), std::string::npos) << run.out;
  const lstm::SequenceModel loaded = lstm::load_sequence_model(model);
  EXPECT_TRUE(loaded.config().rnn.coupled_gates);
  EXPECT_TRUE(loaded.config().rnn.layer_norm);
  test_util::expect_cli_failure(experiment + "--cell gru --layer-norm", dir.path(), {"--layer-norm", "--cell gru"});
  test_util::expect_cli_failure(experiment + "--cell peephole --layer-norm", dir.path(), {"--layer-norm"});
  test_util::expect_cli_failure(experiment + "--compare --layer-norm", dir.path(), {"--layer-norm", "--compare"});
}

TEST_F(CliCellCombinations, HighwayRefusalsAreOneClearLine) {
  const std::string model = dir.file("bad.safetensors");
  test_util::expect_cli_failure(forecast_args(model, "--highway"), dir.path(), {"--highway", "--layers 2"});
  test_util::expect_cli_failure(forecast_args(model, "--highway --residual --layers 2"), dir.path(),
                                {"--highway and --residual do not combine"});
  test_util::expect_cli_failure(cli + " experiment adding --highway --quiet", dir.path(), {"--highway", "--layers 2"});
  test_util::expect_cli_failure(cli + " experiment adding --highway --residual --layers 2 --quiet", dir.path(),
                                {"--highway", "--residual"});
}

// `lstm bench` times the stacked variants: --residual, --highway (the FLOP count includes each
// gate's product x W_tᵀ, 2·W·W·B·T with W = D·H for layers k ≥ 1) and --zoneout, in --json.
TEST(CliBenchStacks, JsonReportsResidualHighwayAndZoneout) {
  const std::string base = cli + " bench --cell lstm --input-size 5 --hidden-size 6 --batch 2 --seq-len 3 "
                                 "--iters 1 --warmup 0 --threads 1 --json ";
  // Per layer and direction 2·G·H·(I_k + H)·B·T with G = 4, H = 6, B·T = 6, I_0 = 5, I_k = D·H.
  const double layer0 = 2.0 * 4 * 6 * (5 + 6) * 6, upper_uni = 2.0 * 4 * 6 * (6 + 6) * 6;
  const double upper_bi = 2.0 * 4 * 6 * (12 + 6) * 6;
  struct Case {
    std::string options;
    bool residual, highway;
    double zoneout, flops;
  };
  for (const Case& c :
       {Case{"--layers 2 --highway --mode infer", false, true, 0.0, layer0 + upper_uni + 2.0 * 6 * 6 * 6},
        Case{"--layers 3 --highway --bidirectional --mode train", false, true, 0.0,
             3 * (2 * layer0 + 2 * (2 * upper_bi + 2.0 * 12 * 12 * 6))},
        Case{"--layers 2 --residual --zoneout 0.25 --mode train", true, false, 0.25, 3 * (layer0 + upper_uni)},
        Case{"--layers 2 --mode infer", false, false, 0.0, layer0 + upper_uni}}) {
    SCOPED_TRACE(c.options);
    const CommandResult result = test_util::run_command(base + c.options);
    ASSERT_EQ(result.exit_code, 0) << result.err;
    const nlohmann::json parsed = lstm::json_text::parse(result.out);
    EXPECT_EQ(parsed["residual"], c.residual);
    EXPECT_EQ(parsed["highway"], c.highway);
    EXPECT_DOUBLE_EQ(parsed["zoneout"].get<double>(), c.zoneout);
    EXPECT_DOUBLE_EQ(parsed["flops"].get<double>(), c.flops);
    EXPECT_GT(parsed["gflops"].get<double>(), 0.0);
    EXPECT_EQ(parsed["iters"], 1);
  }
  const CommandResult text = test_util::run_command(cli + " bench --layers 2 --highway --input-size 3 "
                                                          "--hidden-size 4 --batch 2 --seq-len 2 --iters 1 --threads 1");
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("layers=2 highway"), std::string::npos) << text.out;
}

// `lstm bench --json` names the cell's variant, and counts G = 3 gates for the coupled ones.
TEST(CliBenchStacks, JsonReportsTheCellVariant) {
  const std::string base = cli + " bench --input-size 5 --hidden-size 6 --batch 2 --seq-len 3 "
                                 "--iters 1 --warmup 0 --threads 1 --json ";
  struct Case {
    std::string options;
    bool peephole, coupled, reset_before, layer_norm;
    int gates;  // G in 2·G·H·(I + H)·B·T
  };
  for (const Case& c : {Case{"--cell cifg --layer-norm", false, true, false, true, 3},
                        Case{"--cell lstm --layer-norm", false, false, false, true, 4},
                        Case{"--cell layer_norm", false, false, false, true, 4},
                        Case{"--cell peephole", true, false, false, false, 4},
                        Case{"--cell gru_reset_before --mode train", false, false, true, false, 3}}) {
    SCOPED_TRACE(c.options);
    const CommandResult result = test_util::run_command(base + c.options);
    ASSERT_EQ(result.exit_code, 0) << result.err;
    const nlohmann::json parsed = lstm::json_text::parse(result.out);
    EXPECT_EQ(parsed["peephole"], c.peephole);
    EXPECT_EQ(parsed["coupled_gates"], c.coupled);
    EXPECT_EQ(parsed["reset_before"], c.reset_before);
    EXPECT_EQ(parsed["layer_norm"], c.layer_norm);
    const double train = c.options.ends_with("train") ? 3.0 : 1.0;
    EXPECT_DOUBLE_EQ(parsed["flops"].get<double>(), train * 2.0 * c.gates * 6 * (5 + 6) * 6);
  }
}

// Refused with one line and exit 1, in the very words `lstm train` uses.
TEST_F(CliCellCombinations, BenchRefusesStacksAndLayerNormAsTrainDoes) {
  const std::string bench = cli + " bench --input-size 3 --hidden-size 4 --batch 2 --seq-len 2 --iters 1 --json ";
  const std::string model = dir.file("bad.safetensors");
  for (const std::string& options : {std::string("--highway"), std::string("--residual"),
                                     std::string("--highway --residual --layers 2")}) {
    SCOPED_TRACE(options);
    const CommandResult refused = test_util::run_command(bench + options);
    EXPECT_EQ(refused.exit_code, 1);
    EXPECT_EQ(refused.out, "");
    EXPECT_TRUE(refused.err.starts_with("lstm: ")) << refused.err;
    EXPECT_EQ(std::count(refused.err.begin(), refused.err.end(), '\n'), 1) << refused.err;
    EXPECT_NE(refused.err.find(options.substr(0, options.find(' '))), std::string::npos) << refused.err;
    const CommandResult train = test_util::run_command(forecast_args(model, options));
    EXPECT_EQ(train.exit_code, 1);
    EXPECT_EQ(refused.err, train.err);
  }
  for (const std::string& cell : {std::string("gru"), std::string("peephole"), std::string("rnn_tanh")}) {
    SCOPED_TRACE(cell);
    const std::string options = "--cell " + cell + " --layer-norm";
    const CommandResult refused = test_util::run_command(bench + options);
    EXPECT_EQ(refused.exit_code, 1);
    EXPECT_EQ(refused.out, "");
    EXPECT_EQ(std::count(refused.err.begin(), refused.err.end(), '\n'), 1) << refused.err;
    EXPECT_NE(refused.err.find("--layer-norm"), std::string::npos) << refused.err;
    EXPECT_EQ(refused.err, test_util::run_command(forecast_args(model, options)).err);
  }
  const CommandResult zoneout = test_util::run_command(bench + "--layers 2 --zoneout 1.5");
  EXPECT_NE(zoneout.exit_code, 0);
  EXPECT_EQ(std::count(zoneout.err.begin(), zoneout.err.end(), '\n'), 1) << zoneout.err;
  EXPECT_NE(zoneout.err.find("--zoneout"), std::string::npos) << zoneout.err;
}

}  // namespace
