// `lstm train/forecast/eval` with several series and one global model, run as a program: the
// same 3 series in wide (--target a,b,c) and long (--series-column) format give the same
// forecasts for the same seed; eval's per-series and aggregate JSON; train --report's overview
// against eval's JSON and forecast's choices, its charts and their cap; forecast --report and
// eval --report against forecast's CSV and eval's JSON; bad input is one line, exit 1, no file
// written.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <string>
#include <tuple>
#include <vector>

#include "data/json_text.hpp"
#include "lstm/lstm.hpp"
#include "test_util.hpp"

namespace {

using test_util::CommandResult;
using test_util::row_cells;
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

// Monthly series over `rows` rows: a and b seasonal (value()), c a random walk around 300 (a fixed
// linear congruential sequence), where the baselines may beat the network.
void write_report_series(const std::string& path, int rows) {
  std::ofstream out(path);
  out << "date,a,b,c\n";
  uint32_t state = 12345;
  double walk = 300;
  for (int t = 0; t < rows; ++t) {
    state = state * 1664525u + 1013904223u;
    walk += static_cast<double>(state >> 8) / 16777216.0 * 10 - 5;
    char level[32];
    std::snprintf(level, sizeof level, "%.4f", walk);
    out << month(t) << ',' << value(0, t) << ',' << value(1, t) << ',' << level << '\n';
  }
}

std::string three_decimals(const nlohmann::json& value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3f", value.get<double>());
  return text;
}

size_t count_of(const std::string& text, const std::string& part) {
  size_t count = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++count;
  return count;
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
  const nlohmann::json json = lstm::json_text::parse(test_util::lines_of(eval.out).back());
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

// The overview's numbers are eval's (its JSON, parsed) and forecast's (its choice and coverage per
// series, as it prints them); one chart per series after the training curve, at most
// --report-series of them.
TEST_F(CliMultiSeries, TrainReportShowsEverySeries) {
  const std::string data = dir.file("report.csv"), model = dir.file("r.safetensors");
  const std::string report = dir.file("report.html");
  write_report_series(data, 120);
  const CommandResult trained =
      run(train(data, "--target a,b,c", model) + " --report " + shell_quote(report));
  ASSERT_EQ(trained.exit_code, 0) << trained.err;
  EXPECT_NE(trained.out.find("report written to"), std::string::npos) << trained.out;
  const std::string html = test_util::read_file(report);

  const CommandResult eval =
      run("eval --model " + shell_quote(model) + " --data " + shell_quote(data));
  ASSERT_EQ(eval.exit_code, 0) << eval.err;
  const nlohmann::json json = lstm::json_text::parse(test_util::lines_of(eval.out).back());
  const int horizon = json.at("aggregate").at("rolling").at("horizon").get<int>();
  EXPECT_NE(html.find("Every series at " + std::to_string(horizon) + " steps"), std::string::npos);
  const CommandResult forecast =
      run("forecast --model " + shell_quote(model) + " --data " + shell_quote(data) + " --steps " +
          std::to_string(horizon) + " --output " + shell_quote(dir.file("f.csv")));
  ASSERT_EQ(forecast.exit_code, 0) << forecast.err;

  // The aggregate: the mean MASE of each model over the series.
  for (const char* name : {"lstm", "seasonal-naive", "naive", "theta"}) {
    const auto cells = row_cells(html, name);
    ASSERT_EQ(cells.size(), 4u) << name;
    EXPECT_EQ(cells[1], three_decimals(json["aggregate"]["rolling"]["models"][name]["mase"]))
        << name;
    EXPECT_EQ(cells[3], "3") << name;
  }
  // A row per series: series, rows, forecast by, MASE, sMAPE, lstm MASE, seasonal-naive MASE,
  // naive MASE, coverage %, note.
  std::vector<std::tuple<size_t, int, int>> placed;  // (position in the page, group, file order)
  for (const nlohmann::json& entry : json.at("series")) {
    const std::string name = entry.at("series");
    SCOPED_TRACE(name);
    const auto cells = row_cells(html, name);
    ASSERT_EQ(cells.size(), 10u);
    EXPECT_EQ(cells[1], std::to_string(entry.at("rows").get<int>()));
    const nlohmann::json& models = entry.at("rolling").at("models");
    EXPECT_EQ(cells[5], three_decimals(models.at("lstm").at("mase")));
    EXPECT_EQ(cells[6], three_decimals(models.at("seasonal-naive").at("mase")));
    EXPECT_EQ(cells[7], three_decimals(models.at("naive").at("mase")));
    EXPECT_EQ(cells[9].find("beats the lstm") != std::string::npos,
              entry.at("rolling").at("lstm_beaten").get<bool>())
        << cells[9];
    const double seasonal_naive = models.at("seasonal-naive").at("mase").get<double>();
    if (std::abs(std::stod(cells[3]) - seasonal_naive) > 1e-3) {  // (the cell is rounded)
      EXPECT_EQ(cells[9].find("worse than seasonal-naive") != std::string::npos,
                std::stod(cells[3]) > seasonal_naive)
          << cells[9];
    }
    const std::string printed =
        name + ": forecast by " + cells[2] + "; interval coverage on validation " + cells[8] + "%";
    EXPECT_NE(forecast.out.find(printed), std::string::npos) << printed << '\n' << forecast.out;
    // Each series' section: its heading and one chart.
    EXPECT_EQ(count_of(html, "Series &#39;" + name + "&#39;: the forecast"), 1u);
    const int group = cells[9].find("worse than seasonal-naive") != std::string::npos ? 0
                      : cells[9].find("beats the lstm") != std::string::npos          ? 1
                                                                                      : 3;
    placed.emplace_back(html.find("<tr><td>" + name + "</td>"), group, placed.size());
  }
  // The rows that need attention first, then the file's order.
  std::sort(placed.begin(), placed.end());
  for (size_t k = 1; k < placed.size(); ++k)
    EXPECT_LT(std::tuple(std::get<1>(placed[k - 1]), std::get<2>(placed[k - 1])),
              std::tuple(std::get<1>(placed[k]), std::get<2>(placed[k])));
  EXPECT_EQ(count_of(html, "<svg"), 1u + 3u);  // the training curve, then one per series
  EXPECT_EQ(html.find("The other series"), std::string::npos);

  // More series than --report-series: the first ones drawn, the others named.
  const std::string capped = dir.file("capped.html");
  const CommandResult trained_capped = run(train(wide, "--all-columns", dir.file("c.safetensors")) +
                                           " --report-series 2 --report " + shell_quote(capped));
  ASSERT_EQ(trained_capped.exit_code, 0) << trained_capped.err;
  const std::string capped_html = test_util::read_file(capped);
  EXPECT_EQ(count_of(capped_html, "<svg"), 1u + 2u);
  EXPECT_EQ(count_of(capped_html, "Series &#39;c&#39;: the forecast"), 0u);
  EXPECT_NE(capped_html.find("1 series (c) are left out of the charts"), std::string::npos);
  EXPECT_EQ(row_cells(capped_html, "c").size(), 10u);  // still in the overview

  // A report that cannot be written: one line, before training, no file.
  expect_failure(train(wide, "--all-columns", dir.file("m.safetensors")) + " --report " +
                     shell_quote(dir.file("missing/r.html")),
                 {"missing/r.html", "does not exist"});
  expect_failure(train(wide, "--all-columns", dir.file("m.safetensors")) + " --report " +
                     shell_quote(dir.path().string()),
                 {"is a directory"});
}

// The model column of a forecast CSV per series (its first field), in the file's order.
std::vector<std::pair<std::string, std::string>> models_written(const std::string& path) {
  std::vector<std::pair<std::string, std::string>> models;
  const std::vector<std::string> lines = test_util::lines_of(test_util::read_file(path));
  for (size_t k = 1; k < lines.size(); ++k) {
    const std::string& line = lines[k];
    const std::string name = line.substr(0, line.find(','));
    // The last field, quoted when it holds commas ("combine(lstm, comb, theta)").
    const std::string model = line.ends_with('"') ? line.substr(line.rfind(",\"") + 2,
                                                                line.size() - line.rfind(",\"") - 3)
                                                  : line.substr(line.rfind(',') + 1);
    if (models.empty() || models.back().first != name) models.emplace_back(name, model);
  }
  return models;
}

// forecast --report and eval --report on a model of three series: every series in the overview,
// with the model forecast wrote for it (its CSV) and the scores eval gives it (its JSON, which
// --report leaves unchanged); the charts of the first --report-series.
TEST_F(CliMultiSeries, ForecastAndEvalReportsShowEverySeries) {
  const std::string model = dir.file("m.safetensors");
  ASSERT_EQ(run(train(wide, "--target a,b,c", model)).exit_code, 0);
  const std::string out_csv = dir.file("f.csv"), report = dir.file("forecast.html");
  const CommandResult forecast =
      run("forecast --model " + shell_quote(model) + " --data " + shell_quote(wide) +
          " --steps 6 --output " + shell_quote(out_csv) + " --report-series 2 --report " +
          shell_quote(report));
  ASSERT_EQ(forecast.exit_code, 0) << forecast.err;
  const std::string html = test_util::read_file(report);
  const auto written = models_written(out_csv);
  ASSERT_EQ(written.size(), 3u);
  EXPECT_NE(html.find("Every series at 6 steps"), std::string::npos);
  for (const auto& [name, chosen] : written) {
    const std::vector<std::string> cells = row_cells(html, name);
    ASSERT_EQ(cells.size(), 10u) << name;
    EXPECT_EQ(cells[2], chosen) << name;
  }
  EXPECT_EQ(count_of(html, "<svg"), 2u);
  EXPECT_EQ(count_of(html, "Series &#39;a&#39;: the forecast"), 1u);
  EXPECT_EQ(count_of(html, "Series &#39;c&#39;: the forecast"), 0u);
  EXPECT_NE(html.find("1 series (c) are left out of the charts"), std::string::npos);

  const std::string eval = "eval --model " + shell_quote(model) + " --data " + shell_quote(wide);
  const std::string eval_report = dir.file("eval.html");
  const CommandResult scored = run(eval + " --report " + shell_quote(eval_report));
  ASSERT_EQ(scored.exit_code, 0) << scored.err;
  const CommandResult plain = run(eval);
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_EQ(test_util::lines_of(scored.out).back(), test_util::lines_of(plain.out).back());
  const nlohmann::json json = lstm::json_text::parse(test_util::lines_of(scored.out).back());
  const std::string eval_html = test_util::read_file(eval_report);
  EXPECT_NE(
      eval_html.find("Every series at " +
                     std::to_string(json["aggregate"]["rolling"]["horizon"].get<int>()) + " steps"),
      std::string::npos);
  for (const nlohmann::json& entry : json.at("series")) {
    const std::string name = entry.at("series");
    const std::vector<std::string> cells = row_cells(eval_html, name);
    ASSERT_EQ(cells.size(), 10u) << name;
    const nlohmann::json& models = entry.at("rolling").at("models");
    EXPECT_EQ(cells[5], three_decimals(models.at("lstm").at("mase"))) << name;
    EXPECT_EQ(cells[6], three_decimals(models.at("seasonal-naive").at("mase"))) << name;
    EXPECT_EQ(cells[7], three_decimals(models.at("naive").at("mase"))) << name;
    EXPECT_EQ(count_of(eval_html, "Series &#39;" + name + "&#39;: the forecast"), 1u);
  }
  EXPECT_EQ(count_of(eval_html, "<svg"), 3u);  // no loss curve: one chart per series
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
