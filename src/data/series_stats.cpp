// Statistics of a time series for forecasting: normalisation, season detection, the naive and
// seasonal-naive baselines with RMSE / MAE / MASE, and supervised windows.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "data/io_detail.hpp"
#include "data/json_text.hpp"
#include "data/metadata_json.hpp"
#include "data/safe_scale.hpp"
#include "lstm/data.hpp"
#include "lstm/error.hpp"

namespace lstm {
namespace {

using detail::fail;
using nlohmann::json;

// Rows of a row-major [rows, features] buffer; throws naming `what` if the size does not divide.
int64_t row_count(const char* what, size_t size, int64_t features) {
  if (features < 1) throw Error(std::string(what) + ": " + std::to_string(features) + " features");
  if (size % static_cast<size_t>(features) != 0)
    throw Error(std::string(what) + ": " + std::to_string(size) + " values are not rows of " +
                std::to_string(features) + " features");
  return static_cast<int64_t>(size) / features;
}

// The values of a JSON field that must be a non-empty list of finite numbers.
std::vector<double> number_list(std::string_view name, const json& value, const char* key) {
  if (!value.contains(key) || !value[key].is_array() || value[key].empty())
    fail(name, std::string("normalization: '") + key + "' is missing or not a non-empty list");
  std::vector<double> numbers;
  for (const json& item : value[key]) {
    if (!item.is_number() || !std::isfinite(item.get<double>()))
      fail(name, std::string("normalization: '") + key + "'[" + std::to_string(numbers.size()) +
                     "] is not a finite number: " + json_text::dump(item));
    numbers.push_back(item.get<double>());
  }
  return numbers;
}

}  // namespace

namespace detail {

double overflow_safe_scale(std::span<const double> values) {
  double largest = 0.0;
  for (double v : values)
    if (std::isfinite(v)) largest = std::max(largest, std::fabs(v));
  int exponent = 0;
  std::frexp(largest, &exponent);  // largest < 2^exponent
  return exponent > 480 ? std::ldexp(1.0, 480 - exponent) : 1.0;
}

}  // namespace detail

Normalization Normalization::fit(std::span<const double> values, int64_t features) {
  const int64_t rows = row_count("normalization", values.size(), features);
  if (rows < 1) throw Error("normalization: no rows to compute statistics from");
  Normalization result;
  result.mean.assign(static_cast<size_t>(features), 0.0);
  result.stddev.assign(static_cast<size_t>(features), 0.0);
  for (int64_t f = 0; f < features; ++f) {
    // Statistics of the column times s (an exact power of two, 1 unless values pass 2^480), so
    // that neither the sum nor the squares overflow; mean and stddev are then at most max |x|.
    double largest = 0.0;
    for (int64_t r = 0; r < rows; ++r)
      largest = std::max(largest, std::fabs(values[r * features + f]));
    const double s = detail::overflow_safe_scale(std::span<const double>(&largest, 1));
    double sum = 0.0;
    for (int64_t r = 0; r < rows; ++r) sum += values[r * features + f] * s;
    const double mean = sum / static_cast<double>(rows);
    double squares = 0.0;
    for (int64_t r = 0; r < rows; ++r)
      squares += (values[r * features + f] * s - mean) * (values[r * features + f] * s - mean);
    const double stddev = std::sqrt(squares / static_cast<double>(rows));
    result.mean[f] = mean / s;
    // A constant column (no spread beyond rounding) normalises to about 0 with the scale 1, or
    // 1e-12·|mean| if larger (so that the rounding of a huge mean stays small).
    result.stddev[f] = stddev > 1e-12 * std::max(s, std::fabs(mean))
                           ? stddev / s
                           : std::max(1.0, 1e-12 * std::fabs(mean) / s);
  }
  return result;
}

void Normalization::apply(std::span<double> values) const {
  const auto features = static_cast<int64_t>(mean.size());
  const int64_t rows = row_count("normalization", values.size(), features);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t f = 0; f < features; ++f)
      values[r * features + f] = (values[r * features + f] - mean[f]) / stddev[f];
}

void Normalization::invert(std::span<double> values) const {
  const auto features = static_cast<int64_t>(mean.size());
  const int64_t rows = row_count("normalization", values.size(), features);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t f = 0; f < features; ++f)
      values[r * features + f] = invert(values[r * features + f], f);
}

