// The lstm command's forecasting workflow run as a program: train on a dated CSV with a missing
// value, forecast N steps to CSV, eval's JSON line, the same with a direct multi-horizon model,
// forecast --report and eval --report against the CSV and the JSON, and every kind of bad input
// to train, forecast and eval (one line naming the file, no output).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "data/json_text.hpp"
#include "lstm/lstm.hpp"
#include "test_util.hpp"

namespace {

namespace fs = std::filesystem;
using test_util::CommandResult;
using test_util::row_cells;
using test_util::shell_quote;

const std::string cli = shell_quote(LSTM_CLI_PATH);

class CliForecast : public ::testing::Test {
 protected:
  test_util::TempDir dir;
  std::string series = dir.file("sales.csv");
  std::string model = dir.file("m.safetensors");
  void SetUp() override { test_util::write_monthly_series(series, 96, 10); }  // row 10 missing

  CommandResult run(const std::string& args) const {
    return test_util::run_command(cli + " " + args);
  }
  std::string train_args(const std::string& data, const std::string& out) const {
    return "train --task forecast --data " + shell_quote(data) + " --target sales --out " +
           shell_quote(out) + " --epochs 4 --hidden 8 --threads 1";
  }
  void expect_failure(const std::string& args, const std::vector<std::string>& mentions) const {
    test_util::expect_cli_failure(cli + " " + args, dir.path(), mentions);
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
  const std::vector<std::string> lines = test_util::lines_of(text.str());
  ASSERT_EQ(lines.size(), 8u) << text.str();
  EXPECT_EQ(lines[0], "date,sales,lower,upper,model");
  EXPECT_TRUE(lines[1].starts_with("2008-01-01,")) << lines[1];
  EXPECT_TRUE(lines[7].starts_with("2008-07-01,")) << lines[7];
  for (size_t k = 1; k < lines.size(); ++k) {
    const double value = std::stod(lines[k].substr(lines[k].find(',') + 1));
    EXPECT_TRUE(std::isfinite(value) && value > 50 && value < 200) << lines[k];
  }

  const CommandResult eval =
      run("eval --model " + shell_quote(model) + " --data " + shell_quote(series));
  ASSERT_EQ(eval.exit_code, 0) << eval.err;
  const std::vector<std::string> eval_lines = test_util::lines_of(eval.out);
  ASSERT_FALSE(eval_lines.empty());
  const nlohmann::json metrics = lstm::json_text::parse(eval_lines.back());
  EXPECT_TRUE(metrics.at("rmse").is_number());
  EXPECT_TRUE(metrics.at("mae").is_number());
  EXPECT_TRUE(metrics.at("mase").is_number());
  // By default a direct model at the monthly M4 horizon, 18: origins × horizons.
  const int horizon = metrics.at("horizon").get<int>();
  EXPECT_EQ(horizon, 18);
  EXPECT_EQ(metrics.at("count").get<int>(),
            (96 - metrics.at("window").get<int>() - horizon + 1) * horizon);
  EXPECT_TRUE(metrics.at("seasonal_naive").is_object());
}

// The CSV's rows after the header, split into fields.
std::vector<std::vector<std::string>> csv_rows(const std::string& path) {
  std::vector<std::vector<std::string>> rows;
  const std::vector<std::string> lines = test_util::lines_of(test_util::read_file(path));
  for (size_t k = 1; k < lines.size(); ++k) {
    std::vector<std::string> fields;
    std::string field;
    bool quoted = false;
    for (char ch : lines[k]) {
      if (ch == '"') quoted = !quoted;
      else if (ch == ',' && !quoted) fields.push_back(std::exchange(field, ""));
      else field += ch;
    }
    fields.push_back(field);
    rows.push_back(fields);
  }
  return rows;
}

// A barely trained network (4 epochs, 8 units) on a noiseless seasonal series with a trend:
// Holt-Winters forecasts it almost exactly, so validation says the network is beaten; forecast
// says so on stderr, combines or picks by validation, names the model in every row and writes
// an interval; --model-choice lstm keeps the network's numbers. eval scores the same way. With
// the default 20% (19 rows) too short for 3 origins of 18 steps, the network is not compared.
TEST_F(CliForecast, ModelChoiceIntervalsAndRollingEvaluation) {
  const CommandResult short_validation = run(train_args(series, model));
  ASSERT_EQ(short_validation.exit_code, 0) << short_validation.err;
  EXPECT_NE(short_validation.err.find("scored from origins it was trained on"), std::string::npos)
      << short_validation.err;
  const CommandResult unvalidated =
      run("eval --model " + shell_quote(model) + " --data " + shell_quote(series));
  ASSERT_EQ(unvalidated.exit_code, 0) << unvalidated.err;
  const nlohmann::json unvalidated_json =
      lstm::json_text::parse(test_util::lines_of(unvalidated.out).back())["rolling"];
  EXPECT_FALSE(unvalidated_json.at("lstm_validated").get<bool>());
  EXPECT_FALSE(unvalidated_json.at("lstm_beaten").get<bool>());

  const std::string report = dir.file("report.html");
  const CommandResult trained =
      run(train_args(series, model) + " --validation 0.35 --report " + shell_quote(report));
  ASSERT_EQ(trained.exit_code, 0) << trained.err;
  EXPECT_NE(trained.out.find("validation of 18-step forecasts"), std::string::npos) << trained.out;
  const std::string html = test_util::read_file(report);
  for (const char* part : {"The forecast and its validation at 18 steps", "lower 80%",
                           "Rolling-origin validation at 18 steps", "chosen"})
    EXPECT_NE(html.find(part), std::string::npos) << part;
  EXPECT_NE(trained.out.find("holt-winters-additive"), std::string::npos) << trained.out;
  EXPECT_NE(trained.err.find("beats the LSTM"), std::string::npos) << trained.err;

  const std::string out_csv = dir.file("out.csv");
  const std::string forecast = "forecast --model " + shell_quote(model) + " --data " +
                               shell_quote(series) + " --steps 12 --output " +
                               shell_quote(out_csv);
  const CommandResult combined = run(forecast);
  ASSERT_EQ(combined.exit_code, 0) << combined.err;
  EXPECT_NE(combined.out.find("validation of 12-step forecasts from"), std::string::npos);
  EXPECT_NE(combined.err.find("WARNING"), std::string::npos) << combined.err;
  EXPECT_NE(combined.err.find("beats the LSTM"), std::string::npos) << combined.err;
  std::vector<std::vector<std::string>> rows = csv_rows(out_csv);
  ASSERT_EQ(rows.size(), 12u);
  for (const auto& row : rows) {
    ASSERT_EQ(row.size(), 5u);
    EXPECT_TRUE(row[4].starts_with("combine(")) << row[4];
    EXPECT_LE(std::stod(row[2]), std::stod(row[3]));
  }

  ASSERT_EQ(run(forecast + " --model-choice best").exit_code, 0);
  rows = csv_rows(out_csv);
  std::vector<double> width_80;
  for (size_t k = 0; k < rows.size(); ++k) {
    EXPECT_NE(rows[k][4], "lstm");
    // The truth after the 96 rows, as write_monthly_series makes it.
    const double t = 96.0 + static_cast<double>(k);
    const double truth = 100.0 + 10.0 * std::sin(2.0 * 3.14159265358979 * t / 12.0) + 0.2 * t;
    EXPECT_NEAR(std::stod(rows[k][1]), truth, 1.0) << rows[k][0];
    width_80.push_back(std::stod(rows[k][3]) - std::stod(rows[k][2]));
  }
  ASSERT_EQ(run(forecast + " --model-choice best --interval 0.5").exit_code, 0);
  rows = csv_rows(out_csv);
  for (size_t k = 0; k < rows.size(); ++k)
    EXPECT_LE(std::stod(rows[k][3]) - std::stod(rows[k][2]), width_80[k] + 1e-9);

  const CommandResult network = run(forecast + " --model-choice lstm");
  ASSERT_EQ(network.exit_code, 0) << network.err;
  EXPECT_NE(network.err.find("as --model-choice lstm asks"), std::string::npos) << network.err;
  for (const auto& row : csv_rows(out_csv)) EXPECT_EQ(row[4], "lstm");

  fs::remove(out_csv);
  for (const std::string bad : {" --model-choice worst", " --interval 1.5"}) {
    const CommandResult rejected = run(forecast + bad);
    EXPECT_NE(rejected.exit_code, 0) << bad;
    EXPECT_FALSE(fs::exists(out_csv)) << bad;
  }

  const std::string eval = "eval --model " + shell_quote(model) + " --data " + shell_quote(series);
  const CommandResult scored = run(eval);
  ASSERT_EQ(scored.exit_code, 0) << scored.err;
  const nlohmann::json rolling =
      lstm::json_text::parse(test_util::lines_of(scored.out).back())["rolling"];
  EXPECT_EQ(rolling.at("horizon").get<int>(), 18);  // monthly: M4's horizon
  for (const char* name : {"lstm", "naive", "seasonal-naive", "ses", "holt", "damped",
                           "holt-winters-additive", "holt-winters-multiplicative",
                           "holt-winters-damped", "seasonal-smoothing-additive",
                           "seasonal-smoothing-multiplicative", "theta", "comb", "arima"})
    EXPECT_TRUE(rolling.at("models").at(name).at("mase").is_number()) << name;
  EXPECT_NE(rolling.at("best").get<std::string>(), "lstm");
  EXPECT_TRUE(rolling.at("lstm_beaten").get<bool>());
  EXPECT_TRUE(rolling.at("lstm_validated").get<bool>());
  const CommandResult three = run(eval + " --horizon 3");
  ASSERT_EQ(three.exit_code, 0) << three.err;
  EXPECT_EQ(lstm::json_text::parse(test_util::lines_of(three.out).back())["rolling"]["horizon"], 3);
  expect_failure(eval + " --window 50", {model, "--window is for language models"});
  expect_failure(eval + " --horizon 90", {series, "too short to evaluate 90-step forecasts"});
}

size_t count_of(const std::string& text, const std::string& part) {
  size_t count = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++count;
  return count;
}

std::string decimals(const nlohmann::json& value, int digits) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", digits, value.get<double>());
  return text;
}

// forecast --report holds what forecast wrote: the model named in the CSV's rows is the chosen one
// in the rolling-origin table (its members marked when it is a mean), the chart's forecast line,
// and the table of values equals the CSV's numbers. eval --report's tables are eval's JSON.
TEST_F(CliForecast, ForecastAndEvalReports) {
  ASSERT_EQ(run(train_args(series, model) + " --validation 0.35").exit_code, 0);
  const std::string out_csv = dir.file("out.csv"), report = dir.file("forecast.html");
  const CommandResult forecast =
      run("forecast --model " + shell_quote(model) + " --data " + shell_quote(series) +
          " --steps 12 --output " + shell_quote(out_csv) + " --report " + shell_quote(report));
  ASSERT_EQ(forecast.exit_code, 0) << forecast.err;
  const std::string html = test_util::read_file(report);
  const std::vector<std::vector<std::string>> rows = csv_rows(out_csv);
  ASSERT_EQ(rows.size(), 12u);
  const std::string chosen = rows[0][4];
  EXPECT_NE(html.find("forecast: " + chosen), std::string::npos) << chosen;
  EXPECT_EQ(count_of(html, "<svg"), 1u);
  const size_t rolling = html.find("Rolling-origin validation at 12 steps");
  ASSERT_NE(rolling, std::string::npos);
  const std::vector<std::string> chosen_row = row_cells(html, chosen, rolling);
  ASSERT_EQ(chosen_row.size(), 5u) << chosen;
  EXPECT_EQ(chosen_row[4], "chosen");
  if (chosen.starts_with("combine(")) {  // "combine(a, b, c)": each member marked
    std::string members = chosen.substr(8, chosen.size() - 9);
    for (size_t comma; !members.empty();
         members = comma == std::string::npos ? "" : members.substr(comma + 2)) {
      comma = members.find(", ");
      const std::string member = members.substr(0, comma);
      const std::vector<std::string> cells = row_cells(html, member, rolling);
      ASSERT_EQ(cells.size(), 5u) << member;
      EXPECT_NE(cells[4].find("in the chosen mean"), std::string::npos) << member;
    }
  }
  // The values written: date, forecast, lower, upper as in the CSV (8 significant digits).
  const size_t values = html.find("The forecast written, by " + chosen);
  ASSERT_NE(values, std::string::npos);
  for (const std::vector<std::string>& row : rows) {
    EXPECT_EQ(row[4], chosen);
    const std::vector<std::string> cells = row_cells(html, row[0], values);
    ASSERT_EQ(cells.size(), 4u) << row[0];
    for (size_t k = 1; k < 4; ++k)
      EXPECT_NEAR(std::stod(cells[k]), std::stod(row[k]), 1e-7 * std::abs(std::stod(row[k])))
          << row[0] << " column " << k;
  }

  const std::string eval_report = dir.file("eval.html");
  const CommandResult eval = run("eval --model " + shell_quote(model) + " --data " +
                                 shell_quote(series) + " --report " + shell_quote(eval_report));
  ASSERT_EQ(eval.exit_code, 0) << eval.err;
  const nlohmann::json json = lstm::json_text::parse(test_util::lines_of(eval.out).back());
  const std::string eval_html = test_util::read_file(eval_report);
  // The errors over the file: the model's and naive's, then every model's rolling-origin scores.
  const std::vector<std::string> model_row = row_cells(eval_html, "model");
  ASSERT_EQ(model_row.size(), 4u);
  EXPECT_EQ(model_row[1], decimals(json.at("rmse"), 4));
  EXPECT_EQ(model_row[2], decimals(json.at("mae"), 4));
  EXPECT_EQ(model_row[3], decimals(json.at("mase"), 3));
  EXPECT_EQ(row_cells(eval_html, "naive").at(3), decimals(json.at("naive").at("mase"), 3));
  const nlohmann::json& scores = json.at("rolling");
  const size_t eval_rolling = eval_html.find(
      "Rolling-origin validation at " + std::to_string(scores.at("horizon").get<int>()) + " steps");
  ASSERT_NE(eval_rolling, std::string::npos);
  for (const auto& [name, one] : scores.at("models").items()) {
    const std::vector<std::string> cells = row_cells(eval_html, name, eval_rolling);
    ASSERT_EQ(cells.size(), 5u) << name;
    EXPECT_EQ(cells[1], decimals(one.at("mase"), 3)) << name;
    EXPECT_EQ(cells[2], decimals(one.at("smape"), 2)) << name;
  }
  // The validation part, then the forecast after the last row.
  EXPECT_EQ(count_of(eval_html, "<svg"), 2u);
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
  EXPECT_NE(mismatch.err.find("cannot resume: --window is 13 but was "), std::string::npos)
      << mismatch.err;
  ASSERT_TRUE(fs::exists(model + ".ckpt"));
  const CommandResult resumed = run(train_args(series, model) + " --resume");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.out.find("epoch 4/4"), std::string::npos) << resumed.out;
  EXPECT_FALSE(fs::exists(model + ".ckpt"));

