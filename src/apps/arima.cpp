// Seasonal ARIMA: the conditional residual recursion, the exact likelihood by a Kalman filter,
// the fit by both and forecasts.
#include "apps/arima.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

#include "apps/nelder_mead.hpp"
#include "lstm/error.hpp"

namespace lstm::apps {
namespace {

// The product of two polynomials' coefficients (a[0] = 1) into `out`, which reuses its storage.
void multiply(std::span<const double> left, std::span<const double> right,
              std::vector<double>& out) {
  out.assign(left.size() + right.size() - 1, 0.0);
  for (size_t i = 0; i < left.size(); ++i)
    for (size_t j = 0; j < right.size(); ++j) out[i + j] += left[i] * right[j];
}

// 1 + sign·Σ c_i B^{lag·i} [lag·len + 1] into `out`.
void polynomial(std::span<const double> c, double sign, int64_t lag, std::vector<double>& out) {
  out.assign(static_cast<size_t>(lag) * c.size() + 1, 0.0);
  out[0] = 1.0;
  for (size_t i = 0; i < c.size(); ++i) out[(i + 1) * static_cast<size_t>(lag)] = sign * c[i];
}

// The full AR side φ(B)Φ(B^m)(1−B)^d(1−B^m)^D and MA side θ(B)Θ(B^m), as polynomials in B, with
// the scratch that builds them: the fit rebuilds them for every trial of its coefficients, into
// the same storage. Without `differences`, the AR side is the stationary part φ(B)Φ(B^m) alone.
struct Expanded {
  std::vector<double> ar, ma;  // [L+1], a[0] = 1
  std::vector<double> left, right;
};
void expand(const ArimaFit& model, Expanded& e, bool differences = true) {
  const ArimaOrder& o = model.order;
  const int64_t m = std::max<int64_t>(o.period, 1);
  constexpr double one[] = {1.0};
  auto times = [&](int64_t lag) {  // e.ar ← e.ar · (1 − B^lag)
    polynomial(one, -1.0, lag, e.right);
    e.left.swap(e.ar);
    multiply(e.left, e.right, e.ar);
  };
  polynomial(model.ar, -1.0, 1, e.left);
  polynomial(model.seasonal_ar, -1.0, m, e.right);
  multiply(e.left, e.right, e.ar);
  for (int k = 0; differences && k < o.d; ++k) times(1);
  for (int k = 0; differences && k < o.D; ++k) times(m);
  polynomial(model.ma, 1.0, 1, e.left);
  polynomial(model.seasonal_ma, 1.0, m, e.right);
  multiply(e.left, e.right, e.ma);
}
Expanded expand(const ArimaFit& model) {
  Expanded e;
  expand(model, e);
  return e;
}

int64_t conditioning(const ArimaOrder& o) {
  const int64_t m = std::max<int64_t>(o.period, 1);
  return o.d + o.D * m + o.p + o.P * m;
}

double constant_at(const ArimaFit& model, int64_t t) {
  if (!model.order.constant) return 0.0;
  return model.order.d + model.order.D == 0 ? model.constant
                                            : model.constant * static_cast<double>(t + 1);
}

// Whether 1 − Σ a_i z^i has all roots outside |z| = radius (Schur-Cohn step-down: the
// polynomial is stable iff every partial autocorrelation of the scaled a is inside (−1, 1)).
bool roots_outside(std::vector<double> a, double radius) {
  double scale = 1.0;
  for (double& v : a) v *= (scale *= radius);
  for (size_t k = a.size(); k > 0; --k) {
    const double r = a[k - 1];
    if (!(std::fabs(r) < 1.0)) return false;
    std::vector<double> next(k - 1);
    for (size_t j = 0; j + 1 < k; ++j) next[j] = (a[j] + r * a[k - 2 - j]) / (1.0 - r * r);
    a = std::move(next);
  }
  return true;
}

bool model_is_stable(const ArimaFit& model) {
  Expanded e;
  expand(model, e, false);
  std::vector<double> a(e.ar.begin() + 1, e.ar.end()), b(e.ma.begin() + 1, e.ma.end());
  for (double& v : a) v = -v;  // 1 − Σ a_i z^i: the AR side is 1 + Σ ar[i] z^i
  for (double& v : b) v = -v;
  return roots_outside(a, 1.01) && roots_outside(b, 1.01);
}

}  // namespace

std::string arima_name(const ArimaOrder& o) {
  auto triple = [](int a, int b, int c) {
    std::string text = "(";
    text.append(std::to_string(a)).append(",").append(std::to_string(b)).append(",");
    return text.append(std::to_string(c)).append(")");
  };
  std::string name = "ARIMA";
  name.append(triple(o.p, o.d, o.q));
  if (o.period > 1 && o.P + o.D + o.Q > 0)
    name.append(triple(o.P, o.D, o.Q)).append("[").append(std::to_string(o.period)).append("]");
  if (o.constant) name.append(o.d + o.D == 0 ? " with mean" : " with drift");
  return name;
}

namespace {

// A seasonal model's polynomials are mostly zeros: the residual recursion walks only the non-zero
// coefficients past a[0], by increasing lag, which leaves every sum as it was.
struct Term {
  int64_t lag;
  double coefficient;
};
void nonzero_terms(const std::vector<double>& a, std::vector<Term>& out) {
  out.clear();
  for (size_t j = 1; j < a.size(); ++j)
    if (a[j] != 0.0) out.push_back({static_cast<int64_t>(j), a[j]});
}

// What the residual recursion needs besides y, kept between the fit's thousands of calls.
struct CssWork {
  Expanded expanded;
  std::vector<Term> ar, ma;
  std::vector<double> z, res;  // [n]
};

double css(std::span<const double> y, const ArimaFit& model, CssWork& work) {
  expand(model, work.expanded);
  nonzero_terms(work.expanded.ar, work.ar);
  nonzero_terms(work.expanded.ma, work.ma);
  const auto n = static_cast<int64_t>(y.size());
  const int64_t start = conditioning(model.order);
  std::vector<double>&z = work.z, &res = work.res;
  z.resize(y.size());
  res.assign(y.size(), 0.0);
  for (int64_t t = 0; t < n; ++t) z[t] = y[t] - constant_at(model, t);
  double squares = 0.0;
  for (int64_t t = start; t < n; ++t) {
    double v = z[t];  // e_t = Σ_j a_j z_{t−j} − Σ_{j≥1} θ*_j e_{t−j}
    for (const Term& a : work.ar) v += a.coefficient * z[t - a.lag];
    for (const Term& b : work.ma) {
      if (b.lag > t) break;
      v -= b.coefficient * res[t - b.lag];
    }
    res[t] = v;
    squares += v * v;
  }
  return n > start ? squares / static_cast<double>(n - start)
                   : std::numeric_limits<double>::infinity();
}

// The ARMA part of a model in Harvey's state-space form, for the exact Gaussian likelihood (as
// R's arima(method = "ML")) and the forecasts of a fit by it: w_t = α_t[0] and
// α_{t+1} = T α_t + R e_{t+1}, T with φ_1..φ_r down its first column and ones above the
// diagonal, R = (1, θ_1, .., θ_{r−1}), r = max(p*, q* + 1) for the expanded orders p*, q*.
struct ArmaState {
  int64_t r = 0;
  std::vector<double> phi, theta;  // [r] each, theta[0] = 1
  std::vector<double> a, P;        // [r] the predicted state, [r, r] its covariance / σ²
  std::vector<double> psi, shock, system, autocovariance;  // the covariance's scratch
};

// φ [p] and the MA polynomial (1, θ_1, .., θ_q) into s, padded to r = max(p, q + 1); false when
// φ has a root on or inside the unit circle (no stationary covariance).
bool arma_state(std::span<const double> phi, std::span<const double> ma, ArmaState& s) {
  if (!roots_outside({phi.begin(), phi.end()}, 1.0)) return false;
  s.r = static_cast<int64_t>(std::max(phi.size(), ma.size()));
  s.phi.assign(static_cast<size_t>(s.r), 0.0);
  s.theta.assign(static_cast<size_t>(s.r), 0.0);
  std::copy(phi.begin(), phi.end(), s.phi.begin());
  std::copy(ma.begin(), ma.end(), s.theta.begin());
  return true;
}

// The same for the model's stationary part (no differences).
bool arma_state(const ArimaFit& model, Expanded& e, ArmaState& s) {
  expand(model, e, false);
  std::vector<double> ar(e.ar.begin() + 1, e.ar.end());
  for (double& v : ar) v = -v;  // φ_i: the AR side is 1 − Σ φ_i B^i
  return arma_state(ar, e.ma, s);
}

// The state's stationary covariance / σ², P = T P Tᵀ + R Rᵀ, in O(r² + p³) for AR order p.
// Written out, P_ij = P_i+1,j+1 + φ_i φ_j P_00 + φ_i P_0,j+1 + φ_j P_0,i+1 + θ_i θ_j (indices ≥ r
// are zero), so the first row gives the rest, filled from the bottom-right corner. The first
// row is Cov(w_t, α_t[j]), and α_t[j] = Σ_{k≥j} φ_k w_{t−1−k+j} + θ_k e_{t−k+j}: it takes the
// autocovariances γ of w (a linear system in γ_0..γ_p, as R's ARMAacf) and the weights ψ of w on
// the shocks. False when the system is singular or the variance not positive.
bool stationary_covariance(ArmaState& s) {
  const int64_t r = s.r;
  const std::vector<double>&phi = s.phi, &theta = s.theta;  // φ_1.. at [0], θ_0 = 1 at [0]
  int64_t p = r;
  while (p > 0 && phi[p - 1] == 0.0) --p;
  // ψ_h = θ_h + Σ_k φ_k ψ_{h−k}, and c_h = Σ_{j≥h} θ_j ψ_{j−h} = Cov(Σ_j θ_j e_{t−j}, w_{t−h})
  std::vector<double>& psi = s.psi;
  std::vector<double>& c = s.shock;
  psi.assign(static_cast<size_t>(r), 0.0);
  c.assign(static_cast<size_t>(r + 1), 0.0);
  for (int64_t h = 0; h < r; ++h) {
    psi[h] = theta[h];
    for (int64_t k = 1; k <= std::min(h, p); ++k) psi[h] += phi[k - 1] * psi[h - k];
  }
  for (int64_t h = 0; h < r; ++h)
    for (int64_t j = h; j < r; ++j) c[h] += theta[j] * psi[j - h];
  // γ_h − Σ_k φ_k γ_|h−k| = c_h for h = 0..p [p+1, p+2], solved with partial pivoting
  const int64_t size = p + 1, width = p + 2;
  std::vector<double>& a = s.system;
  a.assign(static_cast<size_t>(size * width), 0.0);
  for (int64_t h = 0; h <= p; ++h) {
    a[h * width + h] += 1.0;
    for (int64_t k = 1; k <= p; ++k) a[h * width + std::abs(h - k)] -= phi[k - 1];
    a[h * width + p + 1] = c[h];
  }
  for (int64_t col = 0; col < size; ++col) {
    int64_t pivot = col;
    for (int64_t i = col + 1; i < size; ++i)
      if (std::fabs(a[i * width + col]) > std::fabs(a[pivot * width + col])) pivot = i;
    if (!(std::fabs(a[pivot * width + col]) > 1e-12)) return false;
    for (int64_t j = 0; j < width; ++j) std::swap(a[col * width + j], a[pivot * width + j]);
    for (int64_t i = col + 1; i < size; ++i) {
      const double f = a[i * width + col] / a[col * width + col];
      for (int64_t j = col; j < width; ++j) a[i * width + j] -= f * a[col * width + j];
    }
  }
  std::vector<double>& gamma = s.autocovariance;  // [r + 1] (p ≤ r)
  gamma.assign(static_cast<size_t>(r + 1), 0.0);
  for (int64_t i = p; i >= 0; --i) {
    double v = a[i * width + p + 1];
    for (int64_t j = i + 1; j <= p; ++j) v -= a[i * width + j] * gamma[j];
    gamma[i] = v / a[i * width + i];
  }
  for (int64_t h = p + 1; h <= r; ++h) {
    gamma[h] = c[h];
    for (int64_t k = 1; k <= p; ++k) gamma[h] += phi[k - 1] * gamma[h - k];
  }
  if (!(gamma[0] > 0.0) || !std::isfinite(gamma[0])) return false;
  s.P.assign(static_cast<size_t>(r * r), 0.0);
  double* first = s.P.data();  // the first row, P_0j
  for (int64_t j = 0; j < r; ++j) {
    first[j] = c[j];
    for (int64_t k = j; k < r; ++k) first[j] += phi[k] * gamma[k - j + 1];
  }
  auto first_at = [&](int64_t j) { return j < r ? first[j] : 0.0; };
  const double p00 = first[0];
  for (int64_t i = r - 1; i >= 1; --i)
    for (int64_t j = r - 1; j >= i; --j) {
      const double below = j + 1 < r ? s.P[(i + 1) * r + j + 1] : 0.0;
      s.P[i * r + j] = below + phi[i] * phi[j] * p00 + phi[i] * first_at(j + 1) +
                       phi[j] * first_at(i + 1) + theta[i] * theta[j];
    }
  for (int64_t i = 0; i < r; ++i)
    for (int64_t j = 0; j < i; ++j) s.P[i * r + j] = s.P[j * r + i];
  return std::isfinite(s.P[r * r - 1]);
}

struct Likelihood {
  double squares = 0.0;    // Σ v_t² / F_t
  double log_gains = 0.0;  // Σ log F_t
  int64_t count = 0;
  // R's arima objective: 0.5 log σ̂² + 0.5 Σ log F_t / n, σ̂² = Σ v²/F / n.
  double objective() const {
    const double n = static_cast<double>(count);
    return 0.5 * std::log(squares / n) + 0.5 * log_gains / n;
  }
};

// The Kalman filter over w, from the stationary state in s.P: the innovations' sums, and in s.a
// and s.P the prediction for the step after w. Observing w_t = α_t[0] leaves the first element
// known (the updated covariance U = P − P e₁ e₁ᵀ P / F has a zero first row and column), so the
// next prediction's covariance T U Tᵀ + R Rᵀ is U shifted up and left by one, plus R Rᵀ:
// P'_ij = P_i+1,j+1 − c_i+1 c_j+1 / F + θ_i θ_j, with c = P e₁ (P_r,· = 0). A change of P reaches
// its first column within r steps, so when that column has kept still for r steps running P
// has settled (geometrically fast for an invertible MA side), and only the state is updated.
Likelihood kalman_filter(std::span<const double> w, ArmaState& s) {
  const int64_t r = s.r;
  s.a.assign(static_cast<size_t>(r), 0.0);
  // c and the gain c / F, each with a zero at [r]
  std::vector<double> column(static_cast<size_t>(r + 1), 0.0),
      gain(static_cast<size_t>(r + 1), 0.0);
  Likelihood like;
  int64_t still = 0;  // steps in a row without a change of the first column
  for (double value : w) {
    const double F = s.P[0];
    if (!(F > 0.0) || !std::isfinite(F))
      return Likelihood{std::numeric_limits<double>::infinity(), 0.0, 1};
    const double v = value - s.a[0];
    like.squares += v * v / F;
    like.log_gains += std::log(F);
    ++like.count;
    for (int64_t i = 0; i < r; ++i) column[i] = s.P[i * r], gain[i] = column[i] / F;
    // a ← T (a + K v), K = c / F (K_0 = 1)
    const double first = s.a[0] + v;
    for (int64_t i = 0; i < r; ++i)
      s.a[i] = s.phi[i] * first + (i + 1 < r ? s.a[i + 1] + gain[i + 1] * v : 0.0);
    if (still >= r) continue;
    for (int64_t i = 0; i < r; ++i) {  // row by row: (i, j) reads (i+1, j+1), not yet replaced
      double* row = s.P.data() + i * r;
      const double* below = row + r + 1;
      const double c = column[i + 1], theta = s.theta[i];
      const int64_t shifted = i + 1 < r ? r - 1 : 0;
      for (int64_t j = 0; j < shifted; ++j)
        row[j] = below[j] - c * gain[j + 1] + theta * s.theta[j];
      for (int64_t j = shifted; j < r; ++j) row[j] = -c * gain[j + 1] + theta * s.theta[j];
    }
    double change = 0.0;
    for (int64_t i = 0; i < r; ++i) change = std::max(change, std::fabs(s.P[i * r] - column[i]));
    still = change < 1e-12 * std::max(1.0, s.P[0]) ? still + 1 : 0;
  }
  return like;
}

// w = (1−B)^d (1−B^m)^D (y − c), the series the ARMA part models [n − d − Dm]; in e.ar the
// differencing polynomial.
void differenced(std::span<const double> y, const ArimaFit& model, Expanded& e,
                 std::vector<double>& w) {
  ArimaFit differences;
  differences.order = model.order;
  expand(differences, e);
  const auto lag = static_cast<int64_t>(e.ar.size()) - 1, n = static_cast<int64_t>(y.size());
  w.assign(static_cast<size_t>(std::max<int64_t>(n - lag, 0)), 0.0);
  for (int64_t t = lag; t < n; ++t)
    for (int64_t j = 0; j <= lag; ++j)
      if (e.ar[j] != 0.0) w[t - lag] += e.ar[j] * (y[t - j] - constant_at(model, t - j));
}

struct MlWork {
  Expanded expanded;
  ArmaState state;
  std::vector<double> w;
};

// R's exact-likelihood objective at the model's coefficients (+inf outside the stationary
// region), leaving the filter's final prediction in work.state and the differencing polynomial
// in work.expanded.ar.
double ml_objective(std::span<const double> y, const ArimaFit& model, MlWork& work,
                    Likelihood* out = nullptr) {
  if (!arma_state(model, work.expanded, work.state) || !stationary_covariance(work.state))
    return std::numeric_limits<double>::infinity();
  differenced(y, model, work.expanded, work.w);
  const Likelihood like = kalman_filter(work.w, work.state);
  if (out) *out = like;
  const double value = like.objective();
  return std::isfinite(value) ? value : std::numeric_limits<double>::infinity();
}

}  // namespace

double arima_css(std::span<const double> y, const ArimaFit& model, std::vector<double>* residuals) {
  CssWork work;
  const double value = css(y, model, work);
  if (residuals) *residuals = std::move(work.res);
  return value;
}

std::vector<double> arma_state_covariance(std::span<const double> phi,
                                          std::span<const double> theta) {
  std::vector<double> ma{1.0};
  ma.insert(ma.end(), theta.begin(), theta.end());
  ArmaState s;
  if (!arma_state(phi, ma, s) || !stationary_covariance(s)) return {};
  return s.P;
}

ArimaFit fit_arima(std::span<const double> y, const ArimaOrder& order, ArimaMethod method) {
  ArimaFit fit;
  fit.order = order;
  fit.method = method;
  if (order.period < 2) fit.order.P = fit.order.D = fit.order.Q = 0, fit.order.period = 1;
  const ArimaOrder& o = fit.order;
  const std::string name = arima_name(o);
  if (o.p < 0 || o.d < 0 || o.q < 0 || o.P < 0 || o.D < 0 || o.Q < 0)
    throw Error(name + ": negative order");
  if (o.constant && o.d + o.D > 1) throw Error(name + ": a constant needs at most one difference");
  const auto n = static_cast<int64_t>(y.size());
  for (double v : y)
    if (!std::isfinite(v)) throw Error(name + ": a value that is not a finite number");
  const int64_t m = o.period, n_star = n - o.d - o.D * m;
  const int params = o.p + o.q + o.P + o.Q + (o.constant ? 1 : 0), k = params + 1;
  if (n - conditioning(o) < params + 2 || n_star <= k + 1)
    throw Error(name + ": " + std::to_string(n) + " values, too few for its orders");
  // The differenced series' mean and spread, for the constant's start and step.
  ArimaFit plain;
  plain.order = o;
  plain.order.constant = false;
  Expanded scratch;
  std::vector<double> w;
  differenced(y, plain, scratch, w);
  double mean = 0.0, spread = 0.0;
  for (double v : w) mean += v / static_cast<double>(w.size());
  for (double v : w) spread += (v - mean) * (v - mean) / static_cast<double>(w.size());
  spread = std::sqrt(spread);
  if (o.constant && o.D == 1) mean /= static_cast<double>(m);  // Δ_m(δt) = δm

  auto unpack = [&](std::span<const double> x, ArimaFit& model) {
    size_t at = 0;
    auto take = [&](std::vector<double>& c, int count) {
      c.assign(x.begin() + static_cast<std::ptrdiff_t>(at),
               x.begin() + static_cast<std::ptrdiff_t>(at + static_cast<size_t>(count)));
      at += static_cast<size_t>(count);
    };
    take(model.ar, o.p), take(model.ma, o.q), take(model.seasonal_ar, o.P),
        take(model.seasonal_ma, o.Q);
    model.constant = o.constant ? x[at] : 0.0;
  };
  std::vector<double> start(static_cast<size_t>(params), 0.0), step(start.size(), 0.1);
  if (o.constant) {
    start.back() = mean;
    step.back() = 0.1 * spread / (o.d + o.D == 0 ? 1.0 : std::sqrt(static_cast<double>(n))) +
                  1e-3 * std::fabs(mean) + 1e-12;
  }
  ArimaFit trial = fit;
  CssWork work;
  auto objective = [&](std::span<const double> x) {
    unpack(x, trial);
    const double value = css(y, trial, work);
    return std::isfinite(value) ? value : std::numeric_limits<double>::infinity();
  };
  NelderMeadOptions options;
  options.max_evaluations = 400 * params;
  if (params > 0) {
    const Minimum best = nelder_mead(objective, start, step, options);
    unpack(best.point, fit);
    start = best.point;
  }
  const double kk = static_cast<double>(k), nstar = static_cast<double>(n_star);
  auto aicc = [&](double minus_two_loglik) {
    return minus_two_loglik + 2.0 * kk + 2.0 * kk * (kk + 1.0) / (nstar - kk - 1.0);
  };
  if (method == ArimaMethod::css) {
    fit.sigma2 = arima_css(y, fit, &fit.residuals);
    fit.used = n - conditioning(o);
    fit.aicc = aicc(nstar * std::log(fit.sigma2));
  } else {
    // The exact likelihood from the CSS estimates (from zero when their AR side is not
    // stationary), as R's default "CSS-ML"; σ² and AICc from it.
    MlWork ml;
    auto likelihood = [&](std::span<const double> x) {
      unpack(x, trial);
      return ml_objective(y, trial, ml);
    };
    if (params > 0) {
      if (!std::isfinite(likelihood(start)))
        for (int64_t i = 0; i < o.p + o.q + o.P + o.Q; ++i) start[static_cast<size_t>(i)] = 0.0;
      for (int64_t i = 0; i < o.p + o.q + o.P + o.Q; ++i) step[static_cast<size_t>(i)] = 0.05;
      NelderMeadOptions refine = options;
      refine.restarts = 0;
      refine.tolerance = 1e-8;
      unpack(nelder_mead(likelihood, start, step, refine).point, fit);
    }
    Likelihood like;
    const double value = ml_objective(y, fit, ml, &like);
    fit.sigma2 = like.squares / nstar;  // the filter's innovations: one per differenced value
    fit.used = like.count;
    fit.aicc = aicc(2.0 * nstar * value + nstar + nstar * std::log(2.0 * std::numbers::pi));
    arima_css(y, fit, &fit.residuals);  // at the likelihood's coefficients
  }
  if (!std::isfinite(fit.aicc)) fit.aicc = std::numeric_limits<double>::infinity();
  fit.stationary_invertible = model_is_stable(fit);
  fit.y.assign(y.begin(), y.end());
  return fit;
}

namespace {

// The forecast of a fit by exact likelihood, as R's: the filter's prediction of the state after
// the data, carried forward by T, the differences undone.
std::vector<double> state_space_forecast(const ArimaFit& fit, int64_t steps) {
  MlWork ml;
  if (!std::isfinite(ml_objective(fit.y, fit, ml)))
    throw Error(arima_name(fit.order) + ": the fit is not stationary");
  const std::vector<double>& delta = ml.expanded.ar;  // (1−B)^d (1−B^m)^D
  ArmaState& s = ml.state;
  const auto n = static_cast<int64_t>(fit.y.size());
  std::vector<double> z(static_cast<size_t>(n + steps)), out(static_cast<size_t>(steps)),
      next(s.a.size());
  for (int64_t t = 0; t < n; ++t) z[t] = fit.y[t] - constant_at(fit, t);
  for (int64_t t = n; t < n + steps; ++t) {
    double v = s.a[0];
    for (size_t j = 1; j < delta.size(); ++j) v -= delta[j] * z[t - static_cast<int64_t>(j)];
    z[t] = v;
    out[t - n] = v + constant_at(fit, t);
    for (int64_t i = 0; i < s.r; ++i)
      next[i] = s.phi[i] * s.a[0] + (i + 1 < s.r ? s.a[i + 1] : 0.0);
    s.a.swap(next);
  }
  return out;
}

}  // namespace

std::vector<double> arima_forecast(const ArimaFit& fit, int64_t steps) {
  if (fit.method == ArimaMethod::css_ml) return state_space_forecast(fit, steps);
  const Expanded e = expand(fit);
  const auto n = static_cast<int64_t>(fit.y.size());
  std::vector<double> z(static_cast<size_t>(n + steps)), res(z.size(), 0.0);
  for (int64_t t = 0; t < n; ++t) z[t] = fit.y[t] - constant_at(fit, t), res[t] = fit.residuals[t];
  std::vector<double> out(static_cast<size_t>(steps));
  for (int64_t t = n; t < n + steps; ++t) {
    double v = 0.0;
    for (size_t j = 1; j < e.ar.size() && static_cast<int64_t>(j) <= t; ++j)
      v -= e.ar[j] * z[t - static_cast<int64_t>(j)];
    for (size_t j = 1; j < e.ma.size() && static_cast<int64_t>(j) <= t; ++j)
      v += e.ma[j] * res[t - static_cast<int64_t>(j)];
    z[t] = v;
    out[t - n] = v + constant_at(fit, t);
  }
  return out;
}

std::vector<double> log_series(std::span<const double> y) {
  std::vector<double> out(y.size());
  for (size_t t = 0; t < y.size(); ++t) {
    if (!(y[t] > 0.0))
      throw Error("arima-log: the logarithm needs positive values; value " + std::to_string(t + 1) +
                  " is " + std::to_string(y[t]));
    out[t] = std::log(y[t]);
  }
  return out;
}

std::vector<double> exp_forecast(std::vector<double> log_forecast) {
  for (double& v : log_forecast) v = std::exp(v);
  return log_forecast;
}

}  // namespace lstm::apps