double Normalization::invert(double value, int64_t feature) const {
  if (feature < 0 || feature >= static_cast<int64_t>(mean.size()))
    throw Error("normalization: no feature " + std::to_string(feature) + " of " +
                std::to_string(mean.size()));
  return value * stddev[feature] + mean[feature];
}

std::string Normalization::to_json() const {
  json value = json::object();
  value["mean"] = mean;
  value["std"] = stddev;
  return json_text::dump(value);
}

Normalization Normalization::from_json(std::string_view name, std::string_view text) {
  const json value = detail::parse_metadata_object(name, text, "normalization", {"mean", "std"});
  Normalization result;
  result.mean = number_list(name, value, "mean");
  result.stddev = number_list(name, value, "std");
  if (result.mean.size() != result.stddev.size())
    fail(name, "normalization: 'mean' has " + std::to_string(result.mean.size()) +
                   " values, 'std' has " + std::to_string(result.stddev.size()));
  for (size_t f = 0; f < result.stddev.size(); ++f)
    if (!(result.stddev[f] > 0.0))
      fail(name, "normalization: 'std'[" + std::to_string(f) + "] is not positive");
  return result;
}

int64_t detect_season(std::span<const double> unscaled, int64_t max_period) {
  // The autocorrelation is scale-free: huge values are scaled (exactly) so that nothing overflows.
  const double s = detail::overflow_safe_scale(unscaled);
  std::vector<double> scaled;
  if (s != 1.0)
    for (double v : unscaled) scaled.push_back(v * s);
  const std::span<const double> values = s != 1.0 ? std::span<const double>(scaled) : unscaled;
  const auto n = static_cast<int64_t>(values.size());
  const int64_t max_lag = std::min(n / 3, max_period > 0 ? max_period : 1000);
  if (n < 8 || max_lag < 2) return 0;
  // Residuals of the least-squares line through (t, values[t]).
  const double t_mean = static_cast<double>(n - 1) / 2.0;
  double y_mean = 0.0;
  for (double v : values) y_mean += v;
  y_mean /= static_cast<double>(n);
  double covariance = 0.0, t_variance = 0.0, total = 0.0;
  for (int64_t t = 0; t < n; ++t) {
    covariance += (static_cast<double>(t) - t_mean) * (values[t] - y_mean);
    t_variance += (static_cast<double>(t) - t_mean) * (static_cast<double>(t) - t_mean);
    total += (values[t] - y_mean) * (values[t] - y_mean);
  }
  const double slope = covariance / t_variance;
  std::vector<double> residual(static_cast<size_t>(n));
  double energy = 0.0;
  for (int64_t t = 0; t < n; ++t) {
    residual[t] = values[t] - y_mean - slope * (static_cast<double>(t) - t_mean);
    energy += residual[t] * residual[t];
  }
  if (!(energy > 1e-12 * total) || !std::isfinite(energy)) return 0;  // constant or a straight line
  std::vector<double> acf(static_cast<size_t>(max_lag + 2));          // [lag] autocorrelation
  for (int64_t lag = 0; lag <= max_lag + 1; ++lag) {
    double sum = 0.0;
    for (int64_t t = lag; t < n; ++t) sum += residual[t] * residual[t - lag];
    acf[lag] = sum / energy;
  }
  std::vector<int64_t> peaks;
  double trough = acf[1], best = 0.0;
  for (int64_t lag = 2; lag <= max_lag; ++lag) {
    if (acf[lag] > acf[lag - 1] && acf[lag] >= acf[lag + 1] && acf[lag] >= 0.3 &&
        acf[lag] - trough >= 0.2) {
      peaks.push_back(lag);
      best = std::max(best, acf[lag]);
    }
    trough = std::min(trough, acf[lag]);
  }
  for (int64_t lag : peaks)
    if (acf[lag] >= 0.9 * best) return lag;
  return 0;
}

int64_t detect_season(const Series& series, int64_t feature) {
  return detect_season(series.column(feature));
}

double mase_scale(std::span<const double> train, int64_t period) {
  const int64_t lag = period > 0 ? period : 1;
  const auto n = static_cast<int64_t>(train.size());
  if (n <= lag)
    throw Error("MASE: the training part has " + std::to_string(n) +
                " values, not more than the lag " + std::to_string(lag));
  const double s = detail::overflow_safe_scale(train) / 2;  // halves: differences stay finite
  double sum = 0.0;
  for (int64_t t = lag; t < n; ++t) sum += std::fabs(train[t] * s - train[t - lag] * s);
  return sum / static_cast<double>(n - lag) / s;
}

