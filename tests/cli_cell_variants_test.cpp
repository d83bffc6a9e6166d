// The cell variants and the forget-gate bias from the command line: `train` (both tasks) and
// `experiment` with --cell cifg / gru_reset_before / peephole and --forget-bias B|chrono write
// models of that configuration, with the biases asked for, that the other commands read.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include "lstm/lstm.hpp"
#include "test_util.hpp"

namespace {

using test_util::CommandResult;
using test_util::shell_quote;

const std::string cli = shell_quote(LSTM_CLI_PATH);

class CliCellVariants : public ::testing::Test {
 protected:
  test_util::TempDir dir;
  std::string series = dir.file("sales.csv");
  std::string text = dir.file("text.txt");
  void SetUp() override {
    test_util::write_monthly_series(series, 60, 10);
    std::ofstream out(text);
    for (int k = 0; k < 40; ++k) out << "the cat sat on the mat. the dog sat on the log.\n";
  }
  CommandResult run(const std::string& args) const {
    return test_util::run_command(cli + " " + args);
  }
  std::string forecast_args(const std::string& out, const std::string& extra) const {
    return "train --task forecast --data " + shell_quote(series) + " --target sales --out " +
           shell_quote(out) + " --epochs 2 --hidden 8 --threads 1 --quiet " + extra;
  }
  void expect_failure(const std::string& args, const std::vector<std::string>& mentions) const {
    test_util::expect_cli_failure(cli + " " + args, dir.path(), mentions);
  }
};

TEST_F(CliCellVariants, TrainWritesEachVariantAndForecastReadsIt) {
  struct Variant {
    std::string cell;
    lstm::CellType type;
    bool peephole, coupled_gates, reset_before;
    int64_t gates;
  };
  for (const Variant& v : {Variant{"cifg", lstm::CellType::lstm, false, true, false, 3},
                           Variant{"gru_reset_before", lstm::CellType::gru, false, false, true, 3},
                           Variant{"peephole", lstm::CellType::lstm, true, false, false, 4}}) {
    SCOPED_TRACE(v.cell);
    const std::string model = dir.file(v.cell + ".safetensors");
    const CommandResult trained = run(forecast_args(model, "--cell " + v.cell));
    ASSERT_EQ(trained.exit_code, 0) << trained.err;
    const lstm::SequenceModel loaded = lstm::load_sequence_model(model);
    const lstm::NetworkConfig& config = loaded.config().rnn;
    EXPECT_EQ(config.cell, v.type);
    EXPECT_EQ(config.peephole, v.peephole);
    EXPECT_EQ(config.coupled_gates, v.coupled_gates);
    EXPECT_EQ(config.reset_before, v.reset_before);
    EXPECT_EQ(loaded.network().parameter("weight_ih_l0").size(), static_cast<size_t>(v.gates * 8));
    const CommandResult forecast =
        run("forecast --model " + shell_quote(model) + " --data " + shell_quote(series) +
            " --steps 3 --output " + shell_quote(dir.file(v.cell + ".csv")));
    EXPECT_EQ(forecast.exit_code, 0) << forecast.err;
  }
}

// --forget-bias B: bias_ih's forget rows are B and bias_hh's 0 before training; two epochs of
// Adam at 3e-3 move them by a few hundredths at most.
TEST_F(CliCellVariants, ForgetBiasConstantForBothTasks) {
  const std::string forecaster = dir.file("f.safetensors");
  ASSERT_EQ(run(forecast_args(forecaster, "--cell cifg --forget-bias 2.5")).exit_code, 0);
  const lstm::SequenceModel model = lstm::load_sequence_model(forecaster);
  const auto forget = model.network().parameter("bias_ih_l0").first(8);  // coupled: f, g, o
  for (const float b : forget) EXPECT_NEAR(b, 2.5f, 0.1f);

  const std::string lm = dir.file("lm.safetensors");
  const CommandResult trained =
      run("train --task charlm --data " + shell_quote(text) + " --out " + shell_quote(lm) +
          " --epochs 1 --hidden 8 --embedding 4 --window 20 --layers 2 --threads 1 --quiet "
          "--forget-bias -1");
  ASSERT_EQ(trained.exit_code, 0) << trained.err;
  const lstm::SequenceModel charlm = lstm::load_sequence_model(lm);
  for (const char* name : {"bias_ih_l0", "bias_ih_l1"}) {
    const auto bias = charlm.network().parameter(name);  // i, f, g, o
    for (size_t h = 8; h < 16; ++h) EXPECT_NEAR(bias[h], -1.0f, 0.1f) << name;
  }
}

// chrono over the window W = 20: forget biases in [0, log 19] and spread, input gates the negative.
TEST_F(CliCellVariants, ForgetBiasChronoUsesTheWindow) {
  const std::string lm = dir.file("lm.safetensors");
  const CommandResult trained = run(
      "train --task charlm --data " + shell_quote(text) + " --out " + shell_quote(lm) +
      " --epochs 1 --hidden 32 --embedding 4 --window 20 --threads 1 --quiet --forget-bias chrono");
  ASSERT_EQ(trained.exit_code, 0) << trained.err;
  const lstm::SequenceModel charlm = lstm::load_sequence_model(lm);
  const auto bias = charlm.network().parameter("bias_ih_l0");
  float low = 1e9f, high = -1e9f;
  for (size_t h = 0; h < 32; ++h) {
    const float f = bias[32 + h];
    EXPECT_GT(f, -0.1f);
    EXPECT_LT(f, std::log(19.0f) + 0.1f);
    EXPECT_NEAR(bias[h], -f, 0.1f);
    low = std::min(low, f), high = std::max(high, f);
  }
  EXPECT_LT(low, 1.0f);
  EXPECT_GT(high, 2.0f);
}

TEST_F(CliCellVariants, BadOptionsGiveOneLine) {
  expect_failure(forecast_args(dir.file("a.safetensors"), "--cell gru --forget-bias 1"),
                 {"--forget-bias applies to the LSTM cells", "gru"});
  expect_failure(forecast_args(dir.file("b.safetensors"), "--forget-bias high"),
                 {"--forget-bias 'high'"});
  expect_failure(forecast_args(dir.file("c.safetensors"), "--cell tree"), {"--cell"});
  expect_failure(forecast_args(dir.file("d.safetensors"), "--forget-bias inf"),
                 {"--forget-bias 'inf'"});
}

TEST_F(CliCellVariants, ExperimentSavesTheVariant) {
  for (const std::string cell : {"cifg", "gru_reset_before"}) {
    const std::string model = dir.file(cell + ".safetensors");
    const CommandResult result =
        run("experiment adding --cell " + cell + " --quiet --save " + shell_quote(model) +
            " --seq-len 6 --hidden 8 --batch 20 --max-sequences 200 --eval-every 5 --eval-size 50 "
            "--test-size 50 "
            "--threads 1");
    ASSERT_EQ(result.exit_code, 0) << result.err;
    const lstm::NetworkConfig config = lstm::load_sequence_model(model).config().rnn;
    EXPECT_EQ(config.coupled_gates, cell == "cifg");
    EXPECT_EQ(config.reset_before, cell == "gru_reset_before");
  }
}

// A file of 3 gates per unit without config metadata (a bare state_dict) is PyTorch's GRU unless
// forward's --cell says it is a GRU with the reset gate before the product or a coupled LSTM;
// then forward computes what the library computes for that configuration.
TEST_F(CliCellVariants, ForwardCellOverrideSelectsTheVariant) {
  lstm::NetworkConfig config;
  config.cell = lstm::CellType::gru;
  config.reset_before = true;
  config.input_size = 3;
  config.hidden_size = 4;
  lstm::Network<float> network(config);
  network.init_uniform(5);
  const std::string model = dir.file("bare.safetensors"), x = dir.file("x.npy");
  lstm::write_safetensors(model, lstm::network_tensors(network));  // no metadata
  lstm::HostTensor input{{6, 2, 3}, {}};
  for (int k = 0; k < 36; ++k) input.data.push_back(static_cast<float>(std::sin(0.7 * k)));
  lstm::write_npy(x, input);

  std::vector<float> expected(6 * 2 * 4);
  lstm::Workspace<float> workspace;
  lstm::ForwardArgs<float> args;
  args.seq_len = 6;
  args.batch = 2;
  args.input = input.data.data();
  args.output = expected.data();
  network.forward(lstm::Mode::inference, args, workspace);

  const auto forward = [&](const std::string& cell) {
    const std::string y = dir.file("y" + cell + ".npy");
    const CommandResult result =
        run("forward --model " + shell_quote(model) + " --input " + shell_quote(x) + " --output " +
            shell_quote(y) + (cell.empty() ? "" : " --cell " + cell));
    EXPECT_EQ(result.exit_code, 0) << result.err;
    return lstm::read_npy(y).data;
  };
  const std::vector<float> reset_before = forward("gru_reset_before"), plain = forward("");
  ASSERT_EQ(reset_before.size(), expected.size());
  for (size_t k = 0; k < expected.size(); ++k) EXPECT_FLOAT_EQ(reset_before[k], expected[k]) << k;
  EXPECT_NE(plain, expected);                          // read as PyTorch's GRU by default
  EXPECT_EQ(forward("cifg").size(), expected.size());  // the same tensors as a coupled LSTM
  expect_failure("forward --model " + shell_quote(model) + " --input " + shell_quote(x) +
                     " --output " + shell_quote(dir.file("z.npy")) + " --cell lstm",
                 {"cell lstm was asked for, but the tensors have 3 gates per unit"});
}

}  // namespace
