// `lstm train/forecast/eval` with several series and one global model, run as a program: the
// same 3 series in wide (--target a,b,c) and long (--series-column) format give the same
// forecasts for the same seed; eval's per-series and aggregate JSON; bad input is one line, exit 1,
// no file written.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <tuple>
#include <vector>

#include "lstm/lstm.hpp"
#include "test_util.hpp"

namespace {

using test_util::CommandResult;
using test_util::shell_quote;

const std::string cli = shell_quote(LSTM_CLI_PATH);

std::string month(int t) {
  char text[32];
  std::snprintf(text, sizeof text, "%04d-%02d-01", 2000 + t / 12, 1 + t % 12);
  return text;
}

// Series s at row t: a shared season with its own level and scale (exactly representable text).
std::string value(int s, int t) {
  const double levels[] = {10, 50, 300}, scales[] = {1, 5, 20};
  char text[32];
  std::snprintf(text, sizeof text, "%.4f",
                levels[s] + scales[s] * (std::sin(2 * 3.14159265358979 * t / 12) + 0.01 * (t % 7)));
  return text;
}

class CliMultiSeries : public ::testing::Test {
 protected:
  test_util::TempDir dir;
  std::string wide = dir.file("wide.csv"), long_ = dir.file("long.csv");
  void SetUp() override {
    std::ofstream w(wide), l(long_);
    w << "date,a,b,c\n";
    l << "id,date,value\n";
    for (int t = 0; t < 72; ++t)
      w << month(t) << ',' << value(0, t) << ',' << value(1, t) << ',' << value(2, t) << '\n';
    for (int s = 0; s < 3; ++s)
      for (int t = 0; t < 72; ++t) l << "abc"[s] << ',' << month(t) << ',' << value(s, t) << '\n';
  }
  CommandResult run(const std::string& args) const {
    return test_util::run_command(cli + " " + args);
  }
  std::string train(const std::string& data, const std::string& series,
                    const std::string& out) const {
    return "train --task forecast --data " + shell_quote(data) + " " + series + " --out " +
           shell_quote(out) + " --epochs 3 --hidden 8 --threads 1 --seed 3";
  }
  void expect_failure(const std::string& args, const std::vector<std::string>& mentions) const {
    test_util::expect_cli_failure(cli + " " + args, dir.path(), mentions);
  }
};

TEST_F(CliMultiSeries, WideAndLongGiveTheSameForecastsAndEval) {
  const std::string model_wide = dir.file("w.safetensors"), model_long = dir.file("l.safetensors");
  const CommandResult trained_wide = run(train(wide, "--target a,b,c", model_wide));
  ASSERT_EQ(trained_wide.exit_code, 0) << trained_wide.err;
  EXPECT_NE(trained_wide.out.find("3 series for one model"), std::string::npos) << trained_wide.out;
  const CommandResult trained_long =
      run(train(long_, "--series-column id --target value", model_long));
  ASSERT_EQ(trained_long.exit_code, 0) << trained_long.err;
  const std::string out_wide = dir.file("fw.csv"), out_long = dir.file("fl.csv");
  for (const auto& [model, data, out] :
       {std::tuple{model_wide, wide, out_wide}, std::tuple{model_long, long_, out_long}}) {
    const CommandResult forecast =
        run("forecast --model " + shell_quote(model) + " --data " + shell_quote(data) +
            " --steps 6 --quiet --output " + shell_quote(out));
    ASSERT_EQ(forecast.exit_code, 0) << forecast.err;
  }
  const auto lines_wide = test_util::lines_of(test_util::read_file(out_wide));
  const auto lines_long = test_util::lines_of(test_util::read_file(out_long));
  ASSERT_EQ(lines_wide.size(), 19u);  // header + 3 series × 6 steps
  EXPECT_EQ(lines_wide[0], "series,date,value,lower,upper,model");
  EXPECT_EQ(lines_long[0], "id,date,value,lower,upper,model");
  EXPECT_EQ(std::vector<std::string>(lines_wide.begin() + 1, lines_wide.end()),
            std::vector<std::string>(lines_long.begin() + 1, lines_long.end()));
  EXPECT_TRUE(lines_wide[1].starts_with("a,2006-01-01,")) << lines_wide[1];
  EXPECT_TRUE(lines_wide[18].starts_with("c,2006-06-01,")) << lines_wide[18];
  // Each series in its own units: c's forecasts near its level 300, a's near 10.
  const double c_value = std::stod(lines_wide[13].substr(std::string("c,2006-01-01,").size()));
  const double a_value = std::stod(lines_wide[1].substr(std::string("a,2006-01-01,").size()));
  EXPECT_GT(c_value, 250);
  EXPECT_LT(a_value, 15);

  const CommandResult eval = run("eval --model " + shell_quote(model_long) + " --data " +
                                 shell_quote(long_) + " --horizon 6");
  ASSERT_EQ(eval.exit_code, 0) << eval.err;
  const nlohmann::json json = nlohmann::json::parse(test_util::lines_of(eval.out).back());
  EXPECT_EQ(json.at("series_count"), 3);
  ASSERT_EQ(json.at("series").size(), 3u);
  EXPECT_EQ(json.at("series")[2].at("series"), "c");
  EXPECT_TRUE(json.at("series")[0].at("mase").is_number());
  EXPECT_TRUE(json.at("series")[0].at("rolling").at("models").at("lstm").at("mase").is_number());
  EXPECT_EQ(json.at("aggregate").at("rolling").at("horizon"), 6);
  EXPECT_TRUE(
      json.at("aggregate").at("rolling").at("models").at("seasonal-naive").at("mase").is_number());
  EXPECT_EQ(json.at("aggregate").at("rolling").at("models").at("lstm").at("series"), 3);

  // A long file with a series the model does not know, or without one of its series.
  const std::string extra = dir.file("extra.csv"), fewer = dir.file("fewer.csv");
  {
    std::ofstream e(extra), f(fewer);
    e << test_util::read_file(long_) << "d,2000-01-01,1\n";
    f << "id,date,value\n";
    for (int t = 0; t < 72; ++t) f << "a," << month(t) << ',' << value(0, t) << '\n';
  }
  const std::string out = " --steps 3 --output " + shell_quote(dir.file("none.csv"));
  expect_failure(
      "forecast --model " + shell_quote(model_long) + " --data " + shell_quote(extra) + out,
      {"extra.csv", "series 'd' is not one of the model's (a, b, c)"});
  expect_failure(
      "forecast --model " + shell_quote(model_long) + " --data " + shell_quote(fewer) + out,
      {"fewer.csv", "series 'b' is missing"});
  expect_failure("eval --model " + shell_quote(model_wide) + " --data " + shell_quote(long_),
                 {"long.csv", "'a'"});
}

TEST_F(CliMultiSeries, BadInputIsOneLine) {
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir.file(name)) << text;
    return shell_quote(dir.file(name));
  };
  const std::string model = " --out " + shell_quote(dir.file("m.safetensors")) + " --epochs 1";
  const std::string ragged = write("ragged.csv", "date,a,b\n2000-01-01,1,2\n2000-02-01,3\n");
  expect_failure("train --data " + ragged + " --target a,b" + model, {"ragged.csv", "line 3"});
  std::string text = "id,date,value\n";
  for (int t = 0; t < 60; ++t) text += "a," + month(t) + ',' + value(0, t) + '\n';
  for (int t = 50; t < 60; ++t) text += "tiny," + month(t) + ',' + value(1, t) + '\n';
  const std::string short_series = write("short.csv", text);
  expect_failure("train --data " + short_series + " --series-column id --target value" + model,
                 {"short.csv (series 'tiny')", "too short"});
  const std::string no_id = write("noid.csv", "id,date,value\na,2000-01-01,1\n,2000-02-01,2\n");
  expect_failure("train --data " + no_id + " --series-column id --target value" + model,
                 {"noid.csv", "line 3", "no series id"});
  const std::string empty = write("empty.csv", "date,a,b\n2000-01-01,1,\n2000-02-01,3,NA\n");
  expect_failure("train --data " + empty + " --all-columns" + model, {"empty.csv", "'b'"});
  const std::string steps = write("steps.csv",
                                  "id,date,value\na,2000-01-01,1\na,2000-02-01,2\na,2000-03-01,3\n"
                                  "b,2000-01-01,1\nb,2000-04-01,2\nb,2000-07-01,3\n");
  expect_failure("train --data " + steps + " --series-column id --target value" + model,
                 {"steps.csv", "same frequency"});
  expect_failure(
      "train --data " + shell_quote(long_) + " --series-column nope --target value" + model,
      {"long.csv", "nope"});
  expect_failure("train --data " + shell_quote(wide) + " --target a,zz" + model,
                 {"wide.csv", "zz"});
  expect_failure("train --data " + shell_quote(wide) + " --all-columns --features a" + model,
                 {"--features"});
  expect_failure("train --data " + shell_quote(wide) + " --all-columns --target a" + model,
                 {"--all-columns"});
  expect_failure("train --data " + shell_quote(long_) + " --series-column id" + model,
                 {"--target"});
}

}  // namespace
