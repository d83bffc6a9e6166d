// Exponential smoothing (ETS error-correction form): the recursion, its forecasts and its fit by
// in-sample one-step MSE, with R forecast's bounds and initial values.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "apps/classical.hpp"
#include "apps/nelder_mead.hpp"
#include "lstm/error.hpp"

namespace lstm::apps {
namespace {

constexpr double kInfinity = std::numeric_limits<double>::infinity();
constexpr double kLower = 1e-4, kUpper = 0.9999, kPhiLower = 0.8, kPhiUpper = 0.98;

bool has_trend(const SmoothingSpec& spec) {
  return spec.trend != TrendKind::none;
}
bool has_season(const SmoothingSpec& spec) {
  return spec.season != SeasonKind::none;
}
bool multiplicative(const SmoothingSpec& spec) {
  return spec.season == SeasonKind::multiplicative;
}

// Σ_{k=1..h} φ^k (h for φ = 1).
double damped_sum(double phi, int64_t h) {
  double sum = 0.0, power = 1.0;
  for (int64_t k = 0; k < h; ++k) sum += (power *= phi);
  return sum;
}

// Additive or multiplicative season figure from R's decompose (mean 0, or 1).
std::vector<double> season_figure(std::span<const double> y, int64_t m, bool ratio) {
  if (!ratio) {
    // Additive: the same centred moving average, differences instead of ratios.
    const auto n = static_cast<int64_t>(y.size());
    const int64_t half = m / 2;
    std::vector<double> sum(static_cast<size_t>(m), 0.0), count(static_cast<size_t>(m), 0.0);
    for (int64_t t = half; t + half < n; ++t) {
      double trend = 0.0;
      for (int64_t k = -half; k <= half; ++k)
        trend += (m % 2 == 0 && (k == -half || k == half) ? 0.5 : 1.0) * y[t + k];
      trend /= static_cast<double>(m);
      sum[t % m] += y[t] - trend;
      count[t % m] += 1.0;
    }
    double mean = 0.0;
    for (int64_t j = 0; j < m; ++j) mean += (sum[j] /= count[j]) / static_cast<double>(m);
    for (double& v : sum) v -= mean;
    return sum;
  }
  return multiplicative_season(y, m);
}

// Least-squares line through (t, y_t), t = 1..count: {intercept at t = 0, slope}.
std::pair<double, double> line_fit(std::span<const double> y, int64_t count) {
  const double n = static_cast<double>(count), mean_t = (n + 1) / 2;
  double mean_y = 0.0;
  for (int64_t t = 0; t < count; ++t) mean_y += y[t] / n;
  double stt = 0.0, sty = 0.0;
  for (int64_t t = 0; t < count; ++t) {
    stt += (t + 1 - mean_t) * (t + 1 - mean_t);
    sty += (t + 1 - mean_t) * (y[t] - mean_y);
  }
  const double slope = stt > 0 ? sty / stt : 0.0;
  return {mean_y - slope * mean_t, slope};
}

// R's initstate: the season from a decomposition of the whole series, then the level (and
// trend) from the first max(10, 2m) seasonally adjusted values.
SmoothingParams initial_states(std::span<const double> y, const SmoothingSpec& spec) {
  SmoothingParams params;
  const auto n = static_cast<int64_t>(y.size());
  const int64_t m = has_season(spec) ? spec.period : 1;
  std::vector<double> adjusted(y.begin(), y.end());
  if (has_season(spec)) {
    params.seasonal = season_figure(y, m, multiplicative(spec));
    if (multiplicative(spec)) {
      double sum = 0.0;
      for (double& s : params.seasonal) sum += (s = std::max(s, 0.01));
      for (double& s : params.seasonal) s *= static_cast<double>(m) / sum;
    }
    for (int64_t t = 0; t < n; ++t)
      adjusted[t] =
          multiplicative(spec) ? y[t] / params.seasonal[t % m] : y[t] - params.seasonal[t % m];
  }
  const int64_t count = std::min<int64_t>(std::max<int64_t>(10, 2 * m), n);
  if (has_trend(spec)) {
    const auto [intercept, slope] = line_fit(adjusted, count);
    params.level = intercept;
    params.trend = slope;
  } else {
    params.level = std::accumulate(adjusted.begin(), adjusted.begin() + count, 0.0) /
                   static_cast<double>(count);
  }
  return params;
}

// A value in (low, high) from an unbounded coordinate, and back (logistic).
double squash(double u, double low, double high) {
  return low + (high - low) / (1.0 + std::exp(-u));
}
double unsquash(double value, double low, double high) {
  const double fraction = std::clamp((value - low) / (high - low), 1e-6, 1.0 - 1e-6);
  return std::log(fraction / (1.0 - fraction));
}

// The free parameters of a fit, packed as [α, β?, γ?, φ?, l₀, b₀?, s_1 .. s_{m-1}?] with the
// smoothing parameters mapped onto the real line within their bounds (β within [1e-4, α], γ
// within [1e-4, 1 − α]), so that the simplex never walks into a wall; the seasonal state s_0
// (for y_0) follows from the normalisation. `fit_seasonal_states` false keeps the seasonal
// states fixed (periods above 24, as R's ets refuses them).
struct Packing {
  SmoothingSpec spec;
  bool fit_seasonal_states = true;

