// The classical methods by name: naive, seasonal-naive, exponential smoothing variants, Theta
// and M4's Comb, with the decomposition and seasonality test that Theta and Comb rely on.
#include "apps/classical.hpp"

#include <algorithm>
#include <cmath>

#include "apps/arima.hpp"
#include "lstm/error.hpp"

namespace lstm::apps {
namespace {

// Slope of the least-squares line through (t, y_t).
double slope(std::span<const double> y) {
  const double n = static_cast<double>(y.size()), mean_t = (n - 1) / 2;
  double mean_y = 0.0, stt = 0.0, sty = 0.0;
  for (double v : y) mean_y += v / n;
  for (size_t t = 0; t < y.size(); ++t) {
    stt += (static_cast<double>(t) - mean_t) * (static_cast<double>(t) - mean_t);
    sty += (static_cast<double>(t) - mean_t) * (y[t] - mean_y);
  }
  return stt > 0 ? sty / stt : 0.0;
}

// The season of y by thetaf's or M4's rule: the figure [m] when the test says seasonal and no
// index is near 0, else empty.
std::vector<double> tested_season(std::span<const double> y, int64_t period, int64_t min_length) {
  if (period < 2 || !seasonality_test(y, period, min_length)) return {};
  for (double v : y)
    if (!(v > 0.0)) return {};  // a multiplicative decomposition needs positive values
  std::vector<double> figure = multiplicative_season(y, period);
  for (double s : figure)
    if (std::fabs(s) < 1e-4) return {};
  return figure;
}

std::vector<double> adjust(std::span<const double> y, const std::vector<double>& figure) {
  std::vector<double> out(y.begin(), y.end());
  if (!figure.empty())
    for (size_t t = 0; t < out.size(); ++t) out[t] /= figure[t % figure.size()];
  return out;
}

void reseasonalise(std::vector<double>& forecast, const std::vector<double>& figure, size_t n) {
  if (!figure.empty())
    for (size_t h = 0; h < forecast.size(); ++h) forecast[h] *= figure[(n + h) % figure.size()];
}

std::vector<double> comb_forecast(std::span<const double> y, int64_t period, int64_t steps) {
  const std::vector<double> figure = tested_season(y, period, 3 * period - 1);
  const std::vector<double> adjusted = adjust(y, figure);
  std::vector<double> mean(static_cast<size_t>(steps), 0.0);
  for (TrendKind trend : {TrendKind::none, TrendKind::additive, TrendKind::damped}) {
    const std::vector<double> f =
        smoothing_forecast(fit_smoothing(adjusted, {trend, SeasonKind::none, 0}), steps);
    for (size_t h = 0; h < mean.size(); ++h) mean[h] += f[h] / 3.0;
  }
  reseasonalise(mean, figure, y.size());
  return mean;
}

}  // namespace

std::vector<double> multiplicative_season(std::span<const double> y, int64_t period) {
  const auto n = static_cast<int64_t>(y.size());
  if (period < 2 || n < 2 * period)
    throw Error("decomposition: " + std::to_string(n) + " values, fewer than two periods of " +
                std::to_string(period));
  const int64_t half = period / 2;
  std::vector<double> sum(static_cast<size_t>(period), 0.0), count(sum.size(), 0.0);
  for (int64_t t = half; t + half < n; ++t) {
    // Centred moving average over one period (2×m for even m: half weights at both ends).
    double trend = 0.0;
    for (int64_t k = -half; k <= half; ++k)
      trend += (period % 2 == 0 && (k == -half || k == half) ? 0.5 : 1.0) * y[t + k];
    trend /= static_cast<double>(period);
    sum[t % period] += y[t] / trend;
    count[t % period] += 1.0;
  }
  double mean = 0.0;
  for (int64_t j = 0; j < period; ++j) mean += (sum[j] /= count[j]) / static_cast<double>(period);
  for (double& s : sum) s /= mean;
  return sum;
}

bool seasonality_test(std::span<const double> y, int64_t period, int64_t min_length) {
  const auto n = static_cast<int64_t>(y.size());
  if (period < 2 || n <= min_length || n <= period) return false;
  double mean = 0.0;
  for (double v : y) mean += v / static_cast<double>(n);
  double energy = 0.0;
  for (double v : y) energy += (v - mean) * (v - mean);
  if (!(energy > 0.0)) return false;  // constant
  auto acf = [&](int64_t lag) {
    double sum = 0.0;
    for (int64_t t = 0; t + lag < n; ++t) sum += (y[t] - mean) * (y[t + lag] - mean);
    return sum / energy;
  };
  double squares = 0.0;
  for (int64_t k = 1; k < period; ++k) squares += acf(k) * acf(k);
  const double limit =
      1.6448536269514722 * std::sqrt((1.0 + 2.0 * squares) / static_cast<double>(n));
  return std::fabs(acf(period)) > limit;
}

std::vector<double> theta_forecast(std::span<const double> y, int64_t period, int64_t steps,
                                   const SmoothingParams* ses) {
  const std::vector<double> figure = tested_season(y, period, 2 * period);
  const std::vector<double> x = adjust(y, figure);
  const SmoothingSpec spec{TrendKind::none, SeasonKind::none, 0};
  const SmoothingFit fit = ses ? smoothing_filter(x, spec, *ses) : fit_smoothing(x, spec);
  const double drift = slope(x) / 2.0;
  const double alpha = std::max(1e-10, fit.params.alpha);
  const double n = static_cast<double>(x.size());
  std::vector<double> out(static_cast<size_t>(steps));
  for (int64_t h = 0; h < steps; ++h)
    out[h] =
        fit.level + drift * (static_cast<double>(h) + (1.0 - std::pow(1.0 - alpha, n)) / alpha);
  reseasonalise(out, figure, y.size());
  return out;
}

std::string method_name(ClassicalMethod method) {
  switch (method) {
    case ClassicalMethod::naive:
      return "naive";
    case ClassicalMethod::seasonal_naive:
      return "seasonal-naive";
    case ClassicalMethod::ses:
      return "ses";
    case ClassicalMethod::holt:
      return "holt";
    case ClassicalMethod::damped:
      return "damped";
    case ClassicalMethod::holt_winters_additive:
      return "holt-winters-additive";
    case ClassicalMethod::holt_winters_multiplicative:
      return "holt-winters-multiplicative";
    case ClassicalMethod::holt_winters_damped:
      return "holt-winters-damped";
    case ClassicalMethod::seasonal_additive:
      return "seasonal-smoothing-additive";
    case ClassicalMethod::seasonal_multiplicative:
      return "seasonal-smoothing-multiplicative";
    case ClassicalMethod::theta:
      return "theta";
    case ClassicalMethod::comb:
      return "comb";
    case ClassicalMethod::arima:
      return "arima";
    case ClassicalMethod::arima_log:
      return "arima-log";
  }
  return "?";
}

std::vector<ClassicalMethod> classical_methods(int64_t period) {
  using M = ClassicalMethod;
  if (period > 1)
    return {M::naive,
            M::seasonal_naive,
            M::ses,
            M::holt,
            M::damped,
            M::holt_winters_additive,
            M::holt_winters_multiplicative,
            M::holt_winters_damped,
            M::seasonal_additive,
            M::seasonal_multiplicative,
            M::theta,
            M::comb,
            M::arima};
  return {M::naive, M::ses, M::holt, M::damped, M::theta, M::comb, M::arima};
}

std::vector<double> classical_forecast(ClassicalMethod method, std::span<const double> y,
                                       int64_t period, int64_t steps) {
  const auto n = static_cast<int64_t>(y.size());
  if (n < 1 || steps < 1)
    throw Error(method_name(method) + ": " + std::to_string(n) + " values, " +
                std::to_string(steps) + " steps");
  std::vector<double> out(static_cast<size_t>(steps));
  auto smoothing = [&](TrendKind trend, SeasonKind season) {
    return smoothing_forecast(fit_smoothing(y, {trend, season, period}), steps);
  };
  switch (method) {
    case ClassicalMethod::naive:
      std::fill(out.begin(), out.end(), y.back());
      return out;
    case ClassicalMethod::seasonal_naive:
      if (period < 2 || n < period)
        throw Error("seasonal-naive: " + std::to_string(n) + " values for a period of " +
                    std::to_string(period));
      for (int64_t h = 0; h < steps; ++h) out[h] = y[n - period + h % period];
      return out;
    case ClassicalMethod::ses:
      return smoothing(TrendKind::none, SeasonKind::none);
    case ClassicalMethod::holt:
      return smoothing(TrendKind::additive, SeasonKind::none);
    case ClassicalMethod::damped:
      return smoothing(TrendKind::damped, SeasonKind::none);
    case ClassicalMethod::holt_winters_additive:
      return smoothing(TrendKind::additive, SeasonKind::additive);
    case ClassicalMethod::holt_winters_multiplicative:
      return smoothing(TrendKind::additive, SeasonKind::multiplicative);
    case ClassicalMethod::holt_winters_damped:
      return smoothing(TrendKind::damped, SeasonKind::additive);
    case ClassicalMethod::seasonal_additive:
      return smoothing(TrendKind::none, SeasonKind::additive);
    case ClassicalMethod::seasonal_multiplicative:
      return smoothing(TrendKind::none, SeasonKind::multiplicative);
    case ClassicalMethod::theta:
      return theta_forecast(y, period, steps);
    case ClassicalMethod::comb:
      return comb_forecast(y, period, steps);
    case ClassicalMethod::arima:
      return arima_forecast(auto_arima(y, period), steps);
    case ClassicalMethod::arima_log:
      return exp_forecast(arima_forecast(auto_arima(log_series(y), period), steps));
  }
  throw Error("unknown classical method");
}

}  // namespace lstm::apps
