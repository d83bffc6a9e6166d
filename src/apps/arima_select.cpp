// The automatic ARIMA order: differences by tests, then a stepwise search on AICc after
// Hyndman & Khandakar (2008), the algorithm of R forecast's auto.arima, its starting models and
// order of moves. What differs from R: the seasonal difference is decided on the seasonal
// strength of a moving-average decomposition where R's nsdiffs uses STL; R's fallbacks (a
// non-stepwise search when the stepwise one fails) are absent.
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <tuple>

#include "apps/arima.hpp"
#include "lstm/error.hpp"

namespace lstm::apps {
namespace {

std::vector<double> difference(std::span<const double> y, int64_t lag) {
  std::vector<double> out;
  for (size_t t = static_cast<size_t>(lag); t < y.size(); ++t) out.push_back(y[t] - y[t - lag]);
  return out;
}

bool is_constant(std::span<const double> y) {
  return std::all_of(y.begin(), y.end(), [&](double v) { return v == y.front(); });
}

double variance(const std::vector<double>& x) {
  double mean = 0.0, sum = 0.0;
  for (double v : x) mean += v / static_cast<double>(x.size());
  for (double v : x) sum += (v - mean) * (v - mean);
  return x.size() > 1 ? sum / static_cast<double>(x.size() - 1) : 0.0;
}

}  // namespace

double kpss_statistic(std::span<const double> y, int64_t lags) {
  const auto n = static_cast<int64_t>(y.size());
  double mean = 0.0;
  for (double v : y) mean += v / static_cast<double>(n);
  double partial = 0.0, eta = 0.0, s2 = 0.0;
  for (double v : y) {
    partial += v - mean;
    eta += partial * partial;
    s2 += (v - mean) * (v - mean);
  }
  for (int64_t k = 1; k <= lags; ++k) {
    double sum = 0.0;
    for (int64_t t = k; t < n; ++t) sum += (y[t] - mean) * (y[t - k] - mean);
    s2 += 2.0 * (1.0 - static_cast<double>(k) / static_cast<double>(lags + 1)) * sum;
  }
  const double nn = static_cast<double>(n);
  return (eta / (nn * nn)) / (s2 / nn);
}

int kpss_differences(std::span<const double> y) {
  std::vector<double> x(y.begin(), y.end());
  int d = 0;
  while (d < 2 && x.size() > 2 && !is_constant(x)) {
    const auto lags =
        static_cast<int64_t>(std::trunc(3.0 * std::sqrt(static_cast<double>(x.size())) / 13.0));
    if (!(kpss_statistic(x, lags) > 0.463)) break;  // urca's 5% critical value
    x = difference(x, 1);
    ++d;
  }
  return d;
}

int seasonal_differences(std::span<const double> y, int64_t period) {
  const auto n = static_cast<int64_t>(y.size());
  if (period < 2 || n < 2 * period + 1 || is_constant(y)) return 0;
  const int64_t half = period / 2;
  std::vector<double> detrended(y.size(), std::nan(""));
  for (int64_t t = half; t + half < n; ++t) {
    double trend = 0.0;  // centred moving average over one period (2×m for even m)
    for (int64_t k = -half; k <= half; ++k)
      trend += (period % 2 == 0 && (k == -half || k == half) ? 0.5 : 1.0) * y[t + k];
    detrended[t] = y[t] - trend / static_cast<double>(period);
  }
  // The season at t: the mean detrended value at t ± k·m, |k| ≤ 5 (a moving seasonal figure over
  // 11 cycles, as mstl's default seasonal window, unweighted where STL fits loess).
  std::vector<double> remainder, season_and_remainder;
  for (int64_t t = 0; t < n; ++t) {
    if (std::isnan(detrended[t])) continue;
    double season = 0.0, count_near = 0.0;
    for (int64_t k = -5; k <= 5; ++k) {
      const int64_t u = t + k * period;
      if (u >= 0 && u < n && !std::isnan(detrended[u])) season += detrended[u], count_near += 1.0;
    }
    remainder.push_back(detrended[t] - season / count_near);
    season_and_remainder.push_back(detrended[t]);
  }
  const double total = variance(season_and_remainder);
  const double strength = total > 0.0 ? std::max(0.0, 1.0 - variance(remainder) / total) : 0.0;
  return strength > 0.64 ? 1 : 0;
}

ArimaMethod arima_method(int64_t n, int64_t period) {
  return n > 150 || period > 12 ? ArimaMethod::css : ArimaMethod::css_ml;
}

ArimaFit auto_arima(std::span<const double> y, int64_t period) {
  const int64_t m = period > 1 ? period : 1;
  const int D = m > 1 ? seasonal_differences(y, m) : 0;
  const std::vector<double> seasonally_differenced =
      D > 0 ? difference(y, m) : std::vector<double>(y.begin(), y.end());
  const int d = kpss_differences(seasonally_differenced);
  const bool constant_allowed = d + D <= 1;
  // R's bounds, from the length before differencing: p, q ≤ 5 and P, Q ≤ 2, each at most a third
  // of the values (in seasons for P, Q); with a seasonal part, p, q < m.
  const auto length = static_cast<int64_t>(y.size());
  const int max_sp = m > 1 ? static_cast<int>(std::min<int64_t>(2, length / 3 / m)) : 0;
  const int max_p = static_cast<int>(std::min<int64_t>({5, length / 3, max_sp > 0 ? m - 1 : 5}));

  // As auto.arima: candidates by exact likelihood, unless the series is long or its season is,
  // when they are compared by CSS and the chosen one is refitted.
  const ArimaMethod search = arima_method(static_cast<int64_t>(y.size()), m);
  const bool approximate = search == ArimaMethod::css;
  using Key = std::tuple<int, int, int, int, bool>;  // p, q, P, Q, constant
  std::map<Key, ArimaFit> tried;
  const ArimaFit* best = nullptr;
  auto consider = [&](int p, int q, int P, int Q, bool constant) {
    if (p < 0 || q < 0 || P < 0 || Q < 0 || p > max_p || q > max_p || P > max_sp || Q > max_sp)
      return false;
    if (constant && !constant_allowed) return false;
    const Key key{p, q, P, Q, constant};
    if (tried.contains(key) || tried.size() >= 94) return false;  // R's nmodels
    ArimaFit fit;
    try {
      fit = fit_arima(y, {p, d, q, P, D, Q, m, constant}, search);
      if (!fit.stationary_invertible) fit.aicc = std::numeric_limits<double>::infinity();
    } catch (const Error&) {
      fit.aicc = std::numeric_limits<double>::infinity();
    }
    const ArimaFit& stored = tried[key] = std::move(fit);
    if (std::isfinite(stored.aicc) && (!best || stored.aicc < best->aicc)) {
      best = &stored;
      return true;
    }
    return false;
  };
  // R's starting models and its order of moves from the best so far, restarting at the first
  // that improves on it. As in R, the moves keep the constant of the first model unless the last
  // move (toggling it) improves, even when the model without it started best.
  bool constant = constant_allowed;
  const int seasonal = m > 1 && max_sp > 0 ? 1 : 0, first = max_p > 0 ? 1 : 0;
  int p = std::min(2, max_p), q = p, P = std::min(1, max_sp), Q = P;
  consider(p, q, P, Q, constant);
  if (consider(0, 0, 0, 0, constant)) p = q = P = Q = 0;
  if (consider(first, 0, seasonal, 0, constant)) p = first, q = 0, P = seasonal, Q = 0;
  if (consider(0, first, 0, seasonal, constant)) p = 0, q = first, P = 0, Q = seasonal;
  if (constant && consider(0, 0, 0, 0, false)) p = q = P = Q = 0;
  auto move = [&](int dp, int dq, int dP, int dQ) {
    if (!consider(p + dp, q + dq, P + dP, Q + dQ, constant)) return false;
    p += dp, q += dq, P += dP, Q += dQ;
    return true;
  };
  bool improved = best != nullptr;
  while (improved) {
    improved = move(0, 0, -1, 0) || move(0, 0, 0, -1) || move(0, 0, 1, 0) || move(0, 0, 0, 1) ||
               move(0, 0, -1, -1) || move(0, 0, -1, 1) || move(0, 0, 1, -1) || move(0, 0, 1, 1) ||
               move(-1, 0, 0, 0) || move(0, -1, 0, 0) || move(1, 0, 0, 0) || move(0, 1, 0, 0) ||
               move(-1, -1, 0, 0) || move(-1, 1, 0, 0) || move(1, -1, 0, 0) || move(1, 1, 0, 0);
    if (!improved && constant_allowed && consider(p, q, P, Q, !constant)) {
      constant = !constant;
      improved = true;
    }
  }
  if (!best)
    throw Error("arima: no model could be fitted to " + std::to_string(y.size()) + " values");
  // Refitted by exact likelihood in the order of their CSS AICc, the first that stays stationary
  // and invertible (as auto.arima), unless the season is over 12: the state then has over m
  // dimensions, and the refits made the search on 480 weekly values take 3.3 s instead of
  // 0.6 s, so the CSS choice stands.
  if (!approximate || m > 12) return *best;
  std::vector<const ArimaFit*> order;
  for (const auto& [key, fit] : tried)
    if (std::isfinite(fit.aicc)) order.push_back(&fit);
  std::stable_sort(order.begin(), order.end(),
                   [](const ArimaFit* a, const ArimaFit* b) { return a->aicc < b->aicc; });
  for (const ArimaFit* candidate : order) {
    ArimaFit refit = fit_arima(y, candidate->order);
    if (refit.stationary_invertible) return refit;
  }
  throw Error("arima: no stationary, invertible model for " + std::to_string(y.size()) + " values");
}

}  // namespace lstm::apps