  SmoothingParams unpack(std::span<const double> x, const SmoothingParams& fixed) const {
    SmoothingParams p = fixed;
    unpack_into(x, p);
    return p;
  }
  // Overwrites the free parameters of p (whose seasonal states have the right size).
  void unpack_into(std::span<const double> x, SmoothingParams& p) const {
    size_t k = 0;
    p.alpha = squash(x[k++], kLower, kUpper);
    p.beta = has_trend(spec) ? squash(x[k++], kLower, p.alpha) : 0.0;
    p.gamma = has_season(spec) ? squash(x[k++], kLower, std::max(1.0 - p.alpha, 2 * kLower)) : 0.0;
    p.phi = spec.trend == TrendKind::damped ? squash(x[k++], kPhiLower, kPhiUpper) : 1.0;
    p.level = x[k++];
    p.trend = has_trend(spec) ? x[k++] : 0.0;
    if (has_season(spec) && fit_seasonal_states) {
      const int64_t m = spec.period;
      double sum = 0.0;
      for (int64_t j = 1; j < m; ++j) sum += (p.seasonal[j] = x[k++]);
      p.seasonal[0] = (multiplicative(spec) ? static_cast<double>(m) : 0.0) - sum;
    }
  }
  std::vector<double> pack(const SmoothingParams& p) const {
    std::vector<double> x{unsquash(p.alpha, kLower, kUpper)};
    if (has_trend(spec)) x.push_back(unsquash(p.beta, kLower, p.alpha));
    if (has_season(spec))
      x.push_back(unsquash(p.gamma, kLower, std::max(1.0 - p.alpha, 2 * kLower)));
    if (spec.trend == TrendKind::damped) x.push_back(unsquash(p.phi, kPhiLower, kPhiUpper));
    x.push_back(p.level);
    if (has_trend(spec)) x.push_back(p.trend);
    if (has_season(spec) && fit_seasonal_states)
      x.insert(x.end(), p.seasonal.begin() + 1, p.seasonal.end());
    return x;
  }
  bool within_bounds(const SmoothingParams& p) const {  // the squashed ones are by construction
    if (multiplicative(spec))
      for (double s : p.seasonal)
        if (!(s > 0.0)) return false;
    return true;
  }
};

void check_spec(std::span<const double> y, const SmoothingSpec& spec) {
  if (has_season(spec) && spec.period < 2)
    throw Error("exponential smoothing: a seasonal model needs a period of at least 2, not " +
                std::to_string(spec.period));
  if (y.empty()) throw Error("exponential smoothing: an empty series");
}

}  // namespace

namespace {

// The recursion over y: returns the MSE (+inf once a multiplicative state leaves (0, ∞)), writes
// μ_t into `fitted` [n] when given, and leaves the final states in level, trend and `seasonal`
// (seasonal[t mod m] is y_t's state; it starts as params.seasonal). No allocation: the fit's
// objective runs it thousands of times, and its time is the chain from one step to the next.
// Written as R's ets, a step's level waits for the forecast μ = b + s or b·s (b = ℓ + φ·trend),
// the error and, multiplicative, a division by s. Here the state carried is b itself: with the
// scaled error ε = d − b, where d = y − s or y / s does not wait for the chain (s was set a
// season ago), ℓ' = b + αε and trend' = φ·trend + βε give b' = (1 − K)·b + K·d + φ²·trend,
// K = α + φβ: a multiply and an add a step (the same values up to rounding).
double recursion(std::span<const double> y, const SmoothingSpec& spec,
                 const SmoothingParams& params, std::vector<double>& seasonal, double* fitted,
                 double& final_level, double& final_trend) {
  const size_t m = has_season(spec) ? static_cast<size_t>(spec.period) : 0;
  const bool ratio = multiplicative(spec);
  const double phi = spec.trend == TrendKind::damped ? params.phi : 1.0;
  const double alpha = params.alpha, beta = has_trend(spec) ? params.beta : 0.0,
               gamma = params.gamma;
  const double gain = alpha + phi * beta, keep = 1.0 - gain, phi_squared = phi * phi;
  double trend = has_trend(spec) ? params.trend : 0.0;
  double base = params.level + phi * trend;
  seasonal.assign(params.seasonal.begin(), params.seasonal.end());
  double squares = 0.0;
  size_t position = 0;  // t mod m
  for (size_t t = 0; t < y.size(); ++t) {
    const double s = m > 0 ? seasonal[position] : 0.0;
    const double mu = ratio ? base * s : base + s;
    const double e = y[t] - mu;
    if (fitted) fitted[t] = mu;
    squares += e * e;
    if (ratio && !(base > 0.0 && s > 0.0)) {
      final_level = base - phi * trend;
      final_trend = trend;
      return kInfinity;
    }
    const double d = ratio ? y[t] / s : y[t] - s;
    const double next_base = keep * base + (gain * d + phi_squared * trend);
    trend = phi * trend + beta * (d - base);
    if (m > 0) {
      seasonal[position] = s + gamma * (ratio ? e / base : e);
      if (++position == m) position = 0;
    }
    base = next_base;
  }
  final_level = base - phi * trend;
  final_trend = trend;
  return std::isfinite(squares) ? squares / static_cast<double>(y.size()) : kInfinity;
}

}  // namespace

SmoothingFit smoothing_filter(std::span<const double> y, const SmoothingSpec& spec,
                              const SmoothingParams& params) {
  check_spec(y, spec);
  const int64_t m = has_season(spec) ? spec.period : 0;
  if (has_season(spec) && static_cast<int64_t>(params.seasonal.size()) != m)
    throw Error("exponential smoothing: " + std::to_string(params.seasonal.size()) +
                " seasonal states for a period of " + std::to_string(m));
  SmoothingFit fit;
  fit.spec = spec;
  fit.params = params;
  fit.fitted.assign(y.size(), std::nan(""));
  std::vector<double> seasonal;
  fit.mse = recursion(y, spec, params, seasonal, fit.fitted.data(), fit.level, fit.trend);
  // Rotate so that seasonal[0] is the state of the value after the last one.
  if (m > 0)
    for (int64_t j = 0; j < m; ++j)
      fit.seasonal.push_back(seasonal[(static_cast<int64_t>(y.size()) + j) % m]);
  return fit;
}

std::vector<double> smoothing_forecast(const SmoothingFit& fit, int64_t steps) {
  const SmoothingSpec& spec = fit.spec;
  const double phi = spec.trend == TrendKind::damped ? fit.params.phi : 1.0;
  std::vector<double> out(static_cast<size_t>(std::max<int64_t>(steps, 0)));
  for (int64_t h = 1; h <= steps; ++h) {
    const double base = fit.level + damped_sum(phi, h) * fit.trend;
    if (!has_season(spec))
      out[h - 1] = base;
    else {
      const double s = fit.seasonal[(h - 1) % spec.period];
      out[h - 1] = multiplicative(spec) ? base * s : base + s;
    }
  }
  return out;
}

SmoothingFit fit_smoothing(std::span<const double> y, const SmoothingSpec& spec) {
  check_spec(y, spec);
  const auto n = static_cast<int64_t>(y.size());
  const int64_t m = has_season(spec) ? spec.period : 1;
  if (has_season(spec) && n < 2 * m)
    throw Error("exponential smoothing: " + std::to_string(n) +
                " values, fewer than two seasons of " + std::to_string(m));
  if (multiplicative(spec))
    for (double v : y)
      if (!(v > 0.0))
        throw Error("multiplicative seasonality needs positive values; the series has " +
                    std::to_string(v));
  // Fit on y / mean|y| so that the states' steps are of order 1; scale back at the end.
  double scale = 0.0;
  for (double v : y) scale += std::fabs(v) / static_cast<double>(n);
  if (!(scale > 0.0) || !std::isfinite(scale)) scale = 1.0;
  std::vector<double> scaled(y.begin(), y.end());
  for (double& v : scaled) v /= scale;

  Packing packing{spec, spec.period <= 24};
  SmoothingParams start = initial_states(scaled, spec);
  const int64_t parameters = static_cast<int64_t>(packing.pack(start).size());
  if (n < std::max<int64_t>(4, parameters + 1) && !has_season(spec))
    throw Error("exponential smoothing: " + std::to_string(n) + " values for " +
                std::to_string(parameters) + " parameters");
  SmoothingParams trial = start;
  std::vector<double> seasonal_work;
  auto objective = [&](std::span<const double> x) {
    packing.unpack_into(x, trial);
    if (!packing.within_bounds(trial)) return kInfinity;
    double level = 0.0, trend = 0.0;
    return recursion(scaled, spec, trial, seasonal_work, nullptr, level, trend);
  };
  // R's starting values (α small for seasonal data), and two more α to escape local minima.
  Minimum best{{}, kInfinity, 0};
  for (double alpha : {kLower + 0.2 * (kUpper - kLower) / static_cast<double>(m), 0.5, 0.9}) {
    SmoothingParams p = start;
    p.alpha = alpha;
    p.beta = kLower + 0.1 * (std::min(alpha, kUpper) - kLower);
    p.gamma = kLower + 0.05 * (1.0 - alpha - kLower);
    p.phi = kPhiLower + 0.99 * (kPhiUpper - kPhiLower);
    const std::vector<double> x = packing.pack(p);
    if (!std::isfinite(objective(x))) continue;
    std::vector<double> step(x.size());
    for (size_t k = 0; k < x.size(); ++k) step[k] = std::max(0.1 * std::fabs(x[k]), 0.02);
    const size_t smoothing =
        1 + has_trend(spec) + has_season(spec) + (spec.trend == TrendKind::damped);
    for (size_t k = 0; k < smoothing; ++k) step[k] = 1.0;  // logistic coordinates
    const Minimum found =
        nelder_mead(objective, x, step,
                    {.max_evaluations = 200 * static_cast<int>(x.size()), .tolerance = 1e-8});
    if (found.value < best.value) best = found;
  }
  if (!std::isfinite(best.value))
    throw Error("exponential smoothing: no admissible starting point");
  SmoothingParams fitted = packing.unpack(best.point, start);
  fitted.level *= scale;
  fitted.trend *= scale;
  if (spec.season == SeasonKind::additive)
    for (double& s : fitted.seasonal) s *= scale;
  return smoothing_filter(y, spec, fitted);
}

}  // namespace lstm::apps
