// The lstm command run as a program: help, forward (outputs, states, gradients), every bad input
// (one line on stderr naming the file, no output left behind), info and bench --json.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/random.hpp"
#include "data/json_text.hpp"
#include "isa_test_util.hpp"
#include "lstm/lstm.hpp"
#include "test_util.hpp"

namespace {

namespace fs = std::filesystem;
using test_util::CommandResult;
using test_util::shell_quote;

const std::string cli = shell_quote(LSTM_CLI_PATH);

lstm::HostTensor random_tensor(std::vector<int64_t> shape, uint64_t seed) {
  lstm::HostTensor tensor;
  tensor.shape = std::move(shape);
  int64_t count = 1;
  for (int64_t extent : tensor.shape) count *= extent;
  tensor.data.resize(static_cast<size_t>(count));
  for (size_t k = 0; k < tensor.data.size(); ++k)
    tensor.data[k] = static_cast<float>(2.0 * lstm::uniform01(seed, k) - 1.0);
  return tensor;
}

// A .npy file of any dtype from raw little-endian bytes (write_npy writes float32 only).
void write_raw_npy(const std::string& path, const std::string& descr,
                   const std::vector<int64_t>& shape, const std::string& payload) {
  std::string dims;
  for (int64_t extent : shape) dims += std::to_string(extent) + (shape.size() == 1 ? "," : ", ");
  std::string dict =
      "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (" + dims + "), }";
  dict += std::string((64 - (10 + dict.size() + 1) % 64) % 64, ' ') + '\n';
  std::string bytes = "\x93NUMPY\x01";
  bytes += '\0';
  bytes += static_cast<char>(dict.size() & 0xff);
  bytes += static_cast<char>(dict.size() >> 8);
  std::ofstream(path, std::ios::binary) << bytes << dict << payload;
}

template <typename Int>
void write_int_npy(const std::string& path, const std::vector<Int>& values) {
  std::string payload(values.size() * sizeof(Int), '\0');
  std::memcpy(payload.data(), values.data(), payload.size());
  write_raw_npy(path, sizeof(Int) == 4 ? "<i4" : "<i8", {static_cast<int64_t>(values.size())},
                payload);
}

lstm::Network<float> make_network(lstm::CellType cell, bool bidirectional, int64_t layers = 2) {
  lstm::NetworkConfig config;
  config.cell = cell;
  config.input_size = 3;
  config.hidden_size = 4;
  config.num_layers = layers;
  config.bidirectional = bidirectional;
  lstm::Network<float> network(config);
  network.init_uniform(7);
  return network;
}

// Result of the library's own forward (and backward for sum(Y * dY)) on the same data.
struct Reference {
  std::vector<float> output, h_n, c_n, grad_params, grad_input, grad_h0, grad_c0;
};

Reference library_run(const lstm::Network<float>& network, const lstm::HostTensor& input,
                      const std::vector<int64_t>& lengths, const lstm::HostTensor* grad_output) {
  const lstm::NetworkConfig& config = network.config();
  const int64_t steps = input.shape[0], batch = input.shape[1];
  const size_t rows = static_cast<size_t>(config.num_layers * config.directions() * batch);
  Reference ref;
  ref.output.resize(static_cast<size_t>(steps * batch * config.layer_output_size()));
  ref.h_n.resize(rows * static_cast<size_t>(config.output_size()));
  ref.c_n.resize(rows * static_cast<size_t>(config.hidden_size));
  lstm::ForwardArgs<float> args;
  args.seq_len = steps;
  args.batch = batch;
  args.input = input.data.data();
  args.lengths = lengths.empty() ? nullptr : lengths.data();
  args.output = ref.output.data();
  args.h_n = ref.h_n.data();
  args.c_n = config.has_cell_state() ? ref.c_n.data() : nullptr;
  lstm::Workspace<float> workspace;
  network.forward(grad_output ? lstm::Mode::training : lstm::Mode::inference, args, workspace);
  if (!grad_output) return ref;
  ref.grad_params.assign(static_cast<size_t>(network.num_parameters()), 0.0f);
  ref.grad_input.resize(input.data.size());
  ref.grad_h0.resize(ref.h_n.size());
  ref.grad_c0.resize(ref.c_n.size());
  lstm::BackwardArgs<float> grad_args;
  grad_args.grad_output = grad_output->data.data();
  grad_args.grad_params = ref.grad_params.data();
  grad_args.grad_input = ref.grad_input.data();
  grad_args.grad_h0 = ref.grad_h0.data();
  grad_args.grad_c0 = config.has_cell_state() ? ref.grad_c0.data() : nullptr;
  network.backward(grad_args, workspace);
  return ref;
}


// Every test gets a directory with a 2-layer bidirectional LSTM (I=3, H=4), X [T=5, B=3, 3] and
// dY [5, 3, 8].
class CliForward : public ::testing::Test {
 protected:
  static constexpr int64_t steps = 5, batch = 3;
  test_util::TempDir dir;
  lstm::Network<float> network = make_network(lstm::CellType::lstm, true);
  lstm::HostTensor input = random_tensor({steps, batch, 3}, 11);
  lstm::HostTensor grad_output = random_tensor({steps, batch, 8}, 12);
  std::string model = dir.file("model.safetensors"), x = dir.file("X.npy"), dy = dir.file("dY.npy");