ForecastMetrics forecast_metrics(std::span<const double> actual, std::span<const double> predicted,
                                 double scale) {
  if (actual.size() != predicted.size() || actual.empty())
    throw Error("forecast metrics: " + std::to_string(actual.size()) + " actual and " +
                std::to_string(predicted.size()) + " predicted values");
  ForecastMetrics metrics;
  // Errors times s (an exact power of two, 1 for values of ordinary size): neither a difference
  // nor a square overflows for finite values.
  const double s = std::min(detail::overflow_safe_scale(actual),
                            detail::overflow_safe_scale(predicted)) / 2;
  double squares = 0.0, absolute = 0.0;
  for (size_t k = 0; k < actual.size(); ++k) {
    const double error = predicted[k] * s - actual[k] * s;
    squares += error * error;
    absolute += std::fabs(error);
  }
  metrics.count = static_cast<int64_t>(actual.size());
  metrics.rmse = std::sqrt(squares / static_cast<double>(metrics.count)) / s;
  metrics.mae = absolute / static_cast<double>(metrics.count) / s;
  metrics.mase = scale > 0.0 ? metrics.mae / scale : std::numeric_limits<double>::quiet_NaN();
  return metrics;
}

Baselines evaluate_baselines(std::span<const double> values, int64_t split, int64_t period,
                             int64_t horizon) {
  const auto n = static_cast<int64_t>(values.size());
  if (horizon < 1 || period < 0)
    throw Error("baselines: horizon must be at least 1 and period at least 0");
  if (split < 1 || split + horizon > n)
    throw Error("baselines: split at row " + std::to_string(split) + " of " + std::to_string(n) +
                " leaves no validation forecast of horizon " + std::to_string(horizon));
  Baselines baselines;
  baselines.period = period;
  const double scale = mase_scale(values.first(static_cast<size_t>(split)), period);
  std::vector<double> actual, naive, seasonal;
  for (int64_t origin = split; origin + horizon <= n; ++origin)
    for (int64_t h = 0; h < horizon; ++h) {
      actual.push_back(values[origin + h]);
      naive.push_back(values[origin - 1]);
      if (period > 0) seasonal.push_back(values[origin + h - period * ((h + period) / period)]);
    }
  baselines.naive = forecast_metrics(actual, naive, scale);
  if (period > 0) baselines.seasonal_naive = forecast_metrics(actual, seasonal, scale);
  return baselines;
}

WindowSet make_windows(std::span<const double> values, int64_t features,
                       const WindowOptions& options) {
  const int64_t rows = row_count("windows", values.size(), features);
  const int64_t end = options.end < 0 ? rows : options.end;
  if (options.window < 1 || options.horizon < 1 || options.stride < 1)
    throw Error("windows: window, horizon and stride must be at least 1");
  if (options.target_column < 0 || options.target_column >= features)
    throw Error("windows: target column " + std::to_string(options.target_column) + " of " +
                std::to_string(features) + " features");
  if (end > rows || options.first_origin < 0)
    throw Error("windows: rows " + std::to_string(options.first_origin) + ".." +
                std::to_string(end) + " are not within the " + std::to_string(rows) + " rows");
  WindowSet set;
  set.window = options.window;
  set.horizon = options.horizon;
  set.features = features;
  for (int64_t t = std::max(options.first_origin, options.window); t + options.horizon <= end;
       t += options.stride)
    set.origins.push_back(t);
  set.count = static_cast<int64_t>(set.origins.size());
  if (set.count == 0)
    throw Error("windows: no sample fits: a window of " + std::to_string(options.window) +
                " and a horizon of " + std::to_string(options.horizon) + " with targets from row " +
                std::to_string(std::max(options.first_origin, options.window)) + " to " +
                std::to_string(end));
  set.inputs.reserve(static_cast<size_t>(set.count * options.window * features));
  set.targets.reserve(static_cast<size_t>(set.count * options.horizon));
  for (int64_t t : set.origins) {
    for (int64_t k = (t - options.window) * features; k < t * features; ++k)
      set.inputs.push_back(static_cast<float>(values[k]));
    for (int64_t h = 0; h < options.horizon; ++h)
      set.targets.push_back(static_cast<float>(values[(t + h) * features + options.target_column]));
  }
  return set;
}

}  // namespace lstm
