// The lstm command's forecasting workflow run as a program: train on a dated CSV with a missing
// value, forecast N steps to CSV, eval's JSON line, and bad inputs (one line, no output file).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "lstm/lstm.hpp"
#include "test_util.hpp"

namespace {

namespace fs = std::filesystem;
using test_util::CommandResult;
using test_util::shell_quote;

const std::string cli = shell_quote(LSTM_CLI_PATH);

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> directory_entries(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

// Monthly dates from 2000-01-01, a seasonal series with a trend; row 10's value is missing.
void write_monthly(const std::string& path, int rows) {
  std::ofstream out(path);
  out << "date,sales,temp\n";
  for (int t = 0; t < rows; ++t) {
    char date[16];
    std::snprintf(date, sizeof date, "%04d-%02d-01", 2000 + t / 12, 1 + t % 12);
    out << date << ',';
    if (t == 10)
      out << "NA";
    else
      out << 100.0 + 10.0 * std::sin(2.0 * 3.14159265358979 * t / 12.0) + 0.2 * t;
    out << ',' << 15.0 + 5.0 * std::cos(2.0 * 3.14159265358979 * t / 12.0) << '\n';
  }
}

class CliForecast : public ::testing::Test {
 protected:
  test_util::TempDir dir;
  std::string series = dir.file("sales.csv");
  std::string model = dir.file("m.safetensors");
  void SetUp() override { write_monthly(series, 96); }

  CommandResult run(const std::string& args) const {
    return test_util::run_command(cli + " " + args);
  }
  std::string train_args(const std::string& data, const std::string& out) const {
    return "train --task forecast --data " + shell_quote(data) + " --target sales --out " +
           shell_quote(out) + " --epochs 4 --hidden 8 --threads 1";
  }
  void expect_failure(const std::string& args, const std::vector<std::string>& mentions) const {
    const std::vector<std::string> before = directory_entries(dir.path());
    const CommandResult result = run(args);
    EXPECT_NE(result.exit_code, 0) << args;
    EXPECT_TRUE(result.err.starts_with("lstm: ")) << result.err;
    EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
    for (const std::string& mention : mentions)
      EXPECT_NE(result.err.find(mention), std::string::npos)
          << "'" << mention << "' not in: " << result.err;
    EXPECT_EQ(directory_entries(dir.path()), before) << "files created or removed by: " << args;
  }
};

TEST_F(CliForecast, TrainForecastEval) {
  const CommandResult trained = run(train_args(series, model));
  ASSERT_EQ(trained.exit_code, 0) << trained.err;
  EXPECT_NE(trained.out.find("1 missing value(s) in 'sales'"), std::string::npos) << trained.out;
  EXPECT_NE(trained.out.find("epoch 1/4"), std::string::npos) << trained.out;  // not a terminal
  EXPECT_NE(trained.out.find("seasonal-naive 12"), std::string::npos) << trained.out;
  EXPECT_NE(trained.out.find("MASE"), std::string::npos) << trained.out;
  EXPECT_TRUE(fs::exists(model));
  EXPECT_FALSE(fs::exists(model + ".ckpt"));  // a finished run removes its default checkpoint

  const std::string out_csv = dir.file("out.csv");
  const CommandResult forecast =
      run("forecast --model " + shell_quote(model) + " --data " + shell_quote(series) +
          " --steps 7 --output " + shell_quote(out_csv));
  ASSERT_EQ(forecast.exit_code, 0) << forecast.err;
  std::ifstream in(out_csv);
  std::stringstream text;
  text << in.rdbuf();
  const std::vector<std::string> lines = lines_of(text.str());
  ASSERT_EQ(lines.size(), 8u) << text.str();
  EXPECT_EQ(lines[0], "date,sales");
  EXPECT_TRUE(lines[1].starts_with("2008-01-01,")) << lines[1];
  EXPECT_TRUE(lines[7].starts_with("2008-07-01,")) << lines[7];
  for (size_t k = 1; k < lines.size(); ++k) {
    const double value = std::stod(lines[k].substr(lines[k].find(',') + 1));
    EXPECT_TRUE(std::isfinite(value) && value > 50 && value < 200) << lines[k];
  }

  const CommandResult eval =
      run("eval --model " + shell_quote(model) + " --data " + shell_quote(series));
  ASSERT_EQ(eval.exit_code, 0) << eval.err;
  const std::vector<std::string> eval_lines = lines_of(eval.out);
  ASSERT_FALSE(eval_lines.empty());
  const nlohmann::json metrics = nlohmann::json::parse(eval_lines.back());
  EXPECT_TRUE(metrics.at("rmse").is_number());
  EXPECT_TRUE(metrics.at("mae").is_number());
  EXPECT_TRUE(metrics.at("mase").is_number());
  EXPECT_EQ(metrics.at("count").get<int>(), 96 - metrics.at("window").get<int>());
  EXPECT_TRUE(metrics.at("seasonal_naive").is_object());
}

TEST_F(CliForecast, TimeLimitKeepsCheckpointAndResumeContinues) {
  const CommandResult first = run(train_args(series, model) + " --time-limit 0.000001 --quiet");
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(first.out, "");
  EXPECT_TRUE(fs::exists(model));
  ASSERT_TRUE(fs::exists(model + ".ckpt"));
  // Resuming with other options is an error that leaves the checkpoint alone.
  const CommandResult mismatch = run(train_args(series, model) + " --resume --window 13");
  EXPECT_NE(mismatch.exit_code, 0);
  EXPECT_NE(mismatch.err.find("other data or options"), std::string::npos) << mismatch.err;
  ASSERT_TRUE(fs::exists(model + ".ckpt"));
  const CommandResult resumed = run(train_args(series, model) + " --resume");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.out.find("epoch 2/4"), std::string::npos) << resumed.out;
  EXPECT_EQ(resumed.out.find("epoch 1/4"), std::string::npos) << resumed.out;
  EXPECT_FALSE(fs::exists(model + ".ckpt"));

  // The same run uninterrupted writes the same bytes (deterministic for a seed and thread count).
  const std::string straight = dir.file("straight.safetensors");
  ASSERT_EQ(run(train_args(series, straight) + " --quiet").exit_code, 0);
  EXPECT_EQ(slurp(straight), slurp(model));
}

TEST_F(CliForecast, BadInputs) {
  const std::string out = dir.file("never.safetensors");
  expect_failure("train --task forecast --data " + shell_quote(series) + " --target nope --out " +
                     shell_quote(out),
                 {series, "nope"});
  const std::string header_only = dir.file("header.csv");
  std::ofstream(header_only) << "date,sales\n";
  expect_failure(train_args(header_only, out), {header_only});
  const std::string short_series = dir.file("short.csv");
  write_monthly(short_series, 30);
  expect_failure(train_args(short_series, out) + " --window 40", {short_series, "window"});
  const std::string unwritable = dir.file("missing_dir/m.safetensors");
  expect_failure(train_args(series, unwritable), {unwritable});
  expect_failure("forecast --model " + shell_quote(dir.file("absent.safetensors")) + " --data " +
                     shell_quote(series) + " --steps 3 --output " + shell_quote(dir.file("o.csv")),
                 {"absent.safetensors"});
  fs::remove(header_only);
  fs::remove(short_series);
}

}  // namespace