  void SetUp() override {
    lstm::save_network(model, network);
    lstm::write_npy(x, input);
    lstm::write_npy(dy, grad_output);
  }
  std::string base() const { return cli + " forward --model " + shell_quote(model); }
  CommandResult run(const std::string& args) const {
    return test_util::run_command(base() + " " + args);
  }

  // Runs a command that must fail: non-zero exit, exactly one line on stderr mentioning every
  // string in `mentions`, and the directory left exactly as it was (no output, no temp file).
  void expect_failure(const std::string& args, const std::vector<std::string>& mentions) const {
    expect_failing_command(base() + " " + args, mentions);
  }
  void expect_failing_command(const std::string& command,
                              const std::vector<std::string>& mentions) const {
    const std::vector<std::string> before = test_util::directory_entries(dir.path());
    const CommandResult result = test_util::run_command(command);
    EXPECT_NE(result.exit_code, 0) << command;
    EXPECT_TRUE(result.err.starts_with("lstm: ")) << result.err;
    EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
    EXPECT_TRUE(result.err.ends_with("\n")) << result.err;
    for (const std::string& mention : mentions)
      EXPECT_NE(result.err.find(mention), std::string::npos)
          << "'" << mention << "' not in: " << result.err;
    EXPECT_EQ(test_util::directory_entries(dir.path()), before) << "files created or removed by: " << command;
  }
  std::string outputs() const {
    return "--output " + shell_quote(dir.file("Y.npy")) + " --state-out " +
           shell_quote(dir.file("S.safetensors"));
  }
};

TEST(CliHelp, EveryCommandHasHelp) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> commands = {
      {"", {"forward", "info", "bench", "--threads", "--version"}},
      {"forward",
       {"--model", "--input", "--output", "--lengths", "--state-in", "--state-out", "--grad-output",
        "--grads", "--batch-first", "--cell", "NaN or Inf"}},
      {"info", {"--json"}},
      {"bench",
       {"--cell", "--input-size", "--hidden-size", "--batch", "--seq-len", "--mode", "--json",
        "--iters", "--warmup", "--layers", "--bidirectional", "--threads", "--precision", "=256"}}};
  for (const auto& [command, mentions] : commands) {
    const CommandResult result = test_util::run_command(cli + " " + command + " --help");
    EXPECT_EQ(result.exit_code, 0) << command;
    for (const std::string& mention : mentions)
      EXPECT_NE(result.out.find(mention), std::string::npos)
          << command << " --help lacks " << mention;
  }
  const CommandResult version = test_util::run_command(cli + " --version");
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_TRUE(version.out.starts_with("lstm ")) << version.out;
}

TEST_F(CliForward, OutputAndStatesMatchLibrary) {
  const std::vector<int64_t> lengths{5, 2, 4};
  write_int_npy<int32_t>(dir.file("N.npy"), {5, 2, 4});
  const CommandResult result = run("--input " + shell_quote(x) + " --lengths " +
                                   shell_quote(dir.file("N.npy")) + " " + outputs());
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.err, "");
  const lstm::HostTensor y = lstm::read_npy(dir.file("Y.npy"));
  EXPECT_EQ(y.shape, (std::vector<int64_t>{steps, batch, 8}));
  const Reference ref = library_run(network, input, lengths, nullptr);
  EXPECT_TRUE(test_util::compare_tensors("Y", ref.output, y.data, 1e-5));
  const lstm::SafetensorsContents states = lstm::read_safetensors(dir.file("S.safetensors"));
  ASSERT_EQ(states.tensors.size(), 2u);
  const lstm::HostTensor& h = test_util::require_tensor(states, "h", "S");
  const lstm::HostTensor& c = test_util::require_tensor(states, "c", "S");
  EXPECT_EQ(h.shape, (std::vector<int64_t>{4, batch, 4}));
  EXPECT_EQ(c.shape, (std::vector<int64_t>{4, batch, 4}));
  EXPECT_TRUE(test_util::compare_tensors("h", ref.h_n, h.data, 1e-5));
  EXPECT_TRUE(test_util::compare_tensors("c", ref.c_n, c.data, 1e-5));

  // Feeding the final states back in as initial states changes the output; int64 lengths work.
  write_int_npy<int64_t>(dir.file("N64.npy"), {5, 2, 4});
  const CommandResult again =
      run("--input " + shell_quote(x) + " --lengths " + shell_quote(dir.file("N64.npy")) +
          " --state-in " + shell_quote(dir.file("S.safetensors")) + " --output " +
          shell_quote(dir.file("Y2.npy")));
  ASSERT_EQ(again.exit_code, 0) << again.err;
  const lstm::HostTensor y2 = lstm::read_npy(dir.file("Y2.npy"));
  EXPECT_EQ(y2.shape, y.shape);
  EXPECT_NE(y2.data, y.data);
}

