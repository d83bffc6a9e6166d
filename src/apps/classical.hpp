// Classical forecasting methods, the baselines and safety net of the LSTM forecaster: naive,
// seasonal-naive, exponential smoothing (simple, Holt, damped Holt, Holt-Winters additive and
// multiplicative) fitted by in-sample one-step squared error, the Theta method and the M4
// competition's Comb benchmark. The recursions and defaults follow R's forecast package (ets,
// ses, holt, hw, thetaf; tests/data/classical/ compares with it).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace lstm::apps {

enum class TrendKind { none, additive, damped };
enum class SeasonKind { none, additive, multiplicative };

struct SmoothingSpec {
  TrendKind trend = TrendKind::none;
  SeasonKind season = SeasonKind::none;
  int64_t period = 0;  // m (> 1 with a season)
};

// An exponential smoothing model in error-correction form (Hyndman et al.'s ETS): with
// base = l + φb and s the seasonal state of y_t's position, the one-step forecast is
// μ = base (+ s, or × s), e = y − μ, and
//   l ← base + α e (÷ s multiplicative)   b ← φ b + β e (÷ s)   s ← s + γ e (÷ base).
struct SmoothingParams {
  double alpha = 0.0, beta = 0.0, gamma = 0.0, phi = 1.0;
  double level = 0.0, trend = 0.0;  // l₀, b₀: the states before the first value
  std::vector<double> seasonal;     // [m] the states for y_0 .. y_{m-1}, oldest first
};

struct SmoothingFit {
  SmoothingSpec spec;
  SmoothingParams params;
  std::vector<double> fitted;  // [n] one-step forecasts μ_t
  double mse = 0.0;            // mean (y_t − μ_t)² (+inf when a state leaves its domain)
  // The states after the last value, for forecasting.
  double level = 0.0, trend = 0.0;
  std::vector<double> seasonal;  // [m] the states for the next m values, in order
};

// Runs the recursion over y with given parameters (no fitting).
SmoothingFit smoothing_filter(std::span<const double> y, const SmoothingSpec& spec,
                              const SmoothingParams& params);
// Fits α, β, γ, φ and the initial states by minimising the in-sample one-step MSE (Nelder-Mead,
// R's bounds: α ∈ [1e-4, 0.9999], β ∈ [1e-4, α], γ ∈ [1e-4, 1 − α], φ ∈ [0.8, 0.98]; seasonal
// states normalised to sum 0, or m when multiplicative; initial values as R's ets).
// Throws for a series too short (fewer than max(4, parameters + 1) values, and 2 full seasons
// with a season) or, multiplicative, with a value ≤ 0.
SmoothingFit fit_smoothing(std::span<const double> y, const SmoothingSpec& spec);
// The next `steps` values after the fit's data [steps].
std::vector<double> smoothing_forecast(const SmoothingFit& fit, int64_t steps);

// Classical multiplicative decomposition (R's decompose): the seasonal figure [m] (mean 1) of
// y / centred moving average, by position from the series' start; figure[t mod m] applies to y_t.
std::vector<double> multiplicative_season(std::span<const double> y, int64_t period);
// The 90% autocorrelation test for seasonality used by thetaf and the M4 benchmarks:
// |r_m| > 1.645 √((1 + 2 Σ_{k<m} r_k²) / n); false when n ≤ min_length or the series is constant.
bool seasonality_test(std::span<const double> y, int64_t period, int64_t min_length);

// The Theta method as R's thetaf: SES on the (if seasonal) multiplicatively adjusted series,
// plus half the least-squares slope with α's drift correction, reseasonalised. `ses`, if given,
// replaces SES's own fit (α and l₀; for checking against R's parameters).
std::vector<double> theta_forecast(std::span<const double> y, int64_t period, int64_t steps,
                                   const SmoothingParams* ses = nullptr);

// The methods every report compares (and forecast may choose).
enum class ClassicalMethod {
  naive,
  seasonal_naive,
  ses,
  holt,
  damped,
  holt_winters_additive,
  holt_winters_multiplicative,
  holt_winters_damped,      // additive season, damped trend (ETS A,Ad,A)
  seasonal_additive,        // a level and an additive season, no trend (ETS A,N,A)
  seasonal_multiplicative,  // a level and a multiplicative season, no trend (ETS A,N,M)
  theta,
  comb,   // M4: mean of SES, Holt and damped on the seasonally adjusted series, reseasonalised
  arima,  // seasonal ARIMA, order chosen by a stepwise AICc search and fitted by CSS (arima.hpp)
  // The same on log y, forecasts exp() of the log forecasts (R's Box-Cox λ = 0 without bias
  // adjustment: the forecast median); y must be positive. Not in classical_methods: the pool
  // adds it for positive series with a calendar season (classical_pool, rolling_origin.hpp).
  arima_log,
};
std::string method_name(ClassicalMethod method);  // "naive", "seasonal-naive", "ses", ...
// The methods applicable to a series with this period (the seasonal ones need m > 1; arima_log
// is not listed).
std::vector<ClassicalMethod> classical_methods(int64_t period);
// The next `steps` values after y [steps]. A method that cannot be fitted (too short, values
// ≤ 0 for the multiplicative ones and arima_log) throws lstm::Error.
std::vector<double> classical_forecast(ClassicalMethod method, std::span<const double> y,
                                       int64_t period, int64_t steps);

}  // namespace lstm::apps