  // The same run uninterrupted writes the same bytes (deterministic for a seed and thread count).
  const std::string straight = dir.file("straight.safetensors");
  ASSERT_EQ(run(train_args(series, straight) + " --quiet").exit_code, 0);
  EXPECT_EQ(test_util::read_file(straight), test_util::read_file(model));
}

TEST_F(CliForecast, DirectModelForecastsItsHorizonAtOnce) {
  const CommandResult trained = run(train_args(series, model) + " --horizon 6 --features temp");
  ASSERT_EQ(trained.exit_code, 0) << trained.err;
  EXPECT_NE(trained.out.find("origins x horizons 1..6"), std::string::npos) << trained.out;
  EXPECT_NE(trained.out.find("val_rmse"), std::string::npos) << trained.out;  // target outputs
  EXPECT_NE(trained.out.find("seasonal-naive 12"), std::string::npos) << trained.out;

  const std::string out_csv = dir.file("out.csv");
  const std::string forecast = "forecast --model " + shell_quote(model) + " --data " +
                               shell_quote(series) + " --output " + shell_quote(out_csv);
  const CommandResult four = run(forecast + " --steps 4");
  ASSERT_EQ(four.exit_code, 0) << four.err;
  const std::vector<std::string> lines = test_util::lines_of(test_util::read_file(out_csv));
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[0], "date,sales,lower,upper,model");
  EXPECT_TRUE(lines[4].starts_with("2008-04-01,")) << lines[4];
  ASSERT_EQ(run(forecast + " --steps 6").exit_code, 0);
  EXPECT_EQ(test_util::lines_of(test_util::read_file(out_csv)).size(), 7u);
  fs::remove(out_csv);
  expect_failure(forecast + " --steps 7", {"--steps 7", "--horizon 6"});

  const CommandResult eval =
      run("eval --model " + shell_quote(model) + " --data " + shell_quote(series));
  ASSERT_EQ(eval.exit_code, 0) << eval.err;
  const nlohmann::json metrics = lstm::json_text::parse(test_util::lines_of(eval.out).back());
  EXPECT_EQ(metrics.at("horizon").get<int>(), 6);
  const int origins = 96 - metrics.at("window").get<int>() - 6 + 1;
  EXPECT_EQ(metrics.at("count").get<int>(), origins * 6);
  EXPECT_EQ(metrics.at("naive").at("count").get<int>(), origins * 6);
  EXPECT_EQ(metrics.at("seasonal_naive").at("count").get<int>(), origins * 6);
}