// [T, B, X] -> [B, T, X]
lstm::HostTensor to_batch_first(const lstm::HostTensor& tensor) {
  const int64_t steps = tensor.shape[0], batch = tensor.shape[1], width = tensor.shape[2];
  lstm::HostTensor swapped{{batch, steps, width}, std::vector<float>(tensor.data.size())};
  for (int64_t t = 0; t < steps; ++t)
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t k = 0; k < width; ++k)
        swapped.data[(b * steps + t) * width + k] = tensor.data[(t * batch + b) * width + k];
  return swapped;
}

TEST_F(CliForward, BatchFirstTransposesInputsAndOutputs) {
  const std::string grads =
      " --grad-output " + shell_quote(dy) + " --grads " + shell_quote(dir.file("G.safetensors"));
  const CommandResult plain =
      run("--input " + shell_quote(x) + " --output " + shell_quote(dir.file("Y.npy")) + grads);
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  lstm::write_npy(dir.file("X_bt.npy"), to_batch_first(input));
  lstm::write_npy(dir.file("dY_bt.npy"), to_batch_first(grad_output));
  const CommandResult result = run("--batch-first --input " + shell_quote(dir.file("X_bt.npy")) +
                                   " --output " + shell_quote(dir.file("Y_bt.npy")) +
                                   " --grad-output " + shell_quote(dir.file("dY_bt.npy")) +
                                   " --grads " + shell_quote(dir.file("G_bt.safetensors")));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const lstm::HostTensor y_bt = lstm::read_npy(dir.file("Y_bt.npy"));
  EXPECT_EQ(y_bt.shape, (std::vector<int64_t>{batch, steps, 8}));
  EXPECT_EQ(y_bt.data, to_batch_first(lstm::read_npy(dir.file("Y.npy"))).data);
  const lstm::SafetensorsContents g = lstm::read_safetensors(dir.file("G.safetensors"));
  const lstm::SafetensorsContents g_bt = lstm::read_safetensors(dir.file("G_bt.safetensors"));
  const lstm::HostTensor& dx_bt = test_util::require_tensor(g_bt, "input", "G_bt");
  EXPECT_EQ(dx_bt.shape, (std::vector<int64_t>{batch, steps, 3}));
  EXPECT_TRUE(test_util::compare_tensors(
      "input", to_batch_first(test_util::require_tensor(g, "input", "G")).data, dx_bt.data, 1e-6));
  EXPECT_TRUE(test_util::compare_tensors(
      "weight_hh_l1", test_util::require_tensor(g, "weight_hh_l1", "G").data,
      test_util::require_tensor(g_bt, "weight_hh_l1", "G_bt").data, 1e-6));
  // A [T, B, .] dY does not fit a [B, T, .] output.
  expect_failure("--batch-first --input " + shell_quote(dir.file("X_bt.npy")) + " --output " +
                     shell_quote(dir.file("Y3.npy")) + grads,
                 {dy, "[3, 5, 8]"});
}

