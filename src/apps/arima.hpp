// Seasonal ARIMA(p,d,q)(P,D,Q)_m models fitted as R's arima() (conditional sum of squares, then
// the exact likelihood), their forecasts, and the automatic order choice of R forecast's
// auto.arima (Hyndman & Khandakar 2008; arima_select.cpp says where it differs).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace lstm::apps {

struct ArimaOrder {
  int p = 0, d = 0, q = 0;  // non-seasonal AR order, differences, MA order
  int P = 0, D = 0, Q = 0;  // seasonal ones, at lag `period`
  int64_t period = 1;       // m (the seasonal part is ignored when m < 2)
  // A constant: the mean when d + D = 0, a drift (slope per step) when d + D = 1, not allowed
  // with more differences (as R's Arima: include.mean / include.drift).
  bool constant = false;
};
std::string arima_name(const ArimaOrder& order);  // "ARIMA(0,1,1)(0,1,1)[12]", "+ drift"

// How the coefficients are estimated: css minimises the conditional sum of squares (R's
// arima(method = "CSS")); css_ml starts there and maximises the exact Gaussian likelihood of the
// differenced series by a Kalman filter (R's default, "CSS-ML"), whose forecasts then come
// from the filter's last state, as R's.
enum class ArimaMethod { css, css_ml };
// auto.arima's choice for a series of n values with season `period`: CSS when the series or its
// season is long (n > 150 or period > 12), where R compares its candidates by CSS too.
ArimaMethod arima_method(int64_t n, int64_t period);

// The model, with R's sign conventions: for z_t = y_t − c_t (c_t the mean μ, or δ·t with drift)
// and w = (1−B)^d (1−B^m)^D z,
//   (1 − Σφ_i B^i)(1 − ΣΦ_i B^{mi}) w_t = (1 + Σθ_i B^i)(1 + ΣΘ_i B^{mi}) e_t.
struct ArimaFit {
  ArimaOrder order;
  std::vector<double> ar, ma, seasonal_ar, seasonal_ma;  // [p] φ, [q] θ, [P] Φ, [Q] Θ
  double constant = 0.0;                                  // μ or δ (0 without a constant)
  ArimaMethod method = ArimaMethod::css;
  // css: the mean squared conditional residual, over `used` = n − d − Dm − p − Pm of them;
  // css_ml: the likelihood's σ² (Σ v_t²/F_t over the `used` = n − d − Dm innovations).
  double sigma2 = 0.0;
  int64_t used = 0;
  // −2 log L + 2k + 2k(k+1)/(n* − k − 1), n* = n − d − Dm, k = params + 1; css: with auto.arima's
  // approximation n* log σ² for −2 log L.
  double aicc = 0.0;
  bool stationary_invertible = false;  // all AR and MA roots outside |z| = 1.01 (auto.arima's)
  std::vector<double> y;               // [n] the data, for forecasting
  std::vector<double> residuals;       // [n] conditional e_t (0 for the first d + Dm + p + Pm)
};

// The residuals e_t of the model for y at given coefficients (layout of ArimaFit), and their
// mean square. Exposed for tests.
double arima_css(std::span<const double> y, const ArimaFit& model, std::vector<double>* residuals);
// The stationary covariance / σ² of the ARMA state in Harvey's form, where the likelihood's
// filter starts: [r, r] row-major, r = max(p, q + 1), for φ [p] and θ [q] in R's signs; empty
// when φ is not stationary. Exposed for tests.
std::vector<double> arma_state_covariance(std::span<const double> phi,
                                          std::span<const double> theta);
// Fits φ, θ, Φ, Θ and the constant (Nelder-Mead: the CSS from 0 and the differenced series'
// mean, as R; then the likelihood from there). Throws lstm::Error when y has too few values for
// the orders (fewer than d + Dm + p + Pm + k + 2) or a non-finite value.
ArimaFit fit_arima(std::span<const double> y, const ArimaOrder& order,
                   ArimaMethod method = ArimaMethod::css_ml);
// The next `steps` values after the fit's data [steps] (future errors 0, differences undone).
std::vector<double> arima_forecast(const ArimaFit& fit, int64_t steps);

// ARIMA on the logarithm (R's Box-Cox λ = 0): log y, throwing lstm::Error naming the first value
// ≤ 0; and exp() of a forecast of log y, the forecast median in original units (R's default,
// biasadj = FALSE).
std::vector<double> log_series(std::span<const double> y);
std::vector<double> exp_forecast(std::vector<double> log_forecast);

// KPSS statistic for level stationarity (urca's ur.kpss, type "mu"): Σ S_t² / (n² s²), S the
// partial sums of y − ȳ, s² the Bartlett long-run variance with `lags` lags.
double kpss_statistic(std::span<const double> y, int64_t lags);
// Number of first differences by repeated KPSS level-stationarity tests at 5% (R's ndiffs:
// lag trunc(3√n/13), at most 2, stopping at a constant series).
int kpss_differences(std::span<const double> y);
// 1 when the seasonal strength max(0, 1 − var(remainder)/var(season + remainder)) exceeds 0.64
// (R's nsdiffs), else 0; the decomposition is a centred moving average for the trend and, for the
// season, the mean detrended value over the 11 nearest cycles (R uses STL, mstl's window 11).
int seasonal_differences(std::span<const double> y, int64_t period);
// The order chosen by a stepwise search on AICc (arima_select.cpp), and its fit.
ArimaFit auto_arima(std::span<const double> y, int64_t period);

}  // namespace lstm::apps