// A CSV file given as --data that is not a usable series, and what its message must name.
struct BadData {
  std::string name, bytes;
  std::vector<std::string> mentions;  // besides the path
};

std::vector<BadData> bad_data_files() {
  std::string noise;  // bytes of a linear congruential generator, NUL bytes included
  uint32_t state = 12345;
  for (int k = 0; k < 600; ++k) {
    state = state * 1664525u + 1013904223u;
    noise += static_cast<char>(state >> 24);
  }
  std::string no_nul = noise;  // the same without NUL bytes: not UTF-8 instead
  std::replace(no_nul.begin(), no_nul.end(), '\0', '\xff');
  const std::string png("\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10", 20);
  std::string text_cell = "date,sales\n";
  for (int t = 0; t < 40; ++t)
    text_cell += "2000-01-" + std::to_string(10 + t % 10) + "," + (t == 3 ? "abc" : "1") + "\n";
  return {
      {"empty.csv", "", {"empty file"}},
      {"header.csv", "date,sales\n", {"line 1", "no data rows"}},
      {"ragged.csv", "date,sales\n2000-01-01,1\n2000-02-01,2,3\n", {"line 3", "3 fields"}},
      {"text.csv", text_cell, {"line 5", "'abc' is not a number"}},
      {"other_columns.csv", "date,revenue\n2000-01-01,1\n", {"no column 'sales'", "'revenue'"}},
      {"all_missing.csv", "date,sales\n2000-01-01,NA\n2000-02-01,\n", {"'sales' has no values"}},
      {"quote.csv", "date,sales\n2000-01-01,1\n2000-02-01,\"2\n", {"line 3", "never closed"}},
      {"twice.csv", "date,sales,sales\n2000-01-01,1,2\n", {"line 1", "appears twice"}},
      {"unordered.csv", "date,sales\n2000-02-01,1\n2000-01-01,2\n", {"line 3", "not after"}},
      {"two_forms.csv", "date,sales\n2000-01-01,1\n2000/02/01,2\n", {"line 3", "not a date"}},
      {"noise.csv", noise, {"NUL byte at byte", "not a CSV text"}},
      {"noise_no_nul.csv", no_nul, {"invalid UTF-8 at byte", "not a UTF-8 text"}},
      {"image.png", png, {"NUL byte at byte 8 (line 3)"}},
      {"nul.csv",
       std::string("date,sales\n2000-01-01,1\0\n", 25),
       {"NUL byte at byte 23 (line 2)"}},
  };
}

