// The `lstm forward` command (SPEC §5) on PyTorch reference cases: outputs, final states and
// gradients.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "lstm/lstm.hpp"
#include "test_util.hpp"

namespace {

namespace fs = std::filesystem;
using lstm::HostTensor;
using test_util::compare_tensors;
using test_util::require_tensor;
using test_util::shell_quote;
using test_util::TempDir;

constexpr double kTolerance = 1e-5;  // max abs error <= kTolerance * max(1, max |expected|)

fs::path case_dir(const std::string& name) {
  return fs::path(LSTM_TEST_DATA_DIR) / "reference" / name;
}

// `lstm forward` on a case directory with every optional input it has, writing Y.npy,
// S.safetensors and G.safetensors into `out`. `input` and `grad_output` default to the case's.
test_util::CommandResult run_forward(const std::string& name, const TempDir& out,
                                     const std::string& extra = "", std::string input = "",
                                     std::string grad_output = "") {
  const fs::path dir = case_dir(name);
  if (input.empty()) input = (dir / "input.npy").string();
  if (grad_output.empty()) grad_output = (dir / "grad_output.npy").string();
  std::string command = shell_quote(LSTM_CLI_PATH) + " forward --model " +
                        shell_quote((dir / "model.safetensors").string()) + " --input " +
                        shell_quote(input);
  if (fs::exists(dir / "lengths.npy"))
    command += " --lengths " + shell_quote((dir / "lengths.npy").string());
  if (fs::exists(dir / "state_in.safetensors"))
    command += " --state-in " + shell_quote((dir / "state_in.safetensors").string());
  command += " --output " + shell_quote(out.file("Y.npy")) + " --state-out " +
             shell_quote(out.file("S.safetensors"));
  command += " --grad-output " + shell_quote(grad_output) + " --grads " +
             shell_quote(out.file("G.safetensors"));
  return test_util::run_command(command + " " + extra);
}

// Swaps the first two axes: [T, B, ...] <-> [B, T, ...].
HostTensor transpose01(const HostTensor& tensor) {
  const int64_t rows = tensor.shape.at(0), cols = tensor.shape.at(1);
  const int64_t inner = rows * cols == 0 ? 0 : tensor.numel() / (rows * cols);
  HostTensor result;
  result.shape = tensor.shape;
  std::swap(result.shape[0], result.shape[1]);
  result.data.resize(tensor.data.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      for (int64_t k = 0; k < inner; ++k)
        result.data[static_cast<size_t>((c * rows + r) * inner + k)] =
            tensor.data[static_cast<size_t>((r * cols + c) * inner + k)];
  return result;
}

// Compares one tensor of a file written by the CLI with the expected tensor, shape included.
void check_tensor(const std::string& what, const HostTensor& expected, const HostTensor& actual) {
  EXPECT_EQ(actual.shape, expected.shape) << what;
  EXPECT_TRUE(compare_tensors(what, expected.data, actual.data, kTolerance));
}

// Checks Y.npy, S.safetensors and G.safetensors in `out` against the case's expected results.
// With batch_first, Y and the input gradient are [B, T, ...] (laid out like X); states are not.
void check_outputs(const std::string& name, const TempDir& out, bool batch_first) {
  const std::string expected_path = (case_dir(name) / "expected.safetensors").string();
  const lstm::SafetensorsContents expected = lstm::read_safetensors(expected_path);
  const lstm::SafetensorsContents model =
      lstm::read_safetensors((case_dir(name) / "model.safetensors").string());
  auto want = [&](const std::string& tensor) {
    const HostTensor& found = require_tensor(expected, tensor, expected_path);
    return batch_first && (tensor == "output" || tensor == "grad.input") ? transpose01(found)
                                                                         : found;
  };
  const bool is_lstm = expected.find("c_n") != nullptr;

  check_tensor(name + " Y.npy", want("output"), lstm::read_npy(out.file("Y.npy")));

  const lstm::SafetensorsContents state = lstm::read_safetensors(out.file("S.safetensors"));
  check_tensor(name + " S.safetensors h", want("h_n"),
               require_tensor(state, "h", out.file("S.safetensors")));
  if (is_lstm)
    check_tensor(name + " S.safetensors c", want("c_n"),
                 require_tensor(state, "c", out.file("S.safetensors")));

  const lstm::SafetensorsContents grads = lstm::read_safetensors(out.file("G.safetensors"));
  std::vector<std::string> names;
  for (const auto& [parameter, tensor] : model.tensors) names.push_back(parameter);
  names.insert(names.end(), {"input", "h0"});
  if (is_lstm) names.push_back("c0");
  for (const std::string& tensor : names)
    check_tensor(name + " G.safetensors " + tensor, want("grad." + tensor),
                 require_tensor(grads, tensor, out.file("G.safetensors")));
}

class CliPytorch : public ::testing::TestWithParam<std::string> {};

TEST_P(CliPytorch, ForwardWithGrads) {
  const TempDir out;
  const test_util::CommandResult run = run_forward(GetParam(), out);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  check_outputs(GetParam(), out, false);
}

// A few cases cover every cell, lengths as int32 and int64, states, projection, peephole.
INSTANTIATE_TEST_SUITE_P(Representative, CliPytorch,
                         ::testing::Values("lstm_l2_bi_len_state", "gru_l1_uni_len_state",
                                           "rnn_tanh_l1_bi", "rnn_relu_l2_bi_len_state",
                                           "lstm_proj_l2_bi_len_state", "peephole_l2_bi_len_state"),
                         [](const ::testing::TestParamInfo<std::string>& param_info) {
                           return param_info.param;
                         });

// --batch-first: X, dY, Y and the input gradient are all [B, T, ...]; states stay [L*D, B, ...].
TEST(CliPytorchOptions, BatchFirst) {
  const std::string name = "lstm_l2_bi_len_state";
  const TempDir out;
  lstm::write_npy(out.file("X_bt.npy"),
                  transpose01(lstm::read_npy((case_dir(name) / "input.npy").string())));
  lstm::write_npy(out.file("dY_bt.npy"),
                  transpose01(lstm::read_npy((case_dir(name) / "grad_output.npy").string())));
  const test_util::CommandResult run =
      run_forward(name, out, "--batch-first", out.file("X_bt.npy"), out.file("dY_bt.npy"));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  check_outputs(name, out, true);
}

// --cell rnn_relu makes a model saved without metadata (which reads as rnn_tanh) a relu RNN.
TEST(CliPytorchOptions, CellOverride) {
  const std::string name = "rnn_relu_l1_uni_len_state";
  const TempDir out;
  const lstm::SafetensorsContents model =
      lstm::read_safetensors((case_dir(name) / "model.safetensors").string());
  ASSERT_EQ(model.metadata.count("config"), 1u);
  const std::string bare_model = out.file("bare.safetensors");
  lstm::write_safetensors(bare_model, model.tensors, {});
  const fs::path dir = case_dir(name);
  const std::string base = shell_quote(LSTM_CLI_PATH) + " forward --model " +
                           shell_quote(bare_model) + " --input " +
                           shell_quote((dir / "input.npy").string()) + " --lengths " +
                           shell_quote((dir / "lengths.npy").string()) + " --state-in " +
                           shell_quote((dir / "state_in.safetensors").string());
  const HostTensor expected = require_tensor(
      lstm::read_safetensors((dir / "expected.safetensors").string()), "output", "expected");

  const test_util::CommandResult relu = test_util::run_command(base + " --cell rnn_relu --output " +
                                                               shell_quote(out.file("relu.npy")));
  ASSERT_EQ(relu.exit_code, 0) << relu.err;
  check_tensor(name + " --cell rnn_relu output", expected, lstm::read_npy(out.file("relu.npy")));

  const test_util::CommandResult tanh =
      test_util::run_command(base + " --output " + shell_quote(out.file("tanh.npy")));
  ASSERT_EQ(tanh.exit_code, 0) << tanh.err;
  const HostTensor tanh_output = lstm::read_npy(out.file("tanh.npy"));
  ASSERT_EQ(tanh_output.shape, expected.shape);
  EXPECT_GT(test_util::scaled_error<float>(expected.data, tanh_output.data).error, 1e-2)
      << "without --cell the metadata-less model must run as rnn_tanh, not relu";
}

}  // namespace