TEST_F(CliForward, GradientsMatchLibrary) {
  const CommandResult result = run(
      "--input " + shell_quote(x) + " --output " + shell_quote(dir.file("Y.npy")) +
      " --grad-output " + shell_quote(dy) + " --grads " + shell_quote(dir.file("G.safetensors")));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const Reference ref = library_run(network, input, {}, &grad_output);
  EXPECT_TRUE(
      test_util::compare_tensors("Y", ref.output, lstm::read_npy(dir.file("Y.npy")).data, 1e-5));
  const lstm::SafetensorsContents grads = lstm::read_safetensors(dir.file("G.safetensors"));
  EXPECT_EQ(grads.tensors.size(), network.layout().size() + 3);
  for (const lstm::ParameterInfo& info : network.layout()) {
    const lstm::HostTensor& grad = test_util::require_tensor(grads, info.name, "G");
    EXPECT_EQ(grad.shape, info.shape) << info.name;
    const std::span<const float> expected(ref.grad_params.data() + info.offset,
                                          static_cast<size_t>(info.numel));
    EXPECT_TRUE(test_util::compare_tensors(info.name, expected, grad.data, 1e-5));
  }
  const lstm::HostTensor& dx = test_util::require_tensor(grads, "input", "G");
  EXPECT_EQ(dx.shape, input.shape);
  EXPECT_TRUE(test_util::compare_tensors("input", ref.grad_input, dx.data, 1e-5));
  EXPECT_TRUE(test_util::compare_tensors("h0", ref.grad_h0,
                                         test_util::require_tensor(grads, "h0", "G").data, 1e-5));
  EXPECT_TRUE(test_util::compare_tensors("c0", ref.grad_c0,
                                         test_util::require_tensor(grads, "c0", "G").data, 1e-5));
}

TEST(CliForwardModels, PrefixedGruGradientsKeepTheFileNames) {
  test_util::TempDir dir;
  const lstm::Network<float> network = make_network(lstm::CellType::gru, false, 1);
  auto tensors = lstm::network_tensors(network, "rnn.");
  tensors.emplace_back("head.weight", random_tensor({2, 4}, 3));
  lstm::write_safetensors(dir.file("model.safetensors"), tensors, {{"task", "demo"}});
  lstm::write_npy(dir.file("X.npy"), random_tensor({4, 2, 3}, 4));
  lstm::write_npy(dir.file("dY.npy"), random_tensor({4, 2, 4}, 5));
  const CommandResult result = test_util::run_command(
      cli + " forward --model " + shell_quote(dir.file("model.safetensors")) + " --input " +
      shell_quote(dir.file("X.npy")) + " --output " + shell_quote(dir.file("Y.npy")) +
      " --grad-output " + shell_quote(dir.file("dY.npy")) + " --grads " +
      shell_quote(dir.file("G.safetensors")) + " --state-out " +
      shell_quote(dir.file("S.safetensors")));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const lstm::SafetensorsContents grads = lstm::read_safetensors(dir.file("G.safetensors"));
  std::vector<std::string> names;
  for (const auto& [name, tensor] : grads.tensors) names.push_back(name);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"h0", "input", "rnn.bias_hh_l0", "rnn.bias_ih_l0",
                                             "rnn.weight_hh_l0", "rnn.weight_ih_l0"}));
  const lstm::SafetensorsContents states = lstm::read_safetensors(dir.file("S.safetensors"));
  EXPECT_EQ(states.tensors.size(), 1u);  // GRU: h only
  EXPECT_NE(states.find("h"), nullptr);

  const CommandResult info =
      test_util::run_command(cli + " info " + shell_quote(dir.file("model.safetensors")));
  ASSERT_EQ(info.exit_code, 0) << info.err;
  for (const char* mention :
       {"gru input=3 hidden=4", "rnn.weight_ih_l0", "head.weight", "[2, 4]", "task"})
    EXPECT_NE(info.out.find(mention), std::string::npos) << mention << " not in:\n" << info.out;
}