TEST_F(CliForecast, BadDataFilesForEveryCommand) {
  ASSERT_EQ(run(train_args(series, model)).exit_code, 0);
  const std::string out = dir.file("never.safetensors"), out_csv = dir.file("never.csv");
  for (const BadData& bad : bad_data_files()) {
    SCOPED_TRACE(bad.name);
    const std::string path = dir.file(bad.name);
    std::ofstream(path, std::ios::binary) << bad.bytes;
    std::vector<std::string> mentions = bad.mentions;
    mentions.push_back(path);
    expect_failure(train_args(path, out), mentions);
    expect_failure("forecast --model " + shell_quote(model) + " --data " + shell_quote(path) +
                       " --steps 3 --output " + shell_quote(out_csv),
                   mentions);
    expect_failure("eval --model " + shell_quote(model) + " --data " + shell_quote(path), mentions);
    fs::remove(path);
  }
}

TEST_F(CliForecast, BadSeriesForTheTaskOrTheModel) {
  const std::string out = dir.file("never.safetensors"), out_csv = dir.file("never.csv");
  expect_failure("train --task forecast --data " + shell_quote(series) + " --target nope --out " +
                     shell_quote(out),
                 {series, "no column 'nope'", "'sales'"});
  const std::string short_series = dir.file("short.csv");
  test_util::write_monthly_series(short_series, 30, 10);
  expect_failure(train_args(short_series, out) + " --window 40", {short_series, "window of 40"});
  expect_failure(train_args(series, out) + " --horizon 30", {series, "horizon of 30"});
  expect_failure(train_args(dir.path().string(), out), {dir.path().string(), "directory"});
  expect_failure(train_args(dir.file("absent.csv"), out), {dir.file("absent.csv")});

  // The model's window is 24 rows (twice the season of 12): 20 rows are too few to forecast
  // from, and leave nothing to evaluate.
  ASSERT_EQ(run(train_args(series, model)).exit_code, 0);
  test_util::write_monthly_series(short_series, 20, 10);
  expect_failure("forecast --model " + shell_quote(model) + " --data " + shell_quote(short_series) +
                     " --steps 3 --output " + shell_quote(out_csv),
                 {short_series, "fewer than the model's window of 24"});
  expect_failure("eval --model " + shell_quote(model) + " --data " + shell_quote(short_series),
                 {short_series, "window of 24"});
  test_util::write_monthly_series(short_series, 24, 10);
  expect_failure("eval --model " + shell_quote(model) + " --data " + shell_quote(short_series),
                 {short_series, "no row to forecast after a window of 24"});
  fs::remove(short_series);
}

