// Statistics for forecasting: normalisation round trips, season detection on CO2 and synthetic
// series, baselines and metrics against hand-computed values, and supervised windows.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <random>

#include "io_test_util.hpp"
#include "lstm/data.hpp"

namespace {

using lstm::Normalization;
using lstm_test::throws_error;

std::string co2_path() {
  return std::string(LSTM_TEST_DATA_DIR) + "/../../data/co2.csv";
}

std::vector<double> sine(int64_t n, double period, double noise, unsigned seed) {
  std::mt19937 generator(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<double> values(static_cast<size_t>(n));
  for (int64_t t = 0; t < n; ++t)
    values[t] = 5.0 + 0.01 * static_cast<double>(t) +
                std::sin(2 * std::numbers::pi * static_cast<double>(t) / period) +
                noise * normal(generator);
  return values;
}

TEST(SeriesStats, NormalisesWithTrainingStatisticsAndInverts) {
  // [4, 2]: column 0 is 1..4 (mean 2.5, population std sqrt(1.25)), column 1 is constant.
  const std::vector<double> train = {1, 7, 2, 7, 3, 7, 4, 7};
  const Normalization normalization = Normalization::fit(train, 2);
  EXPECT_EQ(normalization.mean, (std::vector<double>{2.5, 7.0}));
  EXPECT_DOUBLE_EQ(normalization.stddev[0], std::sqrt(1.25));
  EXPECT_EQ(normalization.stddev[1], 1.0);                    // constant: divided by 1, not 0
  std::vector<double> all = {1, 7, 2, 7, 3, 7, 4, 7, 10, 8};  // the validation row is not fitted
  const std::vector<double> original = all;
  normalization.apply(all);
  EXPECT_DOUBLE_EQ(all[0], -1.5 / std::sqrt(1.25));
  EXPECT_DOUBLE_EQ(all[8], 7.5 / std::sqrt(1.25));
  EXPECT_DOUBLE_EQ(all[9], 1.0);
  EXPECT_DOUBLE_EQ(normalization.invert(all[8], 0), 10.0);
  normalization.invert(all);
  for (size_t k = 0; k < all.size(); ++k) EXPECT_NEAR(all[k], original[k], 1e-12) << k;
  EXPECT_TRUE(throws_error([&] { normalization.apply(std::span<double>(all).first(3)); },
                           {"normalization: 3 values are not rows of 2 features"}));
}

TEST(SeriesStats, SerialisesNormalisationForMetadata) {
  const Normalization normalization =
      Normalization::fit(std::vector<double>{0.1, 1e6, 0.3, -2e6}, 2);
  const Normalization loaded = Normalization::from_json("m.safetensors", normalization.to_json());
  EXPECT_EQ(loaded.mean, normalization.mean);
  EXPECT_EQ(loaded.stddev, normalization.stddev);
  EXPECT_TRUE(throws_error([] { Normalization::from_json("m", "{\"mean\":[1]}"); },
                           {"m: normalization: 'std' is missing or not a non-empty list"}));
  EXPECT_TRUE(throws_error([] { Normalization::from_json("m", "{\"mean\":[1,2],\"std\":[1]}"); },
                           {"m: normalization: 'mean' has 2 values, 'std' has 1"}));
  EXPECT_TRUE(throws_error([] { Normalization::from_json("m", "{\"mean\":[1],\"std\":[0]}"); },
                           {"m: normalization: 'std'[0] is not positive"}));
  EXPECT_TRUE(throws_error([] { Normalization::from_json("m", "{\"mean\":[\"a\"],\"std\":[1]}"); },
                           {"m: normalization: 'mean'[0] is not a finite number: \"a\""}));
  EXPECT_TRUE(throws_error([] { Normalization::from_json("m", R"({"mean":[1],"std":[1],"x":0})"); },
                           {"m: normalization: unexpected key 'x'"}));
  EXPECT_TRUE(throws_error([] { Normalization::from_json("m", "[1"); },
                           {"m: normalization: not valid JSON"}));
}

TEST(SeriesStats, DetectsTheYearlySeasonOfCo2) {
  const lstm::Series series = lstm::load_series(co2_path(), "co2");
  EXPECT_EQ(lstm::detect_season(series), 52);
  const int64_t split = lstm::split_point(series.rows, 0.1);
  EXPECT_EQ(
      lstm::detect_season(std::span<const double>(series.values).first(static_cast<size_t>(split))),
      52);
}

TEST(SeriesStats, DetectsTheSeasonOfASine) {
  EXPECT_EQ(lstm::detect_season(sine(500, 12.0, 0.3, 1)), 12);
  EXPECT_EQ(lstm::detect_season(sine(200, 7.0, 0.0, 2)), 7);
  EXPECT_EQ(lstm::detect_season(sine(1000, 24.0, 0.5, 3)), 24);
  EXPECT_EQ(lstm::detect_season(sine(400, 4.0, 0.1, 4)), 4);
  EXPECT_EQ(lstm::detect_season(sine(300, 50.0, 0.1, 5), 40), 0);  // beyond max_period
}

TEST(SeriesStats, FindsNoSeasonWhereThereIsNone) {
  std::mt19937 generator(7);
  std::normal_distribution<double> normal(0.0, 1.0);
  for (int trial = 0; trial < 5; ++trial) {
    std::vector<double> noise(1000), walk(1000);
    double position = 0.0;
    for (size_t t = 0; t < noise.size(); ++t) {
      noise[t] = normal(generator);
      position += normal(generator);
      walk[t] = position;
    }
    EXPECT_EQ(lstm::detect_season(noise), 0) << "white noise, trial " << trial;
    EXPECT_EQ(lstm::detect_season(walk), 0) << "random walk, trial " << trial;
  }
  std::vector<double> line(100), constant(100, 3.0);
  for (size_t t = 0; t < line.size(); ++t) line[t] = 2.0 * static_cast<double>(t) + 1.0;
  EXPECT_EQ(lstm::detect_season(line), 0);
  EXPECT_EQ(lstm::detect_season(constant), 0);
  EXPECT_EQ(lstm::detect_season(std::vector<double>{1, 2, 1}), 0);
}

TEST(SeriesStats, ScoresBaselinesAsComputedByHand) {
  const std::vector<double> y = {1, 3, 2, 4, 3, 5, 4, 6};
  // Training part y[0..6): seasonal differences |y[t] - y[t-2]| are all 1; lag-1 ones 2,1,2,1,2.
  EXPECT_DOUBLE_EQ(lstm::mase_scale(std::span(y).first(6), 2), 1.0);
  EXPECT_DOUBLE_EQ(lstm::mase_scale(std::span(y).first(6), 0), 1.6);
  // One step ahead from origins 6 and 7 (actual 4, 6). Naive: 5, 4. Seasonal-naive: y[4]=3, y[5]=5.
  lstm::Baselines baselines = lstm::evaluate_baselines(y, 6, 2);
  EXPECT_EQ(baselines.naive.count, 2);
  EXPECT_DOUBLE_EQ(baselines.naive.mae, 1.5);
  EXPECT_DOUBLE_EQ(baselines.naive.rmse, std::sqrt(2.5));
  EXPECT_DOUBLE_EQ(baselines.naive.mase, 1.5);
  ASSERT_TRUE(baselines.seasonal_naive.has_value());
  EXPECT_DOUBLE_EQ(baselines.seasonal_naive->mae, 1.0);
  EXPECT_DOUBLE_EQ(baselines.seasonal_naive->rmse, 1.0);
  EXPECT_DOUBLE_EQ(baselines.seasonal_naive->mase, 1.0);
  // Two steps ahead from origin 6: naive 5, 5; seasonal-naive y[4]=3 and y[5]=5 for y[7].
  baselines = lstm::evaluate_baselines(y, 6, 2, 2);
  EXPECT_EQ(baselines.naive.count, 2);
  EXPECT_DOUBLE_EQ(baselines.naive.mae, 1.0);
  EXPECT_DOUBLE_EQ(baselines.seasonal_naive->mae, 1.0);
  // Period 3, horizon 3 from origin 6: z[6], z[7], z[8] are forecast by z[3], z[4], z[5].
  const std::vector<double> z = {0, 1, 2, 0, 1, 2, 0, 1, 2};
  baselines = lstm::evaluate_baselines(z, 6, 3, 3);
  EXPECT_EQ(baselines.seasonal_naive->mae, 0.0);
  EXPECT_TRUE(std::isnan(baselines.seasonal_naive->mase));  // the training part repeats exactly
  EXPECT_DOUBLE_EQ(baselines.naive.mae, (2.0 + 1.0 + 0.0) / 3);
  // Without a season, MASE is scaled by the naive error and there is no seasonal baseline.
  baselines = lstm::evaluate_baselines(y, 6, 0);
  EXPECT_FALSE(baselines.seasonal_naive.has_value());
  EXPECT_DOUBLE_EQ(baselines.naive.mase, 1.5 / 1.6);
}

TEST(SeriesStats, ComputesMetricsAndRejectsUndefinedOnes) {
  const lstm::ForecastMetrics metrics =
      lstm::forecast_metrics(std::vector<double>{1, 2, 3}, std::vector<double>{2, 2, 0}, 2.0);
  EXPECT_DOUBLE_EQ(metrics.mae, 4.0 / 3);
  EXPECT_DOUBLE_EQ(metrics.rmse, std::sqrt(10.0 / 3));
  EXPECT_DOUBLE_EQ(metrics.mase, 2.0 / 3);
  EXPECT_TRUE(throws_error(
      [] { lstm::forecast_metrics(std::vector<double>{1}, std::vector<double>{}, 1.0); },
      {"forecast metrics: 1 actual and 0 predicted values"}));
  EXPECT_EQ(lstm::mase_scale(std::vector<double>{3, 3, 3}, 1), 0.0);
  EXPECT_TRUE(
      std::isnan(lstm::forecast_metrics(std::vector<double>{1}, std::vector<double>{2}, 0.0).mase));
  EXPECT_TRUE(throws_error(
      [] {
        lstm::mase_scale(std::vector<double>{1, 2}, 2);
      },
      {"the training part has 2 values, not more than the lag 2"}));
  EXPECT_TRUE(throws_error(
      [] {
        lstm::evaluate_baselines(std::vector<double>{1, 2, 3}, 3, 0);
      },
      {"baselines: split at row 3 of 3 leaves no validation forecast of horizon 1"}));
}

TEST(SeriesStats, MakesWindowsOfInputsAndTargets) {
  std::vector<double> values;  // [6, 2]: row r is (10 r, 10 r + 1)
  for (int r = 0; r < 6; ++r) values.insert(values.end(), {10.0 * r, 10.0 * r + 1});
  lstm::WindowSet set = lstm::make_windows(values, 2, {.window = 2, .horizon = 2});
  EXPECT_EQ(set.count, 3);
  EXPECT_EQ(set.origins, (std::vector<int64_t>{2, 3, 4}));
  ASSERT_EQ(set.inputs.size(), 3u * 2 * 2);
  EXPECT_EQ(std::vector<float>(set.inputs.begin(), set.inputs.begin() + 4),
            (std::vector<float>{0, 1, 10, 11}));
  EXPECT_EQ(set.targets, (std::vector<float>{20, 30, 30, 40, 40, 50}));
  set = lstm::make_windows(values, 2, {.window = 3, .target_column = 1, .first_origin = 4});
  EXPECT_EQ(set.origins, (std::vector<int64_t>{4, 5}));
  EXPECT_EQ(set.targets, (std::vector<float>{41, 51}));
  EXPECT_EQ(std::vector<float>(set.inputs.begin() + 6, set.inputs.end()),
            (std::vector<float>{20, 21, 30, 31, 40, 41}));
  set = lstm::make_windows(values, 2, {.window = 1, .stride = 2, .end = 5});
  EXPECT_EQ(set.origins, (std::vector<int64_t>{1, 3}));
  EXPECT_TRUE(throws_error([&] { lstm::make_windows(values, 2, {.window = 5, .horizon = 2}); },
                           {"windows: no sample fits: a window of 5 and a horizon of 2"}));
  EXPECT_TRUE(throws_error([&] { lstm::make_windows(values, 2, {.window = 0}); },
                           {"windows: window, horizon and stride must be at least 1"}));
  EXPECT_TRUE(
      throws_error([&] { lstm::make_windows(values, 2, {.window = 1, .target_column = 2}); },
                   {"windows: target column 2 of 2 features"}));
}

}  // namespace