TEST_F(CliForward, BadModelFiles) {
  const std::string forward = cli + " forward --model ";
  const std::string rest = " --input " + shell_quote(x) + " " + outputs();
  const std::string missing = dir.file("missing.safetensors");
  expect_failing_command(forward + shell_quote(missing) + rest, {missing});

  std::ifstream in(model, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string truncated = dir.file("truncated.safetensors");
  std::ofstream(truncated, std::ios::binary) << bytes.substr(0, bytes.size() - 10);
  expect_failing_command(forward + shell_quote(truncated) + rest, {truncated});

  const std::string corrupt = dir.file("corrupt.safetensors");
  const std::string header = "{\"weight_ih_l0\": {";
  std::string image(8, '\0');
  image[0] = static_cast<char>(header.size());
  std::ofstream(corrupt, std::ios::binary) << image << header;
  expect_failing_command(forward + shell_quote(corrupt) + rest, {corrupt});
}

TEST_F(CliForward, BadInputs) {
  const std::string rest = " " + outputs();
  const std::string ints = dir.file("int.npy");
  write_int_npy<int32_t>(ints, {1, 2, 3});
  expect_failure("--input " + shell_quote(ints) + rest, {ints});

  const std::string flat = dir.file("flat.npy");
  lstm::write_npy(flat, random_tensor({5, 3}, 1));
  expect_failure("--input " + shell_quote(flat) + rest, {flat, "3-D"});

  const std::string wide = dir.file("wide.npy");
  lstm::write_npy(wide, random_tensor({5, 3, 4}, 1));
  expect_failure("--input " + shell_quote(wide) + rest, {wide, "4", "3"});

  const std::string empty = dir.file("empty.npy");
  lstm::write_npy(empty, random_tensor({0, 3, 3}, 1));
  expect_failure("--input " + shell_quote(empty) + rest, {empty, "empty"});

  lstm::HostTensor with_nan = input;
  with_nan.data[7] = std::nanf("");
  const std::string nan_file = dir.file("nan.npy");
  lstm::write_npy(nan_file, with_nan);
  expect_failure("--input " + shell_quote(nan_file) + rest, {nan_file, "NaN", "flat index 7"});
}

TEST_F(CliForward, BadLengths) {
  const std::string rest = " --input " + shell_quote(x) + " " + outputs() + " --lengths ";
  const std::string zero = dir.file("zero.npy"), long_ = dir.file("long.npy"),
                    count = dir.file("count.npy");
  write_int_npy<int64_t>(zero, {5, 0, 4});
  expect_failure(rest + shell_quote(zero), {zero, "lengths[1]"});
  write_int_npy<int32_t>(long_, {5, 2, 6});
  expect_failure(rest + shell_quote(long_), {long_, "lengths[2]"});
  write_int_npy<int32_t>(count, {5, 2});
  expect_failure(rest + shell_quote(count), {count, "[3]"});
  const std::string floats = dir.file("float_lengths.npy");
  lstm::write_npy(floats, random_tensor({3}, 2));
  expect_failure(rest + shell_quote(floats), {floats});
}

TEST_F(CliForward, BadStates) {
  const std::string rest = " --input " + shell_quote(x) + " " + outputs() + " --state-in ";
  const lstm::HostTensor h = random_tensor({4, batch, 4}, 1), c = random_tensor({4, batch, 4}, 2);
  const std::string wrong_shape = dir.file("shape.safetensors");
  lstm::write_safetensors(wrong_shape, {{"h", random_tensor({2, batch, 4}, 1)}, {"c", c}});
  expect_failure(rest + shell_quote(wrong_shape), {wrong_shape, "'h'", "[2, 3, 4]"});
  const std::string no_c = dir.file("no_c.safetensors");
  lstm::write_safetensors(no_c, {{"h", h}});
  expect_failure(rest + shell_quote(no_c), {no_c, "'c'"});
  const std::string unknown = dir.file("unknown.safetensors");
  lstm::write_safetensors(unknown, {{"h", h}, {"c", c}, {"h2", h}});
  expect_failure(rest + shell_quote(unknown), {unknown, "'h2'"});
  lstm::HostTensor inf_c = c;
  inf_c.data[3] = INFINITY;
  const std::string inf_state = dir.file("inf.safetensors");
  lstm::write_safetensors(inf_state, {{"h", h}, {"c", inf_c}});
  expect_failure(rest + shell_quote(inf_state), {inf_state, "'c'", "Inf", "flat index 3"});
}

TEST_F(CliForward, BadGradientOptions) {
  const std::string rest = " --input " + shell_quote(x) + " " + outputs();
  const std::string grads = " --grads " + shell_quote(dir.file("G.safetensors"));
  const std::string short_dy = dir.file("short_dY.npy");
  lstm::write_npy(short_dy, random_tensor({steps, batch, 4}, 3));
  expect_failure(rest + grads + " --grad-output " + shell_quote(short_dy), {short_dy, "[5, 3, 8]"});
  expect_failure(rest + grads, {"--grad-output"});
  expect_failure(rest + " --grad-output " + shell_quote(dy), {"--grads"});
}

TEST_F(CliForward, BadOutputPaths) {
  const std::string nowhere = dir.file("no/such/dir/Y.npy");
  expect_failure("--input " + shell_quote(x) + " --output " + shell_quote(nowhere),
                 {nowhere, "does not exist"});
  // A failing second output leaves the first one unwritten too.
  expect_failure("--input " + shell_quote(x) + " --output " + shell_quote(dir.file("Y.npy")) +
                     " --state-out " + shell_quote(nowhere),
                 {nowhere});
  expect_failure("--input " + shell_quote(x) + " --output " + shell_quote(dir.path().string()),
                 {"directory"});
  // Two outputs in one file: the second write would replace the first.
  expect_failure("--input " + shell_quote(x) + " --output " + shell_quote(dir.file("Y.npy")) +
                     " --state-out " + shell_quote(dir.path().string() + "/./Y.npy"),
                 {"Y.npy", "--output and --state-out name the same file"});
}

TEST_F(CliForward, OutputMayReplaceInput) {
  const CommandResult result = run("--input " + shell_quote(x) + " --output " + shell_quote(x));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(lstm::read_npy(x).shape, (std::vector<int64_t>{steps, batch, 8}));
}

TEST_F(CliForward, BadThreadCount) {
  const std::vector<std::string> before = test_util::directory_entries(dir.path());
  const CommandResult result =
      test_util::run_command("LSTM_NUM_THREADS=lots " + base() + " --input " + shell_quote(x) +
                             " --output " + shell_quote(dir.file("Y.npy")));
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("LSTM_NUM_THREADS"), std::string::npos) << result.err;
  EXPECT_EQ(test_util::directory_entries(dir.path()), before);
  const CommandResult ok =
      test_util::run_command("LSTM_NUM_THREADS=1 " + base() + " --input " + shell_quote(x) +
                             " --output " + shell_quote(dir.file("Y.npy")));
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
}