TEST_F(CliForecast, BadModelFiles) {
  ASSERT_EQ(run(train_args(series, model)).exit_code, 0);
  const std::string bytes = test_util::read_file(model);
  const std::string garbage = std::string(4096, '\x5a');
  const std::string bare_network =
      std::string(LSTM_TEST_DATA_DIR) + "/../../examples/data/demo_lstm.safetensors";
  // A sequence model without the forecast metadata.
  lstm::SequenceModelConfig config;
  config.rnn.input_size = 1;
  config.rnn.hidden_size = 4;
  config.output_size = 1;
  config.head_mode = lstm::HeadMode::last_step;
  const std::string other_model = dir.file("other.safetensors");
  lstm::save_sequence_model(other_model, lstm::SequenceModel(config));
  struct BadModel {
    std::string path, bytes;  // bytes written to path unless empty
    std::vector<std::string> mentions;
  };
  const std::vector<BadModel> models = {
      {series, "", {"header length"}},  // a CSV file given as the model
      {dir.file("garbage.safetensors"), garbage, {}},
      {dir.file("empty.safetensors"), " ", {"too short"}},
      {dir.file("truncated.safetensors"), bytes.substr(0, bytes.size() / 2), {}},
      {bare_network, "", {"unexpected tensor 'bias_hh_l0'"}},
      {other_model, "", {"not a forecast model"}},
      {dir.file("absent.safetensors"), "", {}},
  };
  const std::string out_csv = dir.file("never.csv");
  for (const BadModel& bad : models) {
    SCOPED_TRACE(bad.path);
    if (!bad.bytes.empty()) std::ofstream(bad.path, std::ios::binary) << bad.bytes;
    std::vector<std::string> mentions = bad.mentions;
    mentions.push_back(bad.path);
    expect_failure("forecast --model " + shell_quote(bad.path) + " --data " + shell_quote(series) +
                       " --steps 3 --output " + shell_quote(out_csv),
                   mentions);
    expect_failure("eval --model " + shell_quote(bad.path) + " --data " + shell_quote(series),
                   mentions);
    if (!bad.bytes.empty()) fs::remove(bad.path);
  }
}

