// Our model files load into PyTorch unchanged (load_state_dict(strict=True)) and compute there
// what they compute here: save_network → tests/torch_load_check.py with Debian's PyTorch.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "lstm/lstm.hpp"
#include "test_util.hpp"

namespace {

void expect_pytorch_agrees(const lstm::NetworkConfig& config) {
  test_util::TempDir dir;
  lstm::Network<float> network(config);
  network.init_uniform(11);
  const int64_t steps = 7, batch = 3;
  lstm::HostTensor input{{steps, batch, config.input_size}, {}};
  input.data.resize(static_cast<size_t>(steps * batch * config.input_size));
  for (size_t k = 0; k < input.data.size(); ++k) input.data[k] = static_cast<float>((k * 37 % 101) / 50.0 - 1.0);
  lstm::HostTensor output{{steps, batch, config.layer_output_size()}, {}};
  output.data.resize(static_cast<size_t>(steps * batch * config.layer_output_size()));

  lstm::Workspace<float> workspace;
  lstm::ForwardArgs<float> args;
  args.seq_len = steps;
  args.batch = batch;
  args.input = input.data.data();
  args.output = output.data.data();
  network.forward(lstm::Mode::inference, args, workspace);

  lstm::save_network(dir.file("model.safetensors"), network);
  lstm::write_npy(dir.file("input.npy"), input);
  lstm::write_npy(dir.file("expected.npy"), output);
  const auto result = test_util::run_command(
      std::string(LSTM_PYTHON) + " " + test_util::shell_quote(std::string(LSTM_TEST_DATA_DIR) + "/../torch_load_check.py") +
      " " + test_util::shell_quote(dir.file("model.safetensors")) + " " +
      test_util::shell_quote(dir.file("input.npy")) + " " + test_util::shell_quote(dir.file("expected.npy")));
  EXPECT_EQ(result.exit_code, 0) << config.describe() << "\n" << result.out << result.err;
}

lstm::NetworkConfig config(lstm::CellType cell, int64_t layers, bool bidirectional) {
  lstm::NetworkConfig c;
  c.cell = cell;
  c.input_size = 5;
  c.hidden_size = 6;
  c.num_layers = layers;
  c.bidirectional = bidirectional;
  return c;
}

TEST(TorchLoad, Lstm) { expect_pytorch_agrees(config(lstm::CellType::lstm, 2, true)); }

TEST(TorchLoad, LstmWithProjection) {
  lstm::NetworkConfig c = config(lstm::CellType::lstm, 2, true);
  c.proj_size = 3;
  expect_pytorch_agrees(c);
}

TEST(TorchLoad, LstmWithoutBias) {
  lstm::NetworkConfig c = config(lstm::CellType::lstm, 1, false);
  c.bias = false;
  expect_pytorch_agrees(c);
}

TEST(TorchLoad, Gru) { expect_pytorch_agrees(config(lstm::CellType::gru, 2, true)); }
TEST(TorchLoad, RnnTanh) { expect_pytorch_agrees(config(lstm::CellType::rnn_tanh, 1, true)); }
TEST(TorchLoad, RnnRelu) { expect_pytorch_agrees(config(lstm::CellType::rnn_relu, 2, false)); }

}  // namespace