TEST(CliInfo, ValidAndInvalidFiles) {
  test_util::TempDir dir;
  const std::string model = dir.file("model.safetensors");
  lstm::save_network(model, make_network(lstm::CellType::lstm, true));
  const CommandResult text = test_util::run_command(cli + " info " + shell_quote(model));
  ASSERT_EQ(text.exit_code, 0) << text.err;
  for (const char* mention : {"lstm input=3 hidden=4 layers=2 bidirectional", "parameters: 736",
                              "weight_ih_l1_reverse", "[16, 8]", "128", "config"})
    EXPECT_NE(text.out.find(mention), std::string::npos) << mention << " not in:\n" << text.out;

  const CommandResult json = test_util::run_command(cli + " info --json " + shell_quote(model));
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const nlohmann::json parsed = lstm::json_text::parse(json.out);
  EXPECT_EQ(parsed["network"]["cell"], "lstm");
  EXPECT_EQ(parsed["network"]["num_parameters"], 736);
  EXPECT_EQ(parsed["tensors"].size(), 16u);
  EXPECT_TRUE(parsed["metadata"].contains("config"));

  // A state file is readable but not a network.
  const std::string states = dir.file("states.safetensors");
  lstm::write_safetensors(states, {{"h", random_tensor({1, 2, 3}, 1)}});
  const CommandResult state_info = test_util::run_command(cli + " info " + shell_quote(states));
  EXPECT_EQ(state_info.exit_code, 0) << state_info.err;
  EXPECT_NE(state_info.out.find("network:    none"), std::string::npos) << state_info.out;

  const std::string broken = dir.file("broken.safetensors");
  std::ofstream(broken, std::ios::binary) << "\x05";
  const CommandResult bad = test_util::run_command(cli + " info " + shell_quote(broken));
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_TRUE(bad.err.starts_with("lstm: " + broken)) << bad.err;
  EXPECT_EQ(std::count(bad.err.begin(), bad.err.end(), '\n'), 1) << bad.err;
  EXPECT_EQ(bad.out, "");
}