TEST_F(CliForecast, UnwritableOutputs) {
  // Root may write anywhere, so: a path below a regular file, and a directory as the file.
  const std::string file_as_dir = series + "/m.safetensors";
  const std::string directory = dir.path().string();
  expect_failure(train_args(series, file_as_dir), {file_as_dir});
  expect_failure(train_args(series, directory), {directory, "is a directory"});
  expect_failure(train_args(series, model) + " --checkpoint " + shell_quote(file_as_dir),
                 {file_as_dir});
  ASSERT_EQ(run(train_args(series, model)).exit_code, 0);
  const std::string forecast =
      "forecast --model " + shell_quote(model) + " --data " + shell_quote(series) + " --steps 3";
  expect_failure(forecast + " --output " + shell_quote(series + "/out.csv"), {series + "/out.csv"});
  expect_failure(forecast + " --output " + shell_quote(directory), {directory, "is a directory"});

  // A report that cannot be written: one line before any work, neither file written.
  const std::string out_csv = shell_quote(dir.file("out.csv"));
  const std::string missing = dir.file("missing/r.html");
  expect_failure(forecast + " --output " + out_csv + " --report " + shell_quote(missing),
                 {missing, "does not exist"});
  expect_failure(forecast + " --output " + out_csv + " --report " + shell_quote(directory),
                 {directory, "is a directory"});
  expect_failure(forecast + " --output " + out_csv + " --report " + out_csv,
                 {dir.file("out.csv"), "--output and --report name the same file"});
  // The same file spelled two ways ("f" and "./f", from the directory), or the default
  // checkpoint (--out's name + .ckpt) as the report: refused before any work.
  const std::string here = "cd " + shell_quote(dir.path().string()) + " && " + cli + " ";
  test_util::expect_cli_failure(here + forecast + " --output out.csv --report ./out.csv",
                                dir.path(), {"./out.csv", "--output and --report"});
  test_util::expect_cli_failure(
      here + train_args(series, "m2.safetensors") + " --checkpoint ./m2.safetensors", dir.path(),
      {"./m2.safetensors", "--out and --checkpoint name the same file"});
  expect_failure(train_args(series, dir.file("m2.safetensors")) + " --report " +
                     shell_quote(dir.file("m2.safetensors.ckpt")),
                 {"m2.safetensors.ckpt", "--checkpoint and --report"});
  const std::string eval = "eval --model " + shell_quote(model) + " --data " + shell_quote(series);
  expect_failure(eval + " --report " + shell_quote(file_as_dir), {file_as_dir, "not a directory"});
  // A language model's eval has no report: refused, no file.
  const std::string text = dir.file("text.txt"), language = dir.file("charlm.safetensors");
  {
    std::ofstream out(text);
    for (int k = 0; k < 80; ++k) out << "the quick brown fox jumps over the lazy dog. ";
  }
  ASSERT_EQ(run("train --task charlm --data " + shell_quote(text) + " --out " +
                shell_quote(language) + " --window 32 --epochs 1 --hidden 8 --threads 1 --quiet")
                .exit_code,
            0);
  expect_failure("eval --model " + shell_quote(language) + " --data " + shell_quote(text) +
                     " --report " + shell_quote(dir.file("charlm.html")),
                 {language, "--report is for forecast models"});
}

}  // namespace
