// Seasonal ARIMA by conditional sum of squares: the residual recursion, the fit and forecasts.
#include "apps/arima.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

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
// the same storage.
struct Expanded {
  std::vector<double> ar, ma;  // [L+1], a[0] = 1
  std::vector<double> left, right;
};
void expand(const ArimaFit& model, Expanded& e) {
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
  for (int k = 0; k < o.d; ++k) times(1);
  for (int k = 0; k < o.D; ++k) times(m);
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
  ArimaFit stationary_part = model;  // the AR side without the differences
  stationary_part.order.d = stationary_part.order.D = 0;
  const Expanded e = expand(stationary_part);
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

}  // namespace

double arima_css(std::span<const double> y, const ArimaFit& model, std::vector<double>* residuals) {
  CssWork work;
  const double value = css(y, model, work);
  if (residuals) *residuals = std::move(work.res);
  return value;
}

ArimaFit fit_arima(std::span<const double> y, const ArimaOrder& order) {
  ArimaFit fit;
  fit.order = order;
  if (order.period < 2) fit.order.P = fit.order.D = fit.order.Q = 0, fit.order.period = 1;
  const ArimaOrder& o = fit.order;
  const std::string name = arima_name(o);
  if (o.p < 0 || o.d < 0 || o.q < 0 || o.P < 0 || o.D < 0 || o.Q < 0)
    throw Error(name + ": negative order");
  if (o.constant && o.d + o.D > 1) throw Error(name + ": a constant needs at most one difference");
  const auto n = static_cast<int64_t>(y.size());
  for (double v : y)
    if (!std::isfinite(v)) throw Error(name + ": a value that is not a finite number");
  const int64_t m = o.period, differenced = n - o.d - o.D * m;
  const int params = o.p + o.q + o.P + o.Q + (o.constant ? 1 : 0), k = params + 1;
  if (n - conditioning(o) < params + 2 || differenced <= k + 1)
    throw Error(name + ": " + std::to_string(n) + " values, too few for its orders");
  // The differenced series' mean and spread, for the constant's start and step.
  ArimaFit plain = fit;
  plain.order.p = plain.order.q = plain.order.P = plain.order.Q = 0;
  plain.order.constant = false;
  std::vector<double> w;
  arima_css(y, plain, &w);
  w.erase(w.begin(), w.begin() + (n - differenced));
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
  if (params > 0) {
    NelderMeadOptions options;
    options.max_evaluations = 400 * params;
    const Minimum best = nelder_mead(objective, start, step, options);
    unpack(best.point, fit);
  }
  fit.sigma2 = arima_css(y, fit, &fit.residuals);
  fit.used = n - conditioning(o);
  const double nstar = static_cast<double>(differenced), kk = static_cast<double>(k);
  fit.aicc = nstar * std::log(fit.sigma2) + 2.0 * kk + 2.0 * kk * (kk + 1.0) / (nstar - kk - 1.0);
  if (!std::isfinite(fit.aicc)) fit.aicc = std::numeric_limits<double>::infinity();
  fit.stationary_invertible = model_is_stable(fit);
  fit.y.assign(y.begin(), y.end());
  return fit;
}

std::vector<double> arima_forecast(const ArimaFit& fit, int64_t steps) {
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