TEST(CliBench, JsonHasTheContractKeys) {
  for (const char* args :
       {"--cell lstm --mode infer", "--cell gru --mode train --layers 2 --bidirectional",
        "--cell rnn_tanh --mode train"}) {
    const CommandResult result =
        test_util::run_command(cli + " bench " + args +
                               " --input-size 5 --hidden-size 6 --batch 2 --seq-len 3 --iters 3 "
                               "--warmup 1 --threads 1 --json");
    ASSERT_EQ(result.exit_code, 0) << args << ": " << result.err;
    const nlohmann::json parsed = lstm::json_text::parse(result.out);
    ASSERT_TRUE(parsed.is_object());
    for (const char* key : {"ms_median", "ms_min", "gflops", "cell", "mode", "input_size",
                            "hidden_size", "batch", "seq_len", "threads", "iters"})
      EXPECT_TRUE(parsed.contains(key)) << key;
    EXPECT_GT(parsed["gflops"].get<double>(), 0.0);
    EXPECT_LE(parsed["ms_min"].get<double>(), parsed["ms_median"].get<double>());
    EXPECT_EQ(parsed["iters"], 3);
    EXPECT_EQ(parsed["threads"], 1);
    EXPECT_EQ(parsed["precision"], "fp32");
  }
  // --precision bf16 says so where the path in force has bf16 products, and is a one-line error
  // where it has not.
  const CommandResult bf16 = test_util::run_command(
      cli + " bench --cell lstm --mode train --input-size 5 --hidden-size 40 --batch 17 --seq-len 3 "
            "--iters 1 --precision bf16 --json");
  if (lstm::bf16_available()) {
    ASSERT_EQ(bf16.exit_code, 0) << bf16.err;
    EXPECT_EQ(lstm::json_text::parse(bf16.out)["precision"], "bf16");
  } else {
    EXPECT_EQ(bf16.exit_code, 1);
    EXPECT_NE(bf16.err.find("bf16"), std::string::npos) << bf16.err;
  }
  // FLOPs per SPEC: 2*G*H*(I+H)*B*T forward, 3x for train.
  const CommandResult train =
      test_util::run_command(cli +
                             " bench --cell lstm --mode train --input-size 5 --hidden-size 6 "
                             "--batch 2 --seq-len 3 --iters 1 --json");
  ASSERT_EQ(train.exit_code, 0) << train.err;
  EXPECT_DOUBLE_EQ(lstm::json_text::parse(train.out)["flops"].get<double>(),
                   3.0 * 2 * 4 * 6 * (5 + 6) * 2 * 3);
  const CommandResult bad = test_util::run_command(cli + " bench --cell lstm --mode fly --json");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_EQ(std::count(bad.err.begin(), bad.err.end(), '\n'), 1) << bad.err;
}

// --phases: the products' times and rates agree with their FLOPs (2*G*H*I_k*B*T input,
// 2*G*H*H*B*T recurrent per layer and direction; training adds the recurrent ones backward, the
// weight gradients of both and dx), and the phases are parts of the timed calls.
TEST(CliBench, PhasesAccountForTheWork) {
  struct Case {
    const char* args;
    double input_flops, recurrent_flops;  // of one forward
  };
  const double rows = 4 * 6;  // B*T
  for (const Case& c :
       {Case{"--cell lstm --mode infer", 2 * 4 * 16 * 5 * rows, 2 * 4 * 16 * 16 * rows},
        Case{"--cell gru_reset_before --mode train --layers 2", 2 * 3 * 16 * (5 + 16) * rows,
             2 * 2 * 3 * 16 * 16 * rows},
        Case{"--cell lstm --mode train --bidirectional", 2 * 2 * 4 * 16 * 5 * rows,
             2 * 2 * 4 * 16 * 16 * rows}}) {
    const CommandResult result = test_util::run_command(
        cli + " bench " + c.args +
        " --input-size 5 --hidden-size 16 --batch 4 --seq-len 6 --iters 4 --warmup 1 "
        "--threads 2 --phases --json");
    ASSERT_EQ(result.exit_code, 0) << c.args << ": " << result.err;
    const nlohmann::json parsed = lstm::json_text::parse(result.out);
    const bool train = parsed["mode"] == "train";
    const nlohmann::json& phases = parsed["phases"];
    std::vector<std::pair<std::string, double>> products = {
        {"input_products", c.input_flops},
        {"recurrent_products", c.recurrent_flops * (train ? 2 : 1)}};
    if (train) {
      products.emplace_back("weight_gradients", c.input_flops + c.recurrent_flops);
      products.emplace_back("input_gradients", c.input_flops);
    }
    double counted = phases["cells"]["thread_ms"].get<double>();
    EXPECT_GT(counted, 0.0) << c.args;
    for (const auto& [name, flops] : products) {
      ASSERT_TRUE(phases.contains(name)) << c.args << ": " << name;
      const double ms = phases[name]["thread_ms"].get<double>();
      EXPECT_GT(ms, 0.0) << c.args << ": " << name;
      EXPECT_NEAR(phases[name]["gflops_per_thread"].get<double>() * ms * 1e6, flops, 1e-6 * flops)
          << c.args << ": " << name;
      counted += ms;
    }
    EXPECT_EQ(phases.contains("weight_gradients"), train) << c.args;
    EXPECT_LE(counted, 2 * parsed["ms_mean"].get<double>() * 1.001) << c.args;
    EXPECT_GE(phases["other"]["thread_ms"].get<double>(), 0.0) << c.args;
  }
  // Without --phases there is no "phases" key.
  const CommandResult plain = test_util::run_command(
      cli +
      " bench --input-size 5 --hidden-size 16 --batch 4 --seq-len 6 --iters 1 --warmup 0 --json");
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_FALSE(lstm::json_text::parse(plain.out).contains("phases"));
}

