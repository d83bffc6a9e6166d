// Statistics of series whose values are near the largest double: normalisation, season, MASE
// scale and metrics stay finite and equal hand calculations (or the unscaled series' results).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "lstm/data.hpp"

namespace {

TEST(OverflowStats, NormalizationOfHugeValuesIsFinite) {
  // Hand calculation: mean 1.6e308, population std 0.1e308 for the column {1.5, 1.7}e308; the
  // plain sum 3.2e308 would overflow.
  const std::vector<double> values = {1.5e308, -1.0, 1.7e308, 1.0};  // [2 rows, 2 features]
  const lstm::Normalization n = lstm::Normalization::fit(values, 2);
  EXPECT_NEAR(n.mean[0] / 1.6e308, 1.0, 1e-15);
  EXPECT_NEAR(n.stddev[0] / 0.1e308, 1.0, 1e-13);
  EXPECT_DOUBLE_EQ(n.mean[1], 0.0);
  EXPECT_DOUBLE_EQ(n.stddev[1], 1.0);
  std::vector<double> normalized = values;
  n.apply(normalized);
  EXPECT_NEAR(normalized[0], -1.0, 1e-13);
  EXPECT_NEAR(normalized[2], 1.0, 1e-13);
}

TEST(OverflowStats, ConstantHugeColumnNormalisesToZero) {
  const std::vector<double> values(50, -1.7e308);
  const lstm::Normalization n = lstm::Normalization::fit(values, 1);
  EXPECT_TRUE(std::isfinite(n.mean[0]));
  EXPECT_GT(n.stddev[0], 0.0);
  std::vector<double> normalized = values;
  n.apply(normalized);
  for (double v : normalized) EXPECT_LE(std::fabs(v), 1e-3);
}

TEST(OverflowStats, SeasonOfAHugeSeriesIsTheSeasonOfTheSeries) {
  std::vector<double> small, huge;
  for (int t = 0; t < 120; ++t) {
    small.push_back(std::sin(2 * 3.14159265358979 * t / 12.0) + 0.01 * t);
    huge.push_back(1.5e308 * (small.back() / 2.5));  // up to 1.3e308
  }
  EXPECT_EQ(lstm::detect_season(small), 12);
  EXPECT_EQ(lstm::detect_season(huge), 12);
}

TEST(OverflowStats, MaseScaleAndMetricsOfHugeValues) {
  // |differences| 0.5e308 and 1.0e308: mean 0.75e308; the sum would overflow.
  const std::vector<double> train = {1.0e308, 1.5e308, 0.5e308};
  EXPECT_NEAR(lstm::mase_scale(train, 1) / 0.75e308, 1.0, 1e-15);
  // Errors 1e307 and -2e307 (predicted - actual): RMSE sqrt(2.5)e307, MAE 1.5e307.
  const std::vector<double> actual = {1.0e308, 1.2e308}, predicted = {1.1e308, 1.0e308};
  const lstm::ForecastMetrics m = lstm::forecast_metrics(actual, predicted, 0.75e308);
  EXPECT_NEAR(m.rmse / (std::sqrt(2.5) * 1e307), 1.0, 1e-13);
  EXPECT_NEAR(m.mae / 1.5e307, 1.0, 1e-13);
  EXPECT_NEAR(m.mase, 0.2, 1e-13);
}

}  // namespace
