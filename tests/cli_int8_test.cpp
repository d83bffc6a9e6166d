// --precision int8 from the command line: a language model and a forecaster trained here lose at
// most 1% (bits per character, RMSE) under int8; generate, forecast and inspect gates run with
// it; every command that needs gradients refuses it with one line and no output file; info
// reports the model's size in int8.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>
#include <string>

#include "data/json_text.hpp"
#include "lstm/lstm.hpp"
#include "test_util.hpp"

namespace {

using test_util::CommandResult;
using test_util::shell_quote;

const std::string cli = shell_quote(LSTM_CLI_PATH);
const std::string kjv = shell_quote(std::string(LSTM_TEST_DATA_DIR) + "/../../data/kjv_genesis.txt");

CommandResult run(const std::string& args) { return test_util::run_command(cli + " " + args); }

nlohmann::json last_json(const std::string& text) {
  std::istringstream in(text);
  std::string line, last;
  while (std::getline(in, line))
    if (!line.empty()) last = line;
  return lstm::json_text::parse(last);
}

TEST(CliInt8, LanguageModel) {
  test_util::TempDir dir;
  const std::string model = shell_quote(dir.file("lm.safetensors"));
  const CommandResult trained = run("train --task charlm --data " + kjv + " --out " + model + " --hidden 48 --epochs 2 --threads 1");
  ASSERT_EQ(trained.exit_code, 0) << trained.err;

  const std::string eval = "eval --model " + model + " --data " + kjv;
  const CommandResult fp32 = run(eval), int8 = run(eval + " --precision int8");
  ASSERT_EQ(fp32.exit_code, 0) << fp32.err;
  ASSERT_EQ(int8.exit_code, 0) << int8.err;
  const double exact = last_json(fp32.out)["bits_per_char"], quantized = last_json(int8.out)["bits_per_char"];
  std::printf("bits per character: fp32 %.5f, int8 %.5f\n", exact, quantized);
  EXPECT_LT(quantized, exact * 1.01);
  EXPECT_NE(quantized, exact);  // int8 really ran

  const CommandResult generated = run("generate --model " + model + " --length 40 --precision int8");
  EXPECT_EQ(generated.exit_code, 0) << generated.err;
  EXPECT_GE(generated.out.size(), 40u);
  const CommandResult gates = run("inspect gates --model " + model + " --text 'In the beginning' --precision int8");
  EXPECT_EQ(gates.exit_code, 0) << gates.err;

  const CommandResult info = run("info --json " + model);
  ASSERT_EQ(info.exit_code, 0) << info.err;
  const nlohmann::json network = lstm::json_text::parse(info.out)["network"];
  const int64_t bytes_fp32 = network["bytes_fp32"], bytes_int8 = network["bytes_int8"];
  EXPECT_EQ(bytes_fp32, 4 * network["num_parameters"].get<int64_t>());
  EXPECT_LT(bytes_int8, bytes_fp32 / 2);  // the matrices' 4 bytes become 1 (and 8 per row)
  const CommandResult system = run("info --system --json");
  ASSERT_EQ(system.exit_code, 0) << system.err;
  EXPECT_NE(system.out.find("\"int8_kernel\""), std::string::npos);
}

TEST(CliInt8, Forecaster) {
  test_util::TempDir dir;
  const std::string data = dir.file("sales.csv"), model = shell_quote(dir.file("sales.safetensors"));
  test_util::write_monthly_series(data, 144);
  const CommandResult trained = run("train --task forecast --data " + shell_quote(data) + " --target sales --out " + model +
                                    " --hidden 16 --epochs 30 --threads 1");
  ASSERT_EQ(trained.exit_code, 0) << trained.err;

  const std::string eval = "eval --model " + model + " --data " + shell_quote(data);
  const CommandResult fp32 = run(eval), int8 = run(eval + " --precision int8");
  ASSERT_EQ(fp32.exit_code, 0) << fp32.err;
  ASSERT_EQ(int8.exit_code, 0) << int8.err;
  const double exact = last_json(fp32.out)["rmse"], quantized = last_json(int8.out)["rmse"];
  const double rolling_exact = last_json(fp32.out)["rolling"]["models"]["lstm"]["rmse"];
  const double rolling_quantized = last_json(int8.out)["rolling"]["models"]["lstm"]["rmse"];
  std::printf("RMSE: fp32 %.5f, int8 %.5f; rolling: fp32 %.5f, int8 %.5f\n", exact, quantized, rolling_exact,
              rolling_quantized);
  EXPECT_LT(quantized, exact * 1.01);
  EXPECT_LT(rolling_quantized, rolling_exact * 1.01);
  EXPECT_NE(quantized, exact);

  const std::string forecast = dir.file("forecast.csv");
  const CommandResult f = run("forecast --model " + model + " --data " + shell_quote(data) +
                              " --steps 6 --model-choice lstm --output " + shell_quote(forecast) + " --precision int8");
  EXPECT_EQ(f.exit_code, 0) << f.err;
  EXPECT_TRUE(std::filesystem::exists(forecast));
}

TEST(CliInt8, GradientsAreRefused) {
  test_util::TempDir work;
  test_util::expect_cli_failure(cli + " train --task charlm --data " + kjv + " --out " +
                                    shell_quote(work.file("m.safetensors")) + " --epochs 1 --precision int8",
                                work.path(), {"--precision int8", "lstm train"});
  test_util::expect_cli_failure(cli + " bench --mode train --precision int8 --hidden-size 8 --input-size 4", work.path(),
                                {"--precision int8", "--mode train"});
  test_util::expect_cli_failure(cli + " experiment adding --precision int8", work.path(),
                                {"--precision int8", "lstm experiment"});
  test_util::expect_cli_failure(cli + " forward --model m.safetensors --input x.npy --output " +
                                    shell_quote(work.file("y.npy")) + " --grads " + shell_quote(work.file("g.safetensors")) +
                                    " --grad-output dy.npy --precision int8",
                                work.path(), {"--precision int8", "--grads"});
}

}  // namespace
