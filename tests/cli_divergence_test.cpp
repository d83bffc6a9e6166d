// Divergence and overflowing statistics through the CLI, for both tasks: a learning rate far too
// large stops `lstm train` with one line naming the epoch and batch, exit 1, the best model so
// far (or none) and the last good checkpoint untouched; a series near 1e308 trains to finite
// numbers; a value that cannot be normalised is refused naming its column and row.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <numbers>
#include <string>

#include "data/json_text.hpp"
#include "lstm/lstm.hpp"
#include "test_util.hpp"

namespace {

using test_util::shell_quote;

const std::string cli = shell_quote(LSTM_CLI_PATH);

void write_sine(const std::string& path, double amplitude, int rows = 200) {
  std::ofstream out(path);
  out.precision(17);
  out << "t,y\n";
  for (int t = 0; t < rows; ++t)
    out << t << ',' << amplitude * (0.5 + 0.4 * std::sin(2.0 * std::numbers::pi * t / 25.0))
        << '\n';
}

void write_words(const std::string& path) {
  const char* words[] = {"the", "lord", "said", "unto", "moses", "and", "people", "went"};
  std::ofstream out(path);
  for (int k = 0; k < 3000; ++k) out << words[(k * 7 + k / 5) % 8] << ' ';
}

std::string forecast_train(const std::string& data, const std::string& out) {
  return cli + " train --task forecast --data " + shell_quote(data) + " --target y --out " +
         shell_quote(out) + " --hidden 8 --window 20 --threads 1 --quiet --seed 2";
}

std::string charlm_train(const std::string& data, const std::string& out) {
  return cli + " train --task charlm --data " + shell_quote(data) + " --out " + shell_quote(out) +
         " --hidden 16 --embedding 8 --window 20 --threads 1 --quiet --seed 2";
}

bool all_finite(const std::string& path) {
  for (const auto& [name, tensor] : lstm::read_safetensors(path).tensors)
    for (float value : tensor.data)
      if (!std::isfinite(value)) return false;
  return true;
}

// From scratch at `lr`: diverges in the first epoch, writes nothing at all.
void expect_divergence_without_model(const std::string& train, const test_util::TempDir& dir,
                                     const std::string& lr) {
  test_util::expect_cli_failure(train + " --epochs 3 --lr " + lr, dir.path(),
                                {"training diverged", "at epoch 1, batch ", "no model written"});
}

// Two good epochs with a kept checkpoint, then resumed to 4 epochs at `lr`: diverges in epoch
// 3, writes the best model of epochs 1-2 (finite), leaves the checkpoint byte for byte.
void expect_divergence_keeping_best(const std::string& train, const test_util::TempDir& dir,
                                    const std::string& lr) {
  const std::string model = dir.file("model.safetensors"), checkpoint = dir.file("run.ckpt");
  const std::string command = train + " --checkpoint " + shell_quote(checkpoint);
  const test_util::CommandResult first = test_util::run_command(command + " --epochs 2");
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const std::string good = test_util::read_file(checkpoint);
  std::filesystem::remove(model);
  const test_util::CommandResult result =
      test_util::run_command(command + " --epochs 4 --resume --lr " + lr);
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(test_util::lines_of(result.err).size(), 1u) << result.err;
  EXPECT_NE(result.err.find("training diverged"), std::string::npos) << result.err;
  EXPECT_TRUE(result.err.find("at epoch 3, batch") != std::string::npos ||
              result.err.find("after epoch 3") != std::string::npos)
      << result.err;
  EXPECT_NE(result.err.find("written to " + model), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("last good checkpoint kept in " + checkpoint), std::string::npos)
      << result.err;
  ASSERT_TRUE(std::filesystem::exists(model));
  EXPECT_TRUE(all_finite(model));
  EXPECT_EQ(test_util::read_file(checkpoint), good);
  EXPECT_EQ(test_util::directory_entries(dir.path()).size(), 3u);  // data, model, checkpoint
}

TEST(CliDivergence, ForecastHugeLearningRateWritesNoModel) {
  test_util::TempDir dir;
  const std::string data = dir.file("s.csv");
  write_sine(data, 1.0);
  expect_divergence_without_model(forecast_train(data, dir.file("m.safetensors")), dir, "1e30");
}

TEST(CliDivergence, ForecastDivergingAfterGoodEpochsKeepsTheBest) {
  test_util::TempDir dir;
  const std::string data = dir.file("s.csv");
  write_sine(data, 1.0);
  expect_divergence_keeping_best(forecast_train(data, dir.file("model.safetensors")), dir, "1e30");
}

TEST(CliDivergence, CharlmHugeLearningRateWritesNoModel) {
  test_util::TempDir dir;
  const std::string data = dir.file("t.txt");
  write_words(data);
  expect_divergence_without_model(charlm_train(data, dir.file("m.safetensors")), dir, "1e38");
}

TEST(CliDivergence, CharlmDivergingAfterGoodEpochsKeepsTheBest) {
  test_util::TempDir dir;
  const std::string data = dir.file("t.txt");
  write_words(data);
  expect_divergence_keeping_best(charlm_train(data, dir.file("model.safetensors")), dir, "1e38");
}

TEST(CliDivergence, SkipPolicyStillStopsOnANonFiniteValidationLoss) {
  test_util::TempDir dir;
  const std::string data = dir.file("s.csv");
  write_sine(data, 1.0);
  test_util::expect_cli_failure(
      forecast_train(data, dir.file("m.safetensors")) + " --epochs 3 --lr 1e30 --on-nan skip",
      dir.path(), {"training diverged", "validation loss is"});
}

TEST(CliOverflow, SeriesNear1e308TrainsEvaluatesAndForecastsFinitely) {
  test_util::TempDir dir;
  const std::string data = dir.file("big.csv"), model = dir.file("big.safetensors");
  write_sine(data, 1.7e308);  // values 1.7e307 .. 1.5e308
  const test_util::CommandResult train =
      test_util::run_command(forecast_train(data, model) + " --epochs 2");
  ASSERT_EQ(train.exit_code, 0) << train.err;
  EXPECT_TRUE(all_finite(model));
  const test_util::CommandResult eval = test_util::run_command(
      cli + " eval --model " + shell_quote(model) + " --data " + shell_quote(data));
  ASSERT_EQ(eval.exit_code, 0) << eval.err;
  const nlohmann::json scores = lstm::json_text::parse(test_util::lines_of(eval.out).back());
  for (const char* key : {"rmse", "mae", "mase"}) {
    EXPECT_TRUE(std::isfinite(scores[key].get<double>())) << key;
    EXPECT_TRUE(std::isfinite(scores["naive"][key].get<double>())) << key;
  }
  // The naive baseline's error is within the data's range, 1e307 .. 1e308 (not 0, not inf).
  EXPECT_GT(scores["naive"]["rmse"].get<double>(), 1e305);
  const std::string out = dir.file("f.csv");
  const test_util::CommandResult forecast =
      test_util::run_command(cli + " forecast --model " + shell_quote(model) + " --data " +
                             shell_quote(data) + " --steps 5 --output " + shell_quote(out));
  ASSERT_EQ(forecast.exit_code, 0) << forecast.err;
  const std::vector<std::string> rows = test_util::lines_of(test_util::read_file(out));
  ASSERT_EQ(rows.size(), 6u);
  for (size_t k = 1; k < rows.size(); ++k) {
    const double value = std::stod(rows[k].substr(rows[k].find(',') + 1));
    EXPECT_TRUE(std::isfinite(value) && value > 1e306) << rows[k];
  }
}

TEST(CliOverflow, ConstantHugeFeatureTrains) {
  test_util::TempDir dir;
  const std::string data = dir.file("c.csv");
  {
    std::ofstream out(data);
    out << "t,y,c\n";
    for (int t = 0; t < 200; ++t) out << t << ',' << std::sin(t / 5.0) << ",1.7e308\n";
  }
  const test_util::CommandResult train = test_util::run_command(
      forecast_train(data, dir.file("m.safetensors")) + " --features c --epochs 1");
  EXPECT_EQ(train.exit_code, 0) << train.err;
}

TEST(CliOverflow, ValueBeyondNormalisingIsRefusedNamingColumnAndRow) {
  test_util::TempDir dir;
  const std::string data = dir.file("s.csv");
  write_sine(data, 1.0);
  {
    std::ofstream out(data, std::ios::app);  // rows 201..210, the last in validation
    for (int t = 200; t < 209; ++t) out << t << ",0.5\n";
    out << "209,1e300\n";
  }
  // (--log-target 0: the logarithm, on by default for this positive seasonal series, would
  // bring 1e300 down to 690.8, which normalises.)
  test_util::expect_cli_failure(
      forecast_train(data, dir.file("m.safetensors")) + " --epochs 1 --log-target 0", dir.path(),
      {data, "column 'y'", "data row 210", "1e+300"});
}

}  // namespace
