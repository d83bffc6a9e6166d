// The global model of several series (src/apps/multi_series.*): reading wide and long files alike,
// per-series normalisation on each training part (checked against sums computed here), pooled
// windows, the metadata read back, a model that beats naive on related series, and bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include "apps/multi_series.hpp"
#include "data/json_text.hpp"
#include "io_test_util.hpp"
#include "lstm/lstm.hpp"

namespace {

using lstm::apps::SeriesLayout;
using lstm_test::throws_error;

constexpr double kPi = 3.14159265358979323846;

// A deterministic N(0, 1) stream (Box-Muller over a 64-bit LCG), the same on every platform.
struct Noise {
  uint64_t state;
  double uniform() {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (static_cast<double>(state >> 11) + 0.5) / 9007199254740992.0;
  }
  double normal() {
    return std::sqrt(-2.0 * std::log(uniform())) * std::cos(2.0 * kPi * uniform());
  }
};

// Related monthly series: one seasonal shape, each with its own level and scale, plus noise of
// 0.2 × its scale. values[s][t].
std::vector<std::vector<double>> related_series(int rows) {
  const double levels[] = {10, 50, 300}, scales[] = {1, 5, 20};
  Noise noise{7};
  std::vector<std::vector<double>> values(3);
  for (int s = 0; s < 3; ++s)
    for (int t = 0; t < rows; ++t) {
      const double shape = std::sin(2 * kPi * t / 12) + 0.5 * std::cos(4 * kPi * t / 12);
      values[s].push_back(levels[s] + scales[s] * (shape + 0.2 * noise.normal()));
    }
  return values;
}

std::string month(int t) {
  char text[32];
  std::snprintf(text, sizeof text, "%04d-%02d-01", 2000 + t / 12, 1 + t % 12);
  return text;
}

void write_wide(const std::string& path, const std::vector<std::vector<double>>& values) {
  std::ofstream out(path);
  out.precision(17);
  out << "date,a,b,c\n";
  for (size_t t = 0; t < values[0].size(); ++t)
    out << month(static_cast<int>(t)) << ',' << values[0][t] << ',' << values[1][t] << ','
        << values[2][t] << '\n';
}

void write_long(const std::string& path, const std::vector<std::vector<double>>& values) {
  std::ofstream out(path);
  out.precision(17);
  out << "id,date,value\n";
  const char* names[] = {"a", "b", "c"};
  for (int s = 0; s < 3; ++s)
    for (size_t t = 0; t < values[s].size(); ++t)
      out << names[s] << ',' << month(static_cast<int>(t)) << ',' << values[s][t] << '\n';
}

SeriesLayout wide_layout() {
  SeriesLayout layout;
  layout.all_columns = true;
  return layout;
}

SeriesLayout long_layout() {
  SeriesLayout layout;
  layout.series_column = "id";
  layout.value_column = "value";
  return layout;
}

TEST(MultiSeries, WideAndLongReadTheSameSeries) {
  test_util::TempDir dir;
  const auto values = related_series(60);
  write_wide(dir.file("wide.csv"), values);
  write_long(dir.file("long.csv"), values);
  const auto wide = lstm::apps::load_many_series(dir.file("wide.csv"), wide_layout());
  const auto long_ = lstm::apps::load_many_series(dir.file("long.csv"), long_layout());
  ASSERT_EQ(wide.size(), 3u);
  ASSERT_EQ(long_.size(), 3u);
  for (size_t s = 0; s < 3; ++s) {
    EXPECT_EQ(wide[s].columns, long_[s].columns);
    EXPECT_EQ(wide[s].values, long_[s].values);
    EXPECT_EQ(wide[s].index.text, long_[s].index.text);
    EXPECT_EQ(wide[s].index.step_months, 1);
    for (size_t t = 0; t < 60; ++t) EXPECT_NEAR(wide[s].values[t], values[s][t], 1e-12);
  }
  EXPECT_EQ(wide[1].columns[0], "b");
  EXPECT_NE(wide[1].path.find("series 'b'"), std::string::npos) << wide[1].path;
}

TEST(MultiSeries, WideFileWithoutDateColumnHasNoIndexForAnySeries) {
  test_util::TempDir dir;
  lstm_test::write_bytes(dir.file("nodate.csv"), "p,q\n1,10\n3,11\n2,12\n");
  SeriesLayout layout;
  layout.columns = {"p", "q"};
  const auto series = lstm::apps::load_many_series(dir.file("nodate.csv"), layout);
  ASSERT_EQ(series.size(), 2u);
  for (const auto& one : series) {
    EXPECT_EQ(one.index.kind, lstm::IndexKind::none) << one.columns[0];
    EXPECT_EQ(one.future_index(1), std::vector<std::string>{"4"}) << one.columns[0];
  }
  EXPECT_EQ(series[1].values, (std::vector<double>{10, 11, 12}));
  // Only q: the first column, p, is its index (labels, as for one series).
  layout.columns = {"q"};
  EXPECT_EQ(lstm::apps::load_many_series(dir.file("nodate.csv"), layout)[0].index.kind,
            lstm::IndexKind::label);
}

TEST(MultiSeries, LongSeriesMayStartAndEndAtDifferentDates) {
  test_util::TempDir dir;
  std::string text = "id,date,value\n";
  for (int t = 0; t < 36; ++t) text += "old," + month(t) + ',' + std::to_string(t % 12) + '\n';
  for (int t = 12; t < 40; ++t) text += "new," + month(t) + ',' + std::to_string(t % 5) + '\n';
  lstm_test::write_bytes(dir.file("dates.csv"), text);
  const auto series = lstm::apps::load_many_series(dir.file("dates.csv"), long_layout());
  ASSERT_EQ(series.size(), 2u);
  EXPECT_EQ(series[0].rows, 36);
  EXPECT_EQ(series[1].rows, 28);
  EXPECT_EQ(series[1].index.text.front(), "2001-01-01");
  // Each is forecast after its own last date.
  EXPECT_EQ(series[0].future_index(1), std::vector<std::string>{"2003-01-01"});
  EXPECT_EQ(series[1].future_index(1), std::vector<std::string>{"2003-05-01"});
}

TEST(MultiSeries, EachSeriesNormalisedOnItsOwnTrainingPartAndWindowsPooled) {
  test_util::TempDir dir;
  const auto values = related_series(60);
  write_wide(dir.file("wide.csv"), values);
  lstm::apps::ForecastSetup setup;
  setup.log_target = setup.deseasonalize = 0;  // the plain mean and deviation of each series
  const auto data = lstm::apps::prepare_multi_series(dir.file("wide.csv"), wide_layout(), setup);
  ASSERT_EQ(data.series.size(), 3u);
  EXPECT_EQ(data.season, 12);
  EXPECT_EQ(data.window, 24);  // 2 × season, ≤ 48 / 2
  int64_t train_count = 0, validation_count = 0;
  for (size_t s = 0; s < 3; ++s) {
    const auto& one = data.series[s];
    EXPECT_EQ(one.split, 48);  // 60 - round(60 × 0.2)
    double sum = 0, square = 0;
    for (int t = 0; t < 48; ++t) sum += values[s][t];
    const double mean = sum / 48;
    for (int t = 0; t < 48; ++t) square += (values[s][t] - mean) * (values[s][t] - mean);
    EXPECT_NEAR(one.normalization.mean[0], mean, 1e-9 * std::abs(mean));
    EXPECT_NEAR(one.normalization.stddev[0], std::sqrt(square / 48), 1e-9 * std::sqrt(square / 48));
    EXPECT_EQ(one.train.count, 48 - 24);  // origins 24..47
    train_count += one.train.count;
    validation_count += one.validation.count;
  }
  EXPECT_EQ(data.train.count, train_count);
  EXPECT_EQ(data.validation.count, validation_count);
  ASSERT_EQ(data.train.inputs.size(), static_cast<size_t>(train_count * 24));
  // Series c's first window starts after a's and b's: its first input is c's row 0, normalised.
  const auto& c = data.series[2];
  EXPECT_NEAR(data.train.inputs[2 * 24 * 24],
              (values[2][0] - c.normalization.mean[0]) / c.normalization.stddev[0], 1e-5);
}

TEST(MultiSeries, GlobalModelBeatsNaiveOnRelatedSeriesAndItsMetadataReadsBack) {
  test_util::TempDir dir;
  const auto values = related_series(96);
  write_wide(dir.file("wide.csv"), values);
  lstm::apps::ForecastSetup setup;
  setup.hidden_size = 16;
  const auto data = lstm::apps::prepare_multi_series(dir.file("wide.csv"), wide_layout(), setup);
  lstm::SequenceModel model = lstm::apps::make_multi_series_model(data, setup, wide_layout());
  lstm::apps::TrainerOptions options;
  options.max_epochs = 60;
  lstm::apps::train_model(model, data.train, data.validation, options);
  const std::string path = dir.file("m.safetensors");
  lstm::save_sequence_model(path, model);
  lstm::SequenceModel loaded = lstm::load_sequence_model(path);
  ASSERT_TRUE(lstm::apps::is_multi_series_model(loaded));
  const lstm::apps::MultiSeriesInfo info = lstm::apps::multi_series_info(loaded, path);
  EXPECT_EQ(info.names, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(info.layout.columns, info.names);
  const auto series = lstm::apps::load_model_series(info, dir.file("wide.csv"));
  double lstm_mase = 0, seasonal_naive_mase = 0;
  for (size_t s = 0; s < 3; ++s) {
    EXPECT_EQ(info.series[s].target, info.names[s]);
    EXPECT_EQ(info.series[s].normalization.mean, data.series[s].normalization.mean);
    EXPECT_EQ(info.series[s].normalization.stddev, data.series[s].normalization.stddev);
    // One-step validation of every series: better than its naive forecast.
    const auto report = lstm::apps::evaluate_forecast(loaded, info.series[s], series[s],
                                                      data.series[s].split, data.series[s].split);
    EXPECT_LT(report.model.mase, report.naive.mase) << info.names[s];
    // 6-step forecasts from rolling origins: better than naive, and on average within 1.1 × the
    // seasonal-naive forecast (the optimum, the true seasonal mean, is about 0.7 × it).
    const auto setup6 = lstm::apps::validation_setup(info.series[s], series[s], 6);
    ASSERT_GT(setup6.horizon, 0);
    const std::vector<double> y = series[s].column(0);
    std::vector<lstm::apps::Candidate> candidates{
        lstm::apps::network_candidate(loaded, info.series[s], series[s])};
    for (auto& candidate : lstm::apps::classical_candidates(y, 12))
      if (candidate.name == "naive" || candidate.name == "seasonal-naive")
        candidates.push_back(std::move(candidate));
    const auto evaluation = lstm::apps::evaluate_rolling(y, setup6, candidates);
    ASSERT_EQ(evaluation.results.size(), 3u);
    EXPECT_LT(evaluation.results[0].scores.mase, evaluation.results[1].scores.mase)
        << info.names[s];
    lstm_mase += evaluation.results[0].scores.mase / 3;
    seasonal_naive_mase += evaluation.results[2].scores.mase / 3;
  }
  EXPECT_LT(lstm_mase, 1.1 * seasonal_naive_mase);
}

TEST(MultiSeries, InconsistentMetadataIsAnError) {
  test_util::TempDir dir;
  write_wide(dir.file("wide.csv"), related_series(60));
  lstm::apps::ForecastSetup setup;
  setup.hidden_size = 4;
  const auto data = lstm::apps::prepare_multi_series(dir.file("wide.csv"), wide_layout(), setup);
  lstm::SequenceModel model = lstm::apps::make_multi_series_model(data, setup, wide_layout());
  const auto before = model.metadata();
  EXPECT_EQ(lstm::apps::multi_series_info(model, "m.safetensors").series.size(), 3u);
  EXPECT_EQ(model.metadata(), before);  // each series' view was read in place, then restored
  auto text = lstm::json_text::parse(model.metadata().at("multi_series"));
  text["names"] = {"a", "b"};
  model.metadata()["multi_series"] = lstm::json_text::dump(text);
  EXPECT_TRUE(throws_error([&] { lstm::apps::multi_series_info(model, "m.safetensors"); },
                           {"m.safetensors", "names and series differ"}));
  text["names"] = {"a", "b", "x"};
  model.metadata()["multi_series"] = lstm::json_text::dump(text);
  EXPECT_TRUE(throws_error([&] { lstm::apps::multi_series_info(model, "m.safetensors"); },
                           {"m.safetensors (series 'x')", "inconsistent"}));
  model.metadata()["multi_series"] = "{";
  EXPECT_TRUE(throws_error([&] { lstm::apps::multi_series_info(model, "m.safetensors"); },
                           {"m.safetensors", "'multi_series' is invalid"}));
}

TEST(MultiSeries, BadInputNamesTheSeries) {
  test_util::TempDir dir;
  auto write = [&](const std::string& name, const std::string& text) {
    lstm_test::write_bytes(dir.file(name), text);
    return dir.file(name);
  };
  const std::string ragged = write("ragged.csv", "date,a,b\n2000-01-01,1,2\n2000-02-01,3\n");
  EXPECT_TRUE(throws_error([&] { lstm::apps::load_many_series(ragged, wide_layout()); },
                           {"ragged.csv", "line 3"}));
  const std::string empty = write("empty.csv", "date,a,b\n2000-01-01,1,\n2000-02-01,3,NA\n");
  EXPECT_TRUE(throws_error([&] { lstm::apps::load_many_series(empty, wide_layout()); },
                           {"empty.csv", "'b'"}));
  const std::string no_id = write("noid.csv", "id,date,value\na,2000-01-01,1\n,2000-02-01,2\n");
  EXPECT_TRUE(throws_error([&] { lstm::apps::load_many_series(no_id, long_layout()); },
                           {"noid.csv", "line 3", "no series id"}));
  const std::string steps = write("steps.csv",
                                  "id,date,value\na,2000-01-01,1\na,2000-02-01,2\na,2000-03-01,3\n"
                                  "b,2000-01-01,1\nb,2000-04-01,2\nb,2000-07-01,3\n");
  EXPECT_TRUE(throws_error([&] { lstm::apps::load_many_series(steps, long_layout()); },
                           {"steps.csv", "'b'", "same frequency"}));
  // One series much shorter than the others: named.
  std::string text = "id,date,value\n";
  for (int t = 0; t < 60; ++t) text += "a," + month(t) + ',' + std::to_string(t % 12) + '\n';
  for (int t = 0; t < 60; ++t) text += "b," + month(t) + ',' + std::to_string(t % 7) + '\n';
  for (int t = 50; t < 60; ++t) text += "short," + month(t) + ',' + std::to_string(t % 5) + '\n';
  const std::string short_series = write("short.csv", text);
  EXPECT_TRUE(throws_error(
      [&] {
        lstm::apps::prepare_multi_series(short_series, long_layout(), lstm::apps::ForecastSetup{});
      },
      {"short.csv (series 'short')", "too short"}));
  SeriesLayout both = wide_layout();
  both.columns = {"a"};
  EXPECT_TRUE(throws_error([&] { lstm::apps::load_many_series(empty, both); }, {"--all-columns"}));
  SeriesLayout unknown;
  unknown.columns = {"a", "zz"};
  EXPECT_TRUE(
      throws_error([&] { lstm::apps::load_many_series(empty, unknown); }, {"empty.csv", "zz"}));
}

}  // namespace
