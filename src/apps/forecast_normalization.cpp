// Per-series normalisation of a forecast target: logarithm and seasonal indices fitted on the
// training part (classical decomposition), applied by row position and inverted for forecasts.
#include "apps/forecast_normalization.hpp"

#include <cmath>
#include <cstdio>

#include "apps/classical.hpp"
#include "data/json_text.hpp"
#include "lstm/error.hpp"

namespace lstm::apps {
namespace {

size_t position(const TargetTransform& transform, int64_t row) {
  const auto m = static_cast<int64_t>(transform.seasonal.size());
  return static_cast<size_t>(((row % m) + m) % m);
}

}  // namespace

std::vector<double> additive_season(std::span<const double> y, int64_t period) {
  const auto n = static_cast<int64_t>(y.size());
  if (period < 2 || n < 2 * period)
    throw Error("decomposition: " + std::to_string(n) + " values, fewer than two periods of " +
                std::to_string(period));
  const int64_t half = period / 2;
  std::vector<double> sum(static_cast<size_t>(period), 0.0), count(sum.size(), 0.0);  // [m]
  for (int64_t t = half; t + half < n; ++t) {
    // Centred moving average over one period (2×m for even m: half weights at both ends).
    double trend = 0.0;
    for (int64_t k = -half; k <= half; ++k)
      trend += (period % 2 == 0 && (k == -half || k == half) ? 0.5 : 1.0) * y[t + k];
    trend /= static_cast<double>(period);
    sum[t % period] += y[t] - trend;
    count[t % period] += 1.0;
  }
  double mean = 0.0;
  for (int64_t j = 0; j < period; ++j) mean += (sum[j] /= count[j]) / static_cast<double>(period);
  for (double& s : sum) s -= mean;
  return sum;
}

int64_t calendar_period(const SeriesIndex& index) {
  if (index.kind != IndexKind::date) return 0;
  constexpr int64_t hour = 3600, day = 24 * hour;
  if (index.step_months == 1) return 12;
  if (index.step_months == 3) return 4;
  if (index.step_seconds == 7 * day) return 52;
  if (index.step_seconds == day) return 7;
  if (index.step_seconds == hour) return 24;
  return 1;
}

TargetTransform fit_target_transform(std::span<const double> train, int64_t season, int log_mode,
                                     int season_mode, int64_t calendar) {
  TargetTransform transform;
  bool positive = !train.empty();
  for (double v : train) positive = positive && v > 0.0;
  if (log_mode > 0 && !positive)
    throw Error("forecast: the target has a value <= 0 in the training part; it has no logarithm");
  const bool seasonal_calendar = calendar > 1 || (calendar == 0 && season > 1);
  transform.log = log_mode > 0 || (log_mode < 0 && positive && seasonal_calendar);
  const auto n = static_cast<int64_t>(train.size());
  if (season_mode == 0 || season < 2) return transform;
  if (season_mode < 0 && !(seasonal_calendar && (calendar == 0 || calendar == season)))
    return transform;
  if (season_mode > 0 && n < 2 * season)
    throw Error("forecast: the training part has " + std::to_string(n) +
                " values, fewer than two seasons of " + std::to_string(season) +
                " to remove the season from");
  if (season_mode < 0 && !seasonality_test(train, season, 3 * season - 1)) return transform;
  if (transform.log) {
    transform.seasonal = multiplicative_season(train, season);
    for (double& s : transform.seasonal) s = std::log(s);
  } else {
    transform.seasonal = additive_season(train, season);
  }
  for (double s : transform.seasonal)
    if (!std::isfinite(s)) return TargetTransform{transform.log, {}};
  return transform;
}

double transform_target(const TargetTransform& transform, double y, int64_t row,
                        const std::string& where) {
  double z = y;
  if (transform.log) {
    if (!(y > 0.0)) {
      char value[40];
      std::snprintf(value, sizeof value, "%.17g", y);
      throw Error(where + ": value " + value +
                  " is not positive, but the model forecasts the logarithm of the target "
                  "(its training part was positive)");
    }
    z = std::log(y);
  }
  if (!transform.seasonal.empty()) z -= transform.seasonal[position(transform, row)];
  return z;
}

double invert_target(const TargetTransform& transform, double z, int64_t row) {
  if (!transform.seasonal.empty()) z += transform.seasonal[position(transform, row)];
  return transform.log ? std::exp(z) : z;
}

std::string target_transform_json(const TargetTransform& transform) {
  return json_text::dump(nlohmann::json{{"log", transform.log}, {"seasonal", transform.seasonal}});
}

TargetTransform target_transform_from_json(const std::string& path, const std::string& text) {
  TargetTransform transform;
  try {
    const nlohmann::json value = json_text::parse(text);
    transform.log = value.at("log").get<bool>();
    transform.seasonal = value.at("seasonal").get<std::vector<double>>();
  } catch (const nlohmann::json::exception& error) {
    throw Error(path + ": metadata 'forecast': 'target_transform' is invalid: " +
                std::string(error.what()));
  }
  for (double s : transform.seasonal)
    if (!std::isfinite(s))
      throw Error(path + ": metadata 'forecast': 'target_transform' has a non-finite index");
  if (transform.seasonal.size() == 1)
    throw Error(path + ": metadata 'forecast': 'target_transform' has a season of 1");
  return transform;
}

}  // namespace lstm::apps