// The instruction-set path: by default the CPU's best (from /proc/cpuinfo, read here, not by the
// library), capped by LSTM_MAX_ISA, reported by bench --json, info --system and --version; a bad
// name is one line and exit 1; bf16 under a cap without bf16 products is refused naming the cap.
TEST(Cli, InstructionSetPaths) {
  const std::string best = lstm::isa_name(test_util::isa_from_cpuinfo());
  const std::string bench = " bench --cell gru --mode infer --input-size 3 --hidden-size 4 --batch 2 --seq-len 2 --iters 1 --json";
  const CommandResult plain = test_util::run_command("env -u LSTM_MAX_ISA " + cli + bench);
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_EQ(lstm::json_text::parse(plain.out)["isa"], best);
  for (const lstm::Isa isa : lstm::all_isas()) {
    if (!lstm::isa_supported(isa)) continue;
    const CommandResult capped = test_util::run_command("LSTM_MAX_ISA=" + std::string(lstm::isa_name(isa)) + " " + cli + bench);
    ASSERT_EQ(capped.exit_code, 0) << capped.err;
    EXPECT_EQ(lstm::json_text::parse(capped.out)["isa"], lstm::isa_name(isa));
  }
  const CommandResult system = test_util::run_command("LSTM_MAX_ISA=avx2 " + cli + " info --system --json");
  ASSERT_EQ(system.exit_code, 0) << system.err;
  const nlohmann::json info = lstm::json_text::parse(system.out);
  EXPECT_EQ(info["best"], best);
  EXPECT_EQ(info["in_force"], test_util::isa_from_cpuinfo() >= lstm::Isa::avx2 ? "avx2" : "scalar");
  EXPECT_EQ(info["paths"].back(), best);
  const CommandResult version = test_util::run_command("env -u LSTM_MAX_ISA " + cli + " --version");
  EXPECT_NE(version.out.find(best + " kernels"), std::string::npos) << version.out;

  test_util::TempDir dir;
  test_util::expect_cli_failure("LSTM_MAX_ISA=avx3 " + cli + bench, dir.path(), {"LSTM_MAX_ISA", "avx3", "avx2"});
  if (test_util::isa_from_cpuinfo() >= lstm::Isa::avx512_bf16)
    test_util::expect_cli_failure("LSTM_MAX_ISA=avx512 " + cli + bench + " --precision bf16", dir.path(),
                                  {"bf16", "LSTM_MAX_ISA", "avx512"});
}

// The kernels OpenBLAS runs (bench --json's and info --system's "blas"): its Haswell ones on AMD
// Zen 4, else its own choice; the cap's under LSTM_MAX_ISA; the user's under OPENBLAS_CORETYPE.
TEST(Cli, OpenBlasKernels) {
  const std::string bench =
      " bench --input-size 3 --hidden-size 4 --batch 2 --seq-len 2 --iters 1 --json";
  auto blas = [](const std::string& env, const std::string& args) {
    const CommandResult result = test_util::run_command(
        "env -u LSTM_MAX_ISA -u OPENBLAS_CORETYPE " + env + " " + cli + args);
    EXPECT_EQ(result.exit_code, 0) << result.err;
    return result.exit_code == 0 ? lstm::json_text::parse(result.out)["blas"].get<std::string>()
                                 : std::string();
  };
  const std::string plain = blas("", bench);
  if (test_util::zen4_from_cpuinfo()) {
    EXPECT_EQ(plain, "OpenBLAS Haswell (chosen for AMD Zen 4)");
  } else {
    EXPECT_NE(plain.find("(OpenBLAS's own choice)"), std::string::npos) << plain;
  }
  EXPECT_EQ(blas("", " info --system --json"), plain);
  EXPECT_EQ(blas("OPENBLAS_CORETYPE=Nehalem", bench), "OpenBLAS Nehalem (OPENBLAS_CORETYPE)");
  if (test_util::isa_from_cpuinfo() > lstm::Isa::avx2) {
    EXPECT_EQ(blas("LSTM_MAX_ISA=avx2", bench), "OpenBLAS Haswell (LSTM_MAX_ISA)");
  }
  if (test_util::isa_from_cpuinfo() > lstm::Isa::scalar) {
    EXPECT_EQ(blas("LSTM_MAX_ISA=scalar", bench), "OpenBLAS Nehalem (LSTM_MAX_ISA)");
  }
}

}  // namespace
